/* resample.h — host wrappers for cl/resample.cl (see ref/resample_ref.h). No aliasing. */
#ifndef CLSDE_KERNELS_RESAMPLE_H
#define CLSDE_KERNELS_RESAMPLE_H

#include "../runtime.h"
#include "../ref/resample_ref.h"

clsde_status clsde_upfirdn2d_enqueue(clsde_context *ctx, const clsde_upfirdn2d_params *p,
                                     cl_mem x, cl_mem y);
/* The same with the kernel chosen: fvw 0 = one output per work-item (any up, down; the
 * choice on GPUs), fvw 4, 8 or 16 = row-wise vectors of that width (up 1 only; the
 * choice on CPUs). The checker runs both on any device. */
clsde_status clsde_upfirdn2d_enqueue_tuned(clsde_context *ctx, const clsde_upfirdn2d_params *p,
                                           int32_t fvw, cl_mem x, cl_mem y);
clsde_status clsde_upsample_nearest_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t h,
                                            int32_t w, cl_mem x, cl_mem y);
clsde_status clsde_downsample_avg_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t h,
                                          int32_t w, cl_mem x, cl_mem y);
clsde_status clsde_avg_pool2_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t h,
                                     int32_t w, cl_mem x, cl_mem y);
clsde_status clsde_concat_enqueue(clsde_context *ctx, int32_t n, int32_t c1, int32_t c2,
                                  int32_t hw, cl_mem a, cl_mem b, cl_mem y);

#endif
