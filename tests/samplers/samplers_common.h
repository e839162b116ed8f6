/*
 * samplers_common.h — shared helpers of the sampler tests: one context per process, the SDEs
 * with the CIFAR-10 parameters, Gaussian mixtures and their analytic score functions,
 * sample statistics.
 */
#ifndef CLSDE_SAMPLERS_COMMON_H
#define CLSDE_SAMPLERS_COMMON_H

#include <stdint.h>

#include "sampler.h"

extern clsde_context *sc_ctx;

/* Create the context (CLSDE_DEVICE / default device); exits 77 (skip) when there is no
 * OpenCL device, 1 on other failures. */
void sc_init(void);
void sc_done(void);

/* An SDE of `type` with N steps (eps <= 0: the type's default). */
void sc_sde(clsde_sde *sde, clsde_sde_type type, int32_t n, double eps);

/* Fails the test (cmocka) with the context's message when st != CLSDE_OK. */
#define SC_OK(expr)                                                                        \
    do {                                                                                   \
        const clsde_status sc_st_ = (expr);                                                \
        if (sc_st_ != CLSDE_OK)                                                            \
            fail_msg("%s: %s (%s)", #expr, clsde_last_error(sc_ctx), clsde_strerror(sc_st_)); \
    } while (0)

/* Mixture storage for up to 8 components. */
typedef struct sc_mix {
    double w[CLSDE_GMM_KMAX], s[CLSDE_GMM_KMAX];
    double *mu; /* [K, D] */
    clsde_gmm g;
} sc_mix;

/* Single Gaussian N(mean * 1, s^2 I) in dimension d. */
void sc_mix_single(sc_mix *m, int32_t d, double mean, double s);
/* The §9.4 problem: D = 16, K = 3, w = (0.2, 0.5, 0.3), s = (0.1, 0.3, 0.2),
 * mu_k[d] = 0.7 sin(16k + d). */
void sc_mix_94(sc_mix *m);
void sc_mix_free(sc_mix *m);

/* Run a sampler over `count` images in batches of `batch` through clsde_pc_sample /
 * clsde_ode_sample, like clsde_sample_run does with a network. out: [count, D]. */
void sc_run_pc(const clsde_sde *sde, const sc_mix *m, const clsde_pc_opts *o, int32_t batch,
               int64_t first, int32_t count, float *out, clsde_sample_stats *stats);
void sc_run_ode(const clsde_sde *sde, const sc_mix *m, const clsde_ode_opts *o, int32_t batch,
                int64_t first, int32_t count, float *out, clsde_sample_stats *stats);

/* Default options. */
void sc_pc_opts(clsde_pc_opts *o, clsde_predictor p, clsde_corrector c);
void sc_ode_opts(clsde_ode_opts *o);

#endif
