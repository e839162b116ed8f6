/*
 * reduce.c — host wrappers for cl/reduce.cl: one work-group per image. The work-group
 * shape comes from the options or the device class until tune.c exists: the .cl defaults
 * (WG 1, VW 16) on CPUs, WG 256 (or the device's largest power of two) / VW 1 elsewhere.
 */
#include <limits.h>
#include <stdio.h>

#include "../program.h"
#include "reduce.h"

#define FILE_ "reduce.cl"
/* The defaults of reduce.cl (built without options). */
#define WG_DEFAULT 1
#define VW_DEFAULT 16

/* Work-group size and vector width: the caller's, else by device class (reduce.cl's
 * header: one 16-wide work-item per image on CPUs, 256 scalar work-items elsewhere). */
static clsde_status get_kernel(clsde_context *ctx, const clsde_reduce_opts *o,
                               const char *name, size_t *wg_out, cl_kernel *k)
{
    const int cpu = ctx->info.type == CLSDE_DEVICE_CPU;
    int32_t wg = o && o->wg ? o->wg : cpu ? WG_DEFAULT : 256;
    const int32_t vw = o && o->vw ? o->vw : cpu ? VW_DEFAULT : 1;
    char opts[64] = "";
    size_t len = 0;
    if (!(o && o->wg))
        while (wg > 1 && wg > ctx->info.max_work_group_size) wg /= 2;
    CLSDE_FAIL_IF(wg < 1 || (wg & (wg - 1)) || wg > ctx->info.max_work_group_size, ctx,
                  CLSDE_ERR_ARG, "%s: work-group size %d (a power of two up to %d)", name,
                  (int)wg, (int)ctx->info.max_work_group_size);
    CLSDE_FAIL_IF(vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16, ctx, CLSDE_ERR_ARG,
                  "%s: vector width %d", name, (int)vw);
    if (wg != WG_DEFAULT || vw != VW_DEFAULT)
        len += (size_t)snprintf(opts, sizeof opts, "-DWG=%d -DVW=%d", (int)wg, (int)vw);
    if (o && o->fp32) snprintf(opts + len, sizeof opts - len, "%s-DREDUCE_FP32=1", len ? " " : "");
    *wg_out = (size_t)wg;
    return clsde_kernel_get(ctx, FILE_, opts, name, k);
}

static clsde_status check_size(clsde_context *ctx, const char *what, size_t n, size_t per)
{
    CLSDE_FAIL_IF(n == 0 || per == 0 || per > INT_MAX || n > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "%s: bad size %zu images x %zu", what, n, per);
    return CLSDE_OK;
}

clsde_status clsde_sumsq_per_image_enqueue(clsde_context *ctx, const clsde_reduce_opts *o,
                                           size_t n, size_t per_image, int take_sqrt, cl_mem x,
                                           cl_mem out)
{
    cl_kernel k;
    size_t wg;
    const cl_int per = (cl_int)per_image, sq = take_sqrt != 0;
    CLSDE_TRY(check_size(ctx, "sumsq_per_image", n, per_image));
    CLSDE_TRY(get_kernel(ctx, o, "sumsq_per_image", &wg, &k));
    {
        const size_t gws[2] = {wg, n}, lws[2] = {wg, 1};
        CLSDE_ARG(ctx, k, 0, per);
        CLSDE_ARG(ctx, k, 1, sq);
        CLSDE_ARG(ctx, k, 2, x);
        CLSDE_ARG(ctx, k, 3, out);
        return clsde_enqueue(ctx, k, "sumsq_per_image", 2, gws, lws);
    }
}

clsde_status clsde_dot_per_image_enqueue(clsde_context *ctx, const clsde_reduce_opts *o,
                                         size_t n, size_t per_image, cl_mem a, cl_mem b,
                                         cl_mem out)
{
    cl_kernel k;
    size_t wg;
    const cl_int per = (cl_int)per_image;
    CLSDE_TRY(check_size(ctx, "dot_per_image", n, per_image));
    CLSDE_TRY(get_kernel(ctx, o, "dot_per_image", &wg, &k));
    {
        const size_t gws[2] = {wg, n}, lws[2] = {wg, 1};
        CLSDE_ARG(ctx, k, 0, per);
        CLSDE_ARG(ctx, k, 1, a);
        CLSDE_ARG(ctx, k, 2, b);
        CLSDE_ARG(ctx, k, 3, out);
        return clsde_enqueue(ctx, k, "dot_per_image", 2, gws, lws);
    }
}

clsde_status clsde_err_sumsq_per_image_enqueue(clsde_context *ctx, const clsde_reduce_opts *o,
                                               size_t n, size_t per_image, float atol,
                                               float rtol, cl_mem err, cl_mem y, cl_mem ynew,
                                               cl_mem out)
{
    cl_kernel k;
    size_t wg;
    const cl_int per = (cl_int)per_image;
    CLSDE_TRY(check_size(ctx, "err_sumsq_per_image", n, per_image));
    CLSDE_FAIL_IF(!(atol >= 0 && rtol >= 0 && atol + rtol > 0), ctx, CLSDE_ERR_ARG,
                  "err_sumsq_per_image: atol %g, rtol %g must be >= 0, not both 0",
                  (double)atol, (double)rtol);
    CLSDE_TRY(get_kernel(ctx, o, "err_sumsq_per_image", &wg, &k));
    {
        const size_t gws[2] = {wg, n}, lws[2] = {wg, 1};
        CLSDE_ARG(ctx, k, 0, per);
        CLSDE_ARG(ctx, k, 1, atol);
        CLSDE_ARG(ctx, k, 2, rtol);
        CLSDE_ARG(ctx, k, 3, err);
        CLSDE_ARG(ctx, k, 4, y);
        CLSDE_ARG(ctx, k, 5, ynew);
        CLSDE_ARG(ctx, k, 6, out);
        return clsde_enqueue(ctx, k, "err_sumsq_per_image", 2, gws, lws);
    }
}

clsde_status clsde_err_sumsq_per_image_f64_enqueue(clsde_context *ctx, size_t n,
                                                   size_t per_image, double atol, double rtol,
                                                   cl_mem err, cl_mem y, cl_mem ynew,
                                                   cl_mem out)
{
    cl_kernel k;
    size_t wg;
    const cl_int per = (cl_int)per_image;
    CLSDE_FAIL_IF(!ctx->info.fp64, ctx, CLSDE_ERR_UNSUPPORTED,
                  "err_sumsq_per_image_f64: device '%s' has no cl_khr_fp64", ctx->info.name);
    CLSDE_TRY(check_size(ctx, "err_sumsq_per_image_f64", n, per_image));
    CLSDE_FAIL_IF(!(atol >= 0 && rtol >= 0 && atol + rtol > 0), ctx, CLSDE_ERR_ARG,
                  "err_sumsq_per_image_f64: atol %g, rtol %g must be >= 0, not both 0", atol,
                  rtol);
    CLSDE_TRY(get_kernel(ctx, NULL, "err_sumsq_per_image_f64", &wg, &k));
    {
        const size_t gws[2] = {wg, n}, lws[2] = {wg, 1};
        CLSDE_ARG(ctx, k, 0, per);
        CLSDE_ARG(ctx, k, 1, atol);
        CLSDE_ARG(ctx, k, 2, rtol);
        CLSDE_ARG(ctx, k, 3, err);
        CLSDE_ARG(ctx, k, 4, y);
        CLSDE_ARG(ctx, k, 5, ynew);
        CLSDE_ARG(ctx, k, 6, out);
        return clsde_enqueue(ctx, k, "err_sumsq_per_image_f64", 2, gws, lws);
    }
}
