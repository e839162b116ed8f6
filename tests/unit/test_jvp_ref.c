/*
 * test_jvp_ref.c — the forward-mode derivative references (algorithms.md §6.2) checked as
 * derivatives, so the math of each reference is tested, not only the kernels against it:
 *   1. a double re-implementation of each forward (GroupNorm + SiLU, SiLU, attention),
 *      first tied to the float forward reference it mirrors (same values up to float
 *      rounding), then differentiated by a central difference
 *      (f(x + h t) - f(x - h t)) / (2h) in double: truncation O(h^2), rounding O(1e-16/h),
 *      both far below the float rounding of the JVP reference (tolerance 1e-6 relative to
 *      the largest tangent, plus 1e-6 relative);
 *   2. the same difference of the float forward references themselves, h = 1e-3 (float
 *      inputs and outputs: ~1e-4 relative), tolerance 2e-3 of the largest tangent.
 * Plus dot_per_image_ref against sumsq_per_image_ref and a long-double sum.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ref/attention_ref.h"
#include "ref/elementwise_ref.h"
#include "ref/group_norm_ref.h"
#include "ref/reduce_ref.h"

/* ---- deterministic inputs ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static double uniform(void) /* [0, 1) */
{
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) * (1.0 / 9007199254740992.0);
}

static float normal(double scale)
{
    const double u1 = uniform() + 1e-300, u2 = uniform();
    return (float)(scale * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static float *alloc_f(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static double *alloc_d(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static double max_abs_d(const double *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* |got - want| <= atol + rtol |want| everywhere; prints the first mismatch. */
static void expect_close(const char *what, const float *got, const double *want, size_t n,
                         double atol, double rtol)
{
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]);
        if (!(d <= atol + rtol * fabs(want[i]))) {
            fprintf(stderr, "%s: index %zu: got %.9g, want %.9g (|diff| %.3g > %.3g)\n", what,
                    i, (double)got[i], want[i], d, atol + rtol * fabs(want[i]));
            fail();
        }
    }
}

/* ---- the forwards in double ---- */

static double silu_d(double z)
{
    return z / (1.0 + exp(-z));
}

/* GroupNorm (+ SiLU) as networks.md §0 defines it: biased variance, eps inside the root */
static void group_norm_d(const clsde_group_norm_params *p, const double *x, const float *gamma,
                         const float *beta, double *y)
{
    const size_t cg = (size_t)(p->c / p->groups), hw = (size_t)p->hw, span = cg * hw;
    for (size_t grp = 0; grp < (size_t)p->n * (size_t)p->groups; grp++) {
        const double *xg = x + grp * span;
        double *yg = y + grp * span;
        double mean = 0.0, var = 0.0;
        for (size_t i = 0; i < span; i++) mean += xg[i];
        mean /= (double)span;
        for (size_t i = 0; i < span; i++) var += (xg[i] - mean) * (xg[i] - mean);
        var /= (double)span;
        for (size_t i = 0; i < span; i++) {
            const size_t ch = (grp % (size_t)p->groups) * cg + i / hw;
            const double z = (xg[i] - mean) / sqrt(var + (double)p->eps) * gamma[ch] + beta[ch];
            yg[i] = p->silu ? silu_d(z) : z;
        }
    }
}

/* single-head attention over hw positions, scale the float32 c^-1/2 (networks.md §1.6) */
static void attention_d(int c, int hw, int n, const double *q, const double *k, const double *v,
                        double *o)
{
    const double scale = (double)(float)pow((double)c, -0.5);
    double *w = alloc_d((size_t)hw);
    for (int b = 0; b < n; b++) {
        const size_t pl = (size_t)b * c * hw;
        for (int p = 0; p < hw; p++) {
            double m = -INFINITY, l = 0.0;
            for (int p2 = 0; p2 < hw; p2++) {
                double s = 0.0;
                for (int ch = 0; ch < c; ch++)
                    s += q[pl + (size_t)ch * hw + p] * k[pl + (size_t)ch * hw + p2];
                w[p2] = s * scale;
                m = fmax(m, w[p2]);
            }
            for (int p2 = 0; p2 < hw; p2++) l += (w[p2] = exp(w[p2] - m));
            for (int ch = 0; ch < c; ch++) {
                double acc = 0.0;
                for (int p2 = 0; p2 < hw; p2++) acc += w[p2] / l * v[pl + (size_t)ch * hw + p2];
                o[pl + (size_t)ch * hw + p] = acc;
            }
        }
    }
    free(w);
}

/* ---- GroupNorm ---- */

/* x = offset + xs N(0,1) per group (xs ~ 1e-3 puts var near eps = 1e-6), t = N(0,1) plus a
 * per-group offset and a multiple of x (the mean and covariance terms) */
static void check_group_norm_case(int n, int c, int groups, int hw, int silu, double xs)
{
    const clsde_group_norm_params p = {n, c, hw, groups, 1e-6f, silu};
    const size_t total = (size_t)n * c * hw, span = total / ((size_t)n * groups);
    float *x = alloc_f(total), *t = alloc_f(total), *gamma = alloc_f((size_t)c);
    float *beta = alloc_f((size_t)c), *ty = alloc_f(total), *yf = alloc_f(total);
    float *xp = alloc_f(total), *xm = alloc_f(total), *yp = alloc_f(total), *ym = alloc_f(total);
    double *xd = alloc_d(total), *yd = alloc_d(total), *ypd = alloc_d(total);
    double *ymd = alloc_d(total), *fd = alloc_d(total), *fdf = alloc_d(total), scale;
    double h = INFINITY;
    char what[96];

    for (size_t g = 0; g < total / span; g++) {
        const float off = normal(3.0), toff = normal(1.0), corr = normal(1.0);
        for (size_t i = g * span; i < (g + 1) * span; i++) {
            x[i] = off + normal(xs);
            t[i] = toff + corr * (x[i] - off) / (float)xs + normal(1.0);
        }
    }
    for (int ch = 0; ch < c; ch++) gamma[ch] = normal(1.0), beta[ch] = normal(0.5);
    clsde_group_norm_jvp_ref(&p, x, t, gamma, beta, ty);
    /* the step: 1e-5 of the smallest sigma of a group (two close values make a small one) */
    for (size_t g = 0; g < total / span; g++) {
        double mean = 0.0, var = 0.0;
        for (size_t i = g * span; i < (g + 1) * span; i++) mean += x[i];
        mean /= (double)span;
        for (size_t i = g * span; i < (g + 1) * span; i++) var += (x[i] - mean) * (x[i] - mean);
        h = fmin(h, 1e-5 * sqrt(var / (double)span + 1e-6));
    }

    /* the double forward is the float reference's function */
    for (size_t i = 0; i < total; i++) xd[i] = x[i];
    group_norm_d(&p, xd, gamma, beta, yd);
    clsde_group_norm_ref(&p, x, gamma, beta, yf);
    snprintf(what, sizeof what, "group_norm forward %dx%dx%d groups %d silu %d xs %g", n, c, hw,
             groups, silu, xs);
    expect_close(what, yf, yd, total, 1e-6 * (1 + max_abs_d(yd, total)), 1e-6);

    /* 1. central difference in double */
    for (size_t i = 0; i < total; i++) xd[i] = (double)x[i] + h * t[i];
    group_norm_d(&p, xd, gamma, beta, ypd);
    for (size_t i = 0; i < total; i++) xd[i] = (double)x[i] - h * t[i];
    group_norm_d(&p, xd, gamma, beta, ymd);
    for (size_t i = 0; i < total; i++) fd[i] = (ypd[i] - ymd[i]) / (2 * h);
    scale = max_abs_d(fd, total);
    snprintf(what, sizeof what, "group_norm_jvp %dx%dx%d groups %d silu %d xs %g", n, c, hw,
             groups, silu, xs);
    expect_close(what, ty, fd, total, 1e-6 * scale, 1e-6);

    /* 2. central difference of the float forward reference, step 1e-3 of the smallest
     * sigma, where float inputs resolve it (sigma >= 0.1; not for xs ~ 1e-3 on offsets of
     * ~3, where ulp(3) is a quarter of the step) */
    if (h >= 1e-6) {
        const float hf = (float)(100 * h);
        for (size_t i = 0; i < total; i++) xp[i] = x[i] + hf * t[i], xm[i] = x[i] - hf * t[i];
        clsde_group_norm_ref(&p, xp, gamma, beta, yp);
        clsde_group_norm_ref(&p, xm, gamma, beta, ym);
        for (size_t i = 0; i < total; i++) fdf[i] = ((double)yp[i] - ym[i]) / (2.0 * hf);
        expect_close(what, ty, fdf, total, 2e-3 * scale, 0);
    }

    free(x), free(t), free(gamma), free(beta), free(ty), free(yf), free(xp), free(xm);
    free(yp), free(ym), free(xd), free(yd), free(ypd), free(ymd), free(fd), free(fdf);
}

static void test_group_norm_jvp(void **state)
{
    (void)state;
    check_group_norm_case(2, 6, 3, 5, 0, 1.0);
    check_group_norm_case(2, 6, 3, 5, 1, 1.0);
    check_group_norm_case(1, 4, 1, 7, 1, 2.0);
    check_group_norm_case(3, 5, 5, 9, 1, 0.5);  /* groups of one channel */
    check_group_norm_case(1, 8, 2, 16, 0, 1e-3); /* var ~ eps: eps inside the root matters */
    check_group_norm_case(1, 8, 2, 16, 1, 1e-3);
    check_group_norm_case(2, 3, 3, 2, 1, 1.0);  /* two values per group */
}

/* ---- SiLU ---- */

static void test_silu_jvp(void **state)
{
    enum { N = 2001 };
    float *x = alloc_f(N), *t = alloc_f(N), *ty = alloc_f(N), *y = alloc_f(N);
    float *yp = alloc_f(N), *ym = alloc_f(N);
    double *fd = alloc_d(N), *fdf = alloc_d(N), *yd = alloc_d(N);
    const double h = 1e-5;
    (void)state;
    for (int i = 0; i < N; i++) {
        x[i] = (float)(-20.0 + 40.0 * i / (N - 1)); /* includes the zero of silu' at -1.28 */
        t[i] = normal(1.0);
    }
    clsde_silu_jvp_ref(N, x, t, ty);
    clsde_silu_ref(N, x, y);
    for (int i = 0; i < N; i++) {
        yd[i] = silu_d(x[i]);
        fd[i] = (silu_d((double)x[i] + h * t[i]) - silu_d((double)x[i] - h * t[i])) / (2 * h);
    }
    expect_close("silu forward", y, yd, N, 1e-30, 1e-7);
    expect_close("silu_jvp", ty, fd, N, 1e-6 * max_abs_d(fd, N), 1e-6);
    /* ty may equal tx */
    memcpy(yp, t, N * sizeof *t);
    clsde_silu_jvp_ref(N, x, yp, yp);
    assert_memory_equal(yp, ty, N * sizeof *ty);
    /* the float forward, h = 1e-2 on inputs of magnitude <= 20 */
    {
        float *xp = alloc_f(N), *xm = alloc_f(N);
        for (int i = 0; i < N; i++) xp[i] = x[i] + 1e-2f * t[i], xm[i] = x[i] - 1e-2f * t[i];
        clsde_silu_ref(N, xp, yp);
        clsde_silu_ref(N, xm, ym);
        for (int i = 0; i < N; i++) fdf[i] = ((double)yp[i] - ym[i]) / 2e-2;
        expect_close("silu_jvp (float forward)", ty, fdf, N, 2e-3 * max_abs_d(fd, N), 0);
        free(xp), free(xm);
    }
    free(x), free(t), free(ty), free(y), free(yp), free(ym), free(fd), free(fdf), free(yd);
}

/* ---- attention ---- */

static void check_attention_case(int n, int c, int hw, double in_scale)
{
    const size_t total = (size_t)n * c * hw;
    const double h = 1e-6;
    const float hf = 1e-3f;
    float *in[6], *in_p[3], *in_m[3], *to = alloc_f(total), *of = alloc_f(total);
    float *op = alloc_f(total), *om = alloc_f(total);
    double *d[3], *od = alloc_d(total), *odp = alloc_d(total), *odm = alloc_d(total);
    double *fd = alloc_d(total), *fdf = alloc_d(total), scale;
    char what[96];
    for (int i = 0; i < 6; i++) {
        in[i] = alloc_f(total);
        for (size_t j = 0; j < total; j++) in[i][j] = normal(i < 2 ? in_scale : 1.0);
    }
    for (int i = 0; i < 3; i++)
        d[i] = alloc_d(total), in_p[i] = alloc_f(total), in_m[i] = alloc_f(total);
    clsde_attention_jvp_ref(n, c, hw, in[0], in[1], in[2], in[3], in[4], in[5], to);

    for (int i = 0; i < 3; i++)
        for (size_t j = 0; j < total; j++) d[i][j] = in[i][j];
    attention_d(c, hw, n, d[0], d[1], d[2], od);
    clsde_attention_ref(n, c, hw, in[0], in[1], in[2], of);
    snprintf(what, sizeof what, "attention forward n %d c %d hw %d scale %g", n, c, hw, in_scale);
    expect_close(what, of, od, total, 1e-6 * max_abs_d(od, total), 1e-6);

    for (int s = 1; s >= -1; s -= 2) {
        for (int i = 0; i < 3; i++)
            for (size_t j = 0; j < total; j++) d[i][j] = (double)in[i][j] + s * h * in[3 + i][j];
        attention_d(c, hw, n, d[0], d[1], d[2], s > 0 ? odp : odm);
    }
    for (size_t j = 0; j < total; j++) fd[j] = (odp[j] - odm[j]) / (2 * h);
    scale = max_abs_d(fd, total);
    snprintf(what, sizeof what, "attention_jvp n %d c %d hw %d scale %g", n, c, hw, in_scale);
    expect_close(what, to, fd, total, 1e-6 * scale, 1e-6);

    for (int i = 0; i < 3; i++)
        for (size_t j = 0; j < total; j++)
            in_p[i][j] = in[i][j] + hf * in[3 + i][j], in_m[i][j] = in[i][j] - hf * in[3 + i][j];
    clsde_attention_ref(n, c, hw, in_p[0], in_p[1], in_p[2], op);
    clsde_attention_ref(n, c, hw, in_m[0], in_m[1], in_m[2], om);
    for (size_t j = 0; j < total; j++) fdf[j] = ((double)op[j] - om[j]) / (2.0 * hf);
    expect_close(what, to, fdf, total, 2e-3 * scale, 0);

    for (int i = 0; i < 6; i++) free(in[i]);
    for (int i = 0; i < 3; i++) free(d[i]), free(in_p[i]), free(in_m[i]);
    free(to), free(of), free(op), free(om), free(od), free(odp), free(odm), free(fd), free(fdf);
}

static void test_attention_jvp(void **state)
{
    (void)state;
    check_attention_case(1, 1, 1, 1.0); /* one key: w = 1, the tangent is tv */
    check_attention_case(2, 3, 5, 1.0);
    check_attention_case(1, 8, 16, 2.0); /* peaky scores */
    check_attention_case(1, 5, 33, 0.5);
}

/* ---- dot_per_image ---- */

static void test_dot_per_image(void **state)
{
    enum { NB = 3, PER = 1001 };
    float *a = alloc_f(NB * PER), *b = alloc_f(NB * PER), got[NB], sq[NB];
    (void)state;
    for (int i = 0; i < NB * PER; i++) a[i] = normal(2.0), b[i] = normal(0.5);
    clsde_dot_per_image_ref(NB, PER, a, a, got);
    clsde_sumsq_per_image_ref(NB, PER, 0, a, sq);
    assert_memory_equal(got, sq, sizeof got);
    clsde_dot_per_image_ref(NB, PER, a, b, got);
    for (int img = 0; img < NB; img++) {
        long double s = 0;
        for (int i = img * PER; i < (img + 1) * PER; i++) s += (long double)a[i] * b[i];
        assert_true(got[img] == (float)s);
    }
    free(a), free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_norm_jvp),
        cmocka_unit_test(test_silu_jvp),
        cmocka_unit_test(test_attention_jvp),
        cmocka_unit_test(test_dot_per_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
