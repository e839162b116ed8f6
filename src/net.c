/*
 * net.c — clsde_net: build the model's graph for a batch size (nets/), add the score node,
 * plan it, upload the weights (exec.c); the score wrapper of algorithms.md §2 (labels in
 * float32 exactly as the reference forms them); the public clsde_net_* entry points.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

/* The network's float64 buffer sigmas = exp(linspace(ln sigma_max, ln sigma_min, N))
 * (networks.md §2.1), linspace as numpy: start + i*step, the last value exactly stop. */
static void network_sigmas(const clsde_model_config *cfg, double *s)
{
    const int32_t n = cfg->num_scales;
    const double a = log(cfg->sigma_max), b = log(cfg->sigma_min);
    const double step = n > 1 ? (b - a) / (n - 1) : 0;
    for (int32_t i = 0; i < n; i++) s[i] = exp(i == n - 1 && n > 1 ? b : i * step + a);
}

static clsde_status sde_init(clsde_net *net)
{
    const clsde_model_config *cfg = net->cfg;
    clsde_sde_config sc;
    clsde_status st;
    clsde_sde_config_default(&sc, cfg->sde == CLSDE_SDE_VE   ? CLSDE_SDE_VE
                                  : cfg->sde == CLSDE_SDE_VP ? CLSDE_SDE_VP
                                                             : CLSDE_SDE_SUBVP);
    sc.continuous = cfg->continuous;
    sc.n = cfg->num_scales;
    sc.sigma_min = cfg->sigma_min;
    sc.sigma_max = cfg->sigma_max;
    sc.beta_min = cfg->beta_min;
    sc.beta_max = cfg->beta_max;
    sc.eps = cfg->sampling_eps;
    st = clsde_sde_init(&net->sde, &sc);
    if (st != CLSDE_OK) clsde_error_adopt(net->ctx);
    return st;
}

/* Graph, score node, plan. */
static clsde_status build(clsde_net *net)
{
    clsde_graph *g;
    CLSDE_TRY(clsde_graph_create(net->ctx, &net->g));
    g = net->g;
    if (net->cfg->arch == CLSDE_ARCH_DDPM)
        CLSDE_TRY(clsde_ddpm_build(g, net->model, net->batch, &net->io));
    else
        CLSDE_TRY(clsde_ncsnpp_build(g, net->model, net->batch, &net->io));
    CLSDE_TRY(clsde_model_check_all_used(net->model));

    /* algorithms.md §2: VE s = out; VP/subVP s = -out / std, as out / (-std) (the same
     * float32 value: negation is exact) */
    net->score_div = -1;
    net->score = net->io.out;
    if (net->cfg->sde != CLSDE_SDE_VE) {
        net->score_div = clsde_graph_input(g, "score_div", net->batch, 1, 1, 1);
        net->score = clsde_graph_scale_per_image(g, "score", net->io.out, net->score_div, 1);
        clsde_graph_output(g, net->score);
        CLSDE_TRY(clsde_graph_status(g));
    }
    net->v = net->tscore = -1;
    if (net->jvp) { /* the same graph with the score's tangent along the input v */
        clsde_graph *gj;
        int32_t *map = malloc((size_t)g->n_nodes * sizeof *map);
        clsde_status st;
        CLSDE_FAIL_IF(!map, net->ctx, CLSDE_ERR_NOMEM, "network: out of memory");
        st = clsde_graph_jvp(g, net->io.x, net->score, &gj, map, &net->v, &net->tscore);
        if (st == CLSDE_OK) {
            net->io.x = map[net->io.x];
            net->io.label = map[net->io.label];
            if (net->io.sigma >= 0) net->io.sigma = map[net->io.sigma];
            if (net->score_div >= 0) net->score_div = map[net->score_div];
            net->io.out = map[net->io.out];
            net->score = map[net->score];
            clsde_graph_destroy(g);
            net->g = g = gj;
        }
        free(map);
        CLSDE_TRY(st);
    }
    CLSDE_TRY(clsde_graph_plan(g, net->ctx->mem_base_align_bytes));

    net->flops = net->elementwise = 0;
    for (int32_t i = 0; i < g->n_nodes; i++) {
        double m, e;
        clsde_node_flops(&g->nodes[i], &m, &e);
        net->flops += m;
        net->elementwise += e;
    }
    net->flops /= net->batch;
    net->elementwise /= net->batch;
    return CLSDE_OK;
}

static clsde_status create(clsde_context *ctx, clsde_model *model, int32_t batch, int jvp,
                           clsde_net **out)
{
    clsde_status st = CLSDE_OK;
    clsde_net *net;
    CLSDE_FAIL_IF(!out, ctx, CLSDE_ERR_ARG, "clsde_net_create: net is NULL");
    *out = NULL;
    CLSDE_FAIL_IF(!ctx, NULL, CLSDE_ERR_ARG, "clsde_net_create: ctx is NULL");
    CLSDE_FAIL_IF(!model, ctx, CLSDE_ERR_ARG, "clsde_net_create: model is NULL");
    CLSDE_FAIL_IF(batch < 1 || batch > 65536, ctx, CLSDE_ERR_ARG,
                  "clsde_net_create: batch %d is outside 1..65536", (int)batch);
    net = calloc(1, sizeof *net);
    CLSDE_FAIL_IF(!net, ctx, CLSDE_ERR_NOMEM, "clsde_net_create: out of memory");
    net->ctx = ctx;
    net->model = model;
    net->cfg = &model->cfg;
    net->batch = batch;
    net->jvp = jvp;
    net->sigmas = malloc((size_t)net->cfg->num_scales * sizeof *net->sigmas);
    net->host = malloc(3 * (size_t)batch * sizeof *net->host);
    CLSDE_GOTO_IF(!net->sigmas || !net->host, ctx, CLSDE_ERR_NOMEM,
                  "clsde_net_create: out of memory");
    network_sigmas(net->cfg, net->sigmas);
    CLSDE_TRY_GOTO(sde_init(net));
    CLSDE_TRY_GOTO(build(net));
    CLSDE_TRY_GOTO(clsde_exec_create(ctx, net->g, &net->exec));
    *out = net;
    return CLSDE_OK;
fail:
    clsde_net_destroy(net);
    return st;
}

clsde_status clsde_net_create(clsde_context *ctx, clsde_model *model, int32_t batch,
                              clsde_net **out)
{
    return create(ctx, model, batch, 0, out);
}

clsde_status clsde_net_create_jvp(clsde_context *ctx, clsde_model *model, int32_t batch,
                                  clsde_net **out)
{
    return create(ctx, model, batch, 1, out);
}

void clsde_net_destroy(clsde_net *net)
{
    if (!net) return;
    clsde_exec_destroy(net->exec);
    clsde_graph_destroy(net->g);
    clsde_sde_destroy(&net->sde);
    free(net->sigmas);
    free(net->host);
    free(net);
}

clsde_status clsde_net_get_info(const clsde_net *net, clsde_net_info *info)
{
    CLSDE_FAIL_IF(!net || !info, net ? net->ctx : NULL, CLSDE_ERR_ARG,
                  "clsde_net_get_info: NULL argument");
    memset(info, 0, sizeof *info);
    info->batch = net->batch;
    info->channels = net->cfg->num_channels;
    info->height = info->width = net->cfg->image_size;
    info->nodes = net->g->n_nodes;
    info->weight_tensors = net->g->n_weights;
    info->weight_bytes = (int64_t)net->g->weight_bytes;
    info->activation_bytes = (int64_t)net->g->arena_bytes;
    info->activation_naive_bytes = (int64_t)net->g->naive_bytes;
    info->flops_per_image = net->flops;
    info->elementwise_per_image = net->elementwise;
    return CLSDE_OK;
}

clsde_status clsde_net_print_graph(const clsde_net *net, FILE *f)
{
    CLSDE_FAIL_IF(!net || !f, net ? net->ctx : NULL, CLSDE_ERR_ARG,
                  "clsde_net_print_graph: NULL argument");
    clsde_graph_print(net->g, f);
    return CLSDE_OK;
}

typedef struct op_total {
    char op[32];
    int32_t nodes;
    double ms, flops;
} op_total;

static int by_ms_desc(const void *a, const void *b)
{
    const double x = ((const op_total *)a)->ms, y = ((const op_total *)b)->ms;
    return (x < y) - (x > y);
}

clsde_status clsde_net_print_profile(clsde_net *net, int32_t rounds, int32_t top, FILE *f)
{
    clsde_status st = CLSDE_OK;
    const clsde_graph *g;
    double *ms = NULL, total = 0;
    op_total *ops = NULL, *nodes = NULL;
    int32_t n_ops = 0;
    CLSDE_FAIL_IF(!net || !f || rounds < 1 || top < 0, net ? net->ctx : NULL, CLSDE_ERR_ARG,
                  "clsde_net_print_profile: NULL argument, rounds < 1 or top < 0");
    g = net->g;
    ms = malloc((size_t)g->n_nodes * sizeof *ms);
    ops = calloc((size_t)g->n_nodes, sizeof *ops);
    nodes = calloc((size_t)g->n_nodes, sizeof *nodes);
    CLSDE_GOTO_IF(!ms || !ops || !nodes, net->ctx, CLSDE_ERR_NOMEM, "profile: out of memory");
    CLSDE_TRY_GOTO(clsde_exec_profile(net->exec, rounds, ms));
    for (int32_t i = 0; i < g->n_nodes; i++) {
        const clsde_node *nd = &g->nodes[i];
        double m, e;
        int32_t k = 0;
        if (nd->op == CLSDE_OP_INPUT) continue;
        clsde_node_flops(nd, &m, &e);
        nodes[i].nodes = i, nodes[i].ms = ms[i], nodes[i].flops = m; /* nodes: the index */
        {
            char label[32];
            clsde_node_op_label(nd, label, sizeof label);
            while (k < n_ops && strcmp(ops[k].op, label)) k++;
            if (k == n_ops) snprintf(ops[n_ops++].op, sizeof ops[0].op, "%s", label);
        }
        ops[k].nodes++, ops[k].ms += ms[i], ops[k].flops += m;
        total += ms[i];
    }
    qsort(ops, (size_t)n_ops, sizeof *ops, by_ms_desc);
    fprintf(f, "profile, batch %d: every node alone, fastest of %d rounds; sum %.3f ms\n",
            (int)net->batch, (int)rounds, total);
    fprintf(f, "%-18s %6s %10s %7s %9s\n", "op", "nodes", "ms", "share", "GFLOP/s");
    for (int32_t k = 0; k < n_ops; k++)
        fprintf(f, "%-18s %6d %10.3f %6.1f%% %9.2f\n", ops[k].op, (int)ops[k].nodes, ops[k].ms,
                total > 0 ? 100 * ops[k].ms / total : 0,
                ops[k].ms > 0 ? ops[k].flops / ops[k].ms * 1e-6 : 0);
    qsort(nodes, (size_t)g->n_nodes, sizeof *nodes, by_ms_desc);
    if (top > 0) fprintf(f, "slowest nodes:\n");
    for (int32_t k = 0; k < top && k < g->n_nodes && nodes[k].ms > 0; k++) {
        const clsde_node *nd = &g->nodes[nodes[k].nodes];
        char label[32];
        clsde_node_op_label(nd, label, sizeof label);
        fprintf(f, "%5d  %-34s %-18s %dx%dx%dx%d %10.3f ms %9.2f GFLOP/s\n", (int)nodes[k].nodes,
                nd->name, label, nd->shape[0], nd->shape[1], nd->shape[2], nd->shape[3],
                nodes[k].ms, nodes[k].ms > 0 ? nodes[k].flops / nodes[k].ms * 1e-6 : 0);
    }
fail:
    free(ms), free(ops), free(nodes);
    return st;
}

/* ---- the score wrapper (algorithms.md §2) ----
 * Every label is formed with the reference's float32 operations in its order; this file
 * is compiled as ISO C11, where GCC does not contract a*b + c into an fma. Transcendentals
 * are evaluated in double and rounded once (correctly rounded except in the rarest double-
 * rounding cases); PyTorch's own float32 pow/exp (SLEEF, 1 ulp) may differ from that by an
 * ulp, a change below the fixtures' "label + 1 ulp" noise floor (fixtures/README.md). */

/* VE sigma(t) = sigma_min * (sigma_max / sigma_min) ** t: the ratio is a Python float
 * rounded to float32 by torch.pow(scalar, tensor), the product is float32. */
static float ve_sigma(const clsde_model_config *cfg, float t)
{
    const float base = (float)(cfg->sigma_max / cfg->sigma_min);
    const float p = (float)pow((double)base, (double)t);
    return (float)cfg->sigma_min * p;
}

/* VP / subVP std(t) from log_mean_coeff = -0.25 t^2 (b1 - b0) - 0.5 t b0 (float32, left
 * to right, Python-float factors rounded to float32): VP sqrt(1 - exp(2 lmc)), subVP
 * 1 - exp(2 lmc). */
static float vp_std(const clsde_model_config *cfg, float t)
{
    const float db = (float)(cfg->beta_max - cfg->beta_min), b0 = (float)cfg->beta_min;
    const float t2 = t * t;
    const float a = -0.25f * t2;
    const float a2 = a * db;
    const float c = 0.5f * t;
    const float c2 = c * b0;
    const float lmc = a2 - c2;
    const float e = (float)exp((double)(2.0f * lmc));
    const float one_m = 1.0f - e;
    return cfg->sde == CLSDE_SDE_SUBVP ? one_m : (float)sqrt((double)one_m);
}

clsde_status clsde_net_compute_labels(const clsde_net *net, const float *t,
                                      clsde_time_mode mode, int want_score,
                                      const clsde_net_labels *out)
{
    const clsde_model_config *cfg = net->cfg;
    const int32_t n = cfg->num_scales;
    const int ve = cfg->sde == CLSDE_SDE_VE;
    int continuous;
    CLSDE_FAIL_IF(mode < CLSDE_TIME_DEFAULT || mode > CLSDE_TIME_LABEL, net->ctx,
                  CLSDE_ERR_ARG, "unknown time mode %d", (int)mode);
    CLSDE_FAIL_IF(mode == CLSDE_TIME_LABEL && want_score, net->ctx, CLSDE_ERR_ARG,
                  "the score needs times t, not network labels (CLSDE_TIME_LABEL)");
    continuous = mode == CLSDE_TIME_DEFAULT ? cfg->continuous : mode == CLSDE_TIME_CONTINUOUS;
    /* the reference has no discrete wrapper for subVP: get_score_fn uses 999 t for it */
    if (cfg->sde == CLSDE_SDE_SUBVP) continuous = 1;
    CLSDE_FAIL_IF(mode == CLSDE_TIME_DISCRETE && cfg->sde == CLSDE_SDE_SUBVP, net->ctx,
                  CLSDE_ERR_ARG, "subVP has no discrete score wrapper (algorithms.md §2)");
    /* algorithms.md §2: the continuous VE wrapper feeds sigma(t); a discretely trained
     * VE model reads its label as a table index, so that pairing is refused */
    CLSDE_FAIL_IF(ve && continuous && mode != CLSDE_TIME_LABEL &&
                  cfg->embedding_type != CLSDE_EMBED_FOURIER && !cfg->continuous, net->ctx,
                  CLSDE_ERR_ARG, "the continuous wrapper feeds sigma(t), but this VE model "
                  "was trained with discrete labels (training.continuous = false)");

    for (int32_t b = 0; b < net->batch; b++) {
        const float tb = t[b];
        float label;
        if (mode == CLSDE_TIME_LABEL) {
            CLSDE_FAIL_IF(!isfinite(tb), net->ctx, CLSDE_ERR_ARG, "label[%d] is %g", (int)b, tb);
            label = tb;
        } else {
            CLSDE_FAIL_IF(!(tb > 0.0f && tb <= 1.0f), net->ctx, CLSDE_ERR_ARG,
                          "t[%d] = %g is outside (0, 1]", (int)b, tb);
            if (ve && continuous) {
                label = ve_sigma(cfg, tb);
            } else if (ve) {
                label = (float)clsde_sde_ve_label(&net->sde, tb);
            } else if (continuous) {
                label = tb * 999.0f;
            } else {
                label = tb * (float)(n - 1); /* not rounded: algorithms.md §2 [quirk] */
            }
        }
        out->label[b] = label;

        if (net->io.sigma >= 0) {
            /* positional scale_by_sigma: used_sigmas = sigmas[label.long()] (float64 in
             * the reference, divided here in float32 by the rounded value, ≤ 1 ulp) */
            const double idx = floor((double)label);
            CLSDE_FAIL_IF(!(idx >= 0 && idx < n), net->ctx, CLSDE_ERR_ARG,
                          "label[%d] = %g is outside the network's %d sigmas", (int)b, label,
                          (int)n);
            out->used_sigma[b] = (float)net->sigmas[(int32_t)idx];
        }
        if (want_score && !ve) {
            float std;
            if (continuous) {
                std = vp_std(cfg, tb);
            } else {
                /* sqrt_1m_alphas_cumprod[labels.long()], the float32 table */
                const int32_t k = (int32_t)label;
                CLSDE_FAIL_IF(k < 0 || k >= n, net->ctx, CLSDE_ERR_ARG,
                              "t[%d] = %g gives the table index %d of %d", (int)b, tb, (int)k,
                              (int)n);
                std = net->sde.sqrt_1m_alphas_cumprod[k];
            }
            out->score_div[b] = -std;
        }
    }
    return CLSDE_OK;
}

/* Bind the caller's buffers (NULL members, or bind NULL: the net's own). For VE the score
 * is the output node, so a score buffer alone is bound to it. */
static clsde_status bind_all(clsde_net *net, const clsde_net_bind *bind)
{
    clsde_exec *e = net->exec;
    const clsde_net_bind none = {0};
    const clsde_net_bind *b = bind ? bind : &none;
    const int ve = net->score == net->io.out;
    CLSDE_TRY(clsde_exec_bind(e, net->io.x, b->x));
    CLSDE_TRY(clsde_exec_bind(e, net->io.label, b->label));
    if (net->io.sigma >= 0) CLSDE_TRY(clsde_exec_bind(e, net->io.sigma, b->used_sigma));
    if (net->score_div >= 0) CLSDE_TRY(clsde_exec_bind(e, net->score_div, b->score_div));
    CLSDE_TRY(clsde_exec_bind(e, net->io.out, b->out ? b->out : (ve ? b->score : NULL)));
    if (!ve) CLSDE_TRY(clsde_exec_bind(e, net->score, b->score));
    if (net->jvp) {
        CLSDE_TRY(clsde_exec_bind(e, net->v, b->v));
        CLSDE_TRY(clsde_exec_bind(e, net->tscore, b->tscore));
    }
    return CLSDE_OK;
}

clsde_status clsde_net_enqueue(clsde_net *net, const clsde_net_bind *bind)
{
    const clsde_net_bind none = {0};
    const clsde_net_bind *b = bind ? bind : &none;
    const int ve = net->score == net->io.out;
    CLSDE_TRY(bind_all(net, bind));
    CLSDE_TRY(clsde_exec_enqueue(net->exec));
    if (ve && b->out && b->score && b->score != b->out) {
        const size_t bytes = clsde_node_bytes(&net->g->nodes[net->io.out]);
        CLSDE_CL(net->ctx, clEnqueueCopyBuffer(net->ctx->queue, b->out, b->score, 0, 0, bytes, 0,
                                               NULL, NULL),
                 "clEnqueueCopyBuffer (score = out)");
    }
    return CLSDE_OK;
}

/* NaN/Inf is an error naming the image (style.md §3). */
static clsde_status check_finite(clsde_net *net, const float *a, const char *what)
{
    const size_t per = (size_t)net->cfg->num_channels * net->cfg->image_size *
                       net->cfg->image_size;
    for (int32_t b = 0; b < net->batch; b++)
        for (size_t i = 0; i < per; i++)
            CLSDE_FAIL_IF(!isfinite(a[b * per + i]), net->ctx, CLSDE_ERR_NUMERIC,
                          "network %s of image %d has a non-finite value (%g) at element %zu",
                          what, (int)b, a[b * per + i], i);
    return CLSDE_OK;
}

clsde_status clsde_net_forward_run(clsde_net *net, const float *x, const float *t,
                                   clsde_time_mode mode, float *out, float *score)
{
    clsde_exec *e;
    clsde_net_labels lab;
    size_t img_bytes, vec_bytes;
    CLSDE_FAIL_IF(!net, NULL, CLSDE_ERR_ARG, "clsde_net_forward_run: net is NULL");
    CLSDE_FAIL_IF(!x || !t, net->ctx, CLSDE_ERR_ARG, "clsde_net_forward_run: x or t is NULL");
    e = net->exec;
    img_bytes = clsde_node_bytes(&net->g->nodes[net->io.x]);
    vec_bytes = (size_t)net->batch * sizeof(float);
    lab.label = net->host;
    lab.used_sigma = net->host + net->batch;
    lab.score_div = net->host + 2 * net->batch;
    CLSDE_TRY(clsde_net_compute_labels(net, t, mode, score != NULL, &lab));

    CLSDE_TRY(bind_all(net, NULL));
    CLSDE_TRY(clsde_buffer_write(net->ctx, clsde_exec_mem(e, net->io.x), 0, img_bytes, x));
    CLSDE_TRY(clsde_buffer_write(net->ctx, clsde_exec_mem(e, net->io.label), 0, vec_bytes,
                                 lab.label));
    if (net->io.sigma >= 0)
        CLSDE_TRY(clsde_buffer_write(net->ctx, clsde_exec_mem(e, net->io.sigma), 0, vec_bytes,
                                     lab.used_sigma));
    if (net->score_div >= 0)
        CLSDE_TRY(clsde_buffer_write(net->ctx, clsde_exec_mem(e, net->score_div), 0, vec_bytes,
                                     score ? lab.score_div : lab.label)); /* unused: any value */
    CLSDE_TRY(clsde_exec_enqueue(e));
    if (out) {
        CLSDE_TRY(clsde_buffer_read(net->ctx, clsde_exec_mem(e, net->io.out), 0, img_bytes, out));
        CLSDE_TRY(check_finite(net, out, "output"));
    }
    if (score) {
        CLSDE_TRY(clsde_buffer_read(net->ctx, clsde_exec_mem(e, net->score), 0, img_bytes, score));
        CLSDE_TRY(check_finite(net, score, "score"));
    }
    if (!out && !score) CLSDE_TRY(clsde_finish(net->ctx));
    return CLSDE_OK;
}
