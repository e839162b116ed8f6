/*
 * analytic_score_ref.h — exact scores of isotropic Gaussian mixtures under the three SDEs
 * (algorithms.md §9.1), the analytic stand-in for a network in the sampler tests, and the
 * reference for cl/analytic_score.cl.
 */
#ifndef CLSDE_ANALYTIC_SCORE_REF_H
#define CLSDE_ANALYTIC_SCORE_REF_H

#include <stdint.h>

#define CLSDE_GMM_KMAX 8 /* components; the kernel's default KMAX */

/* p_0(x) = sum_k w_k N(x; mu_k, s_k^2 I_D). */
typedef struct clsde_gmm {
    int32_t k;          /* K, 1 .. CLSDE_GMM_KMAX */
    int32_t d;          /* D, the dimension of one sample (C*H*W) */
    const double *w;    /* [K] weights, summing to 1 */
    const double *s;    /* [K] component standard deviations */
    const double *mu;   /* [K, D] means */
} clsde_gmm;

/* Per-image coefficients at a time with mean coefficient m and marginal std sigma:
 * coef[0] = m, coef[1 + k] = c_k = m^2 s_k^2 + sigma^2,
 * coef[1 + K + k] = lw_k = ln w_k - (D/2) ln(2 pi c_k).   coef: [1 + 2K]. */
void clsde_gmm_coef(const clsde_gmm *g, double m, double sigma, double *coef);

/* score [n, D] from x [n, D]; image b uses coef[b*(1 + 2K) ...]. Double throughout. */
void clsde_gmm_score_ref(const clsde_gmm *g, int32_t n, const double *coef, const float *x,
                         float *score);
void clsde_gmm_score_f64_ref(const clsde_gmm *g, int32_t n, const double *coef,
                             const double *x, double *score);

/* log p_t(x) of one image (log-sum-exp over the components). */
double clsde_gmm_logp_ref(const clsde_gmm *g, const double *coef, const double *x);

#endif
