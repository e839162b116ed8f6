/*
 * net.h — a model's network built for one batch size (clsde_net, public in clsde.h), and
 * the score wrapper of algorithms.md §2: labels and score divisors computed on the host in
 * float32 as the reference computes them, the score as a graph node -out/std.
 * Samplers use the internal entry points below to keep their state on the device.
 */
#ifndef CLSDE_NET_H
#define CLSDE_NET_H

#include "exec.h"
#include "runtime.h"
#include "model.h"
#include "nets/nets.h"
#include "sde.h"

struct clsde_net {
    clsde_context *ctx;
    clsde_model *model;       /* not owned */
    const clsde_model_config *cfg;
    int32_t batch;
    clsde_graph *g;
    clsde_nets_io io;         /* x, label, used_sigma inputs; out */
    int32_t score_div;        /* input [B]: -std(t) for VP/subVP, -1 for VE (score = out) */
    int32_t score;            /* output: the score node (= io.out for VE) */
    int jvp;                  /* built by clsde_net_create_jvp: also the score's tangent */
    int32_t v, tscore;        /* jvp: input [B, C, H, W] tangent of x; output (ds/dx) v */
    clsde_exec *exec;
    clsde_sde sde;            /* the model's SDE: discrete float32 schedules (VP alphabar) */
    double *sigmas;           /* [N] the network's float64 sigmas buffer, descending
                                 (networks.md §2.1), for positional scale_by_sigma models */
    float *host;              /* [3B] label, used_sigma, score_div staging */
    double flops, elementwise;/* per image */
};

/* Per-image inputs of one evaluation, computed on the host (algorithms.md §2). */
typedef struct clsde_net_labels {
    float *label;      /* [B] time_cond fed to the network */
    float *used_sigma; /* [B] divisor of scale_by_sigma positional models (unused otherwise) */
    float *score_div;  /* [B] -std: score = out / score_div (VP, subVP; unused for VE) */
} clsde_net_labels;

/* Fill the labels for times t [B] under `mode`. want_score: also the score divisors
 * (CLSDE_ERR_ARG with CLSDE_TIME_LABEL). Checks t against the mode's domain. */
clsde_status clsde_net_compute_labels(const clsde_net *net, const float *t,
                                      clsde_time_mode mode, int want_score,
                                      const clsde_net_labels *out);

/* Device buffers for one evaluation; NULL members use the net's own buffers. */
typedef struct clsde_net_bind {
    cl_mem x;          /* [B, C, H, W] */
    cl_mem label;      /* [B] */
    cl_mem used_sigma; /* [B] */
    cl_mem score_div;  /* [B] */
    cl_mem out;        /* [B, C, H, W] */
    cl_mem score;      /* [B, C, H, W] (VE: the same values as out) */
    cl_mem v;          /* jvp nets: [B, C, H, W] the tangent of x */
    cl_mem tscore;     /* jvp nets: [B, C, H, W] (ds/dx) v */
} clsde_net_bind;

/* A net whose graph also computes the Jacobian-vector product (ds/dx) v of the score along
 * a bound tangent v (graph_jvp.c), for the likelihood's divergence (algorithms.md §6.2). */
clsde_status clsde_net_create_jvp(clsde_context *ctx, clsde_model *model, int32_t batch,
                                  clsde_net **out);

/* Queue one evaluation with the given buffers bound (no host wait). */
clsde_status clsde_net_enqueue(clsde_net *net, const clsde_net_bind *bind);

#endif /* CLSDE_NET_H */
