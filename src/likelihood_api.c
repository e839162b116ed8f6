/*
 * likelihood_api.c — the public clsde_likelihood_run (algorithms.md §6): dequantise and
 * scale the images on the host exactly as the reference does in float32, integrate the
 * augmented probability-flow ODE per image (sampler_ode.c's clsde_ode_likelihood) with the
 * network's score and its Jacobian-vector product (a clsde_net built with tangents), and
 * turn log p_T(z) + delta into bits per dimension (§6.3).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "ref/rng_ref.h"
#include "sampler.h"

void clsde_likelihood_params_default(clsde_likelihood_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->probe = "rademacher";
    p->rtol = p->atol = 1e-5;
    p->eps = 1e-5;
    p->dequantize = 1;
    p->batch = 16;
}

static clsde_status check_params(clsde_context *ctx, const clsde_model_config *c,
                                 const clsde_likelihood_params *p, clsde_probe *probe)
{
    CLSDE_FAIL_IF(!p->probe || (strcmp(p->probe, "rademacher") && strcmp(p->probe, "gaussian")),
                  ctx, CLSDE_ERR_ARG, "unknown probe '%s' (rademacher or gaussian)",
                  p->probe ? p->probe : "(null)");
    *probe = !strcmp(p->probe, "gaussian") ? CLSDE_PROBE_GAUSSIAN : CLSDE_PROBE_RADEMACHER;
    CLSDE_FAIL_IF(!(p->rtol > 0 && p->rtol < 1) || !(p->atol > 0 && isfinite(p->atol)), ctx,
                  CLSDE_ERR_ARG, "ODE tolerances rtol %g and atol %g must be > 0 (rtol < 1)",
                  p->rtol, p->atol);
    CLSDE_FAIL_IF(!(p->eps > 0 && p->eps < 1), ctx, CLSDE_ERR_ARG,
                  "likelihood start time eps %g must be in (0, 1)", p->eps);
    CLSDE_FAIL_IF(p->dequantize != 0 && p->dequantize != 1, ctx, CLSDE_ERR_ARG,
                  "dequantize %d must be 0 or 1", (int)p->dequantize);
    CLSDE_FAIL_IF(p->batch < 1 || p->batch > 65536, ctx, CLSDE_ERR_ARG,
                  "batch %d must be in 1..65536", (int)p->batch);
    CLSDE_FAIL_IF(p->reference_batching != 0 && p->reference_batching != 1, ctx, CLSDE_ERR_ARG,
                  "reference_batching %d must be 0 or 1", (int)p->reference_batching);
    /* algorithms.md §2: the likelihood uses the continuous wrapper (sigma(t) as the label of
     * VE models), meaningless for a VE model trained on discrete noise levels */
    CLSDE_FAIL_IF(c->sde == CLSDE_SDE_VE && !c->continuous, ctx, CLSDE_ERR_UNSUPPORTED,
                  "the likelihood needs a continuously trained model; this VE model was "
                  "trained with discrete noise levels (training.continuous = false)");
    return CLSDE_OK;
}

/* x0 [count, D] in model space: u = (255 x + U) / 256 with U keyed (seed, image, stream
 * DEQUANT) when dequantising, then the scaler 2u - 1 for centred models, all in float32 as
 * the reference computes it (§6.3). */
static clsde_status to_model_space(clsde_context *ctx, const clsde_model_config *c,
                                   const clsde_likelihood_params *p, int64_t first, int32_t count,
                                   int32_t D, const float *images, double *x0)
{
    float *u = NULL;
    if (p->dequantize) {
        clsde_rng_params rp;
        u = malloc((size_t)count * D * sizeof *u);
        CLSDE_FAIL_IF(!u, ctx, CLSDE_ERR_NOMEM, "likelihood: out of memory");
        memset(&rp, 0, sizeof rp);
        rp.seed = p->seed;
        rp.first_image = (uint32_t)first;
        rp.n_images = (uint32_t)count;
        rp.per_image = (uint32_t)D;
        rp.stream = clsde_rng_stream(CLSDE_RNG_DEQUANT, 0);
        rp.dist = CLSDE_RNG_UNIFORM;
        clsde_rng_ref(&rp, u);
    }
    for (size_t i = 0; i < (size_t)count * D; i++) {
        float v = images[i];
        if (!(v >= 0.0f && v <= 1.0f)) {
            free(u);
            return clsde_error_set(ctx, CLSDE_ERR_ARG,
                                   "image %lld, element %zu: value %g is outside [0, 1]",
                                   (long long)(first + (int64_t)(i / (size_t)D)), i % (size_t)D,
                                   (double)v);
        }
        if (u) v = (255.0f * v + u[i]) / 256.0f;
        if (c->centered) v = v * 2.0f - 1.0f;
        x0[i] = v;
    }
    free(u);
    return CLSDE_OK;
}

clsde_status clsde_likelihood_run(clsde_context *ctx, clsde_model *model,
                                  const clsde_likelihood_params *params, int64_t first_image,
                                  int32_t count, const float *images, double *bpd, float *z,
                                  clsde_sample_stats *stats)
{
    clsde_status st = CLSDE_OK;
    clsde_sample_stats acc;
    clsde_run_net rn;
    clsde_progress pr;
    clsde_probe probe = CLSDE_PROBE_RADEMACHER;
    clsde_ode_opts o;
    double *x0 = NULL, *zd = NULL, *delta = NULL;
    int32_t B, D, per_call;
    const double t0 = clsde_now();
    memset(&rn, 0, sizeof rn);
    memset(&acc, 0, sizeof acc);
    CLSDE_TRY(clsde_run_check(ctx, "clsde_likelihood_run", first_image, count));
    CLSDE_FAIL_IF(!model || !params || !images || !bpd, ctx, CLSDE_ERR_ARG,
                  "clsde_likelihood_run: NULL model, params, images or bpd");
    CLSDE_TRY(check_params(ctx, &model->cfg, params, &probe));
    B = params->batch < count ? params->batch : count;
    D = model->cfg.num_channels * model->cfg.image_size * model->cfg.image_size;
    x0 = malloc((size_t)count * D * sizeof *x0);
    zd = malloc((size_t)count * D * sizeof *zd);
    delta = malloc((size_t)count * sizeof *delta);
    CLSDE_GOTO_IF(!x0 || !zd || !delta, ctx, CLSDE_ERR_NOMEM, "likelihood: out of memory");
    CLSDE_TRY_GOTO(to_model_space(ctx, &model->cfg, params, first_image, count, D, images, x0));
    CLSDE_TRY_GOTO(clsde_run_net_create(ctx, model, 1, 1, B, model->cfg.num_scales, &rn));

    memset(&o, 0, sizeof o);
    o.rtol = params->rtol, o.atol = params->atol;
    o.reference_batching = params->reference_batching;
    o.seed = params->seed;
    /* per-image ODEs take all images in one call (slots refilled as images finish) */
    per_call = params->reference_batching ? B : count;
    pr.fn = params->progress, pr.user = params->progress_user;
    pr.total = (count + B - 1) / B * 1000;
    pr.t0 = t0;
    for (int32_t c0 = 0; c0 < count; c0 += per_call) {
        const int32_t n = count - c0 < per_call ? count - c0 : per_call;
        clsde_sample_stats one;
        pr.base = c0 / B * 1000;
        CLSDE_TRY_GOTO(clsde_ode_likelihood(ctx, &rn.sde, clsde_net_score_fn(rn.ns), &o,
                                            params->eps, probe, &pr, first_image + c0, n,
                                            x0 + (size_t)c0 * D, zd + (size_t)c0 * D,
                                            delta + c0, &one));
        clsde_sample_stats_add(&acc, &one);
        acc.nfe_mean += one.nfe_mean * n / count;
    }
    {
        /* §6.3: log p_T(z) of the prior N(0, sigma^2 I); offset = 7 - inverse_scaler(-1) */
        const double sig = clsde_sde_prior_std(&rn.sde);
        const double offset = model->cfg.centered ? 7.0 : 8.0;
        for (int32_t b = 0; b < count; b++) {
            const double *zb = zd + (size_t)b * D;
            double sq = 0, logp;
            for (int32_t i = 0; i < D; i++) sq += zb[i] * zb[i];
            logp = -0.5 * D * log(2 * M_PI * sig * sig) - sq / (2 * sig * sig);
            bpd[b] = -(logp + delta[b]) / (D * M_LN2) + offset;
        }
        if (z)
            for (size_t i = 0; i < (size_t)count * D; i++) z[i] = (float)zd[i];
    }
    acc.seconds = clsde_now() - t0;
    if (stats) *stats = acc;
fail:
    clsde_run_net_destroy(&rn);
    free(x0), free(zd), free(delta);
    return st;
}
