/*
 * analytic_score.c — host wrapper for cl/analytic_score.cl: one work-group per image, the
 * kernel's default WG (64), fewer lanes for images of fewer than 64 values, and never more
 * than the device allows.
 */
#include <limits.h>
#include <stdio.h>

#include "../program.h"
#include "analytic_score.h"

#define FILE_ "analytic_score.cl"
#define WG_DEFAULT 64

clsde_status clsde_gmm_score_enqueue(clsde_context *ctx, int32_t k, int32_t d, int32_t n,
                                     int f64, cl_mem mu, cl_mem coef, cl_mem x, cl_mem score)
{
    cl_kernel kern;
    char opts[64] = "";
    size_t wg = WG_DEFAULT, len = 0;
    const cl_int k32 = k, d32 = d;
    CLSDE_FAIL_IF(k < 1 || k > CLSDE_GMM_KMAX, ctx, CLSDE_ERR_ARG,
                  "gmm_score: %d components, must be 1..%d", (int)k, CLSDE_GMM_KMAX);
    CLSDE_FAIL_IF(d < 1 || n < 1 || (int64_t)n * d > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "gmm_score: bad size %d images x %d", (int)n, (int)d);
    CLSDE_FAIL_IF(!mu || !coef || !x || !score, ctx, CLSDE_ERR_ARG, "gmm_score: NULL buffer");
    CLSDE_FAIL_IF(f64 && !ctx->info.fp64, ctx, CLSDE_ERR_UNSUPPORTED,
                  "gmm_score: the float64 variant needs cl_khr_fp64, which %s lacks",
                  ctx->info.name);
    /* small images: no more lanes than elements (a work-group per image is the cost) */
    while (wg > 1 && (wg > (size_t)ctx->info.max_work_group_size || wg / 2 >= (size_t)d)) wg /= 2;
    if (wg != WG_DEFAULT) len += (size_t)snprintf(opts, sizeof opts, "-DWG=%zu", wg);
    if (f64) snprintf(opts + len, sizeof opts - len, "%s-DGMM_F64=1", len ? " " : "");
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, opts, "gmm_score", &kern));
    {
        const size_t gws[2] = {wg, (size_t)n}, lws[2] = {wg, 1};
        CLSDE_ARG(ctx, kern, 0, k32);
        CLSDE_ARG(ctx, kern, 1, d32);
        CLSDE_ARG(ctx, kern, 2, mu);
        CLSDE_ARG(ctx, kern, 3, coef);
        CLSDE_ARG(ctx, kern, 4, x);
        CLSDE_ARG(ctx, kern, 5, score);
        return clsde_enqueue(ctx, kern, "gmm_score", 2, gws, lws);
    }
}
