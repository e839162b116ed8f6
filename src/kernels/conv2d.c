/*
 * conv2d.c — host wrappers for cl/conv2d.cl: check the shape and every buffer, choose the
 * variant (POINTWISE for plain 1x1 convolutions, one program per kernel side), set the
 * arguments, enqueue. The tiling comes from clsde_conv2d_tune_default until tune.c exists.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "../program.h"
#include "conv2d.h"

#define FILE_ "conv2d.cl"

/* Flags of the conv2d kernel (CONV_* in conv2d.cl). */
#define FLAG_BIAS 1
#define FLAG_CHAN_BIAS 2
#define FLAG_RESIDUAL 4

/* A buffer given for an optional operand must hold `floats` floats. */
static clsde_status check_buf(clsde_context *ctx, const char *op, const char *name, cl_mem m,
                              int64_t floats)
{
    size_t bytes = 0;
    CLSDE_FAIL_IF(!m, ctx, CLSDE_ERR_ARG, "%s: buffer %s is NULL", op, name);
    CLSDE_CL(ctx, clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL),
             "clGetMemObjectInfo(CL_MEM_SIZE)");
    CLSDE_FAIL_IF((int64_t)bytes < floats * (int64_t)sizeof(float), ctx, CLSDE_ERR_ARG,
                  "%s: buffer %s holds %zu bytes, needs %lld floats (%lld bytes)", op, name,
                  bytes, (long long)floats, (long long)(floats * (int64_t)sizeof(float)));
    return CLSDE_OK;
}

static clsde_status check_params(clsde_context *ctx, const clsde_conv2d_params *p)
{
    CLSDE_FAIL_IF(!p, ctx, CLSDE_ERR_ARG, "conv2d: params is NULL");
    CLSDE_FAIL_IF(p->n < 1 || p->c_in < 1 || p->h < 1 || p->w < 1 || p->c_out < 1, ctx,
                  CLSDE_ERR_ARG, "conv2d: bad shape n %d, c_in %d, %dx%d, c_out %d", p->n,
                  p->c_in, p->h, p->w, p->c_out);
    CLSDE_FAIL_IF(p->k < 1 || p->k > 15, ctx, CLSDE_ERR_ARG,
                  "conv2d: kernel side %d outside 1..15", p->k);
    CLSDE_FAIL_IF(p->stride < 1 || p->stride > 16, ctx, CLSDE_ERR_ARG,
                  "conv2d: stride %d outside 1..16", p->stride);
    CLSDE_FAIL_IF(p->pad_t < 0 || p->pad_l < 0 || p->pad_b < 0 || p->pad_r < 0 ||
                      p->pad_t > 64 || p->pad_l > 64 || p->pad_b > 64 || p->pad_r > 64,
                  ctx, CLSDE_ERR_ARG, "conv2d: padding %d,%d,%d,%d outside 0..64", p->pad_t,
                  p->pad_l, p->pad_b, p->pad_r);
    CLSDE_FAIL_IF(p->h + p->pad_t + p->pad_b < p->k || p->w + p->pad_l + p->pad_r < p->k, ctx,
                  CLSDE_ERR_ARG, "conv2d: padded input %dx%d smaller than the %dx%d kernel",
                  p->h + p->pad_t + p->pad_b, p->w + p->pad_l + p->pad_r, p->k, p->k);
    CLSDE_FAIL_IF(p->has_residual && !(isfinite(p->res_div) && p->res_div != 0.0f), ctx,
                  CLSDE_ERR_ARG, "conv2d: res_div %g must be finite and nonzero",
                  (double)p->res_div);
    /* The kernel indexes with int: every tensor must have fewer than 2^31 elements. */
    {
        const int64_t oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p);
        const int64_t nx = (int64_t)p->n * p->c_in * p->h * p->w;
        const int64_t nw = (int64_t)p->c_out * p->c_in * p->k * p->k;
        const int64_t ny = (int64_t)p->n * p->c_out * oh * ow;
        CLSDE_FAIL_IF(nx > INT_MAX || nw > INT_MAX || ny > INT_MAX, ctx, CLSDE_ERR_ARG,
                      "conv2d: a tensor exceeds 2^31 elements (x %lld, w %lld, y %lld)",
                      (long long)nx, (long long)nw, (long long)ny);
    }
    return CLSDE_OK;
}

static int in_range(int32_t v)
{
    return v >= 1 && v <= 64;
}

/* Until tune.c exists. CPU (PoCL): one work-item per group, looping over 8-channel x
 * 32-pixel register tiles (16 zmm accumulators on AVX-512) of a block of up to 128 x 128;
 * the block shrinks, in powers of two so few programs are built, to fit small layers and to
 * leave at least two groups per compute unit. Measured on PoCL 3.1, 2 Skylake-AVX512 cores:
 * 3x3 128->128 at 32x32, batch 8 runs at about OpenBLAS sgemm speed (see the commit log).
 * Other devices: a conventional GPU tiling (4x4 per work-item, 8x16 work-items), correct
 * everywhere but untuned. */
void clsde_conv2d_tune_default(const clsde_context *ctx, const clsde_conv2d_params *p,
                               clsde_conv2d_tune *t)
{
    const int64_t npix = (int64_t)p->n * clsde_conv2d_out_h(p) * clsde_conv2d_out_w(p);
    const int64_t min_groups = 2 * (int64_t)(ctx->info.compute_units > 0 ? ctx->info.compute_units : 1);
    if (ctx->info.type != CLSDE_DEVICE_CPU) {
        t->tm = 4, t->tn = 4, t->vn = 4, t->sm = 1, t->sn = 1, t->tk = 16;
        t->wg_m = 8, t->wg_n = 16;
        return;
    }
    t->tm = p->c_out < 8 ? p->c_out : 8; /* the output conv has 3 channels */
    t->vn = 16, t->tk = 64, t->wg_m = 1, t->wg_n = 1;
    t->tn = npix > 16 ? 32 : 16;
    t->sm = 16, t->sn = 4;
    while (t->sm > 1 && (int64_t)(t->sm / 2) * t->tm >= p->c_out) t->sm /= 2;
    while (t->sn > 1 && (int64_t)(t->sn / 2) * t->tn >= npix) t->sn /= 2;
    for (;;) {
        const int64_t groups = ((npix + (int64_t)t->sn * t->tn - 1) / ((int64_t)t->sn * t->tn)) *
                               ((p->c_out + (int64_t)t->sm * t->tm - 1) / ((int64_t)t->sm * t->tm));
        if (groups >= min_groups) break;
        if (t->sn > 1) t->sn /= 2;
        else if (t->sm > 1) t->sm /= 2;
        else break;
    }
}

clsde_status clsde_conv2d_enqueue_tuned(clsde_context *ctx, const clsde_conv2d_params *p,
                                        const clsde_conv2d_tune *t, cl_mem x, cl_mem w,
                                        cl_mem bias, cl_mem chan_bias, cl_mem res, cl_mem y)
{
    cl_kernel k;
    char opts[160];
    int32_t oh, ow, flags = 0;
    int pointwise;
    const int64_t bm = t ? (int64_t)t->wg_m * t->sm * t->tm : 0;
    const int64_t bn = t ? (int64_t)t->wg_n * t->sn * t->tn : 0;
    const float res_div = p && p->has_residual ? p->res_div : 1.0f;

    CLSDE_TRY(check_params(ctx, p));
    CLSDE_FAIL_IF(!t, ctx, CLSDE_ERR_ARG, "conv2d: tiling is NULL");
    CLSDE_FAIL_IF(!in_range(t->tm) || !in_range(t->tn) || !in_range(t->sm) ||
                      !in_range(t->sn) || !in_range(t->tk) || !in_range(t->wg_m) ||
                      !in_range(t->wg_n) ||
                      (t->vn != 1 && t->vn != 2 && t->vn != 4 && t->vn != 8 && t->vn != 16) ||
                      t->tn % t->vn != 0,
                  ctx, CLSDE_ERR_ARG,
                  "conv2d: bad tiling tm %d tn %d vn %d sm %d sn %d tk %d wg %dx%d", t->tm,
                  t->tn, t->vn, t->sm, t->sn, t->tk, t->wg_m, t->wg_n);
    CLSDE_FAIL_IF(t->wg_m * t->wg_n > ctx->info.max_work_group_size, ctx,
                  CLSDE_ERR_DEVICE_LIMIT, "conv2d: work-group %dx%d exceeds the device limit %d",
                  t->wg_n, t->wg_m, ctx->info.max_work_group_size);
    CLSDE_FAIL_IF((int64_t)t->tk * (bm + bn) * (int64_t)sizeof(float) >
                      ctx->info.local_mem_bytes,
                  ctx, CLSDE_ERR_DEVICE_LIMIT, "conv2d: tiling needs more local memory than %lld",
                  (long long)ctx->info.local_mem_bytes);
    oh = clsde_conv2d_out_h(p);
    ow = clsde_conv2d_out_w(p);
    CLSDE_FAIL_IF(y == x || y == w, ctx, CLSDE_ERR_ARG, "conv2d: y aliases x or w");
    CLSDE_TRY(check_buf(ctx, "conv2d", "x", x, (int64_t)p->n * p->c_in * p->h * p->w));
    CLSDE_TRY(check_buf(ctx, "conv2d", "w", w, (int64_t)p->c_out * p->c_in * p->k * p->k));
    CLSDE_TRY(check_buf(ctx, "conv2d", "y", y, (int64_t)p->n * p->c_out * oh * ow));
    if (p->has_bias) {
        CLSDE_TRY(check_buf(ctx, "conv2d", "bias", bias, p->c_out));
        flags |= FLAG_BIAS;
    }
    if (p->has_chan_bias) {
        CLSDE_TRY(check_buf(ctx, "conv2d", "chan_bias", chan_bias, (int64_t)p->n * p->c_out));
        flags |= FLAG_CHAN_BIAS;
    }
    if (p->has_residual) {
        CLSDE_TRY(check_buf(ctx, "conv2d", "res", res, (int64_t)p->n * p->c_out * oh * ow));
        flags |= FLAG_RESIDUAL;
    }

    pointwise = p->k == 1 && p->stride == 1 && !p->pad_t && !p->pad_l && !p->pad_b && !p->pad_r;
    snprintf(opts, sizeof opts, "-DKSIZE=%d -DPOINTWISE=%d -DTM=%d -DTN=%d -DVN=%d -DSM=%d "
             "-DSN=%d -DTK=%d -DWG_M=%d -DWG_N=%d", p->k, pointwise, t->tm, t->tn, t->vn, t->sm,
             t->sn, t->tk, t->wg_m, t->wg_n);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, opts, "conv2d", &k));
    {
        const cl_mem none = NULL;
        const cl_mem bias_a = p->has_bias ? bias : none;
        const cl_mem cb_a = p->has_chan_bias ? chan_bias : none;
        const cl_mem res_a = p->has_residual ? res : none;
        const size_t npix = (size_t)p->n * oh * ow;
        const size_t gws[2] = {(npix + (size_t)bn - 1) / (size_t)bn * t->wg_n,
                               ((size_t)p->c_out + (size_t)bm - 1) / (size_t)bm * t->wg_m};
        const size_t lws[2] = {(size_t)t->wg_n, (size_t)t->wg_m};
        CLSDE_ARG(ctx, k, 0, p->n);
        CLSDE_ARG(ctx, k, 1, p->c_in);
        CLSDE_ARG(ctx, k, 2, p->h);
        CLSDE_ARG(ctx, k, 3, p->w);
        CLSDE_ARG(ctx, k, 4, p->c_out);
        CLSDE_ARG(ctx, k, 5, oh);
        CLSDE_ARG(ctx, k, 6, ow);
        CLSDE_ARG(ctx, k, 7, p->stride);
        CLSDE_ARG(ctx, k, 8, p->pad_t);
        CLSDE_ARG(ctx, k, 9, p->pad_l);
        CLSDE_ARG(ctx, k, 10, flags);
        CLSDE_ARG(ctx, k, 11, res_div);
        CLSDE_ARG(ctx, k, 12, x);
        CLSDE_ARG(ctx, k, 13, w);
        CLSDE_ARG(ctx, k, 14, bias_a);
        CLSDE_ARG(ctx, k, 15, cb_a);
        CLSDE_ARG(ctx, k, 16, res_a);
        CLSDE_ARG(ctx, k, 17, y);
        return clsde_enqueue(ctx, k, "conv2d", 2, gws, lws);
    }
}

clsde_status clsde_conv2d_enqueue(clsde_context *ctx, const clsde_conv2d_params *p, cl_mem x,
                                  cl_mem w, cl_mem bias, cl_mem chan_bias, cl_mem res,
                                  cl_mem y)
{
    clsde_conv2d_tune t;
    CLSDE_TRY(check_params(ctx, p));
    clsde_conv2d_tune_default(ctx, p, &t);
    return clsde_conv2d_enqueue_tuned(ctx, p, &t, x, w, bias, chan_bias, res, y);
}

clsde_status clsde_dense_enqueue(clsde_context *ctx, int32_t n, int32_t in, int32_t out,
                                 cl_mem x, cl_mem w, cl_mem bias, cl_mem y)
{
    cl_kernel k;
    const cl_mem bias_a = bias;
    const size_t gws[2] = {(size_t)(out > 0 ? out : 1), (size_t)(n > 0 ? n : 1)};
    const size_t lws[2] = {16, 1};
    CLSDE_FAIL_IF(n < 1 || in < 1 || out < 1, ctx, CLSDE_ERR_ARG,
                  "dense: bad shape n %d, in %d, out %d", n, in, out);
    CLSDE_FAIL_IF((int64_t)n * in > INT_MAX || (int64_t)out * in > INT_MAX ||
                      (int64_t)n * out > INT_MAX,
                  ctx, CLSDE_ERR_ARG, "dense: a tensor exceeds 2^31 elements");
    CLSDE_FAIL_IF(y == x, ctx, CLSDE_ERR_ARG, "dense: y aliases x");
    CLSDE_TRY(check_buf(ctx, "dense", "x", x, (int64_t)n * in));
    CLSDE_TRY(check_buf(ctx, "dense", "w", w, (int64_t)out * in));
    CLSDE_TRY(check_buf(ctx, "dense", "y", y, (int64_t)n * out));
    if (bias) CLSDE_TRY(check_buf(ctx, "dense", "bias", bias, out));
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "dense", &k));
    CLSDE_ARG(ctx, k, 0, n);
    CLSDE_ARG(ctx, k, 1, in);
    CLSDE_ARG(ctx, k, 2, out);
    CLSDE_ARG(ctx, k, 3, x);
    CLSDE_ARG(ctx, k, 4, w);
    CLSDE_ARG(ctx, k, 5, bias_a);
    CLSDE_ARG(ctx, k, 6, y);
    return clsde_enqueue(ctx, k, "dense", 2, gws, lws);
}
