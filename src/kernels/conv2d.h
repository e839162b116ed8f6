/*
 * conv2d.h — host wrappers for cl/conv2d.cl (and dense, the batched Linear).
 * All tensors NCHW float32; buffers may be sub-buffers. Unused optional buffers are NULL.
 * y must not alias x, w or res... except that y may equal res (in-place residual).
 */
#ifndef CLSDE_KERNELS_CONV2D_H
#define CLSDE_KERNELS_CONV2D_H

#include "../runtime.h"
#include "../ref/conv2d_ref.h"

clsde_status clsde_conv2d_enqueue(clsde_context *ctx, const clsde_conv2d_params *p, cl_mem x,
                                  cl_mem w, cl_mem bias, cl_mem chan_bias, cl_mem res,
                                  cl_mem y);

/* y[n, out] = bias[out] + W[out, :] . x[n, :]; W is [out, in] (nn.Linear layout). */
clsde_status clsde_dense_enqueue(clsde_context *ctx, int32_t n, int32_t in, int32_t out,
                                 cl_mem x, cl_mem w, cl_mem bias, cl_mem y);

#endif
