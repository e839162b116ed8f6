/*
 * test_likelihood.c — the likelihood ODE (src/sampler_ode.c, clsde_ode_likelihood) with the
 * analytic score of algorithms.md §9, whose divergence is known exactly:
 *  - §9.4(b): the augmented ODE with the exact divergence, batch-global as the reference:
 *    nfev and delta(T) per sample, and log p = log p_T(z) + delta, to the table's digits;
 *  - §9.2/§9.3: a single Gaussian, where the Rademacher Hutchinson estimate is exact: the
 *    log-density against the closed form (float32 score, per-image ODEs, as with a network);
 *  - Hutchinson unbiasedness: Gaussian and Rademacher probes averaged over seeds agree with
 *    the exact divergence on the mixture within a few standard errors;
 *  - image k's result does not depend on the batch (the probe is keyed by image index).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "samplers_common.h"

static const clsde_sde_type types[3] = {CLSDE_SDE_VE, CLSDE_SDE_VP, CLSDE_SDE_SUBVP};
static const char *const names[3] = {"VE", "VP", "subVP"};

/* §9.4(b) expected values. */
static const struct {
    int nfev;
    double delta[4], logp[4];
} expect[3] = {
    {134,
     {93.7650822753, 80.8971929233, 86.5711830477, 98.5426259764},
     {16.4672210652, 3.4186695244, 8.8429166553, 16.5709929315}},
    {80,
     {31.2107883457, 18.3120181804, 23.9955831342, 36.0270464851},
     {16.5053017256, 3.4256005741, 8.8600681434, 16.6137788604}},
    {98,
     {31.2102963516, 18.3117815346, 23.9951862041, 36.0276979704},
     {16.5048143562, 3.4253720768, 8.8596889947, 16.6141881281}},
};

/* log N(z; 0, sigma^2 I) over D entries. */
static double prior_logp(const clsde_sde *sde, const double *z, int D)
{
    const double s = clsde_sde_prior_std(sde);
    double sq = 0;
    for (int i = 0; i < D; i++) sq += z[i] * z[i];
    return -0.5 * D * log(2 * M_PI * s * s) - sq / (2 * s * s);
}

/* log p_t(x) of mixture m under sde (§9.1), exact, in double. */
static double mix_logp(const clsde_sde *sde, const sc_mix *m, double t, const double *x)
{
    double coef[1 + 2 * CLSDE_GMM_KMAX], l[CLSDE_GMM_KMAX], lmax = -INFINITY, s = 0;
    const int K = m->g.k, D = m->g.d;
    clsde_gmm_coef(&m->g, clsde_sde_mean_coeff(sde, t), clsde_sde_std(sde, t), coef);
    for (int k = 0; k < K; k++) {
        double uu = 0;
        for (int i = 0; i < D; i++) {
            const double u = coef[0] * m->mu[k * D + i] - x[i];
            uu += u * u;
        }
        l[k] = coef[1 + K + k] - uu / (2 * coef[1 + k]);
        lmax = fmax(lmax, l[k]);
    }
    for (int k = 0; k < K; k++) s += exp(l[k] - lmax);
    return lmax + log(s);
}

static void data94(double *x, const sc_mix *m)
{
    for (int b = 0; b < 4; b++)
        for (int d = 0; d < 16; d++)
            x[b * 16 + d] = m->mu[(b % 3) * 16 + d] + 0.1 * cos(16.0 * b + d + 1);
}

/* Run the likelihood over n images x0 through a score function of `batch` slots. */
static void run_lik(const clsde_sde *sde, const sc_mix *m, const clsde_ode_opts *o,
                    clsde_probe probe, int32_t batch, int32_t n, const double *x0, double *z,
                    double *delta, clsde_sample_stats *st)
{
    clsde_gmm_score *gs;
    SC_OK(clsde_gmm_score_create(sc_ctx, sde, &m->g, batch, &gs));
    SC_OK(clsde_ode_likelihood(sc_ctx, sde, clsde_gmm_score_fn(gs), o, 1e-5, probe, NULL, 0, n,
                               x0, z, delta, st));
    clsde_gmm_score_destroy(gs);
}

/* §9.4(b): float64 state and score, exact divergence, the batch as one system. */
static void test_table_94b(void **state)
{
    (void)state;
    if (!sc_ctx->info.fp64) skip();
    for (int ti = 0; ti < 3; ti++) {
        clsde_sde sde;
        sc_mix m;
        clsde_ode_opts o;
        clsde_sample_stats st;
        double x0[64], z[64], delta[4], err_d = 0, err_l = 0;
        sc_sde(&sde, types[ti], 1000, 0);
        sc_mix_94(&m);
        data94(x0, &m);
        sc_ode_opts(&o);
        o.reference_batching = 1;
        o.score_f64 = 1;
        o.unclipped_probe = 1;
        run_lik(&sde, &m, &o, CLSDE_PROBE_EXACT, 4, 4, x0, z, delta, &st);
        for (int b = 0; b < 4; b++) {
            const double lp = prior_logp(&sde, z + b * 16, 16) + delta[b];
            err_d = fmax(err_d, fabs(delta[b] - expect[ti].delta[b]));
            err_l = fmax(err_l, fabs(lp - expect[ti].logp[b]));
        }
        printf("# %-5s nfev %3d (spec %3d)  delta %.10f %.10f %.10f %.10f  max err delta %.2e, "
               "log p %.2e\n",
               names[ti], st.nfe, expect[ti].nfev, delta[0], delta[1], delta[2], delta[3],
               err_d, err_l);
        assert_int_equal(st.nfe, expect[ti].nfev);
        assert_true(err_d < 1e-8);
        assert_true(err_l < 1e-8);
        sc_mix_free(&m);
        clsde_sde_destroy(&sde);
    }
}

/* §9.2/§9.3: single Gaussian, Rademacher (exact here), float32 score, per-image ODEs: the
 * result is log p_eps(x) - log p_T^true(z) + log p_T^prior(z) up to the ODE's error. */
static void test_single_gaussian(void **state)
{
    (void)state;
    for (int ti = 0; ti < 3; ti++) {
        enum { B = 6, D = 16 };
        clsde_sde sde;
        sc_mix m;
        clsde_ode_opts o;
        clsde_sample_stats st;
        double x0[B * D], z[B * D], delta[B], err = 0;
        sc_sde(&sde, types[ti], 1000, 0);
        sc_mix_single(&m, D, 0.3, 0.5);
        for (int i = 0; i < B * D; i++) x0[i] = 0.3 + 0.5 * sin(1.7 * i + 0.3);
        sc_ode_opts(&o);
        run_lik(&sde, &m, &o, CLSDE_PROBE_RADEMACHER, 4, B, x0, z, delta, &st);
        for (int b = 0; b < B; b++) {
            const double got = prior_logp(&sde, z + b * D, D) + delta[b];
            const double want = mix_logp(&sde, &m, 1e-5, x0 + b * D) -
                                mix_logp(&sde, &m, 1.0, z + b * D) + prior_logp(&sde, z + b * D, D);
            err = fmax(err, fabs(got - want));
        }
        printf("# %-5s single Gaussian: max |log p - exact| = %.2e nats (bound 2e-3); nfev "
               "%d..%d\n", names[ti], err, st.nfe_min, st.nfe);
        assert_true(err < 2e-3);
        sc_mix_free(&m);
        clsde_sde_destroy(&sde);
    }
}

/* Hutchinson is unbiased: delta averaged over probe seeds matches the exact divergence's
 * (mixture §9.4, per-image ODEs, float64). Each seed is a different probe per image. */
static void test_hutchinson_unbiased(void **state)
{
    (void)state;
    if (!sc_ctx->info.fp64) skip();
    for (int pi = 0; pi < 2; pi++) {
        const clsde_probe probe = pi ? CLSDE_PROBE_GAUSSIAN : CLSDE_PROBE_RADEMACHER;
        enum { R = 64 };
        clsde_sde sde;
        sc_mix m;
        clsde_ode_opts o;
        clsde_sample_stats st;
        double x0[64], z[64], exact[4], delta[4], sum[4] = {0}, sq[4] = {0}, worst = 0;
        sc_sde(&sde, CLSDE_SDE_VP, 1000, 0);
        sc_mix_94(&m);
        data94(x0, &m);
        sc_ode_opts(&o);
        o.score_f64 = 1;
        run_lik(&sde, &m, &o, CLSDE_PROBE_EXACT, 4, 4, x0, z, exact, &st);
        for (int r = 0; r < R; r++) {
            o.seed = 1000 + r;
            run_lik(&sde, &m, &o, probe, 4, 4, x0, z, delta, &st);
            for (int b = 0; b < 4; b++) sum[b] += delta[b], sq[b] += delta[b] * delta[b];
        }
        for (int b = 0; b < 4; b++) {
            const double mean = sum[b] / R, var = sq[b] / R - mean * mean;
            const double sem = sqrt(fmax(var, 0) / (R - 1));
            const double zsc = fabs(mean - exact[b]) / fmax(sem, 1e-12);
            printf("# %s image %d: exact %.5f, mean of %d probes %.5f +- %.5f (%.1f s.e.m.)\n",
                   pi ? "gaussian  " : "rademacher", b, exact[b], R, mean, sem, zsc);
            assert_true(sem > 0);
            worst = fmax(worst, zsc);
        }
        assert_true(worst < 4.5);
        sc_mix_free(&m);
        clsde_sde_destroy(&sde);
    }
}

/* Image k's delta and z are the same whether it ran alone or among others, in any slot. */
static void test_batch_invariance(void **state)
{
    (void)state;
    enum { N = 5, D = 16 };
    static const int32_t batches[3] = {1, 2, 5};
    clsde_sde sde;
    sc_mix m;
    clsde_ode_opts o;
    clsde_sample_stats st;
    double x0[N * D], z[3][N * D], delta[3][N];
    sc_sde(&sde, CLSDE_SDE_SUBVP, 1000, 0);
    sc_mix_94(&m);
    for (int i = 0; i < N * D; i++) x0[i] = 0.5 * sin(0.37 * i);
    sc_ode_opts(&o);
    for (int bi = 0; bi < 3; bi++)
        run_lik(&sde, &m, &o, CLSDE_PROBE_RADEMACHER, batches[bi], N, x0, z[bi], delta[bi], &st);
    for (int bi = 1; bi < 3; bi++) {
        assert_memory_equal(delta[0], delta[bi], sizeof delta[0]);
        assert_memory_equal(z[0], z[bi], sizeof z[0]);
    }
    /* and the probe differs between images and seeds: the results are not all equal */
    assert_true(delta[0][0] != delta[0][1]);
    printf("# batch 1, 2, 5: delta identical (%.6f %.6f ...)\n", delta[0][0], delta[0][1]);
    sc_mix_free(&m);
    clsde_sde_destroy(&sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_94b),
        cmocka_unit_test(test_single_gaussian),
        cmocka_unit_test(test_hutchinson_unbiased),
        cmocka_unit_test(test_batch_invariance),
    };
    int rc;
    sc_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    sc_done();
    return rc;
}
