/*
 * graph.h — a score network as a static graph: a list of nodes you can print.
 *
 * A node is plain data: op, parameters, input node ids, weight ids, output shape
 * [n, c, h, w], a name that follows the checkpoint ("all_modules.12.Conv_0") and, once
 * planned, its offset in the activation arena. Building functions (clsde_graph_conv2d, ...)
 * infer the output shape and record the op; they compute nothing (ggml style). Nodes are
 * appended in execution order, so the node list is its own topological order.
 *
 * Errors while building are sticky: the first failure (a shape that does not fit, an
 * input id of -1, no memory) is recorded on the graph and on its context, every later
 * builder call returns -1, and clsde_graph_status() reports it once at the end. Network
 * builders (src/nets/) can then read like the spec, without a check on every line.
 *
 * Weights are host arrays owned by the model; the graph records references to them and
 * where each goes in the weight buffer; exec.c uploads them once. Nothing here uses OpenCL.
 */
#ifndef CLSDE_GRAPH_H
#define CLSDE_GRAPH_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "ref/conv2d_ref.h"
#include "ref/conv_down_fir_ref.h"
#include "ref/group_norm_ref.h"
#include "ref/resample_ref.h"

#define CLSDE_GRAPH_MAX_IN 6   /* input slots per node (attention_jvp has six) */
#define CLSDE_GRAPH_MAX_W 2    /* weight slots per node */
#define CLSDE_GRAPH_NAME 64

typedef enum clsde_op {
    CLSDE_OP_INPUT,            /* bound by the caller: x, label, divisors */
    CLSDE_OP_CONV2D,           /* in: x, chan_bias?, res?; w: weight [co,ci,k,k], bias [co] */
    CLSDE_OP_DENSE,            /* in: x [n,in]; w: weight [out,in], bias [out] */
    CLSDE_OP_GROUP_NORM,       /* in: x; w: gamma [c], beta [c]; optional fused SiLU */
    CLSDE_OP_SILU,             /* in: x */
    CLSDE_OP_AFFINE,           /* in: x; y = a*x + b */
    CLSDE_OP_SCALE_PER_IMAGE,  /* in: x, s [n]; y = x / s[b] (divide) or x * s[b] */
    CLSDE_OP_UPFIRDN2D,        /* in: x; FIR [1,3,3,1] up/down/filter */
    CLSDE_OP_UPSAMPLE_NEAREST, /* in: x; nearest x2 */
    CLSDE_OP_DOWNSAMPLE_AVG,   /* in: x; 2x2 mean as naive_downsample_2d (BigGAN blocks) */
    CLSDE_OP_AVG_POOL2,        /* in: x; 2x2 mean as F.avg_pool2d (Downsample, pyramid) */
    CLSDE_OP_CONCAT,           /* in: a, b; [a; b] along channels */
    CLSDE_OP_ATTENTION,        /* in: q, k, v; softmax(q^T k / sqrt(c)) v^T */
    CLSDE_OP_FOURIER_EMBED,    /* in: sigma [n]; w: W [nf]; y [n, 2nf] */
    CLSDE_OP_SINUSOIDAL_EMBED, /* in: label [n]; y [n, dim] */
    CLSDE_OP_CONV_DOWN_FIR,    /* in: x, res?; w: weight [co,ci,3,3], bias [co]; FIR pad (2,2)
                                  + 3x3 stride-2 conv in one kernel (networks.md §1.3) */
    /* Tangents (forward-mode derivatives, algorithms.md §6.2) of the non-linear ops, made
     * by clsde_graph_jvp; the linear ops' tangents are the ops themselves. */
    CLSDE_OP_GROUP_NORM_JVP,   /* in: x, tx; w: gamma, beta; d group_norm(+SiLU) (x) [tx] */
    CLSDE_OP_SILU_JVP,         /* in: x, tx; silu'(x) tx */
    CLSDE_OP_ATTENTION_JVP,    /* in: q, k, v, tq, tk, tv; d attention (q, k, v) [tq, tk, tv] */
    CLSDE_OP_COUNT
} clsde_op;

/* One row of the op table: the op's name everywhere (style.md §2), how many input slots
 * it has, and which slot's memory the output may reuse (-1: none; the planner decides). */
typedef struct clsde_op_info {
    const char *name;
    int32_t n_in;
    int32_t inplace_slot;
} clsde_op_info;

const clsde_op_info *clsde_op_get_info(clsde_op op);

typedef union clsde_op_params {
    clsde_conv2d_params conv2d;
    struct { int32_t n, in, out; } dense;
    clsde_group_norm_params group_norm;
    struct { float a, b; } affine;
    struct { int32_t divide; } scale;
    clsde_upfirdn2d_params upfirdn2d;
    struct { int32_t n, c, h, w; } resample; /* input shape (nearest up / mean down) */
    struct { int32_t n, c1, c2, hw; } concat;
    struct { int32_t n, c, hw; } attention;
    struct { int32_t n, nf; } fourier;
    struct { int32_t n, dim; } sinusoidal;
    clsde_conv_down_fir_params conv_down_fir;
} clsde_op_params;

typedef struct clsde_node {
    clsde_op op;
    clsde_op_params p;
    int32_t in[CLSDE_GRAPH_MAX_IN]; /* node ids, -1 for an unused slot */
    int32_t w[CLSDE_GRAPH_MAX_W];   /* weight ids, -1 for an unused slot */
    int32_t shape[4];               /* output [n, c, h, w]; vectors are [n, c, 1, 1] */
    char name[CLSDE_GRAPH_NAME];    /* "all_modules.12.Conv_0" */
    int32_t pinned;                 /* input or output: own memory for the whole run */
    size_t offset;                  /* planned offset in the arena (after clsde_graph_plan) */
    int32_t inplace;                /* planned: the output reuses input slot inplace_slot */
} clsde_node;

/* How a weight is laid out in device memory relative to its host array. */
typedef enum clsde_weight_layout {
    CLSDE_WEIGHT_COPY = 0,     /* as stored */
    CLSDE_WEIGHT_TRANSPOSE = 1 /* 2-D [a, b] stored, [b, a] uploaded (NIN W [in,out] used as a
                                  1x1 conv weight [out,in]) */
} clsde_weight_layout;

typedef struct clsde_weight {
    char name[96];           /* full tensor name: "all_modules.12.Conv_0.weight" */
    const float *data;       /* host array, owned by the model; outlives the graph's use */
    int64_t count;           /* elements */
    int32_t rows, cols;      /* for CLSDE_WEIGHT_TRANSPOSE: stored shape [rows, cols] */
    clsde_weight_layout layout;
    size_t offset;           /* in the weight buffer, aligned (set by clsde_graph_plan) */
} clsde_weight;

typedef struct clsde_graph {
    clsde_context *ctx;      /* where errors are recorded; not used for OpenCL */
    clsde_node *nodes;
    int32_t n_nodes, cap_nodes;
    clsde_weight *weights;
    int32_t n_weights, cap_weights;
    clsde_status status;     /* first building error (sticky), CLSDE_OK if none */

    /* Filled by clsde_graph_plan. */
    size_t align;            /* sub-buffer alignment in bytes */
    size_t arena_bytes;      /* planned activation memory (the peak) */
    size_t naive_bytes;      /* sum of all node outputs, each aligned */
    size_t weight_bytes;     /* weight buffer size, each weight aligned */
} clsde_graph;

clsde_status clsde_graph_create(clsde_context *ctx, clsde_graph **out);
void clsde_graph_destroy(clsde_graph *g);

/* The first error met while building (or CLSDE_OK). */
static inline clsde_status clsde_graph_status(const clsde_graph *g)
{
    return g->status;
}

/* Record a building error (first one wins) and return -1, for builders outside graph.c. */
int32_t clsde_graph_fail(clsde_graph *g, clsde_status status, const char *fmt, ...)
    CLSDE_PRINTF(3, 4);

/* A weight reference of `count` floats; layout TRANSPOSE needs rows * cols == count. */
int32_t clsde_graph_weight(clsde_graph *g, const char *name, const float *data, int64_t count,
                           clsde_weight_layout layout, int32_t rows, int32_t cols);

/* ---- builders: return the new node's id, or -1 after an error (sticky) ---- */

/* An input [n, c, h, w], pinned, bound by the caller before each run. */
int32_t clsde_graph_input(clsde_graph *g, const char *name, int32_t n, int32_t c, int32_t h,
                          int32_t w);
/* Mark a node as an output: pinned, its memory is not reused. */
void clsde_graph_output(clsde_graph *g, int32_t node);

/* Epilogue and geometry of a convolution beyond the weight shape. */
typedef struct clsde_graph_conv {
    int32_t stride;                     /* 1 or 2 */
    int32_t pad_t, pad_l, pad_b, pad_r; /* zero padding */
    int32_t chan_bias;                  /* node [n, c_out, 1, 1] added after the bias, or -1 */
    int32_t res;                        /* node [n, c_out, oh, ow]: y = (res + y) / res_div,
                                           or -1 */
    float res_div;
} clsde_graph_conv;

/* Stride 1, padding k/2 on every side, no chan_bias, no residual. */
clsde_graph_conv clsde_graph_conv_same(int32_t k);

/* y = conv(x, w) + bias [+ chan_bias] [then (res + y) / res_div]. `w` is a weight id of
 * c_out * c_in * k * k floats, `b` one of c_out floats (or -1 for no bias). */
int32_t clsde_graph_conv2d(clsde_graph *g, const char *name, int32_t x, int32_t w, int32_t b,
                           int32_t c_out, int32_t k, const clsde_graph_conv *conv);
/* The fused FIR conv-downsample (conv_downsample_2d, networks.md §1.3): y = conv3x3 stride 2
 * valid (upfirdn2d(x, pad (2, 2))) + bias, then (res + y) / res_div when res >= 0 (a node
 * [n, c_out, oh, ow]). w: c_out * c_in * 9 floats (PyTorch layout), b: c_out floats. */
int32_t clsde_graph_conv_down_fir(clsde_graph *g, const char *name, int32_t x, int32_t w,
                                  int32_t b, int32_t c_out, int32_t res, float res_div);
/* Linear on [n, in, 1, 1]: y [n, out, 1, 1] = W x + bias (W [out, in]). */
int32_t clsde_graph_dense(clsde_graph *g, const char *name, int32_t x, int32_t w, int32_t b,
                          int32_t out);
int32_t clsde_graph_group_norm(clsde_graph *g, const char *name, int32_t x, int32_t gamma,
                               int32_t beta, int32_t groups, float eps, int32_t silu);
int32_t clsde_graph_silu(clsde_graph *g, const char *name, int32_t x);
int32_t clsde_graph_affine(clsde_graph *g, const char *name, int32_t x, float a, float b);
/* y[b] = x[b] / s[b] (divide = 1) or x[b] * s[b]; s is a node of n values. */
int32_t clsde_graph_scale_per_image(clsde_graph *g, const char *name, int32_t x, int32_t s,
                                    int32_t divide);
int32_t clsde_graph_upfirdn2d(clsde_graph *g, const char *name, int32_t x, int32_t up,
                              int32_t down, int32_t pad0, int32_t pad1, float gain);
int32_t clsde_graph_upsample_nearest(clsde_graph *g, const char *name, int32_t x);
int32_t clsde_graph_downsample_avg(clsde_graph *g, const char *name, int32_t x);
int32_t clsde_graph_avg_pool2(clsde_graph *g, const char *name, int32_t x);
int32_t clsde_graph_concat(clsde_graph *g, const char *name, int32_t a, int32_t b);
int32_t clsde_graph_attention(clsde_graph *g, const char *name, int32_t q, int32_t k,
                              int32_t v);
/* sigma: node [n]; W: weight of nf floats; y [n, 2nf]. */
int32_t clsde_graph_fourier_embed(clsde_graph *g, const char *name, int32_t sigma, int32_t W,
                                  int32_t nf);
int32_t clsde_graph_sinusoidal_embed(clsde_graph *g, const char *name, int32_t label,
                                     int32_t dim);

/* Append a copy of `nd` (op, params, inputs, weights, shape, name, pinned) to g, checking
 * that its inputs and weights exist; returns its id or -1 (sticky). For graph transforms. */
int32_t clsde_graph_append(clsde_graph *g, const clsde_node *nd);

/* Forward-mode differentiation (graph_jvp.c, algorithms.md §6.2): a new graph *out that
 * computes everything g computes and, interleaved node by node (so the planner frees each
 * primal activation once its tangent is made), the tangent of every node that depends on
 * the input node x, with a new pinned input "x.tangent" (same shape as x) as x's tangent.
 * Linear ops propagate tangents through themselves (no bias, no channel bias); GroupNorm,
 * SiLU and attention through their _JVP ops; nodes that do not depend on x (the time
 * embedding) have a zero tangent and cost nothing. map [g->n_nodes] receives each node's
 * id in *out; *v the tangent input; *t_out the tangent of node `out` (pinned). Errors: an
 * `out` that does not depend on x, or a dependence through an op with no tangent rule
 * (dense, embeddings, the _JVP ops themselves). */
clsde_status clsde_graph_jvp(const clsde_graph *g, int32_t x, int32_t out, clsde_graph **jvp,
                             int32_t *map, int32_t *v, int32_t *t_out);

/* ---- after building ---- */

/* Bytes of a node's output (float32). */
size_t clsde_node_bytes(const clsde_node *node);
/* Floating-point operations of one node (2 per multiply-accumulate; conv, dense, attention,
 * FIR taps; elementwise ops and norms count one per element and are reported apart). */
void clsde_node_flops(const clsde_node *node, double *macs2, double *elementwise);

/* Plan activation memory (plan.c) with sub-buffer alignment `align`, and lay out the
 * weight buffer. Fills node offsets and the byte counts in g. */
clsde_status clsde_graph_plan(clsde_graph *g, size_t align);

/* Short label of a node's op for printing: "conv2d_3x3", "conv2d_3x3_s2",
 * "group_norm_silu", else the op name. */
void clsde_node_op_label(const clsde_node *node, char *buf, size_t n);

/* One line per node (#, name, op, shape, inputs, offset, bytes), then the totals. */
void clsde_graph_print(const clsde_graph *g, FILE *f);

#endif /* CLSDE_GRAPH_H */
