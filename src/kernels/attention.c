/*
 * attention.c — host wrapper for cl/attention.cl: check shapes, pick tile sizes that fit
 * the device, enqueue one fused kernel (scores, online softmax, weighted sum of v).
 */
#include <math.h>
#include <stdio.h>

#include "../program.h"
#include "attention.h"

#define FILE_ "attention.cl"
/* The defaults of attention.cl; a device that cannot hold them gets smaller tiles
 * through -D options (a separate program, cached under its own key). */
#define TQ_DEFAULT 16
#define TK_DEFAULT 256
#define VK_DEFAULT 16
#define WG_DEFAULT 64

static size_t local_bytes(int tq, int tk)
{
    return (size_t)4 * tq * tk + (size_t)8 * tq;
}

clsde_status clsde_attention_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t hw,
                                     cl_mem q, cl_mem k, cl_mem v, cl_mem o)
{
    cl_kernel kern;
    char options[96] = "";
    int tq = TQ_DEFAULT, tk = TK_DEFAULT, wg = WG_DEFAULT;
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

    while (wg > ctx->info.max_work_group_size && wg > 1) wg /= 2;
    if (tq > wg) tq = wg;
    while (local_bytes(tq, tk) > (size_t)ctx->info.local_mem_bytes && tk > VK_DEFAULT) tk /= 2;
    CLSDE_FAIL_IF(local_bytes(tq, tk) > (size_t)ctx->info.local_mem_bytes, ctx, CLSDE_ERR_DEVICE_LIMIT,
                  "attention: device '%s' has %lld bytes of local memory, the smallest tile "
                  "needs %zu", ctx->info.name, (long long)ctx->info.local_mem_bytes,
                  local_bytes(tq, tk));
    if (tq != TQ_DEFAULT || tk != TK_DEFAULT || wg != WG_DEFAULT)
        snprintf(options, sizeof options, "-DTQ=%d -DTK=%d -DWG=%d", tq, tk, wg);

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
