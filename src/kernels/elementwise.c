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

/* One kernel argument, in the order of the kernel's parameters: ARG(lvalue). */
typedef struct arg {
    size_t size;
    const void *value;
} arg;
#define ARG(v) {sizeof(v), &(v)}
#define N_ARGS(a) ((cl_uint)(sizeof(a) / sizeof((a)[0])))

/* Set the arguments of kernel `name` and enqueue it over gws (dims 1 or 2). */
static clsde_status launch(clsde_context *ctx, const char *name, const arg *args,
                           cl_uint n_args, cl_uint dims, const size_t *gws, const size_t *lws)
{
    cl_kernel k;
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", name, &k));
    for (cl_uint i = 0; i < n_args; i++)
        CLSDE_CL(ctx, clSetKernelArg(k, i, args[i].size, args[i].value), "clSetKernelArg");
    return clsde_enqueue(ctx, k, name, dims, gws, lws);
}

/* n values, VW per work-item, work-groups of WG. */
static clsde_status launch_1d(clsde_context *ctx, const char *name, size_t n, const arg *args,
                              cl_uint n_args)
{
    const size_t gws = (n + VW - 1) / VW, lws = WG;
    CLSDE_FAIL_IF(n == 0 || n > INT_MAX, ctx, CLSDE_ERR_ARG, "%s: bad size %zu", name, n);
    return launch(ctx, name, args, n_args, 1, &gws, &lws);
}

/* planes x per_plane values: VW per work-item along a plane (id 0), one plane per id 1. */
static clsde_status launch_planes(clsde_context *ctx, const char *name, size_t planes,
                                  size_t per_plane, const arg *args, cl_uint n_args)
{
    const size_t gws[2] = {(per_plane + VW - 1) / VW, planes}, lws[2] = {16, 1};
    CLSDE_FAIL_IF(planes == 0 || per_plane == 0 || planes * per_plane > INT_MAX, ctx,
                  CLSDE_ERR_ARG, "%s: bad size %zu x %zu", name, planes, per_plane);
    return launch(ctx, name, args, n_args, 2, gws, lws);
}

clsde_status clsde_silu_enqueue(clsde_context *ctx, size_t n, cl_mem x, cl_mem y)
{
    const int n32 = (int)n;
    const arg args[] = {ARG(n32), ARG(x), ARG(y)};
    return launch_1d(ctx, "silu", n, args, N_ARGS(args));
}

clsde_status clsde_silu_jvp_enqueue(clsde_context *ctx, size_t n, cl_mem x, cl_mem tx,
                                    cl_mem ty)
{
    const int n32 = (int)n;
    const arg args[] = {ARG(n32), ARG(x), ARG(tx), ARG(ty)};
    return launch_1d(ctx, "silu_jvp", n, args, N_ARGS(args));
}

clsde_status clsde_axpby_enqueue(clsde_context *ctx, size_t n, float a, cl_mem x, float b,
                                 cl_mem y2, cl_mem y)
{
    const int n32 = (int)n;
    const arg args[] = {ARG(n32), ARG(a), ARG(x), ARG(b), ARG(y2), ARG(y)};
    return launch_1d(ctx, "axpby", n, args, N_ARGS(args));
}

clsde_status clsde_scale_add_bc_enqueue(clsde_context *ctx, size_t planes, size_t hw, float a,
                                        cl_mem x, cl_mem bias, cl_mem y)
{
    const int hw32 = (int)hw;
    const arg args[] = {ARG(hw32), ARG(a), ARG(x), ARG(bias), ARG(y)};
    return launch_planes(ctx, "scale_add_bc", planes, hw, args, N_ARGS(args));
}

clsde_status clsde_scale_per_image_enqueue(clsde_context *ctx, size_t n, size_t per_image,
                                           int divide, cl_mem s, cl_mem x, cl_mem y)
{
    const int per32 = (int)per_image, div32 = divide != 0;
    const arg args[] = {ARG(per32), ARG(div32), ARG(s), ARG(x), ARG(y)};
    return launch_planes(ctx, "scale_per_image", n, per_image, args, N_ARGS(args));
}

clsde_status clsde_affine_enqueue(clsde_context *ctx, size_t n, float a, float b, cl_mem x,
                                  cl_mem y)
{
    const int n32 = (int)n;
    const arg args[] = {ARG(n32), ARG(a), ARG(b), ARG(x), ARG(y)};
    return launch_1d(ctx, "affine", n, args, N_ARGS(args));
}
