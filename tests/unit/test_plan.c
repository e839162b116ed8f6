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

#define NONE {-1, -1, -1}
#define IN1(a) {a, -1, -1}
#define IN2(a, b) {a, b, -1}
#define IN3(a, b, c) {a, b, c}

static void plan_ok(const clsde_plan_node *nodes, int32_t n, const int32_t *order, size_t align,
                    size_t *off, int32_t *inplace, clsde_plan_stats *st)
{
    assert_int_equal(clsde_plan_build(nodes, n, order, align, off, inplace, st), CLSDE_PLAN_OK);
}

/* in -> a -> b -> out: a's block is free when out is planned. */
static void test_chain(void **state)
{
    const clsde_plan_node nodes[] = {
        {1024, NONE, -1, 1},
        {1024, IN1(0), -1, 0},
        {1024, IN1(1), -1, 0},
        {1024, IN1(2), -1, 1},
    };
    size_t off[4];
    int32_t inplace[4];
    clsde_plan_stats st;
    (void)state;
    plan_ok(nodes, 4, NULL, 256, off, inplace, &st);
    assert_int_equal(off[0], 0);
    assert_int_equal(off[1], 1024);
    assert_int_equal(off[2], 2048);
    assert_int_equal(off[3], 1024); /* a's block, freed after b */
    assert_int_equal(st.peak_bytes, 3072);
    assert_int_equal(st.naive_bytes, 4096);
    assert_int_equal(st.n_inplace, 0);
}

/* The same chain with in-place ops: b takes a's block, out takes b's; the pinned input is
 * never taken over. */
static void test_chain_inplace(void **state)
{
    const clsde_plan_node nodes[] = {
        {1024, NONE, -1, 1},
        {1024, IN1(0), 0, 0}, /* may run in place, but its input is pinned */
        {1024, IN1(1), 0, 0},
        {1024, IN1(2), 0, 1},
    };
    size_t off[4];
    int32_t inplace[4];
    clsde_plan_stats st;
    (void)state;
    plan_ok(nodes, 4, NULL, 256, off, inplace, &st);
    assert_int_equal(off[0], 0);
    assert_int_equal(off[1], 1024);
    assert_int_equal(off[2], 1024);
    assert_int_equal(off[3], 1024);
    assert_int_equal(inplace[1], 0);
    assert_int_equal(inplace[2], 1);
    assert_int_equal(inplace[3], 1);
    assert_int_equal(st.peak_bytes, 2048);
    assert_int_equal(st.n_inplace, 2);
}

/* In place only at the input's last use, into a block that is large enough, and through
 * the residual slot (2) of a conv-like node. */
static void test_inplace_conditions(void **state)
{
    const clsde_plan_node nodes[] = {
        {512, NONE, -1, 1},         /* 0 input */
        {512, IN1(0), -1, 0},       /* 1 a */
        {512, IN1(1), 0, 0},        /* 2 b: a is read again by 3, so not in place */
        {256, IN1(1), -1, 0},       /* 3 c: last use of a -> a freed */
        {1024, IN1(3), 0, 0},       /* 4 d: c's block (256) is too small */
        {512, IN3(2, -1, 0), 2, 0}, /* 5 e: slot 2 is the pinned input: no */
        {1024, IN3(5, -1, 4), 2, 1},/* 6 out: slot 2 = d, last use -> in place */
    };
    size_t off[7];
    int32_t inplace[7];
    clsde_plan_stats st;
    (void)state;
    plan_ok(nodes, 7, NULL, 256, off, inplace, &st);
    /* 0@0; 1@512; 2@1024 (end 1536); 3@1536 (end 1792), a freed -> [512,1024);
     * 4: 1024 > 512 free, last free block does not end at 1792 -> 1792 (end 2816), c freed
     * -> [512,1024),[1536,1792); 5: 512 -> best fit [512,1024) exactly; b freed ->
     * [1024,1792) merged; 6: in place on d at 1792. */
    assert_int_equal(off[0], 0);
    assert_int_equal(off[1], 512);
    assert_int_equal(off[2], 1024);
    assert_int_equal(off[3], 1536);
    assert_int_equal(off[4], 1792);
    assert_int_equal(off[5], 512);
    assert_int_equal(off[6], 1792);
    assert_int_equal(inplace[2], 0);
    assert_int_equal(inplace[4], 0);
    assert_int_equal(inplace[5], 0);
    assert_int_equal(inplace[6], 1);
    assert_int_equal(st.peak_bytes, 2816);
    assert_int_equal(st.naive_bytes, 512 + 512 + 512 + 256 + 1024 + 512 + 1024);
}

/* Best fit: with free blocks of 2048 and 1024 bytes, a 1024-byte request takes the second. */
static void test_best_fit(void **state)
{
    const clsde_plan_node nodes[] = {
        {256, NONE, -1, 1},            /* 0 in   @0 */
        {2048, IN1(0), -1, 0},         /* 1 A    @256 */
        {256, IN1(0), -1, 0},          /* 2 B    @2304 */
        {1024, IN1(0), -1, 0},         /* 3 C    @2560 */
        {256, IN1(0), -1, 0},          /* 4 D    @3584 */
        {256, IN2(1, 3), -1, 0},       /* 5 E    @3840, then A and C are free */
        {1024, IN3(2, 4, 5), -1, 1},   /* 6 F    best fit: C's block @2560 */
    };
    size_t off[7];
    clsde_plan_stats st;
    (void)state;
    plan_ok(nodes, 7, NULL, 256, off, NULL, &st);
    const size_t want[7] = {0, 256, 2304, 2560, 3584, 3840, 2560};
    for (int i = 0; i < 7; i++) assert_int_equal(off[i], want[i]);
    assert_int_equal(st.peak_bytes, 4096);
    assert_int_equal(st.naive_bytes, 5120);
}

/* A request that fits no free block reuses the free block at the arena's end and grows
 * the arena only by the difference. */
static void test_grow_at_end(void **state)
{
    const clsde_plan_node nodes[] = {
        {256, NONE, -1, 1},      /* 0 @0 */
        {1024, IN1(0), -1, 0},   /* 1 a @256 (end 1280) */
        {256, IN1(1), -1, 0},    /* 2 b @1280 (end 1536); a freed */
        {512, IN1(2), -1, 0},    /* 3 c @256; b freed -> free [768,1536) */
        {2048, IN1(3), -1, 1},   /* 4 d: no fit; [768,1536) ends at the end -> @768 */
    };
    size_t off[5];
    clsde_plan_stats st;
    (void)state;
    plan_ok(nodes, 5, NULL, 256, off, NULL, &st);
    assert_int_equal(off[1], 256);
    assert_int_equal(off[2], 1280);
    assert_int_equal(off[3], 256);
    assert_int_equal(off[4], 768);
    assert_int_equal(st.peak_bytes, 768 + 2048);
}

/* Every block is rounded up to the alignment; offsets are multiples of it. */
static void test_alignment(void **state)
{
    const clsde_plan_node nodes[] = {
        {100, NONE, -1, 1},
        {4, IN1(0), -1, 0},
        {0, IN1(1), -1, 0}, /* an empty tensor still gets a block of its own */
        {129, IN1(2), -1, 1},
    };
    size_t off[4];
    clsde_plan_stats st;
    (void)state;
    plan_ok(nodes, 4, NULL, 128, off, NULL, &st);
    assert_int_equal(off[0], 0);
    assert_int_equal(off[1], 128);
    assert_int_equal(off[2], 256);
    assert_int_equal(off[3], 384); /* 256 B needs two units; the freed [128,256) is too small */
    assert_int_equal(st.peak_bytes, 640);
    assert_int_equal(st.naive_bytes, 128 + 128 + 128 + 256);
    for (int i = 0; i < 4; i++) assert_int_equal(off[i] % 128, 0);
}

/* A result nobody reads is freed right after its node; pinned outputs are kept. */
static void test_dead_node_and_pinned(void **state)
{
    const clsde_plan_node nodes[] = {
        {256, NONE, -1, 1},    /* 0 */
        {1024, IN1(0), -1, 0}, /* 1 dead: freed at once */
        {1024, IN1(0), -1, 1}, /* 2 output: reuses 1's block */
        {1024, IN1(0), -1, 1}, /* 3 output: 2 is pinned, so a new block */
    };
    size_t off[4];
    clsde_plan_stats st;
    (void)state;
    plan_ok(nodes, 4, NULL, 256, off, NULL, &st);
    assert_int_equal(off[1], 256);
    assert_int_equal(off[2], 256);
    assert_int_equal(off[3], 1280);
    assert_int_equal(st.peak_bytes, 2304);
}

/* An explicit order: node 2 runs before node 1. */
static void test_order(void **state)
{
    const clsde_plan_node nodes[] = {
        {256, NONE, -1, 1},
        {512, IN1(0), -1, 1},
        {256, IN1(0), -1, 1},
    };
    const int32_t order[] = {0, 2, 1};
    size_t off[3];
    clsde_plan_stats st;
    (void)state;
    plan_ok(nodes, 3, order, 256, off, NULL, &st);
    assert_int_equal(off[0], 0);
    assert_int_equal(off[2], 256);
    assert_int_equal(off[1], 512);
    assert_int_equal(st.peak_bytes, 1024);
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
    plan_ok(nodes, 8, NULL, 256, off, inplace, &st);
    for (int i = 0; i < 8; i++)
        for (int s = 0; s < 3; s++)
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

/* An input that appears late in the order is still placed before every node: the caller
 * writes it before the run, so no earlier node may use its bytes. */
static void test_late_input(void **state)
{
    const clsde_plan_node nodes[] = {
        {256, NONE, -1, 1},      /* 0 x */
        {1024, IN1(0), -1, 0},   /* 1 dead after 2 */
        {256, IN1(1), -1, 0},    /* 2 */
        {1024, NONE, -1, 1},     /* 3 a second input, declared late */
        {256, IN2(2, 3), -1, 1}, /* 4 output */
    };
    size_t off[5];
    clsde_plan_stats st;
    (void)state;
    plan_ok(nodes, 5, NULL, 256, off, NULL, &st);
    assert_int_equal(off[0], 0);
    assert_int_equal(off[3], 256); /* placed with the inputs, not in 1's freed block */
    assert_int_equal(off[1], 1280);
    assert_int_equal(off[2], 2304);
    assert_int_equal(off[4], 1280); /* 1's block, free by then */
    assert_int_equal(st.peak_bytes, 2560);
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_chain_inplace),
        cmocka_unit_test(test_inplace_conditions),
        cmocka_unit_test(test_best_fit),
        cmocka_unit_test(test_grow_at_end),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_dead_node_and_pinned),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_no_live_overlap),
        cmocka_unit_test(test_late_input),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
