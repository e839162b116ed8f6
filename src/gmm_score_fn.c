/*
 * gmm_score_fn.c — the analytic score of an isotropic Gaussian mixture (algorithms.md §9.1)
 * behind the samplers' clsde_score_fn: per call the host turns each image's t into
 * (m(t), c_k(t), lw_k(t)) in double, and cl/analytic_score.cl computes the score. It is the
 * exact score of p_t, whichever wrapper (continuous or not) the sampler asks for; with it
 * the samplers run through exactly the device code a network would drive.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/analytic_score.h"
#include "sampler.h"

struct clsde_gmm_score {
    clsde_context *ctx;
    const clsde_sde *sde;
    clsde_score_fn fn;
    clsde_gmm g;              /* points at the copies below */
    double *w, *s, *mu;       /* [K], [K], [K, D] */
    int32_t ncoef;            /* 1 + 2K */
    double *coef;             /* [B, 1 + 2K] host */
    float *coef_f;            /* [B, 1 + 2K] host */
    cl_mem mu_f, mu_d;        /* [K, D] float / double (fp64 devices) */
    cl_mem dcoef_f, dcoef_d;  /* [B, 1 + 2K] float / double */
    int64_t calls;
};

static void fill_coef(clsde_gmm_score *gs, int32_t b, double t)
{
    clsde_gmm_coef(&gs->g, clsde_sde_mean_coeff(gs->sde, t), clsde_sde_std(gs->sde, t),
                   gs->coef + (size_t)b * gs->ncoef);
}

static clsde_status eval_f32(void *self, cl_mem x, const float *t, int continuous, cl_mem score)
{
    clsde_gmm_score *gs = self;
    const size_t nc = (size_t)gs->fn.batch * gs->ncoef;
    (void)continuous; /* the exact score has no wrapper */
    for (int32_t b = 0; b < gs->fn.batch; b++) fill_coef(gs, b, t[b]);
    for (size_t i = 0; i < nc; i++) gs->coef_f[i] = (float)gs->coef[i];
    CLSDE_TRY(clsde_buffer_write(gs->ctx, gs->dcoef_f, 0, nc * sizeof(float), gs->coef_f));
    gs->calls++;
    return clsde_gmm_score_enqueue(gs->ctx, gs->g.k, gs->g.d, gs->fn.batch, 0, gs->mu_f,
                                   gs->dcoef_f, x, score);
}

static clsde_status eval_f64(void *self, cl_mem x, const double *t, int continuous, cl_mem score)
{
    clsde_gmm_score *gs = self;
    const size_t nc = (size_t)gs->fn.batch * gs->ncoef;
    (void)continuous;
    for (int32_t b = 0; b < gs->fn.batch; b++) fill_coef(gs, b, t[b]);
    CLSDE_TRY(clsde_buffer_write(gs->ctx, gs->dcoef_d, 0, nc * sizeof(double), gs->coef));
    gs->calls++;
    return clsde_gmm_score_enqueue(gs->ctx, gs->g.k, gs->g.d, gs->fn.batch, 1, gs->mu_d,
                                   gs->dcoef_d, x, score);
}

clsde_status clsde_gmm_score_create(clsde_context *ctx, const clsde_sde *sde,
                                    const clsde_gmm *g, int32_t batch, clsde_gmm_score **out)
{
    clsde_status st = CLSDE_OK;
    clsde_gmm_score *gs;
    const size_t kd = (size_t)g->k * g->d;
    float *mu_f = NULL;
    *out = NULL;
    CLSDE_FAIL_IF(g->k < 1 || g->k > CLSDE_GMM_KMAX || g->d < 1 || batch < 1, ctx,
                  CLSDE_ERR_ARG, "gmm score: %d components (1..%d), dimension %d, batch %d",
                  (int)g->k, CLSDE_GMM_KMAX, (int)g->d, (int)batch);
    gs = calloc(1, sizeof *gs);
    CLSDE_FAIL_IF(!gs, ctx, CLSDE_ERR_NOMEM, "gmm score: out of memory");
    gs->ctx = ctx, gs->sde = sde;
    gs->ncoef = 1 + 2 * g->k;
    gs->w = malloc((size_t)g->k * sizeof(double));
    gs->s = malloc((size_t)g->k * sizeof(double));
    gs->mu = malloc(kd * sizeof(double));
    gs->coef = malloc((size_t)batch * gs->ncoef * sizeof(double));
    gs->coef_f = malloc((size_t)batch * gs->ncoef * sizeof(float));
    mu_f = malloc(kd * sizeof(float));
    CLSDE_GOTO_IF(!gs->w || !gs->s || !gs->mu || !gs->coef || !gs->coef_f || !mu_f, ctx,
                  CLSDE_ERR_NOMEM, "gmm score: out of memory");
    memcpy(gs->w, g->w, (size_t)g->k * sizeof(double));
    memcpy(gs->s, g->s, (size_t)g->k * sizeof(double));
    memcpy(gs->mu, g->mu, kd * sizeof(double));
    gs->g = *g;
    gs->g.w = gs->w, gs->g.s = gs->s, gs->g.mu = gs->mu;
    for (size_t i = 0; i < kd; i++) mu_f[i] = (float)g->mu[i];
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, kd * sizeof(float), &gs->mu_f));
    CLSDE_TRY_GOTO(clsde_buffer_write(ctx, gs->mu_f, 0, kd * sizeof(float), mu_f));
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, (size_t)batch * gs->ncoef * sizeof(float),
                                       &gs->dcoef_f));
    if (ctx->info.fp64) {
        CLSDE_TRY_GOTO(clsde_buffer_create(ctx, kd * sizeof(double), &gs->mu_d));
        CLSDE_TRY_GOTO(clsde_buffer_write(ctx, gs->mu_d, 0, kd * sizeof(double), gs->mu));
        CLSDE_TRY_GOTO(clsde_buffer_create(ctx, (size_t)batch * gs->ncoef * sizeof(double),
                                           &gs->dcoef_d));
    }
    gs->fn.self = gs;
    gs->fn.batch = batch;
    gs->fn.per_image = g->d;
    gs->fn.eval = eval_f32;
    gs->fn.eval_f64 = ctx->info.fp64 ? eval_f64 : NULL;
    gs->fn.name = "analytic score";
    free(mu_f);
    *out = gs;
    return CLSDE_OK;
fail:
    free(mu_f);
    clsde_gmm_score_destroy(gs);
    return st;
}

void clsde_gmm_score_destroy(clsde_gmm_score *gs)
{
    if (!gs) return;
    clsde_buffer_release(gs->mu_f), clsde_buffer_release(gs->mu_d);
    clsde_buffer_release(gs->dcoef_f), clsde_buffer_release(gs->dcoef_d);
    free(gs->w), free(gs->s), free(gs->mu), free(gs->coef), free(gs->coef_f);
    free(gs);
}

const clsde_score_fn *clsde_gmm_score_fn(const clsde_gmm_score *gs)
{
    return &gs->fn;
}

int64_t clsde_gmm_score_calls(const clsde_gmm_score *gs)
{
    return gs->calls;
}
