/*
 * test_jvp.c — the network's forward-mode derivative (src/graph_jvp.c, clsde_net_create_jvp)
 * on every fixture architecture (converted by jvp_models.sh), batch 2, t = (0.5, 0.3):
 *  - the JVP graph's score is bit for bit the plain graph's;
 *  - the tangent (ds/dx) v agrees with a central difference of the plain network,
 *    (s(x + h v) - s(x - h v)) / 2h, at the best of a few h (float32 differences);
 *  - it is linear in v: v = 0 gives exactly 0 (no bias reaches a tangent) and 2 v gives
 *    2 (ds/dx) v (scaling by 2 is exact in every op);
 *  - the score function's q = v . (ds/dx) v (the likelihood's divergence term) is that dot
 *    product.
 * Usage: test_jvp MODELS_DIR NAME... (NAME.safetensors in MODELS_DIR).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net.h"
#include "samplers_common.h"

enum { B = 2 };

static const char *models_dir;
static char **names;
static int n_names;

typedef struct jvp_net {
    clsde_net *net;
    int32_t D;
    cl_mem x, v, label, sigma, div, score, tscore;
} jvp_net;

static void jn_open(jvp_net *j, clsde_model *m)
{
    memset(j, 0, sizeof *j);
    SC_OK(clsde_net_create_jvp(sc_ctx, m, B, &j->net));
    j->D = j->net->cfg->num_channels * j->net->cfg->image_size * j->net->cfg->image_size;
    SC_OK(clsde_buffer_create(sc_ctx, (size_t)B * j->D * sizeof(float), &j->x));
    SC_OK(clsde_buffer_create(sc_ctx, (size_t)B * j->D * sizeof(float), &j->v));
    SC_OK(clsde_buffer_create(sc_ctx, (size_t)B * j->D * sizeof(float), &j->score));
    SC_OK(clsde_buffer_create(sc_ctx, (size_t)B * j->D * sizeof(float), &j->tscore));
    SC_OK(clsde_buffer_create(sc_ctx, B * sizeof(float), &j->label));
    SC_OK(clsde_buffer_create(sc_ctx, B * sizeof(float), &j->sigma));
    SC_OK(clsde_buffer_create(sc_ctx, B * sizeof(float), &j->div));
}

static void jn_close(jvp_net *j)
{
    cl_mem all[] = {j->x, j->v, j->label, j->sigma, j->div, j->score, j->tscore};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clsde_buffer_release(all[i]);
    clsde_net_destroy(j->net);
}

/* score and tscore [B, D] of x, v at times t (the model's own wrapper). */
static void jn_run(jvp_net *j, const float *x, const float *v, const float *t, float *score,
                   float *tscore)
{
    float lab[3 * B];
    const clsde_net_labels l = {lab, lab + B, lab + 2 * B};
    const size_t bytes = (size_t)B * j->D * sizeof(float);
    clsde_net_bind bind;
    SC_OK(clsde_net_compute_labels(j->net, t, CLSDE_TIME_DEFAULT, 1, &l));
    SC_OK(clsde_buffer_write(sc_ctx, j->label, 0, B * sizeof(float), l.label));
    SC_OK(clsde_buffer_write(sc_ctx, j->sigma, 0, B * sizeof(float), l.used_sigma));
    SC_OK(clsde_buffer_write(sc_ctx, j->div, 0, B * sizeof(float), l.score_div));
    SC_OK(clsde_buffer_write(sc_ctx, j->x, 0, bytes, x));
    SC_OK(clsde_buffer_write(sc_ctx, j->v, 0, bytes, v));
    memset(&bind, 0, sizeof bind);
    bind.x = j->x, bind.label = j->label;
    bind.used_sigma = j->net->io.sigma >= 0 ? j->sigma : NULL;
    bind.score_div = j->net->score_div >= 0 ? j->div : NULL;
    bind.score = j->score, bind.v = j->v, bind.tscore = j->tscore;
    SC_OK(clsde_net_enqueue(j->net, &bind));
    SC_OK(clsde_buffer_read(sc_ctx, j->score, 0, bytes, score));
    SC_OK(clsde_buffer_read(sc_ctx, j->tscore, 0, bytes, tscore));
}

static double rel_err(const float *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / fmax(den, 1e-300));
}

static void check_model(const char *name)
{
    char path[4096];
    clsde_model *m = NULL;
    clsde_net *plain = NULL;
    jvp_net j;
    const float t[B] = {0.5f, 0.3f};
    float *x, *v, *xp, *s0, *sj, *tj, *t2, *sp, *sm;
    double *fd, best = INFINITY, best_h = 0;
    static const double hs[4] = {3e-2, 1e-2, 3e-3, 1e-3};
    size_t n;
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    snprintf(path, sizeof path, "%s/%s.safetensors", models_dir, name);
    SC_OK(clsde_model_load(sc_ctx, path, &m));
    jn_open(&j, m);
    SC_OK(clsde_net_create(sc_ctx, m, B, &plain));
    n = (size_t)B * j.D;
    x = malloc(n * sizeof *x), v = malloc(n * sizeof *v), xp = malloc(n * sizeof *xp);
    s0 = malloc(n * sizeof *s0), sj = malloc(n * sizeof *sj), tj = malloc(n * sizeof *tj);
    t2 = malloc(n * sizeof *t2), sp = malloc(n * sizeof *sp), sm = malloc(n * sizeof *sm);
    fd = malloc(n * sizeof *fd);
    assert_true(x && v && xp && s0 && sj && tj && t2 && sp && sm && fd);
    for (size_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)(0.6 * sin(0.37 * i + 1.1) + 0.2 * ((r >> 40) / 16777216.0 - 0.5));
        v[i] = (r >> 63) ? 1.0f : -1.0f;
    }

    /* the same score, and a tangent */
    jn_run(&j, x, v, t, sj, tj);
    SC_OK(clsde_net_forward_run(plain, x, t, CLSDE_TIME_DEFAULT, NULL, s0));
    assert_memory_equal(s0, sj, n * sizeof *s0);

    /* central differences of the plain network */
    for (int k = 0; k < 4; k++) {
        double e;
        for (size_t i = 0; i < n; i++) xp[i] = (float)(x[i] + hs[k] * v[i]);
        SC_OK(clsde_net_forward_run(plain, xp, t, CLSDE_TIME_DEFAULT, NULL, sp));
        for (size_t i = 0; i < n; i++) xp[i] = (float)(x[i] - hs[k] * v[i]);
        SC_OK(clsde_net_forward_run(plain, xp, t, CLSDE_TIME_DEFAULT, NULL, sm));
        for (size_t i = 0; i < n; i++) fd[i] = ((double)sp[i] - sm[i]) / (2 * hs[k]);
        e = rel_err(tj, fd, n);
        if (e < best) best = e, best_h = hs[k];
    }

    /* linearity: v = 0 and 2 v */
    {
        double e2 = 0, scale = 0;
        for (size_t i = 0; i < n; i++) xp[i] = 0;
        jn_run(&j, x, xp, t, sp, t2);
        for (size_t i = 0; i < n; i++) assert_true(t2[i] == 0.0f);
        for (size_t i = 0; i < n; i++) xp[i] = 2 * v[i];
        jn_run(&j, x, xp, t, sp, t2);
        for (size_t i = 0; i < n; i++) {
            e2 = fmax(e2, fabs(t2[i] - 2.0 * tj[i]));
            scale = fmax(scale, fabs(2.0 * tj[i]));
        }
        printf("# %-24s nodes %4d  |ds/dx v| rel. error vs central difference %.2e (h %.0e); "
               "2v: max dev %.1e of %.2e; v = 0: 0\n",
               name, (int)j.net->g->n_nodes, best, best_h, e2, scale);
        assert_true(e2 <= 1e-6 * scale);
    }
    assert_true(best < 1e-3);

    /* the score function's q = v . tangent */
    {
        clsde_net_score *ns;
        double q[B];
        const float tt[B] = {0.5f, 0.3f};
        SC_OK(clsde_net_score_create(sc_ctx, j.net, &ns));
        SC_OK(clsde_buffer_write(sc_ctx, j.x, 0, n * sizeof(float), x));
        SC_OK(clsde_buffer_write(sc_ctx, j.v, 0, n * sizeof(float), v));
        SC_OK(clsde_net_score_fn(ns)->eval_div(ns, j.x, tt, j.v, j.score, q));
        /* eval_div uses the continuous wrapper: compare with a continuous-mode tangent */
        {
            float lab[3 * B];
            const clsde_net_labels l = {lab, lab + B, lab + 2 * B};
            clsde_net_bind bind;
            SC_OK(clsde_net_compute_labels(j.net, tt, CLSDE_TIME_CONTINUOUS, 1, &l));
            SC_OK(clsde_buffer_write(sc_ctx, j.label, 0, B * sizeof(float), l.label));
            SC_OK(clsde_buffer_write(sc_ctx, j.sigma, 0, B * sizeof(float), l.used_sigma));
            SC_OK(clsde_buffer_write(sc_ctx, j.div, 0, B * sizeof(float), l.score_div));
            memset(&bind, 0, sizeof bind);
            bind.x = j.x, bind.label = j.label;
            bind.used_sigma = j.net->io.sigma >= 0 ? j.sigma : NULL;
            bind.score_div = j.net->score_div >= 0 ? j.div : NULL;
            bind.score = j.score, bind.v = j.v, bind.tscore = j.tscore;
            SC_OK(clsde_net_enqueue(j.net, &bind));
            SC_OK(clsde_buffer_read(sc_ctx, j.tscore, 0, n * sizeof(float), t2));
        }
        for (int b = 0; b < B; b++) {
            double want = 0, mag = 0;
            for (int32_t i = 0; i < j.D; i++) {
                want += (double)v[b * j.D + i] * t2[b * j.D + i];
                mag += fabs((double)v[b * j.D + i] * t2[b * j.D + i]);
            }
            assert_true(fabs(q[b] - want) <= 1e-5 * mag + 1e-30);
        }
        clsde_net_score_destroy(ns);
    }
    free(x), free(v), free(xp), free(s0), free(sj), free(tj), free(t2), free(sp), free(sm);
    free(fd);
    clsde_net_destroy(plain);
    jn_close(&j);
    clsde_model_destroy(m);
}

static void test_models(void **state)
{
    (void)state;
    for (int i = 0; i < n_names; i++) check_model(names[i]);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models),
    };
    int rc;
    if (argc < 3) {
        fprintf(stderr, "usage: test_jvp MODELS_DIR NAME...\n");
        return 2;
    }
    models_dir = argv[1];
    names = argv + 2;
    n_names = argc - 2;
    sc_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    sc_done();
    return rc;
}
