/* elementwise.h — host wrappers for cl/elementwise.cl. Buffers may be sub-buffers. */
#ifndef CLSDE_KERNELS_ELEMENTWISE_H
#define CLSDE_KERNELS_ELEMENTWISE_H

#include "../runtime.h"

/* y = silu(x), n elements. y may equal x. */
clsde_status clsde_silu_enqueue(clsde_context *ctx, size_t n, cl_mem x, cl_mem y);
/* y = a*x + b*y2, n elements. y may equal x or y2. */
clsde_status clsde_axpby_enqueue(clsde_context *ctx, size_t n, float a, cl_mem x, float b,
                                 cl_mem y2, cl_mem y);
/* y[p, :] = a*x[p, :] + bias[p] for p < planes (planes = N*C), hw elements per plane. */
clsde_status clsde_scale_add_bc_enqueue(clsde_context *ctx, size_t planes, size_t hw, float a,
                                        cl_mem x, cl_mem bias, cl_mem y);

#endif
