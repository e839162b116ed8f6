/*
 * rk45.c — host wrappers for cl/rk45.cl: check sizes, pick the double or float program
 * (-DRK_FP64, -DIN_F64), set arguments, enqueue. Unused buffer arguments get a valid
 * buffer that the kernel never touches.
 */
#include <limits.h>

#include "../program.h"
#include "rk45.h"

#define FILE_ "rk45.cl"
#define WG 64

static const char *options(int fp64, int in_f64)
{
    if (fp64) return in_f64 ? "-DRK_FP64=1 -DIN_F64=1" : "-DRK_FP64=1";
    return in_f64 ? "-DIN_F64=1" : "";
}

static clsde_status check(clsde_context *ctx, const char *what, const clsde_rk_params *p,
                          int in_f64)
{
    CLSDE_FAIL_IF(p->n <= 0 || p->per_image <= 0 || (int64_t)p->n * p->per_image * 7 > INT_MAX,
                  ctx, CLSDE_ERR_ARG, "%s: bad size %d x %d", what, (int)p->n,
                  (int)p->per_image);
    CLSDE_FAIL_IF(p->b0 < 0 || p->nb < 0 || p->b0 + p->nb > p->n || (p->nb == 0 && p->b0 > 0),
                  ctx, CLSDE_ERR_ARG, "%s: images %d + %d of %d", what, (int)p->b0, (int)p->nb,
                  (int)p->n);
    CLSDE_FAIL_IF((p->fp64 || in_f64) && !ctx->info.fp64, ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: the float64 state needs cl_khr_fp64, which %s lacks", what,
                  ctx->info.name);
    return CLSDE_OK;
}

/* Over elements x images b0 .. b0 + nb - 1 (all n when nb = 0): the kernels index images by
 * get_global_id(1), so a global offset selects the slice. */
static clsde_status enqueue(clsde_context *ctx, cl_kernel k, const char *what,
                            const clsde_rk_params *p)
{
    const size_t off[2] = {0, (size_t)p->b0};
    const size_t gws[2] = {(size_t)p->per_image, (size_t)(p->nb ? p->nb : p->n)};
    const size_t lws[2] = {WG, 1};
    return clsde_enqueue_offset(ctx, k, what, 2, off, gws, lws);
}

clsde_status clsde_rk_combine_enqueue(clsde_context *ctx, const clsde_rk_params *p, int row,
                                      int flags, cl_mem h, cl_mem y, cl_mem ylo, cl_mem K,
                                      cl_mem out, cl_mem out_lo, cl_mem out_f)
{
    cl_kernel k;
    const cl_int per = p->per_image, r = row, kstride = p->n * p->per_image;
    cl_int fl = flags;
    CLSDE_TRY(check(ctx, "rk_combine", p, 0));
    CLSDE_FAIL_IF(row < 0 || row >= CLSDE_RK_ROWS, ctx, CLSDE_ERR_ARG, "rk_combine: row %d", row);
    CLSDE_FAIL_IF(!K || !out || (!(flags & CLSDE_RK_NO_H) && !h) ||
                      ((flags & CLSDE_RK_ADD_Y) && !y) || ((flags & CLSDE_RK_OUT_F) && !out_f),
                  ctx, CLSDE_ERR_ARG, "rk_combine: NULL buffer for flags %d", flags);
    if (p->fp64) {
        fl &= ~CLSDE_RK_COMP;
    } else if ((flags & CLSDE_RK_ADD_Y) && !ylo) {
        /* no low part: the kernel reads it, so refuse rather than guess */
        return clsde_error_set(ctx, CLSDE_ERR_ARG, "rk_combine: float state needs its low part");
    }
    CLSDE_FAIL_IF(!p->fp64 && (flags & CLSDE_RK_COMP) && !out_lo, ctx, CLSDE_ERR_ARG,
                  "rk_combine: compensated sum needs out_lo");
    {
        const cl_mem any = out;
        const cl_mem hh = h ? h : any, yy = y ? y : any, yl = ylo ? ylo : any,
                     ol = out_lo ? out_lo : any, of = out_f ? out_f : any;
        CLSDE_TRY(clsde_kernel_get(ctx, FILE_, options(p->fp64, 0), "rk_combine", &k));
        CLSDE_ARG(ctx, k, 0, per);
        CLSDE_ARG(ctx, k, 1, r);
        CLSDE_ARG(ctx, k, 2, fl);
        CLSDE_ARG(ctx, k, 3, hh);
        CLSDE_ARG(ctx, k, 4, yy);
        CLSDE_ARG(ctx, k, 5, yl);
        CLSDE_ARG(ctx, k, 6, K);
        CLSDE_ARG(ctx, k, 7, kstride);
        CLSDE_ARG(ctx, k, 8, out);
        CLSDE_ARG(ctx, k, 9, ol);
        CLSDE_ARG(ctx, k, 10, of);
        return enqueue(ctx, k, "rk_combine", p);
    }
}

clsde_status clsde_rk_drift_enqueue(clsde_context *ctx, const clsde_rk_params *p, int in_f64,
                                    cl_mem ab, cl_mem x, cl_mem s, cl_mem K, int32_t stage)
{
    cl_kernel k;
    const cl_int per = p->per_image, koff = stage * p->n * p->per_image;
    CLSDE_TRY(check(ctx, "rk_drift", p, in_f64));
    CLSDE_FAIL_IF(stage < 0 || stage > 6, ctx, CLSDE_ERR_ARG, "rk_drift: stage %d", (int)stage);
    CLSDE_FAIL_IF(!ab || !x || !s || !K, ctx, CLSDE_ERR_ARG, "rk_drift: NULL buffer");
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, options(p->fp64, in_f64), "rk_drift", &k));
    CLSDE_ARG(ctx, k, 0, per);
    CLSDE_ARG(ctx, k, 1, ab);
    CLSDE_ARG(ctx, k, 2, x);
    CLSDE_ARG(ctx, k, 3, s);
    CLSDE_ARG(ctx, k, 4, K);
    CLSDE_ARG(ctx, k, 5, koff);
    return enqueue(ctx, k, "rk_drift", p);
}

clsde_status clsde_rk_accept_enqueue(clsde_context *ctx, const clsde_rk_params *p, cl_mem mask,
                                     cl_mem ynew, cl_mem ynew_lo, cl_mem y, cl_mem ylo,
                                     cl_mem K)
{
    cl_kernel k;
    const cl_int per = p->per_image, kstride = p->n * p->per_image;
    const cl_int comp = !p->fp64 && ynew_lo && ylo;
    const cl_mem nl = ynew_lo ? ynew_lo : ynew, yl = ylo ? ylo : y;
    CLSDE_TRY(check(ctx, "rk_accept", p, 0));
    CLSDE_FAIL_IF(!mask || !ynew || !y || !K, ctx, CLSDE_ERR_ARG, "rk_accept: NULL buffer");
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, options(p->fp64, 0), "rk_accept", &k));
    CLSDE_ARG(ctx, k, 0, per);
    CLSDE_ARG(ctx, k, 1, comp);
    CLSDE_ARG(ctx, k, 2, mask);
    CLSDE_ARG(ctx, k, 3, ynew);
    CLSDE_ARG(ctx, k, 4, nl);
    CLSDE_ARG(ctx, k, 5, y);
    CLSDE_ARG(ctx, k, 6, yl);
    CLSDE_ARG(ctx, k, 7, K);
    CLSDE_ARG(ctx, k, 8, kstride);
    return enqueue(ctx, k, "rk_accept", p);
}
