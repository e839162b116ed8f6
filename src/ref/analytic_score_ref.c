/*
 * analytic_score_ref.c — Gaussian-mixture scores, algorithms.md §9.1: responsibilities by
 * log-sum-exp, score = sum_k r_k (m mu_k - x) / c_k, all in double.
 */
#include <math.h>
#include <stddef.h>

#include "analytic_score_ref.h"

void clsde_gmm_coef(const clsde_gmm *g, double m, double sigma, double *coef)
{
    const double two_pi = 6.283185307179586;
    coef[0] = m;
    for (int32_t k = 0; k < g->k; k++) {
        const double c = m * m * g->s[k] * g->s[k] + sigma * sigma;
        coef[1 + k] = c;
        coef[1 + g->k + k] = log(g->w[k]) - 0.5 * g->d * log(two_pi * c);
    }
}

/* One image, x given as float (xf) or double (xd). */
#define X(i) (xf ? (double)xf[i] : xd[i])

/* r[k] = r_k / c_k for one image; returns log p. */
static double resp(const clsde_gmm *g, const double *coef, const float *xf, const double *xd,
                   double *r)
{
    const double m = coef[0];
    double lmax = -INFINITY, sum = 0;
    for (int32_t k = 0; k < g->k; k++) {
        double a = 0;
        for (int32_t i = 0; i < g->d; i++) {
            const double u = m * g->mu[(int64_t)k * g->d + i] - X(i);
            a += u * u;
        }
        r[k] = coef[1 + g->k + k] - a / (2 * coef[1 + k]);
        lmax = fmax(lmax, r[k]);
    }
    for (int32_t k = 0; k < g->k; k++) {
        r[k] = exp(r[k] - lmax);
        sum += r[k];
    }
    for (int32_t k = 0; k < g->k; k++) r[k] = r[k] / sum / coef[1 + k];
    return lmax + log(sum);
}

/* score of one image into sf (float) or sd (double). */
static void score_one(const clsde_gmm *g, const double *coef, const float *xf, const double *xd,
                      float *sf, double *sd)
{
    double r[CLSDE_GMM_KMAX];
    resp(g, coef, xf, xd, r);
    for (int32_t i = 0; i < g->d; i++) {
        double s = 0;
        for (int32_t k = 0; k < g->k; k++)
            s += r[k] * (coef[0] * g->mu[(int64_t)k * g->d + i] - X(i));
        if (sf) sf[i] = (float)s;
        else sd[i] = s;
    }
}

void clsde_gmm_score_f64_ref(const clsde_gmm *g, int32_t n, const double *coef,
                             const double *x, double *score)
{
    for (int32_t b = 0; b < n; b++)
        score_one(g, coef + (int64_t)b * (1 + 2 * g->k), NULL, x + (int64_t)b * g->d, NULL,
                  score + (int64_t)b * g->d);
}

void clsde_gmm_score_ref(const clsde_gmm *g, int32_t n, const double *coef, const float *x,
                         float *score)
{
    for (int32_t b = 0; b < n; b++)
        score_one(g, coef + (int64_t)b * (1 + 2 * g->k), x + (int64_t)b * g->d, NULL,
                  score + (int64_t)b * g->d, NULL);
}

double clsde_gmm_logp_ref(const clsde_gmm *g, const double *coef, const double *x)
{
    double r[CLSDE_GMM_KMAX];
    return resp(g, coef, NULL, x, r);
}
