/*
 * test_pc.c — the PC sampler (src/sampler_pc.c) with the analytic score, through the same
 * device code a network drives:
 *  - predictor-only chains on a single Gaussian against the exact affine mean/variance
 *    recursion of their own coefficients (algorithms.md §9.5 item 3: tight, statistical
 *    tolerance only), and loosely against the continuous truth N(m(eps) mu, c(eps));
 *  - Langevin and ALD stationarity at a fixed t (§9.5 item 4);
 *  - NaN/Inf detection naming step, t and stage; cancellation through the progress callback.
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

static const char *const sde_names[4] = {"", "VE", "VP", "subVP"};
static const char *const pred_names[4] = {"none", "euler_maruyama", "reverse_diffusion",
                                          "ancestral_sampling"};

/* Mean over all values and mean per-dimension variance of x [n, d]. */
static void moments(const float *x, int32_t n, int32_t d, double *mean, double *var)
{
    double m = 0, v = 0;
    for (int32_t i = 0; i < d; i++) {
        double a = 0, q = 0;
        for (int32_t b = 0; b < n; b++) a += x[(size_t)b * d + i];
        a /= n;
        for (int32_t b = 0; b < n; b++) q += pow(x[(size_t)b * d + i] - a, 2);
        m += a;
        v += q / (n - 1);
    }
    *mean = m / d;
    *var = v / d;
}

/* §9.5 item 3. With the exact score of N(mu, s0^2 I), s(x, t) = (m mu - x)/c, every
 * predictor step is x' = (A - B/c) x + B m mu / c + S z with the sampler's own (A, B, S):
 * mean' = a mean + b, var' = a^2 var + S^2 (the last, denoised, step without S^2). */
static void predictor_case(clsde_sde_type type, clsde_predictor pred, int pf)
{
    enum { N = 200, COUNT = 64, D = 1024 }; /* 65536 i.i.d. values: few, large images keep
                                                the per-image reductions cheap */
    const double mu = 0.3, s0 = 0.5;
    clsde_sde sde;
    sc_mix mix;
    clsde_pc_opts o;
    clsde_sample_stats st;
    float *x = malloc((size_t)COUNT * D * sizeof *x), grid[N];
    double mean = 0, var, em, ev, se_m, se_v, truth_m, truth_v;
    assert_non_null(x);
    sc_sde(&sde, type, N, 0);
    var = pow(clsde_sde_prior_std(&sde), 2);
    sc_mix_single(&mix, D, mu, s0);
    sc_pc_opts(&o, pred, CLSDE_CORRECTOR_NONE);
    o.probability_flow = pf;
    clsde_sde_time_grid(&sde, grid);
    for (int32_t i = 0; i < N; i++) {
        clsde_coef c;
        const double m = clsde_sde_mean_coeff(&sde, grid[i]);
        const double cc = m * m * s0 * s0 + pow(clsde_sde_std(&sde, grid[i]), 2);
        double a, b;
        assert_int_equal(clsde_sde_predictor_coef(&sde, pred, pf, grid[i], &c), CLSDE_OK);
        a = c.a - c.b / cc, b = c.b * m * mu / cc;
        mean = a * mean + b;
        var = a * a * var + (i < N - 1 ? (double)c.s * c.s : 0.0);
    }
    sc_run_pc(&sde, &mix, &o, COUNT, 0, COUNT, x, &st);
    moments(x, COUNT, D, &em, &ev);
    se_m = sqrt(var / ((double)COUNT * D));
    se_v = var * sqrt(2.0 / ((double)COUNT - 1) / D); /* D independent dimensions */
    {
        const double eps = sde.cfg.eps, m = clsde_sde_mean_coeff(&sde, eps);
        truth_m = m * mu;
        truth_v = m * m * s0 * s0 + pow(clsde_sde_std(&sde, eps), 2);
    }
    printf("# %-5s %-18s%s mean %.5f (recursion %.5f, |d| %.1f s.e.; truth %.4f)  var %.5f "
           "(recursion %.5f, |d| %.1f s.e.; truth %.4f)  nfe %d (reference reports %d)\n",
           sde_names[type], pred_names[pred], pf ? " pf" : "   ", em, mean, fabs(em - mean) / se_m,
           truth_m, ev, var, fabs(ev - var) / se_v, truth_v, st.nfe, st.nfe_reference);
    assert_true(fabs(em - mean) <= 5 * se_m);
    assert_true(fabs(ev - var) <= 5 * se_v);
    /* the continuous target, loosely: N = 200 steps of discretisation (the first-order PF
     * steps are the least accurate: ~18 % in the variance for VE and VP) */
    assert_true(fabs(em - truth_m) <= 0.02);
    assert_true(fabs(ev / truth_v - 1) <= (pf ? 0.25 : 0.08));
    assert_int_equal(st.nfe, N);
    assert_int_equal(st.nfe_reference, 2 * N);
    sc_mix_free(&mix);
    clsde_sde_destroy(&sde);
    free(x);
}

static void test_predictor_moments(void **state)
{
    const double t0 = clsde_now();
    (void)state;
    for (int type = CLSDE_SDE_VE; type <= CLSDE_SDE_SUBVP; type++) {
        predictor_case(type, CLSDE_PREDICTOR_EULER_MARUYAMA, 0);
        predictor_case(type, CLSDE_PREDICTOR_REVERSE_DIFFUSION, 0);
        predictor_case(type, CLSDE_PREDICTOR_REVERSE_DIFFUSION, 1);
        if (type != CLSDE_SDE_SUBVP) /* subVP's reverse diffusion is Euler–Maruyama */
            predictor_case(type, CLSDE_PREDICTOR_EULER_MARUYAMA, 1); /* clsde's extension */
        if (type != CLSDE_SDE_SUBVP) predictor_case(type, CLSDE_PREDICTOR_ANCESTRAL_SAMPLING, 0);
    }
    printf("# %.1f s\n", clsde_now() - t0);
}

/* §9.5 item 4: exact samples of p_t stay at p_t under many corrector steps at t. The
 * unadjusted Langevin chain of step eps on N(., c) has stationary variance c/(1 - eps/2c);
 * with eps = 2 alpha (r |z| / |s|)^2 ~ 2 alpha r^2 c (Langevin) or 2 alpha r^2 sigma^2 (ALD)
 * that is at most c / (1 - alpha r^2). D is image-sized (3072): with per-image norms the step
 * depends on the state through |s|, which is harmless only when the norms concentrate — at
 * D = 16 the chain's variance is inflated by ~30 % (batch means do not have that problem). */
static void corrector_case(clsde_sde_type type, clsde_corrector corr, int batch_mean)
{
    enum { COUNT = 64, D = 3072, ITER = 40 };
    const double mu = 0.3, s0 = 0.5, r = 0.16;
    const float t = 0.5f;
    clsde_sde sde;
    sc_mix mix;
    clsde_pc_opts o;
    clsde_gmm_score *gs;
    float *x = malloc((size_t)COUNT * D * sizeof *x);
    double m, c, em, ev, se_m, se_v, hi;
    uint64_t rs = 99;
    assert_non_null(x);
    sc_sde(&sde, type, 1000, 0);
    sc_mix_single(&mix, D, mu, s0);
    m = clsde_sde_mean_coeff(&sde, t);
    c = m * m * s0 * s0 + pow(clsde_sde_std(&sde, t), 2);
    for (int i = 0; i < COUNT * D; i++) {
        double u1, u2;
        rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
        u1 = ((rs >> 11) + 0.5) / 9007199254740992.0;
        rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
        u2 = (rs >> 11) / 9007199254740992.0;
        x[i] = (float)(m * mu + sqrt(c) * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
    sc_pc_opts(&o, CLSDE_PREDICTOR_NONE, corr);
    o.snr = (float)r;
    o.reference_batching = batch_mean;
    SC_OK(clsde_gmm_score_create(sc_ctx, &sde, &mix.g, COUNT, &gs));
    SC_OK(clsde_pc_correct(sc_ctx, &sde, clsde_gmm_score_fn(gs), &o, NULL, 0, COUNT, t, ITER, x));
    clsde_gmm_score_destroy(gs);
    moments(x, COUNT, D, &em, &ev);
    se_m = sqrt(c / ((double)COUNT * D));
    se_v = c * sqrt(2.0 / ((double)COUNT - 1) / D);
    hi = c / (1 - clsde_sde_langevin_alpha(&sde, t) * r * r);
    printf("# %-5s %-8s%s t = %.1f: mean %.5f (exact %.5f, |d| %.1f s.e.)  var %.5f in "
           "[%.5f, %.5f] +- 5 s.e. (%.5f)\n",
           sde_names[type], corr == CLSDE_CORRECTOR_LANGEVIN ? "langevin" : "ald",
           batch_mean ? " (batch means)" : "", (double)t, em, m * mu, fabs(em - m * mu) / se_m,
           ev, c, hi, se_v);
    assert_true(fabs(em - m * mu) <= 5 * se_m);
    assert_true(ev >= c - 5 * se_v && ev <= hi + 5 * se_v);
    sc_mix_free(&mix);
    clsde_sde_destroy(&sde);
    free(x);
}

static void test_corrector_stationarity(void **state)
{
    const double t0 = clsde_now();
    (void)state;
    for (int type = CLSDE_SDE_VE; type <= CLSDE_SDE_SUBVP; type++) {
        corrector_case(type, CLSDE_CORRECTOR_LANGEVIN, 0);
        corrector_case(type, CLSDE_CORRECTOR_ALD, 0);
    }
    corrector_case(CLSDE_SDE_VE, CLSDE_CORRECTOR_LANGEVIN, 1);
    printf("# %.1f s\n", clsde_now() - t0);
}

/* ---- NaN/Inf detection and cancellation ---- */

typedef struct nan_fn {
    clsde_score_fn fn;
    const clsde_score_fn *inner;
    int calls, poison_at;
} nan_fn;

static clsde_status nan_eval(void *self, cl_mem x, const float *t, int continuous, cl_mem score)
{
    nan_fn *f = self;
    const float nan_v = NAN;
    CLSDE_TRY(f->inner->eval(f->inner->self, x, t, continuous, score));
    if (++f->calls == f->poison_at) /* one NaN in image 2 */
        CLSDE_TRY(clsde_buffer_write(sc_ctx, score, (size_t)(2 * f->fn.per_image + 5) * sizeof(float),
                                     sizeof nan_v, &nan_v));
    return CLSDE_OK;
}

static void test_numeric_error(void **state)
{
    enum { D = 16, B = 4 };
    clsde_sde sde;
    sc_mix mix;
    clsde_gmm_score *gs;
    clsde_pc_opts o;
    nan_fn f;
    float x[B * D];
    clsde_status st;
    const char *msg;
    (void)state;
    sc_sde(&sde, CLSDE_SDE_VE, 10, 0);
    sc_mix_single(&mix, D, 0.3, 0.5);
    SC_OK(clsde_gmm_score_create(sc_ctx, &sde, &mix.g, B, &gs));
    memset(&f, 0, sizeof f);
    f.inner = clsde_gmm_score_fn(gs);
    f.fn = *f.inner;
    f.fn.self = &f;
    f.fn.eval = nan_eval;
    /* Langevin + reverse diffusion: calls 1, 2 are step 1; call 6 is step 3's predictor */
    sc_pc_opts(&o, CLSDE_PREDICTOR_REVERSE_DIFFUSION, CLSDE_CORRECTOR_LANGEVIN);
    f.poison_at = 6;
    st = clsde_pc_sample(sc_ctx, &sde, &f.fn, &o, NULL, NULL, 100, B, x, NULL);
    msg = clsde_last_error(sc_ctx);
    printf("# %s\n", msg);
    assert_int_equal(st, CLSDE_ERR_NUMERIC);
    assert_non_null(strstr(msg, "step 3 of 10"));
    assert_non_null(strstr(msg, "network (score for the predictor)"));
    assert_non_null(strstr(msg, "image 102"));
    assert_non_null(strstr(msg, "t = 0.777"));
    /* call 5 is step 3's corrector */
    f.calls = 0, f.poison_at = 5;
    st = clsde_pc_sample(sc_ctx, &sde, &f.fn, &o, NULL, NULL, 0, B, x, NULL);
    printf("# %s\n", clsde_last_error(sc_ctx));
    assert_int_equal(st, CLSDE_ERR_NUMERIC);
    assert_non_null(strstr(clsde_last_error(sc_ctx), "network (score for the corrector)"));
    /* the ODE sampler names the drift evaluation */
    {
        clsde_ode_opts oo;
        sc_ode_opts(&oo);
        f.calls = 0, f.poison_at = 9; /* an evaluation inside the first attempts */
        st = clsde_ode_sample(sc_ctx, &sde, &f.fn, &oo, NULL, NULL, 0, B, NULL, x, NULL, NULL);
        printf("# %s\n", clsde_last_error(sc_ctx));
        assert_int_equal(st, CLSDE_ERR_NUMERIC);
        assert_non_null(strstr(clsde_last_error(sc_ctx), "stage: network (drift evaluation"));
        assert_non_null(strstr(clsde_last_error(sc_ctx), "image 2"));
    }
    clsde_gmm_score_destroy(gs);
    sc_mix_free(&mix);
    clsde_sde_destroy(&sde);
}

static int cancel_at_3(void *user, int32_t step, int32_t total, double elapsed)
{
    int *seen = user;
    (void)elapsed;
    assert_int_equal(total, 10);
    *seen = step;
    return step >= 3;
}

static void test_cancel(void **state)
{
    enum { D = 16, B = 2 };
    clsde_sde sde;
    sc_mix mix;
    clsde_gmm_score *gs;
    clsde_pc_opts o;
    clsde_progress pr = {cancel_at_3, NULL, 0, 10, 0};
    int seen = 0;
    float x[B * D];
    (void)state;
    pr.user = &seen;
    sc_sde(&sde, CLSDE_SDE_VP, 10, 0);
    sc_mix_single(&mix, D, 0.3, 0.5);
    SC_OK(clsde_gmm_score_create(sc_ctx, &sde, &mix.g, B, &gs));
    sc_pc_opts(&o, CLSDE_PREDICTOR_EULER_MARUYAMA, CLSDE_CORRECTOR_NONE);
    assert_int_equal(clsde_pc_sample(sc_ctx, &sde, clsde_gmm_score_fn(gs), &o, NULL, &pr, 0, B, x,
                                     NULL),
                     CLSDE_ERR_CANCELLED);
    assert_int_equal(seen, 3);
    assert_int_equal(clsde_gmm_score_calls(gs), 3);
    clsde_gmm_score_destroy(gs);
    sc_mix_free(&mix);
    clsde_sde_destroy(&sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predictor_moments),
        cmocka_unit_test(test_corrector_stationarity),
        cmocka_unit_test(test_numeric_error),
        cmocka_unit_test(test_cancel),
    };
    int rc;
    sc_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    sc_done();
    return rc;
}
