/*
 * test_graph.c — graph building without OpenCL: shape inference of every builder, the op
 * table, sticky errors with their messages, planning (in place, pinned outputs) and the
 * printed form (style.md §5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph.h"

static float zeros[4096]; /* host weights: values do not matter for shapes */

static void expect_shape(const clsde_graph *g, int32_t id, int32_t n, int32_t c, int32_t h,
                         int32_t w)
{
    assert_true(id >= 0);
    assert_int_equal(g->nodes[id].shape[0], n);
    assert_int_equal(g->nodes[id].shape[1], c);
    assert_int_equal(g->nodes[id].shape[2], h);
    assert_int_equal(g->nodes[id].shape[3], w);
}

static void test_op_table(void **state)
{
    (void)state;
    for (int op = 0; op < CLSDE_OP_COUNT; op++) {
        const clsde_op_info *info = clsde_op_get_info((clsde_op)op);
        assert_non_null(info);
        assert_non_null(info->name);
        assert_true(info->n_in >= 0 && info->n_in <= CLSDE_GRAPH_MAX_IN);
        assert_true(info->inplace_slot < info->n_in);
    }
    assert_null(clsde_op_get_info(CLSDE_OP_COUNT));
    assert_string_equal(clsde_op_get_info(CLSDE_OP_GROUP_NORM)->name, "group_norm");
    assert_int_equal(clsde_op_get_info(CLSDE_OP_CONV2D)->inplace_slot, 2); /* the residual */
}

/* One of each builder, shapes as networks.md §1 gives them. */
static void test_shapes(void **state)
{
    clsde_graph *g;
    (void)state;
    assert_int_equal(clsde_graph_create(NULL, &g), CLSDE_OK);
    const int32_t w8x3 = clsde_graph_weight(g, "c.weight", zeros, 8 * 3 * 9, CLSDE_WEIGHT_COPY, 0, 0);
    const int32_t b8 = clsde_graph_weight(g, "c.bias", zeros, 8, CLSDE_WEIGHT_COPY, 0, 0);
    const int32_t w8x8 = clsde_graph_weight(g, "s.weight", zeros, 8 * 8 * 9, CLSDE_WEIGHT_COPY, 0, 0);
    const int32_t nin = clsde_graph_weight(g, "n.W", zeros, 16 * 8, CLSDE_WEIGHT_TRANSPOSE, 16, 8);
    const int32_t d = clsde_graph_weight(g, "d.weight", zeros, 8 * 32, CLSDE_WEIGHT_COPY, 0, 0);
    const int32_t W = clsde_graph_weight(g, "f.W", zeros, 16, CLSDE_WEIGHT_COPY, 0, 0);

    const int32_t x = clsde_graph_input(g, "x", 2, 3, 16, 16);
    const int32_t lab = clsde_graph_input(g, "label", 2, 1, 1, 1);
    clsde_graph_conv same = clsde_graph_conv_same(3);
    const int32_t c = clsde_graph_conv2d(g, "conv", x, w8x3, b8, 8, 3, &same);
    expect_shape(g, c, 2, 8, 16, 16);
    const int32_t gn = clsde_graph_group_norm(g, "gn", c, b8, b8, 2, 1e-6f, 1);
    expect_shape(g, gn, 2, 8, 16, 16);
    /* FIR down pad (1,1): (16 + 2 - 4)/2 + 1 = 8; FIR up pad (2,1): 32 + 3 - 4 + 1 = 32 */
    const int32_t dn = clsde_graph_upfirdn2d(g, "down", gn, 1, 2, 1, 1, 1.0f);
    expect_shape(g, dn, 2, 8, 8, 8);
    const int32_t up = clsde_graph_upfirdn2d(g, "up", dn, 2, 1, 2, 1, 4.0f);
    expect_shape(g, up, 2, 8, 16, 16);
    /* conv-down: FIR pad (2,2) gives 17, then 3x3 stride 2 valid gives 8 */
    const int32_t pre = clsde_graph_upfirdn2d(g, "pre", up, 1, 1, 2, 2, 1.0f);
    expect_shape(g, pre, 2, 8, 17, 17);
    clsde_graph_conv s2 = clsde_graph_conv_same(3);
    s2.stride = 2;
    s2.pad_t = s2.pad_l = s2.pad_b = s2.pad_r = 0;
    expect_shape(g, clsde_graph_conv2d(g, "convdown", pre, w8x8, b8, 8, 3, &s2), 2, 8, 8, 8);
    /* the same in one node (16 -> 17 -> 8), and with a residual */
    const int32_t fd = clsde_graph_conv_down_fir(g, "convdownfir", up, w8x8, b8, 8, -1, 1.0f);
    expect_shape(g, fd, 2, 8, 8, 8);
    expect_shape(g, clsde_graph_conv_down_fir(g, "convdownfir_res", up, w8x8, b8, 8, fd, 1.5f),
                 2, 8, 8, 8);
    /* non-FIR down: pad right/bottom 1, 16 + 1 - 3 = 14, /2 + 1 = 8 */
    s2.pad_b = s2.pad_r = 1;
    expect_shape(g, clsde_graph_conv2d(g, "convdown2", up, w8x8, b8, 8, 3, &s2), 2, 8, 8, 8);
    expect_shape(g, clsde_graph_upsample_nearest(g, "near", dn), 2, 8, 16, 16);
    expect_shape(g, clsde_graph_downsample_avg(g, "mean", up), 2, 8, 8, 8);
    expect_shape(g, clsde_graph_avg_pool2(g, "pool", up), 2, 8, 8, 8);
    const int32_t cat = clsde_graph_concat(g, "cat", up, gn);
    expect_shape(g, cat, 2, 16, 16, 16);
    clsde_graph_conv one = clsde_graph_conv_same(1);
    one.res = c;
    one.res_div = 1.41421356f;
    expect_shape(g, clsde_graph_conv2d(g, "nin", cat, nin, b8, 8, 1, &one), 2, 8, 16, 16);
    expect_shape(g, clsde_graph_attention(g, "att", c, gn, up), 2, 8, 16, 16);
    const int32_t e = clsde_graph_fourier_embed(g, "fourier", lab, W, 16);
    expect_shape(g, e, 2, 32, 1, 1);
    expect_shape(g, clsde_graph_sinusoidal_embed(g, "sin", lab, 16), 2, 16, 1, 1);
    const int32_t t = clsde_graph_dense(g, "dense", e, d, b8, 8);
    expect_shape(g, t, 2, 8, 1, 1);
    clsde_graph_conv cb = clsde_graph_conv_same(3);
    cb.chan_bias = t;
    expect_shape(g, clsde_graph_conv2d(g, "conv_temb", gn, w8x8, b8, 8, 3, &cb), 2, 8, 16, 16);
    expect_shape(g, clsde_graph_scale_per_image(g, "scale", c, lab, 1), 2, 8, 16, 16);
    expect_shape(g, clsde_graph_affine(g, "center", x, 2.0f, -1.0f), 2, 3, 16, 16);
    assert_int_equal(clsde_graph_status(g), CLSDE_OK);
    clsde_graph_destroy(g);
}

/* The first error is kept, named, and every later builder returns -1. */
static void test_sticky_errors(void **state)
{
    clsde_graph *g;
    (void)state;
    assert_int_equal(clsde_graph_create(NULL, &g), CLSDE_OK);
    const int32_t w = clsde_graph_weight(g, "all_modules.3.weight", zeros, 8 * 4 * 9,
                                         CLSDE_WEIGHT_COPY, 0, 0);
    const int32_t x = clsde_graph_input(g, "x", 1, 3, 8, 8);
    clsde_graph_conv same = clsde_graph_conv_same(3);
    assert_int_equal(clsde_graph_conv2d(g, "all_modules.3", x, w, -1, 8, 3, &same), -1);
    assert_int_equal(clsde_graph_status(g), CLSDE_ERR_FORMAT);
    assert_non_null(strstr(clsde_last_error(NULL), "all_modules.3: weight has 288 elements, "
                                                   "input 1x3x8x8 needs [8,3,3,3]"));
    /* later calls fail without replacing the message */
    assert_int_equal(clsde_graph_silu(g, "s", x), -1);
    assert_int_equal(clsde_graph_group_norm(g, "gn", x, -1, -1, 32, 1e-6f, 0), -1);
    assert_non_null(strstr(clsde_last_error(NULL), "all_modules.3"));
    assert_int_equal(clsde_graph_plan(g, 128), CLSDE_ERR_FORMAT);
    clsde_graph_destroy(g);

    /* GroupNorm widths must divide (networks.md §0) */
    assert_int_equal(clsde_graph_create(NULL, &g), CLSDE_OK);
    const int32_t gb = clsde_graph_weight(g, "gn.weight", zeros, 12, CLSDE_WEIGHT_COPY, 0, 0);
    const int32_t y = clsde_graph_input(g, "y", 1, 12, 4, 4);
    assert_int_equal(clsde_graph_group_norm(g, "all_modules.7.GroupNorm_0", y, gb, gb, 8, 1e-6f, 1),
                     -1);
    assert_non_null(strstr(clsde_last_error(NULL), "all_modules.7.GroupNorm_0: GroupNorm of 12 "
                                                   "channels into 8 groups"));
    clsde_graph_destroy(g);

    /* an input id that does not exist, and a concat of different sides */
    assert_int_equal(clsde_graph_create(NULL, &g), CLSDE_OK);
    const int32_t a = clsde_graph_input(g, "a", 1, 4, 8, 8);
    const int32_t b = clsde_graph_input(g, "b", 1, 4, 4, 4);
    assert_int_equal(clsde_graph_silu(g, "bad", 99), -1);
    assert_int_equal(clsde_graph_status(g), CLSDE_ERR_INTERNAL);
    clsde_graph_destroy(g);
    assert_int_equal(clsde_graph_create(NULL, &g), CLSDE_OK);
    const int32_t a2 = clsde_graph_input(g, "a", 1, 4, 8, 8);
    const int32_t b2 = clsde_graph_input(g, "b", 1, 4, 4, 4);
    assert_int_equal(clsde_graph_concat(g, "all_modules.9.cat", a2, b2), -1);
    assert_non_null(strstr(clsde_last_error(NULL), "cannot concatenate 1x4x8x8 and 1x4x4x4"));
    assert_int_equal(clsde_graph_downsample_avg(g, "m", -1), -1);
    clsde_graph_destroy(g);

    /* a residual that is not the convolution's output shape (conv2d and the FIR
     * conv-downsample share the check): 8x8 for a stride-2 output of 4x4 and vice versa */
    for (int fir = 0; fir < 2; fir++) {
        assert_int_equal(clsde_graph_create(NULL, &g), CLSDE_OK);
        const int32_t wr = clsde_graph_weight(g, "r.weight", zeros, 8 * 4 * 9,
                                              CLSDE_WEIGHT_COPY, 0, 0);
        const int32_t xr = clsde_graph_input(g, "x", 1, 4, 8, 8);
        const int32_t rr = clsde_graph_input(g, "res", 1, 8, fir ? 8 : 4, fir ? 8 : 4);
        clsde_graph_conv cr = clsde_graph_conv_same(3);
        int32_t id;
        cr.res = rr;
        id = fir ? clsde_graph_conv_down_fir(g, "all_modules.5.Conv_0", xr, wr, -1, 8, rr, 1.0f)
                 : clsde_graph_conv2d(g, "all_modules.5.Conv_0", xr, wr, -1, 8, 3, &cr);
        assert_int_equal(id, -1);
        assert_int_equal(clsde_graph_status(g), CLSDE_ERR_FORMAT);
        assert_non_null(strstr(clsde_last_error(NULL),
                               fir ? "all_modules.5.Conv_0: residual is 1x8x8x8, the "
                                     "convolution gives 1x8x4x4"
                                   : "all_modules.5.Conv_0: residual is 1x8x4x4, the "
                                     "convolution gives 1x8x8x8"));
        clsde_graph_destroy(g);
    }
    (void)a;
    (void)b;
}

/* conv -> group_norm_silu (in place) -> conv with residual (in place on the residual);
 * the pinned output keeps its own block; the print shows it all. */
static void test_plan_and_print(void **state)
{
    clsde_graph *g;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;
    assert_int_equal(clsde_graph_create(NULL, &g), CLSDE_OK);
    const int32_t w = clsde_graph_weight(g, "all_modules.3.weight", zeros, 8 * 8 * 9,
                                         CLSDE_WEIGHT_COPY, 0, 0);
    const int32_t nb = clsde_graph_weight(g, "all_modules.3.bias", zeros, 8, CLSDE_WEIGHT_COPY, 0, 0);
    const int32_t x = clsde_graph_input(g, "x", 2, 8, 8, 8);       /* 4096 B */
    clsde_graph_conv same = clsde_graph_conv_same(3);
    const int32_t h = clsde_graph_conv2d(g, "all_modules.3.Conv_0", x, w, nb, 8, 3, &same);
    const int32_t n = clsde_graph_group_norm(g, "all_modules.3.GroupNorm_1", h, nb, nb, 2,
                                             1e-6f, 1);
    const int32_t r = clsde_graph_conv2d(g, "all_modules.3.Conv_2", x, w, nb, 8, 3, &same);
    clsde_graph_conv res = clsde_graph_conv_same(3);
    res.res = r;
    res.res_div = 1.41421356f;
    const int32_t y = clsde_graph_conv2d(g, "all_modules.3.Conv_1", n, w, nb, 8, 3, &res);
    clsde_graph_output(g, y);
    assert_int_equal(clsde_graph_plan(g, 256), CLSDE_OK);
    assert_int_equal(g->nodes[n].inplace, 1);
    assert_int_equal(g->nodes[n].offset, g->nodes[h].offset);
    assert_int_equal(g->nodes[y].inplace, 1); /* takes the residual's block */
    assert_int_equal(g->nodes[y].offset, g->nodes[r].offset);
    assert_int_equal(g->naive_bytes, 5 * 4096);
    assert_int_equal(g->arena_bytes, 3 * 4096); /* x, h/n, r/y */
    assert_int_equal(g->weight_bytes, 2304 + 256);
    assert_int_equal(g->weights[1].offset, 2304);

    f = open_memstream(&text, &len);
    assert_non_null(f);
    clsde_graph_print(g, f);
    fclose(f);
    assert_non_null(strstr(text, "name"));
    assert_non_null(strstr(text, "offset"));
    assert_non_null(strstr(text, "all_modules.3.Conv_0"));
    assert_non_null(strstr(text, "conv2d_3x3"));
    assert_non_null(strstr(text, "group_norm_silu"));
    assert_non_null(strstr(text, "2x8x8x8"));
    assert_non_null(strstr(text, " 2,3 ")); /* Conv_1 reads node 2 and the residual, node 3 */
    assert_non_null(strstr(text, "in place"));
    assert_non_null(strstr(text, "pinned"));
    assert_non_null(strstr(text, "planned 12288 bytes, naive sum 20480 bytes"));
    free(text);
    clsde_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_table),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_sticky_errors),
        cmocka_unit_test(test_plan_and_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
