/* sde_step_ref.h — references for cl/sde_step.cl (algorithms.md §3.1, §3.2, §5.1, §7). */
#ifndef CLSDE_SDE_STEP_REF_H
#define CLSDE_SDE_STEP_REF_H

#include <stdint.h>

/* x_mean = A*x + B*s, x_new = x_mean + S*z; image b uses
 * (A, B, S) = coef[coef_offset + b*coef_stride + 0..2] (coef_stride 0: one triple for the
 * whole batch). */
typedef struct clsde_pc_update_params {
    int32_t n, per_image;    /* x, s, z, x_new, x_mean: [n, per_image] */
    int32_t coef_offset;     /* in floats */
    int32_t coef_stride;     /* 0 or 3 */
} clsde_pc_update_params;

/* z NULL: no noise (x_new = x_mean); x_mean NULL: not written. */
void clsde_pc_update_ref(const clsde_pc_update_params *p, const float *coef, const float *x,
                         const float *s, const float *z, float *x_new, float *x_mean);

/* coef [n, 3] = (1, step_b, sqrt(2 step_b)), step_b = ((snr*gz/gs)^2 * 2) * a with
 * (gs, gz) = (norm_s[b], norm_z[b]), or their batch means when batch_mean (§3.2). */
void clsde_langevin_coef_ref(int32_t n, float snr, float a, int batch_mean, const float *norm_s,
                             const float *norm_z, float *coef);

/* Inpainting mix (§7.1). x, y, z, x_mean: [n, per_image]; mask: [per_image]
 * (mask_stride 0) or [n, per_image] (mask_stride per_image). x is updated in place. */
typedef struct clsde_mix_params {
    int32_t n, per_image;
    int32_t mask_stride;
    float m, sigma;          /* mean coefficient m(t) and std sigma(t) of the forward kernel */
} clsde_mix_params;

/* z NULL: no noise; x_mean NULL: not written. */
void clsde_inpaint_mix_ref(const clsde_mix_params *p, const float *y, const float *mask,
                           const float *z, float *x, float *x_mean);

/* x, y: [n, 3, hw]; out_j = (in_0 mat[0][j] + in_1 mat[1][j]) + in_2 mat[2][j]. */
void clsde_color_transform_ref(int32_t n, int32_t hw, const float mat[9], const float *x,
                               float *y);

/* Colorization mix (§7.2). x, x_mean, y_dec, z: [n, 3, hw]; only channel 0 of y_dec
 * (the decoupled grey image) and of z is read. z NULL: no noise; x_mean NULL: not written. */
void clsde_colorize_mix_ref(int32_t n, int32_t hw, float m, float sigma, const float M[9],
                            const float Minv[9], const float *y_dec, const float *z, float *x,
                            float *x_mean);

#endif
