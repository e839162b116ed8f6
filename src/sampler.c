/*
 * sampler.c — what both samplers share: the noise source (Philox, or a test hook), progress
 * reporting and cancellation, zeroed buffers, and adding up the statistics of batches.
 * The public entry point clsde_sample_run lives in sampler_api.c next to the network adapter.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "kernels/rng.h"
#include "sampler.h"

clsde_status clsde_progress_report(clsde_context *ctx, const clsde_progress *p, int32_t step)
{
    if (!p || !p->fn) return CLSDE_OK;
    CLSDE_FAIL_IF(p->fn(p->user, p->base + step, p->total, clsde_now() - p->t0) != 0,
                  ctx, CLSDE_ERR_CANCELLED, "sampling cancelled by the progress callback at "
                  "step %d of %d", (int)(p->base + step), (int)p->total);
    return CLSDE_OK;
}

clsde_status clsde_sampler_noise(clsde_context *ctx, const clsde_sampler_hooks *hk, uint64_t seed,
                                 uint32_t step, uint32_t stream, int64_t first_image, int32_t n,
                                 int32_t per_image, cl_mem z)
{
    clsde_rng_params p;
    if (hk && hk->noise) return hk->noise(hk->user, step, stream, first_image, n, z);
    CLSDE_FAIL_IF(first_image < 0 || first_image + n - 1 > (int64_t)UINT32_MAX, ctx,
                  CLSDE_ERR_ARG, "image index %lld .. %lld is outside the noise key's 32 bits",
                  (long long)first_image, (long long)(first_image + n - 1));
    memset(&p, 0, sizeof p);
    p.seed = seed;
    p.first_image = (uint32_t)first_image;
    p.n_images = (uint32_t)n;
    p.per_image = (uint32_t)per_image;
    p.step = step;
    p.stream = stream;
    p.dist = CLSDE_RNG_NORMAL;
    return clsde_rng_enqueue(ctx, &p, z);
}

clsde_status clsde_sampler_zero(clsde_context *ctx, cl_mem buf, size_t bytes)
{
    const cl_uchar zero = 0;
    CLSDE_CL(ctx, clEnqueueFillBuffer(ctx->queue, buf, &zero, 1, 0, bytes, 0, NULL, NULL),
             "clEnqueueFillBuffer");
    return CLSDE_OK;
}

void clsde_sample_stats_add(clsde_sample_stats *acc, const clsde_sample_stats *c)
{
    /* nfe_mean is weighted by the caller (it knows the batch sizes) */
    if (c->nfe > acc->nfe) acc->nfe = c->nfe;
    if (acc->nfe_min == 0 || c->nfe_min < acc->nfe_min) acc->nfe_min = c->nfe_min;
    if (c->nfe_reference > acc->nfe_reference) acc->nfe_reference = c->nfe_reference;
    if (c->steps > acc->steps) acc->steps = c->steps;
    acc->steps_accepted += c->steps_accepted;
    acc->steps_rejected += c->steps_rejected;
    acc->forward_calls += c->forward_calls;
}
