/*
 * check_embed.c — cl/embed.cl against src/ref/embed_ref.c (networks.md §1.2).
 * Labels as the networks see them: VE σ log-uniform in [0.01, 1348] with W ~ N(0, 16²)
 * (Fourier arguments up to ~2.5e3 rad), positional labels 999·t with t log-uniform in
 * [1e-5, 1] (float32 product, as the VP wrapper forms it); nf / dim 16, 32, 128, odd
 * sizes and the smallest legal dim (4).
 * Tolerance: with cl_khr_fp64 both sides evaluate ln/exp/sin/cos in double and round, so
 * each value must be equal or 1 float ulp apart (the double results may straddle a float
 * rounding boundary). The float-only build (-DEMBED_FLOAT_ONLY, what a device without fp64
 * runs) is checked against |d| <= 4 ulp(1) + |arg|·4·2^-23: the OpenCL bounds of 4 ulp
 * for sin/cos and 3 ulp for ln/exp, where a ln or exp that is off moves the argument by
 * about that relative amount.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkkern.h"
#include "kernels/embed.h"
#include "ref/embed_ref.h"

/* Distance in units in the last place between two floats of the same sign (or zeros). */
static int64_t ulp_diff(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

static int exact_ulp; /* values 1 ulp apart in the fp64 path (informational) */
static int exact_total;

static void compare_ulp(checkkern *c, const char *what, const char *shape, const float *got,
                        const float *ref, size_t n)
{
    c->checks++;
    for (size_t i = 0; i < n; i++) {
        const int64_t d = ulp_diff(got[i], ref[i]);
        exact_total++;
        if (d == 1) exact_ulp++;
        if (d > 1 || isnan(got[i])) {
            fprintf(stderr, "FAIL %s: %s %s: index %zu: got %.9g, reference %.9g (%lld ulp; "
                            "seed %llu)\n",
                    c->kernel, what, shape, i, (double)got[i], (double)ref[i], (long long)d,
                    (unsigned long long)c->seed);
            c->failures++;
            return;
        }
    }
}

/* Float-only path: |got - ref| <= 4 ulp(1) + |arg[k]| * 4 * 2^-23 for feature k. */
static void compare_float_path(checkkern *c, const char *what, const char *shape,
                               const float *got, const float *ref, const double *arg,
                               int rows, int width, int half)
{
    c->checks++;
    for (int b = 0; b < rows; b++)
        for (int j = 0; j < width; j++) {
            const size_t i = (size_t)b * width + j;
            const double a = j < 2 * half ? fabs(arg[(size_t)b * half + j % half]) : 0.0;
            const double tol = 4.0 * 0x1p-24 + a * 4.0 * 0x1p-23;
            const double d = fabs((double)got[i] - (double)ref[i]);
            if (!(d <= tol)) {
                fprintf(stderr, "FAIL %s: %s %s: index %zu: got %.9g, reference %.9g (|d| %.3g "
                                "> %.3g; seed %llu)\n",
                        c->kernel, what, shape, i, (double)got[i], (double)ref[i], d, tol,
                        (unsigned long long)c->seed);
                c->failures++;
                return;
            }
        }
}

static void check_fourier(checkkern *c, int n, int nf, int float_only)
{
    const size_t m = (size_t)n * 2 * nf;
    float *sigma = ck_alloc(n), *W = ck_alloc(nf), *got = ck_alloc(m), *ref = ck_alloc(m);
    double *arg = malloc((size_t)n * nf * sizeof *arg);
    ck_buf bs, bw, bo;
    char shape[64];
    if (!arg) exit(2);
    snprintf(shape, sizeof shape, "n %d nf %d%s", n, nf, float_only ? " float-only" : "");
    for (int b = 0; b < n; b++)
        sigma[b] = (float)exp(ck_randf(c, (float)log(0.01), (float)log(1348.0)));
    if (n > 1) sigma[0] = 0.01f, sigma[n - 1] = 1348.0f; /* the ends of the VE range */
    ck_fill_normal(c, W, nf, 16.0f);
    for (int b = 0; b < n; b++)
        for (int k = 0; k < nf; k++)
            arg[(size_t)b * nf + k] = 2.0 * M_PI * log(sigma[b]) * W[k];
    clsde_fourier_embed_ref(n, nf, sigma, W, ref);
    bs = ck_upload(c, sigma, n);
    bw = ck_upload(c, W, nf);
    bo = ck_upload(c, NULL, m);
    if (!ck_status(c, clsde_fourier_embed_enqueue_ex(c->ctx, n, nf, bs.mem, bw.mem, bo.mem,
                                                     float_only),
                   "fourier_embed") &&
        !ck_download(c, &bo, got, "fourier_embed")) {
        if (float_only || !c->ctx->info.fp64)
            compare_float_path(c, "fourier_embed", shape, got, ref, arg, n, 2 * nf, nf);
        else
            compare_ulp(c, "fourier_embed", shape, got, ref, m);
    }
    ck_free(&bs), ck_free(&bw), ck_free(&bo);
    free(sigma), free(W), free(got), free(ref), free(arg);
}

static void check_sinusoidal(checkkern *c, int n, int dim, int float_only)
{
    const size_t m = (size_t)n * dim;
    const int half = dim / 2;
    float *label = ck_alloc(n), *got = ck_alloc(m), *ref = ck_alloc(m);
    double *arg = malloc((size_t)n * half * sizeof *arg);
    ck_buf bl, bo;
    char shape[64];
    if (!arg) exit(2);
    snprintf(shape, sizeof shape, "n %d dim %d%s", n, dim, float_only ? " float-only" : "");
    for (int b = 0; b < n; b++) {
        const float t = (float)exp(ck_randf(c, (float)log(1e-5), 0.0f));
        label[b] = 999.0f * t;
    }
    if (n > 1) label[0] = 999.0f * 1e-5f, label[n - 1] = 999.0f;
    for (int b = 0; b < n; b++)
        for (int k = 0; k < half; k++)
            arg[(size_t)b * half + k] = label[b] * exp(-log(10000.0) * k / (half - 1));
    clsde_sinusoidal_embed_ref(n, dim, label, ref);
    bl = ck_upload(c, label, n);
    bo = ck_upload(c, NULL, m);
    if (!ck_status(c, clsde_sinusoidal_embed_enqueue_ex(c->ctx, n, dim, bl.mem, bo.mem,
                                                        float_only),
                   "sinusoidal_embed") &&
        !ck_download(c, &bo, got, "sinusoidal_embed")) {
        if (float_only || !c->ctx->info.fp64)
            compare_float_path(c, "sinusoidal_embed", shape, got, ref, arg, n, dim, half);
        else
            compare_ulp(c, "sinusoidal_embed", shape, got, ref, m);
    }
    ck_free(&bl), ck_free(&bo);
    free(label), free(got), free(ref), free(arg);
}

static void check_errors(checkkern *c)
{
    ck_buf b = ck_upload(c, NULL, 16);
    c->checks++;
    if (clsde_sinusoidal_embed_enqueue(c->ctx, 1, 3, b.mem, b.mem) != CLSDE_ERR_ARG ||
        clsde_sinusoidal_embed_enqueue(c->ctx, 0, 16, b.mem, b.mem) != CLSDE_ERR_ARG ||
        clsde_fourier_embed_enqueue(c->ctx, 1, 0, b.mem, b.mem, b.mem) != CLSDE_ERR_ARG) {
        fprintf(stderr, "FAIL embed: a bad size was not rejected\n");
        c->failures++;
    }
    ck_free(&b);
}

void check_embed(checkkern *c)
{
    static const int sizes[] = {16, 32, 128, 4, 5, 17, 33, 129};
    const int reps = c->small ? 2 : 40;
    exact_ulp = exact_total = 0;
    check_errors(c);
    for (int r = 0; r < reps; r++) {
        const int n = ck_randint(c, 0, 3) ? ck_randint(c, 1, 8) : 1;
        const int dim = ck_pick(c, sizes, 8);
        const int nf = ck_pick(c, sizes, 8);
        check_sinusoidal(c, n, dim < 4 ? 4 : dim, 0);
        check_fourier(c, n, nf, 0);
        if (r % 4 == 0) {
            check_sinusoidal(c, n, dim < 4 ? 4 : dim, 1);
            check_fourier(c, n, nf, 1);
        }
    }
    printf("embed: fp64 path %d values, %d of them 1 ulp from the reference, the rest equal\n",
           exact_total, exact_ulp);
}
