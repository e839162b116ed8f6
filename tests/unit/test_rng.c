/*
 * test_rng.c — the C Philox4x32-10 against Random123's known-answer vectors
 * (tests/kat_vectors of Random123: zeros, all ones, pi digits), and the Box–Muller /
 * uniform / Rademacher maps of src/ref/rng_ref.c: exact values at the edges, the float
 * path against the double path, and moments over 1e6 samples.
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

#include "ref/rng_ref.h"

static void test_philox_kat(void **state)
{
    /* counter[4] key[2] -> output[4], "philox4x32 10" lines of Random123 kat_vectors. */
    static const uint32_t kat[3][10] = {
        {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
         0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    (void)state;
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        clsde_philox4x32(10, kat[i], kat[i] + 4, out);
        for (int l = 0; l < 4; l++) assert_int_equal(out[l], kat[i][6 + l]);
    }
}

static void block(uint32_t w0, uint32_t w1, int fp32, float z[2])
{
    const uint32_t w[4] = {w0, w1, 0xffffffffu, 0};
    float v[4];
    clsde_rng_block_ref(CLSDE_RNG_NORMAL, fp32, w, v);
    z[0] = v[0], z[1] = v[1];
}

/* Edges of the map: u1 = 1 gives rho = 0; u1 = 2^-32 gives the largest radius
 * sqrt(64 ln 2); quarter turns give exact zeros in the other coordinate. */
static void test_box_muller_edges(void **state)
{
    const double rmax = sqrt(64.0 * log(2.0));
    float z[2];
    (void)state;
    for (int fp32 = 0; fp32 < 2; fp32++) {
        block(0xffffffffu, 0x12345678u, fp32, z);
        assert_true(z[0] == 0.0f && z[1] == 0.0f);
        block(0, 0, fp32, z);
        assert_true(fabs(z[0] - rmax) < 1e-5 * rmax && z[1] == 0.0f);
        block(0, 0x40000000u, fp32, z); /* angle pi/2 */
        assert_true(z[0] == 0.0f && fabs(z[1] - rmax) < 1e-5 * rmax);
        block(0, 0x80000000u, fp32, z); /* pi */
        assert_true(fabs(z[0] + rmax) < 1e-5 * rmax && z[1] == 0.0f);
        block(0, 0xc0000000u, fp32, z); /* 3 pi / 2 */
        assert_true(z[0] == 0.0f && fabs(z[1] + rmax) < 1e-5 * rmax);
        block(0, 0x20000000u, fp32, z); /* pi / 4: both equal */
        assert_true(fabs(z[0] - z[1]) <= 2e-7 * rmax);
        /* u1 just below 1/2 and at 1/2 use different formulas: rho must be continuous */
        block(0x7fffffffu, 0, fp32, z);
        {
            float z2[2];
            block(0x80000000u, 0, fp32, z2);
            assert_true(fabs(z[0] - sqrt(2.0 * log(2.0))) < 1e-6);
            assert_true(fabs(z2[0] - z[0]) < 1e-6);
        }
    }
}

/* The float path (devices without fp64) against the double path over many random
 * words: the same numbers up to float math, a few ulp of the radius. */
static void test_float_path_close(void **state)
{
    const uint32_t key[2] = {7, 11};
    double worst = 0;
    (void)state;
    for (uint32_t j = 0; j < 200000; j++) {
        const uint32_t ctr[4] = {j, 1, 2, 3};
        uint32_t w[4];
        float d[4], f[4];
        clsde_philox4x32(10, ctr, key, w);
        clsde_rng_block_ref(CLSDE_RNG_NORMAL, 0, w, d);
        clsde_rng_block_ref(CLSDE_RNG_NORMAL, 1, w, f);
        for (int l = 0; l < 4; l++) {
            const double rho = hypot(d[l & 2], d[(l & 2) + 1]);
            const double e = fabs((double)d[l] - f[l]) / (rho > 1e-3 ? rho : 1e-3);
            if (e > worst) worst = e;
        }
    }
    printf("float vs double Box-Muller: max |diff| / rho = %.3g (bound 1e-6)\n", worst);
    assert_true(worst < 1e-6);
}

/* Moments of 1e6 normals from consecutive counters. Bounds are ~5 standard errors:
 * mean sd 1e-3, variance sd sqrt(2/n) = 1.4e-3, tail P(|z| > 3) = 0.0027 with sd 5.2e-5,
 * so a biased Box–Muller (wrong radius, angle, or word pairing) fails. */
static void test_normal_moments(void **state)
{
    const size_t n = 1000000;
    float *z = malloc(n * sizeof *z);
    clsde_rng_params p;
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0, tail = 0, lag = 0;
    (void)state;
    assert_non_null(z);
    memset(&p, 0, sizeof p);
    p.seed = 0x0123456789abcdefULL;
    p.first_image = 3, p.n_images = 4, p.per_image = (uint32_t)(n / 4);
    p.step = 17, p.stream = clsde_rng_stream(CLSDE_RNG_PREDICTOR, 0);
    p.dist = CLSDE_RNG_NORMAL;
    clsde_rng_ref(&p, z);
    for (size_t i = 0; i < n; i++) {
        const double v = z[i];
        s1 += v, s2 += v * v, s3 += v * v * v, s4 += v * v * v * v;
        tail += fabs(v) > 3.0;
        if (i) lag += v * z[i - 1];
    }
    s1 /= n, s2 /= n, s3 /= n, s4 /= n, tail /= n, lag /= n - 1;
    printf("normal: mean %.5f var %.5f skew %.5f kurt %.4f P(|z|>3) %.6f lag-1 corr %.5f\n", s1,
           s2, s3, s4, tail, lag);
    assert_true(fabs(s1) < 5e-3);
    assert_true(fabs(s2 - 1.0) < 7e-3);
    assert_true(fabs(s3) < 1.5e-2);        /* sd sqrt(15/n) = 3.9e-3 */
    assert_true(fabs(s4 - 3.0) < 5e-2);    /* sd sqrt(96/n) = 9.8e-3 */
    assert_true(fabs(tail - 0.0026998) < 2.6e-4);
    assert_true(fabs(lag) < 5e-3);
    free(z);
}

static void test_uniform_rademacher(void **state)
{
    const size_t n = 400000;
    float *u = malloc(n * sizeof *u);
    clsde_rng_params p;
    double s1 = 0, s2 = 0, r1 = 0;
    (void)state;
    assert_non_null(u);
    memset(&p, 0, sizeof p);
    p.seed = 99, p.n_images = 1, p.per_image = (uint32_t)n;
    p.stream = clsde_rng_stream(CLSDE_RNG_DEQUANT, 0);
    p.dist = CLSDE_RNG_UNIFORM;
    clsde_rng_ref(&p, u);
    for (size_t i = 0; i < n; i++) {
        assert_true(u[i] >= 0.0f && u[i] < 1.0f);
        s1 += u[i], s2 += (double)u[i] * u[i];
    }
    s1 /= n, s2 /= n;
    assert_true(fabs(s1 - 0.5) < 5 * sqrt(1.0 / 12 / n));
    assert_true(fabs(s2 - 1.0 / 3) < 5 * sqrt(4.0 / 45 / n));
    p.dist = CLSDE_RNG_RADEMACHER;
    p.stream = clsde_rng_stream(CLSDE_RNG_PROBE, 0);
    clsde_rng_ref(&p, u);
    for (size_t i = 0; i < n; i++) {
        assert_true(u[i] == 1.0f || u[i] == -1.0f);
        r1 += u[i];
    }
    assert_true(fabs(r1 / n) < 5 / sqrt((double)n));
    free(u);
}

/* Every counter field matters: changing the image, step, stream or seed changes the
 * numbers, and an image's numbers do not depend on first_image / n_images. */
static void test_counter_fields(void **state)
{
    enum { PER = 37 };
    float a[3 * PER], b[PER], c[PER];
    clsde_rng_params p;
    (void)state;
    memset(&p, 0, sizeof p);
    p.seed = 5, p.first_image = 10, p.n_images = 3, p.per_image = PER, p.step = 4;
    p.stream = clsde_rng_stream(CLSDE_RNG_CORRECTOR, 1);
    clsde_rng_ref(&p, a);
    p.first_image = 11, p.n_images = 1;
    clsde_rng_ref(&p, b);
    assert_memory_equal(a + PER, b, sizeof b);
    memcpy(c, b, sizeof c);
    p.step = 5;
    clsde_rng_ref(&p, b);
    assert_true(memcmp(b, c, sizeof b) != 0);
    p.step = 4, p.stream = clsde_rng_stream(CLSDE_RNG_CORRECTOR, 0);
    clsde_rng_ref(&p, b);
    assert_true(memcmp(b, c, sizeof b) != 0);
    p.stream = clsde_rng_stream(CLSDE_RNG_CORRECTOR, 1), p.seed = 5 + (1ULL << 32);
    clsde_rng_ref(&p, b);
    assert_true(memcmp(b, c, sizeof b) != 0);
    assert_true(memcmp(a, a + PER, PER * sizeof *a) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_kat),
        cmocka_unit_test(test_box_muller_edges),
        cmocka_unit_test(test_float_path_close),
        cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_uniform_rademacher),
        cmocka_unit_test(test_counter_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
