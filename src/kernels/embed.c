/*
 * embed.c — host wrappers for cl/embed.cl (networks.md §1.2). The sinusoidal frequency
 * constant comes from clsde_sinusoidal_embed_neg_c(), shared with the reference.
 */
#include <limits.h>

#include "../program.h"
#include "embed.h"

#define FILE_ "embed.cl"
#define WG 32
/* build option of the test hook: ignore cl_khr_fp64 even where the device has it */
#define FLOAT_ONLY_OPTION "-DEMBED_FLOAT_ONLY=1"

clsde_status clsde_fourier_embed_enqueue_ex(clsde_context *ctx, int32_t n, int32_t nf,
                                            cl_mem sigma, cl_mem W, cl_mem out,
                                            int32_t float_only)
{
    cl_kernel k;
    const int nf32 = nf;
    const size_t gws[2] = {(size_t)nf, (size_t)n}, lws[2] = {WG, 1};
    CLSDE_FAIL_IF(n < 1 || nf < 1 || (int64_t)n * 2 * nf > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "fourier_embed: bad shape n %d, nf %d", (int)n, (int)nf);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, float_only ? FLOAT_ONLY_OPTION : "", "fourier_embed",
                               &k));
    CLSDE_ARG(ctx, k, 0, nf32);
    CLSDE_ARG(ctx, k, 1, sigma);
    CLSDE_ARG(ctx, k, 2, W);
    CLSDE_ARG(ctx, k, 3, out);
    return clsde_enqueue(ctx, k, "fourier_embed", 2, gws, lws);
}

clsde_status clsde_sinusoidal_embed_enqueue_ex(clsde_context *ctx, int32_t n, int32_t dim,
                                               cl_mem label, cl_mem out, int32_t float_only)
{
    cl_kernel k;
    const int dim32 = dim;
    const size_t gws[2] = {(size_t)(dim / 2), (size_t)n}, lws[2] = {WG, 1};
    float neg_c;
    /* half - 1 = 0 is a division by zero in the reference (ZeroDivisionError) */
    CLSDE_FAIL_IF(n < 1 || dim < 4 || (int64_t)n * dim > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "sinusoidal_embed: bad shape n %d, dim %d (dim must be >= 4)", (int)n,
                  (int)dim);
    neg_c = clsde_sinusoidal_embed_neg_c(dim);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, float_only ? FLOAT_ONLY_OPTION : "",
                               "sinusoidal_embed", &k));
    CLSDE_ARG(ctx, k, 0, dim32);
    CLSDE_ARG(ctx, k, 1, neg_c);
    CLSDE_ARG(ctx, k, 2, label);
    CLSDE_ARG(ctx, k, 3, out);
    return clsde_enqueue(ctx, k, "sinusoidal_embed", 2, gws, lws);
}

clsde_status clsde_fourier_embed_enqueue(clsde_context *ctx, int32_t n, int32_t nf,
                                         cl_mem sigma, cl_mem W, cl_mem out)
{
    return clsde_fourier_embed_enqueue_ex(ctx, n, nf, sigma, W, out, 0);
}

clsde_status clsde_sinusoidal_embed_enqueue(clsde_context *ctx, int32_t n, int32_t dim,
                                            cl_mem label, cl_mem out)
{
    return clsde_sinusoidal_embed_enqueue_ex(ctx, n, dim, label, out, 0);
}
