/*
 * exec.c — weights uploaded once, one activation arena, and the replay loop: each node's
 * _enqueue on sub-buffers, nothing allocated and nothing waited for while it runs.
 */
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "kernels/attention.h"
#include "kernels/conv2d.h"
#include "kernels/conv_down_fir.h"
#include "kernels/elementwise.h"
#include "kernels/embed.h"
#include "kernels/group_norm.h"
#include "kernels/resample.h"

/* Host copy of weight w in its device layout, written to dst (count floats). */
static void weight_layout(const clsde_weight *w, float *dst)
{
    if (w->layout == CLSDE_WEIGHT_TRANSPOSE) {
        for (int32_t r = 0; r < w->rows; r++)
            for (int32_t c = 0; c < w->cols; c++)
                dst[(size_t)c * w->rows + r] = w->data[(size_t)r * w->cols + c];
    } else {
        memcpy(dst, w->data, (size_t)w->count * sizeof(float));
    }
}

/* Split the weights into buffers no larger than the device's largest allocation, upload
 * each in one write, and cut one sub-buffer per weight. */
static clsde_status upload_weights(clsde_exec *e)
{
    clsde_context *ctx = e->ctx;
    const clsde_graph *g = e->g;
    const size_t max_alloc = (size_t)ctx->info.max_alloc_bytes;
    clsde_status st = CLSDE_OK;
    float *stage = NULL;
    int32_t first = 0;

    e->wmem = calloc((size_t)(g->n_weights ? g->n_weights : 1), sizeof *e->wmem);
    e->wbuf = calloc((size_t)(g->n_weights ? g->n_weights : 1), sizeof *e->wbuf);
    CLSDE_FAIL_IF(!e->wmem || !e->wbuf, ctx, CLSDE_ERR_NOMEM, "exec: out of memory");

    while (first < g->n_weights) {
        const size_t base = g->weights[first].offset;
        int32_t last = first; /* exclusive end of this buffer's weights */
        size_t bytes = 0;
        while (last < g->n_weights) {
            const clsde_weight *w = &g->weights[last];
            const size_t end = w->offset + (size_t)w->count * sizeof(float) - base;
            if (end > max_alloc && last > first) break;
            CLSDE_GOTO_IF(end > max_alloc, ctx, CLSDE_ERR_DEVICE_LIMIT,
                          "weight '%s' (%zu bytes) exceeds the device's largest allocation "
                          "(%zu bytes)", w->name, (size_t)w->count * sizeof(float), max_alloc);
            bytes = end;
            last++;
        }
        stage = calloc(bytes / sizeof(float) + 1, sizeof(float));
        CLSDE_GOTO_IF(!stage, ctx, CLSDE_ERR_NOMEM, "exec: out of memory staging %zu bytes of "
                      "weights", bytes);
        for (int32_t i = first; i < last; i++)
            weight_layout(&g->weights[i], stage + (g->weights[i].offset - base) / sizeof(float));
        CLSDE_TRY_GOTO(clsde_buffer_create(ctx, bytes, &e->wbuf[e->n_wbuf]));
        e->n_wbuf++;
        CLSDE_TRY_GOTO(clsde_buffer_write(ctx, e->wbuf[e->n_wbuf - 1], 0, bytes, stage));
        for (int32_t i = first; i < last; i++)
            CLSDE_TRY_GOTO(clsde_buffer_sub(ctx, e->wbuf[e->n_wbuf - 1], g->weights[i].offset - base,
                                            (size_t)g->weights[i].count * sizeof(float),
                                            &e->wmem[i]));
        free(stage);
        stage = NULL;
        first = last;
    }
fail:
    free(stage);
    return st;
}

clsde_status clsde_exec_create(clsde_context *ctx, const clsde_graph *g, clsde_exec **out)
{
    clsde_status st = CLSDE_OK;
    clsde_exec *e;
    *out = NULL;
    CLSDE_FAIL_IF(g->arena_bytes == 0 || g->align == 0, ctx, CLSDE_ERR_INTERNAL,
                  "exec: the graph is not planned");
    CLSDE_FAIL_IF(g->arena_bytes > (size_t)ctx->info.max_alloc_bytes, ctx,
                  CLSDE_ERR_DEVICE_LIMIT, "the network needs %zu bytes of activations in one "
                  "buffer, the device allows at most %lld per allocation (use a smaller batch)",
                  g->arena_bytes, (long long)ctx->info.max_alloc_bytes);
    e = calloc(1, sizeof *e);
    CLSDE_FAIL_IF(!e, ctx, CLSDE_ERR_NOMEM, "exec: out of memory");
    e->ctx = ctx;
    e->g = g;
    e->mem = calloc((size_t)g->n_nodes, sizeof *e->mem);
    e->own = calloc((size_t)g->n_nodes, sizeof *e->own);
    CLSDE_GOTO_IF(!e->mem || !e->own, ctx, CLSDE_ERR_NOMEM, "exec: out of memory");

    CLSDE_TRY_GOTO(upload_weights(e));
    /* Oclgrind 21.10's uninitialised-value checker loses track of host- and kernel-written
     * bytes when a kernel's arguments are several sub-buffers of one parent (it then reports
     * every read of an input as uninitialised); there each node gets a buffer of its own.
     * The plan is still made (and printed); only its offsets go unused. */
    e->separate = strstr(ctx->info.name, "Oclgrind") != NULL;
    if (e->separate)
        clsde_log(ctx, CLSDE_LOG_INFO, "exec: on %s each node gets its own buffer instead of "
                  "the planned %zu-byte arena", ctx->info.name, g->arena_bytes);
    else
        CLSDE_TRY_GOTO(clsde_buffer_create(ctx, g->arena_bytes, &e->arena));
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const clsde_node *nd = &g->nodes[i];
        if (nd->inplace) {
            /* The same cl_mem as the input, not a second sub-buffer over the same bytes:
             * OpenCL leaves overlapping sub-buffers in one kernel undefined, while one
             * buffer passed twice is what the in-place kernels are written for. */
            const int32_t src = nd->in[clsde_op_get_info(nd->op)->inplace_slot];
            e->mem[i] = e->mem[src];
            continue;
        }
        if (e->separate)
            CLSDE_TRY_GOTO(clsde_buffer_create(ctx, clsde_node_bytes(nd), &e->own[i]));
        else
            CLSDE_TRY_GOTO(clsde_buffer_sub(ctx, e->arena, nd->offset, clsde_node_bytes(nd),
                                            &e->own[i]));
        e->mem[i] = e->own[i];
    }
    *out = e;
    return CLSDE_OK;
fail:
    clsde_exec_destroy(e);
    return st;
}

void clsde_exec_destroy(clsde_exec *e)
{
    if (!e) return;
    /* Sub-buffers go in the reverse order of their creation: NVIDIA's driver (580.159, H200)
     * crashed in clReleaseMemObject when the arena's overlapping sub-buffers were released
     * first to last, and runs clean last to first. */
    if (e->own)
        for (int32_t i = e->g->n_nodes - 1; i >= 0; i--) clsde_buffer_release(e->own[i]);
    if (e->wmem)
        for (int32_t i = e->g->n_weights - 1; i >= 0; i--) clsde_buffer_release(e->wmem[i]);
    for (int32_t i = 0; i < e->n_wbuf; i++) clsde_buffer_release(e->wbuf[i]);
    clsde_buffer_release(e->arena);
    free(e->own);
    free(e->mem);
    free(e->wmem);
    free(e->wbuf);
    free(e);
}

cl_mem clsde_exec_mem(const clsde_exec *e, int32_t node)
{
    return node >= 0 && node < e->g->n_nodes ? e->mem[node] : NULL;
}

clsde_status clsde_exec_bind(clsde_exec *e, int32_t node, cl_mem mem)
{
    CLSDE_FAIL_IF(node < 0 || node >= e->g->n_nodes, e->ctx, CLSDE_ERR_ARG,
                  "exec: no node %d", (int)node);
    CLSDE_FAIL_IF(!e->g->nodes[node].pinned, e->ctx, CLSDE_ERR_INTERNAL,
                  "exec: node '%s' is not an input or output and cannot be bound",
                  e->g->nodes[node].name);
    if (mem) {
        size_t size = 0;
        CLSDE_CL(e->ctx, clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof size, &size, NULL),
                 "clGetMemObjectInfo");
        CLSDE_FAIL_IF(size < clsde_node_bytes(&e->g->nodes[node]), e->ctx, CLSDE_ERR_ARG,
                      "exec: buffer of %zu bytes bound to '%s', which needs %zu", size,
                      e->g->nodes[node].name, clsde_node_bytes(&e->g->nodes[node]));
    }
    if (mem) {
        e->mem[node] = mem;
    } else {
        const clsde_node *nd = &e->g->nodes[node];
        /* the source of an in-place output is never pinned, hence never bound */
        e->mem[node] = nd->inplace ? e->mem[nd->in[clsde_op_get_info(nd->op)->inplace_slot]]
                                   : e->own[node];
    }
    return CLSDE_OK;
}

/* One node: its wrapper with the node's parameters and buffers. */
static clsde_status enqueue_node(clsde_exec *e, const clsde_node *nd, int32_t id)
{
    clsde_context *ctx = e->ctx;
    const clsde_op_params *p = &nd->p;
    cl_mem y = e->mem[id];
    cl_mem in[CLSDE_GRAPH_MAX_IN], w[CLSDE_GRAPH_MAX_W];
    const size_t count = clsde_node_bytes(nd) / sizeof(float);
    for (int s = 0; s < CLSDE_GRAPH_MAX_IN; s++) in[s] = nd->in[s] >= 0 ? e->mem[nd->in[s]] : NULL;
    for (int s = 0; s < CLSDE_GRAPH_MAX_W; s++) w[s] = nd->w[s] >= 0 ? e->wmem[nd->w[s]] : NULL;

    switch (nd->op) {
    case CLSDE_OP_INPUT: return CLSDE_OK;
    case CLSDE_OP_CONV2D: return clsde_conv2d_enqueue(ctx, &p->conv2d, in[0], w[0], w[1], in[1],
                                                     in[2], y);
    case CLSDE_OP_CONV_DOWN_FIR:
        return clsde_conv_down_fir_enqueue(ctx, &p->conv_down_fir, in[0], w[0], w[1], in[1], y);
    case CLSDE_OP_DENSE: return clsde_dense_enqueue(ctx, p->dense.n, p->dense.in, p->dense.out,
                                                   in[0], w[0], w[1], y);
    case CLSDE_OP_GROUP_NORM: return clsde_group_norm_enqueue(ctx, &p->group_norm, in[0], w[0],
                                                             w[1], y);
    case CLSDE_OP_SILU: return clsde_silu_enqueue(ctx, count, in[0], y);
    case CLSDE_OP_AFFINE: return clsde_affine_enqueue(ctx, count, p->affine.a, p->affine.b,
                                                     in[0], y);
    case CLSDE_OP_SCALE_PER_IMAGE:
        return clsde_scale_per_image_enqueue(ctx, (size_t)nd->shape[0], count / nd->shape[0],
                                             p->scale.divide, in[1], in[0], y);
    case CLSDE_OP_UPFIRDN2D: return clsde_upfirdn2d_enqueue(ctx, &p->upfirdn2d, in[0], y);
    case CLSDE_OP_UPSAMPLE_NEAREST:
        return clsde_upsample_nearest_enqueue(ctx, p->resample.n, p->resample.c, p->resample.h,
                                              p->resample.w, in[0], y);
    case CLSDE_OP_DOWNSAMPLE_AVG:
        return clsde_downsample_avg_enqueue(ctx, p->resample.n, p->resample.c, p->resample.h,
                                            p->resample.w, in[0], y);
    case CLSDE_OP_AVG_POOL2:
        return clsde_avg_pool2_enqueue(ctx, p->resample.n, p->resample.c, p->resample.h,
                                       p->resample.w, in[0], y);
    case CLSDE_OP_CONCAT: return clsde_concat_enqueue(ctx, p->concat.n, p->concat.c1,
                                                     p->concat.c2, p->concat.hw, in[0], in[1], y);
    case CLSDE_OP_ATTENTION: return clsde_attention_enqueue(ctx, p->attention.n, p->attention.c,
                                                           p->attention.hw, in[0], in[1], in[2],
                                                           y);
    case CLSDE_OP_FOURIER_EMBED: return clsde_fourier_embed_enqueue(ctx, p->fourier.n,
                                                                   p->fourier.nf, in[0], w[0],
                                                                   y);
    case CLSDE_OP_SINUSOIDAL_EMBED:
        return clsde_sinusoidal_embed_enqueue(ctx, p->sinusoidal.n, p->sinusoidal.dim, in[0], y);
    case CLSDE_OP_GROUP_NORM_JVP:
        return clsde_group_norm_jvp_enqueue(ctx, &p->group_norm, in[0], in[1], w[0], w[1], y);
    case CLSDE_OP_SILU_JVP: return clsde_silu_jvp_enqueue(ctx, count, in[0], in[1], y);
    case CLSDE_OP_ATTENTION_JVP:
        return clsde_attention_jvp_enqueue(ctx, p->attention.n, p->attention.c, p->attention.hw,
                                           in[0], in[1], in[2], in[3], in[4], in[5], y);
    case CLSDE_OP_COUNT: break;
    }
    return clsde_error_set(ctx, CLSDE_ERR_INTERNAL, "exec: node '%s' has op %d", nd->name,
                           (int)nd->op);
}

clsde_status clsde_exec_enqueue_range(clsde_exec *e, int32_t first, int32_t count)
{
    const clsde_graph *g = e->g;
    CLSDE_FAIL_IF(first < 0 || count < 0 || first + count > g->n_nodes, e->ctx,
                  CLSDE_ERR_ARG, "exec: nodes [%d, %d) of %d", (int)first,
                  (int)(first + count), (int)g->n_nodes);
    for (int32_t i = first; i < first + count; i++) {
        const clsde_status st = enqueue_node(e, &g->nodes[i], i);
        if (st != CLSDE_OK)
            return clsde_error_prefix(e->ctx, st, "node %d '%s'", (int)i, g->nodes[i].name);
    }
    return CLSDE_OK;
}

clsde_status clsde_exec_enqueue(clsde_exec *e)
{
    return clsde_exec_enqueue_range(e, 0, e->g->n_nodes);
}

clsde_status clsde_exec_profile(clsde_exec *e, int32_t rounds, double *ms)
{
    const clsde_graph *g = e->g;
    CLSDE_FAIL_IF(rounds < 1 || !ms, e->ctx, CLSDE_ERR_ARG, "exec profile: %d rounds",
                  (int)rounds);
    CLSDE_TRY(clsde_finish(e->ctx));
    for (int32_t i = 0; i < g->n_nodes; i++) ms[i] = 1e30;
    for (int32_t r = 0; r < rounds; r++)
        for (int32_t i = 0; i < g->n_nodes; i++) {
            const double t0 = clsde_now();
            CLSDE_TRY(clsde_exec_enqueue_range(e, i, 1));
            CLSDE_TRY(clsde_finish(e->ctx));
            const double dt = 1e3 * (clsde_now() - t0);
            if (dt < ms[i]) ms[i] = dt;
        }
    return CLSDE_OK;
}
