/*
 * test_network.c — the samplers driving real networks (fixture checkpoints converted by
 * tests/samplers/network_models.sh):
 *  - sampler_ve_small end to end: the ve_ncsnpp_skip network computes every score, the
 *    recorded noise is injected; every corrector/predictor output and the final sample are
 *    compared per sample with the official run (bar 1e-4 relative to the sample's max |x|);
 *  - batch-split invariance with a network (VP DDPM++): images 0..3 with batch 4, 3 and 1;
 *  - clsde_sample_run: the inverse scaler, progress and cancellation, NFE, the ODE sampler on
 *    a network, and the device-memory check for a batch that cannot fit.
 * Usage: test_network FIXTURES_DIR MODELS_DIR (ve_ncsnpp_skip.safetensors, vp_ddpmpp...).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ref/rng_ref.h"
#include "safetensors.h"
#include "samplers_common.h"

static const char *fixtures_dir, *models_dir;

static clsde_model *load(const char *name)
{
    char path[4096];
    clsde_model *m = NULL;
    snprintf(path, sizeof path, "%s/%s.safetensors", models_dir, name);
    SC_OK(clsde_model_load(sc_ctx, path, &m));
    return m;
}

/* ---- sampler_ve_small with the network ---- */

enum { B = 3, D = 3 * 16 * 16, N = 10 };

typedef struct fixture {
    clsde_safetensors st;
    void *data;
    double err_step, err_x, err_xmean;
} fixture;

static const float *ft(fixture *f, const char *name)
{
    const int32_t i = clsde_safetensors_find(&f->st, name);
    if (i < 0) fail_msg("fixture tensor %s is missing", name);
    return (const float *)((const char *)f->data + f->st.tensors[i].begin);
}

static const float *fstep(fixture *f, int32_t k, const char *what)
{
    char name[64];
    snprintf(name, sizeof name, "step%d.%s", (int)k, what);
    return ft(f, name);
}

static double rel_err(const float *got, const float *ref, int32_t n, int32_t d)
{
    double worst = 0;
    for (int32_t b = 0; b < n; b++) {
        double e = 0, m = 0;
        for (int32_t i = 0; i < d; i++) {
            e = fmax(e, fabs((double)got[(size_t)b * d + i] - ref[(size_t)b * d + i]));
            m = fmax(m, fabs((double)ref[(size_t)b * d + i]));
        }
        worst = fmax(worst, m > 0 ? e / m : e);
    }
    return worst;
}

static clsde_status fx_noise(void *user, uint32_t step, uint32_t stream, int64_t first,
                             int32_t n, cl_mem z)
{
    fixture *f = user;
    const uint32_t kind = stream >> 24;
    float buf[B * D];
    assert_int_equal(first, 0);
    assert_int_equal(n, B);
    if (kind == CLSDE_RNG_PRIOR) {
        const float *x0 = ft(f, "x_init");
        for (int i = 0; i < B * D; i++) buf[i] = (float)(x0[i] / 50.0);
        return clsde_buffer_write(sc_ctx, z, 0, sizeof buf, buf);
    }
    return clsde_buffer_write(sc_ctx, z, 0, sizeof buf,
                              fstep(f, (int32_t)step,
                                    kind == CLSDE_RNG_CORRECTOR ? "corrector.z" : "predictor.z"));
}

static clsde_status fx_trace(void *user, int stage, int32_t step, int32_t inner, float t,
                             cl_mem coef, int32_t off, int32_t stride, cl_mem score, cl_mem z,
                             cl_mem x, cl_mem x_mean)
{
    fixture *f = user;
    float got[B * D], c[3 * B];
    (void)inner, (void)t, (void)score, (void)z;
    if (stage == 0) {
        const float *ss = fstep(f, step, "corrector.step_size");
        SC_OK(clsde_buffer_read(sc_ctx, coef, (size_t)off * sizeof(float), sizeof c, c));
        assert_int_equal(stride, 3);
        for (int b = 0; b < B; b++) f->err_step = fmax(f->err_step, fabs(c[3 * b + 1] / ss[b] - 1));
    }
    SC_OK(clsde_buffer_read(sc_ctx, x, 0, sizeof got, got));
    f->err_x = fmax(f->err_x, rel_err(got, fstep(f, step, stage ? "predictor.x_out" : "corrector.x_out"), B, D));
    SC_OK(clsde_buffer_read(sc_ctx, x_mean, 0, sizeof got, got));
    f->err_xmean = fmax(f->err_xmean,
                        rel_err(got, fstep(f, step, stage ? "predictor.x_mean" : "corrector.x_mean"), B, D));
    return CLSDE_OK;
}

static void test_fixture_with_network(void **state)
{
    char path[4096];
    fixture f;
    clsde_model *model = load("ve_ncsnpp_skip");
    clsde_net *net = NULL;
    clsde_net_score *ns = NULL;
    clsde_sde sde;
    clsde_pc_opts o;
    clsde_sampler_hooks hk;
    float x[B * D];
    double err_sample;
    (void)state;
    memset(&f, 0, sizeof f);
    snprintf(path, sizeof path, "%s/sampler_ve_small/io.safetensors", fixtures_dir);
    SC_OK(clsde_safetensors_read_file(sc_ctx, path, NULL, &f.st, &f.data));
    SC_OK(clsde_net_create(sc_ctx, model, B, &net));
    SC_OK(clsde_net_score_create(sc_ctx, net, &ns));
    sc_sde(&sde, CLSDE_SDE_VE, N, 1e-5);
    memset(&hk, 0, sizeof hk);
    hk.user = &f, hk.noise = fx_noise, hk.trace = fx_trace;
    sc_pc_opts(&o, CLSDE_PREDICTOR_REVERSE_DIFFUSION, CLSDE_CORRECTOR_LANGEVIN);
    o.snr = 0.16f, o.n_steps_each = 1, o.denoise = 1, o.reference_batching = 1;
    SC_OK(clsde_pc_sample(sc_ctx, &sde, clsde_net_score_fn(ns), &o, &hk, NULL, 0, B, x, NULL));
    err_sample = rel_err(x, ft(&f, "sample"), B, D);
    printf("# sampler_ve_small with the ve_ncsnpp_skip network: per-sample relative errors "
           "step_size %.2e, x_mean %.2e, x %.2e, sample %.2e (bar 1e-4)\n",
           f.err_step, f.err_xmean, f.err_x, err_sample);
    assert_true(f.err_step <= 1e-4 && f.err_xmean <= 1e-4 && f.err_x <= 1e-4);
    assert_true(err_sample <= 1e-4);
    clsde_sde_destroy(&sde);
    clsde_net_score_destroy(ns);
    clsde_net_destroy(net);
    clsde_model_destroy(model);
    clsde_safetensors_free(&f.st);
    free(f.data);
}

/* ---- batch-split invariance with a network ---- */

static void test_batch_split_network(void **state)
{
    enum { NI = 4 };
    static const int32_t batches[3] = {4, 3, 1};
    clsde_model *model = load("vp_ddpmpp");
    clsde_sample_params p;
    clsde_model_info mi;
    float *x[3];
    size_t per;
    (void)state;
    clsde_model_get_info(model, &mi);
    per = (size_t)mi.num_channels * mi.image_size * mi.image_size;
    clsde_sample_params_default(&p);
    p.method = "pc", p.predictor = "reverse_diffusion", p.corrector = "langevin";
    p.steps = 30; /* VP's discrete schedule needs N > beta_max = 20 */
    p.seed = 7;
    for (int i = 0; i < 3; i++) {
        x[i] = malloc(NI * per * sizeof(float));
        assert_non_null(x[i]);
        p.batch = batches[i];
        SC_OK(clsde_sample_run(sc_ctx, model, &p, 0, NI, x[i], NULL));
    }
    {
        double d1 = 0, d2 = 0;
        for (size_t i = 0; i < NI * per; i++) {
            d1 = fmax(d1, fabs(x[0][i] - x[1][i]));
            d2 = fmax(d2, fabs(x[0][i] - x[2][i]));
        }
        printf("# vp_ddpmpp PC, images 0..3: batch 4 vs 3: max|diff| %.3g, batch 4 vs 1: %.3g "
               "(%s)\n", d1, d2, d1 == 0 && d2 == 0 ? "bitwise identical" : "DIFFERENT");
        assert_memory_equal(x[0], x[1], NI * per * sizeof(float));
        assert_memory_equal(x[0], x[2], NI * per * sizeof(float));
    }
    for (int i = 0; i < 3; i++) free(x[i]);
    clsde_model_destroy(model);
}

/* ---- the public entry point ---- */

/* calls: [0] reports so far, [1] cancel at that report (0: never), [2] the last step, [3]
 * the total */
static int counting(void *user, int32_t step, int32_t total, double elapsed)
{
    int *calls = user;
    (void)elapsed;
    assert_true(step >= 0 && step <= total);
    assert_true(calls[0] == 0 || step >= calls[2]); /* never goes back */
    calls[2] = step, calls[3] = total;
    return ++calls[0] == calls[1];
}

static void test_sample_run(void **state)
{
    clsde_model *model = load("vp_ddpmpp");
    clsde_net *net = NULL;
    clsde_net_score *ns = NULL;
    clsde_sample_params p;
    clsde_sample_stats st;
    clsde_model_info mi;
    clsde_sde sde;
    clsde_ode_opts oo;
    int calls[4] = {0, 0, 0, 0};
    float *a, *b;
    size_t per;
    (void)state;
    clsde_model_get_info(model, &mi);
    per = (size_t)mi.num_channels * mi.image_size * mi.image_size;
    a = malloc(2 * per * sizeof *a), b = malloc(2 * per * sizeof *b);
    assert_true(a && b);

    /* ODE through the public API == the internal sampler + (x + 1)/2 (centred data) */
    clsde_sample_params_default(&p);
    p.method = "ode", p.rtol = p.atol = 1e-3, p.seed = 3, p.batch = 2;
    p.progress = counting, p.progress_user = calls;
    SC_OK(clsde_sample_run(sc_ctx, model, &p, 5, 2, a, &st));
    printf("# vp_ddpmpp ODE (rtol = atol = 1e-3): NFE %d..%d, %lld accepted / %lld rejected "
           "steps, %lld forward calls, %d progress reports, %.1f s\n",
           st.nfe_min, st.nfe, (long long)st.steps_accepted, (long long)st.steps_rejected,
           (long long)st.forward_calls, calls[0], st.seconds);
    assert_true(st.nfe >= 8 && (st.nfe - 2) % 6 == 0);
    /* both images run in phase (no third image to refill a slot with): one report per
     * step attempt of the batch, as many as its slowest image made, the last one at the end */
    assert_int_equal(calls[0], (st.nfe - 2) / 6);
    assert_int_equal(calls[2], calls[3]);
    /* the batch runs until its slowest image is done, then the denoising evaluation */
    assert_int_equal(st.forward_calls, st.nfe + 1);
    SC_OK(clsde_net_create(sc_ctx, model, 2, &net));
    SC_OK(clsde_net_score_create(sc_ctx, net, &ns));
    sc_sde(&sde, CLSDE_SDE_VP, mi.num_scales, mi.sampling_eps);
    sc_ode_opts(&oo);
    oo.rtol = oo.atol = 1e-3, oo.seed = 3;
    SC_OK(clsde_ode_sample(sc_ctx, &sde, clsde_net_score_fn(ns), &oo, NULL, NULL, 5, 2, NULL, b,
                           NULL, NULL));
    for (size_t i = 0; i < 2 * per; i++) b[i] = (b[i] + 1.0f) / 2.0f;
    {
        double d = 0;
        for (size_t i = 0; i < 2 * per; i++) d = fmax(d, fabs(a[i] - b[i]));
        printf("# public vs internal ODE: max|diff| %.3g\n", d);
    }
    SC_OK(clsde_ode_sample(sc_ctx, &sde, clsde_net_score_fn(ns), &oo, NULL, NULL, 5, 2, NULL, a,
                           NULL, NULL));
    for (size_t i = 0; i < 2 * per; i++) a[i] = (a[i] + 1.0f) / 2.0f;
    {
        double d = 0;
        for (size_t i = 0; i < 2 * per; i++) d = fmax(d, fabs(a[i] - b[i]));
        printf("# internal ODE twice: max|diff| %.3g\n", d);
    }
    assert_memory_equal(a, b, 2 * per * sizeof *a);

    /* continuous batching through the public API: 3 images in 2 slots (the first to finish
     * takes image 7) equal batch 1 and batch 3 bit for bit, in the evaluations of a schedule
     * without idle slots while an image waits. Reports come after each batched
     * evaluation that ends an attempt: at least one per attempt of the slowest image, at most
     * one per evaluation of the ODEs (the last of the 2 is the batched denoising) */
    {
        float *c = malloc(3 * per * sizeof *c), *d = malloc(3 * per * sizeof *d);
        float *e = malloc(3 * per * sizeof *e);
        int32_t n[3];
        int64_t want;
        assert_true(c && d && e);
        p.batch = 1, p.progress = NULL;
        p.rtol = p.atol = 1e-4; /* NFE differ between the images here */
        for (int k = 0; k < 3; k++) { /* each image alone: its NFE */
            SC_OK(clsde_sample_run(sc_ctx, model, &p, 5 + k, 1, c + k * per, &st));
            n[k] = st.nfe;
        }
        /* image 7 takes the slot that frees first; then 2 batched denoising evaluations */
        want = n[0] > n[1] ? n[0] : n[1];
        if ((n[0] < n[1] ? n[0] : n[1]) + n[2] > want) want = (n[0] < n[1] ? n[0] : n[1]) + n[2];
        want += 2;
        p.batch = 3;
        SC_OK(clsde_sample_run(sc_ctx, model, &p, 5, 3, e, NULL));
        p.batch = 2, p.progress = counting;
        memset(calls, 0, sizeof calls);
        SC_OK(clsde_sample_run(sc_ctx, model, &p, 5, 3, d, &st));
        printf("# vp_ddpmpp ODE, images 5..7 (NFE %d, %d, %d) in 2 slots: %lld batched "
               "evaluations (schedule %lld), %d progress reports up to %d/%d; batch 2 and 3 vs "
               "1: %s\n",
               (int)n[0], (int)n[1], (int)n[2], (long long)st.forward_calls, (long long)want,
               calls[0], calls[2], calls[3],
               !memcmp(c, d, 3 * per * sizeof *c) && !memcmp(c, e, 3 * per * sizeof *c)
                   ? "bitwise identical"
                   : "DIFFERENT");
        assert_memory_equal(c, d, 3 * per * sizeof *c);
        assert_memory_equal(c, e, 3 * per * sizeof *c);
        assert_true(st.nfe_mean == (n[0] + n[1] + n[2]) / 3.0);
        assert_int_equal(st.forward_calls, want);
        assert_true(calls[0] >= (st.nfe - 2) / 6 && calls[0] <= st.forward_calls - 2);
        assert_int_equal(calls[2], calls[3]);
        assert_int_equal(calls[3], 2000); /* two batches' worth */
        free(c), free(d), free(e);
    }

    /* PC: NFE as counted and as the reference reports it; cancellation */
    clsde_sample_params_default(&p);
    p.method = "pc", p.predictor = "euler_maruyama", p.corrector = "none", p.steps = 3;
    SC_OK(clsde_sample_run(sc_ctx, model, &p, 0, 1, a, &st));
    {
        clsde_sample_params r;
        SC_OK(clsde_sample_params_resolve(model, &p, &r));
        assert_int_equal(st.nfe, 3); /* the corrector is off: predictor evaluations only */
        assert_int_equal(st.nfe_reference, 3 * (r.n_steps_each + 1));
    }
    calls[0] = 0, calls[1] = 2;
    p.progress = counting, p.progress_user = calls;
    assert_int_equal(clsde_sample_run(sc_ctx, model, &p, 0, 1, a, NULL), CLSDE_ERR_CANCELLED);
    assert_int_equal(calls[0], 2);

    /* unsupported and invalid settings, named */
    clsde_sample_params_default(&p);
    p.predictor = "leapfrog";
    assert_int_equal(clsde_sample_run(sc_ctx, model, &p, 0, 1, a, NULL), CLSDE_ERR_ARG);
    assert_non_null(strstr(clsde_last_error(sc_ctx), "unknown predictor 'leapfrog'"));

    clsde_sde_destroy(&sde);
    clsde_net_score_destroy(ns);
    clsde_net_destroy(net);
    clsde_model_destroy(model);
    free(a), free(b);
}

/* A batch that cannot fit is refused before anything large is allocated, naming the limit. */
static void test_device_limit(void **state)
{
    clsde_model *model = load("vp_ddpmpp");
    clsde_sample_params p;
    float *x = malloc((size_t)65536 * 3 * 16 * 16 * sizeof *x); /* never touched */
    clsde_status st;
    (void)state;
    assert_non_null(x);
    clsde_sample_params_default(&p);
    p.batch = 65536;
    st = clsde_sample_run(sc_ctx, model, &p, 0, 65536, x, NULL);
    printf("# %s\n", clsde_last_error(sc_ctx));
    assert_int_equal(st, CLSDE_ERR_DEVICE_LIMIT);
    assert_non_null(strstr(clsde_last_error(sc_ctx), "batch 65536 needs"));
    free(x);
    clsde_model_destroy(model);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_with_network),
        cmocka_unit_test(test_batch_split_network),
        cmocka_unit_test(test_sample_run),
        cmocka_unit_test(test_device_limit),
    };
    int rc;
    if (argc < 3) {
        fprintf(stderr, "usage: test_network FIXTURES_DIR MODELS_DIR\n");
        return 2;
    }
    fixtures_dir = argv[1];
    models_dir = argv[2];
    sc_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    sc_done();
    return rc;
}
