/*
 * elementwise.c — host wrappers for cl/elementwise.cl: check sizes, set arguments,
 * enqueue. Vector width VW comes from the kernel's default until tuning (tune.c) exists.
 */
#include <limits.h>

#include "../program.h"
#include "elementwise.h"

#define FILE_ "elementwise.cl"
/* Must equal the default VW of elementwise.cl: the programs are built with default
 * options until per-device tuning passes -DVW. */
#define VW 16
#define WG 64

clsde_status clsde_silu_enqueue(clsde_context *ctx, size_t n, cl_mem x, cl_mem y)
{
    cl_kernel k;
    const int n32 = (int)n;
    const size_t gws = (n + VW - 1) / VW, lws = WG;
    CLSDE_FAIL_IF(n == 0 || n > INT_MAX, ctx, CLSDE_ERR_ARG, "silu: bad size %zu", n);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "silu", &k));
    CLSDE_ARG(ctx, k, 0, n32);
    CLSDE_ARG(ctx, k, 1, x);
    CLSDE_ARG(ctx, k, 2, y);
    return clsde_enqueue(ctx, k, "silu", 1, &gws, &lws);
}

clsde_status clsde_axpby_enqueue(clsde_context *ctx, size_t n, float a, cl_mem x, float b,
                                 cl_mem y2, cl_mem y)
{
    cl_kernel k;
    const int n32 = (int)n;
    const size_t gws = (n + VW - 1) / VW, lws = WG;
    CLSDE_FAIL_IF(n == 0 || n > INT_MAX, ctx, CLSDE_ERR_ARG, "axpby: bad size %zu", n);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "axpby", &k));
    CLSDE_ARG(ctx, k, 0, n32);
    CLSDE_ARG(ctx, k, 1, a);
    CLSDE_ARG(ctx, k, 2, x);
    CLSDE_ARG(ctx, k, 3, b);
    CLSDE_ARG(ctx, k, 4, y2);
    CLSDE_ARG(ctx, k, 5, y);
    return clsde_enqueue(ctx, k, "axpby", 1, &gws, &lws);
}

clsde_status clsde_scale_add_bc_enqueue(clsde_context *ctx, size_t planes, size_t hw, float a,
                                        cl_mem x, cl_mem bias, cl_mem y)
{
    cl_kernel k;
    const int hw32 = (int)hw;
    const size_t gws[2] = {(hw + VW - 1) / VW, planes}, lws[2] = {16, 1};
    CLSDE_FAIL_IF(planes == 0 || hw == 0 || planes * hw > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "scale_add_bc: bad size %zu x %zu", planes, hw);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "scale_add_bc", &k));
    CLSDE_ARG(ctx, k, 0, hw32);
    CLSDE_ARG(ctx, k, 1, a);
    CLSDE_ARG(ctx, k, 2, x);
    CLSDE_ARG(ctx, k, 3, bias);
    CLSDE_ARG(ctx, k, 4, y);
    return clsde_enqueue(ctx, k, "scale_add_bc", 2, gws, lws);
}

clsde_status clsde_scale_per_image_enqueue(clsde_context *ctx, size_t n, size_t per_image,
                                           int divide, cl_mem s, cl_mem x, cl_mem y)
{
    cl_kernel k;
    const int per32 = (int)per_image, div32 = divide != 0;
    const size_t gws[2] = {(per_image + VW - 1) / VW, n}, lws[2] = {16, 1};
    CLSDE_FAIL_IF(n == 0 || per_image == 0 || n * per_image > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "scale_per_image: bad size %zu x %zu", n, per_image);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "scale_per_image", &k));
    CLSDE_ARG(ctx, k, 0, per32);
    CLSDE_ARG(ctx, k, 1, div32);
    CLSDE_ARG(ctx, k, 2, s);
    CLSDE_ARG(ctx, k, 3, x);
    CLSDE_ARG(ctx, k, 4, y);
    return clsde_enqueue(ctx, k, "scale_per_image", 2, gws, lws);
}

clsde_status clsde_affine_enqueue(clsde_context *ctx, size_t n, float a, float b, cl_mem x,
                                  cl_mem y)
{
    cl_kernel k;
    const int n32 = (int)n;
    const size_t gws = (n + VW - 1) / VW, lws = WG;
    CLSDE_FAIL_IF(n == 0 || n > INT_MAX, ctx, CLSDE_ERR_ARG, "affine: bad size %zu", n);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "affine", &k));
    CLSDE_ARG(ctx, k, 0, n32);
    CLSDE_ARG(ctx, k, 1, a);
    CLSDE_ARG(ctx, k, 2, b);
    CLSDE_ARG(ctx, k, 3, x);
    CLSDE_ARG(ctx, k, 4, y);
    return clsde_enqueue(ctx, k, "affine", 1, &gws, &lws);
}
