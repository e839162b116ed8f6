/*
 * rk45_ref.h — references for cl/rk45.cl: the Dormand–Prince 5(4) tableau as scipy stores
 * it (algorithms.md §5.2) and the per-image state combinations of the ODE sampler.
 */
#ifndef CLSDE_RK45_REF_H
#define CLSDE_RK45_REF_H

#include <stdint.h>

/* Rows of the combination table (cl/rk45.cl RK_TAB). */
enum {
    CLSDE_RK_STAGE2 = 0, /* rows 0..4: stage s = row + 2 input, y + h sum_j a_sj K_j */
    CLSDE_RK_YNEW = 5,   /* y + h sum_j b_j K_j (j < 6); also the input of stage 7 */
    CLSDE_RK_ERR = 6,    /* h sum_j e_j K_j (7 terms) */
    CLSDE_RK_PROBE = 7,  /* y + h K_1 (initial-step probe) */
    CLSDE_RK_DIFF = 8,   /* K_2 - K_1 (initial-step difference) */
    CLSDE_RK_ROWS = 9
};
/* Flags of rk_combine. */
#define CLSDE_RK_ADD_Y 1 /* out = y + dy (else dy) */
#define CLSDE_RK_NO_H 2  /* dy = sum (else sum * h_b) */
#define CLSDE_RK_OUT_F 4 /* also write a float copy */
#define CLSDE_RK_COMP 8  /* float state: y has a low part; write the compensated low part */

/* The tableau in double: nodes c[7], combination rows [CLSDE_RK_ROWS][7], terms per row. */
extern const double clsde_rk_c[7];
extern const double clsde_rk_tab[CLSDE_RK_ROWS][7];
extern const int clsde_rk_terms[CLSDE_RK_ROWS];

typedef struct clsde_rk_params {
    int32_t n, per_image; /* images and elements per image; K is [7, n, per_image] */
    int32_t fp64;         /* 1: state, K, h in double (RK_FP64); 0: float with low parts */
    int32_t b0, nb;       /* enqueue wrappers only: touch images b0 .. b0 + nb - 1 alone
                             (nb = 0: all n); the references always do all n */
} clsde_rk_params;

/* Double state: out [n, per_image] = [y +] h_b sum_j tab[row][j] K_j; out_f (may be NULL)
 * gets (float)out. y may be NULL without CLSDE_RK_ADD_Y. */
void clsde_rk_combine_ref(const clsde_rk_params *p, int row, int flags, const double *h,
                          const double *y, const double *K, double *out, float *out_f);
/* Float state with low parts (the tableau rounded to float as the kernel does). */
void clsde_rk_combine_f32_ref(const clsde_rk_params *p, int row, int flags, const float *h,
                              const float *y, const float *ylo, const float *K, float *out,
                              float *out_lo, float *out_f);

/* K_stage [n, per_image] = A_b x + B_b s, ab [n, 2]; double or float accumulation. */
void clsde_rk_drift_ref(const clsde_rk_params *p, const double *ab, const double *x,
                        const double *s, double *k_stage);
void clsde_rk_drift_f32_ref(const clsde_rk_params *p, const float *ab, const float *x,
                            const float *s, float *k_stage);

#endif
