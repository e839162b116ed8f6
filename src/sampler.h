/*
 * sampler.h — the samplers' internal interface: the score function they call (a network,
 * or the analytic Gaussian-mixture score of the tests), the resolved settings, test hooks
 * (noise source, per-update trace), and the entry points of sampler_pc.c (algorithms.md §3,
 * §4), sampler_ode.c (§5), sampler.c (noise, progress) and sampler_api.c (the public
 * clsde_sample_run, the network as a score function).
 * The samplers never see the network: anything with an `eval` can be sampled.
 */
#ifndef CLSDE_SAMPLER_H
#define CLSDE_SAMPLER_H

#include <stdint.h>

#include "runtime.h"
#include "sde.h"
#include "ref/analytic_score_ref.h"

/* A score function s(x, t) on device buffers. It always evaluates `batch` images (a network
 * is built for one batch size); the samplers use the first n <= batch and keep the others
 * finite. Calls are queued on the context's queue and may block. */
typedef struct clsde_score_fn {
    void *self;
    int32_t batch;      /* B: x and score are [B, per_image] */
    int32_t per_image;  /* D = C*H*W */
    /* score [B, D] float = s(x [B, D] float, t [B] host). continuous: 1 = the continuous
     * wrapper (ODE sampler and its denoising step, algorithms.md §2), 0 = the model's own. */
    clsde_status (*eval)(void *self, cl_mem x, const float *t, int continuous, cl_mem score);
    /* Optional (NULL for networks): the same with x, score and t in double. The ODE sampler
     * uses it when asked to (clsde_ode_opts.score_f64), for float64 parity tests. */
    clsde_status (*eval_f64)(void *self, cl_mem x, const double *t, int continuous,
                             cl_mem score);
    /* Optional (the likelihood): the continuous-wrapper score and, per image, q[b] =
     * v_b^T (ds/dx)(x_b) v_b for the probe v [B, D] (algorithms.md §6.2: a Jacobian-vector
     * product and a dot product), q host [B]; v = NULL asks for the exact trace of ds/dx
     * (analytic scores only; a network fails with CLSDE_ERR_UNSUPPORTED). */
    clsde_status (*eval_div)(void *self, cl_mem x, const float *t, cl_mem v, cl_mem score,
                             double *q);
    /* The same with x, v and score in double (float64 parity tests). */
    clsde_status (*eval_div_f64)(void *self, cl_mem x, const double *t, cl_mem v,
                                 cl_mem score, double *q);
    const char *name;   /* for messages: "network", "analytic score" */
} clsde_score_fn;

/* The likelihood's divergence estimate (algorithms.md §6.2). */
typedef enum clsde_probe {
    CLSDE_PROBE_RADEMACHER = 0, /* Hutchinson with +-1 entries (the reference's default) */
    CLSDE_PROBE_GAUSSIAN = 1,   /* Hutchinson with N(0, 1) entries */
    CLSDE_PROBE_EXACT = 2       /* the exact trace (analytic score functions only) */
} clsde_probe;

/* Test hooks; all members optional (NULL = normal operation). */
typedef struct clsde_sampler_hooks {
    void *user;
    /* Noise source replacing Philox (rng.cl): fill z [n, D] float for absolute images
     * first_image .. first_image + n - 1 at (step, stream) (rng_ref.h's key layout). */
    clsde_status (*noise)(void *user, uint32_t step, uint32_t stream, int64_t first_image,
                          int32_t n, cl_mem z);
    /* Called after each PC update has been queued: stage 0 = corrector (inner step j),
     * 1 = predictor; coef holds (A, B, S) for image b at coef_offset + b*coef_stride (device
     * buffer; Langevin: per image, computed on the device). x_in is gone (updated in place);
     * score, z, x (new) and x_mean are the device buffers [B, D]. */
    clsde_status (*trace)(void *user, int stage, int32_t step, int32_t inner, float t,
                          cl_mem coef, int32_t coef_offset, int32_t coef_stride, cl_mem score,
                          cl_mem z, cl_mem x, cl_mem x_mean);
} clsde_sampler_hooks;

/* Progress: the run's own callback plus where this chunk sits in the run's total. */
typedef struct clsde_progress {
    clsde_progress_fn fn;
    void *user;
    int32_t base, total; /* steps before this chunk, and the run's total */
    double t0;           /* clsde_now() at the start of the run */
} clsde_progress;

/* Call the callback (if any) with base + step; CLSDE_ERR_CANCELLED when it says stop. */
clsde_status clsde_progress_report(clsde_context *ctx, const clsde_progress *p, int32_t step);

/* z [n, D] = N(0, I) noise for absolute images first_image .., keyed (seed, image, step,
 * stream) by Philox (rng.cl), or from hk->noise when set. */
clsde_status clsde_sampler_noise(clsde_context *ctx, const clsde_sampler_hooks *hk, uint64_t seed,
                                 uint32_t step, uint32_t stream, int64_t first_image, int32_t n,
                                 int32_t per_image, cl_mem z);

/* Fill a device buffer with zero bytes. */
clsde_status clsde_sampler_zero(clsde_context *ctx, cl_mem buf, size_t bytes);

/* PC sampler settings, resolved (no "from the model" sentinels). */
typedef struct clsde_pc_opts {
    clsde_predictor predictor;
    clsde_corrector corrector;
    float snr;                  /* r > 0 (corrector) */
    int32_t n_steps_each;       /* M >= 0; 0 with a corrector means no corrector step */
    int32_t probability_flow;   /* predictor with lambda = 1/2, no noise */
    int32_t denoise;            /* return the last predictor's x_mean */
    int32_t reference_batching; /* Langevin step from batch means of the norms (§3.2) */
    uint64_t seed;
} clsde_pc_opts;

/* ODE sampler settings. */
typedef struct clsde_ode_opts {
    double rtol, atol;          /* > 0 */
    int32_t denoise;            /* reverse-diffusion x_mean at eps after the ODE (§5.3) */
    int32_t reference_batching; /* one ODE for the batch, batch-global error norm (§5.1) */
    int32_t state_fp32;         /* 1: float state with compensated updates even where the
                                   device has cl_khr_fp64 (tests of that path) */
    int32_t score_f64;          /* 1: evaluate fn->eval_f64 on the double state (tests) */
    int32_t unclipped_probe;    /* 1: scipy 1.10's initial step, whose probe may leave the
                                   interval (t < 0 for VP, §9.4's numbers); 0: clipped to
                                   |eps - 1| as scipy >= 1.11 does, so the network is never
                                   evaluated outside (0, 1] */
    uint64_t seed;
} clsde_ode_opts;

/* What one chunk (or a whole run) did; clsde_sample_stats of clsde.h. */
void clsde_sample_stats_add(clsde_sample_stats *acc, const clsde_sample_stats *chunk);

/* One PC run over n <= fn->batch images (absolute indices first_image ..): prior sample,
 * N = sde->cfg.n steps of corrector then predictor (§3.3). x_out [n, D] float host, model
 * space (no inverse scaler). stats: nfe etc. of this chunk. */
clsde_status clsde_pc_sample(clsde_context *ctx, const clsde_sde *sde, const clsde_score_fn *fn,
                             const clsde_pc_opts *o, const clsde_sampler_hooks *hk,
                             const clsde_progress *pr, int64_t first_image, int32_t n,
                             float *x_out, clsde_sample_stats *stats);

/* n_iter corrector updates (o->corrector, one per iteration) at the fixed time t, from the
 * state x_io [n, D] float host (in place), through the sampler's own corrector code; the
 * noise of iteration i is keyed as step i. For stationarity tests (§9.5 item 4). */
clsde_status clsde_pc_correct(clsde_context *ctx, const clsde_sde *sde, const clsde_score_fn *fn,
                              const clsde_pc_opts *o, const clsde_sampler_hooks *hk,
                              int64_t first_image, int32_t n, float t, int32_t n_iter,
                              float *x_io);

/* One ODE run over n images: from the prior sample (y0 NULL) or from y0 [n, D] double host
 * (test problems, given latents), integrate the probability-flow ODE from t = 1 to
 * eps = sde->cfg.eps with RK45 (§5.2), then the optional denoising step. Per-image ODEs
 * take any n and run min(n, fn->batch) at a time, refilling a slot as its image finishes;
 * reference_batching needs n <= fn->batch (the batch is one system). Progress reports go
 * up to 1000 * ceil(n / fn->batch).
 * x_out [n, D] float host (the ODE solution rounded to float, or the denoised x_mean);
 * y_out [n, D] double host (may be NULL): the solution before denoising, unrounded. */
clsde_status clsde_ode_sample(clsde_context *ctx, const clsde_sde *sde, const clsde_score_fn *fn,
                              const clsde_ode_opts *o, const clsde_sampler_hooks *hk,
                              const clsde_progress *pr, int64_t first_image, int32_t n,
                              const double *y0, float *x_out, double *y_out,
                              clsde_sample_stats *stats);

/* The likelihood ODE of algorithms.md §6.1 over n images x0 [n, D] (double host, model
 * space, already dequantised): [x; delta] from t = eps to 1 with RK45 as the ODE sampler
 * (same options: rtol, atol, reference_batching, state_fp32, score_f64; denoise is
 * ignored), d delta/dt = A |v|^2 + B v^T (ds/dx) v with the drift F = A x + B s and the
 * probe v of each image drawn once (Philox stream CLSDE_RNG_PROBE, keyed by seed and
 * image index, so image k's result does not depend on the batch). Needs fn->eval_div.
 * z_out [n, D] (may be NULL): x(1); delta_out [n]: delta(1), so that
 * log p(x0) = log p_T(z) + delta. stats: nfev as for the ODE sampler. */
clsde_status clsde_ode_likelihood(clsde_context *ctx, const clsde_sde *sde,
                                  const clsde_score_fn *fn, const clsde_ode_opts *o,
                                  double eps, clsde_probe probe, const clsde_progress *pr,
                                  int64_t first_image, int32_t n, const double *x0,
                                  double *z_out, double *delta_out, clsde_sample_stats *stats);

/* ---- a network as the score function (sampler_api.c) ---- */

typedef struct clsde_net_score clsde_net_score;

/* The score function of `net` (not owned; must outlive it): PC evaluations use the model's
 * own wrapper, ODE ones the continuous wrapper (algorithms.md §2); labels are formed on the
 * host, the sampler's buffers are bound into the graph. */
clsde_status clsde_net_score_create(clsde_context *ctx, clsde_net *net, clsde_net_score **out);
void clsde_net_score_destroy(clsde_net_score *ns);
const clsde_score_fn *clsde_net_score_fn(const clsde_net_score *ns);

/* ---- what the run entry points share (clsde_sample_run, clsde_likelihood_run) ---- */

/* ctx is given, count >= 1 and the image indices first .. first + count - 1 stay below 2^32
 * (the noise is keyed by a 32-bit index); fn names the entry point in messages. */
clsde_status clsde_run_check(clsde_context *ctx, const char *fn, int64_t first_image,
                             int32_t count);

/* A run's network: the device-memory check for batch B (weights, activations from a batch-1
 * build scaled by B, the sampler's state; ode: the RK45 state; jvp: the JVP network and the
 * likelihood's probe: CLSDE_ERR_DEVICE_LIMIT naming the limit and "use a smaller batch"),
 * the model's SDE with `steps` time steps, the network at batch B (its JVP build if jvp)
 * and its score function. Destroy also after a failed create. */
typedef struct clsde_run_net {
    clsde_sde sde;
    clsde_net *net;
    clsde_net_score *ns;
} clsde_run_net;
clsde_status clsde_run_net_create(clsde_context *ctx, clsde_model *model, int ode, int jvp,
                                  int32_t B, int32_t steps, clsde_run_net *rn);
void clsde_run_net_destroy(clsde_run_net *rn);

/* ---- the analytic score (tests, benches): cl/analytic_score.cl behind clsde_score_fn ---- */

typedef struct clsde_gmm_score clsde_gmm_score;

/* A score function for mixture g (copied) under sde (not copied: must outlive it), for
 * batches of `batch` images. Implements eval and, on fp64 devices, eval_f64. */
clsde_status clsde_gmm_score_create(clsde_context *ctx, const clsde_sde *sde,
                                    const clsde_gmm *g, int32_t batch, clsde_gmm_score **out);
void clsde_gmm_score_destroy(clsde_gmm_score *gs);
const clsde_score_fn *clsde_gmm_score_fn(const clsde_gmm_score *gs);
/* Evaluations made so far (images x calls are batch * calls). */
int64_t clsde_gmm_score_calls(const clsde_gmm_score *gs);

#endif /* CLSDE_SAMPLER_H */
