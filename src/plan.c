/*
 * plan.c — liveness-based activation planner (see plan.h for the algorithm and usage).
 * Pure C: no OpenCL, no graph types, deterministic for a given input.
 */
#include <stdlib.h>

#include "plan.h"

typedef struct block {
    size_t off, size;
} block;

typedef struct arena {
    block *free;     /* free blocks, sorted by offset, never adjacent (merged) */
    int32_t n_free;
    size_t end;      /* high-water mark: the arena size so far */
} arena;

/* Best fit: the smallest free block that holds `size`; ties go to the lowest offset. If
 * none fits, grow the arena, reusing a free block that ends at the arena's end. */
static size_t arena_alloc(arena *a, size_t size)
{
    int32_t best = -1;
    for (int32_t i = 0; i < a->n_free; i++)
        if (a->free[i].size >= size && (best < 0 || a->free[i].size < a->free[best].size))
            best = i;
    if (best >= 0) {
        const size_t off = a->free[best].off;
        a->free[best].off += size;
        a->free[best].size -= size;
        if (a->free[best].size == 0) {
            for (int32_t i = best; i + 1 < a->n_free; i++) a->free[i] = a->free[i + 1];
            a->n_free--;
        }
        return off;
    }
    if (a->n_free > 0) {
        const block last = a->free[a->n_free - 1];
        if (last.off + last.size == a->end) {
            a->n_free--;
            a->end = last.off + size;
            return last.off;
        }
    }
    a->end += size;
    return a->end - size;
}

/* Return a block, merging it with free neighbours. The free list has room for every node
 * (it never holds more blocks than there are nodes). */
static void arena_release(arena *a, size_t off, size_t size)
{
    int32_t i = 0;
    while (i < a->n_free && a->free[i].off < off) i++;
    const int merge_prev = i > 0 && a->free[i - 1].off + a->free[i - 1].size == off;
    const int merge_next = i < a->n_free && off + size == a->free[i].off;
    if (merge_prev && merge_next) {
        a->free[i - 1].size += size + a->free[i].size;
        for (int32_t j = i; j + 1 < a->n_free; j++) a->free[j] = a->free[j + 1];
        a->n_free--;
    } else if (merge_prev) {
        a->free[i - 1].size += size;
    } else if (merge_next) {
        a->free[i].off = off;
        a->free[i].size += size;
    } else {
        for (int32_t j = a->n_free; j > i; j--) a->free[j] = a->free[j - 1];
        a->free[i].off = off;
        a->free[i].size = size;
        a->n_free++;
    }
}

static int is_graph_input(const clsde_plan_node *nd)
{
    return nd->pinned && nd->in[0] < 0 && nd->in[1] < 0 && nd->in[2] < 0;
}

static size_t aligned_size(size_t bytes, size_t align)
{
    const size_t s = (bytes + align - 1) & ~(align - 1);
    return s ? s : align;
}

clsde_plan_result clsde_plan_build(const clsde_plan_node *nodes, int32_t n,
                                   const int32_t *order, size_t align, size_t *offsets,
                                   int32_t *inplace, clsde_plan_stats *stats)
{
    clsde_plan_result r = CLSDE_PLAN_OK;
    arena a = {0};
    int32_t *pos = NULL, *remaining = NULL, *owns = NULL;
    size_t *blk_size = NULL;
    stats->peak_bytes = stats->naive_bytes = 0;
    stats->n_inplace = 0;

    if (align == 0 || (align & (align - 1)) != 0) return CLSDE_PLAN_BAD_ALIGN;
    if (n <= 0) return CLSDE_PLAN_OK;
    pos = malloc((size_t)n * sizeof *pos);
    remaining = calloc((size_t)n, sizeof *remaining);
    owns = calloc((size_t)n, sizeof *owns);
    blk_size = calloc((size_t)n, sizeof *blk_size);
    a.free = malloc((size_t)n * sizeof *a.free);
    if (!pos || !remaining || !owns || !blk_size || !a.free) {
        r = CLSDE_PLAN_NOMEM;
        goto done;
    }

    /* Position of each node in the order; every input must run before its consumer. */
    for (int32_t i = 0; i < n; i++) pos[i] = -1;
    for (int32_t k = 0; k < n; k++) {
        const int32_t i = order ? order[k] : k;
        if (i < 0 || i >= n || pos[i] >= 0) {
            r = CLSDE_PLAN_BAD_ORDER;
            goto done;
        }
        pos[i] = k;
    }
    for (int32_t i = 0; i < n; i++) {
        for (int s = 0; s < CLSDE_PLAN_MAX_IN; s++) {
            const int32_t p = nodes[i].in[s];
            if (p == -1) continue;
            if (p < 0 || p >= n || pos[p] >= pos[i]) {
                r = CLSDE_PLAN_BAD_INPUT;
                goto done;
            }
            remaining[p]++;
        }
        stats->naive_bytes += aligned_size(nodes[i].bytes, align);
    }

    /* Graph inputs (pinned, reading nothing) are written by the caller before the run, so
     * they are live from its start: they get their blocks before any node runs. */
    for (int32_t k = 0; k < n; k++) {
        const int32_t i = order ? order[k] : k;
        if (inplace) inplace[i] = 0;
        if (is_graph_input(&nodes[i])) {
            offsets[i] = arena_alloc(&a, aligned_size(nodes[i].bytes, align));
            blk_size[i] = aligned_size(nodes[i].bytes, align);
            owns[i] = 1;
        }
    }

    for (int32_t k = 0; k < n; k++) {
        const int32_t i = order ? order[k] : k;
        const clsde_plan_node *nd = &nodes[i];
        const size_t size = aligned_size(nd->bytes, align);
        const int32_t slot = nd->inplace_slot;
        const int32_t p = slot >= 0 && slot < CLSDE_PLAN_MAX_IN ? nd->in[slot] : -1;
        if (is_graph_input(nd)) continue;

        /* In place: this is the input's only remaining use, its block is big enough and
         * nobody else must keep it (not pinned). The block changes owner. */
        if (p >= 0 && !nodes[p].pinned && owns[p] && remaining[p] == 1 && blk_size[p] >= size) {
            offsets[i] = offsets[p];
            blk_size[i] = blk_size[p];
            owns[p] = 0;
            if (inplace) inplace[i] = 1;
            stats->n_inplace++;
        } else {
            offsets[i] = arena_alloc(&a, size);
            blk_size[i] = size;
        }
        owns[i] = 1;

        for (int s = 0; s < CLSDE_PLAN_MAX_IN; s++) {
            const int32_t q = nd->in[s];
            if (q < 0) continue;
            if (--remaining[q] == 0 && owns[q] && !nodes[q].pinned) {
                arena_release(&a, offsets[q], blk_size[q]);
                owns[q] = 0;
            }
        }
        /* A result nobody reads (and nobody pinned) is dead right after its node. */
        if (remaining[i] == 0 && !nd->pinned) {
            arena_release(&a, offsets[i], blk_size[i]);
            owns[i] = 0;
        }
    }
    stats->peak_bytes = a.end;

done:
    free(pos);
    free(remaining);
    free(owns);
    free(blk_size);
    free(a.free);
    return r;
}

const char *clsde_plan_strerror(clsde_plan_result r)
{
    switch (r) {
    case CLSDE_PLAN_OK: return "ok";
    case CLSDE_PLAN_BAD_INPUT: return "an input is out of range or not computed before its use";
    case CLSDE_PLAN_BAD_ORDER: return "the order is not a permutation of the nodes";
    case CLSDE_PLAN_NOMEM: return "out of host memory";
    case CLSDE_PLAN_BAD_ALIGN: return "the alignment is not a power of two";
    }
    return "unknown planner result";
}
