/*
 * graph_jvp.c — forward-mode differentiation of a graph (algorithms.md §6.2, "forward-mode
 * alternative"): every node that depends on the input x gets a tangent node, the derivative
 * of the node's output along the tangent of x, so one replay gives the score s(x) and the
 * Jacobian-vector product (ds/dx) v, from which the likelihood's divergence estimate
 * v^T (ds/dx) v is one dot product per image.
 *
 * The new graph is the old one with each node's tangent emitted right after the node, so
 * the memory planner can free a primal activation as soon as its tangent has used it
 * (peak memory about twice the forward's, not every activation at once). Rules:
 *   conv2d, conv_down_fir   the same convolution of the tangent, without bias and channel
 *                           bias; a residual (res + y) / d takes the residual's tangent
 *                           (or becomes y / d when the residual does not depend on x)
 *   affine a x + b          a tx
 *   scale_per_image         the same scale of the tangent (the scale itself is not
 *                           differentiated: it is the time's -std, an input)
 *   resampling, FIR, concat the op itself on the tangents (a zero tangent is made explicit
 *                           for a concat or attention with one input independent of x)
 *   group_norm(+SiLU), SiLU, attention  their _jvp ops (the primal inputs stay alive)
 * Nodes that do not depend on x (labels, embeddings, the time MLP) have no tangent at all.
 */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

typedef struct jvp_state {
    const clsde_graph *g; /* the source */
    clsde_graph *o;       /* the new graph */
    int32_t *prim;        /* [g->n_nodes] id of each source node in o */
    int32_t *tan;         /* [g->n_nodes] id of its tangent in o, -1: zero (no dependence) */
} jvp_state;

/* A node named after source node i with the given suffix, shape and params of i. */
static clsde_node derived(const jvp_state *s, int32_t i, clsde_op op, const char *suffix)
{
    const clsde_node *src = &s->g->nodes[i];
    clsde_node nd;
    memset(&nd, 0, sizeof nd);
    nd.op = op;
    nd.p = src->p;
    for (int k = 0; k < CLSDE_GRAPH_MAX_IN; k++) nd.in[k] = -1;
    nd.w[0] = nd.w[1] = -1;
    memcpy(nd.shape, src->shape, sizeof nd.shape);
    snprintf(nd.name, sizeof nd.name, "%.*s%s", (int)(CLSDE_GRAPH_NAME - 1 - strlen(suffix)),
             src->name, suffix);
    return nd;
}

/* y = a x (a tangent scaled, or a zero made from a primal node with a = 0). */
static int32_t scaled(jvp_state *s, int32_t i, int32_t x, float a, const char *suffix)
{
    clsde_node nd = derived(s, i, CLSDE_OP_AFFINE, suffix);
    memcpy(nd.shape, s->o->nodes[x].shape, sizeof nd.shape);
    nd.in[0] = x;
    nd.p.affine.a = a;
    nd.p.affine.b = 0;
    return clsde_graph_append(s->o, &nd);
}

/* The tangent of source node j, made explicit (zeros of its shape) when it has none. */
static int32_t tangent_or_zero(jvp_state *s, int32_t j)
{
    if (s->tan[j] >= 0) return s->tan[j];
    return scaled(s, j, s->prim[j], 0.0f, ".zero_tangent");
}

static int32_t unsupported(jvp_state *s, int32_t i, const char *why)
{
    const clsde_node *nd = &s->g->nodes[i];
    return clsde_graph_fail(s->o, CLSDE_ERR_UNSUPPORTED, "graph jvp: node %d '%s' (%s) %s",
                            (int)i, nd->name, clsde_op_get_info(nd->op)->name, why);
}

/* A convolution's tangent: conv(tx) without bias and channel bias, with the residual's
 * tangent when the residual depends on x; only the residual's tangent / res_div when the
 * convolution's input does not. */
static int32_t conv_tangent(jvp_state *s, int32_t i)
{
    const clsde_node *src = &s->g->nodes[i];
    const int fir = src->op == CLSDE_OP_CONV_DOWN_FIR;
    const int32_t res_slot = fir ? 1 : 2;
    const int32_t has_res = fir ? src->p.conv_down_fir.has_residual : src->p.conv2d.has_residual;
    const float res_div = fir ? src->p.conv_down_fir.res_div : src->p.conv2d.res_div;
    const int32_t tx = s->tan[src->in[0]];
    const int32_t tr = has_res ? s->tan[src->in[res_slot]] : -1;
    clsde_node nd;
    int32_t id;
    if (!fir && src->p.conv2d.has_chan_bias && s->tan[src->in[1]] >= 0)
        return unsupported(s, i, "has a channel bias that depends on the input");
    if (tx < 0) return scaled(s, i, tr, 1.0f / res_div, ".jvp");
    nd = derived(s, i, src->op, ".jvp");
    nd.in[0] = tx;
    nd.w[0] = src->w[0];
    if (fir) {
        nd.p.conv_down_fir.has_bias = 0;
    } else {
        nd.p.conv2d.has_bias = 0;
        nd.p.conv2d.has_chan_bias = 0;
    }
    if (tr >= 0) {
        nd.in[res_slot] = tr;
        return clsde_graph_append(s->o, &nd);
    }
    if (fir) {
        nd.p.conv_down_fir.has_residual = 0;
        nd.p.conv_down_fir.res_div = 1.0f;
    } else {
        nd.p.conv2d.has_residual = 0;
        nd.p.conv2d.res_div = 1.0f;
    }
    id = clsde_graph_append(s->o, &nd);
    if (id < 0 || !has_res || res_div == 1.0f) return id;
    return scaled(s, i, id, 1.0f / res_div, ".jvp_scale");
}

/* The tangent of source node i (after its primal copy is in o): its id, or -1 when node i
 * does not depend on x (s->o->status says whether -1 was an error). */
static int32_t tangent(jvp_state *s, int32_t i)
{
    const clsde_node *src = &s->g->nodes[i];
    const int32_t t0 = src->in[0] >= 0 ? s->tan[src->in[0]] : -1;
    clsde_node nd;
    int any = 0;
    for (int k = 0; k < CLSDE_GRAPH_MAX_IN; k++)
        if (src->in[k] >= 0 && s->tan[src->in[k]] >= 0) any = 1;
    if (!any) return -1;

    switch (src->op) {
    case CLSDE_OP_CONV2D:
    case CLSDE_OP_CONV_DOWN_FIR: return conv_tangent(s, i);
    case CLSDE_OP_AFFINE: return scaled(s, i, t0, src->p.affine.a, ".jvp");
    case CLSDE_OP_SCALE_PER_IMAGE:
        if (s->tan[src->in[1]] >= 0)
            return unsupported(s, i, "scales by a factor that depends on the input");
        nd = derived(s, i, src->op, ".jvp");
        nd.in[0] = t0;
        nd.in[1] = s->prim[src->in[1]];
        return clsde_graph_append(s->o, &nd);
    case CLSDE_OP_UPFIRDN2D:
    case CLSDE_OP_UPSAMPLE_NEAREST:
    case CLSDE_OP_DOWNSAMPLE_AVG:
    case CLSDE_OP_AVG_POOL2:
        nd = derived(s, i, src->op, ".jvp");
        nd.in[0] = t0;
        return clsde_graph_append(s->o, &nd);
    case CLSDE_OP_CONCAT:
        nd = derived(s, i, src->op, ".jvp");
        nd.in[0] = tangent_or_zero(s, src->in[0]);
        nd.in[1] = tangent_or_zero(s, src->in[1]);
        return clsde_graph_append(s->o, &nd);
    case CLSDE_OP_GROUP_NORM:
    case CLSDE_OP_SILU:
        nd = derived(s, i, src->op == CLSDE_OP_SILU ? CLSDE_OP_SILU_JVP : CLSDE_OP_GROUP_NORM_JVP,
                     ".jvp");
        nd.in[0] = s->prim[src->in[0]];
        nd.in[1] = t0;
        nd.w[0] = src->w[0];
        nd.w[1] = src->w[1];
        return clsde_graph_append(s->o, &nd);
    case CLSDE_OP_ATTENTION:
        nd = derived(s, i, CLSDE_OP_ATTENTION_JVP, ".jvp");
        for (int k = 0; k < 3; k++) {
            nd.in[k] = s->prim[src->in[k]];
            nd.in[3 + k] = tangent_or_zero(s, src->in[k]);
        }
        return clsde_graph_append(s->o, &nd);
    case CLSDE_OP_DENSE: return unsupported(s, i, "has no tangent rule (dense on the image path)");
    case CLSDE_OP_FOURIER_EMBED:
    case CLSDE_OP_SINUSOIDAL_EMBED:
        return unsupported(s, i, "embeds a value that depends on the input");
    case CLSDE_OP_INPUT:
    case CLSDE_OP_GROUP_NORM_JVP:
    case CLSDE_OP_SILU_JVP:
    case CLSDE_OP_ATTENTION_JVP:
    case CLSDE_OP_COUNT: break;
    }
    return unsupported(s, i, "has no tangent rule");
}

clsde_status clsde_graph_jvp(const clsde_graph *g, int32_t x, int32_t out, clsde_graph **jvp,
                             int32_t *map, int32_t *v, int32_t *t_out)
{
    jvp_state s;
    clsde_status st = CLSDE_OK;
    *jvp = NULL;
    CLSDE_TRY(g->status);
    CLSDE_FAIL_IF(x < 0 || x >= g->n_nodes || g->nodes[x].op != CLSDE_OP_INPUT || out < 0 ||
                      out >= g->n_nodes,
                  g->ctx, CLSDE_ERR_INTERNAL, "graph jvp: x %d must be an input and out %d a "
                  "node of %d", (int)x, (int)out, (int)g->n_nodes);
    memset(&s, 0, sizeof s);
    s.g = g;
    s.prim = map;
    s.tan = malloc((size_t)g->n_nodes * sizeof *s.tan);
    CLSDE_GOTO_IF(!s.tan, g->ctx, CLSDE_ERR_NOMEM, "graph jvp: out of memory");
    CLSDE_TRY_GOTO(clsde_graph_create(g->ctx, &s.o));
    for (int32_t w = 0; w < g->n_weights; w++) {
        const clsde_weight *wt = &g->weights[w];
        clsde_graph_weight(s.o, wt->name, wt->data, wt->count, wt->layout, wt->rows, wt->cols);
    }
    for (int32_t i = 0; i < g->n_nodes; i++) {
        clsde_node nd = g->nodes[i];
        for (int k = 0; k < CLSDE_GRAPH_MAX_IN; k++)
            if (nd.in[k] >= 0) nd.in[k] = s.prim[nd.in[k]];
        s.prim[i] = clsde_graph_append(s.o, &nd);
        if (i == x) {
            const int32_t *xs = g->nodes[x].shape;
            s.tan[i] = *v = clsde_graph_input(s.o, "x.tangent", xs[0], xs[1], xs[2], xs[3]);
        } else {
            s.tan[i] = tangent(&s, i);
        }
        if (s.o->status != CLSDE_OK) break;
    }
    CLSDE_TRY_GOTO(clsde_graph_status(s.o));
    CLSDE_GOTO_IF(s.tan[out] < 0, g->ctx, CLSDE_ERR_INTERNAL,
                  "graph jvp: output '%s' does not depend on input '%s'", g->nodes[out].name,
                  g->nodes[x].name);
    clsde_graph_output(s.o, s.tan[out]);
    *t_out = s.tan[out];
    *jvp = s.o;
    s.o = NULL;
fail:
    clsde_graph_destroy(s.o);
    free(s.tan);
    return st;
}
