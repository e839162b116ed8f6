/*
 * check_attention_jvp.c — attention_jvp (the forward-mode derivative of cl/attention.cl,
 * algorithms.md §6.2) against src/ref/attention_ref.c (double). Shapes: hw from 1 to past
 * 256 keys (longer rows take TQJ 4, 2, 1 queries per work-group instead of 8), odd
 * sizes, the network sizes 16/64/196/256, c from 1 to 256, batch 1..8 (c and hw not
 * multiples of the work-group or of VK);
 * q = k = v and tq = tk = tv one buffer each in some runs; peaky inputs whose scores reach
 * ~±100.
 * Tolerance (float32 kernel vs double reference), extending check_attention.c's: a score
 * is off by about 8 eps sabs, a score tangent by 8 eps dsabs (dsabs = scale *
 * max sum_c |tq k| + |q tk|); a weight then moves relatively by ~2 8 eps sabs, its tangent
 * by that times |dS| <= 2 dsabs plus 2 * 8 eps dsabs; sum_p' |dw| <= 2 dsabs, and the sums
 * over hw keys add ~sqrt(hw) eps:
 *   |to - ref| <= 8 eps [max|v| dsabs (3 + 4 sabs + 2 sqrt(hw)) + max|tv| (1 + 2 sabs +
 *                        sqrt(hw))] + 8 eps |ref|.
 * Observed: below 0.002 of this bound (seeds 1-5): it takes every float dot product at its
 * worst case, which random data stays far from (a wrong or missing term is O(1) off).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkkern.h"
#include "kernels/attention.h"
#include "ref/attention_ref.h"

#define EPS 1.1920929e-7

/* max over images and position pairs of sum_c |q[c,p] k[c,p']| and of
 * sum_c |tq[c,p] k[c,p']| + |q[c,p] tk[c,p']| */
static void max_abs_dots(int n, int c, int hw, const float *q, const float *k, const float *tq,
                         const float *tk, double *sabs, double *dsabs)
{
    *sabs = 0.0, *dsabs = 0.0;
    for (int b = 0; b < n; b++)
        for (int p = 0; p < hw; p++)
            for (int p2 = 0; p2 < hw; p2++) {
                double s = 0.0, ds = 0.0;
                for (int ch = 0; ch < c; ch++) {
                    const size_t i = ((size_t)b * c + ch) * hw;
                    s += fabs((double)q[i + p] * k[i + p2]);
                    ds += fabs((double)tq[i + p] * k[i + p2]) + fabs((double)q[i + p] * tk[i + p2]);
                }
                *sabs = fmax(*sabs, s), *dsabs = fmax(*dsabs, ds);
            }
}

static double max_abs(const float *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

static void check_one(checkkern *c, int n, int ch, int hw, float in_scale, int shared)
{
    const size_t total = (size_t)n * ch * hw;
    const float t_scale = ck_randf(c, 0.1f, 3.0f);
    float *q = ck_alloc(total), *k = ck_alloc(total), *v = ck_alloc(total);
    float *tq = ck_alloc(total), *tk = ck_alloc(total), *tv = ck_alloc(total);
    float *got = ck_alloc(total), *ref = ck_alloc(total);
    ck_buf bq, bk, bv, btq, btk, btv, bo;
    char shape[128];
    double sabs, dsabs, scale, tol;

    snprintf(shape, sizeof shape, "n %d c %d hw %d, inputs N(0,%g), tangents N(0,%g)%s", n, ch,
             hw, (double)in_scale, (double)t_scale, shared ? ", q = k = v, tq = tk = tv" : "");
    ck_fill_normal(c, q, total, in_scale);
    ck_fill_normal(c, tq, total, t_scale);
    if (shared) {
        memcpy(k, q, total * sizeof *k), memcpy(v, q, total * sizeof *v);
        memcpy(tk, tq, total * sizeof *tk), memcpy(tv, tq, total * sizeof *tv);
    } else {
        ck_fill_normal(c, k, total, in_scale);
        ck_fill_normal(c, v, total, 1.0f);
        ck_fill_normal(c, tk, total, t_scale);
        ck_fill_normal(c, tv, total, t_scale);
    }
    scale = (double)(float)pow(ch, -0.5);
    max_abs_dots(n, ch, hw, q, k, tq, tk, &sabs, &dsabs);
    sabs *= scale, dsabs *= scale;
    tol = 8.0 * EPS *
          (max_abs(v, total) * dsabs * (3.0 + 4.0 * sabs + 2.0 * sqrt((double)hw)) +
           max_abs(tv, total) * (1.0 + 2.0 * sabs + sqrt((double)hw)));

    clsde_attention_jvp_ref(n, ch, hw, q, k, v, tq, tk, tv, ref);
    bq = ck_upload(c, q, total), btq = ck_upload(c, tq, total);
    bo = ck_upload(c, NULL, total);
    if (shared) {
        bk = bv = bq, btk = btv = btq;
    } else {
        bk = ck_upload(c, k, total), bv = ck_upload(c, v, total);
        btk = ck_upload(c, tk, total), btv = ck_upload(c, tv, total);
    }
    if (!ck_status(c, clsde_attention_jvp_enqueue(c->ctx, n, ch, hw, bq.mem, bk.mem, bv.mem,
                                                  btq.mem, btk.mem, btv.mem, bo.mem),
                   "attention_jvp") &&
        !ck_download(c, &bo, got, "attention_jvp"))
        ck_compare(c, "attention_jvp", shape, got, ref, total, tol, 8 * EPS);
    ck_free(&bq), ck_free(&btq), ck_free(&bo);
    if (!shared) ck_free(&bk), ck_free(&bv), ck_free(&btk), ck_free(&btv);
    free(q), free(k), free(v), free(tq), free(tk), free(tv), free(got), free(ref);
}

/* Argument errors are reported, not run. */
static void check_errors(checkkern *c)
{
    ck_buf a = ck_upload(c, NULL, 16), b = ck_upload(c, NULL, 16);
    int bad = 0;
    c->checks++;
    bad |= clsde_attention_jvp_enqueue(c->ctx, 1, 0, 4, a.mem, a.mem, a.mem, a.mem, a.mem, a.mem,
                                       b.mem) != CLSDE_ERR_ARG;
    bad |= clsde_attention_jvp_enqueue(c->ctx, 1, 4, 4, a.mem, a.mem, a.mem, a.mem, a.mem, b.mem,
                                       b.mem) != CLSDE_ERR_ARG; /* to aliases tv */
    bad |= clsde_attention_jvp_enqueue(c->ctx, 1, 4, 4, a.mem, a.mem, a.mem, a.mem, NULL, a.mem,
                                       b.mem) != CLSDE_ERR_ARG;
    bad |= clsde_attention_jvp_enqueue(c->ctx, 1, 4, 8, a.mem, a.mem, a.mem, a.mem, a.mem, a.mem,
                                       b.mem) != CLSDE_ERR_ARG; /* buffers too small */
    bad |= clsde_attention_jvp_enqueue(c->ctx, 1, 1, 1 << 20, a.mem, a.mem, a.mem, a.mem, a.mem,
                                       a.mem, b.mem) != CLSDE_ERR_DEVICE_LIMIT; /* 8 MiB rows */
    if (bad) {
        fprintf(stderr, "FAIL %s: a bad shape, an aliased output, a short buffer or rows past "
                        "local memory were not rejected\n", c->kernel);
        c->failures++;
    }
    ck_free(&a), ck_free(&b);
}

void check_attention_jvp(checkkern *c)
{
    static const int hw_edge[] = {1, 2, 3, 5, 7, 15, 16, 17, 31, 33, 63, 64, 65};
    static const int hw_big[] = {196, 255, 256, 257, 300, 513, 1023, 1024};
    static const int c_edge[] = {1, 2, 3, 4, 5, 7, 8, 16, 17, 31, 32};
    static const int c_big[] = {64, 100, 128, 256};

    check_errors(c);
    if (c->small) { /* Oclgrind: a few seconds */
        check_one(c, 1, 1, 1, 1.0f, 0);
        check_one(c, 2, 3, 7, 1.0f, 0);
        check_one(c, 1, 5, 17, 10.0f, 0);
        check_one(c, 2, 2, 16, 1.0f, 1);
        check_one(c, 1, 67, 3, 1.0f, 0); /* more channels than work-items */
        check_one(c, 1, 1, 257, 1.0f, 0); /* TQJ 4 */
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
    check_one(c, 1, 16, 513, 10.0f, 0); /* peaky scores */
    check_one(c, 1, 3, 1500, 1.0f, 0);  /* TQJ 1 */
    for (int r = 0; r < 16; r++) {
        const int hw = ck_randint(c, 0, 2) ? ck_pick(c, hw_edge, 13) : ck_pick(c, hw_big, 8);
        const int ch = ck_randint(c, 0, 1) ? ck_pick(c, c_edge, 11) : ck_pick(c, c_big, 4);
        const int n = ck_randint(c, 0, 3) ? ck_randint(c, 1, 3) : 8;
        if ((double)n * ch * hw * hw > 2e7) continue; /* keep the double reference quick */
        check_one(c, n, ch, hw, ck_randint(c, 0, 2) ? 1.0f : 8.0f, ck_randint(c, 0, 4) == 0);
    }
}
