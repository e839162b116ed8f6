/*
 * group_norm.c — host wrapper for cl/group_norm.cl: check the shape and the buffers, pick
 * group_norm or group_norm_silu and the work-group shape, one work-group per (sample,
 * group), and the same for its forward-mode derivative (group_norm_jvp,
 * group_norm_silu_jvp). Until tune.c exists the shape comes from the device class: the .cl
 * defaults (WG 1, VW 16) on CPUs, WG 256 / VW 4 elsewhere.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "../program.h"
#include "group_norm.h"

#define FILE_ "group_norm.cl"
/* The defaults of group_norm.cl (built without options). */
#define WG_DEFAULT 1
#define VW_DEFAULT 16

/* The checks shared by the forward and the tangent: shape, eps, work-group shape, and the
 * operands that both have (x and the output [n, c, hw], gamma and beta [c]). */
static clsde_status check_args(clsde_context *ctx, const clsde_group_norm_params *p,
                               const char *name, int32_t wg, int32_t vw, cl_mem x, cl_mem gamma,
                               cl_mem beta, cl_mem y, const char *y_name)
{
    const int32_t c = p->c, hw = p->hw, groups = p->groups;
    const float eps = p->eps;
    CLSDE_FAIL_IF(p->n < 1 || c < 1 || hw < 1 || groups < 1, ctx, CLSDE_ERR_ARG,
                  "%s: bad shape n=%d c=%d hw=%d groups=%d", name, (int)p->n, (int)c, (int)hw,
                  (int)groups);
    CLSDE_FAIL_IF(c % groups != 0, ctx, CLSDE_ERR_ARG,
                  "%s: %d channels do not split into %d groups", name, (int)c, (int)groups);
    /* the kernel indexes within a group with int and steps past its end by < WG*blk */
    CLSDE_FAIL_IF((int64_t)(c / groups) * hw > INT_MAX / 4, ctx, CLSDE_ERR_ARG,
                  "%s: group of %d x %d values is too large", name, (int)(c / groups), (int)hw);
    CLSDE_FAIL_IF((int64_t)p->n * groups > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "%s: %d x %d work-groups", name, (int)p->n, (int)groups);
    CLSDE_FAIL_IF(!(eps >= 0.0f) || isinf(eps), ctx, CLSDE_ERR_ARG, "%s: eps %g", name,
                  (double)eps);
    CLSDE_FAIL_IF(wg < 1 || (wg & (wg - 1)) || wg > ctx->info.max_work_group_size, ctx,
                  CLSDE_ERR_ARG, "%s: work-group size %d (a power of two up to %d)", name,
                  (int)wg, (int)ctx->info.max_work_group_size);
    CLSDE_FAIL_IF(vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16, ctx, CLSDE_ERR_ARG,
                  "%s: vector width %d", name, (int)vw);
    CLSDE_TRY(clsde_buffer_check(ctx, name, "x", x, (int64_t)p->n * c * hw));
    CLSDE_TRY(clsde_buffer_check(ctx, name, y_name, y, (int64_t)p->n * c * hw));
    CLSDE_TRY(clsde_buffer_check(ctx, name, "gamma", gamma, c));
    CLSDE_TRY(clsde_buffer_check(ctx, name, "beta", beta, c));
    return CLSDE_OK;
}

/* Set the arguments (c, hw, groups, eps, then the buffers in the kernel's order) and
 * enqueue one work-group of wg per (sample, group). */
static clsde_status launch(clsde_context *ctx, const clsde_group_norm_params *p, const char *name,
                           int32_t wg, int32_t vw, const cl_mem *bufs, cl_uint n_bufs)
{
    cl_kernel k;
    char options[48] = "";
    size_t gws[2], lws[2];
    if (wg != WG_DEFAULT || vw != VW_DEFAULT)
        snprintf(options, sizeof options, "-DWG=%d -DVW=%d", (int)wg, (int)vw);
    gws[0] = lws[0] = (size_t)wg;
    gws[1] = (size_t)p->n * (size_t)p->groups;
    lws[1] = 1;
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, options, name, &k));
    CLSDE_ARG(ctx, k, 0, p->c);
    CLSDE_ARG(ctx, k, 1, p->hw);
    CLSDE_ARG(ctx, k, 2, p->groups);
    CLSDE_ARG(ctx, k, 3, p->eps);
    for (cl_uint i = 0; i < n_bufs; i++) CLSDE_ARG(ctx, k, 4 + i, bufs[i]);
    return clsde_enqueue(ctx, k, name, 2, gws, lws);
}

/* The device-class default work-group shape (see the file header). */
static void default_shape(const clsde_context *ctx, int32_t *wg, int32_t *vw)
{
    *wg = WG_DEFAULT, *vw = VW_DEFAULT;
    if (ctx->info.type != CLSDE_DEVICE_CPU) {
        *wg = 256, *vw = 4;
        while (*wg > ctx->info.max_work_group_size && *wg > 1) *wg /= 2;
    }
}

clsde_status clsde_group_norm_enqueue_tuned(clsde_context *ctx, const clsde_group_norm_params *p,
                                            int32_t wg, int32_t vw, cl_mem x, cl_mem gamma,
                                            cl_mem beta, cl_mem y)
{
    const char *name;
    CLSDE_FAIL_IF(!p, ctx, CLSDE_ERR_ARG, "group_norm: params is NULL");
    name = p->silu ? "group_norm_silu" : "group_norm";
    CLSDE_TRY(check_args(ctx, p, name, wg, vw, x, gamma, beta, y, "y"));
    {
        const cl_mem bufs[] = {x, gamma, beta, y};
        return launch(ctx, p, name, wg, vw, bufs, 4);
    }
}

clsde_status clsde_group_norm_enqueue(clsde_context *ctx, const clsde_group_norm_params *p,
                                      cl_mem x, cl_mem gamma, cl_mem beta, cl_mem y)
{
    int32_t wg, vw;
    default_shape(ctx, &wg, &vw);
    return clsde_group_norm_enqueue_tuned(ctx, p, wg, vw, x, gamma, beta, y);
}

clsde_status clsde_group_norm_jvp_enqueue_tuned(clsde_context *ctx,
                                                const clsde_group_norm_params *p, int32_t wg,
                                                int32_t vw, cl_mem x, cl_mem tx, cl_mem gamma,
                                                cl_mem beta, cl_mem ty)
{
    const char *name;
    CLSDE_FAIL_IF(!p, ctx, CLSDE_ERR_ARG, "group_norm_jvp: params is NULL");
    name = p->silu ? "group_norm_silu_jvp" : "group_norm_jvp";
    CLSDE_TRY(check_args(ctx, p, name, wg, vw, x, gamma, beta, ty, "ty"));
    CLSDE_TRY(clsde_buffer_check(ctx, name, "tx", tx, (int64_t)p->n * p->c * p->hw));
    CLSDE_FAIL_IF(ty == x || ty == tx, ctx, CLSDE_ERR_ARG, "%s: ty must not alias x or tx",
                  name);
    {
        const cl_mem bufs[] = {x, tx, gamma, beta, ty};
        return launch(ctx, p, name, wg, vw, bufs, 5);
    }
}

clsde_status clsde_group_norm_jvp_enqueue(clsde_context *ctx, const clsde_group_norm_params *p,
                                          cl_mem x, cl_mem tx, cl_mem gamma, cl_mem beta,
                                          cl_mem ty)
{
    int32_t wg, vw;
    default_shape(ctx, &wg, &vw);
    return clsde_group_norm_jvp_enqueue_tuned(ctx, p, wg, vw, x, tx, gamma, beta, ty);
}
