/* samplers_common.c — see samplers_common.h. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "samplers_common.h"

clsde_context *sc_ctx;

void sc_init(void)
{
    clsde_context_params p;
    int32_t count = 0;
    if (clsde_device_count(&count) != CLSDE_OK || count == 0) {
        fprintf(stderr, "no OpenCL device: skipping\n");
        exit(77);
    }
    clsde_context_params_default(&p);
    if (clsde_context_create(&p, &sc_ctx) != CLSDE_OK) {
        fprintf(stderr, "context: %s\n", clsde_last_error(NULL));
        exit(1);
    }
    printf("# device: %s (fp64 %s)\n", sc_ctx->info.name, sc_ctx->info.fp64 ? "yes" : "no");
}

void sc_done(void)
{
    clsde_context_destroy(sc_ctx);
}

void sc_sde(clsde_sde *sde, clsde_sde_type type, int32_t n, double eps)
{
    clsde_sde_config cfg;
    clsde_sde_config_default(&cfg, type);
    cfg.n = n;
    if (eps > 0) cfg.eps = eps;
    assert_int_equal(clsde_sde_init(sde, &cfg), CLSDE_OK);
}

void sc_mix_single(sc_mix *m, int32_t d, double mean, double s)
{
    memset(m, 0, sizeof *m);
    m->w[0] = 1, m->s[0] = s;
    m->mu = malloc((size_t)d * sizeof *m->mu);
    assert_non_null(m->mu);
    for (int32_t i = 0; i < d; i++) m->mu[i] = mean;
    m->g.k = 1, m->g.d = d, m->g.w = m->w, m->g.s = m->s, m->g.mu = m->mu;
}

void sc_mix_94(sc_mix *m)
{
    static const double w[3] = {0.2, 0.5, 0.3}, s[3] = {0.1, 0.3, 0.2};
    memset(m, 0, sizeof *m);
    memcpy(m->w, w, sizeof w), memcpy(m->s, s, sizeof s);
    m->mu = malloc(3 * 16 * sizeof *m->mu);
    assert_non_null(m->mu);
    for (int k = 0; k < 3; k++)
        for (int d = 0; d < 16; d++) m->mu[k * 16 + d] = 0.7 * sin(16.0 * k + d);
    m->g.k = 3, m->g.d = 16, m->g.w = m->w, m->g.s = m->s, m->g.mu = m->mu;
}

void sc_mix_free(sc_mix *m)
{
    free(m->mu);
    m->mu = NULL;
}

static void run(int ode, const clsde_sde *sde, const sc_mix *m, const void *o, int32_t batch,
                int64_t first, int32_t count, float *out, clsde_sample_stats *stats)
{
    clsde_gmm_score *gs = NULL;
    clsde_sample_stats acc, one;
    /* per-image ODEs: all images in one call, which refills the slots (as clsde_sample_run) */
    const int32_t per_call =
        ode && !((const clsde_ode_opts *)o)->reference_batching ? count : batch;
    memset(&acc, 0, sizeof acc);
    SC_OK(clsde_gmm_score_create(sc_ctx, sde, &m->g, batch, &gs));
    for (int32_t done = 0; done < count; done += per_call) {
        const int32_t n = count - done < per_call ? count - done : per_call;
        float *dst = out + (size_t)done * m->g.d;
        if (ode)
            SC_OK(clsde_ode_sample(sc_ctx, sde, clsde_gmm_score_fn(gs), o, NULL, NULL,
                                   first + done, n, NULL, dst, NULL, &one));
        else
            SC_OK(clsde_pc_sample(sc_ctx, sde, clsde_gmm_score_fn(gs), o, NULL, NULL, first + done,
                                  n, dst, &one));
        clsde_sample_stats_add(&acc, &one);
        acc.nfe_mean += one.nfe_mean * n / count;
    }
    clsde_gmm_score_destroy(gs);
    if (stats) *stats = acc;
}

void sc_run_pc(const clsde_sde *sde, const sc_mix *m, const clsde_pc_opts *o, int32_t batch,
               int64_t first, int32_t count, float *out, clsde_sample_stats *stats)
{
    run(0, sde, m, o, batch, first, count, out, stats);
}

void sc_run_ode(const clsde_sde *sde, const sc_mix *m, const clsde_ode_opts *o, int32_t batch,
                int64_t first, int32_t count, float *out, clsde_sample_stats *stats)
{
    run(1, sde, m, o, batch, first, count, out, stats);
}

void sc_pc_opts(clsde_pc_opts *o, clsde_predictor p, clsde_corrector c)
{
    memset(o, 0, sizeof *o);
    o->predictor = p;
    o->corrector = c;
    o->snr = 0.16f;
    o->n_steps_each = 1;
    o->denoise = 1;
    o->seed = 42;
}

void sc_ode_opts(clsde_ode_opts *o)
{
    memset(o, 0, sizeof *o);
    o->rtol = o->atol = 1e-5;
    o->denoise = 1;
    o->seed = 42;
}
