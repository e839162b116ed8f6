/*
 * exec.h — replays a planned graph on the context's queue (style.md §5).
 *
 * clsde_exec_create uploads every weight once (one device buffer, or a few when the
 * weights exceed the device's largest allocation, with one sub-buffer per weight) and
 * creates one activation arena with a sub-buffer per node at its planned offset; a node
 * that runs in place shares its input's sub-buffer. clsde_exec_enqueue is then one loop
 * calling each node's _enqueue: no allocation, no host synchronisation.
 *
 * Pinned nodes (inputs and outputs) may be bound to caller buffers instead of their
 * arena sub-buffers, so a sampler can hand its own state to the network without a copy.
 */
#ifndef CLSDE_EXEC_H
#define CLSDE_EXEC_H

#include "graph.h"

typedef struct clsde_exec {
    clsde_context *ctx;
    const clsde_graph *g;  /* planned; not owned, must outlive the exec */
    cl_mem *wbuf;          /* [n_wbuf] weight buffers */
    int32_t n_wbuf;
    cl_mem *wmem;          /* [g->n_weights] sub-buffers of wbuf */
    cl_mem arena;          /* g->arena_bytes activation memory (NULL when separate) */
    int32_t separate;      /* one buffer per node instead of the arena (Oclgrind, exec.c) */
    cl_mem *mem;           /* [g->n_nodes] what each node reads/writes (bound or own) */
    cl_mem *own;           /* [g->n_nodes] sub-buffers this exec created (NULL: shared) */
} clsde_exec;

/* Create an executor for a planned graph (clsde_graph_plan). Uploads the weights
 * (blocking). CLSDE_ERR_DEVICE_LIMIT when the arena exceeds the device's largest
 * allocation, CLSDE_ERR_OPENCL, CLSDE_ERR_NOMEM. */
clsde_status clsde_exec_create(clsde_context *ctx, const clsde_graph *g, clsde_exec **out);
void clsde_exec_destroy(clsde_exec *e);

/* The buffer node `node` is computed into (its arena sub-buffer or the bound buffer). */
cl_mem clsde_exec_mem(const clsde_exec *e, int32_t node);

/* Use `mem` (at least the node's bytes) for pinned node `node`; NULL restores the arena
 * sub-buffer. The caller keeps ownership and keeps `mem` alive while it is bound. */
clsde_status clsde_exec_bind(clsde_exec *e, int32_t node, cl_mem mem);

/* Queue nodes [first, first + count) in order (inputs are not computed, they are read).
 * Returns without waiting. */
clsde_status clsde_exec_enqueue_range(clsde_exec *e, int32_t first, int32_t count);

/* Queue the whole graph. Returns without waiting. */
clsde_status clsde_exec_enqueue(clsde_exec *e);

/* Per-node times for profiles: run every node alone (enqueue, wait) `rounds` times over the
 * bound buffers as they are; ms[i] = the fastest run of node i. Each wait costs a launch
 * round trip the replay does not pay, so the sum exceeds a forward by about that much. */
clsde_status clsde_exec_profile(clsde_exec *e, int32_t rounds, double *ms);

#endif /* CLSDE_EXEC_H */
