/*
 * test_score_wrapper.c — the labels and score divisors of algorithms.md §2 as
 * clsde_net_compute_labels forms them (no OpenCL: a net struct with only the wrapper's
 * fields). Expected values are the reference's float32 operations written out here, and
 * the official wrapper's labels stored in the fixtures (bit patterns below).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net.h"

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

typedef struct fake {
    clsde_model_config cfg;
    clsde_net net;
    double sigmas[1000];
    float label[3], used_sigma[3], score_div[3];
    clsde_net_labels out;
} fake;

static void make(fake *f, clsde_sde_type type, int continuous, clsde_embedding emb,
                 int scale_by_sigma)
{
    clsde_sde_config sc;
    memset(f, 0, sizeof *f);
    f->cfg.sde = type;
    f->cfg.continuous = continuous;
    f->cfg.num_scales = 1000;
    f->cfg.sigma_min = 0.01;
    f->cfg.sigma_max = 50;
    f->cfg.beta_min = 0.1;
    f->cfg.beta_max = 20;
    f->cfg.embedding_type = emb;
    f->cfg.scale_by_sigma = scale_by_sigma;
    f->net.cfg = &f->cfg;
    f->net.batch = 3;
    f->net.io.sigma = scale_by_sigma && emb == CLSDE_EMBED_POSITIONAL ? 2 : -1;
    f->net.sigmas = f->sigmas;
    for (int i = 0; i < 1000; i++) /* exp(linspace(ln 50, ln 0.01, 1000)) */
        f->sigmas[i] = exp(log(50.0) + i * ((log(0.01) - log(50.0)) / 999));
    clsde_sde_config_default(&sc, type);
    sc.continuous = continuous;
    assert_int_equal(clsde_sde_init(&f->net.sde, &sc), CLSDE_OK);
    f->out.label = f->label;
    f->out.used_sigma = f->used_sigma;
    f->out.score_div = f->score_div;
}

/* VE continuous: sigma(t), bit for bit as the official wrapper fed it (fixture labels of
 * ve_ncsnpp_skip, ve_ncsnpp_cifar and ve_ncsnpp_resin_nofir). */
static void test_ve_continuous(void **state)
{
    fake f;
    const float t[3] = {0x1.4f8b58p-17f, 0x1.98d85p-4f, 1.0f}; /* ve_ncsnpp_cifar's t */
    (void)state;
    make(&f, CLSDE_SDE_VE, 1, CLSDE_EMBED_FOURIER, 1);
    assert_int_equal(clsde_net_compute_labels(&f.net, t, CLSDE_TIME_DEFAULT, 1, &f.out), CLSDE_OK);
    assert_int_equal(bits(f.label[0]), 1008982685u);
    assert_int_equal(bits(f.label[1]), 1019195719u);
    assert_int_equal(bits(f.label[2]), 1112014848u); /* 50 */
    clsde_sde_destroy(&f.net.sde);
}

/* VE discrete: j = round_half_even((1 - t)(N - 1)) in float32; positional scale_by_sigma
 * models divide by sigmas[j] (the network's descending float64 table). */
static void test_ve_discrete(void **state)
{
    fake f;
    const float t[3] = {1.0f, 0.5f, 1e-5f};
    (void)state;
    make(&f, CLSDE_SDE_VE, 0, CLSDE_EMBED_POSITIONAL, 1);
    assert_int_equal(clsde_net_compute_labels(&f.net, t, CLSDE_TIME_DEFAULT, 1, &f.out), CLSDE_OK);
    assert_true(f.label[0] == 0.0f);
    assert_true(f.label[1] == 500.0f); /* 0.5 * 999 = 499.5 rounds to even */
    assert_true(f.label[2] == 999.0f);
    assert_true(f.used_sigma[0] == 50.0f);
    assert_true(f.used_sigma[1] == (float)f.sigmas[500]);
    assert_true(fabsf(f.used_sigma[2] - 0.01f) < 1e-8f);
    /* the continuous wrapper on a discretely trained VE model feeds sigma as an index */
    assert_int_equal(clsde_net_compute_labels(&f.net, t, CLSDE_TIME_CONTINUOUS, 1, &f.out),
                     CLSDE_ERR_ARG);
    assert_non_null(strstr(clsde_last_error(NULL), "trained with discrete labels"));
    clsde_sde_destroy(&f.net.sde);
}

/* VP continuous: label 999 t; score divisor -sqrt(1 - exp(2 lmc)) in float32 as the
 * reference forms it (at t = 1e-3 the float32 1 - exp(.) keeps only ~4 digits; that is the
 * reference's value, so it is what the wrapper must give). Expected: PyTorch's std for
 * vp_ddpmpp's t, within 1 ulp (torch's float32 exp is SLEEF's, 1 ulp). */
static void test_vp_continuous(void **state)
{
    fake f;
    const float t[3] = {0x1.0624dep-10f, 0x1.165bfcp-1f, 1.0f}; /* vp_ddpmpp's t */
    const uint32_t torch_std[3] = {1009504345u, 1064928249u, 1065352853u};
    (void)state;
    make(&f, CLSDE_SDE_VP, 1, CLSDE_EMBED_POSITIONAL, 0);
    assert_int_equal(clsde_net_compute_labels(&f.net, t, CLSDE_TIME_DEFAULT, 1, &f.out), CLSDE_OK);
    for (int b = 0; b < 3; b++) {
        const int64_t ulps = (int64_t)bits(-f.score_div[b]) - (int64_t)torch_std[b];
        assert_true(f.label[b] == t[b] * 999.0f);
        assert_true(ulps >= -1 && ulps <= 1);
    }
    assert_int_equal(bits(f.label[0]), 1065336440u); /* the fixtures' 0.999000072 */
    clsde_sde_destroy(&f.net.sde);
}

/* VP discrete: label (N-1) t not rounded; divisor the float32 table at floor(label). The
 * continuous wrapper (ODE, likelihood) gives the continuous std instead. */
static void test_vp_discrete(void **state)
{
    fake f;
    const float t[3] = {0x1.0624dep-10f, 0x1.985f06p-1f, 1.0f}; /* vp_ddpm's t */
    (void)state;
    make(&f, CLSDE_SDE_VP, 0, CLSDE_EMBED_POSITIONAL, 0);
    assert_int_equal(clsde_net_compute_labels(&f.net, t, CLSDE_TIME_DEFAULT, 1, &f.out), CLSDE_OK);
    for (int b = 0; b < 3; b++) {
        const float label = t[b] * 999.0f;
        assert_true(f.label[b] == label);
        assert_true(f.score_div[b] == -f.net.sde.sqrt_1m_alphas_cumprod[(int)label]);
    }
    assert_int_equal(bits(f.label[1]), 1145516890u); /* the fixture's 796.80237, not rounded */
    assert_int_equal(clsde_net_compute_labels(&f.net, t, CLSDE_TIME_CONTINUOUS, 1, &f.out),
                     CLSDE_OK);
    assert_true(fabsf(f.score_div[2] + sqrtf(1.0f - expf(-10.05f))) < 1e-6f);
    clsde_sde_destroy(&f.net.sde);
}

/* subVP: always 999 t and std = 1 - exp(2 lmc); no discrete wrapper. */
static void test_subvp(void **state)
{
    fake f;
    const float t[3] = {1e-3f, 0.5f, 1.0f};
    (void)state;
    make(&f, CLSDE_SDE_SUBVP, 0, CLSDE_EMBED_POSITIONAL, 0);
    assert_int_equal(clsde_net_compute_labels(&f.net, t, CLSDE_TIME_DEFAULT, 1, &f.out), CLSDE_OK);
    assert_true(f.label[1] == 0.5f * 999.0f);
    assert_true(fabs(-f.score_div[2] - (1.0 - exp(-10.05))) < 1e-6);
    assert_int_equal(clsde_net_compute_labels(&f.net, t, CLSDE_TIME_DISCRETE, 1, &f.out),
                     CLSDE_ERR_ARG);
    assert_non_null(strstr(clsde_last_error(NULL), "subVP has no discrete score wrapper"));
    clsde_sde_destroy(&f.net.sde);
}

static void test_bad_times(void **state)
{
    fake f;
    const float zero[3] = {0.5f, 0.0f, 0.5f}, big[3] = {0.5f, 0.5f, 1.5f};
    const float nan3[3] = {NAN, 1.0f, 1.0f};
    (void)state;
    make(&f, CLSDE_SDE_VP, 1, CLSDE_EMBED_POSITIONAL, 0);
    assert_int_equal(clsde_net_compute_labels(&f.net, zero, CLSDE_TIME_DEFAULT, 1, &f.out),
                     CLSDE_ERR_ARG);
    assert_non_null(strstr(clsde_last_error(NULL), "t[1] = 0 is outside (0, 1]"));
    assert_int_equal(clsde_net_compute_labels(&f.net, big, CLSDE_TIME_DEFAULT, 0, &f.out),
                     CLSDE_ERR_ARG);
    assert_int_equal(clsde_net_compute_labels(&f.net, nan3, CLSDE_TIME_DEFAULT, 0, &f.out),
                     CLSDE_ERR_ARG);
    assert_int_equal(clsde_net_compute_labels(&f.net, nan3, CLSDE_TIME_LABEL, 0, &f.out),
                     CLSDE_ERR_ARG);
    /* raw labels pass through; a score needs times */
    assert_int_equal(clsde_net_compute_labels(&f.net, big, CLSDE_TIME_LABEL, 0, &f.out), CLSDE_OK);
    assert_true(f.label[2] == 1.5f);
    assert_int_equal(clsde_net_compute_labels(&f.net, big, CLSDE_TIME_LABEL, 1, &f.out),
                     CLSDE_ERR_ARG);
    assert_int_equal(clsde_net_compute_labels(&f.net, big, (clsde_time_mode)9, 0, &f.out),
                     CLSDE_ERR_ARG);
    clsde_sde_destroy(&f.net.sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ve_continuous),
        cmocka_unit_test(test_ve_discrete),
        cmocka_unit_test(test_vp_continuous),
        cmocka_unit_test(test_vp_discrete),
        cmocka_unit_test(test_subvp),
        cmocka_unit_test(test_bad_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
