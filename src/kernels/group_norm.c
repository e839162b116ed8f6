/*
 * group_norm.c — host wrapper for cl/group_norm.cl: check the shape and the buffers, pick
 * group_norm or group_norm_silu and the work-group shape, one work-group per (sample,
 * group). Until tune.c exists the shape comes from the device class: the .cl defaults
 * (WG 1, VW 16) on CPUs, WG 256 / VW 4 elsewhere.
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

clsde_status clsde_group_norm_enqueue_tuned(clsde_context *ctx, const clsde_group_norm_params *p,
                                            int32_t wg, int32_t vw, cl_mem x, cl_mem gamma,
                                            cl_mem beta, cl_mem y)
{
    cl_kernel k;
    const char *name;
    char options[48] = "";
    size_t gws[2], lws[2];
    int32_t c, hw, groups;
    float eps;

    CLSDE_FAIL_IF(!p, ctx, CLSDE_ERR_ARG, "group_norm: params is NULL");
    c = p->c, hw = p->hw, groups = p->groups, eps = p->eps;
    name = p->silu ? "group_norm_silu" : "group_norm";
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
    CLSDE_TRY(clsde_buffer_check(ctx, name, "y", y, (int64_t)p->n * c * hw));
    CLSDE_TRY(clsde_buffer_check(ctx, name, "gamma", gamma, c));
    CLSDE_TRY(clsde_buffer_check(ctx, name, "beta", beta, c));

    if (wg != WG_DEFAULT || vw != VW_DEFAULT)
        snprintf(options, sizeof options, "-DWG=%d -DVW=%d", (int)wg, (int)vw);
    gws[0] = lws[0] = (size_t)wg;
    gws[1] = (size_t)p->n * (size_t)groups;
    lws[1] = 1;
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, options, name, &k));
    CLSDE_ARG(ctx, k, 0, c);
    CLSDE_ARG(ctx, k, 1, hw);
    CLSDE_ARG(ctx, k, 2, groups);
    CLSDE_ARG(ctx, k, 3, eps);
    CLSDE_ARG(ctx, k, 4, x);
    CLSDE_ARG(ctx, k, 5, gamma);
    CLSDE_ARG(ctx, k, 6, beta);
    CLSDE_ARG(ctx, k, 7, y);
    return clsde_enqueue(ctx, k, name, 2, gws, lws);
}

clsde_status clsde_group_norm_enqueue(clsde_context *ctx, const clsde_group_norm_params *p,
                                      cl_mem x, cl_mem gamma, cl_mem beta, cl_mem y)
{
    int32_t wg = WG_DEFAULT, vw = VW_DEFAULT;
    if (ctx->info.type != CLSDE_DEVICE_CPU) {
        wg = 256, vw = 4;
        while (wg > ctx->info.max_work_group_size && wg > 1) wg /= 2;
    }
    return clsde_group_norm_enqueue_tuned(ctx, p, wg, vw, x, gamma, beta, y);
}
