/* sde_step.h — host wrappers for cl/sde_step.cl. Buffers may be sub-buffers; every
 * output may alias the input of the same shape (elementwise updates). */
#ifndef CLSDE_KERNELS_SDE_STEP_H
#define CLSDE_KERNELS_SDE_STEP_H

#include "../runtime.h"
#include "../ref/sde_step_ref.h"

/* x_mean = A x + B s, x_new = x_mean + S z with (A, B, S) from coef (device buffer of
 * floats, see clsde_pc_update_params). z NULL: no noise term (x_new = x_mean);
 * x_mean NULL: not written. */
clsde_status clsde_pc_update_enqueue(clsde_context *ctx, const clsde_pc_update_params *p,
                                     cl_mem coef, cl_mem x, cl_mem s, cl_mem z, cl_mem x_new,
                                     cl_mem x_mean);

/* The same with an explicit vector width vw (1, 2, 4, 8, 16) and work-group size wg: the
 * checker runs every shape on any device; tuning will use it. */
clsde_status clsde_pc_update_enqueue_tuned(clsde_context *ctx, const clsde_pc_update_params *p,
                                           int32_t vw, int32_t wg, cl_mem coef, cl_mem x,
                                           cl_mem s, cl_mem z, cl_mem x_new, cl_mem x_mean);

/* coef [n, 3] from the per-image norms norm_s, norm_z [n] (clsde_sumsq_per_image_enqueue
 * with take_sqrt): per-image step sizes, or the reference's batch means (batch_mean = 1). */
clsde_status clsde_langevin_coef_enqueue(clsde_context *ctx, int32_t n, float snr, float a,
                                         int batch_mean, cl_mem norm_s, cl_mem norm_z,
                                         cl_mem coef);

/* Inpainting mix, x updated in place; z NULL: no noise; x_mean NULL: not written. */
clsde_status clsde_inpaint_mix_enqueue(clsde_context *ctx, const clsde_mix_params *p, cl_mem y,
                                       cl_mem mask, cl_mem z, cl_mem x, cl_mem x_mean);

/* The same with an explicit vector width and work-group size (see pc_update). */
clsde_status clsde_inpaint_mix_enqueue_tuned(clsde_context *ctx, const clsde_mix_params *p,
                                             int32_t vw, int32_t wg, cl_mem y, cl_mem mask,
                                             cl_mem z, cl_mem x, cl_mem x_mean);

/* x, y: [n, 3, hw]; y = per-pixel mat^T x (mat row-major 3x3). y may equal x. */
clsde_status clsde_color_transform_enqueue(clsde_context *ctx, int32_t n, int32_t hw,
                                           const float mat[9], cl_mem x, cl_mem y);

/* Colorization mix, x [n, 3, hw] updated in place (see clsde_colorize_mix_ref). */
clsde_status clsde_colorize_mix_enqueue(clsde_context *ctx, int32_t n, int32_t hw, float m,
                                        float sigma, const float M[9], const float Minv[9],
                                        cl_mem y_dec, cl_mem z, cl_mem x, cl_mem x_mean);

#endif
