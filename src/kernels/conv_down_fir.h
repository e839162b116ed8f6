/*
 * conv_down_fir.h — host wrapper for cl/conv_down_fir.cl: the fused FIR conv-downsample
 * (FIR pre-filter pad (2, 2) + 3x3 stride-2 valid conv + bias [+ residual]) in one kernel,
 * the pre-filtered input never written to memory. See ref/conv_down_fir_ref.h.
 */
#ifndef CLSDE_KERNELS_CONV_DOWN_FIR_H
#define CLSDE_KERNELS_CONV_DOWN_FIR_H

#include "../runtime.h"
#include "../ref/conv_down_fir_ref.h"

/* x: [n, c_in, h, w]; w: [c_out, c_in, 3, 3] (PyTorch layout, as stored); bias: [c_out]
 * iff has_bias; res: [n, c_out, oh, ow] iff has_residual; y: [n, c_out, oh, ow]; y must not
 * alias x or w, and may equal res. Checks the shape and every buffer's size (CLSDE_ERR_ARG);
 * only enqueues. Tiling: clsde_conv_down_fir_tune_default. */
clsde_status clsde_conv_down_fir_enqueue(clsde_context *ctx,
                                         const clsde_conv_down_fir_params *p, cl_mem x,
                                         cl_mem w, cl_mem bias, cl_mem res, cl_mem y);

/* The -D parameters of cl/conv_down_fir.cl (conv2d's tiling, see kernels/conv2d.h, plus cc
 * input channels per K block, strips of cw output columns, F rows computed fv columns at a
 * time). For tests and benchmarks; the network uses the default. */
typedef struct clsde_conv_down_fir_tune {
    int32_t tm, tn, vn, sm, sn, cc, cw, fv, wg_m, wg_n;
} clsde_conv_down_fir_tune;

/* From the device's properties and the shape: conv2d's defaults (clsde_conv2d_tune_default)
 * on the pixels of one strip, but on a CPU with output-channel blocks of up to 256 that
 * are split only to give every compute unit a group (each block rebuilds the F patch);
 * 8 input channels per block, strips of 16 columns; the block shrinks until it fits the
 * local memory. */
void clsde_conv_down_fir_tune_default(const clsde_context *ctx,
                                      const clsde_conv_down_fir_params *p,
                                      clsde_conv_down_fir_tune *t);

/* With an explicit tiling: vn 1/2/4/8/16 dividing tn, fv 4/8/16, the others 1..64
 * (CLSDE_ERR_ARG otherwise; CLSDE_ERR_DEVICE_LIMIT beyond the work-group size or local
 * memory). A new tiling builds a program. */
clsde_status clsde_conv_down_fir_enqueue_tuned(clsde_context *ctx,
                                               const clsde_conv_down_fir_params *p,
                                               const clsde_conv_down_fir_tune *t, cl_mem x,
                                               cl_mem w, cl_mem bias, cl_mem res, cl_mem y);

#endif
