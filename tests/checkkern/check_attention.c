/*
 * check_attention.c — cl/attention.cl against src/ref/attention_ref.c (double).
 * Shapes: hw from 1 to past two key blocks (TK = 256), odd sizes, the network sizes
 * 16/64/196/256, c from 1 to 256, batch 1..8; q, k, v one buffer (self-attention of one
 * tensor) in some runs; peaky inputs whose scores reach ~±100 (a softmax without the
 * row max would overflow exp).
 * Tolerance (float32 kernel vs double reference): a score is a float dot product, whose
 * rounding error is of the order of eps·sabs, sabs = scale·sum_c |q[c,p] k[c,p']| (the
 * magnitude the terms reach; its largest value over all pairs is computed from the data);
 * it changes each softmax weight relatively by about twice that, and the weighted sum
 * of hw values adds ~sqrt(hw)·eps, all relative to max|v|:
 *   |o - ref| <= 8·eps·max|v|·(sabs + sqrt(hw) + 1) + 8·eps·|ref|.
 * Observed errors are 20x or more below this (seeds 1–6; largest with peaky inputs).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkkern.h"
#include "kernels/attention.h"
#include "ref/attention_ref.h"

#define EPS 1.1920929e-7

/* max over images and position pairs of sum_c |q[c,p] k[c,p']| */
static double max_abs_dot(int n, int c, int hw, const float *q, const float *k)
{
    double best = 0.0;
    for (int b = 0; b < n; b++)
        for (int p = 0; p < hw; p++)
            for (int p2 = 0; p2 < hw; p2++) {
                double s = 0.0;
                for (int ch = 0; ch < c; ch++) {
                    const size_t i = ((size_t)b * c + ch) * hw;
                    s += fabs((double)q[i + p] * k[i + p2]);
                }
                best = fmax(best, s);
            }
    return best;
}

static void check_one(checkkern *c, int n, int ch, int hw, float in_scale, int shared_qkv)
{
    const size_t total = (size_t)n * ch * hw;
    float *q = ck_alloc(total), *k = ck_alloc(total), *v = ck_alloc(total);
    float *got = ck_alloc(total), *ref = ck_alloc(total);
    ck_buf bq, bk, bv, bo;
    char shape[96];
    double vmax = 0.0, sabs, tol;

    snprintf(shape, sizeof shape, "n %d c %d hw %d, inputs N(0,%g)%s", n, ch, hw,
             (double)in_scale, shared_qkv ? ", q = k = v" : "");
    ck_fill_normal(c, q, total, in_scale);
    if (shared_qkv) {
        memcpy(k, q, total * sizeof *k);
        memcpy(v, q, total * sizeof *v);
    } else {
        ck_fill_normal(c, k, total, in_scale);
        ck_fill_normal(c, v, total, 1.0f);
    }
    for (size_t i = 0; i < total; i++) vmax = fmax(vmax, fabs(v[i]));
    sabs = (double)(float)pow(ch, -0.5) * max_abs_dot(n, ch, hw, q, k);
    tol = 8.0 * EPS * vmax * (sabs + sqrt((double)hw) + 1.0);

    clsde_attention_ref(n, ch, hw, q, k, v, ref);
    bq = ck_upload(c, q, total);
    bo = ck_upload(c, NULL, total);
    if (shared_qkv) {
        bk = bq, bv = bq;
    } else {
        bk = ck_upload(c, k, total);
        bv = ck_upload(c, v, total);
    }
    if (!ck_status(c, clsde_attention_enqueue(c->ctx, n, ch, hw, bq.mem, bk.mem, bv.mem, bo.mem),
                   "attention") &&
        !ck_download(c, &bo, got, "attention"))
        ck_compare(c, "attention", shape, got, ref, total, tol, 8 * EPS);
    ck_free(&bq), ck_free(&bo);
    if (!shared_qkv) ck_free(&bk), ck_free(&bv);
    free(q), free(k), free(v), free(got), free(ref);
}

/* Argument errors are reported, not run. */
static void check_errors(checkkern *c)
{
    ck_buf b = ck_upload(c, NULL, 16);
    c->checks++;
    if (clsde_attention_enqueue(c->ctx, 1, 4, 4, b.mem, b.mem, b.mem, b.mem) != CLSDE_ERR_ARG ||
        clsde_attention_enqueue(c->ctx, 1, 0, 4, b.mem, b.mem, b.mem, NULL) != CLSDE_ERR_ARG ||
        clsde_attention_enqueue(c->ctx, 1, 4, 0, b.mem, b.mem, b.mem, NULL) != CLSDE_ERR_ARG) {
        fprintf(stderr, "FAIL attention: a bad shape or an aliased output was not rejected\n");
        c->failures++;
    }
    ck_free(&b);
}

void check_attention(checkkern *c)
{
    static const int hw_edge[] = {1, 2, 3, 5, 7, 15, 16, 17, 31, 33, 63, 64, 65};
    static const int hw_big[] = {196, 255, 256, 257, 300, 513, 600};
    static const int c_edge[] = {1, 2, 3, 4, 5, 7, 8, 16, 17, 31, 32};
    static const int c_big[] = {64, 100, 128, 256};

    check_errors(c);
    if (c->small) {
        /* Oclgrind: a few seconds. One run past a key block (hw 257) covers the online
         * rescale and the partial last chunk of a block. */
        check_one(c, 1, 1, 1, 1.0f, 0);
        check_one(c, 2, 3, 7, 1.0f, 0);
        check_one(c, 1, 5, 17, 10.0f, 0);
        check_one(c, 2, 2, 16, 1.0f, 1);
        check_one(c, 1, 1, 257, 1.0f, 0);
        for (int r = 0; r < 2; r++)
            check_one(c, ck_randint(c, 1, 2), ck_pick(c, c_edge, 6), ck_pick(c, hw_edge, 9),
                      ck_randint(c, 0, 1) ? 1.0f : 6.0f, ck_randint(c, 0, 3) == 0);
        return;
    }
    /* the network shapes: c 256 at 4x4 and 16x16, plus 8x8 and 14x14 */
    check_one(c, 2, 256, 16, 1.0f, 0);
    check_one(c, 1, 256, 256, 1.0f, 0);
    check_one(c, 3, 64, 64, 1.0f, 0);
    check_one(c, 1, 32, 196, 1.0f, 0);
    check_one(c, 1, 16, 513, 10.0f, 0); /* three key blocks, peaky scores */
    for (int r = 0; r < 16; r++) {
        const int hw = ck_randint(c, 0, 2) ? ck_pick(c, hw_edge, 13) : ck_pick(c, hw_big, 7);
        const int ch = ck_randint(c, 0, 1) ? ck_pick(c, c_edge, 11) : ck_pick(c, c_big, 4);
        const int n = ck_randint(c, 0, 3) ? ck_randint(c, 1, 3) : 8;
        if ((double)n * ch * hw * hw > 4e7) continue; /* keep the double reference quick */
        check_one(c, n, ch, hw, ck_randint(c, 0, 2) ? 1.0f : 8.0f, ck_randint(c, 0, 4) == 0);
    }
}
