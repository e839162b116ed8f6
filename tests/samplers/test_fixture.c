/*
 * test_fixture.c — the official PC run of shared/fixtures/sampler_ve_small (VE, N = 10,
 * reverse diffusion + Langevin, snr 0.16, one corrector step, denoise) replayed through the
 * device sampler (src/sampler_pc.c): a test noise source hands the stored z to the step
 * kernels, a replay score function returns the stored scores in call order (and checks the
 * x and t it is called with), and the trace hook compares every update with the recorded
 * one: the Langevin step size (reference_batching = 1: batch means of the norms, computed
 * on the device), the increment step*score, the predictor's G and reverse drift, x_mean and
 * x. Comparison per sample, relative to that sample's max |reference| (fixtures/README.md:
 * late increments are ~1e-3 while |x| grows to ~400). Bar 1e-4 (project), aim 1e-5.
 * Fixtures: $CLSDE_FIXTURES, else argv[1]; exit 77 (skip) when absent.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ref/rng_ref.h"
#include "safetensors.h"
#include "samplers_common.h"

enum { B = 3, D = 3 * 16 * 16, N = 10 };
#define BAR 1e-4

static const char *fixtures_dir;

typedef struct replay {
    clsde_safetensors st;
    void *data;
    clsde_score_fn fn;
    int calls;
    double err_x_in, err_step, err_inc, err_g, err_revf, err_xmean, err_x;
    int checked_steps, checked_preds;
} replay;

static const float *tensor(replay *r, const char *name, int64_t numel)
{
    const int32_t i = clsde_safetensors_find(&r->st, name);
    if (i < 0) fail_msg("fixture tensor %s is missing", name);
    assert_int_equal(r->st.tensors[i].dtype, CLSDE_DTYPE_F32);
    assert_int_equal(r->st.tensors[i].numel, numel);
    return (const float *)((const char *)r->data + r->st.tensors[i].begin);
}

static const float *step_tensor(replay *r, int32_t k, const char *what, int64_t numel)
{
    char name[64];
    snprintf(name, sizeof name, "step%d.%s", (int)k, what);
    return tensor(r, name, numel);
}

/* max over samples of max_i |got - ref| / max_i |ref| */
static double rel_err(const float *got, const float *ref)
{
    double worst = 0;
    for (int b = 0; b < B; b++) {
        double e = 0, m = 0;
        for (int i = 0; i < D; i++) {
            e = fmax(e, fabs((double)got[b * D + i] - ref[b * D + i]));
            m = fmax(m, fabs((double)ref[b * D + i]));
        }
        worst = fmax(worst, m > 0 ? e / m : e);
    }
    return worst;
}

static void download(cl_mem m, float *out)
{
    SC_OK(clsde_buffer_read(sc_ctx, m, 0, (size_t)B * D * sizeof(float), out));
}

/* Call c: step c/2, corrector (even) or predictor (odd). */
static clsde_status replay_eval(void *self, cl_mem x, const float *t, int continuous, cl_mem score)
{
    replay *r = self;
    const int32_t k = r->calls / 2;
    const char *stage = r->calls % 2 ? "predictor" : "corrector";
    char name[32];
    float got[B * D];
    const float *tk;
    assert_true(k < N);
    assert_int_equal(continuous, 0); /* the PC sampler uses the model's own wrapper */
    tk = step_tensor(r, k, "t", B);
    for (int b = 0; b < B; b++) assert_true(t[b] == tk[b]); /* the grid, bit for bit */
    snprintf(name, sizeof name, "%s.x", stage);
    download(x, got);
    r->err_x_in = fmax(r->err_x_in, rel_err(got, step_tensor(r, k, name, B * D)));
    snprintf(name, sizeof name, "%s.score", stage);
    r->calls++;
    return clsde_buffer_write(sc_ctx, score, 0, (size_t)B * D * sizeof(float),
                              step_tensor(r, k, name, B * D));
}

static clsde_status replay_noise(void *user, uint32_t step, uint32_t stream, int64_t first,
                                 int32_t n, cl_mem z)
{
    replay *r = user;
    const uint32_t kind = stream >> 24;
    float buf[B * D];
    assert_int_equal(first, 0);
    assert_int_equal(n, B);
    if (kind == CLSDE_RNG_PRIOR) {
        /* the sampler forms x = sigma_max * z: hand it x_init / sigma_max */
        const float *x0 = tensor(r, "x_init", B * D);
        for (int i = 0; i < B * D; i++) buf[i] = (float)(x0[i] / 50.0);
        return clsde_buffer_write(sc_ctx, z, 0, sizeof buf, buf);
    }
    assert_true(kind == CLSDE_RNG_CORRECTOR || kind == CLSDE_RNG_PREDICTOR);
    assert_true(step < N);
    return clsde_buffer_write(sc_ctx, z, 0, sizeof buf,
                              step_tensor(r, (int32_t)step,
                                          kind == CLSDE_RNG_CORRECTOR ? "corrector.z" : "predictor.z",
                                          B * D));
}

static clsde_status replay_trace(void *user, int stage, int32_t step, int32_t inner, float t,
                                 cl_mem coef, int32_t coef_offset, int32_t coef_stride,
                                 cl_mem score, cl_mem z, cl_mem x, cl_mem x_mean)
{
    replay *r = user;
    float c[3 * B], got[B * D], inc[B * D];
    const float *s = step_tensor(r, step, stage ? "predictor.score" : "corrector.score", B * D);
    (void)inner, (void)t, (void)score, (void)z;
    SC_OK(clsde_buffer_read(sc_ctx, coef, (size_t)coef_offset * sizeof(float),
                            (size_t)(coef_stride ? 3 * B : 3) * sizeof(float), c));
    if (stage == 0) {
        const float *ss = step_tensor(r, step, "corrector.step_size", B);
        assert_int_equal(coef_stride, 3);
        for (int b = 0; b < B; b++) {
            const float step_b = c[3 * b + 1];
            r->err_step = fmax(r->err_step, fabs(step_b - ss[b]) / ss[b]);
            for (int i = 0; i < D; i++) inc[b * D + i] = step_b * s[b * D + i];
        }
        r->err_inc = fmax(r->err_inc, rel_err(inc, step_tensor(r, step, "corrector.increment", B * D)));
        download(x_mean, got);
        r->err_xmean = fmax(r->err_xmean, rel_err(got, step_tensor(r, step, "corrector.x_mean", B * D)));
        download(x, got);
        r->err_x = fmax(r->err_x, rel_err(got, step_tensor(r, step, "corrector.x_out", B * D)));
        r->checked_steps++;
    } else {
        const float *g = step_tensor(r, step, "predictor.G", B);
        assert_int_equal(coef_stride, 0);
        assert_true(c[0] == 1.0f); /* VE: A = 1 */
        for (int b = 0; b < B; b++) {
            r->err_g = fmax(r->err_g, fabs(c[2] - g[b]) / g[b]);
            for (int i = 0; i < D; i++) inc[b * D + i] = -(c[1] * s[b * D + i]); /* rev_f = -G^2 s */
        }
        r->err_revf = fmax(r->err_revf, rel_err(inc, step_tensor(r, step, "predictor.rev_f", B * D)));
        download(x_mean, got);
        r->err_xmean = fmax(r->err_xmean, rel_err(got, step_tensor(r, step, "predictor.x_mean", B * D)));
        download(x, got);
        r->err_x = fmax(r->err_x, rel_err(got, step_tensor(r, step, "predictor.x_out", B * D)));
        r->checked_preds++;
    }
    return CLSDE_OK;
}

static void test_sampler_ve_small(void **state)
{
    char path[4096];
    replay r;
    clsde_sde sde;
    clsde_pc_opts o;
    clsde_sampler_hooks hk;
    clsde_sample_stats st;
    float x[B * D], grid[N];
    double err_sample, err_sigmas = 0;
    (void)state;
    memset(&r, 0, sizeof r);
    snprintf(path, sizeof path, "%s/sampler_ve_small/io.safetensors", fixtures_dir);
    SC_OK(clsde_safetensors_read_file(sc_ctx, path, NULL, &r.st, &r.data));
    sc_sde(&sde, CLSDE_SDE_VE, N, 1e-5);
    /* the schedules the fixture's sampler built */
    clsde_sde_time_grid(&sde, grid);
    assert_memory_equal(grid, tensor(&r, "timesteps", N), sizeof grid);
    for (int k = 0; k < N; k++)
        err_sigmas = fmax(err_sigmas, fabs(sde.sigmas[k] / tensor(&r, "discrete_sigmas", N)[k] - 1));
    r.fn.self = &r;
    r.fn.batch = B;
    r.fn.per_image = D;
    r.fn.eval = replay_eval;
    r.fn.name = "replayed score";
    memset(&hk, 0, sizeof hk);
    hk.user = &r;
    hk.noise = replay_noise;
    hk.trace = replay_trace;
    sc_pc_opts(&o, CLSDE_PREDICTOR_REVERSE_DIFFUSION, CLSDE_CORRECTOR_LANGEVIN);
    o.snr = 0.16f;
    o.n_steps_each = 1;
    o.denoise = 1;
    o.reference_batching = 1;
    SC_OK(clsde_pc_sample(sc_ctx, &sde, &r.fn, &o, &hk, NULL, 0, B, x, &st));
    err_sample = rel_err(x, tensor(&r, "sample", B * D));
    printf("# discrete sigmas max relative diff %.2g (sde.c exp in double, torch in float32); "
           "per-sample relative errors over %d corrector and %d predictor updates:\n"
           "#   step_size %.2e  increment %.2e  G %.2e  rev_f %.2e\n"
           "#   input x %.2e  x_mean %.2e  x %.2e  sample %.2e   (bar %.0e)\n"
           "#   NFE %d, reference reports %d\n",
           err_sigmas, r.checked_steps, r.checked_preds, r.err_step, r.err_inc, r.err_g, r.err_revf,
           r.err_x_in, r.err_xmean, r.err_x, err_sample, BAR, st.nfe, st.nfe_reference);
    assert_int_equal(r.calls, 2 * N);
    assert_int_equal(r.checked_steps, N);
    assert_int_equal(r.checked_preds, N);
    assert_true(err_sigmas <= 2.4e-7); /* 2 ulp */
    assert_true(r.err_step <= BAR && r.err_inc <= BAR && r.err_g <= BAR && r.err_revf <= BAR);
    assert_true(r.err_x_in <= BAR && r.err_xmean <= BAR && r.err_x <= BAR);
    assert_true(err_sample <= BAR);
    assert_int_equal(st.nfe_reference, 20);

    /* default per-image norms: the step sizes differ from the batch means, so the replay
     * must notice (the test can fail) */
    r.calls = 0;
    r.err_step = 0;
    r.checked_steps = r.checked_preds = 0;
    o.reference_batching = 0;
    SC_OK(clsde_pc_sample(sc_ctx, &sde, &r.fn, &o, &hk, NULL, 0, B, x, &st));
    printf("# per-image norms instead: step_size differs by up to %.1f %%\n", 100 * r.err_step);
    assert_true(r.err_step > 1e-3);

    clsde_sde_destroy(&sde);
    clsde_safetensors_free(&r.st);
    free(r.data);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampler_ve_small),
    };
    struct stat sb;
    char path[4096];
    int rc;
    fixtures_dir = getenv("CLSDE_FIXTURES");
    if (!fixtures_dir || !*fixtures_dir) fixtures_dir = argc > 1 ? argv[1] : NULL;
    if (fixtures_dir) snprintf(path, sizeof path, "%s/sampler_ve_small/io.safetensors", fixtures_dir);
    if (!fixtures_dir || stat(path, &sb) != 0) {
        printf("test_fixture: no sampler_ve_small fixture (%s): skipped\n",
               fixtures_dir ? path : "set CLSDE_FIXTURES");
        return 77;
    }
    sc_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    sc_done();
    return rc;
}
