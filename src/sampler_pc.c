/*
 * sampler_pc.c — the predictor–corrector sampler of algorithms.md §3 (and the denoising of
 * §4) on the device. Per time step t_i: M corrector updates, then one predictor update, each
 * one network evaluation and one fused pc_update pass (cl/sde_step.cl); the coefficients
 * come from src/sde.c (precomputed for the whole grid) or, for Langevin, from per-image
 * norms reduced on the device. Per step the host reads back a few per-image norms (the
 * score, noise and state norms the step already has or cheaply gets) to catch NaN/Inf and
 * name where it appeared. The state never leaves the device until the end.
 *
 * Decisions (also in clsde.h):
 *  - order corrector then predictor at the same t (§3.3); the prior is sigma_max z (VE) or z;
 *  - Langevin step per image from that image's norms (so image k does not depend on the
 *    batch); reference_batching = 1 uses the batch means as the reference (§3.2);
 *  - subVP Langevin/ALD use the VP alpha_k (sde.c, §3.5); EM + probability flow is the
 *    deterministic Euler step; ancestral with subVP or probability flow is refused (sde.c);
 *  - noise is keyed (seed, absolute image, step i, stream): prior (step 0, PRIOR), corrector
 *    inner step j (CORRECTOR j), predictor (PREDICTOR), so batch splits do not matter.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/reduce.h"
#include "kernels/sde_step.h"
#include "program.h"
#include "ref/rng_ref.h"
#include "sampler.h"

/* Norm slots read back after each step, per image: for each corrector inner step j the
 * score norm, the noise norm and the state norm after the update; then the predictor's
 * score norm and state norm. */
enum { SLOT_CS = 0, SLOT_CZ = 1, SLOT_CX = 2, SLOTS_PER_CORR = 3 };

typedef struct pc_run {
    clsde_context *ctx;
    const clsde_sde *sde;
    const clsde_score_fn *fn;
    const clsde_pc_opts *o;
    const clsde_sampler_hooks *hk;
    int32_t B, D, N, M, n;   /* batch slots, per image, steps, corrector steps, images */
    int64_t first;
    cl_mem x, xm, s, z;      /* [B, D] float: state, x_mean, score, noise */
    cl_mem coef_p;           /* [N, 3] predictor (A, B, S) per grid step */
    cl_mem coef_c;           /* [N, 3] ALD, or [B, 3] Langevin (per image, device-computed) */
    cl_mem coef_prior;       /* [3] (0, 0, prior std) */
    cl_mem norms;            /* [slots, stride] float */
    cl_mem *slot;            /* [slots] sub-buffers of norms, [B] each */
    int32_t n_slots;
    size_t slot_stride;      /* floats between slots (aligned for sub-buffers) */
    float *host_norms;       /* [slots * slot_stride] */
    float *t_vec;            /* [B] */
    int64_t forward_calls;
} pc_run;

static const char *pred_name(clsde_predictor p)
{
    switch (p) {
    case CLSDE_PREDICTOR_EULER_MARUYAMA: return "euler_maruyama";
    case CLSDE_PREDICTOR_REVERSE_DIFFUSION: return "reverse_diffusion";
    case CLSDE_PREDICTOR_ANCESTRAL_SAMPLING: return "ancestral_sampling";
    default: return "none";
    }
}

static clsde_status norm_into(pc_run *r, cl_mem v, int32_t slot)
{
    return clsde_sumsq_per_image_enqueue(r->ctx, NULL, (size_t)r->n, (size_t)r->D, 1, v,
                                         r->slot[slot]);
}

static clsde_status eval(pc_run *r, float t, const char *what, int32_t step)
{
    clsde_status st;
    for (int32_t b = 0; b < r->B; b++) r->t_vec[b] = t;
    st = r->fn->eval(r->fn->self, r->x, r->t_vec, 0, r->s);
    r->forward_calls++;
    if (st != CLSDE_OK)
        return clsde_error_prefix(r->ctx, st, "PC step %d of %d (t = %.9g), %s evaluation",
                                  (int)step, (int)r->N, (double)t, what);
    return CLSDE_OK;
}

/* First image b < n whose value in `slot` is not finite, or -1. */
static int32_t bad_image(const pc_run *r, int32_t slot)
{
    const float *v = r->host_norms + (size_t)slot * r->slot_stride;
    for (int32_t b = 0; b < r->n; b++)
        if (!isfinite(v[b])) return b;
    return -1;
}

/* Read this step's norms and name the first stage (in execution order) that produced a
 * non-finite value for one of the n images. */
static clsde_status check_step(pc_run *r, int32_t step, float t, int pred_on)
{
    static const char *const corr_stage[SLOTS_PER_CORR] = {
        "network (score for the corrector)", "noise (corrector)", "corrector update"};
    const int langevin = r->o->corrector == CLSDE_CORRECTOR_LANGEVIN;
    const size_t bytes = (size_t)r->n_slots * r->slot_stride * sizeof(float);
    const char *stage = NULL;
    char where[64] = "";
    int32_t b = -1;
    CLSDE_TRY(clsde_buffer_read(r->ctx, r->norms, 0, bytes, r->host_norms));
    for (int32_t j = 0; j < r->M && b < 0; j++)
        for (int32_t k = 0; k < SLOTS_PER_CORR && b < 0; k++) {
            if (k == SLOT_CZ && !langevin) continue; /* only Langevin reduces the noise */
            b = bad_image(r, SLOTS_PER_CORR * j + k);
            stage = corr_stage[k];
            snprintf(where, sizeof where, " (%s, inner step %d of %d)",
                     langevin ? "Langevin" : "ALD", (int)j + 1, (int)r->M);
        }
    for (int32_t k = 0; k < 2 && b < 0 && pred_on; k++) {
        b = bad_image(r, SLOTS_PER_CORR * r->M + k);
        stage = k == 0 ? "network (score for the predictor)" : "predictor update";
        snprintf(where, sizeof where, " (%s)", pred_name(r->o->predictor));
    }
    CLSDE_FAIL_IF(b >= 0, r->ctx, CLSDE_ERR_NUMERIC,
                  "PC sampler: NaN/Inf at step %d of %d (t = %.9g), stage: %s%s, image %lld",
                  (int)step + 1, (int)r->N, (double)t, stage, where, (long long)(r->first + b));
    return CLSDE_OK;
}

static clsde_status alloc(pc_run *r)
{
    const size_t img = (size_t)r->B * r->D * sizeof(float);
    const size_t align = r->ctx->mem_base_align_bytes ? r->ctx->mem_base_align_bytes : 128;
    const size_t coef_c = (size_t)(r->o->corrector == CLSDE_CORRECTOR_ALD ? r->N : r->B) * 3;
    cl_mem *bufs[4] = {&r->x, &r->xm, &r->s, &r->z};
    r->n_slots = SLOTS_PER_CORR * r->M + 2;
    r->slot_stride = clsde_round_up((size_t)r->B * sizeof(float), align) / sizeof(float);
    r->slot = calloc((size_t)r->n_slots, sizeof *r->slot);
    r->host_norms = malloc((size_t)r->n_slots * r->slot_stride * sizeof(float));
    r->t_vec = malloc((size_t)r->B * sizeof(float));
    CLSDE_FAIL_IF(!r->slot || !r->host_norms || !r->t_vec, r->ctx, CLSDE_ERR_NOMEM,
                  "PC sampler: out of memory");
    for (int i = 0; i < 4; i++) {
        CLSDE_TRY(clsde_buffer_create(r->ctx, img, bufs[i]));
        /* slots past n are evaluated by the network but never updated: keep them finite */
        CLSDE_TRY(clsde_sampler_zero(r->ctx, *bufs[i], img));
    }
    CLSDE_TRY(clsde_buffer_create(r->ctx, (size_t)r->N * 3 * sizeof(float), &r->coef_p));
    CLSDE_TRY(clsde_buffer_create(r->ctx, coef_c * sizeof(float), &r->coef_c));
    CLSDE_TRY(clsde_buffer_create(r->ctx, 3 * sizeof(float), &r->coef_prior));
    CLSDE_TRY(clsde_buffer_create(r->ctx, (size_t)r->n_slots * r->slot_stride * sizeof(float),
                                  &r->norms));
    for (int32_t i = 0; i < r->n_slots; i++)
        CLSDE_TRY(clsde_buffer_sub(r->ctx, r->norms, (size_t)i * r->slot_stride * sizeof(float),
                                   (size_t)r->B * sizeof(float), &r->slot[i]));
    /* slots a step does not fill (e.g. a corrector of "none") must read as finite */
    return clsde_sampler_zero(r->ctx, r->norms,
                              (size_t)r->n_slots * r->slot_stride * sizeof(float));
}

static void release(pc_run *r)
{
    if (r->slot)
        for (int32_t i = r->n_slots - 1; i >= 0; i--) /* last first, as exec.c */
            clsde_buffer_release(r->slot[i]);
    clsde_buffer_release(r->norms);
    clsde_buffer_release(r->x), clsde_buffer_release(r->xm);
    clsde_buffer_release(r->s), clsde_buffer_release(r->z);
    clsde_buffer_release(r->coef_p), clsde_buffer_release(r->coef_c);
    clsde_buffer_release(r->coef_prior);
    free(r->slot), free(r->host_norms), free(r->t_vec);
}

/* Coefficients of the whole grid: predictor (A, B, S) per step, ALD's per step. */
static clsde_status coefficients(pc_run *r, const float *grid)
{
    clsde_status st = CLSDE_OK;
    float *cp = malloc((size_t)r->N * 3 * sizeof *cp), *cc = malloc((size_t)r->N * 3 * sizeof *cc);
    const float prior[3] = {0.0f, 0.0f, (float)clsde_sde_prior_std(r->sde)};
    CLSDE_GOTO_IF(!cp || !cc, r->ctx, CLSDE_ERR_NOMEM, "PC sampler: out of memory");
    for (int32_t i = 0; i < r->N; i++) {
        clsde_coef c;
        st = clsde_sde_predictor_coef(r->sde, r->o->predictor, r->o->probability_flow, grid[i], &c);
        if (st != CLSDE_OK) {
            clsde_error_adopt(r->ctx);
            goto fail;
        }
        cp[3 * i] = c.a, cp[3 * i + 1] = c.b, cp[3 * i + 2] = c.s;
        clsde_sde_ald_coef(r->sde, grid[i], r->o->snr, &c);
        cc[3 * i] = c.a, cc[3 * i + 1] = c.b, cc[3 * i + 2] = c.s;
        CLSDE_GOTO_IF(r->o->corrector == CLSDE_CORRECTOR_ALD &&
                          !(isfinite(c.b) && isfinite(c.s)),
                      r->ctx, CLSDE_ERR_NUMERIC, "ALD step size at t = %g is not finite",
                      (double)grid[i]);
        if (r->o->corrector == CLSDE_CORRECTOR_LANGEVIN) {
            const float a = clsde_sde_langevin_alpha(r->sde, grid[i]);
            CLSDE_GOTO_IF(!(a > 0), r->ctx, CLSDE_ERR_NUMERIC,
                          "Langevin alpha_k = %g at t = %g is not positive (beta_max >= N?)",
                          (double)a, (double)grid[i]);
        }
    }
    CLSDE_TRY_GOTO(clsde_buffer_write(r->ctx, r->coef_p, 0, (size_t)r->N * 3 * sizeof *cp, cp));
    if (r->o->corrector == CLSDE_CORRECTOR_ALD)
        CLSDE_TRY_GOTO(clsde_buffer_write(r->ctx, r->coef_c, 0, (size_t)r->N * 3 * sizeof *cc, cc));
    CLSDE_TRY_GOTO(clsde_buffer_write(r->ctx, r->coef_prior, 0, sizeof prior, prior));
fail:
    free(cp), free(cc);
    return st;
}

/* Corrector update j of step i (noise key) at grid index gi (ALD coefficients). */
static clsde_status corrector_step(pc_run *r, int32_t i, int32_t gi, int32_t j, float t)
{
    const clsde_pc_update_params up = {r->n, r->D, 0, 0};
    const int32_t base = SLOTS_PER_CORR * j;
    clsde_pc_update_params upl = up;
    CLSDE_TRY(eval(r, t, "corrector score", i + 1));
    CLSDE_TRY(clsde_sampler_noise(r->ctx, r->hk, r->o->seed, (uint32_t)i,
                                  clsde_rng_stream(CLSDE_RNG_CORRECTOR, (uint32_t)j), r->first,
                                  r->n, r->D, r->z));
    CLSDE_TRY(norm_into(r, r->s, base + SLOT_CS));
    if (r->o->corrector == CLSDE_CORRECTOR_LANGEVIN) {
        CLSDE_TRY(norm_into(r, r->z, base + SLOT_CZ));
        CLSDE_TRY(clsde_langevin_coef_enqueue(r->ctx, r->n, r->o->snr,
                                              clsde_sde_langevin_alpha(r->sde, t),
                                              r->o->reference_batching, r->slot[base + SLOT_CS],
                                              r->slot[base + SLOT_CZ], r->coef_c));
        upl.coef_stride = 3;
    } else {
        upl.coef_offset = 3 * gi;
    }
    CLSDE_TRY(clsde_pc_update_enqueue(r->ctx, &upl, r->coef_c, r->x, r->s, r->z, r->x, r->xm));
    CLSDE_TRY(norm_into(r, r->x, base + SLOT_CX));
    if (r->hk && r->hk->trace)
        CLSDE_TRY(r->hk->trace(r->hk->user, 0, i, j, t, r->coef_c, upl.coef_offset,
                               upl.coef_stride, r->s, r->z, r->x, r->xm));
    return CLSDE_OK;
}

static clsde_status predictor_step(pc_run *r, int32_t i, float t, int32_t slot0)
{
    const clsde_pc_update_params up = {r->n, r->D, 3 * i, 0};
    const int noise = !r->o->probability_flow;
    CLSDE_TRY(eval(r, t, "predictor score", i + 1));
    if (noise)
        CLSDE_TRY(clsde_sampler_noise(r->ctx, r->hk, r->o->seed, (uint32_t)i,
                                      clsde_rng_stream(CLSDE_RNG_PREDICTOR, 0), r->first, r->n,
                                      r->D, r->z));
    CLSDE_TRY(clsde_pc_update_enqueue(r->ctx, &up, r->coef_p, r->x, r->s, noise ? r->z : NULL,
                                      r->x, r->xm));
    CLSDE_TRY(norm_into(r, r->s, slot0));
    CLSDE_TRY(norm_into(r, r->x, slot0 + 1));
    if (r->hk && r->hk->trace)
        CLSDE_TRY(r->hk->trace(r->hk->user, 1, i, 0, t, r->coef_p, up.coef_offset, 0, r->s,
                               noise ? r->z : NULL, r->x, r->xm));
    return CLSDE_OK;
}

clsde_status clsde_pc_sample(clsde_context *ctx, const clsde_sde *sde, const clsde_score_fn *fn,
                             const clsde_pc_opts *o, const clsde_sampler_hooks *hk,
                             const clsde_progress *pr, int64_t first_image, int32_t n,
                             float *x_out, clsde_sample_stats *stats)
{
    clsde_status st = CLSDE_OK;
    pc_run r;
    float *grid = NULL;
    const int corr_on = o->corrector != CLSDE_CORRECTOR_NONE && o->n_steps_each > 0;
    const int pred_on = o->predictor != CLSDE_PREDICTOR_NONE;
    memset(&r, 0, sizeof r);
    r.ctx = ctx, r.sde = sde, r.fn = fn, r.o = o, r.hk = hk;
    r.B = fn->batch, r.D = fn->per_image, r.N = sde->cfg.n;
    r.M = corr_on ? o->n_steps_each : 0;
    r.n = n, r.first = first_image;
    CLSDE_FAIL_IF(n < 1 || n > fn->batch, ctx, CLSDE_ERR_ARG,
                  "PC sampler: %d images for a score function of batch %d", (int)n,
                  (int)fn->batch);
    CLSDE_FAIL_IF(corr_on && !(o->snr > 0) && o->corrector == CLSDE_CORRECTOR_LANGEVIN, ctx,
                  CLSDE_ERR_ARG, "PC sampler: snr %g must be > 0", (double)o->snr);
    grid = malloc((size_t)r.N * sizeof *grid);
    CLSDE_GOTO_IF(!grid, ctx, CLSDE_ERR_NOMEM, "PC sampler: out of memory");
    clsde_sde_time_grid(sde, grid);
    CLSDE_TRY_GOTO(alloc(&r));
    CLSDE_TRY_GOTO(coefficients(&r, grid));

    /* prior: x = prior_std * z (pc_update with (A, B, S) = (0, 0, prior_std)) */
    CLSDE_TRY_GOTO(clsde_sampler_noise(ctx, hk, o->seed, 0, clsde_rng_stream(CLSDE_RNG_PRIOR, 0),
                                       first_image, n, r.D, r.z));
    {
        const clsde_pc_update_params up = {n, r.D, 0, 0};
        CLSDE_TRY_GOTO(clsde_pc_update_enqueue(ctx, &up, r.coef_prior, r.z, r.z, r.z, r.x, NULL));
    }

    for (int32_t i = 0; i < r.N; i++) {
        const float t = grid[i];
        for (int32_t j = 0; j < r.M; j++) CLSDE_TRY_GOTO(corrector_step(&r, i, i, j, t));
        if (pred_on) CLSDE_TRY_GOTO(predictor_step(&r, i, t, SLOTS_PER_CORR * r.M));
        CLSDE_TRY_GOTO(check_step(&r, i, t, pred_on));
        CLSDE_TRY_GOTO(clsde_progress_report(ctx, pr, i + 1));
    }

    /* denoise: the last predictor's x_mean; with the None predictor x_mean is x (§3.3) */
    CLSDE_TRY_GOTO(clsde_buffer_read(ctx, o->denoise && pred_on ? r.xm : r.x, 0,
                                     (size_t)n * r.D * sizeof(float), x_out));
    for (int64_t e = 0; e < (int64_t)n * r.D; e++)
        CLSDE_GOTO_IF(!isfinite(x_out[e]), ctx, CLSDE_ERR_NUMERIC,
                      "PC sampler: the final %s of image %lld is not finite",
                      o->denoise && pred_on ? "x_mean (denoised output)" : "x",
                      (long long)(first_image + e / r.D));
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->nfe = r.N * (r.M + (pred_on ? 1 : 0));
        stats->nfe_min = stats->nfe;
        stats->nfe_mean = stats->nfe;
        stats->nfe_reference = r.N * (o->n_steps_each + 1);
        stats->steps = r.N;
        stats->forward_calls = r.forward_calls;
    }
fail:
    release(&r);
    free(grid);
    return st;
}

clsde_status clsde_pc_correct(clsde_context *ctx, const clsde_sde *sde, const clsde_score_fn *fn,
                              const clsde_pc_opts *o, const clsde_sampler_hooks *hk,
                              int64_t first_image, int32_t n, float t, int32_t n_iter,
                              float *x_io)
{
    clsde_status st = CLSDE_OK;
    pc_run r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx, r.sde = sde, r.fn = fn, r.o = o, r.hk = hk;
    r.B = fn->batch, r.D = fn->per_image, r.N = 1, r.M = 1;
    r.n = n, r.first = first_image;
    CLSDE_FAIL_IF(n < 1 || n > fn->batch || o->corrector == CLSDE_CORRECTOR_NONE, ctx,
                  CLSDE_ERR_ARG, "clsde_pc_correct: %d images (batch %d), corrector %d", (int)n,
                  (int)fn->batch, (int)o->corrector);
    CLSDE_TRY_GOTO(alloc(&r));
    CLSDE_TRY_GOTO(coefficients(&r, &t));
    CLSDE_TRY_GOTO(clsde_buffer_write(ctx, r.x, 0, (size_t)n * r.D * sizeof(float), x_io));
    for (int32_t i = 0; i < n_iter; i++) {
        CLSDE_TRY_GOTO(corrector_step(&r, i, 0, 0, t));
        CLSDE_TRY_GOTO(check_step(&r, i, t, 0));
    }
    CLSDE_TRY_GOTO(clsde_buffer_read(ctx, r.x, 0, (size_t)n * r.D * sizeof(float), x_io));
fail:
    release(&r);
    return st;
}
