/*
 * attention.c — host wrapper for cl/attention.cl: check shapes, pick tile sizes that fit
 * the device, enqueue one fused kernel (scores, online softmax, weighted sum of v); and the
 * forward-mode derivative attention_jvp (whole rows of a few queries in local memory).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../program.h"
#include "attention.h"

#define FILE_ "attention.cl"
/* The defaults of attention.cl; a device that cannot hold them gets smaller tiles
 * through -D options (a separate program, cached under its own key). */
#define TQ_DEFAULT 16
#define TK_DEFAULT 256
#define VK_DEFAULT 16
#define WG_DEFAULT 64
#define TQJ_DEFAULT 8

/* local memory of attention_jvp: rows w and dw of hwr floats for tqj queries */
static size_t jvp_local_bytes(int tqj, int hwr)
{
    return (size_t)8 * tqj * hwr;
}

static size_t local_bytes(int tq, int tk)
{
    return (size_t)4 * tq * tk + (size_t)8 * tq;
}

/* The tiles that fit the device and their build options (empty for the defaults). Both
 * kernels of attention.cl share them, so a device that cannot hold the forward's default
 * tiles never builds it with them. */
static clsde_status pick_tiles(clsde_context *ctx, int *tq_out, int *wg_out, char *options,
                               size_t size)
{
    int tq = TQ_DEFAULT, tk = TK_DEFAULT, wg = WG_DEFAULT;
    while (wg > ctx->info.max_work_group_size && wg > 1) wg /= 2;
    if (tq > wg) tq = wg;
    while (local_bytes(tq, tk) > (size_t)ctx->info.local_mem_bytes && tk > VK_DEFAULT) tk /= 2;
    CLSDE_FAIL_IF(local_bytes(tq, tk) > (size_t)ctx->info.local_mem_bytes, ctx,
                  CLSDE_ERR_DEVICE_LIMIT,
                  "attention: device '%s' has %lld bytes of local memory, the smallest tile "
                  "needs %zu", ctx->info.name, (long long)ctx->info.local_mem_bytes,
                  local_bytes(tq, tk));
    options[0] = '\0';
    if (tq != TQ_DEFAULT || tk != TK_DEFAULT || wg != WG_DEFAULT)
        snprintf(options, size, "-DTQ=%d -DTK=%d -DWG=%d", tq, tk, wg);
    *tq_out = tq, *wg_out = wg;
    return CLSDE_OK;
}

clsde_status clsde_attention_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t hw,
                                     cl_mem q, cl_mem k, cl_mem v, cl_mem o)
{
    cl_kernel kern;
    char options[96];
    int tq, wg;
    /* Python's C ** -0.5 in double, then the float32 multiply PyTorch applies it with */
    const float scale = (float)pow((double)c, -0.5);
    const int c32 = c, hw32 = hw;
    size_t gws[2], lws[2];

    CLSDE_FAIL_IF(n < 1 || c < 1 || hw < 1, ctx, CLSDE_ERR_ARG,
                  "attention: bad shape n %d, c %d, hw %d", (int)n, (int)c, (int)hw);
    CLSDE_FAIL_IF((double)n * c * hw * sizeof(float) > (double)SIZE_MAX / 2, ctx, CLSDE_ERR_ARG,
                  "attention: shape %dx%dx%d is too large", (int)n, (int)c, (int)hw);
    CLSDE_FAIL_IF(q == o || k == o || v == o, ctx, CLSDE_ERR_ARG,
                  "attention: the output must not alias q, k or v");
    CLSDE_TRY(pick_tiles(ctx, &tq, &wg, options, sizeof options));

    gws[0] = (size_t)((hw + tq - 1) / tq) * (size_t)wg;
    gws[1] = (size_t)n;
    lws[0] = (size_t)wg;
    lws[1] = 1;
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, options, "attention", &kern));
    CLSDE_ARG(ctx, kern, 0, c32);
    CLSDE_ARG(ctx, kern, 1, hw32);
    CLSDE_ARG(ctx, kern, 2, scale);
    CLSDE_ARG(ctx, kern, 3, q);
    CLSDE_ARG(ctx, kern, 4, k);
    CLSDE_ARG(ctx, kern, 5, v);
    CLSDE_ARG(ctx, kern, 6, o);
    return clsde_enqueue(ctx, kern, "attention", 2, gws, lws);
}

clsde_status clsde_attention_jvp_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t hw,
                                         cl_mem q, cl_mem k, cl_mem v, cl_mem tq, cl_mem tk,
                                         cl_mem tv, cl_mem to)
{
    static const char *const names[] = {"q", "k", "v", "tq", "tk", "tv", "to"};
    const cl_mem bufs[] = {q, k, v, tq, tk, tv, to};
    const float scale = (float)pow((double)c, -0.5); /* as the forward's */
    const int c32 = c, hw32 = hw;
    cl_kernel kern;
    char options[128];
    const size_t local = (size_t)ctx->info.local_mem_bytes;
    const int hwr = (hw + VK_DEFAULT - 1) / VK_DEFAULT * VK_DEFAULT;
    int tile_q, wg, tqj = TQJ_DEFAULT;
    size_t len, gws[2], lws[2];

    CLSDE_FAIL_IF(n < 1 || c < 1 || hw < 1, ctx, CLSDE_ERR_ARG,
                  "attention_jvp: bad shape n %d, c %d, hw %d", (int)n, (int)c, (int)hw);
    CLSDE_FAIL_IF((int64_t)n * c * hw > INT32_MAX, ctx, CLSDE_ERR_ARG,
                  "attention_jvp: shape %dx%dx%d is too large", (int)n, (int)c, (int)hw);
    CLSDE_TRY(pick_tiles(ctx, &tile_q, &wg, options, sizeof options));
    /* whole rows in local memory (kernel arguments, hwr = hw rounded up to VK floats
     * apart): as many queries per work-group (TQJ <= 8) as fit in 16 KiB, one query as
     * long as the device holds its rows */
    CLSDE_FAIL_IF(hw > (1 << 24), ctx, CLSDE_ERR_DEVICE_LIMIT,
                  "attention_jvp: hw %d is past any device's local memory", (int)hw);
    if (tqj > wg) tqj = wg;
    while (tqj > 1 && jvp_local_bytes(tqj, hwr) > (local < 16384 ? local : 16384)) tqj /= 2;
    CLSDE_FAIL_IF(jvp_local_bytes(tqj, hwr) > local, ctx, CLSDE_ERR_DEVICE_LIMIT,
                  "attention_jvp: hw %d needs %zu bytes of local memory, device '%s' has %zu",
                  (int)hw, jvp_local_bytes(tqj, hwr), ctx->info.name, local);
    for (int i = 0; i < 7; i++)
        CLSDE_TRY(clsde_buffer_check(ctx, "attention_jvp", names[i], bufs[i],
                                     (int64_t)n * c * hw));
    for (int i = 0; i < 6; i++)
        CLSDE_FAIL_IF(bufs[i] == to, ctx, CLSDE_ERR_ARG,
                      "attention_jvp: the output to must not alias %s", names[i]);
    len = strlen(options);
    if (tqj != TQJ_DEFAULT)
        snprintf(options + len, sizeof options - len, "%s-DTQJ=%d", len ? " " : "", tqj);

    gws[0] = (size_t)((hw + tqj - 1) / tqj) * (size_t)wg;
    gws[1] = (size_t)n;
    lws[0] = (size_t)wg;
    lws[1] = 1;
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, options, "attention_jvp", &kern));
    CLSDE_ARG(ctx, kern, 0, c32);
    CLSDE_ARG(ctx, kern, 1, hw32);
    CLSDE_ARG(ctx, kern, 2, scale);
    for (cl_uint i = 0; i < 7; i++) CLSDE_ARG(ctx, kern, 3 + i, bufs[i]);
    CLSDE_ARG(ctx, kern, 10, hwr);
    CLSDE_CL(ctx, clSetKernelArg(kern, 11, jvp_local_bytes(tqj, hwr) / 2, NULL), "clSetKernelArg");
    CLSDE_CL(ctx, clSetKernelArg(kern, 12, jvp_local_bytes(tqj, hwr) / 2, NULL), "clSetKernelArg");
    return clsde_enqueue(ctx, kern, "attention_jvp", 2, gws, lws);
}
