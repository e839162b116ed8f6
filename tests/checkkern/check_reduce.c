/*
 * check_reduce.c — cl/reduce.cl against src/ref/reduce_ref.c (double accumulation).
 * Tolerances: the double path (fp64 devices) rounds a sum accurate to ~1e-15 once:
 * 2 ulp (2.4e-7 relative); its square root adds one more rounding. The compensated float
 * path (-DREDUCE_FP32=1, devices without fp64) is accurate to a few ulp independent of the
 * length: 8 ulp (1e-6); err_sumsq's float terms carry a division (2.5 ulp in OpenCL) and a
 * square: 1.5e-6. dot_per_image sums terms of both signs, so its bound is on the sum of
 * |terms| A = sum |a b| (the cancelling kind 3 has A >> |result|): the double path 2 ulp
 * of the result plus (per_image 2^-53 + 1e-15) A (the summation orders differ, as for
 * err_sumsq_per_image_f64); the float path rounds each product (1 ulp of A) and then sums
 * as above: 8 ulp of the result plus 2 ulp of A. A plain float sum of 2^20 equal terms
 * (the "constant" case) misses these bounds by orders of magnitude, so the cases check
 * the accumulation, not only indexing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkkern.h"
#include "kernels/reduce.h"
#include "ref/reduce_ref.h"

/* The device's default work-group shape, or (every other case) another one: the
 * work-group tree, scalar and vector lanes, tails of every length below VW. */
static clsde_reduce_opts random_opts(checkkern *c, int fp32)
{
    static const int shapes[][2] = {{0, 0}, {256, 1}, {16, 4}, {2, 8}, {1, 16}, {64, 2}};
    const int v = ck_randint(c, 0, 1) ? 0 : ck_randint(c, 1, 5);
    clsde_reduce_opts o = {fp32, shapes[v][0], shapes[v][1]};
    if (o.wg > c->ctx->info.max_work_group_size) o.wg = 0, o.vw = 0;
    return o;
}

static size_t random_per_image(checkkern *c)
{
    static const int edge[] = {1, 2, 3, 7, 255, 256, 257, 511, 513, 3072};
    if (ck_randint(c, 0, 1)) return (size_t)ck_pick(c, edge, 10);
    return (size_t)ck_randint(c, 1, c->small ? 2000 : 200000);
}

/* kind 0: normal values of random scale; 1: log-uniform magnitudes 1e-3..1e3 with random
 * signs; 2: constant 1.1 over a long image (plain float accumulation drifts) */
static void fill(checkkern *c, float *x, size_t n, int kind)
{
    if (kind == 0) {
        ck_fill_normal(c, x, n, ck_randf(c, 0.01f, 100.0f));
    } else if (kind == 1) {
        for (size_t i = 0; i < n; i++)
            x[i] = (ck_randint(c, 0, 1) ? 1.0f : -1.0f) * powf(10.0f, ck_randf(c, -3, 3));
    } else {
        for (size_t i = 0; i < n; i++) x[i] = 1.1f;
    }
}

static void check_sumsq(checkkern *c, int fp32, int kind)
{
    const size_t nb = (size_t)ck_randint(c, 1, 4);
    const size_t per = kind == 2 ? (c->small ? 20000 : (size_t)1 << 20) : random_per_image(c);
    const size_t n = nb * per;
    const int take_sqrt = ck_randint(c, 0, 1);
    const int dbl = !fp32 && c->ctx->info.fp64;
    const clsde_reduce_opts o = random_opts(c, fp32);
    float *x = ck_alloc(n), got[4], ref[4];
    ck_buf bx, bo;
    char shape[96];
    snprintf(shape, sizeof shape, "%zux%zu kind %d sqrt %d %s WG %d VW %d", nb, per, kind,
             take_sqrt, dbl ? "double" : "float", (int)o.wg, (int)o.vw);
    fill(c, x, n, kind);
    clsde_sumsq_per_image_ref(nb, per, take_sqrt, x, ref);
    bx = ck_upload(c, x, n);
    bo = ck_upload(c, NULL, nb);
    if (!ck_status(c, clsde_sumsq_per_image_enqueue(c->ctx, &o, nb, per, take_sqrt, bx.mem,
                                                    bo.mem),
                   "sumsq_per_image") &&
        !ck_download(c, &bo, got, "sumsq_per_image"))
        ck_compare(c, "sumsq_per_image", shape, got, ref, nb, 0, dbl ? 2.4e-7 : 1e-6);
    ck_free(&bx), ck_free(&bo);
    free(x);
}

/* a as fill() kind; b independent (kind 0, 1), equal to a (kind 2: one buffer, the sum of
 * squares), or a with random signs times (1 + 1e-3 noise) (kind 3: heavy cancellation) */
static void check_dot(checkkern *c, int fp32, int kind)
{
    const size_t nb = (size_t)ck_randint(c, 1, 4);
    const size_t per = kind == 2 && ck_randint(c, 0, 1) ? (c->small ? 20000 : (size_t)1 << 20)
                                                        : random_per_image(c);
    const size_t n = nb * per;
    const int dbl = !fp32 && c->ctx->info.fp64;
    const clsde_reduce_opts o = random_opts(c, fp32);
    float *a = ck_alloc(n), *bv = ck_alloc(n), got[4], ref[4];
    double asum = 0.0;
    ck_buf ba, bb, bo;
    char shape[96];
    snprintf(shape, sizeof shape, "%zux%zu kind %d %s WG %d VW %d", nb, per, kind,
             dbl ? "double" : "float", (int)o.wg, (int)o.vw);
    fill(c, a, n, kind == 3 ? ck_randint(c, 0, 1) : kind);
    for (size_t i = 0; i < n; i++) {
        if (kind == 2) bv[i] = a[i];
        else if (kind == 3)
            bv[i] = (ck_randint(c, 0, 1) ? 1.0f : -1.0f) * a[i] * (1 + 1e-3f * ck_randn(c));
        else bv[i] = ck_randn(c);
    }
    for (size_t b = 0; b < nb; b++) {
        double s = 0.0;
        for (size_t i = b * per; i < (b + 1) * per; i++) s += fabs((double)a[i] * bv[i]);
        asum = fmax(asum, s);
    }
    clsde_dot_per_image_ref(nb, per, a, bv, ref);
    ba = ck_upload(c, a, n);
    bb = kind == 2 ? ba : ck_upload(c, bv, n);
    bo = ck_upload(c, NULL, nb);
    if (!ck_status(c, clsde_dot_per_image_enqueue(c->ctx, &o, nb, per, ba.mem, bb.mem, bo.mem),
                   "dot_per_image") &&
        !ck_download(c, &bo, got, "dot_per_image"))
        ck_compare(c, "dot_per_image", shape, got, ref, nb,
                   (dbl ? 1.2e-16 * (double)per + 1e-15 : 1.2e-7) * asum, dbl ? 2.4e-7 : 1e-6);
    ck_free(&ba), ck_free(&bo);
    if (kind != 2) ck_free(&bb);
    free(a), free(bv);
}

static void check_err_sumsq(checkkern *c, int fp32)
{
    const size_t nb = (size_t)ck_randint(c, 1, 4), per = random_per_image(c), n = nb * per;
    const float atol = powf(10.0f, ck_randf(c, -6, -3)), rtol = powf(10.0f, ck_randf(c, -6, -3));
    const int dbl = !fp32 && c->ctx->info.fp64;
    const clsde_reduce_opts o = random_opts(c, fp32);
    float *err = ck_alloc(n), *y = ck_alloc(n), *yn = ck_alloc(n), got[4], ref[4];
    ck_buf be, by, byn, bo;
    char shape[96];
    snprintf(shape, sizeof shape, "%zux%zu atol %g rtol %g %s WG %d VW %d", nb, per,
             (double)atol, (double)rtol, dbl ? "double" : "float", (int)o.wg, (int)o.vw);
    ck_fill_normal(c, y, n, 3.0f);
    for (size_t i = 0; i < n; i++) {
        yn[i] = y[i] + ck_randn(c) * 0.01f;
        err[i] = ck_randn(c) * 1e-5f;
    }
    clsde_err_sumsq_per_image_ref(nb, per, atol, rtol, err, y, yn, ref);
    be = ck_upload(c, err, n), by = ck_upload(c, y, n), byn = ck_upload(c, yn, n);
    bo = ck_upload(c, NULL, nb);
    if (!ck_status(c, clsde_err_sumsq_per_image_enqueue(c->ctx, &o, nb, per, atol, rtol, be.mem,
                                                        by.mem, byn.mem, bo.mem),
                   "err_sumsq_per_image") &&
        !ck_download(c, &bo, got, "err_sumsq_per_image"))
        ck_compare(c, "err_sumsq_per_image", shape, got, ref, nb, 0, dbl ? 2.4e-7 : 1.5e-6);
    ck_free(&be), ck_free(&by), ck_free(&byn), ck_free(&bo);
    free(err), free(y), free(yn);
}

/* Doubles travel as pairs of floats through the guarded buffers. The kernel's tree and
 * the reference's sequential sum differ only in summation order: the sequential sum's
 * error bound, per_image * 2^-53 relative (all terms positive), plus 1e-15. */
static void check_err_sumsq_f64(checkkern *c)
{
    const size_t nb = (size_t)ck_randint(c, 1, 4), per = random_per_image(c), n = nb * per;
    const double atol = 1e-5, rtol = 1e-5;
    double *err = malloc(n * sizeof *err), *y = malloc(n * sizeof *y), *yn = malloc(n * sizeof *yn);
    double got[4], ref[4];
    ck_buf be, by, byn, bo;
    if (!err || !y || !yn) {
        fprintf(stderr, "checkkern: out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) {
        y[i] = 3.0 * ck_randn(c), yn[i] = y[i] + 0.01 * ck_randn(c), err[i] = 1e-5 * ck_randn(c);
    }
    clsde_err_sumsq_per_image_f64_ref(nb, per, atol, rtol, err, y, yn, ref);
    be = ck_upload(c, (const float *)err, 2 * n), by = ck_upload(c, (const float *)y, 2 * n);
    byn = ck_upload(c, (const float *)yn, 2 * n), bo = ck_upload(c, NULL, 2 * nb);
    if (!ck_status(c, clsde_err_sumsq_per_image_f64_enqueue(c->ctx, nb, per, atol, rtol, be.mem,
                                                            by.mem, byn.mem, bo.mem),
                   "err_sumsq_per_image_f64") &&
        !ck_download(c, &bo, (float *)got, "err_sumsq_per_image_f64")) {
        c->checks++;
        for (size_t b = 0; b < nb; b++)
            if (!(fabs(got[b] - ref[b]) <= (1.2e-16 * (double)per + 1e-15) * ref[b])) {
                fprintf(stderr, "FAIL reduce: err_sumsq_per_image_f64 %zux%zu image %zu: got "
                                "%.17g, reference %.17g (seed %llu)\n",
                        nb, per, b, got[b], ref[b], (unsigned long long)c->seed);
                c->failures++;
                break;
            }
    }
    ck_free(&be), ck_free(&by), ck_free(&byn), ck_free(&bo);
    free(err), free(y), free(yn);
}

void check_reduce(checkkern *c)
{
    const int reps = c->small ? 2 : 6;
    for (int fp32 = 0; fp32 < 2; fp32++) {
        for (int r = 0; r < reps; r++) {
            check_sumsq(c, fp32, 0);
            check_sumsq(c, fp32, 1);
            check_err_sumsq(c, fp32);
            check_dot(c, fp32, ck_randint(c, 0, 1));
            check_dot(c, fp32, 3);
        }
        check_dot(c, fp32, 2);
        check_sumsq(c, fp32, 2);
    }
    if (c->ctx->info.fp64)
        for (int r = 0; r < reps; r++) check_err_sumsq_f64(c);
}
