/*
 * resample.c — host wrappers for cl/resample.cl: upfirdn2d (FIR up/down-sampling and the
 * conv-down pre-filter), nearest x2, the two 2x2 means, channel concat. Each checks its
 * shape against the contract in ref/resample_ref.h, sets arguments and enqueues.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "../program.h"
#include "resample.h"

#define FILE_ "resample.cl"

/* Work-group shape for the 2-D image kernels: 16 columns x 4 rows of one plane. */
static const size_t lws_img[3] = {16, 4, 1};

/* x [n, c, h, w] -> y [n, c, oh, ow], separate buffers of the right sizes. */
static clsde_status check_io(clsde_context *ctx, const char *what, int32_t n, int32_t c,
                             int32_t h, int32_t w, int32_t oh, int32_t ow, cl_mem x, cl_mem y)
{
    CLSDE_FAIL_IF(x == y && x, ctx, CLSDE_ERR_ARG, "%s: y must not alias x", what);
    CLSDE_TRY(clsde_buffer_check(ctx, what, "x", x, (int64_t)n * c * h * w));
    return clsde_buffer_check(ctx, what, "y", y, (int64_t)n * c * oh * ow);
}

static clsde_status check_planes(clsde_context *ctx, const char *what, int32_t n, int32_t c,
                                 int32_t h, int32_t w)
{
    CLSDE_FAIL_IF(n < 1 || c < 1 || h < 1 || w < 1, ctx, CLSDE_ERR_ARG,
                  "%s: bad shape %dx%dx%dx%d", what, (int)n, (int)c, (int)h, (int)w);
    /* ids and in-plane offsets are int in the kernels; planes are addressed with size_t */
    CLSDE_FAIL_IF((int64_t)n * c > INT_MAX || (int64_t)h * w * 4 > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "%s: shape %dx%dx%dx%d is too large", what, (int)n, (int)c, (int)h, (int)w);
    return CLSDE_OK;
}

/* Vector width of the row-wise kernels on CPUs. Down 2: the one that fits the output
 * rows best (PoCL, 8x256 planes: 4 for 4x4 and 8x8 inputs, 16 for 32x32; 1.8-3.7x the
 * per-output kernel); down 1 (the pre-filter): 8 (1.5-3.8x, most on 4x4 planes). */
static int32_t rows_width(const clsde_upfirdn2d_params *p)
{
    const int32_t ow = clsde_upfirdn2d_out_w(p);
    if (p->down == 1) return 8;
    return ow >= 16 ? 16 : ow >= 8 ? 8 : 4;
}

clsde_status clsde_upfirdn2d_enqueue(clsde_context *ctx, const clsde_upfirdn2d_params *p,
                                     cl_mem x, cl_mem y)
{
    int32_t fvw = 0;
    if (p && p->up == 1 && (p->down == 1 || p->down == 2) &&
        ctx->info.type == CLSDE_DEVICE_CPU)
        fvw = rows_width(p);
    return clsde_upfirdn2d_enqueue_tuned(ctx, p, fvw, x, y);
}

clsde_status clsde_upfirdn2d_enqueue_tuned(clsde_context *ctx, const clsde_upfirdn2d_params *p,
                                           int32_t fvw, cl_mem x, cl_mem y)
{
    cl_kernel k;
    int32_t oh, ow;
    size_t gws[3];
    CLSDE_FAIL_IF(!p, ctx, CLSDE_ERR_ARG, "upfirdn2d: params is NULL");
    CLSDE_TRY(check_planes(ctx, "upfirdn2d", p->n, p->c, p->h, p->w));
    CLSDE_FAIL_IF(p->up < 1 || p->up > 2 || p->down < 1 || p->down > 2, ctx, CLSDE_ERR_ARG,
                  "upfirdn2d: up %d, down %d (each must be 1 or 2)", (int)p->up, (int)p->down);
    CLSDE_FAIL_IF(p->pad0 < 0 || p->pad1 < 0 || p->pad0 > 64 || p->pad1 > 64, ctx,
                  CLSDE_ERR_ARG, "upfirdn2d: pads (%d, %d) outside [0, 64]", (int)p->pad0,
                  (int)p->pad1);
    CLSDE_FAIL_IF(!isfinite(p->gain), ctx, CLSDE_ERR_ARG, "upfirdn2d: gain %g",
                  (double)p->gain);
    oh = clsde_upfirdn2d_out_h(p);
    ow = clsde_upfirdn2d_out_w(p);
    CLSDE_FAIL_IF(oh < 1 || ow < 1, ctx, CLSDE_ERR_ARG,
                  "upfirdn2d: %dx%d input, up %d, pads (%d, %d) is smaller than the 4x4 kernel",
                  (int)p->h, (int)p->w, (int)p->up, (int)p->pad0, (int)p->pad1);
    CLSDE_TRY(check_io(ctx, "upfirdn2d", p->n, p->c, p->h, p->w, oh, ow, x, y));
    CLSDE_FAIL_IF(fvw != 0 && fvw != 4 && fvw != 8 && fvw != 16, ctx, CLSDE_ERR_ARG,
                  "upfirdn2d: row vector width %d (0, 4, 8 or 16)", (int)fvw);
    CLSDE_FAIL_IF(fvw && p->up != 1, ctx, CLSDE_ERR_ARG,
                  "upfirdn2d: the row-wise kernels do up 1 only (up %d)", (int)p->up);

    gws[2] = (size_t)p->n * (size_t)p->c;
    if (p->up == 2 && p->down == 1 && p->pad0 == 2 && p->pad1 == 1) { /* upsample_2d */
        gws[0] = (size_t)p->w, gws[1] = (size_t)p->h;
        CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "upfirdn2d_up2_fast", &k));
        CLSDE_ARG(ctx, k, 0, p->h);
        CLSDE_ARG(ctx, k, 1, p->w);
        CLSDE_ARG(ctx, k, 2, p->gain);
        CLSDE_ARG(ctx, k, 3, x);
        CLSDE_ARG(ctx, k, 4, y);
        return clsde_enqueue(ctx, k, "upfirdn2d_up2_fast", 3, gws, lws_img);
    }
    gws[0] = (size_t)ow, gws[1] = (size_t)oh;
    if (fvw) { /* row-wise vectors, up 1 (resample.cl) */
        const char *name = p->down == 2 ? "upfirdn2d_up1_down2_rows" : "upfirdn2d_up1_down1_rows";
        const int32_t planes = p->n * p->c;
        const size_t lws2[2] = {1, 16};
        const size_t gws2[2] = {((size_t)ow + (size_t)fvw - 1) / (size_t)fvw,
                                (size_t)planes * (size_t)oh};
        char options[16];
        snprintf(options, sizeof options, "-DFVW=%d", (int)fvw);
        CLSDE_FAIL_IF((int64_t)planes * oh > INT_MAX, ctx, CLSDE_ERR_ARG,
                      "upfirdn2d: %d planes x %d rows is too many", (int)planes, (int)oh);
        CLSDE_TRY(clsde_kernel_get(ctx, FILE_, fvw == 8 ? "" : options, name, &k));
        CLSDE_ARG(ctx, k, 0, p->h);
        CLSDE_ARG(ctx, k, 1, p->w);
        CLSDE_ARG(ctx, k, 2, oh);
        CLSDE_ARG(ctx, k, 3, ow);
        CLSDE_ARG(ctx, k, 4, planes);
        CLSDE_ARG(ctx, k, 5, p->pad0);
        CLSDE_ARG(ctx, k, 6, p->gain);
        CLSDE_ARG(ctx, k, 7, x);
        CLSDE_ARG(ctx, k, 8, y);
        return clsde_enqueue(ctx, k, name, 2, gws2, lws2);
    }
    if (p->up == 1) {
        const char *name = p->down == 2 ? "upfirdn2d_up1_down2" : "upfirdn2d_up1_down1";
        CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", name, &k));
        CLSDE_ARG(ctx, k, 0, p->h);
        CLSDE_ARG(ctx, k, 1, p->w);
        CLSDE_ARG(ctx, k, 2, oh);
        CLSDE_ARG(ctx, k, 3, ow);
        CLSDE_ARG(ctx, k, 4, p->pad0);
        CLSDE_ARG(ctx, k, 5, p->gain);
        CLSDE_ARG(ctx, k, 6, x);
        CLSDE_ARG(ctx, k, 7, y);
        return clsde_enqueue(ctx, k, name, 3, gws, lws_img);
    }
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "upfirdn2d_up2", &k));
    CLSDE_ARG(ctx, k, 0, p->h);
    CLSDE_ARG(ctx, k, 1, p->w);
    CLSDE_ARG(ctx, k, 2, oh);
    CLSDE_ARG(ctx, k, 3, ow);
    CLSDE_ARG(ctx, k, 4, p->down);
    CLSDE_ARG(ctx, k, 5, p->pad0);
    CLSDE_ARG(ctx, k, 6, p->gain);
    CLSDE_ARG(ctx, k, 7, x);
    CLSDE_ARG(ctx, k, 8, y);
    return clsde_enqueue(ctx, k, "upfirdn2d", 3, gws, lws_img);
}

clsde_status clsde_upsample_nearest_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t h,
                                            int32_t w, cl_mem x, cl_mem y)
{
    cl_kernel k;
    size_t gws[3];
    CLSDE_TRY(check_planes(ctx, "upsample_nearest", n, c, h, w));
    CLSDE_TRY(check_io(ctx, "upsample_nearest", n, c, h, w, 2 * h, 2 * w, x, y));
    gws[0] = (size_t)w, gws[1] = (size_t)h, gws[2] = (size_t)n * (size_t)c;
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "upsample_nearest", &k));
    CLSDE_ARG(ctx, k, 0, h);
    CLSDE_ARG(ctx, k, 1, w);
    CLSDE_ARG(ctx, k, 2, x);
    CLSDE_ARG(ctx, k, 3, y);
    return clsde_enqueue(ctx, k, "upsample_nearest", 3, gws, lws_img);
}

static clsde_status mean2x2(clsde_context *ctx, const char *what, int32_t seq, int32_t n,
                            int32_t c, int32_t h, int32_t w, cl_mem x, cl_mem y)
{
    cl_kernel k;
    const int32_t oh = h / 2, ow = w / 2;
    size_t gws[3];
    gws[0] = (size_t)ow, gws[1] = (size_t)oh, gws[2] = (size_t)n * (size_t)c;
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "downsample_avg", &k));
    CLSDE_ARG(ctx, k, 0, h);
    CLSDE_ARG(ctx, k, 1, w);
    CLSDE_ARG(ctx, k, 2, oh);
    CLSDE_ARG(ctx, k, 3, ow);
    CLSDE_ARG(ctx, k, 4, seq);
    CLSDE_ARG(ctx, k, 5, x);
    CLSDE_ARG(ctx, k, 6, y);
    return clsde_enqueue(ctx, k, what, 3, gws, lws_img);
}

clsde_status clsde_downsample_avg_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t h,
                                          int32_t w, cl_mem x, cl_mem y)
{
    CLSDE_TRY(check_planes(ctx, "downsample_avg", n, c, h, w));
    /* naive_downsample_2d reshapes to [.., h/2, 2, w/2, 2]: odd sides are an error there */
    CLSDE_FAIL_IF(h % 2 || w % 2, ctx, CLSDE_ERR_ARG,
                  "downsample_avg: %dx%d is not divisible by 2", (int)h, (int)w);
    CLSDE_TRY(check_io(ctx, "downsample_avg", n, c, h, w, h / 2, w / 2, x, y));
    /* torch.mean sums a contiguous 2x2 (w == 2) in order, otherwise pairwise */
    return mean2x2(ctx, "downsample_avg", w == 2, n, c, h, w, x, y);
}

clsde_status clsde_avg_pool2_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t h,
                                     int32_t w, cl_mem x, cl_mem y)
{
    CLSDE_TRY(check_planes(ctx, "avg_pool2", n, c, h, w));
    CLSDE_FAIL_IF(h < 2 || w < 2, ctx, CLSDE_ERR_ARG,
                  "avg_pool2: %dx%d is smaller than the 2x2 window", (int)h, (int)w);
    CLSDE_TRY(check_io(ctx, "avg_pool2", n, c, h, w, h / 2, w / 2, x, y));
    return mean2x2(ctx, "avg_pool2", 1, n, c, h, w, x, y);
}

clsde_status clsde_concat_enqueue(clsde_context *ctx, int32_t n, int32_t c1, int32_t c2,
                                  int32_t hw, cl_mem a, cl_mem b, cl_mem y)
{
    cl_kernel k;
    int32_t n1, n2;
    size_t gws[2];
    const size_t lws[2] = {64, 1};
    CLSDE_FAIL_IF(n < 1 || c1 < 1 || c2 < 1 || hw < 1, ctx, CLSDE_ERR_ARG,
                  "concat: bad shape n=%d c1=%d c2=%d hw=%d", (int)n, (int)c1, (int)c2,
                  (int)hw);
    CLSDE_FAIL_IF((int64_t)(c1 + (int64_t)c2) * hw > INT_MAX - 64, ctx, CLSDE_ERR_ARG,
                  "concat: (%d + %d) x %d values per sample is too large", (int)c1, (int)c2,
                  (int)hw);
    n1 = c1 * hw, n2 = c2 * hw;
    CLSDE_FAIL_IF(y && (y == a || y == b), ctx, CLSDE_ERR_ARG, "concat: y must not alias a or b");
    CLSDE_TRY(clsde_buffer_check(ctx, "concat", "a", a, (int64_t)n * n1));
    CLSDE_TRY(clsde_buffer_check(ctx, "concat", "b", b, (int64_t)n * n2));
    CLSDE_TRY(clsde_buffer_check(ctx, "concat", "y", y, (int64_t)n * (n1 + n2)));
    gws[0] = (size_t)(n1 + n2), gws[1] = (size_t)n;
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "concat", &k));
    CLSDE_ARG(ctx, k, 0, n1);
    CLSDE_ARG(ctx, k, 1, n2);
    CLSDE_ARG(ctx, k, 2, a);
    CLSDE_ARG(ctx, k, 3, b);
    CLSDE_ARG(ctx, k, 4, y);
    return clsde_enqueue(ctx, k, "concat", 2, gws, lws);
}
