/*
 * plan.h — the activation memory planner: a pure function from (node sizes, inputs,
 * order, pinned nodes, in-place permissions) to offsets in one arena. No OpenCL, no graph
 * types, so unit tests can feed it hand-made graphs (tests/unit/test_plan.c).
 *
 * Algorithm (ggml's ggml_gallocr_alloc_graph_impl): count each node's consumers; walk
 * the nodes in `order`; give each output a block, reusing the in-place input's block when
 * the op allows it and this node is that input's last consumer; after a node, free every
 * input whose last consumer it was. Free blocks are kept sorted by offset and merged with
 * their neighbours; an allocation takes the smallest free block that fits (best fit), else
 * grows the arena at its end. Pinned nodes (graph inputs and outputs) get a block of their
 * own that is never freed or shared, so the caller can write and read them around a run;
 * graph inputs (pinned nodes that read nothing) are placed first, before any node runs,
 * wherever they stand in the order, since the caller writes them before the run.
 *
 * Usage:
 *     clsde_plan_node nodes[3] = {   // every one of the CLSDE_PLAN_MAX_IN slots given
 *         {.bytes = 1024, .in = {-1, -1, -1, -1, -1, -1}, .inplace_slot = -1, .pinned = 1},
 *         {.bytes = 1024, .in = {0, -1, -1, -1, -1, -1},  .inplace_slot = -1},
 *         {.bytes = 1024, .in = {1, -1, -1, -1, -1, -1},  .inplace_slot = 0, .pinned = 1},
 *     };
 *     size_t off[3]; clsde_plan_stats st;
 *     clsde_plan_build(nodes, 3, NULL, 256, off, &st);
 */
#ifndef CLSDE_PLAN_H
#define CLSDE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define CLSDE_PLAN_MAX_IN 6

typedef struct clsde_plan_node {
    size_t bytes;                   /* output size (rounded up to the alignment inside) */
    int32_t in[CLSDE_PLAN_MAX_IN];  /* producer indices, -1 for unused slots */
    int32_t inplace_slot;           /* input slot whose block the output may take, or -1 */
    int32_t pinned;                 /* 1: never shares memory with another node */
} clsde_plan_node;

typedef struct clsde_plan_stats {
    size_t peak_bytes;   /* arena size the plan needs */
    size_t naive_bytes;  /* sum of every node's aligned size (no reuse at all) */
    int32_t n_inplace;   /* outputs that took over their input's block */
} clsde_plan_stats;

typedef enum clsde_plan_result {
    CLSDE_PLAN_OK = 0,
    CLSDE_PLAN_BAD_INPUT = -1,  /* an input index outside [0, n) or not before its consumer */
    CLSDE_PLAN_BAD_ORDER = -2,  /* order is not a permutation of 0..n-1 */
    CLSDE_PLAN_NOMEM = -3,
    CLSDE_PLAN_BAD_ALIGN = -4   /* align is 0 or not a power of two */
} clsde_plan_result;

/* Plan n nodes executed in `order` (NULL: 0, 1, ..., n-1). Every input must come before
 * its consumer in that order. `align` (a power of two) aligns every block. Writes
 * offsets[i] for every node i, and inplace[i] = 1 where node i took its input's block
 * (inplace may be NULL). */
clsde_plan_result clsde_plan_build(const clsde_plan_node *nodes, int32_t n,
                                   const int32_t *order, size_t align, size_t *offsets,
                                   int32_t *inplace, clsde_plan_stats *stats);

/* Fixed text for a result. */
const char *clsde_plan_strerror(clsde_plan_result r);

#endif /* CLSDE_PLAN_H */
