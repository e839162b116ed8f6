/*
 * group_norm_ref.c — the definition of correct for cl/group_norm.cl (networks.md §0
 * GroupNorm): biased variance, eps inside the square root, gamma/beta per channel.
 * Everything in double (two-pass mean and variance), rounded to float once at the end.
 * Also its forward-mode derivative (algorithms.md §6.2), in the same way.
 */
#include <math.h>
#include <stddef.h>

#include "group_norm_ref.h"

void clsde_group_norm_ref(const clsde_group_norm_params *p, const float *x, const float *gamma,
                          const float *beta, float *y)
{
    const size_t cg = (size_t)(p->c / p->groups), hw = (size_t)p->hw, span = cg * hw;
    for (size_t n = 0; n < (size_t)p->n; n++) {
        for (size_t g = 0; g < (size_t)p->groups; g++) {
            const size_t base = (n * (size_t)p->c + g * cg) * hw;
            const float *xg = x + base; /* [cg, hw] */
            float *yg = y + base;
            double mean = 0.0, var = 0.0, rstd;
            for (size_t i = 0; i < span; i++) mean += xg[i];
            mean /= (double)span;
            for (size_t i = 0; i < span; i++) var += (xg[i] - mean) * (xg[i] - mean);
            var /= (double)span;
            rstd = 1.0 / sqrt(var + (double)p->eps);
            for (size_t ci = 0; ci < cg; ci++) {
                const size_t ch = g * cg + ci;
                for (size_t j = 0; j < hw; j++) {
                    double v = (xg[ci * hw + j] - mean) * rstd * gamma[ch] + beta[ch];
                    if (p->silu) v = v / (1.0 + exp(-v));
                    yg[ci * hw + j] = (float)v;
                }
            }
        }
    }
}

void clsde_group_norm_jvp_ref(const clsde_group_norm_params *p, const float *x, const float *tx,
                              const float *gamma, const float *beta, float *ty)
{
    const size_t cg = (size_t)(p->c / p->groups), hw = (size_t)p->hw, span = cg * hw;
    for (size_t n = 0; n < (size_t)p->n; n++) {
        for (size_t g = 0; g < (size_t)p->groups; g++) {
            const size_t base = (n * (size_t)p->c + g * cg) * hw;
            const float *xg = x + base, *tg = tx + base; /* [cg, hw] */
            float *yg = ty + base;
            double mean = 0.0, tmean = 0.0, var = 0.0, xdx = 0.0, sigma;
            for (size_t i = 0; i < span; i++) mean += xg[i], tmean += tg[i];
            mean /= (double)span;
            tmean /= (double)span;
            for (size_t i = 0; i < span; i++) var += (xg[i] - mean) * (xg[i] - mean);
            var /= (double)span;
            sigma = sqrt(var + (double)p->eps);
            for (size_t i = 0; i < span; i++) xdx += (xg[i] - mean) / sigma * (tg[i] - tmean);
            xdx /= (double)span; /* mean(xhat * dx) */
            for (size_t ci = 0; ci < cg; ci++) {
                const size_t ch = g * cg + ci;
                for (size_t j = 0; j < hw; j++) {
                    const size_t i = ci * hw + j;
                    const double xhat = (xg[i] - mean) / sigma;
                    const double dxhat = ((tg[i] - tmean) - xhat * xdx) / sigma;
                    double t = gamma[ch] * dxhat;
                    if (p->silu) {
                        const double z = gamma[ch] * xhat + beta[ch], s = 1.0 / (1.0 + exp(-z));
                        t *= s * (1.0 + z * (1.0 - s));
                    }
                    yg[i] = (float)t;
                }
            }
        }
    }
}
