/* reduce.h — host wrappers for cl/reduce.cl (one work-group per image). Outputs are device
 * buffers [n]. */
#ifndef CLSDE_KERNELS_REDUCE_H
#define CLSDE_KERNELS_REDUCE_H

#include "../runtime.h"

/* Options shared by the wrappers (the checker forces the float path with fp32 = 1 and
 * tries other work-group shapes). NULL or zeros: the device's defaults. */
typedef struct clsde_reduce_opts {
    int fp32;   /* 1: accumulate in compensated float even when the device has fp64 */
    int32_t wg; /* work-group size, a power of two; 0: by device class (CPU 1, else 256) */
    int32_t vw; /* vector width 1, 2, 4, 8, 16; 0: by device class (CPU 16, else 1) */
} clsde_reduce_opts;

/* x: [n, per_image] floats; out: [n] floats, sum of squares or (take_sqrt) the L2 norm. */
clsde_status clsde_sumsq_per_image_enqueue(clsde_context *ctx, const clsde_reduce_opts *o,
                                           size_t n, size_t per_image, int take_sqrt, cl_mem x,
                                           cl_mem out);
/* a, b: [n, per_image] floats (a may equal b); out: [n] floats, out[i] = sum_j a[i,j] b[i,j]
 * (the per-image dot product of the forward-mode divergence estimate, algorithms.md §6.2).
 * Accumulation as sumsq: double on fp64 devices, else compensated float. */
clsde_status clsde_dot_per_image_enqueue(clsde_context *ctx, const clsde_reduce_opts *o,
                                         size_t n, size_t per_image, cl_mem a, cl_mem b,
                                         cl_mem out);
/* err, y, ynew: [n, per_image] floats; out [n] floats (see reduce_ref.h). */
clsde_status clsde_err_sumsq_per_image_enqueue(clsde_context *ctx, const clsde_reduce_opts *o,
                                               size_t n, size_t per_image, float atol,
                                               float rtol, cl_mem err, cl_mem y, cl_mem ynew,
                                               cl_mem out);
/* Double buffers and result; CLSDE_ERR_UNSUPPORTED on devices without cl_khr_fp64. */
clsde_status clsde_err_sumsq_per_image_f64_enqueue(clsde_context *ctx, size_t n,
                                                   size_t per_image, double atol, double rtol,
                                                   cl_mem err, cl_mem y, cl_mem ynew,
                                                   cl_mem out);

#endif
