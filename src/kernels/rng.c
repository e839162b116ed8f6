/*
 * rng.c — host wrapper for cl/rng.cl: checks the sizes, picks the Box–Muller precision
 * (double on cl_khr_fp64 devices unless the caller forces float), enqueues rng_fill.
 */
#include <limits.h>

#include "../program.h"
#include "rng.h"

#define FILE_ "rng.cl"
#define WG 64

int clsde_rng_uses_fp32(const clsde_context *ctx, const clsde_rng_params *p)
{
    return p->fp32 || !ctx->info.fp64;
}

clsde_status clsde_rng_enqueue(clsde_context *ctx, const clsde_rng_params *p, cl_mem out)
{
    cl_kernel k;
    const cl_uint per = p->per_image, first = p->first_image, step = p->step;
    const cl_uint stream = p->stream;
    const cl_uint seed_lo = (cl_uint)p->seed, seed_hi = (cl_uint)(p->seed >> 32);
    const cl_int dist = (cl_int)p->dist;
    const size_t gws[2] = {((size_t)per + 3) / 4, p->n_images}, lws[2] = {WG, 1};
    /* The float path is a separate program so that both can be checked on one device. */
    const char *opts = p->fp32 && p->dist == CLSDE_RNG_NORMAL ? "-DRNG_FP32=1" : "";
    CLSDE_FAIL_IF(p->n_images == 0 || per == 0 || per > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "rng: bad size %u images x %u", (unsigned)p->n_images, (unsigned)per);
    CLSDE_FAIL_IF((uint64_t)p->first_image + p->n_images - 1 > UINT32_MAX, ctx, CLSDE_ERR_ARG,
                  "rng: image index %u + %u overflows 32 bits", (unsigned)p->first_image,
                  (unsigned)p->n_images);
    CLSDE_FAIL_IF(p->dist != CLSDE_RNG_NORMAL && p->dist != CLSDE_RNG_UNIFORM &&
                      p->dist != CLSDE_RNG_RADEMACHER && p->dist != CLSDE_RNG_BITS,
                  ctx, CLSDE_ERR_ARG, "rng: unknown distribution %d", (int)p->dist);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, opts, "rng_fill", &k));
    CLSDE_ARG(ctx, k, 0, per);
    CLSDE_ARG(ctx, k, 1, first);
    CLSDE_ARG(ctx, k, 2, seed_lo);
    CLSDE_ARG(ctx, k, 3, seed_hi);
    CLSDE_ARG(ctx, k, 4, step);
    CLSDE_ARG(ctx, k, 5, stream);
    CLSDE_ARG(ctx, k, 6, dist);
    CLSDE_ARG(ctx, k, 7, out);
    return clsde_enqueue(ctx, k, "rng_fill", 2, gws, lws);
}
