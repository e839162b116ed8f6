/*
 * check_rk45.c — rk_combine (every row and flag combination, also on a slice of the images),
 * rk_drift and rk_accept, on the double state (fp64 devices) and the float state with
 * compensated low parts, against src/ref/rk45_ref.c. Tolerance: the kernels sum the same
 * terms in the same order with FP_CONTRACT OFF, so the results are expected to be
 * identical; the bound is 2 ulp of the sum of |terms| (double: 4.5e-16, float: 2.4e-7
 * relative) to allow a device whose compiler folds the tableau's fractions differently.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkkern.h"
#include "kernels/rk45.h"

static double *alloc_d(size_t n)
{
    double *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "checkkern: out of memory\n");
        exit(2);
    }
    return p;
}

static int compare_d(checkkern *c, const char *what, const char *shape, const double *got,
                     const double *ref, const double *scale, size_t n, double rel)
{
    c->checks++;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - ref[i]) <= rel * scale[i])) {
            fprintf(stderr, "FAIL %s: %s shape %s: index %zu: got %.17g, reference %.17g "
                            "(seed %llu)\n",
                    c->kernel, what, shape, i, got[i], ref[i], (unsigned long long)c->seed);
            c->failures++;
            return -1;
        }
    return 0;
}

static void random_shape(checkkern *c, clsde_rk_params *p)
{
    static const int dims[] = {1, 3, 16, 63, 64, 65, 200, 768};
    p->n = ck_randint(c, 1, c->small ? 3 : 5);
    p->per_image = ck_pick(c, dims, c->small ? 6 : 8);
}

static void check_combine_f64(checkkern *c, int row, int flags)
{
    clsde_rk_params p = {0, 0, 1, 0, 0};
    size_t nd;
    double *h, *y, *K, *ref, *got, *scale;
    float *reff, *gotf;
    char shape[64];
    random_shape(c, &p);
    nd = (size_t)p.n * p.per_image;
    h = alloc_d((size_t)p.n), y = alloc_d(nd), K = alloc_d(7 * nd), ref = alloc_d(nd);
    got = alloc_d(nd), scale = alloc_d(nd);
    reff = ck_alloc(nd), gotf = ck_alloc(nd);
    for (int32_t b = 0; b < p.n; b++) h[b] = -ck_randf(c, 1e-4f, 0.1f);
    for (size_t i = 0; i < nd; i++) y[i] = 50.0 * ck_randn(c);
    for (size_t i = 0; i < 7 * nd; i++) K[i] = 200.0 * ck_randn(c);
    snprintf(shape, sizeof shape, "%dx%d row %d flags %d f64", (int)p.n, (int)p.per_image, row, flags);
    clsde_rk_combine_ref(&p, row, flags, h, (flags & CLSDE_RK_ADD_Y) ? y : NULL, K, ref, reff);
    for (size_t i = 0; i < nd; i++) {
        double a = 0;
        for (int j = 0; j < clsde_rk_terms[row]; j++) a += fabs(K[j * nd + i] * clsde_rk_tab[row][j]);
        if (!(flags & CLSDE_RK_NO_H)) a *= fabs(h[i / (size_t)p.per_image]);
        scale[i] = a + ((flags & CLSDE_RK_ADD_Y) ? fabs(y[i]) : 0) + 1e-300;
    }
    {
        ck_buf bh = ck_upload(c, (const float *)h, 2 * (size_t)p.n);
        ck_buf by = ck_upload(c, (const float *)y, 2 * nd);
        ck_buf bk = ck_upload(c, (const float *)K, 14 * nd);
        ck_buf bo = ck_upload(c, NULL, 2 * nd), bf = ck_upload(c, NULL, nd);
        const int of = flags | CLSDE_RK_OUT_F;
        if (!ck_status(c, clsde_rk_combine_enqueue(c->ctx, &p, row, of, bh.mem, by.mem, NULL, bk.mem,
                                                   bo.mem, NULL, bf.mem),
                       "rk_combine f64") &&
            !ck_download(c, &bo, (float *)got, "rk_combine f64") &&
            !ck_download(c, &bf, gotf, "rk_combine f64 float copy") &&
            !compare_d(c, "rk_combine f64", shape, got, ref, scale, nd, 4.5e-16))
            ck_compare(c, "rk_combine f64 float copy", shape, gotf, reff, nd, 0, 0);
        ck_free(&bh), ck_free(&by), ck_free(&bk), ck_free(&bo), ck_free(&bf);
    }
    free(h), free(y), free(K), free(ref), free(got), free(scale), free(reff), free(gotf);
}

static void check_combine_f32(checkkern *c, int row, int flags)
{
    clsde_rk_params p = {0, 0, 0, 0, 0};
    size_t nd;
    float *h, *y, *ylo, *K, *ref, *reflo, *got, *gotlo;
    char shape[64];
    random_shape(c, &p);
    nd = (size_t)p.n * p.per_image;
    h = ck_alloc((size_t)p.n), y = ck_alloc(nd), ylo = ck_alloc(nd), K = ck_alloc(7 * nd);
    ref = ck_alloc(nd), reflo = ck_alloc(nd), got = ck_alloc(nd), gotlo = ck_alloc(nd);
    for (int32_t b = 0; b < p.n; b++) h[b] = -ck_randf(c, 1e-4f, 0.1f);
    for (size_t i = 0; i < nd; i++) {
        y[i] = 50.0f * ck_randn(c);
        ylo[i] = y[i] * 1e-8f * ck_randn(c);
    }
    for (size_t i = 0; i < 7 * nd; i++) K[i] = 200.0f * ck_randn(c);
    memset(reflo, 0, nd * sizeof *reflo);
    snprintf(shape, sizeof shape, "%dx%d row %d flags %d f32", (int)p.n, (int)p.per_image, row, flags);
    clsde_rk_combine_f32_ref(&p, row, flags, h, y, ylo, K, ref, reflo, NULL);
    {
        ck_buf bh = ck_upload(c, h, (size_t)p.n), by = ck_upload(c, y, nd);
        ck_buf bl = ck_upload(c, ylo, nd), bk = ck_upload(c, K, 7 * nd);
        ck_buf bo = ck_upload(c, NULL, nd), bol = ck_upload(c, NULL, nd);
        const int comp = (flags & CLSDE_RK_COMP) != 0;
        if (!ck_status(c, clsde_rk_combine_enqueue(c->ctx, &p, row, flags, bh.mem, by.mem, bl.mem,
                                                   bk.mem, bo.mem, comp ? bol.mem : NULL, NULL),
                       "rk_combine f32") &&
            !ck_download(c, &bo, got, "rk_combine f32") &&
            !ck_download(c, &bol, gotlo, "rk_combine f32 low part")) {
            /* exact: same operations in the same order */
            if (!ck_compare(c, "rk_combine f32", shape, got, ref, nd, 0, 2.4e-7) && comp)
                ck_compare(c, "rk_combine f32 low part", shape, gotlo, reflo, nd, 1e-30, 2.4e-7);
        }
        /* a slice of the images alone (the ODE sampler's per-system launches): those rows as
         * the full launch, the others keep what the output held (here y, ylo) */
        {
            clsde_rk_params q = p;
            ck_buf so = ck_upload(c, y, nd), sol = ck_upload(c, ylo, nd);
            size_t lo, hi;
            q.b0 = ck_randint(c, 0, p.n - 1);
            q.nb = ck_randint(c, 1, p.n - q.b0);
            lo = (size_t)q.b0 * p.per_image, hi = lo + (size_t)q.nb * p.per_image;
            for (size_t i = 0; i < nd; i++)
                if (i < lo || i >= hi) ref[i] = y[i], reflo[i] = ylo[i];
            if (!comp) memcpy(reflo, ylo, nd * sizeof *reflo);
            snprintf(shape, sizeof shape, "%dx%d images %d+%d row %d flags %d f32", (int)p.n,
                     (int)p.per_image, (int)q.b0, (int)q.nb, row, flags);
            if (!ck_status(c, clsde_rk_combine_enqueue(c->ctx, &q, row, flags, bh.mem, by.mem,
                                                       bl.mem, bk.mem, so.mem,
                                                       comp ? sol.mem : NULL, NULL),
                           "rk_combine f32 slice") &&
                !ck_download(c, &so, got, "rk_combine f32 slice") &&
                !ck_download(c, &sol, gotlo, "rk_combine f32 slice low part") &&
                !ck_compare(c, "rk_combine f32 slice", shape, got, ref, nd, 0, 2.4e-7))
                ck_compare(c, "rk_combine f32 slice low part", shape, gotlo, reflo, nd, 1e-30,
                           2.4e-7);
            ck_free(&so), ck_free(&sol);
        }
        ck_free(&bh), ck_free(&by), ck_free(&bl), ck_free(&bk), ck_free(&bo), ck_free(&bol);
    }
    free(h), free(y), free(ylo), free(K), free(ref), free(reflo), free(got), free(gotlo);
}

static void check_drift(checkkern *c, int fp64, int in_f64)
{
    clsde_rk_params p = {0, 0, fp64, 0, 0};
    size_t nd;
    const int32_t stage = ck_randint(c, 0, 6);
    double *ab, *x, *s, *ref, *got, *scale;
    float *abf, *xf, *sf, *reff, *gotf;
    char shape[64];
    random_shape(c, &p);
    nd = (size_t)p.n * p.per_image;
    ab = alloc_d(2 * (size_t)p.n), x = alloc_d(nd), s = alloc_d(nd), ref = alloc_d(nd);
    got = alloc_d(7 * nd), scale = alloc_d(nd);
    abf = ck_alloc(2 * (size_t)p.n), xf = ck_alloc(nd), sf = ck_alloc(nd), reff = ck_alloc(nd);
    gotf = ck_alloc(7 * nd);
    for (int32_t b = 0; b < 2 * p.n; b++) ab[b] = ck_randf(c, -50, 5), abf[b] = (float)ab[b];
    for (size_t i = 0; i < nd; i++) {
        xf[i] = 3 * ck_randn(c), sf[i] = 30 * ck_randn(c);
        x[i] = in_f64 ? 3 * ck_randn(c) : xf[i];
        s[i] = in_f64 ? 30 * ck_randn(c) : sf[i];
    }
    snprintf(shape, sizeof shape, "%dx%d stage %d fp64 %d in_f64 %d", (int)p.n, (int)p.per_image,
             (int)stage, fp64, in_f64);
    {
        ck_buf bab = fp64 ? ck_upload(c, (const float *)ab, 4 * (size_t)p.n) : ck_upload(c, abf, 2 * (size_t)p.n);
        ck_buf bx = in_f64 ? ck_upload(c, (const float *)x, 2 * nd) : ck_upload(c, xf, nd);
        ck_buf bs = in_f64 ? ck_upload(c, (const float *)s, 2 * nd) : ck_upload(c, sf, nd);
        ck_buf bk = ck_upload(c, NULL, (fp64 ? 14 : 7) * nd);
        if (!ck_status(c, clsde_rk_drift_enqueue(c->ctx, &p, in_f64, bab.mem, bx.mem, bs.mem, bk.mem, stage),
                       "rk_drift") &&
            !ck_download(c, &bk, fp64 ? (float *)got : gotf, "rk_drift")) {
            if (fp64) {
                clsde_rk_drift_ref(&p, ab, x, s, ref);
                for (size_t i = 0; i < nd; i++)
                    scale[i] = fabs(ab[2 * (i / (size_t)p.per_image)] * x[i]) +
                               fabs(ab[2 * (i / (size_t)p.per_image) + 1] * s[i]) + 1e-300;
                compare_d(c, "rk_drift", shape, got + (size_t)stage * nd, ref, scale, nd, 4.5e-16);
            } else {
                clsde_rk_drift_f32_ref(&p, abf, xf, sf, reff);
                ck_compare(c, "rk_drift", shape, gotf + (size_t)stage * nd, reff, nd, 1e-30, 2.4e-7);
            }
        }
        ck_free(&bab), ck_free(&bx), ck_free(&bs), ck_free(&bk);
    }
    free(ab), free(x), free(s), free(ref), free(got), free(scale);
    free(abf), free(xf), free(sf), free(reff), free(gotf);
}

/* Accepted images get y_new and K_7 in K_1; the others keep y and K_1, bit for bit. */
static void check_accept(checkkern *c, int fp64)
{
    clsde_rk_params p = {0, 0, fp64, 0, 0};
    const size_t es = fp64 ? 2 : 1; /* floats per element */
    size_t nd;
    float *ynew, *ylonew, *y, *ylo, *K, *got_y, *got_lo, *got_k;
    cl_int *mask;
    cl_mem bmask = NULL;
    char shape[64];
    random_shape(c, &p);
    nd = (size_t)p.n * p.per_image;
    ynew = ck_alloc(es * nd), ylonew = ck_alloc(nd), y = ck_alloc(es * nd), ylo = ck_alloc(nd);
    K = ck_alloc(7 * es * nd), got_y = ck_alloc(es * nd), got_lo = ck_alloc(nd);
    got_k = ck_alloc(7 * es * nd);
    mask = malloc((size_t)p.n * sizeof *mask);
    ck_fill(c, ynew, es * nd, -5, 5), ck_fill(c, ylonew, nd, -1e-6f, 1e-6f);
    ck_fill(c, y, es * nd, -5, 5), ck_fill(c, ylo, nd, -1e-6f, 1e-6f);
    ck_fill(c, K, 7 * es * nd, -5, 5);
    for (int32_t b = 0; b < p.n; b++) mask[b] = ck_randint(c, 0, 1);
    snprintf(shape, sizeof shape, "%dx%d fp64 %d", (int)p.n, (int)p.per_image, fp64);
    if (ck_status(c, clsde_buffer_create(c->ctx, (size_t)p.n * sizeof *mask, &bmask), "mask") ||
        ck_status(c, clsde_buffer_write(c->ctx, bmask, 0, (size_t)p.n * sizeof *mask, mask), "mask"))
        goto done;
    {
        ck_buf bn = ck_upload(c, ynew, es * nd), bnl = ck_upload(c, ylonew, nd);
        ck_buf by = ck_upload(c, y, es * nd), byl = ck_upload(c, ylo, nd);
        ck_buf bk = ck_upload(c, K, 7 * es * nd);
        if (!ck_status(c, clsde_rk_accept_enqueue(c->ctx, &p, bmask, bn.mem, fp64 ? NULL : bnl.mem,
                                                  by.mem, fp64 ? NULL : byl.mem, bk.mem),
                       "rk_accept") &&
            !ck_download(c, &by, got_y, "rk_accept y") && !ck_download(c, &byl, got_lo, "rk_accept ylo") &&
            !ck_download(c, &bk, got_k, "rk_accept K")) {
            const size_t pe = es * (size_t)p.per_image;
            for (int32_t b = 0; b < p.n; b++) {
                const float *ey = mask[b] ? ynew : y, *el = mask[b] && !fp64 ? ylonew : ylo;
                const float *ek1 = mask[b] ? K + 6 * es * nd : K;
                if (ck_compare(c, "rk_accept y", shape, got_y + b * pe, ey + b * pe, pe, 0, 0) ||
                    ck_compare(c, "rk_accept ylo", shape, got_lo + (size_t)b * p.per_image,
                               el + (size_t)b * p.per_image, (size_t)p.per_image, 0, 0) ||
                    ck_compare(c, "rk_accept K1", shape, got_k + b * pe, ek1 + b * pe, pe, 0, 0) ||
                    ck_compare(c, "rk_accept K2..7", shape, got_k + es * nd, K + es * nd, 6 * es * nd, 0, 0))
                    break;
            }
        }
        ck_free(&bn), ck_free(&bnl), ck_free(&by), ck_free(&byl), ck_free(&bk);
    }
done:
    clsde_buffer_release(bmask);
    free(ynew), free(ylonew), free(y), free(ylo), free(K), free(got_y), free(got_lo), free(got_k);
    free(mask);
}

void check_rk45(checkkern *c)
{
    static const int flag_sets[] = {CLSDE_RK_ADD_Y, 0, CLSDE_RK_NO_H, CLSDE_RK_ADD_Y | CLSDE_RK_NO_H,
                                    CLSDE_RK_ADD_Y | CLSDE_RK_COMP};
    const int fp64 = c->ctx->info.fp64;
    for (int row = 0; row < CLSDE_RK_ROWS; row++) {
        const int flags = flag_sets[ck_randint(c, 0, 4)];
        if (fp64) check_combine_f64(c, row, flags & ~CLSDE_RK_COMP);
        check_combine_f32(c, row, flags);
        check_combine_f32(c, row, CLSDE_RK_ADD_Y | CLSDE_RK_COMP);
    }
    /* the float64 score (in_f64) only ever feeds the double state */
    check_drift(c, 0, 0);
    if (fp64) check_drift(c, 1, 0), check_drift(c, 1, 1);
    check_accept(c, 0);
    if (fp64) check_accept(c, 1);
}
