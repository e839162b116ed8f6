/*
 * gmm_score_fn.c — the analytic score of an isotropic Gaussian mixture (algorithms.md §9.1)
 * behind the samplers' clsde_score_fn: per call the host turns each image's t into
 * (m(t), c_k(t), lw_k(t)) in double, and cl/analytic_score.cl computes the score. It is the
 * exact score of p_t, whichever wrapper (continuous or not) the sampler asks for; with it
 * the samplers run through exactly the device code a network would drive.
 */
#include <math.h>
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
    double *xh, *vh;          /* [B, D] host copies for the divergence */
    void *stage;              /* [B, D] float staging of a read */
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

/* A device buffer of B*D floats or doubles into dst (double). */
static clsde_status read_d(clsde_gmm_score *gs, cl_mem buf, int f64, double *dst)
{
    const size_t bd = (size_t)gs->fn.batch * gs->g.d;
    if (f64) return clsde_buffer_read(gs->ctx, buf, 0, bd * sizeof(double), dst);
    CLSDE_TRY(clsde_buffer_read(gs->ctx, buf, 0, bd * sizeof(float), gs->stage));
    for (size_t i = 0; i < bd; i++) dst[i] = ((const float *)gs->stage)[i];
    return CLSDE_OK;
}

/* q[b] = v_b^T H v_b for the Hessian H of log p_t at x_b, in double on the host (the
 * coefficients of this call are in gs->coef): with u_k = m mu_k - x, s_k = u_k / c_k and
 * the responsibilities r_k, H = sum_k r_k (s_k s_k^T - I / c_k) - (sum_k r_k s_k)(...)^T.
 * v = NULL: the trace, sum_k r_k (|s_k|^2 - D / c_k) - |sum_k r_k s_k|^2. */
static clsde_status gmm_div(clsde_gmm_score *gs, cl_mem x, cl_mem v, int f64, double *q)
{
    const int32_t K = gs->g.k, D = gs->g.d;
    CLSDE_TRY(read_d(gs, x, f64, gs->xh));
    if (v) CLSDE_TRY(read_d(gs, v, f64, gs->vh));
    for (int32_t b = 0; b < gs->fn.batch; b++) {
        const double *cb = gs->coef + (size_t)b * gs->ncoef, *xb = gs->xh + (size_t)b * D;
        const double *vb = gs->vh + (size_t)b * D;
        double l[CLSDE_GMM_KMAX], sv[CLSDE_GMM_KMAX], ss[CLSDE_GMM_KMAX], lmax = -INFINITY;
        double rs = 0, vv = 0, a = 0, mean_sv = 0, mean_s2 = 0;
        for (int32_t k = 0; k < K; k++) {
            double uu = 0, uv = 0;
            for (int32_t i = 0; i < D; i++) {
                const double u = cb[0] * gs->mu[(size_t)k * D + i] - xb[i];
                uu += u * u;
                if (v) uv += u * vb[i];
            }
            l[k] = cb[1 + K + k] - uu / (2 * cb[1 + k]);
            sv[k] = uv / cb[1 + k];
            ss[k] = uu / (cb[1 + k] * cb[1 + k]);
            lmax = fmax(lmax, l[k]);
        }
        for (int32_t k = 0; k < K; k++) rs += (l[k] = exp(l[k] - lmax));
        if (v)
            for (int32_t i = 0; i < D; i++) vv += vb[i] * vb[i];
        for (int32_t k = 0; k < K; k++) {
            const double r = l[k] / rs;
            a += r * ((v ? sv[k] * sv[k] : ss[k]) - (v ? vv : D) / cb[1 + k]);
            mean_sv += r * sv[k];
        }
        if (v) {
            q[b] = a - mean_sv * mean_sv;
            continue;
        }
        /* |sum_k r_k s_k|^2 elementwise */
        for (int32_t i = 0; i < D; i++) {
            double m = 0;
            for (int32_t k = 0; k < K; k++)
                m += l[k] / rs * (cb[0] * gs->mu[(size_t)k * D + i] - xb[i]) / cb[1 + k];
            mean_s2 += m * m;
        }
        q[b] = a - mean_s2;
    }
    return CLSDE_OK;
}

static clsde_status eval_div_f32(void *self, cl_mem x, const float *t, cl_mem v, cl_mem score,
                                 double *q)
{
    CLSDE_TRY(eval_f32(self, x, t, 1, score));
    return gmm_div(self, x, v, 0, q);
}

static clsde_status eval_div_f64(void *self, cl_mem x, const double *t, cl_mem v, cl_mem score,
                                 double *q)
{
    CLSDE_TRY(eval_f64(self, x, t, 1, score));
    return gmm_div(self, x, v, 1, q);
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
    gs->xh = malloc((size_t)batch * g->d * sizeof(double));
    gs->vh = malloc((size_t)batch * g->d * sizeof(double));
    gs->stage = malloc((size_t)batch * g->d * sizeof(float));
    CLSDE_GOTO_IF(!gs->w || !gs->s || !gs->mu || !gs->coef || !gs->coef_f || !mu_f || !gs->xh ||
                      !gs->vh || !gs->stage, ctx,
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
    gs->fn.eval_div = eval_div_f32;
    gs->fn.eval_div_f64 = ctx->info.fp64 ? eval_div_f64 : NULL;
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
    free(gs->xh), free(gs->vh), free(gs->stage);
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
