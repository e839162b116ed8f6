/* group_norm_ref.h — GroupNorm (+ optional SiLU) reference, networks.md §0. */
#ifndef CLSDE_GROUP_NORM_REF_H
#define CLSDE_GROUP_NORM_REF_H

#include <stdint.h>

typedef struct clsde_group_norm_params {
    int32_t n, c, hw;   /* x, y [n, c, hw] */
    int32_t groups;     /* c % groups == 0; groups of c/groups consecutive channels */
    float eps;          /* 1e-6 in every score network */
    int32_t silu;       /* 1: y = silu(norm(x)) */
} clsde_group_norm_params;

/* Biased variance over (c/groups) x hw per sample and group, double accumulation;
 * y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c], then optional SiLU. */
void clsde_group_norm_ref(const clsde_group_norm_params *p, const float *x, const float *gamma,
                          const float *beta, float *y);

/* Forward-mode derivative (algorithms.md §6.2 "Forward-mode alternative"): ty = d/de of
 * clsde_group_norm_ref(x + e tx) at e = 0. Per group, with mean mu, biased var,
 * sigma = sqrt(var + eps), xhat = (x - mu)/sigma, dx = tx - mean(tx):
 *   dxhat = (dx - xhat * mean(xhat * dx)) / sigma,  dz = gamma * dxhat,
 *   ty = dz, or silu'(z) * dz with z = gamma * xhat + beta and
 *   silu'(z) = s (1 + z (1 - s)), s = logistic(z), when p->silu.
 * x, tx, ty [n, c, hw]; gamma, beta [c]. ty must not alias x or tx. Double throughout. */
void clsde_group_norm_jvp_ref(const clsde_group_norm_params *p, const float *x, const float *tx,
                              const float *gamma, const float *beta, float *ty);

#endif
