/*
 * test_plan.c — the memory planner on hand-made graphs: offsets, in-place reuse, best fit,
 * growth at the arena's end, alignment, pinned nodes, peak vs naive sum, bad inputs.
 * Expected offsets were worked out by hand from the rules in src/plan.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plan.h"

/* every input slot spelled out: an omitted one would be 0, i.e. node 0 */
#define NONE {-1, -1, -1, -1, -1, -1}
#define IN1(a) {a, -1, -1, -1, -1, -1}
#define IN2(a, b) {a, b, -1, -1, -1, -1}
#define IN3(a, b, c) {a, b, c, -1, -1, -1}
_Static_assert(CLSDE_PLAN_MAX_IN == 6, "the IN macros spell out CLSDE_PLAN_MAX_IN slots");

#define MAX_NODES 8

/* One hand-made graph and the plan worked out for it from the rules in src/plan.h. */
typedef struct plan_case {
    const char *name;
    const clsde_plan_node *nodes; /* [n], given with GRAPH() */
    int32_t n;
    const int32_t *order;         /* NULL: index order */
    size_t align;
    size_t off[MAX_NODES];        /* expected offset of each node */
    int track_inplace;            /* 0: plan with inplace NULL; 1: check the flags below */
    int32_t inplace[MAX_NODES];   /* expected in-place flag of each node */
    size_t peak, naive;           /* expected stats; n_inplace is the count of flags */
} plan_case;

#define GRAPH(...)                                                                         \
    .nodes = (const clsde_plan_node[]){__VA_ARGS__},                                       \
    .n = (int32_t)(sizeof((const clsde_plan_node[]){__VA_ARGS__}) / sizeof(clsde_plan_node))

static const plan_case cases[] = {
    {   /* in -> a -> b -> out: a's block is free when out is planned. */
        .name = "chain",
        GRAPH({1024, NONE, -1, 1},
              {1024, IN1(0), -1, 0},
              {1024, IN1(1), -1, 0},
              {1024, IN1(2), -1, 1}),
        .align = 256,
        .off = {0, 1024, 2048, 1024 /* a's block, freed after b */},
        .track_inplace = 1, .inplace = {0, 0, 0, 0},
        .peak = 3072, .naive = 4096,
    },
    {   /* The same chain with in-place ops: b takes a's block, out takes b's; the pinned
         * input is never taken over. */
        .name = "chain_inplace",
        GRAPH({1024, NONE, -1, 1},
              {1024, IN1(0), 0, 0}, /* may run in place, but its input is pinned */
              {1024, IN1(1), 0, 0},
              {1024, IN1(2), 0, 1}),
        .align = 256,
        .off = {0, 1024, 1024, 1024},
        .track_inplace = 1, .inplace = {0, 0, 1, 1},
        .peak = 2048, .naive = 4096,
    },
    {   /* In place only at the input's last use, into a block that is large enough, and
         * through the residual slot (2) of a conv-like node. 0@0; 1@512; 2@1024 (end 1536);
         * 3@1536 (end 1792), a freed -> [512,1024); 4: 1024 > 512 free, last free block does
         * not end at 1792 -> 1792 (end 2816), c freed -> [512,1024),[1536,1792); 5: 512 ->
         * best fit [512,1024) exactly; b freed -> [1024,1792) merged; 6: in place on d at
         * 1792. */
        .name = "inplace_conditions",
        GRAPH({512, NONE, -1, 1},         /* 0 input */
              {512, IN1(0), -1, 0},       /* 1 a */
              {512, IN1(1), 0, 0},        /* 2 b: a is read again by 3, so not in place */
              {256, IN1(1), -1, 0},       /* 3 c: last use of a -> a freed */
              {1024, IN1(3), 0, 0},       /* 4 d: c's block (256) is too small */
              {512, IN3(2, -1, 0), 2, 0}, /* 5 e: slot 2 is the pinned input: no */
              {1024, IN3(5, -1, 4), 2, 1}),/* 6 out: slot 2 = d, last use -> in place */
        .align = 256,
        .off = {0, 512, 1024, 1536, 1792, 512, 1792},
        .track_inplace = 1, .inplace = {0, 0, 0, 0, 0, 0, 1},
        .peak = 2816, .naive = 512 + 512 + 512 + 256 + 1024 + 512 + 1024,
    },
    {   /* Best fit: with free blocks of 2048 and 1024 bytes, a 1024-byte request takes the
         * second. */
        .name = "best_fit",
        GRAPH({256, NONE, -1, 1},            /* 0 in   @0 */
              {2048, IN1(0), -1, 0},         /* 1 A    @256 */
              {256, IN1(0), -1, 0},          /* 2 B    @2304 */
              {1024, IN1(0), -1, 0},         /* 3 C    @2560 */
              {256, IN1(0), -1, 0},          /* 4 D    @3584 */
              {256, IN2(1, 3), -1, 0},       /* 5 E    @3840, then A and C are free */
              {1024, IN3(2, 4, 5), -1, 1}),  /* 6 F    best fit: C's block @2560 */
        .align = 256,
        .off = {0, 256, 2304, 2560, 3584, 3840, 2560},
        .peak = 4096, .naive = 5120,
    },
    {   /* A request that fits no free block reuses the free block at the arena's end and
         * grows the arena only by the difference. */
        .name = "grow_at_end",
        GRAPH({256, NONE, -1, 1},      /* 0 @0 */
              {1024, IN1(0), -1, 0},   /* 1 a @256 (end 1280) */
              {256, IN1(1), -1, 0},    /* 2 b @1280 (end 1536); a freed */
              {512, IN1(2), -1, 0},    /* 3 c @256; b freed -> free [768,1536) */
              {2048, IN1(3), -1, 1}),  /* 4 d: no fit; [768,1536) ends at the end -> @768 */
        .align = 256,
        .off = {0, 256, 1280, 256, 768},
        .peak = 768 + 2048, .naive = 256 + 1024 + 256 + 512 + 2048,
    },
    {   /* Every block is rounded up to the alignment; offsets are multiples of it. */
        .name = "alignment",
        GRAPH({100, NONE, -1, 1},
              {4, IN1(0), -1, 0},
              {0, IN1(1), -1, 0}, /* an empty tensor still gets a block of its own */
              {129, IN1(2), -1, 1}),
        .align = 128,
        .off = {0, 128, 256, 384 /* 256 B needs two units; the freed [128,256) is too small */},
        .peak = 640, .naive = 128 + 128 + 128 + 256,
    },
    {   /* A result nobody reads is freed right after its node; pinned outputs are kept. */
        .name = "dead_node_and_pinned",
        GRAPH({256, NONE, -1, 1},    /* 0 */
              {1024, IN1(0), -1, 0}, /* 1 dead: freed at once */
              {1024, IN1(0), -1, 1}, /* 2 output: reuses 1's block */
              {1024, IN1(0), -1, 1}),/* 3 output: 2 is pinned, so a new block */
        .align = 256,
        .off = {0, 256, 256, 1280},
        .peak = 2304, .naive = 256 + 3 * 1024,
    },
    {   /* An explicit order: node 2 runs before node 1. */
        .name = "order",
        GRAPH({256, NONE, -1, 1},
              {512, IN1(0), -1, 1},
              {256, IN1(0), -1, 1}),
        .order = (const int32_t[]){0, 2, 1},
        .align = 256,
        .off = {0, 512, 256},
        .peak = 1024, .naive = 1024,
    },
    {   /* An input that appears late in the order is still placed before every node: the
         * caller writes it before the run, so no earlier node may use its bytes. */
        .name = "late_input",
        GRAPH({256, NONE, -1, 1},      /* 0 x */
              {1024, IN1(0), -1, 0},   /* 1 dead after 2 */
              {256, IN1(1), -1, 0},    /* 2 */
              {1024, NONE, -1, 1},     /* 3 a second input, declared late: placed with the
                                        * inputs, not in 1's freed block */
              {256, IN2(2, 3), -1, 1}),/* 4 output: 1's block, free by then */
        .align = 256,
        .off = {0, 1280, 2304, 256, 1280},
        .peak = 2560, .naive = 256 + 1024 + 256 + 1024 + 256,
    },
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/* Plan one case and compare every offset, flag and statistic with the worked-out ones. */
static void test_case(void **state)
{
    const plan_case *c = *state;
    size_t off[MAX_NODES];
    int32_t inplace[MAX_NODES], n_inplace = 0;
    clsde_plan_stats st;
    assert_true(c->n <= MAX_NODES);
    assert_int_equal(clsde_plan_build(c->nodes, c->n, c->order, c->align, off,
                                      c->track_inplace ? inplace : NULL, &st),
                     CLSDE_PLAN_OK);
    for (int i = 0; i < c->n; i++) {
        if (off[i] != c->off[i])
            fail_msg("%s: node %d at offset %zu, want %zu", c->name, i, off[i], c->off[i]);
        if (off[i] % c->align)
            fail_msg("%s: node %d at offset %zu, not a multiple of %zu", c->name, i, off[i],
                     c->align);
        if (c->track_inplace && inplace[i] != c->inplace[i])
            fail_msg("%s: node %d in place %d, want %d", c->name, i, (int)inplace[i],
                     (int)c->inplace[i]);
        n_inplace += c->inplace[i];
    }
    if (st.peak_bytes != c->peak || st.naive_bytes != c->naive)
        fail_msg("%s: peak %zu, naive %zu; want %zu, %zu", c->name, st.peak_bytes,
                 st.naive_bytes, c->peak, c->naive);
    if (c->track_inplace && st.n_inplace != n_inplace)
        fail_msg("%s: %d in place, want %d", c->name, (int)st.n_inplace, (int)n_inplace);
}

/* U-Net-like skip: a skip tensor stays live across the middle and blocks reuse of its
 * block; the concat at the end frees both. Checks peak < naive and no live overlap. */
static void test_no_live_overlap(void **state)
{
    const clsde_plan_node nodes[] = {
        {1024, NONE, -1, 1},      /* 0 x */
        {1024, IN1(0), -1, 0},    /* 1 h0 (skip) */
        {256, IN1(1), -1, 0},     /* 2 down */
        {256, IN1(2), 0, 0},      /* 3 mid, in place */
        {256, IN1(3), 0, 0},      /* 4 mid2, in place */
        {1024, IN1(4), -1, 0},    /* 5 up */
        {2048, IN2(5, 1), -1, 0}, /* 6 concat(up, skip) */
        {1024, IN1(6), -1, 1},    /* 7 out */
    };
    size_t off[8];
    int32_t inplace[8];
    clsde_plan_stats st;
    int last_use[8] = {0};
    (void)state;
    assert_int_equal(clsde_plan_build(nodes, 8, NULL, 256, off, inplace, &st), CLSDE_PLAN_OK);
    for (int i = 0; i < 8; i++)
        for (int s = 0; s < CLSDE_PLAN_MAX_IN; s++)
            if (nodes[i].in[s] >= 0) last_use[nodes[i].in[s]] = i;
    for (int i = 0; i < 8; i++) last_use[i] = nodes[i].pinned ? 8 : (last_use[i] ? last_use[i] : i);
    /* two nodes whose lifetimes [i, last_use] intersect may share bytes only in place */
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++) {
            const int takes_i = inplace[j] && nodes[j].in[nodes[j].inplace_slot] == i;
            const int live_together = j < last_use[i] || (j == last_use[i] && !takes_i);
            const int overlap = off[i] < off[j] + nodes[j].bytes && off[j] < off[i] + nodes[i].bytes;
            if (live_together && overlap) fail_msg("nodes %d and %d overlap while live", i, j);
        }
    assert_true(inplace[3] && inplace[4]);
    assert_true(st.peak_bytes < st.naive_bytes);
    assert_int_equal(st.peak_bytes, 1024 + 1024 + 256 + 1024 + 2048);
}

static void test_errors(void **state)
{
    const clsde_plan_node fwd[] = {
        {256, NONE, -1, 1},
        {256, IN1(2), -1, 0}, /* reads a node computed after it */
        {256, IN1(0), -1, 1},
    };
    const clsde_plan_node range[] = {
        {256, NONE, -1, 1},
        {256, IN1(7), -1, 1},
    };
    const int32_t dup[] = {0, 0, 1};
    size_t off[3];
    clsde_plan_stats st;
    (void)state;
    assert_int_equal(clsde_plan_build(fwd, 3, NULL, 256, off, NULL, &st), CLSDE_PLAN_BAD_INPUT);
    assert_int_equal(clsde_plan_build(range, 2, NULL, 256, off, NULL, &st), CLSDE_PLAN_BAD_INPUT);
    assert_int_equal(clsde_plan_build(fwd, 3, dup, 256, off, NULL, &st), CLSDE_PLAN_BAD_ORDER);
    assert_int_equal(clsde_plan_build(fwd, 3, NULL, 96, off, NULL, &st), CLSDE_PLAN_BAD_ALIGN);
    assert_int_equal(clsde_plan_build(fwd, 3, NULL, 0, off, NULL, &st), CLSDE_PLAN_BAD_ALIGN);
    /* with a valid order that computes 2 first, the same nodes are fine */
    {
        const int32_t order[] = {0, 2, 1};
        assert_int_equal(clsde_plan_build(fwd, 3, order, 256, off, NULL, &st), CLSDE_PLAN_OK);
    }
    assert_string_equal(clsde_plan_strerror(CLSDE_PLAN_BAD_ORDER),
                        "the order is not a permutation of the nodes");
}

int main(void)
{
    struct CMUnitTest tests[N_CASES + 2];
    for (int i = 0; i < N_CASES; i++)
        tests[i] = (struct CMUnitTest){cases[i].name, test_case, NULL, NULL, (void *)&cases[i]};
    tests[N_CASES] = (struct CMUnitTest)cmocka_unit_test(test_no_live_overlap);
    tests[N_CASES + 1] = (struct CMUnitTest)cmocka_unit_test(test_errors);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
