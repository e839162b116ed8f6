/*
 * conv2d.c — host wrappers for cl/conv2d.cl: check the shape and every buffer, choose the
 * path and tiling (the tune table's row for the shape class, else the device-property
 * defaults), the variant (POINTWISE for plain 1x1 convolutions, one program per kernel
 * side), set the arguments, enqueue. With CLBlast, the im2col + CLBlastSgemm path.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CLSDE_HAVE_CLBLAST
#include <clblast_c.h>
#endif

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

static int tile_valid(const clsde_conv2d_tune *t)
{
    return in_range(t->tm) && in_range(t->tn) && in_range(t->sm) && in_range(t->sn) &&
           t->tk >= 1 && t->tk <= 512 && in_range(t->wg_m) && in_range(t->wg_n) &&
           (t->vn == 1 || t->vn == 2 || t->vn == 4 || t->vn == 8 || t->vn == 16) &&
           t->tn % t->vn == 0;
}

/* Why a tiling cannot run on this device, or NULL. */
static const char *tile_unfit(const clsde_context *ctx, const clsde_conv2d_tune *t)
{
    const int64_t bm = (int64_t)t->wg_m * t->sm * t->tm, bn = (int64_t)t->wg_n * t->sn * t->tn;
    if (t->wg_m * t->wg_n > ctx->info.max_work_group_size) return "work-group size";
    if ((int64_t)t->tk * (bm + bn) * (int64_t)sizeof(float) > ctx->info.local_mem_bytes)
        return "local memory";
    return NULL;
}

/* Shape, flags and buffers as clsde_conv2d_enqueue_tuned checks them. */
static clsde_status check_operands(clsde_context *ctx, const clsde_conv2d_params *p, cl_mem x,
                                   cl_mem w, cl_mem bias, cl_mem chan_bias, cl_mem res,
                                   cl_mem y, int32_t *flags)
{
    const int64_t oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p);
    *flags = 0;
    CLSDE_FAIL_IF(y == x || y == w, ctx, CLSDE_ERR_ARG, "conv2d: y aliases x or w");
    CLSDE_TRY(check_buf(ctx, "conv2d", "x", x, (int64_t)p->n * p->c_in * p->h * p->w));
    CLSDE_TRY(check_buf(ctx, "conv2d", "w", w, (int64_t)p->c_out * p->c_in * p->k * p->k));
    CLSDE_TRY(check_buf(ctx, "conv2d", "y", y, (int64_t)p->n * p->c_out * oh * ow));
    if (p->has_bias) {
        CLSDE_TRY(check_buf(ctx, "conv2d", "bias", bias, p->c_out));
        *flags |= FLAG_BIAS;
    }
    if (p->has_chan_bias) {
        CLSDE_TRY(check_buf(ctx, "conv2d", "chan_bias", chan_bias, (int64_t)p->n * p->c_out));
        *flags |= FLAG_CHAN_BIAS;
    }
    if (p->has_residual) {
        CLSDE_TRY(check_buf(ctx, "conv2d", "res", res, (int64_t)p->n * p->c_out * oh * ow));
        *flags |= FLAG_RESIDUAL;
    }
    return CLSDE_OK;
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

/* Work-groups of tiling t over npix output pixels. */
static int64_t tile_groups(const clsde_conv2d_params *p, const clsde_conv2d_tune *t,
                           int64_t npix)
{
    return ceil_div(npix, (int64_t)t->wg_n * t->sn * t->tn) *
           ceil_div(p->c_out, (int64_t)t->wg_m * t->sm * t->tm);
}

/* Defaults from the device's properties.
 * CPU: one work-item per group, looping over TM-channel x 2-vector register tiles
 * (TM 8 x 2 vectors = 16 vector accumulators, which AVX-512 and AVX2 both hold) of a
 * block of up to 128 channels x 128 pixels; the vector is the device's preferred float
 * width (4..16). The block shrinks, in powers of two so few programs are built, to fit
 * small layers and to leave at least two groups per compute unit. Measured on PoCL 3.1,
 * 2 Skylake-AVX512 cores: 3x3 128->128 at 32x32, batch 8 runs at about OpenBLAS sgemm
 * speed (BENCHMARKS.md).
 * Other devices: a conventional GPU tiling, 4 channels x 4 pixels per work-item (vector
 * width min(4, preferred)) and up to 8 x 16 work-items, within the work-group limit. A
 * layer too small to give every compute unit two such groups (batch 1) halves the
 * channels, then the pixels, per work-item until it does (or both are 1), and stages K
 * in blocks of 32: with few groups per compute unit nothing hides the latency of the
 * loads that stage each K block, so fewer, longer blocks with fewer loads each win. On an
 * H100 at batch 1 (132 compute units), `clsde tune`'s best tilings for the 3x3 convs of
 * the CIFAR-10 DDPM++, 3-8x faster than the plain one, had 1-2 channels x 1-4 pixels per
 * work-item and mostly K blocks of 32 (BENCHMARKS.md, "NVIDIA H100"; measured before the
 * staging loads of a block were made independent of each other, cl/gemm_tile.cl).
 * Either way TK shrinks until the tiles fit the local memory. */
void clsde_conv2d_tune_default(const clsde_context *ctx, const clsde_conv2d_params *p,
                               clsde_conv2d_tune *t)
{
    const int64_t npix = (int64_t)p->n * clsde_conv2d_out_h(p) * clsde_conv2d_out_w(p);
    const int64_t min_groups = 2 * (int64_t)(ctx->info.compute_units > 0 ? ctx->info.compute_units : 1);
    const int pvw = ctx->info.preferred_vector_width_float;
    const int maxwg = ctx->info.max_work_group_size > 0 ? ctx->info.max_work_group_size : 1;
    if (ctx->info.type != CLSDE_DEVICE_CPU) {
        t->vn = pvw >= 4 ? 4 : pvw >= 2 ? 2 : 1;
        t->tm = 4, t->tn = 4, t->sm = 1, t->sn = 1, t->tk = 16;
        t->wg_m = 8, t->wg_n = 16;
        while (t->wg_m * t->wg_n > maxwg) {
            if (t->wg_n > t->wg_m) t->wg_n /= 2;
            else t->wg_m /= 2;
        }
        if (tile_groups(p, t, npix) < min_groups) {
            t->tk = 32;
            while (tile_groups(p, t, npix) < min_groups && (t->tm > 1 || t->tn > 1)) {
                if (t->tm >= t->tn) t->tm /= 2;
                else t->tn /= 2;
            }
            while (t->vn > t->tn) t->vn /= 2;
        }
    } else {
        t->vn = pvw >= 16 ? 16 : pvw >= 4 ? pow2_floor(pvw) : 4;
        t->tm = p->c_out < 8 ? p->c_out : 8; /* the output conv has 3 channels */
        t->tk = 64, t->wg_m = 1, t->wg_n = 1;
        t->tn = npix > t->vn ? 2 * t->vn : t->vn;
        t->sm = 16, t->sn = 128 / t->tn;
        while (t->sm > 1 && (int64_t)(t->sm / 2) * t->tm >= p->c_out) t->sm /= 2;
        while (t->sn > 1 && (int64_t)(t->sn / 2) * t->tn >= npix) t->sn /= 2;
        while (tile_groups(p, t, npix) < min_groups) {
            if (t->sn > 1) t->sn /= 2;
            else if (t->sm > 1) t->sm /= 2;
            else break;
        }
    }
    {
        const int64_t bm = (int64_t)t->wg_m * t->sm * t->tm, bn = (int64_t)t->wg_n * t->sn * t->tn;
        while (t->tk > 1 && (int64_t)t->tk * (bm + bn) * (int64_t)sizeof(float) >
                                ctx->info.local_mem_bytes)
            t->tk /= 2;
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
    const char *unfit;
    const int64_t bm = t ? (int64_t)t->wg_m * t->sm * t->tm : 0;
    const int64_t bn = t ? (int64_t)t->wg_n * t->sn * t->tn : 0;
    const float res_div = p && p->has_residual ? p->res_div : 1.0f;

    CLSDE_TRY(check_params(ctx, p));
    CLSDE_FAIL_IF(!t, ctx, CLSDE_ERR_ARG, "conv2d: tiling is NULL");
    CLSDE_FAIL_IF(!tile_valid(t), ctx, CLSDE_ERR_ARG,
                  "conv2d: bad tiling tm %d tn %d vn %d sm %d sn %d tk %d wg %dx%d", t->tm,
                  t->tn, t->vn, t->sm, t->sn, t->tk, t->wg_m, t->wg_n);
    unfit = tile_unfit(ctx, t);
    CLSDE_FAIL_IF(unfit, ctx, CLSDE_ERR_DEVICE_LIMIT,
                  "conv2d: tiling tm %d tn %d vn %d sm %d sn %d tk %d wg %dx%d exceeds the "
                  "device's %s (%d work-items, %lld bytes)", t->tm, t->tn, t->vn, t->sm, t->sn,
                  t->tk, t->wg_m, t->wg_n, unfit, (int)ctx->info.max_work_group_size,
                  (long long)ctx->info.local_mem_bytes);
    oh = clsde_conv2d_out_h(p);
    ow = clsde_conv2d_out_w(p);
    CLSDE_TRY(check_operands(ctx, p, x, w, bias, chan_bias, res, y, &flags));

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

/* ------------------------------------------------------------ classes, choices */

static int32_t pow2_ceil64(int64_t v)
{
    int64_t p = 1;
    while (p < v && p < ((int64_t)1 << 30)) p *= 2;
    return (int32_t)p;
}

void clsde_conv2d_class(const clsde_conv2d_params *p, char *out, size_t n)
{
    const int64_t ohw = (int64_t)clsde_conv2d_out_h(p) * clsde_conv2d_out_w(p);
    snprintf(out, n, "k%d s%d ci%d co%d hw%d n%d", (int)p->k, (int)p->stride,
             (int)pow2_ceil64(p->c_in), (int)pow2_ceil64(p->c_out), (int)pow2_ceil64(ohw),
             (int)pow2_ceil64(ohw * p->n));
}

void clsde_conv2d_choice_format(const clsde_conv2d_choice *c, char *out, size_t n)
{
    const clsde_conv2d_tune *t = &c->tile;
    if (c->path == CLSDE_CONV2D_CLBLAST) {
        snprintf(out, n, "clblast");
        return;
    }
    snprintf(out, n, "implicit tm=%d tn=%d vn=%d sm=%d sn=%d tk=%d wg_m=%d wg_n=%d", t->tm,
             t->tn, t->vn, t->sm, t->sn, t->tk, t->wg_m, t->wg_n);
}

int clsde_conv2d_choice_parse(const char *s, clsde_conv2d_choice *c)
{
    static const char *const keys[8] = {"tm", "tn", "vn", "sm", "sn", "tk", "wg_m", "wg_n"};
    char buf[256], *tok, *save = NULL;
    int32_t vals[8];
    int seen = 0;
    if (!s || strlen(s) >= sizeof buf) return -1;
    memset(c, 0, sizeof *c);
    if (!strcmp(s, "clblast")) {
        c->path = CLSDE_CONV2D_CLBLAST;
        return 0;
    }
    strcpy(buf, s);
    tok = strtok_r(buf, " ", &save);
    if (!tok || strcmp(tok, "implicit") != 0) return -1;
    while ((tok = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(tok, '='), *end;
        long v;
        int k;
        if (!eq) return -1;
        *eq = '\0';
        for (k = 0; k < 8 && strcmp(tok, keys[k]) != 0; k++) {
        }
        if (k == 8 || (seen & (1 << k))) return -1;
        v = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || *end || v < 1 || v > 512) return -1;
        vals[k] = (int32_t)v;
        seen |= 1 << k;
    }
    if (seen != 0xff) return -1;
    c->path = CLSDE_CONV2D_IMPLICIT;
    c->tile = (clsde_conv2d_tune){vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6],
                                  vals[7]};
    return tile_valid(&c->tile) ? 0 : -1;
}

int clsde_conv2d_tune_fits(const clsde_context *ctx, const clsde_conv2d_tune *t)
{
    return tile_valid(t) && !tile_unfit(ctx, t);
}

void clsde_conv2d_choose(clsde_context *ctx, const clsde_conv2d_params *p,
                         clsde_conv2d_choice *c, clsde_tune_source *source)
{
    char cls[64], key[320];
    clsde_tune_source src = CLSDE_TUNE_DEFAULT;
    const char *row, *why = NULL;
    clsde_conv2d_class(p, cls, sizeof cls);
    row = clsde_tune_lookup(ctx, "conv2d", cls, &src);
    if (row) {
        if (clsde_conv2d_choice_parse(row, c) != 0) why = "does not parse";
        else if (c->path == CLSDE_CONV2D_CLBLAST && !clsde_tune_clblast_version(NULL))
            why = "names CLBlast, which this build lacks";
        else if (c->path == CLSDE_CONV2D_IMPLICIT && (why = tile_unfit(ctx, &c->tile)))
            why = !strcmp(why, "local memory") ? "exceeds the device's local memory"
                                               : "exceeds the device's work-group size";
        if (!why) {
            if (source) *source = src;
            return;
        }
        snprintf(key, sizeof key, "bad conv2d %s = %s", cls, row);
        clsde_tune_warn_once(ctx, CLSDE_LOG_WARNING, key,
                             "tune row conv2d '%s' = '%s' %s; using the defaults for it", cls,
                             row, why);
    }
    c->path = CLSDE_CONV2D_IMPLICIT;
    clsde_conv2d_tune_default(ctx, p, &c->tile);
    if (source) *source = CLSDE_TUNE_DEFAULT;
}

clsde_status clsde_conv2d_enqueue_choice(clsde_context *ctx, const clsde_conv2d_params *p,
                                         const clsde_conv2d_choice *c, cl_mem x, cl_mem w,
                                         cl_mem bias, cl_mem chan_bias, cl_mem res, cl_mem y)
{
    CLSDE_FAIL_IF(!c, ctx, CLSDE_ERR_ARG, "conv2d: choice is NULL");
    if (c->path == CLSDE_CONV2D_CLBLAST)
        return clsde_conv2d_enqueue_clblast(ctx, p, x, w, bias, chan_bias, res, y);
    return clsde_conv2d_enqueue_tuned(ctx, p, &c->tile, x, w, bias, chan_bias, res, y);
}

clsde_status clsde_conv2d_enqueue(clsde_context *ctx, const clsde_conv2d_params *p, cl_mem x,
                                  cl_mem w, cl_mem bias, cl_mem chan_bias, cl_mem res,
                                  cl_mem y)
{
    clsde_conv2d_choice c;
    CLSDE_TRY(check_params(ctx, p));
    clsde_conv2d_choose(ctx, p, &c, NULL);
    return clsde_conv2d_enqueue_choice(ctx, p, &c, x, w, bias, chan_bias, res, y);
}

/* ------------------------------------------------------------ the CLBlast path */

#ifdef CLSDE_HAVE_CLBLAST
static const char *clblast_name(CLBlastStatusCode s)
{
    switch ((int)s) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision: return "CLBlastNoHalfPrecision";
    case CLBlastNoDoublePrecision: return "CLBlastNoDoublePrecision";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return (int)s > -1000 ? clsde_cl_errname((cl_int)s) : "a CLBlast error";
    }
}
#endif

clsde_status clsde_conv2d_im2col_enqueue(clsde_context *ctx, const clsde_conv2d_params *p,
                                         cl_mem x, cl_mem cols)
{
    cl_kernel k;
    CLSDE_TRY(check_params(ctx, p));
    {
        const int32_t oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p);
        const int32_t kdim = p->c_in * p->k * p->k, npix = p->n * oh * ow;
        const size_t g[2] = {(size_t)npix, (size_t)kdim};
        CLSDE_FAIL_IF((int64_t)kdim * npix > INT_MAX, ctx, CLSDE_ERR_ARG,
                      "conv2d: im2col matrix %d x %d exceeds 2^31 elements", (int)kdim,
                      (int)npix);
        CLSDE_FAIL_IF(cols == x, ctx, CLSDE_ERR_ARG, "im2col: cols aliases x");
        CLSDE_TRY(check_buf(ctx, "im2col", "x", x, (int64_t)p->n * p->c_in * p->h * p->w));
        CLSDE_TRY(check_buf(ctx, "im2col", "cols", cols, (int64_t)kdim * npix));
        CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "im2col", &k));
        CLSDE_ARG(ctx, k, 0, p->n);
        CLSDE_ARG(ctx, k, 1, p->c_in);
        CLSDE_ARG(ctx, k, 2, p->h);
        CLSDE_ARG(ctx, k, 3, p->w);
        CLSDE_ARG(ctx, k, 4, p->k);
        CLSDE_ARG(ctx, k, 5, oh);
        CLSDE_ARG(ctx, k, 6, ow);
        CLSDE_ARG(ctx, k, 7, p->stride);
        CLSDE_ARG(ctx, k, 8, p->pad_t);
        CLSDE_ARG(ctx, k, 9, p->pad_l);
        CLSDE_ARG(ctx, k, 10, x);
        CLSDE_ARG(ctx, k, 11, cols);
        return clsde_enqueue(ctx, k, "im2col", 2, g, NULL);
    }
}

clsde_status clsde_conv2d_epilogue_enqueue(clsde_context *ctx, const clsde_conv2d_params *p,
                                           cl_mem acc, cl_mem bias, cl_mem chan_bias,
                                           cl_mem res, cl_mem y)
{
    cl_kernel k;
    int32_t flags = 0;
    const float res_div = p && p->has_residual ? p->res_div : 1.0f;
    CLSDE_TRY(check_params(ctx, p));
    {
        const int32_t oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p), ohw = oh * ow;
        const size_t g[3] = {(size_t)ohw, (size_t)p->c_out, (size_t)p->n};
        const cl_mem none = NULL;
        const cl_mem bias_a = p->has_bias ? bias : none;
        const cl_mem cb_a = p->has_chan_bias ? chan_bias : none;
        const cl_mem res_a = p->has_residual ? res : none;
        CLSDE_FAIL_IF(acc == y || acc == res, ctx, CLSDE_ERR_ARG,
                      "conv2d epilogue: acc aliases y or res");
        CLSDE_TRY(check_buf(ctx, "conv2d epilogue", "acc", acc, (int64_t)p->c_out * p->n * ohw));
        CLSDE_TRY(check_buf(ctx, "conv2d epilogue", "y", y, (int64_t)p->n * p->c_out * ohw));
        if (p->has_bias) {
            CLSDE_TRY(check_buf(ctx, "conv2d epilogue", "bias", bias, p->c_out));
            flags |= FLAG_BIAS;
        }
        if (p->has_chan_bias) {
            CLSDE_TRY(check_buf(ctx, "conv2d epilogue", "chan_bias", chan_bias,
                                (int64_t)p->n * p->c_out));
            flags |= FLAG_CHAN_BIAS;
        }
        if (p->has_residual) {
            CLSDE_TRY(check_buf(ctx, "conv2d epilogue", "res", res, (int64_t)p->n * p->c_out * ohw));
            flags |= FLAG_RESIDUAL;
        }
        CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "conv2d_epilogue", &k));
        CLSDE_ARG(ctx, k, 0, p->n);
        CLSDE_ARG(ctx, k, 1, p->c_out);
        CLSDE_ARG(ctx, k, 2, ohw);
        CLSDE_ARG(ctx, k, 3, flags);
        CLSDE_ARG(ctx, k, 4, res_div);
        CLSDE_ARG(ctx, k, 5, acc);
        CLSDE_ARG(ctx, k, 6, bias_a);
        CLSDE_ARG(ctx, k, 7, cb_a);
        CLSDE_ARG(ctx, k, 8, res_a);
        CLSDE_ARG(ctx, k, 9, y);
        return clsde_enqueue(ctx, k, "conv2d_epilogue", 3, g, NULL);
    }
}

clsde_status clsde_conv2d_enqueue_clblast(clsde_context *ctx, const clsde_conv2d_params *p,
                                          cl_mem x, cl_mem w, cl_mem bias, cl_mem chan_bias,
                                          cl_mem res, cl_mem y)
{
#ifdef CLSDE_HAVE_CLBLAST
    cl_mem cols, acc;
    int32_t flags;
    CLSDE_TRY(check_params(ctx, p));
    CLSDE_TRY(check_operands(ctx, p, x, w, bias, chan_bias, res, y, &flags));
    {
        const int32_t oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p);
        const int32_t kdim = p->c_in * p->k * p->k, npix = p->n * oh * ow;
        CLBlastStatusCode bs;
        CLSDE_FAIL_IF((int64_t)kdim * npix > INT_MAX || (int64_t)p->c_out * npix > INT_MAX, ctx,
                      CLSDE_ERR_ARG, "conv2d (CLBlast): im2col matrix %d x %d exceeds 2^31",
                      (int)kdim, (int)npix);
        CLSDE_TRY(clsde_scratch_get(ctx, 0, (size_t)kdim * npix * sizeof(float), &cols));
        CLSDE_TRY(clsde_scratch_get(ctx, 1, (size_t)p->c_out * npix * sizeof(float), &acc));
        CLSDE_TRY(clsde_conv2d_im2col_enqueue(ctx, p, x, cols));
        /* acc [c_out, N] = w [c_out, K] x cols [K, N], row-major */
        bs = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo,
                          (size_t)p->c_out, (size_t)npix, (size_t)kdim, 1.0f, w, 0,
                          (size_t)kdim, cols, 0, (size_t)npix, 0.0f, acc, 0, (size_t)npix,
                          &ctx->queue, NULL);
        CLSDE_FAIL_IF(bs != CLBlastSuccess, ctx, CLSDE_ERR_OPENCL,
                      "conv2d: CLBlastSgemm(%d x %d x %d): %s (%d)", (int)p->c_out, (int)npix,
                      (int)kdim, clblast_name(bs), (int)bs);
        return clsde_conv2d_epilogue_enqueue(ctx, p, acc, bias, chan_bias, res, y);
    }
#else
    (void)x, (void)w, (void)bias, (void)chan_bias, (void)res, (void)y;
    CLSDE_TRY(check_params(ctx, p));
    return clsde_error_set(ctx, CLSDE_ERR_UNSUPPORTED,
                           "conv2d: the CLBlast path needs a build with CLBlast "
                           "(meson setup -Dclblast=enabled, package libclblast-dev)");
#endif
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
