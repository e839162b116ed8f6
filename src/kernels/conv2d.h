/*
 * conv2d.h — host wrappers for cl/conv2d.cl (and dense, the batched Linear).
 * All tensors NCHW float32; buffers may be sub-buffers. Unused optional buffers are NULL.
 * y must not alias x, w or res... except that y may equal res (in-place residual).
 */
#ifndef CLSDE_KERNELS_CONV2D_H
#define CLSDE_KERNELS_CONV2D_H

#include "../runtime.h"
#include "../ref/conv2d_ref.h"

/* x: [n, c_in, h, w]; w: [c_out, c_in, k, k] (PyTorch layout, as stored; no packing is
 * needed); bias: [c_out] iff has_bias; chan_bias: [n, c_out] iff has_chan_bias;
 * res: [n, c_out, oh, ow] iff has_residual; y: [n, c_out, oh, ow].
 * Checks the shape, the flags against the buffers and each buffer's size
 * (CLSDE_ERR_ARG with a message); only enqueues. Uses the default tiling below. */
clsde_status clsde_conv2d_enqueue(clsde_context *ctx, const clsde_conv2d_params *p, cl_mem x,
                                  cl_mem w, cl_mem bias, cl_mem chan_bias, cl_mem res,
                                  cl_mem y);

/* Tiling of the implicit GEMM (the -D parameters of cl/conv2d.cl): a work-item computes
 * tm channels x tn pixels (tn/vn vectors of vn neighbouring pixels), a work-group
 * wg_m x wg_n work-items, K is staged in blocks of tk.
 * For tuning and benchmarks; the network uses clsde_conv2d_enqueue. */
typedef struct clsde_conv2d_tune {
    int32_t tm;   /* channels per work-item */
    int32_t tn;   /* pixels per work-item, a multiple of vn */
    int32_t vn;   /* vector width along pixels: 1, 2, 4, 8 or 16 */
    int32_t sm;   /* register tiles per work-item along channels */
    int32_t sn;   /* register tiles per work-item along pixels */
    int32_t tk;   /* K block per local-memory stage */
    int32_t wg_m; /* work-items per group along channels */
    int32_t wg_n; /* work-items per group along pixels */
} clsde_conv2d_tune;

/* The tiling clsde_conv2d_enqueue uses for this shape on this context's device. */
void clsde_conv2d_tune_default(const clsde_context *ctx, const clsde_conv2d_params *p,
                               clsde_conv2d_tune *t);

/* clsde_conv2d_enqueue with an explicit tiling (each value 1..64, vn 1/2/4/8/16 dividing tn;
 * CLSDE_ERR_ARG otherwise; CLSDE_ERR_DEVICE_LIMIT beyond the device's work-group size or
 * local memory). A new tiling builds a program. */
clsde_status clsde_conv2d_enqueue_tuned(clsde_context *ctx, const clsde_conv2d_params *p,
                                        const clsde_conv2d_tune *t, cl_mem x, cl_mem w,
                                        cl_mem bias, cl_mem chan_bias, cl_mem res, cl_mem y);

/* y[n, out] = bias[out] + W[out, :] . x[n, :]; W is [out, in] (nn.Linear layout).
 * x: [n, in]; bias: [out] or NULL (no bias); y: [n, out], must not alias x. */
clsde_status clsde_dense_enqueue(clsde_context *ctx, int32_t n, int32_t in, int32_t out,
                                 cl_mem x, cl_mem w, cl_mem bias, cl_mem y);

#endif
