/*
 * sde.h — the three SDEs of algorithms.md §1 (VE, VP, subVP) and every scalar the
 * samplers need from them: continuous m(t), sigma(t), g(t), beta(t); the discrete float32
 * schedules (§1.2); the time grid and the time->index map (§1.3); and each predictor's,
 * corrector's and the PF drift's coefficients (A, B, S) for the generic update
 *   x_mean = A x + B s,   x_new = x_mean + S z        (cl/sde_step.cl pc_update).
 * Plain C, no OpenCL: samplers call this, then enqueue the kernels.
 */
#ifndef CLSDE_SDE_H
#define CLSDE_SDE_H

#include <stdint.h>

#include "clsde.h"
#include "model.h"

/* clsde_sde_type (VE, VP, subVP) is public: include/clsde.h. */

typedef struct clsde_sde_config {
    clsde_sde_type type;
    int32_t continuous;         /* training.continuous: selects the score wrapper (§2) */
    int32_t n;                  /* N = model.num_scales, >= 2 */
    double sigma_min, sigma_max; /* VE (config values, Python floats) */
    double beta_min, beta_max;  /* VP, subVP */
    double eps;                 /* sampling end time eps_s (rounded to float for the grid) */
} clsde_sde_config;

typedef struct clsde_sde {
    clsde_sde_config cfg;
    /* Discrete schedules, float32 as the reference builds them (§1.2); [cfg.n] each.
     * VE: sigmas. VP and subVP: the VP beta schedule (the reference has none for subVP;
     * clsde uses the VP one for the subVP Langevin alpha, §3.5). Unused ones are NULL. */
    float *sigmas;                 /* ascending sigma_k */
    float *betas;                  /* beta_k = linspace(beta_min/N, beta_max/N, N) */
    float *alphas;                 /* 1 - beta_k */
    float *alphas_cumprod;         /* prod_{j<=k} alpha_j (double accumulation, as torch on CPU) */
    float *sqrt_alphas_cumprod;
    float *sqrt_1m_alphas_cumprod;
} clsde_sde;

/* CIFAR-10 defaults of §8.3 for the type: N = 1000, sigma 0.01..50, beta 0.1..20,
 * eps 1e-5 (VE) or 1e-3 (VP, subVP), continuous = 1. */
void clsde_sde_config_default(clsde_sde_config *cfg, clsde_sde_type type);

/* Check cfg and build the schedules. CLSDE_ERR_ARG for an invalid configuration,
 * CLSDE_ERR_NOMEM; the message is recorded on the thread (clsde_last_error(NULL)). */
clsde_status clsde_sde_init(clsde_sde *sde, const clsde_sde_config *cfg);
/* Free the schedules; accepts NULL and a zeroed struct. */
void clsde_sde_destroy(clsde_sde *sde);

/* ---- continuous quantities (§1.1), evaluated in double ---- */
double clsde_sde_beta(const clsde_sde *sde, double t);       /* beta(t) (VP, subVP) */
double clsde_sde_bint(const clsde_sde *sde, double t);       /* integral_0^t beta */
double clsde_sde_mean_coeff(const clsde_sde *sde, double t); /* m(t) */
double clsde_sde_std(const clsde_sde *sde, double t);        /* sigma(t), the marginal std */
double clsde_sde_g(const clsde_sde *sde, double t);          /* diffusion g(t) */
/* g(t)^2 formed directly (VE sigma(t)^2 2 ln(sigma_max/sigma_min), VP beta(t), subVP
 * beta(t)(1 - e^{-2 Bint})): defined wherever the formula is, also where beta(t) < 0 (the
 * RK45 initial-step probe may step past t = 0, algorithms.md §9.4) */
double clsde_sde_g2(const clsde_sde *sde, double t);
double clsde_sde_drift_coeff(const clsde_sde *sde, double t); /* f(x,t) = drift_coeff * x */
double clsde_sde_prior_std(const clsde_sde *sde);            /* sigma_max (VE) or 1 */

/* ---- grid and index maps (§1.3), float32 as the reference ---- */
/* t[i] = linspace(1, eps, N)[i] computed as torch.linspace does (start + step*i for the
 * first half, end - step*(N-1-i) for the second), t: [N]. */
void clsde_sde_time_grid(const clsde_sde *sde, float *t);
/* k(t) = floor(t*(N-1)) in float32 (truncation), clamped to [0, N-1]. */
int32_t clsde_sde_time_index(const clsde_sde *sde, float t);
/* VE discrete network label j(t) = round-half-even((1 - t)*(N-1)) in float32. */
int32_t clsde_sde_ve_label(const clsde_sde *sde, float t);

/* ---- update coefficients ---- */
typedef struct clsde_coef {
    float a, b, s; /* x_mean = a x + b score, x_new = x_mean + s z */
} clsde_coef;

/* clsde_predictor: the loader's enum (model.h), one definition for both; its ancestral value
 * under the name used here (integration of the loader and sde branches) */
#define CLSDE_PREDICTOR_ANCESTRAL CLSDE_PREDICTOR_ANCESTRAL_SAMPLING

/* Coefficients of one predictor step at time t (§3.1). probability_flow: lambda = 1/2, no
 * noise. CLSDE_ERR_UNSUPPORTED for combinations the reference rejects (ancestral with
 * subVP or with probability flow). Euler–Maruyama with probability flow crashes in the
 * reference; clsde defines it as the deterministic Euler step (S = 0). */
clsde_status clsde_sde_predictor_coef(const clsde_sde *sde, clsde_predictor predictor,
                                      int probability_flow, float t, clsde_coef *out);

/* Langevin alpha (§3.2): 1 for VE, alphas[k(t)] for VP and (extension, §3.5) subVP. */
float clsde_sde_langevin_alpha(const clsde_sde *sde, float t);

/* ALD corrector: step = (snr sigma(t))^2 * 2 * alpha, (A, B, S) = (1, step, sqrt(2 step)). */
void clsde_sde_ald_coef(const clsde_sde *sde, float t, float snr, clsde_coef *out);

/* PF-ODE drift F = f - 1/2 g^2 s (§5.1) as (A, B, S) = (drift_coeff, -g^2/2, 0). */
void clsde_sde_pf_drift_coef(const clsde_sde *sde, float t, clsde_coef *out);

/* Colour decoupling matrix M of §7.2 (row-major, the reference's float32 values) and its
 * inverse (computed in double from those floats, rounded). */
void clsde_color_matrices(float M[9], float Minv[9]);

#endif
