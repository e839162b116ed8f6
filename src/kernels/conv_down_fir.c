/*
 * conv_down_fir.c — host wrapper for cl/conv_down_fir.cl: check the shape and every buffer,
 * choose the tiling (device-property defaults, shrunk to the shape), set the arguments,
 * enqueue.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "../program.h"
#include "conv_down_fir.h"

static const char OP[] = "conv_down_fir"; /* names the op in operand errors */

#define FILE_ "conv_down_fir.cl"
#define FLAG_BIAS 1
#define FLAG_RESIDUAL 4

static clsde_status check_params(clsde_context *ctx, const clsde_conv_down_fir_params *p)
{
    CLSDE_FAIL_IF(!p, ctx, CLSDE_ERR_ARG, "conv_down_fir: params is NULL");
    CLSDE_FAIL_IF(p->n < 1 || p->c_in < 1 || p->c_out < 1 || p->h < 1 || p->w < 1, ctx,
                  CLSDE_ERR_ARG, "conv_down_fir: bad shape n %d, c_in %d, %dx%d, c_out %d",
                  p->n, p->c_in, p->h, p->w, p->c_out);
    CLSDE_FAIL_IF(p->h < 2 || p->w < 2, ctx, CLSDE_ERR_ARG,
                  "conv_down_fir: input %dx%d: the filtered %dx%d map is smaller than the "
                  "3x3 kernel", p->h, p->w, p->h + 1, p->w + 1);
    CLSDE_FAIL_IF(p->has_residual && !(isfinite(p->res_div) && p->res_div != 0.0f), ctx,
                  CLSDE_ERR_ARG, "conv_down_fir: res_div %g must be finite and nonzero",
                  (double)p->res_div);
    {
        const int64_t oh = clsde_conv_down_fir_out_h(p), ow = clsde_conv_down_fir_out_w(p);
        const int64_t nx = (int64_t)p->n * p->c_in * p->h * p->w;
        const int64_t nw = (int64_t)p->c_out * p->c_in * 9;
        const int64_t ny = (int64_t)p->n * p->c_out * oh * ow;
        CLSDE_FAIL_IF(nx > INT_MAX || nw > INT_MAX || ny > INT_MAX, ctx, CLSDE_ERR_ARG,
                      "conv_down_fir: a tensor exceeds 2^31 elements (x %lld, w %lld, y %lld)",
                      (long long)nx, (long long)nw, (long long)ny);
    }
    return CLSDE_OK;
}

static int in_range(int32_t v)
{
    return v >= 1 && v <= 64;
}

static int tile_valid(const clsde_conv_down_fir_tune *t)
{
    return (t->vn == 1 || t->vn == 2 || t->vn == 4 || t->vn == 8 || t->vn == 16) &&
           (t->fv == 4 || t->fv == 8 || t->fv == 16) && in_range(t->tm) && in_range(t->tn) &&
           t->tn % t->vn == 0 && in_range(t->sm) && in_range(t->sn) && in_range(t->cc) &&
           in_range(t->cw) && in_range(t->wg_m) && in_range(t->wg_n);
}

/* Local memory of a tiling in bytes: As, Bs, Fs and Xs of the .cl file. */
static int64_t local_bytes(const clsde_conv_down_fir_tune *t)
{
    const int64_t bm = (int64_t)t->wg_m * t->sm * t->tm;
    const int64_t bn = (int64_t)t->wg_n * t->sn * t->tn;
    const int64_t fs_ch = 9 * bn + 12 * (int64_t)t->cw;
    const int64_t xs = 12 * bn + 16 * (int64_t)t->cw + 32 + t->fv;
    return (9 * t->cc * (bm + bn) + t->cc * fs_ch + xs) * (int64_t)sizeof(float);
}

static const char *tile_unfit(const clsde_context *ctx, const clsde_conv_down_fir_tune *t)
{
    if (t->wg_m * t->wg_n > ctx->info.max_work_group_size) return "work-group size";
    if (local_bytes(t) > ctx->info.local_mem_bytes) return "local memory";
    return NULL;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static int pow2_floor(int v)
{
    int p = 1;
    while (p * 2 <= v) p *= 2;
    return p;
}

/* work-groups of a CPU tiling (wg 1 x 1) on npix strip pixels */
static int64_t fir_groups(const clsde_conv_down_fir_params *p,
                          const clsde_conv_down_fir_tune *t, int64_t npix, int64_t ow)
{
    return ceil_div(npix, (int64_t)t->sn * t->tn) * ceil_div(p->c_out, (int64_t)t->sm * t->tm) *
           ceil_div(ow, t->cw);
}

void clsde_conv_down_fir_tune_default(const clsde_context *ctx,
                                      const clsde_conv_down_fir_params *p,
                                      clsde_conv_down_fir_tune *t)
{
    const int64_t oh = clsde_conv_down_fir_out_h(p), ow = clsde_conv_down_fir_out_w(p);
    const int64_t cus = ctx->info.compute_units > 0 ? ctx->info.compute_units : 1;
    const int pvw = ctx->info.preferred_vector_width_float;
    const int maxwg = ctx->info.max_work_group_size > 0 ? ctx->info.max_work_group_size : 1;
    /* 8 channels (K blocks of 72) and 16-wide F rows: 1.1-1.2x over 4 and 8 on PoCL */
    t->cc = 8, t->cw = 16, t->fv = 16;
    if (ctx->info.type != CLSDE_DEVICE_CPU) {
        t->vn = pvw >= 4 ? 4 : pvw >= 2 ? 2 : 1;
        t->tm = 4, t->tn = 4, t->sm = 1, t->sn = 1, t->fv = 4;
        t->wg_m = 8, t->wg_n = 16;
        while (t->wg_m * t->wg_n > maxwg) {
            if (t->wg_n > t->wg_m) t->wg_n /= 2;
            else t->wg_m /= 2;
        }
    } else {
        /* conv2d's CPU defaults (kernels/conv2d.c) on the strip's pixels, except the
         * channel block: every group builds the F patch of its pixels for all c_in input
         * channels, so each extra block of output channels over the same pixels repeats
         * that work, where an extra block of pixels does not. Hence blocks of up to 256
         * channels (SM 32, not conv2d's 16), split only to give each compute unit a group.
         * On the 8x8 level at batch 1 (16 output pixels, 256 channels) that is 2 groups of
         * 128 channels instead of 4 of 64 (BENCHMARKS.md, "Fused FIR conv-downsample"). */
        const int64_t npix = (int64_t)p->n * oh * (ow < t->cw ? ow : t->cw);
        t->vn = pvw >= 16 ? 16 : pvw >= 4 ? pow2_floor(pvw) : 4;
        t->tm = p->c_out < 8 ? p->c_out : 8;
        t->wg_m = 1, t->wg_n = 1;
        t->tn = npix > t->vn ? 2 * t->vn : t->vn;
        t->sm = 32, t->sn = 128 / t->tn;
        while (t->sm > 1 && (int64_t)(t->sm / 2) * t->tm >= p->c_out) t->sm /= 2;
        while (t->sn > 1 && (int64_t)(t->sn / 2) * t->tn >= npix) t->sn /= 2;
        /* two groups per compute unit (balance on a shared machine) by splitting pixels
         * while a group keeps 64 of them (each group stages its BM x TK weights from
         * global memory per block, a cost per pixel that grows as the group narrows) ... */
        while (fir_groups(p, t, npix, ow) < 2 * cus && t->sn > 1 && (t->sn / 2) * t->tn >= 64)
            t->sn /= 2;
        /* ... and at least one per unit, pixels first, channels last */
        while (fir_groups(p, t, npix, ow) < cus) {
            if (t->sn > 1) t->sn /= 2;
            else if (t->sm > 1) t->sm /= 2;
            else break;
        }
    }
    while (local_bytes(t) > ctx->info.local_mem_bytes) {
        if (t->cc > 1) t->cc /= 2;
        else if (t->sn > 1) t->sn /= 2;
        else if (t->sm > 1) t->sm /= 2;
        else if (t->cw > 1) t->cw /= 2;
        else break;
    }
}

clsde_status clsde_conv_down_fir_enqueue_tuned(clsde_context *ctx,
                                               const clsde_conv_down_fir_params *p,
                                               const clsde_conv_down_fir_tune *t, cl_mem x,
                                               cl_mem wt, cl_mem bias, cl_mem res, cl_mem y)
{
    cl_kernel k;
    char opts[200];
    int32_t oh, ow, flags = 0;
    const char *unfit;
    float res_div;

    CLSDE_TRY(check_params(ctx, p));
    CLSDE_FAIL_IF(!t, ctx, CLSDE_ERR_ARG, "conv_down_fir: tiling is NULL");
    CLSDE_FAIL_IF(!tile_valid(t), ctx, CLSDE_ERR_ARG,
                  "conv_down_fir: bad tiling tm %d tn %d vn %d sm %d sn %d cc %d cw %d fv %d "
                  "wg %dx%d", t->tm, t->tn, t->vn, t->sm, t->sn, t->cc, t->cw, t->fv, t->wg_m,
                  t->wg_n);
    unfit = tile_unfit(ctx, t);
    CLSDE_FAIL_IF(unfit, ctx, CLSDE_ERR_DEVICE_LIMIT,
                  "conv_down_fir: tiling tm %d tn %d vn %d sm %d sn %d cc %d cw %d wg %dx%d "
                  "exceeds the device's %s (%d work-items, %lld bytes)", t->tm, t->tn, t->vn,
                  t->sm, t->sn, t->cc, t->cw, t->wg_m, t->wg_n, unfit,
                  (int)ctx->info.max_work_group_size, (long long)ctx->info.local_mem_bytes);
    oh = clsde_conv_down_fir_out_h(p);
    ow = clsde_conv_down_fir_out_w(p);
    CLSDE_FAIL_IF(y == x || y == wt, ctx, CLSDE_ERR_ARG, "conv_down_fir: y aliases x or w");
    CLSDE_TRY(clsde_buffer_check(ctx, OP, "x", x, (int64_t)p->n * p->c_in * p->h * p->w));
    CLSDE_TRY(clsde_buffer_check(ctx, OP, "w", wt, (int64_t)p->c_out * p->c_in * 9));
    CLSDE_TRY(clsde_buffer_check(ctx, OP, "y", y, (int64_t)p->n * p->c_out * oh * ow));
    if (p->has_bias) {
        CLSDE_TRY(clsde_buffer_check(ctx, OP, "bias", bias, p->c_out));
        flags |= FLAG_BIAS;
    }
    if (p->has_residual) {
        CLSDE_TRY(clsde_buffer_check(ctx, OP, "res", res, (int64_t)p->n * p->c_out * oh * ow));
        flags |= FLAG_RESIDUAL;
    }
    res_div = p->has_residual ? p->res_div : 1.0f;

    snprintf(opts, sizeof opts, "-DTM=%d -DTN=%d -DVN=%d -DSM=%d -DSN=%d -DCC=%d -DCW=%d "
             "-DFV=%d -DWG_M=%d -DWG_N=%d", t->tm, t->tn, t->vn, t->sm, t->sn, t->cc, t->cw,
             t->fv, t->wg_m, t->wg_n);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, opts, "conv_down_fir", &k));
    {
        const cl_mem none = NULL;
        const cl_mem bias_a = p->has_bias ? bias : none;
        const cl_mem res_a = p->has_residual ? res : none;
        const int64_t bm = (int64_t)t->wg_m * t->sm * t->tm;
        const int64_t bn = (int64_t)t->wg_n * t->sn * t->tn;
        const int64_t strip_pix = (int64_t)p->n * oh * (ow < t->cw ? ow : t->cw);
        const size_t gws[3] = {(size_t)ceil_div(strip_pix, bn) * t->wg_n,
                               (size_t)ceil_div(p->c_out, bm) * t->wg_m,
                               (size_t)ceil_div(ow, t->cw)};
        const size_t lws[3] = {(size_t)t->wg_n, (size_t)t->wg_m, 1};
        CLSDE_ARG(ctx, k, 0, p->n);
        CLSDE_ARG(ctx, k, 1, p->c_in);
        CLSDE_ARG(ctx, k, 2, p->h);
        CLSDE_ARG(ctx, k, 3, p->w);
        CLSDE_ARG(ctx, k, 4, p->c_out);
        CLSDE_ARG(ctx, k, 5, oh);
        CLSDE_ARG(ctx, k, 6, ow);
        CLSDE_ARG(ctx, k, 7, flags);
        CLSDE_ARG(ctx, k, 8, res_div);
        CLSDE_ARG(ctx, k, 9, x);
        CLSDE_ARG(ctx, k, 10, wt);
        CLSDE_ARG(ctx, k, 11, bias_a);
        CLSDE_ARG(ctx, k, 12, res_a);
        CLSDE_ARG(ctx, k, 13, y);
        return clsde_enqueue(ctx, k, "conv_down_fir", 3, gws, lws);
    }
}

clsde_status clsde_conv_down_fir_enqueue(clsde_context *ctx,
                                         const clsde_conv_down_fir_params *p, cl_mem x,
                                         cl_mem wt, cl_mem bias, cl_mem res, cl_mem y)
{
    clsde_conv_down_fir_tune t;
    CLSDE_TRY(check_params(ctx, p));
    clsde_conv_down_fir_tune_default(ctx, p, &t);
    return clsde_conv_down_fir_enqueue_tuned(ctx, p, &t, x, wt, bias, res, y);
}
