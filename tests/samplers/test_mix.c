/*
 * test_mix.c — samplers on the §9.4 three-component mixture with the analytic score
 * (algorithms.md §9.5 item 5, loose): component frequencies by nearest mean, per-component
 * mean and spread against the exact p_eps; and batch-split invariance: n = 8 images drawn with
 * batch 8, 3 and 1 are bitwise identical (per-image Langevin norms, per-image ODEs, noise
 * keyed by absolute image index), while reference_batching couples the images of a batch.
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

enum { COUNT = 600, D = 16 };

static void check_mixture(const char *what, const clsde_sde *sde, const sc_mix *m,
                          const float *x)
{
    const double eps = sde->cfg.eps, me = clsde_sde_mean_coeff(sde, eps);
    const double se = clsde_sde_std(sde, eps);
    int32_t cnt[3] = {0, 0, 0};
    double sum[3][D], sq[3];
    memset(sum, 0, sizeof sum), memset(sq, 0, sizeof sq);
    for (int32_t b = 0; b < COUNT; b++) {
        int best = 0;
        double bd = INFINITY;
        for (int k = 0; k < 3; k++) {
            double dd = 0;
            for (int i = 0; i < D; i++) dd += pow(x[b * D + i] - me * m->mu[k * D + i], 2);
            if (dd < bd) bd = dd, best = k;
        }
        cnt[best]++;
        for (int i = 0; i < D; i++) sum[best][i] += x[b * D + i];
        sq[best] += bd;
    }
    printf("# %-28s", what);
    for (int k = 0; k < 3; k++) {
        const double c = me * me * m->s[k] * m->s[k] + se * se;
        double merr = 0, sd;
        assert_true(cnt[k] > 0);
        for (int i = 0; i < D; i++) merr = fmax(merr, fabs(sum[k][i] / cnt[k] - me * m->mu[k * D + i]));
        sd = sqrt(sq[k] / cnt[k] / D);
        printf("  k%d: freq %.3f (w %.1f) max|mean err| %.3f sd %.3f (exact %.3f)", k,
               (double)cnt[k] / COUNT, m->w[k], merr, sd, sqrt(c));
        /* 3 s.e. of a frequency with 600 draws is <= 0.061; means and spreads loose */
        assert_true(fabs((double)cnt[k] / COUNT - m->w[k]) <= 0.065);
        assert_true(merr <= 0.08 + 4 * sqrt(c / cnt[k]));
        assert_true(fabs(sd / sqrt(c) - 1) <= 0.15);
    }
    printf("\n");
}

static void test_mixture_pc(void **state)
{
    static float x[COUNT * D];
    sc_mix m;
    (void)state;
    sc_mix_94(&m);
    for (int type = CLSDE_SDE_VE; type <= CLSDE_SDE_VP; type++) {
        clsde_sde sde;
        clsde_pc_opts o;
        clsde_sample_stats st;
        sc_sde(&sde, type, 300, 0);
        sc_pc_opts(&o, CLSDE_PREDICTOR_REVERSE_DIFFUSION, CLSDE_CORRECTOR_LANGEVIN);
        o.reference_batching = 1; /* D = 16: per-image norms fluctuate too much (test_pc.c) */
        sc_run_pc(&sde, &m, &o, COUNT, 0, COUNT, x, &st);
        check_mixture(type == CLSDE_SDE_VE ? "VE PC rd+langevin N=300" : "VP PC rd+langevin N=300",
                      &sde, &m, x);
        clsde_sde_destroy(&sde);
    }
    sc_mix_free(&m);
}

static void test_mixture_ode(void **state)
{
    static float x[COUNT * D];
    sc_mix m;
    (void)state;
    sc_mix_94(&m);
    for (int type = CLSDE_SDE_VE; type <= CLSDE_SDE_SUBVP; type++) {
        static const char *const nm[4] = {"", "VE ODE", "VP ODE", "subVP ODE"};
        clsde_sde sde;
        clsde_ode_opts o;
        clsde_sample_stats st;
        char what[64];
        sc_sde(&sde, type, 1000, 0);
        sc_ode_opts(&o);
        sc_run_ode(&sde, &m, &o, COUNT, 0, COUNT, x, &st);
        snprintf(what, sizeof what, "%s nfe %d..%d", nm[type], st.nfe_min, st.nfe);
        check_mixture(what, &sde, &m, x);
        clsde_sde_destroy(&sde);
    }
    sc_mix_free(&m);
}

/* Image k of a seed is the same whatever the batch; a run may also start at any image. */
static void test_batch_split(void **state)
{
    enum { N = 8 };
    static const int32_t batches[3] = {8, 3, 1};
    sc_mix m;
    clsde_sde ve, vp;
    (void)state;
    sc_mix_94(&m);
    sc_sde(&ve, CLSDE_SDE_VE, 30, 0);
    sc_sde(&vp, CLSDE_SDE_VP, 30, 0);
    for (int c = 0; c < 4; c++) {
        float x[3][N * D], tail[4 * D];
        const clsde_sde *sde = c == 1 ? &vp : &ve;
        clsde_pc_opts po;
        clsde_ode_opts oo;
        sc_ode_opts(&oo);
        if (c == 0) sc_pc_opts(&po, CLSDE_PREDICTOR_REVERSE_DIFFUSION, CLSDE_CORRECTOR_LANGEVIN);
        if (c == 1) sc_pc_opts(&po, CLSDE_PREDICTOR_ANCESTRAL_SAMPLING, CLSDE_CORRECTOR_ALD);
        if (c == 2) sc_pc_opts(&po, CLSDE_PREDICTOR_EULER_MARUYAMA, CLSDE_CORRECTOR_LANGEVIN);
        if (c == 2) po.n_steps_each = 2;
        for (int bi = 0; bi < 3; bi++) {
            if (c < 3) sc_run_pc(sde, &m, &po, batches[bi], 0, N, x[bi], NULL);
            else sc_run_ode(sde, &m, &oo, batches[bi], 0, N, x[bi], NULL);
        }
        /* images 4..7 on their own */
        if (c < 3) sc_run_pc(sde, &m, &po, 3, 4, 4, tail, NULL);
        else sc_run_ode(sde, &m, &oo, 3, 4, 4, tail, NULL);
        printf("# case %d: batch 8 vs 3 vs 1 and images 4..7 alone: %s\n", c,
               !memcmp(x[0], x[1], sizeof x[0]) && !memcmp(x[0], x[2], sizeof x[0]) &&
                       !memcmp(x[0] + 4 * D, tail, sizeof tail)
                   ? "bitwise identical"
                   : "DIFFERENT");
        assert_memory_equal(x[0], x[1], sizeof x[0]);
        assert_memory_equal(x[0], x[2], sizeof x[0]);
        assert_memory_equal(x[0] + 4 * D, tail, sizeof tail);
    }
    /* reference_batching couples the batch: batch 8 differs from batch 1 */
    {
        float a[N * D], b[N * D];
        clsde_pc_opts po;
        clsde_ode_opts oo;
        sc_pc_opts(&po, CLSDE_PREDICTOR_REVERSE_DIFFUSION, CLSDE_CORRECTOR_LANGEVIN);
        po.reference_batching = 1;
        sc_run_pc(&ve, &m, &po, 8, 0, N, a, NULL);
        sc_run_pc(&ve, &m, &po, 1, 0, N, b, NULL);
        assert_memory_not_equal(a, b, sizeof a);
        sc_ode_opts(&oo);
        oo.reference_batching = 1;
        sc_run_ode(&ve, &m, &oo, 8, 0, N, a, NULL);
        sc_run_ode(&ve, &m, &oo, 1, 0, N, b, NULL);
        assert_memory_not_equal(a, b, sizeof a);
    }
    clsde_sde_destroy(&ve);
    clsde_sde_destroy(&vp);
    sc_mix_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixture_pc),
        cmocka_unit_test(test_mixture_ode),
        cmocka_unit_test(test_batch_split),
    };
    int rc;
    sc_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    sc_done();
    return rc;
}
