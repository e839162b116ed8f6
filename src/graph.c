/*
 * graph.c — node list, op table, shape inference, planning hook and printing
 * (style.md §5). Builders record ops and compute nothing; the first error is sticky.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "plan.h"

/* The op table. A new op adds its enum value, a row here, an enqueue case in exec.c and a
 * shape rule below (style.md §4). */
static const clsde_op_info op_table[] = {
    [CLSDE_OP_INPUT] = {"input", 0, -1},
    [CLSDE_OP_CONV2D] = {"conv2d", 3, 2}, /* y may be the residual (conv2d.h) */
    [CLSDE_OP_DENSE] = {"dense", 1, -1},
    [CLSDE_OP_GROUP_NORM] = {"group_norm", 1, 0},
    [CLSDE_OP_SILU] = {"silu", 1, 0},
    [CLSDE_OP_AFFINE] = {"affine", 1, 0},
    [CLSDE_OP_SCALE_PER_IMAGE] = {"scale_per_image", 2, 0},
    [CLSDE_OP_UPFIRDN2D] = {"upfirdn2d", 1, -1},
    [CLSDE_OP_UPSAMPLE_NEAREST] = {"upsample_nearest", 1, -1},
    [CLSDE_OP_DOWNSAMPLE_AVG] = {"downsample_avg", 1, -1},
    [CLSDE_OP_AVG_POOL2] = {"avg_pool2", 1, -1},
    [CLSDE_OP_CONCAT] = {"concat", 2, -1},
    [CLSDE_OP_ATTENTION] = {"attention", 3, -1},
    [CLSDE_OP_FOURIER_EMBED] = {"fourier_embed", 1, -1},
    [CLSDE_OP_SINUSOIDAL_EMBED] = {"sinusoidal_embed", 1, -1},
    [CLSDE_OP_CONV_DOWN_FIR] = {"conv_down_fir", 2, 1}, /* y may be the residual */
    [CLSDE_OP_GROUP_NORM_JVP] = {"group_norm_jvp", 2, -1},
    [CLSDE_OP_SILU_JVP] = {"silu_jvp", 2, 1},
    [CLSDE_OP_ATTENTION_JVP] = {"attention_jvp", 6, -1},
};
_Static_assert(sizeof op_table / sizeof op_table[0] == CLSDE_OP_COUNT,
               "op_table must have one row per CLSDE_OP_");
_Static_assert(CLSDE_PLAN_MAX_IN == CLSDE_GRAPH_MAX_IN, "plan.h and graph.h input slots differ");
_Static_assert(CLSDE_OP_COUNT == 19, "a new op needs a row in op_table, a case in exec.c "
                                     "and in clsde_node_flops");

const clsde_op_info *clsde_op_get_info(clsde_op op)
{
    return op >= 0 && op < CLSDE_OP_COUNT ? &op_table[op] : NULL;
}

clsde_status clsde_graph_create(clsde_context *ctx, clsde_graph **out)
{
    clsde_graph *g = calloc(1, sizeof *g);
    *out = NULL;
    CLSDE_FAIL_IF(!g, ctx, CLSDE_ERR_NOMEM, "graph: out of memory");
    g->ctx = ctx;
    *out = g;
    return CLSDE_OK;
}

void clsde_graph_destroy(clsde_graph *g)
{
    if (!g) return;
    free(g->nodes);
    free(g->weights);
    free(g);
}

int32_t clsde_graph_fail(clsde_graph *g, clsde_status status, const char *fmt, ...)
{
    if (g->status == CLSDE_OK) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        g->status = clsde_error_set(g->ctx, status, "%s", msg);
    }
    return -1;
}

int32_t clsde_graph_weight(clsde_graph *g, const char *name, const float *data, int64_t count,
                           clsde_weight_layout layout, int32_t rows, int32_t cols)
{
    clsde_weight *w;
    if (g->status != CLSDE_OK) return -1;
    if (!data || count <= 0)
        return clsde_graph_fail(g, CLSDE_ERR_INTERNAL, "graph: weight '%s' has no data", name);
    if (layout == CLSDE_WEIGHT_TRANSPOSE && (int64_t)rows * cols != count)
        return clsde_graph_fail(g, CLSDE_ERR_INTERNAL,
                                "graph: weight '%s': %d x %d does not match %lld elements",
                                name, rows, cols, (long long)count);
    if (g->n_weights == g->cap_weights) {
        const int32_t cap = g->cap_weights ? 2 * g->cap_weights : 64;
        clsde_weight *nw = realloc(g->weights, (size_t)cap * sizeof *nw);
        if (!nw) return clsde_graph_fail(g, CLSDE_ERR_NOMEM, "graph: out of memory");
        g->weights = nw;
        g->cap_weights = cap;
    }
    w = &g->weights[g->n_weights];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->data = data;
    w->count = count;
    w->layout = layout;
    w->rows = rows;
    w->cols = cols;
    return g->n_weights++;
}

/* Append a node with op, name and inputs ins[0 .. n_in - 1]; shape and parameters are set
 * by the caller. Returns NULL after an error (sticky) or when an input is -1 / out of range. */
static clsde_node *add_n(clsde_graph *g, clsde_op op, const char *name,
                         const int32_t ins[CLSDE_GRAPH_MAX_IN])
{
    clsde_node *nd;
    if (g->status != CLSDE_OK) return NULL;
    for (int s = 0; s < op_table[op].n_in; s++) {
        /* conv2d's chan_bias and res slots and conv_down_fir's res slot are optional; every
         * other slot is required */
        const int optional = (op == CLSDE_OP_CONV2D || op == CLSDE_OP_CONV_DOWN_FIR) && s > 0;
        if (ins[s] == -1 && optional) continue;
        if (ins[s] < 0 || ins[s] >= g->n_nodes) {
            clsde_graph_fail(g, CLSDE_ERR_INTERNAL, "graph: %s '%s': input %d is node %d of %d",
                             op_table[op].name, name, s, (int)ins[s], (int)g->n_nodes);
            return NULL;
        }
    }
    if (g->n_nodes == g->cap_nodes) {
        const int32_t cap = g->cap_nodes ? 2 * g->cap_nodes : 256;
        clsde_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            clsde_graph_fail(g, CLSDE_ERR_NOMEM, "graph: out of memory");
            return NULL;
        }
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    nd = &g->nodes[g->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    for (int s = 0; s < CLSDE_GRAPH_MAX_IN; s++) nd->in[s] = s < op_table[op].n_in ? ins[s] : -1;
    nd->w[0] = nd->w[1] = -1;
    snprintf(nd->name, sizeof nd->name, "%s", name);
    return nd;
}

static clsde_node *add(clsde_graph *g, clsde_op op, const char *name, int32_t in0, int32_t in1,
                       int32_t in2)
{
    const int32_t ins[CLSDE_GRAPH_MAX_IN] = {in0, in1, in2, -1, -1, -1};
    return add_n(g, op, name, ins);
}

/* Finish a node (the caller filled shape and params): it becomes part of the graph. */
static int32_t done(clsde_graph *g)
{
    return g->n_nodes++;
}

static const int32_t *shape_of(const clsde_graph *g, int32_t id)
{
    return g->nodes[id].shape;
}

static void set_shape(clsde_node *nd, int32_t n, int32_t c, int32_t h, int32_t w)
{
    nd->shape[0] = n;
    nd->shape[1] = c;
    nd->shape[2] = h;
    nd->shape[3] = w;
}

static int64_t weight_count(const clsde_graph *g, int32_t w)
{
    return w >= 0 && w < g->n_weights ? g->weights[w].count : -1;
}

/* A convolution's residual input (res < 0: none) must have the output's shape; 0 after
 * recording the error. */
static int residual_fits(clsde_graph *g, const char *name, int32_t res, int32_t n,
                         int32_t c_out, int32_t oh, int32_t ow)
{
    const int32_t *rs;
    if (res < 0) return 1;
    rs = shape_of(g, res);
    if (rs[0] == n && rs[1] == c_out && rs[2] == oh && rs[3] == ow) return 1;
    clsde_graph_fail(g, CLSDE_ERR_FORMAT, "%s: residual is %dx%dx%dx%d, the convolution gives "
                     "%dx%dx%dx%d", name, rs[0], rs[1], rs[2], rs[3], n, c_out, oh, ow);
    return 0;
}

int32_t clsde_graph_input(clsde_graph *g, const char *name, int32_t n, int32_t c, int32_t h,
                          int32_t w)
{
    clsde_node *nd = add(g, CLSDE_OP_INPUT, name, -1, -1, -1);
    if (!nd) return -1;
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        return clsde_graph_fail(g, CLSDE_ERR_ARG, "graph: input '%s' has shape %dx%dx%dx%d",
                                name, n, c, h, w);
    set_shape(nd, n, c, h, w);
    nd->pinned = 1;
    return done(g);
}

void clsde_graph_output(clsde_graph *g, int32_t node)
{
    if (g->status == CLSDE_OK && node >= 0 && node < g->n_nodes) g->nodes[node].pinned = 1;
}

clsde_graph_conv clsde_graph_conv_same(int32_t k)
{
    const clsde_graph_conv c = {.stride = 1, .pad_t = k / 2, .pad_l = k / 2, .pad_b = k / 2,
                                .pad_r = k / 2, .chan_bias = -1, .res = -1, .res_div = 1.0f};
    return c;
}

int32_t clsde_graph_conv2d(clsde_graph *g, const char *name, int32_t x, int32_t w, int32_t b,
                           int32_t c_out, int32_t k, const clsde_graph_conv *conv)
{
    clsde_node *nd = add(g, CLSDE_OP_CONV2D, name, x, conv->chan_bias, conv->res);
    clsde_conv2d_params *p;
    int32_t oh, ow;
    if (!nd) return -1;
    const int32_t *xs = shape_of(g, x);
    p = &nd->p.conv2d;
    p->n = xs[0];
    p->c_in = xs[1];
    p->h = xs[2];
    p->w = xs[3];
    p->c_out = c_out;
    p->k = k;
    p->stride = conv->stride;
    p->pad_t = conv->pad_t;
    p->pad_l = conv->pad_l;
    p->pad_b = conv->pad_b;
    p->pad_r = conv->pad_r;
    p->has_bias = b >= 0;
    p->has_chan_bias = conv->chan_bias >= 0;
    p->has_residual = conv->res >= 0;
    p->res_div = conv->res >= 0 ? conv->res_div : 1.0f;
    if (weight_count(g, w) != (int64_t)c_out * p->c_in * k * k)
        return clsde_graph_fail(g, CLSDE_ERR_FORMAT,
                                "%s: weight has %lld elements, input %dx%dx%dx%d needs "
                                "[%d,%d,%d,%d]", name, (long long)weight_count(g, w), xs[0],
                                xs[1], xs[2], xs[3], c_out, p->c_in, k, k);
    if (b >= 0 && weight_count(g, b) != c_out)
        return clsde_graph_fail(g, CLSDE_ERR_FORMAT, "%s: bias has %lld elements, expected %d",
                                name, (long long)weight_count(g, b), c_out);
    if (p->stride < 1 || p->stride > 2 || k < 1)
        return clsde_graph_fail(g, CLSDE_ERR_INTERNAL, "%s: stride %d, kernel %d", name,
                                p->stride, k);
    oh = clsde_conv2d_out_h(p);
    ow = clsde_conv2d_out_w(p);
    if (oh <= 0 || ow <= 0)
        return clsde_graph_fail(g, CLSDE_ERR_ARG, "%s: input %dx%d is too small for a %dx%d "
                                "convolution", name, p->h, p->w, k, k);
    if (conv->chan_bias >= 0) {
        const int32_t *cs = shape_of(g, conv->chan_bias);
        if (cs[0] != p->n || cs[1] != c_out || cs[2] != 1 || cs[3] != 1)
            return clsde_graph_fail(g, CLSDE_ERR_INTERNAL, "%s: channel bias is %dx%dx%dx%d, "
                                    "expected %dx%dx1x1", name, cs[0], cs[1], cs[2], cs[3],
                                    p->n, c_out);
    }
    if (!residual_fits(g, name, conv->res, p->n, c_out, oh, ow)) return -1;
    nd->w[0] = w;
    nd->w[1] = b;
    set_shape(nd, p->n, c_out, oh, ow);
    return done(g);
}

int32_t clsde_graph_conv_down_fir(clsde_graph *g, const char *name, int32_t x, int32_t w,
                                  int32_t b, int32_t c_out, int32_t res, float res_div)
{
    clsde_node *nd = add(g, CLSDE_OP_CONV_DOWN_FIR, name, x, res, -1);
    clsde_conv_down_fir_params *p;
    int32_t oh, ow;
    if (!nd) return -1;
    const int32_t *xs = shape_of(g, x);
    p = &nd->p.conv_down_fir;
    p->n = xs[0];
    p->c_in = xs[1];
    p->h = xs[2];
    p->w = xs[3];
    p->c_out = c_out;
    p->has_bias = b >= 0;
    p->has_residual = res >= 0;
    p->res_div = res >= 0 ? res_div : 1.0f;
    if (weight_count(g, w) != (int64_t)c_out * p->c_in * 9 ||
        (b >= 0 && weight_count(g, b) != c_out))
        return clsde_graph_fail(g, CLSDE_ERR_FORMAT, "%s: weight/bias have %lld/%lld elements, "
                                "expected [%d,%d,3,3] / [%d]", name,
                                (long long)weight_count(g, w), (long long)weight_count(g, b),
                                c_out, p->c_in, c_out);
    oh = clsde_conv_down_fir_out_h(p);
    ow = clsde_conv_down_fir_out_w(p);
    if (oh <= 0 || ow <= 0)
        return clsde_graph_fail(g, CLSDE_ERR_ARG, "%s: input %dx%d is too small for the FIR "
                                "conv-downsample (needs 2x2)", name, p->h, p->w);
    if (!residual_fits(g, name, res, p->n, c_out, oh, ow)) return -1;
    nd->w[0] = w;
    nd->w[1] = b;
    set_shape(nd, p->n, c_out, oh, ow);
    return done(g);
}

int32_t clsde_graph_dense(clsde_graph *g, const char *name, int32_t x, int32_t w, int32_t b,
                          int32_t out)
{
    clsde_node *nd = add(g, CLSDE_OP_DENSE, name, x, -1, -1);
    if (!nd) return -1;
    const int32_t *xs = shape_of(g, x);
    const int32_t in = xs[1] * xs[2] * xs[3];
    nd->p.dense.n = xs[0];
    nd->p.dense.in = in;
    nd->p.dense.out = out;
    if (weight_count(g, w) != (int64_t)in * out || weight_count(g, b) != out)
        return clsde_graph_fail(g, CLSDE_ERR_FORMAT, "%s: weight/bias have %lld/%lld elements, "
                                "expected [%d,%d] / [%d]", name, (long long)weight_count(g, w),
                                (long long)weight_count(g, b), out, in, out);
    nd->w[0] = w;
    nd->w[1] = b;
    set_shape(nd, xs[0], out, 1, 1);
    return done(g);
}

int32_t clsde_graph_group_norm(clsde_graph *g, const char *name, int32_t x, int32_t gamma,
                               int32_t beta, int32_t groups, float eps, int32_t silu)
{
    clsde_node *nd = add(g, CLSDE_OP_GROUP_NORM, name, x, -1, -1);
    if (!nd) return -1;
    const int32_t *xs = shape_of(g, x);
    clsde_group_norm_params *p = &nd->p.group_norm;
    p->n = xs[0];
    p->c = xs[1];
    p->hw = xs[2] * xs[3];
    p->groups = groups;
    p->eps = eps;
    p->silu = silu != 0;
    /* networks.md §0: PyTorch requires C % G == 0 */
    if (groups <= 0 || p->c % groups != 0)
        return clsde_graph_fail(g, CLSDE_ERR_FORMAT, "%s: GroupNorm of %d channels into %d "
                                "groups (channels must be a multiple of the group count)",
                                name, p->c, groups);
    if (weight_count(g, gamma) != p->c || weight_count(g, beta) != p->c)
        return clsde_graph_fail(g, CLSDE_ERR_FORMAT, "%s: weight/bias have %lld/%lld elements, "
                                "expected %d", name, (long long)weight_count(g, gamma),
                                (long long)weight_count(g, beta), p->c);
    nd->w[0] = gamma;
    nd->w[1] = beta;
    set_shape(nd, xs[0], xs[1], xs[2], xs[3]);
    return done(g);
}

/* Elementwise ops keep their input's shape. */
static int32_t unary(clsde_graph *g, clsde_op op, const char *name, int32_t x)
{
    clsde_node *nd = add(g, op, name, x, -1, -1);
    if (!nd) return -1;
    memcpy(nd->shape, shape_of(g, x), sizeof nd->shape);
    return done(g);
}

int32_t clsde_graph_silu(clsde_graph *g, const char *name, int32_t x)
{
    return unary(g, CLSDE_OP_SILU, name, x);
}

int32_t clsde_graph_affine(clsde_graph *g, const char *name, int32_t x, float a, float b)
{
    const int32_t id = unary(g, CLSDE_OP_AFFINE, name, x);
    if (id < 0) return -1;
    g->nodes[id].p.affine.a = a;
    g->nodes[id].p.affine.b = b;
    return id;
}

int32_t clsde_graph_scale_per_image(clsde_graph *g, const char *name, int32_t x, int32_t s,
                                    int32_t divide)
{
    clsde_node *nd = add(g, CLSDE_OP_SCALE_PER_IMAGE, name, x, s, -1);
    if (!nd) return -1;
    const int32_t *xs = shape_of(g, x), *ss = shape_of(g, s);
    if (ss[0] * ss[1] * ss[2] * ss[3] != xs[0])
        return clsde_graph_fail(g, CLSDE_ERR_INTERNAL, "%s: %d scale factors for %d images",
                                name, ss[0] * ss[1] * ss[2] * ss[3], xs[0]);
    nd->p.scale.divide = divide != 0;
    memcpy(nd->shape, xs, sizeof nd->shape);
    return done(g);
}

int32_t clsde_graph_upfirdn2d(clsde_graph *g, const char *name, int32_t x, int32_t up,
                              int32_t down, int32_t pad0, int32_t pad1, float gain)
{
    clsde_node *nd = add(g, CLSDE_OP_UPFIRDN2D, name, x, -1, -1);
    if (!nd) return -1;
    const int32_t *xs = shape_of(g, x);
    clsde_upfirdn2d_params *p = &nd->p.upfirdn2d;
    p->n = xs[0];
    p->c = xs[1];
    p->h = xs[2];
    p->w = xs[3];
    p->up = up;
    p->down = down;
    p->pad0 = pad0;
    p->pad1 = pad1;
    p->gain = gain;
    const int32_t oh = clsde_upfirdn2d_out_h(p), ow = clsde_upfirdn2d_out_w(p);
    if (oh <= 0 || ow <= 0)
        return clsde_graph_fail(g, CLSDE_ERR_ARG, "%s: input %dx%d too small for the FIR filter",
                                name, p->h, p->w);
    set_shape(nd, xs[0], xs[1], oh, ow);
    return done(g);
}

int32_t clsde_graph_upsample_nearest(clsde_graph *g, const char *name, int32_t x)
{
    clsde_node *nd = add(g, CLSDE_OP_UPSAMPLE_NEAREST, name, x, -1, -1);
    if (!nd) return -1;
    const int32_t *xs = shape_of(g, x);
    nd->p.resample.n = xs[0];
    nd->p.resample.c = xs[1];
    nd->p.resample.h = xs[2];
    nd->p.resample.w = xs[3];
    set_shape(nd, xs[0], xs[1], 2 * xs[2], 2 * xs[3]);
    return done(g);
}

/* Both 2x2 means halve even sides; they differ only in summation order (resample_ref.h). */
static int32_t mean2x2(clsde_graph *g, clsde_op op, const char *name, int32_t x)
{
    clsde_node *nd = add(g, op, name, x, -1, -1);
    if (!nd) return -1;
    const int32_t *xs = shape_of(g, x);
    /* the score networks always halve even sides; odd ones are refused rather than
     * floored (avg_pool2d) or rejected by a reshape (naive_downsample_2d) */
    if (xs[2] % 2 || xs[3] % 2)
        return clsde_graph_fail(g, CLSDE_ERR_UNSUPPORTED, "%s: 2x2 mean of an odd %dx%d map "
                                "(image_size must be divisible by 2^(levels-1))", name, xs[2],
                                xs[3]);
    nd->p.resample.n = xs[0];
    nd->p.resample.c = xs[1];
    nd->p.resample.h = xs[2];
    nd->p.resample.w = xs[3];
    set_shape(nd, xs[0], xs[1], xs[2] / 2, xs[3] / 2);
    return done(g);
}

int32_t clsde_graph_downsample_avg(clsde_graph *g, const char *name, int32_t x)
{
    return mean2x2(g, CLSDE_OP_DOWNSAMPLE_AVG, name, x);
}

int32_t clsde_graph_avg_pool2(clsde_graph *g, const char *name, int32_t x)
{
    return mean2x2(g, CLSDE_OP_AVG_POOL2, name, x);
}

int32_t clsde_graph_concat(clsde_graph *g, const char *name, int32_t a, int32_t b)
{
    clsde_node *nd = add(g, CLSDE_OP_CONCAT, name, a, b, -1);
    if (!nd) return -1;
    const int32_t *as = shape_of(g, a), *bs = shape_of(g, b);
    if (as[0] != bs[0] || as[2] != bs[2] || as[3] != bs[3])
        return clsde_graph_fail(g, CLSDE_ERR_FORMAT, "%s: cannot concatenate %dx%dx%dx%d and "
                                "%dx%dx%dx%d", name, as[0], as[1], as[2], as[3], bs[0], bs[1],
                                bs[2], bs[3]);
    nd->p.concat.n = as[0];
    nd->p.concat.c1 = as[1];
    nd->p.concat.c2 = bs[1];
    nd->p.concat.hw = as[2] * as[3];
    set_shape(nd, as[0], as[1] + bs[1], as[2], as[3]);
    return done(g);
}

int32_t clsde_graph_attention(clsde_graph *g, const char *name, int32_t q, int32_t k,
                              int32_t v)
{
    clsde_node *nd = add(g, CLSDE_OP_ATTENTION, name, q, k, v);
    if (!nd) return -1;
    const int32_t *qs = shape_of(g, q);
    if (memcmp(qs, shape_of(g, k), sizeof nd->shape) || memcmp(qs, shape_of(g, v), sizeof nd->shape))
        return clsde_graph_fail(g, CLSDE_ERR_INTERNAL, "%s: q, k, v shapes differ", name);
    nd->p.attention.n = qs[0];
    nd->p.attention.c = qs[1];
    nd->p.attention.hw = qs[2] * qs[3];
    memcpy(nd->shape, qs, sizeof nd->shape);
    return done(g);
}

int32_t clsde_graph_fourier_embed(clsde_graph *g, const char *name, int32_t sigma, int32_t W,
                                  int32_t nf)
{
    clsde_node *nd = add(g, CLSDE_OP_FOURIER_EMBED, name, sigma, -1, -1);
    if (!nd) return -1;
    const int32_t *ss = shape_of(g, sigma);
    const int32_t n = ss[0] * ss[1] * ss[2] * ss[3];
    if (weight_count(g, W) != nf)
        return clsde_graph_fail(g, CLSDE_ERR_FORMAT, "%s: W has %lld elements, expected %d",
                                name, (long long)weight_count(g, W), nf);
    nd->p.fourier.n = n;
    nd->p.fourier.nf = nf;
    nd->w[0] = W;
    set_shape(nd, n, 2 * nf, 1, 1);
    return done(g);
}

int32_t clsde_graph_sinusoidal_embed(clsde_graph *g, const char *name, int32_t label,
                                     int32_t dim)
{
    clsde_node *nd = add(g, CLSDE_OP_SINUSOIDAL_EMBED, name, label, -1, -1);
    if (!nd) return -1;
    const int32_t *ls = shape_of(g, label);
    const int32_t n = ls[0] * ls[1] * ls[2] * ls[3];
    /* half - 1 divides ln(10000) (networks.md §1.2) */
    if (dim < 4)
        return clsde_graph_fail(g, CLSDE_ERR_FORMAT, "%s: sinusoidal embedding of width %d "
                                "(needs at least 4)", name, dim);
    nd->p.sinusoidal.n = n;
    nd->p.sinusoidal.dim = dim;
    set_shape(nd, n, dim, 1, 1);
    return done(g);
}

int32_t clsde_graph_append(clsde_graph *g, const clsde_node *src)
{
    clsde_node *nd;
    const clsde_op_info *info = clsde_op_get_info(src->op);
    if (g->status != CLSDE_OK) return -1;
    if (!info)
        return clsde_graph_fail(g, CLSDE_ERR_INTERNAL, "graph: node '%s' has op %d", src->name,
                                (int)src->op);
    for (int s = 0; s < CLSDE_GRAPH_MAX_W; s++)
        if (src->w[s] < -1 || src->w[s] >= g->n_weights)
            return clsde_graph_fail(g, CLSDE_ERR_INTERNAL, "graph: %s '%s': weight %d is %d of "
                                    "%d", info->name, src->name, s, (int)src->w[s],
                                    (int)g->n_weights);
    nd = add_n(g, src->op, src->name, src->in);
    if (!nd) return -1;
    nd->p = src->p;
    memcpy(nd->w, src->w, sizeof nd->w);
    memcpy(nd->shape, src->shape, sizeof nd->shape);
    nd->pinned = src->pinned;
    return done(g);
}

size_t clsde_node_bytes(const clsde_node *nd)
{
    return (size_t)nd->shape[0] * nd->shape[1] * nd->shape[2] * nd->shape[3] * sizeof(float);
}

void clsde_node_flops(const clsde_node *nd, double *macs2, double *elementwise)
{
    const double out = (double)nd->shape[0] * nd->shape[1] * nd->shape[2] * nd->shape[3];
    *macs2 = 0;
    *elementwise = 0;
    switch (nd->op) {
    case CLSDE_OP_CONV2D:
        *macs2 = 2.0 * out * nd->p.conv2d.c_in * nd->p.conv2d.k * nd->p.conv2d.k;
        *elementwise = out * (nd->p.conv2d.has_chan_bias + nd->p.conv2d.has_residual);
        break;
    case CLSDE_OP_CONV_DOWN_FIR: { /* the conv, plus the 16 FIR taps of each filtered value */
        const clsde_conv_down_fir_params *p = &nd->p.conv_down_fir;
        *macs2 = 2.0 * out * p->c_in * 9 +
                 2.0 * 16 * p->n * p->c_in * (double)(p->h + 1) * (p->w + 1);
        *elementwise = out * p->has_residual;
        break;
    }
    case CLSDE_OP_DENSE: *macs2 = 2.0 * out * nd->p.dense.in; break;
    case CLSDE_OP_ATTENTION: /* q^T k and w v^T: 2 * c * hw^2 MAC per image */
        *macs2 = 4.0 * nd->p.attention.n * nd->p.attention.c * (double)nd->p.attention.hw *
                 nd->p.attention.hw;
        *elementwise = (double)nd->p.attention.n * nd->p.attention.hw * nd->p.attention.hw;
        break;
    case CLSDE_OP_ATTENTION_JVP: /* scores and their tangents, then dA v and A tv */
        *macs2 = 8.0 * nd->p.attention.n * nd->p.attention.c * (double)nd->p.attention.hw *
                 nd->p.attention.hw;
        *elementwise = 3.0 * nd->p.attention.n * nd->p.attention.hw * nd->p.attention.hw;
        break;
    case CLSDE_OP_UPFIRDN2D: /* 4x4 taps per output, of which 1/up^2 are non-zero */
        *macs2 = 2.0 * out * 16 / ((double)nd->p.upfirdn2d.up * nd->p.upfirdn2d.up);
        break;
    case CLSDE_OP_INPUT: break;
    case CLSDE_OP_GROUP_NORM:
    case CLSDE_OP_GROUP_NORM_JVP:
    case CLSDE_OP_SILU_JVP:
    case CLSDE_OP_SILU:
    case CLSDE_OP_AFFINE:
    case CLSDE_OP_SCALE_PER_IMAGE:
    case CLSDE_OP_UPSAMPLE_NEAREST:
    case CLSDE_OP_DOWNSAMPLE_AVG:
    case CLSDE_OP_AVG_POOL2:
    case CLSDE_OP_CONCAT:
    case CLSDE_OP_FOURIER_EMBED:
    case CLSDE_OP_SINUSOIDAL_EMBED: *elementwise = out; break;
    case CLSDE_OP_COUNT: break;
    }
}

clsde_status clsde_graph_plan(clsde_graph *g, size_t align)
{
    clsde_plan_node *pn;
    size_t *off;
    int32_t *inplace;
    clsde_plan_stats stats;
    clsde_plan_result r;
    size_t woff = 0;

    CLSDE_TRY(g->status);
    CLSDE_FAIL_IF(g->n_nodes == 0, g->ctx, CLSDE_ERR_INTERNAL, "graph: nothing to plan");
    pn = calloc((size_t)g->n_nodes, sizeof *pn);
    off = calloc((size_t)g->n_nodes, sizeof *off);
    inplace = calloc((size_t)g->n_nodes, sizeof *inplace);
    if (!pn || !off || !inplace) {
        free(pn);
        free(off);
        free(inplace);
        return clsde_error_set(g->ctx, CLSDE_ERR_NOMEM, "graph: out of memory while planning");
    }
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const clsde_node *nd = &g->nodes[i];
        pn[i].bytes = clsde_node_bytes(nd);
        for (int s = 0; s < CLSDE_GRAPH_MAX_IN; s++) pn[i].in[s] = nd->in[s];
        pn[i].inplace_slot = op_table[nd->op].inplace_slot;
        pn[i].pinned = nd->pinned;
    }
    r = clsde_plan_build(pn, g->n_nodes, NULL, align, off, inplace, &stats);
    if (r == CLSDE_PLAN_OK) {
        for (int32_t i = 0; i < g->n_nodes; i++) {
            g->nodes[i].offset = off[i];
            g->nodes[i].inplace = inplace[i];
        }
    }
    free(pn);
    free(off);
    free(inplace);
    CLSDE_FAIL_IF(r != CLSDE_PLAN_OK, g->ctx,
                  r == CLSDE_PLAN_NOMEM ? CLSDE_ERR_NOMEM : CLSDE_ERR_INTERNAL,
                  "graph: memory planner: %s", clsde_plan_strerror(r));
    g->align = align;
    g->arena_bytes = stats.peak_bytes;
    g->naive_bytes = stats.naive_bytes;

    for (int32_t i = 0; i < g->n_weights; i++) {
        g->weights[i].offset = woff;
        woff += (g->weights[i].count * sizeof(float) + align - 1) / align * align;
    }
    g->weight_bytes = woff;
    return CLSDE_OK;
}

void clsde_node_op_label(const clsde_node *nd, char *buf, size_t n)
{
    if (nd->op == CLSDE_OP_CONV2D)
        snprintf(buf, n, "conv2d_%dx%d%s", nd->p.conv2d.k, nd->p.conv2d.k,
                 nd->p.conv2d.stride == 2 ? "_s2" : "");
    else if (nd->op == CLSDE_OP_GROUP_NORM && nd->p.group_norm.silu)
        snprintf(buf, n, "group_norm_silu");
    else
        snprintf(buf, n, "%s", op_table[nd->op].name);
}

void clsde_graph_print(const clsde_graph *g, FILE *f)
{
    double flops = 0, elem = 0;
    fprintf(f, "%5s  %-34s %-18s %-16s %-12s %10s %10s\n", "#", "name", "op", "shape", "inputs",
            "offset", "bytes");
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const clsde_node *nd = &g->nodes[i];
        char op[32], shape[48], ins[48] = "", *p = ins;
        double m, e;
        clsde_node_op_label(nd, op, sizeof op);
        snprintf(shape, sizeof shape, "%dx%dx%dx%d", nd->shape[0], nd->shape[1], nd->shape[2],
                 nd->shape[3]);
        for (int s = 0; s < CLSDE_GRAPH_MAX_IN; s++) {
            if (nd->in[s] < 0) continue;
            p += snprintf(p, (size_t)(ins + sizeof ins - p), "%s%d", p == ins ? "" : ",",
                          (int)nd->in[s]);
        }
        if (p == ins) snprintf(ins, sizeof ins, "-");
        fprintf(f, "%5d  %-34s %-18s %-16s %-12s %10zu %10zu%s\n", (int)i, nd->name, op, shape,
                ins, nd->offset, clsde_node_bytes(nd),
                nd->pinned ? "  pinned" : nd->inplace ? "  in place" : "");
        clsde_node_flops(nd, &m, &e);
        flops += m;
        elem += e;
    }
    fprintf(f, "%d nodes, %d weights (%zu bytes); %.4g GFLOP (+%.3g M elementwise); "
            "activations: planned %zu bytes, naive sum %zu bytes\n",
            (int)g->n_nodes, (int)g->n_weights, g->weight_bytes, flops * 1e-9, elem * 1e-6,
            g->arena_bytes, g->naive_bytes);
}
