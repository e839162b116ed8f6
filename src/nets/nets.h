/*
 * nets.h — the network builders: from a model (config + weights) and a batch size to a
 * graph (src/graph.h) whose inputs are the image x and the network label, and whose output
 * is net(x, label) (networks.md §2.1). They know the graph and the model, not OpenCL.
 */
#ifndef CLSDE_NETS_H
#define CLSDE_NETS_H

#include "layers.h"

/* The graph's inputs and output. */
typedef struct clsde_nets_io {
    int32_t x;      /* input [B, C, S, S] */
    int32_t label;  /* input [B]: time_cond (sigma for Fourier models, else a time index) */
    int32_t sigma;  /* input [B]: used_sigmas, the divisor of scale_by_sigma models with a
                       positional embedding (sigmas[long(label)]); -1 when not needed */
    int32_t out;    /* output [B, C, S, S] */
} clsde_nets_io;

/* NCSN++ / DDPM++ (models/ncsnpp.py, networks.md §2). */
clsde_status clsde_ncsnpp_build(clsde_graph *g, const struct clsde_model *model, int32_t batch,
                                clsde_nets_io *io);
/* DDPM (models/ddpm.py, networks.md §3). */
clsde_status clsde_ddpm_build(clsde_graph *g, const struct clsde_model *model, int32_t batch,
                              clsde_nets_io *io);

#endif /* CLSDE_NETS_H */
