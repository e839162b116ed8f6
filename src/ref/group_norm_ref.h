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

#endif
