/*
 * test_sde.c — src/sde.c against closed forms (algorithms.md §1, §9): sigma(t), m(t), g(t)
 * through the SDE's own consistency (d sigma^2/dt, dm/dt), the float32 schedules, the
 * time->index map over the grid (§1.3 incl. N = 2000, eps = 1e-3), the predictor
 * coefficients through the exact mean/variance recursion of a single Gaussian (§9.5 item 3)
 * compared with the continuous solution (§9.2), ALD stationarity, the PF drift against
 * the closed-form flow, and the colour matrices.
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

#include "sde.h"

static const clsde_sde_type types[3] = {CLSDE_SDE_VE, CLSDE_SDE_VP, CLSDE_SDE_SUBVP};
static const char *const type_names[3] = {"VE", "VP", "subVP"};

static void make(clsde_sde *sde, clsde_sde_type type, int32_t n, double eps)
{
    clsde_sde_config cfg;
    clsde_sde_config_default(&cfg, type);
    cfg.n = n;
    if (eps > 0) cfg.eps = eps;
    assert_int_equal(clsde_sde_init(sde, &cfg), CLSDE_OK);
}

/* sigma, m, g in closed form (§1.1), independent of sde.c's expressions */
static void closed_form(clsde_sde_type type, double t, double *sig, double *m, double *g)
{
    const double bint = 0.1 * t + 0.5 * 19.9 * t * t, beta = 0.1 + 19.9 * t;
    if (type == CLSDE_SDE_VE) {
        *sig = 0.01 * pow(5000.0, t);
        *m = 1;
        *g = *sig * sqrt(2 * log(5000.0));
    } else {
        *m = exp(-0.25 * t * t * 19.9 - 0.5 * t * 0.1); /* the code's form of exp(-Bint/2) */
        *sig = type == CLSDE_SDE_VP ? sqrt(1 - exp(-bint)) : 1 - exp(-bint);
        *g = type == CLSDE_SDE_VP ? sqrt(beta) : sqrt(beta * (1 - exp(-2 * bint)));
    }
}

static void test_continuous(void **state)
{
    (void)state;
    for (int ti = 0; ti < 3; ti++) {
        clsde_sde sde;
        make(&sde, types[ti], 1000, 0);
        for (double t = 1e-3; t <= 1.0; t += 0.0731) {
            double sig, m, g;
            const double h = 1e-6;
            closed_form(types[ti], t, &sig, &m, &g);
            assert_true(fabs(clsde_sde_std(&sde, t) - sig) <= 1e-12 * (1 + sig));
            assert_true(fabs(clsde_sde_mean_coeff(&sde, t) - m) <= 1e-12);
            assert_true(fabs(clsde_sde_g(&sde, t) - g) <= 1e-11 * (1 + g));
            /* The SDE's own consistency: c = sigma^2 (data variance 0) obeys
             * c' = g^2 (VE) or c' = -beta c + g^2 (VP, subVP), and m' = -beta/2 m. */
            {
                const double sp = clsde_sde_std(&sde, t + h), sm = clsde_sde_std(&sde, t - h);
                const double dc = (sp * sp - sm * sm) / (2 * h);
                const double beta = types[ti] == CLSDE_SDE_VE ? 0 : clsde_sde_beta(&sde, t);
                const double want = -beta * sig * sig + g * g;
                const double dm = (clsde_sde_mean_coeff(&sde, t + h) -
                                   clsde_sde_mean_coeff(&sde, t - h)) / (2 * h);
                assert_true(fabs(dc - want) <= 1e-6 * (1 + fabs(want)));
                assert_true(fabs(dm + 0.5 * beta * m) <= 1e-7);
                assert_true(fabs(clsde_sde_drift_coeff(&sde, t) + 0.5 * beta) <= 1e-12);
            }
        }
        assert_true(clsde_sde_prior_std(&sde) == (types[ti] == CLSDE_SDE_VE ? 50.0 : 1.0));
        clsde_sde_destroy(&sde);
    }
}

static void test_schedules(void **state)
{
    clsde_sde ve, vp;
    (void)state;
    make(&ve, CLSDE_SDE_VE, 1000, 0);
    make(&vp, CLSDE_SDE_VP, 1000, 0);
    for (int k = 0; k < 1000; k++) {
        const double want = exp(log(0.01) + k / 999.0 * (log(50.0) - log(0.01)));
        double lp = 0;
        assert_true(fabs(ve.sigmas[k] - want) <= 4e-7 * want);
        if (k) assert_true(ve.sigmas[k] > ve.sigmas[k - 1]);
        assert_true(fabs(vp.betas[k] - (0.1 / 1000 + k * 19.9 / (1000.0 * 999))) <=
                    2.4e-7 * vp.betas[k]);
        assert_true(vp.alphas[k] == 1.0f - vp.betas[k]);
        for (int j = 0; j <= k; j++) lp += log(1.0 - vp.betas[j]);
        assert_true(fabs(vp.alphas_cumprod[k] - exp(lp)) <= 2e-6 * exp(lp) + 1e-9);
        assert_true(fabs(vp.sqrt_1m_alphas_cumprod[k] - sqrt(1 - exp(lp))) <= 1e-5);
        /* N beta_k ~ beta(k/(N-1)) (§1.2) */
        assert_true(fabs(1000.0 * vp.betas[k] - clsde_sde_beta(&vp, k / 999.0)) <= 1e-4);
    }
    /* the endpoints carry float32 rounding of log(): sigma_max comes out as 50.0000038 */
    assert_true(ve.sigmas[0] == 0.00999999978f);
    assert_true(ve.sigmas[999] == 50.0000038f);
    assert_true(vp.betas[0] == (float)(0.1 / 1000) && vp.betas[999] == (float)(20.0 / 1000));
    clsde_sde_destroy(&ve);
    clsde_sde_destroy(&vp);
}

/* k(t_i) = N-1-i for the official settings, but not for N = 2000, eps = 1e-3: there
 * t_i (N-1) = N-1-i + i eps and the floor moves up by one from i = 1000 on (§1.3). */
static void test_time_index(void **state)
{
    static const struct {
        int32_t n;
        double eps;
        int first_shift; /* first i with k = N - i, -1: none */
    } cases[] = {{1000, 1e-3, -1}, {1000, 1e-5, -1}, {10, 1e-5, -1}, {2000, 1e-3, 1000},
                 {2000, 1e-5, -1}, {232, 1e-5, -1}, {1086, 1e-5, -1}};
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        clsde_sde sde;
        float *t = malloc((size_t)cases[c].n * sizeof *t);
        int shifted = 0, first = -1;
        assert_non_null(t);
        make(&sde, CLSDE_SDE_VP, cases[c].n, cases[c].eps);
        clsde_sde_time_grid(&sde, t);
        assert_true(t[0] == 1.0f && t[cases[c].n - 1] == (float)cases[c].eps);
        for (int32_t i = 0; i < cases[c].n; i++) {
            const int32_t k = clsde_sde_time_index(&sde, t[i]);
            if (i) assert_true(t[i] < t[i - 1]);
            if (k == cases[c].n - i) {
                shifted++;
                if (first < 0) first = i;
            } else {
                assert_int_equal(k, cases[c].n - 1 - i);
            }
        }
        printf("N = %d, eps = %g: k(t_i) = N-i for %d grid points, first at i = %d\n",
               (int)cases[c].n, cases[c].eps, shifted, first);
        assert_int_equal(first, cases[c].first_shift);
        if (first >= 0) assert_int_equal(shifted, cases[c].n - first);
        clsde_sde_destroy(&sde);
        free(t);
    }
}

static void test_grid_and_labels(void **state)
{
    /* linspace(1, 1e-5, 10) as torch builds it (the sampler_ve_small fixture's timesteps) */
    static const float want[10] = {1.0f,        0.888890028f, 0.777779996f, 0.666669965f,
                                   0.555559993f, 0.444450021f, 0.333340019f, 0.222230002f,
                                   0.11112f,    9.99999975e-06f};
    /* exp(linspace(ln 0.01, ln 50, 10)) as the fixture recorded it: the fused linspace
     * (see sde.c) differs from start + step*i at k = 3 and 6 */
    static const float sig[10] = {0.00999999978f, 0.0257630143f, 0.0663732737f, 0.17099756f,
                                  0.440541208f,   1.13496757f,   2.92401838f,   7.5331521f,
                                  19.4076672f,    50.0000038f};
    float t[1000];
    clsde_sde sde;
    (void)state;
    make(&sde, CLSDE_SDE_VE, 10, 1e-5);
    clsde_sde_time_grid(&sde, t);
    for (int i = 0; i < 10; i++) assert_true(t[i] == want[i]);
    for (int i = 0; i < 10; i++) assert_true(sde.sigmas[i] == sig[i]);
    clsde_sde_destroy(&sde);
    make(&sde, CLSDE_SDE_VE, 1000, 1e-5);
    clsde_sde_time_grid(&sde, t);
    for (int i = 0; i < 1000; i++) assert_int_equal(clsde_sde_ve_label(&sde, t[i]), i);
    clsde_sde_destroy(&sde);
}

/* Run a predictor-only chain on a single Gaussian N(mu, s^2) per dimension with the exact
 * score s(x,t) = (m mu - x)/c, c = m^2 s^2 + sigma^2: x' = A x + B s + S z gives
 * mean' = (A - B/c) mean + B m mu / c and var' = (A - B/c)^2 var + S^2 exactly. */
static void chain(const clsde_sde *sde, clsde_predictor pred, int pf, double mu, double s,
                  double *mean, double *var)
{
    float t[4000];
    assert_true(sde->cfg.n <= 4000);
    double m1, c1, sig;
    clsde_sde_time_grid(sde, t);
    m1 = clsde_sde_mean_coeff(sde, 1.0), sig = clsde_sde_std(sde, 1.0);
    c1 = m1 * m1 * s * s + sig * sig;
    *mean = m1 * mu, *var = c1;
    for (int i = 0; i < sde->cfg.n; i++) {
        clsde_coef k;
        const double m = clsde_sde_mean_coeff(sde, t[i]), sd = clsde_sde_std(sde, t[i]);
        const double c = m * m * s * s + sd * sd;
        assert_int_equal(clsde_sde_predictor_coef(sde, pred, pf, t[i], &k), CLSDE_OK);
        {
            const double a = k.a - k.b / c;
            *mean = a * *mean + k.b * m * mu / c;
            *var = a * a * *var + (double)k.s * k.s;
        }
    }
}

static void test_predictor_chains(void **state)
{
    const double mu = 0.3, s = 0.5;
    (void)state;
    for (int ti = 0; ti < 3; ti++) {
        clsde_sde sde;
        double me, ce;
        make(&sde, types[ti], 1000, 0);
        me = clsde_sde_mean_coeff(&sde, sde.cfg.eps) * mu;
        ce = pow(clsde_sde_mean_coeff(&sde, sde.cfg.eps) * s, 2) +
             pow(clsde_sde_std(&sde, sde.cfg.eps), 2);
        for (int p = CLSDE_PREDICTOR_EULER_MARUYAMA; p <= CLSDE_PREDICTOR_ANCESTRAL; p++)
            for (int pf = 0; pf < 2; pf++) {
                double mean, var;
                clsde_coef k;
                const clsde_status st = clsde_sde_predictor_coef(&sde, (clsde_predictor)p, pf,
                                                                 0.5f, &k);
                if (p == CLSDE_PREDICTOR_ANCESTRAL && (pf || types[ti] == CLSDE_SDE_SUBVP)) {
                    assert_int_equal(st, CLSDE_ERR_UNSUPPORTED);
                    continue;
                }
                assert_int_equal(st, CLSDE_OK);
                if (pf) assert_true(k.s == 0.0f);
                chain(&sde, (clsde_predictor)p, pf, mu, s, &mean, &var);
                printf("%-5s predictor %d pf %d: mean %.5f (target %.5f), var %.5f (target "
                       "%.5f, rel %+.4f)\n",
                       type_names[ti], p, pf, mean, me, var, ce, var / ce - 1);
                /* §9.5: official runs land within 0.005 of the mean and ~2 % of the
                 * variance; the exact recursion has no sampling noise */
                assert_true(fabs(mean - me) < 0.005);
                if (!pf) {
                    assert_true(fabs(var / ce - 1) < 0.02);
                } else {
                    /* The deterministic (PF) chains carry the first-order error of an
                     * Euler step on the PF ODE, up to ~4 % at N = 1000 (cf. the poor P1000
                     * probability-flow FIDs of paper Table 1). Check that it is that error:
                     * with eps = 1/N (so Delta = 1/N equals the grid spacing and the §3.1
                     * time-scale quirk vanishes) it must shrink ~4x from N = 1000 to 4000. */
                    clsde_sde c1, c4;
                    double m1, v1, m4, v4, e1, e4;
                    make(&c1, types[ti], 1000, 1e-3);
                    make(&c4, types[ti], 4000, 2.5e-4);
                    chain(&c1, (clsde_predictor)p, pf, mu, s, &m1, &v1);
                    chain(&c4, (clsde_predictor)p, pf, mu, s, &m4, &v4);
                    e1 = v1 / (pow(clsde_sde_mean_coeff(&c1, 1e-3) * s, 2) +
                               pow(clsde_sde_std(&c1, 1e-3), 2)) - 1;
                    e4 = v4 / (pow(clsde_sde_mean_coeff(&c4, 2.5e-4) * s, 2) +
                               pow(clsde_sde_std(&c4, 2.5e-4), 2)) - 1;
                    printf("      eps = 1/N: var rel %+.5f (N = 1000), %+.5f (N = 4000)\n", e1, e4);
                    assert_true(fabs(var / ce - 1) < 0.05);
                    assert_true(fabs(e4) < 0.35 * fabs(e1) + 2e-4);
                    clsde_sde_destroy(&c1);
                    clsde_sde_destroy(&c4);
                }
            }
        clsde_sde_destroy(&sde);
    }
}

/* Deterministic checks the chains cannot see: a wrong lambda for PF makes the chain
 * diverge from the data variance by far more than 2 %; test the coefficients directly. */
static void test_predictor_values(void **state)
{
    clsde_sde ve, vp;
    clsde_coef k, kpf;
    (void)state;
    make(&ve, CLSDE_SDE_VE, 10, 1e-5);
    make(&vp, CLSDE_SDE_VP, 1000, 0);
    /* VE at t = 1 (k = 9): G = sqrt(sigma_9^2 - sigma_8^2), fixture G = 46.0797462 */
    assert_int_equal(clsde_sde_predictor_coef(&ve, CLSDE_PREDICTOR_REVERSE_DIFFUSION, 0, 1.0f, &k),
                     CLSDE_OK);
    assert_true(fabs(k.s - 46.0797462) < 2e-5 && k.a == 1.0f && k.b == k.s * k.s);
    assert_int_equal(clsde_sde_predictor_coef(&ve, CLSDE_PREDICTOR_REVERSE_DIFFUSION, 1, 1.0f,
                                              &kpf), CLSDE_OK);
    assert_true(kpf.b == 0.5f * k.b && kpf.s == 0.0f);
    /* at k = 0 the previous sigma is 0: G = sigma_min, ancestral noise 0 */
    assert_int_equal(clsde_sde_predictor_coef(&ve, CLSDE_PREDICTOR_REVERSE_DIFFUSION, 0, 1e-5f, &k),
                     CLSDE_OK);
    assert_true(k.s == ve.sigmas[0]);
    assert_int_equal(clsde_sde_predictor_coef(&ve, CLSDE_PREDICTOR_ANCESTRAL, 0, 1e-5f, &k),
                     CLSDE_OK);
    assert_true(k.s == 0.0f && k.b == ve.sigmas[0] * ve.sigmas[0]);
    /* VP denoising step at eps: (2 - sqrt(1 - beta_0)) x + beta_0 s (§4) */
    assert_int_equal(clsde_sde_predictor_coef(&vp, CLSDE_PREDICTOR_REVERSE_DIFFUSION, 0, 1e-3f, &k),
                     CLSDE_OK);
    assert_true(fabs(k.a - (2 - sqrt(1 - 1e-4))) < 1e-7 && fabs(k.b - 1e-4) < 1e-10);
    /* Euler–Maruyama uses Delta = 1/N (§3.1): VP at t = 0.5, B = beta(t)/N */
    assert_int_equal(clsde_sde_predictor_coef(&vp, CLSDE_PREDICTOR_EULER_MARUYAMA, 0, 0.5f, &k),
                     CLSDE_OK);
    assert_true(fabs(k.b - clsde_sde_beta(&vp, 0.5) / 1000) < 1e-8);
    assert_true(fabs(k.a - (1 + 0.5 * clsde_sde_beta(&vp, 0.5) / 1000)) < 1e-7);
    assert_true(fabs(k.s - sqrt(clsde_sde_beta(&vp, 0.5) / 1000)) < 1e-7);
    assert_int_equal(clsde_sde_predictor_coef(&vp, (clsde_predictor)9, 0, 0.5f, &k), CLSDE_ERR_ARG);
    clsde_sde_destroy(&ve);
    clsde_sde_destroy(&vp);
    /* VP with N = 10: beta_k = 2 for large k, the discrete schedule is unusable; the
     * continuous predictor works, the discrete ones fail with a message */
    make(&vp, CLSDE_SDE_VP, 10, 0);
    assert_int_equal(clsde_sde_predictor_coef(&vp, CLSDE_PREDICTOR_EULER_MARUYAMA, 0, 1.0f, &k),
                     CLSDE_OK);
    assert_int_equal(clsde_sde_predictor_coef(&vp, CLSDE_PREDICTOR_ANCESTRAL, 0, 1.0f, &k),
                     CLSDE_ERR_NUMERIC);
    assert_non_null(strstr(clsde_last_error(NULL), "beta_max >= N"));
    clsde_sde_destroy(&vp);
}

/* ALD at fixed t on the exact p_t: var' = (1 - B/c)^2 var + S^2 has its fixed point
 * S^2 / (1 - (1 - B/c)^2), which is c up to a relative B/(2c) = a snr^2 sigma^2 / c when
 * S^2 = 2B (a wrong noise scale, e.g. S^2 = B, would put it at c/2). */
static void test_ald_stationary(void **state)
{
    (void)state;
    for (int ti = 0; ti < 3; ti++) {
        clsde_sde sde;
        make(&sde, types[ti], 1000, 0);
        for (float t = 0.05f; t <= 1.0f; t += 0.3f) {
            clsde_coef k;
            const double sd = clsde_sde_std(&sde, t), m = clsde_sde_mean_coeff(&sde, t);
            const double c = m * m * 0.25 + sd * sd, a = clsde_sde_langevin_alpha(&sde, t);
            double q, v;
            clsde_sde_ald_coef(&sde, t, 0.16f, &k);
            assert_true(fabs(k.b - 2 * a * pow(0.16 * sd, 2)) <= 1e-6 * k.b);
            q = 1 - k.b / c;
            v = (double)k.s * k.s / (1 - q * q);
            assert_true(fabs(v / c - 1) <= k.b / c);
        }
        clsde_sde_destroy(&sde);
    }
}

/* PF drift with the exact score equals the closed-form flow of §9.2:
 * dx/dt = m' mu + c'/(2c) (x - m mu). */
static void test_pf_drift(void **state)
{
    const double mu = 0.3, s = 0.5, h = 1e-6;
    (void)state;
    for (int ti = 0; ti < 3; ti++) {
        clsde_sde sde;
        make(&sde, types[ti], 1000, 0);
        for (double t = 0.01; t < 1.0; t += 0.123) {
            clsde_coef k;
            const double m = clsde_sde_mean_coeff(&sde, t), sd = clsde_sde_std(&sde, t);
            const double c = m * m * s * s + sd * sd;
            const double mp = clsde_sde_mean_coeff(&sde, t + h), sp = clsde_sde_std(&sde, t + h);
            const double mm = clsde_sde_mean_coeff(&sde, t - h), sm = clsde_sde_std(&sde, t - h);
            const double dc = ((mp * mp * s * s + sp * sp) - (mm * mm * s * s + sm * sm)) / (2 * h);
            const double dm = (mp - mm) / (2 * h);
            clsde_sde_pf_drift_coef(&sde, (float)t, &k);
            assert_true(k.s == 0.0f);
            for (double x = -3; x <= 3; x += 1.5) {
                const double score = (m * mu - x) / c;
                const double f = k.a * x + k.b * score;
                const double want = dm * mu + dc / (2 * c) * (x - m * mu);
                assert_true(fabs(f - want) <= 2e-5 * (1 + fabs(want)));
            }
        }
        clsde_sde_destroy(&sde);
    }
}

static void test_color_matrices(void **state)
{
    float M[9], Mi[9];
    (void)state;
    clsde_color_matrices(M, Mi);
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(M[3 * i] - 1 / sqrt(3.0)) < 2e-7); /* grey axis */
        for (int j = 0; j < 3; j++) {
            double p = 0, o = 0;
            for (int l = 0; l < 3; l++) p += (double)M[3 * i + l] * Mi[3 * l + j];
            for (int l = 0; l < 3; l++) o += (double)M[3 * l + i] * M[3 * l + j];
            assert_true(fabs(p - (i == j)) < 1e-6);
            assert_true(fabs(o - (i == j)) < 1e-6); /* orthonormal columns */
            assert_true(fabs(Mi[3 * i + j] - M[3 * j + i]) < 5e-7); /* M^-1 ~ M^T */
        }
    }
}

static void test_bad_config(void **state)
{
    clsde_sde sde;
    clsde_sde_config cfg;
    (void)state;
    clsde_sde_config_default(&cfg, CLSDE_SDE_VE);
    cfg.n = 1;
    assert_int_equal(clsde_sde_init(&sde, &cfg), CLSDE_ERR_ARG);
    clsde_sde_config_default(&cfg, CLSDE_SDE_VE);
    cfg.sigma_min = 60;
    assert_int_equal(clsde_sde_init(&sde, &cfg), CLSDE_ERR_ARG);
    clsde_sde_config_default(&cfg, CLSDE_SDE_VP);
    cfg.eps = 0;
    assert_int_equal(clsde_sde_init(&sde, &cfg), CLSDE_ERR_ARG);
    clsde_sde_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continuous),      cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_time_index),      cmocka_unit_test(test_grid_and_labels),
        cmocka_unit_test(test_predictor_chains), cmocka_unit_test(test_predictor_values),
        cmocka_unit_test(test_ald_stationary),  cmocka_unit_test(test_pf_drift),
        cmocka_unit_test(test_color_matrices),  cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
