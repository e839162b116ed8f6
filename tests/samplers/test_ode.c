/*
 * test_ode.c — the probability-flow ODE sampler (src/sampler_ode.c) with the analytic score:
 *  - RK45 parity with algorithms.md §9.4(a): nfev, accepted/rejected and the solution of the
 *    batch-global problem (D = 16, B = 4, reference_batching), float64 state and score;
 *  - the float32 paths (float state with compensation; float32 score as a network gives);
 *  - per-image ODEs equal four separate batch-1 runs bit for bit;
 *  - continuous batching: 7 images through 2 and 3 slots (finished slots refilled) equal
 *    batch 1 bit for bit, in exactly the evaluations a full schedule needs;
 *  - the closed-form flow of a single Gaussian (§9.2) and the denoising step (§5.3).
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

typedef struct table_row {
    int nfev, acc, rej;
    double y[3], sum, norm; /* y[0..2] of sample 0, sum of all 64 entries, |y| */
} table_row;

/* §9.4(a) expected values. */
static const table_row expect94[3] = {
    {110, 18, 0, {0.5307093156, 0.8569555336, 0.3953207860}, 2.679458061829155, 4.49369534214181},
    {80, 9, 4, {0.5307829707, 0.8570125107, 0.3953087007}, 2.6791192273543247, 4.493911213469751},
    {92, 10, 5, {0.5305868102, 0.8568004380, 0.3952756944}, 2.679164711730333, 4.493206636816964},
};

/* The same problem with the initial-step probe clipped to the interval (scipy >= 1.11; clsde's
 * default): scipy 1.10.1 with that select_initial_step (tests/samplers/rk45_reference.py).
 * VE is unchanged (its probe h0 = 0.0012 is inside the interval). */
static const table_row expect_clip[3] = {
    {110, 18, 0, {0.530709315617, 0.85695553357, 0.395320786012}, 2.679458061829155, 4.493695342141811},
    {104, 10, 7, {0.530785604186, 0.857013317567, 0.395306939096}, 2.678897407178927, 4.493858595337923},
    {92, 10, 5, {0.530588962257, 0.856802840607, 0.395276138651}, 2.679146009317548, 4.4931898149180265},
};

/* Run the §9.4(a) problem; y: [4, 16] solution (double), stats. */
static void run94(int ti, const clsde_ode_opts *o, int32_t batch, double *y, clsde_sample_stats *st)
{
    clsde_sde sde;
    sc_mix m;
    clsde_gmm_score *gs;
    double y0[64];
    float x[64];
    const double Z = types[ti] == CLSDE_SDE_VE ? 50 : 1;
    sc_sde(&sde, types[ti], 1000, 0);
    sc_mix_94(&m);
    for (int b = 0; b < 4; b++)
        for (int d = 0; d < 16; d++) y0[b * 16 + d] = Z * sin(1.0 + 16 * b + d);
    SC_OK(clsde_gmm_score_create(sc_ctx, &sde, &m.g, batch, &gs));
    memset(st, 0, sizeof *st);
    for (int32_t b0 = 0; b0 < 4; b0 += batch) {
        clsde_sample_stats one;
        SC_OK(clsde_ode_sample(sc_ctx, &sde, clsde_gmm_score_fn(gs), o, NULL, NULL, b0, batch,
                               y0 + b0 * 16, x + b0 * 16, y + b0 * 16, &one));
        clsde_sample_stats_add(st, &one);
        st->nfe_mean += one.nfe_mean * batch / 4;
    }
    clsde_gmm_score_destroy(gs);
    sc_mix_free(&m);
    clsde_sde_destroy(&sde);
}

static void compare_table(int ti, const double *y, const clsde_sample_stats *st, int exact,
                          double tol, int clip)
{
    double sum = 0, sq = 0, err = 0;
    const table_row *E = clip ? expect_clip : expect94;
    for (int i = 0; i < 64; i++) sum += y[i], sq += y[i] * y[i];
    for (int i = 0; i < 3; i++) err = fmax(err, fabs(y[i] - E[ti].y[i]));
    err = fmax(err, fabs(sum - E[ti].sum));
    err = fmax(err, fabs(sqrt(sq) - E[ti].norm));
    printf("# %-5s%s nfev %3d (spec %3d)  accepted/rejected %2lld/%lld (spec %d/%d)  "
           "y[0..2] %.10f %.10f %.10f  sum %.12f  |y| %.12f  max err %.2e (bound %.0e)\n",
           names[ti], clip ? " (clipped probe)" : "", st->nfe, E[ti].nfev, (long long)st->steps_accepted,
           (long long)st->steps_rejected, E[ti].acc, E[ti].rej, y[0], y[1], y[2],
           sum, sqrt(sq), err, tol);
    if (exact) {
        assert_int_equal(st->nfe, E[ti].nfev);
        assert_int_equal(st->steps_accepted, E[ti].acc);
        assert_int_equal(st->steps_rejected, E[ti].rej);
    } else {
        assert_true(abs(st->nfe - E[ti].nfev) <= 12);
    }
    assert_true(err <= tol);
}

/* Float64 state and score: scipy's numbers exactly (nfev) and to ~1e-9 (values). */
static void test_rk45_parity_f64(void **state)
{
    clsde_ode_opts o;
    (void)state;
    if (!sc_ctx->info.fp64) skip();
    sc_ode_opts(&o);
    o.denoise = 0, o.reference_batching = 1, o.score_f64 = 1, o.unclipped_probe = 1;
    for (int ti = 0; ti < 3; ti++) {
        double y[64];
        clsde_sample_stats st;
        run94(ti, &o, 4, y, &st);
        compare_table(ti, y, &st, 1, 1e-9, 0);
    }
}

/* clsde's default initial step (probe clipped to the interval): scipy with the >= 1.11
 * select_initial_step, exactly. */
static void test_rk45_parity_clipped(void **state)
{
    clsde_ode_opts o;
    (void)state;
    if (!sc_ctx->info.fp64) skip();
    sc_ode_opts(&o);
    o.denoise = 0, o.reference_batching = 1, o.score_f64 = 1;
    for (int ti = 0; ti < 3; ti++) {
        double y[64];
        clsde_sample_stats st;
        run94(ti, &o, 4, y, &st);
        compare_table(ti, y, &st, 1, 1e-9, 1);
    }
}

/* Float32 score (the network's precision) on the double state, and the all-float state:
 * within a couple of steps of scipy and 1e-4 of its values. */
static void test_rk45_parity_f32(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        clsde_ode_opts o;
        sc_ode_opts(&o);
        o.denoise = 0, o.reference_batching = 1, o.state_fp32 = pass, o.unclipped_probe = 1;
        if (pass == 0 && !sc_ctx->info.fp64) continue;
        printf("# %s\n", pass ? "float state (compensated), float32 score"
                              : "double state, float32 score");
        for (int ti = 0; ti < 3; ti++) {
            double y[64];
            clsde_sample_stats st;
            run94(ti, &o, 4, y, &st);
            compare_table(ti, y, &st, 0, 1e-4, 0);
        }
    }
}

/* Each image its own ODE (default) == batch-1 runs of the batch-global solver, bitwise. */
static void test_per_image_equals_single(void **state)
{
    (void)state;
    for (int ti = 0; ti < 3; ti++) {
        clsde_ode_opts o;
        double ya[64], yb[64];
        clsde_sample_stats sa, sb;
        sc_ode_opts(&o);
        o.denoise = 0;
        run94(ti, &o, 4, ya, &sa);          /* per image, one batch of 4 */
        o.reference_batching = 1;
        run94(ti, &o, 1, yb, &sb);          /* four systems of one image */
        printf("# %-5s per-image nfev %d..%d (mean %.1f); batch-1 runs: %lld accepted, %lld "
               "rejected\n",
               names[ti], sa.nfe_min, sa.nfe, sa.nfe_mean, (long long)sb.steps_accepted,
               (long long)sb.steps_rejected);
        assert_memory_equal(ya, yb, sizeof ya);
        assert_int_equal(sa.steps_accepted, sb.steps_accepted);
        assert_int_equal(sa.steps_rejected, sb.steps_rejected);
        assert_int_equal(sa.nfe, sb.nfe);
    }
}

/* Batched evaluations of a continuous schedule: each image takes the slot that frees first
 * and holds it for its nfev evaluations; the last one to end ends the run. */
static int64_t schedule(const int32_t *nfev, int32_t count, int32_t slots)
{
    int64_t free_at[8] = {0}, end = 0;
    for (int32_t k = 0; k < count; k++) {
        int32_t s = 0;
        for (int32_t j = 1; j < slots; j++)
            if (free_at[j] < free_at[s]) s = j;
        free_at[s] += nfev[k];
        if (free_at[s] > end) end = free_at[s];
    }
    return end;
}

/* Continuous batching: 7 images of the prior through 2 and 3 slots (and 7: no refill) give
 * batch 1's results bit for bit (ODE solution and denoised sample), on the double and the
 * compensated float state; the run takes exactly the evaluations of a schedule in which
 * no slot idles while an image waits (plus the batched denoising). */
static void test_refill_equals_single(void **state)
{
    enum { N = 7, D = 16 };
    static const int32_t batches[3] = {2, 3, 7};
    clsde_sde sde;
    sc_mix m;
    (void)state;
    sc_sde(&sde, CLSDE_SDE_VP, 1000, 0);
    sc_mix_94(&m);
    for (int pass = 0; pass < 2; pass++) {
        clsde_ode_opts o;
        clsde_gmm_score *g1;
        int32_t nfev[N];
        double y1[N * D];
        float x1[N * D];
        clsde_sample_stats s1;
        if (pass == 0 && !sc_ctx->info.fp64) continue;
        sc_ode_opts(&o);
        o.state_fp32 = pass;
        SC_OK(clsde_gmm_score_create(sc_ctx, &sde, &m.g, 1, &g1));
        SC_OK(clsde_ode_sample(sc_ctx, &sde, clsde_gmm_score_fn(g1), &o, NULL, NULL, 3, N, NULL,
                               x1, y1, &s1));
        for (int32_t k = 0; k < N; k++) { /* each image alone: its nfev */
            clsde_sample_stats one;
            float x[D];
            SC_OK(clsde_ode_sample(sc_ctx, &sde, clsde_gmm_score_fn(g1), &o, NULL, NULL, 3 + k, 1,
                                   NULL, x, NULL, &one));
            nfev[k] = one.nfe;
            assert_memory_equal(x, x1 + k * D, sizeof x);
        }
        assert_int_equal(s1.forward_calls, schedule(nfev, N, 1) + N);
        clsde_gmm_score_destroy(g1);
        for (int bi = 0; bi < 3; bi++) {
            const int32_t B = batches[bi];
            const int64_t want = schedule(nfev, N, B) + (N + B - 1) / B;
            clsde_gmm_score *gs;
            double y[N * D];
            float x[N * D];
            clsde_sample_stats st;
            SC_OK(clsde_gmm_score_create(sc_ctx, &sde, &m.g, B, &gs));
            SC_OK(clsde_ode_sample(sc_ctx, &sde, clsde_gmm_score_fn(gs), &o, NULL, NULL, 3, N,
                                   NULL, x, y, &st));
            printf("# %s state, images 3..9 through %d slots: nfev %d..%d (mean %.1f), %lld "
                   "batched evaluations (schedule %lld, batch 1: %lld); %s\n",
                   pass ? "float" : "double", (int)B, st.nfe_min, st.nfe, st.nfe_mean,
                   (long long)st.forward_calls, (long long)want, (long long)s1.forward_calls,
                   !memcmp(x, x1, sizeof x) && !memcmp(y, y1, sizeof y) ? "bitwise as batch 1"
                                                                        : "DIFFERENT");
            assert_memory_equal(y, y1, sizeof y);
            assert_memory_equal(x, x1, sizeof x);
            assert_int_equal(st.nfe, s1.nfe);
            assert_int_equal(st.nfe_min, s1.nfe_min);
            assert_true(st.nfe_mean == s1.nfe_mean);
            assert_int_equal(st.steps, s1.steps);
            assert_int_equal(st.steps_accepted, s1.steps_accepted);
            assert_int_equal(st.steps_rejected, s1.steps_rejected);
            assert_int_equal(st.forward_calls, want);
            clsde_gmm_score_destroy(gs);
        }
    }
    sc_mix_free(&m);
    clsde_sde_destroy(&sde);
}

/* §9.2: single Gaussian, x(eps) = m(eps) mu + sqrt(c(eps)/c(1)) (x(1) - m(1) mu); and the
 * denoising step = reverse-diffusion x_mean at eps with the exact score. */
static void test_closed_form(void **state)
{
    (void)state;
    for (int ti = 0; ti < 3; ti++) {
        enum { B = 8, D = 48 };
        const double mu = 0.3, s0 = 0.5;
        clsde_sde sde;
        sc_mix m;
        clsde_gmm_score *gs;
        clsde_ode_opts o;
        clsde_sample_stats st;
        static double y0[B * D], y[B * D];
        static float x[B * D], xd[B * D];
        double err = 0, scale = 0, derr = 0, dscale = 0;
        sc_sde(&sde, types[ti], 1000, 0);
        sc_mix_single(&m, D, mu, s0);
        {
            const double eps = sde.cfg.eps;
            const double m1 = clsde_sde_mean_coeff(&sde, 1), me = clsde_sde_mean_coeff(&sde, eps);
            const double c1 = m1 * m1 * s0 * s0 + pow(clsde_sde_std(&sde, 1), 2);
            const double ce = me * me * s0 * s0 + pow(clsde_sde_std(&sde, eps), 2);
            uint64_t r = 12345;
            for (int i = 0; i < B * D; i++) {
                double u1, u2;
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                u1 = ((r >> 11) + 0.5) / 9007199254740992.0;
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                u2 = (r >> 11) / 9007199254740992.0;
                y0[i] = m1 * mu + sqrt(c1) * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            }
            SC_OK(clsde_gmm_score_create(sc_ctx, &sde, &m.g, B, &gs));
            sc_ode_opts(&o);
            o.denoise = 1;
            SC_OK(clsde_ode_sample(sc_ctx, &sde, clsde_gmm_score_fn(gs), &o, NULL, NULL, 0, B, y0,
                                   xd, y, &st));
            for (int i = 0; i < B * D; i++) {
                const double exact = me * mu + sqrt(ce / c1) * (y0[i] - m1 * mu);
                err = fmax(err, fabs(y[i] - exact));
                scale = fmax(scale, fabs(exact));
                x[i] = (float)y[i];
            }
            /* denoise: x + B s with the reverse-diffusion coefficients at eps, exact score */
            {
                clsde_coef c;
                double coef[3];
                float sref[D];
                assert_int_equal(clsde_sde_predictor_coef(&sde, CLSDE_PREDICTOR_REVERSE_DIFFUSION,
                                                          0, (float)eps, &c),
                                 CLSDE_OK);
                clsde_gmm_coef(&m.g, clsde_sde_mean_coeff(&sde, (float)eps),
                               clsde_sde_std(&sde, (float)eps), coef);
                for (int b = 0; b < B; b++) {
                    clsde_gmm_score_ref(&m.g, 1, coef, x + b * D, sref);
                    for (int i = 0; i < D; i++) {
                        const double want = c.a * x[b * D + i] + c.b * sref[i];
                        derr = fmax(derr, fabs(xd[b * D + i] - want));
                        dscale = fmax(dscale, fabs(want));
                    }
                }
            }
        }
        printf("# %-5s closed form: max|err| = %.2e of max|x| %.3f (bound 5e-5 relative); "
               "nfev %d..%d; denoise max|err| %.2e of %.3f\n",
               names[ti], err, scale, st.nfe_min, st.nfe, derr, dscale);
        assert_true(err <= 5e-5 * scale);
        assert_true(derr <= 2e-6 * dscale);
        clsde_gmm_score_destroy(gs);
        sc_mix_free(&m);
        clsde_sde_destroy(&sde);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rk45_parity_f64),
        cmocka_unit_test(test_rk45_parity_clipped),
        cmocka_unit_test(test_rk45_parity_f32),
        cmocka_unit_test(test_per_image_equals_single),
        cmocka_unit_test(test_refill_equals_single),
        cmocka_unit_test(test_closed_form),
    };
    int rc;
    sc_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    sc_done();
    return rc;
}
