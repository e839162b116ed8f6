/*
 * conv_down_fir_ref.h — parameters and plain-C reference of the fused FIR conv-downsample
 * (networks.md §1.3 "Fused FIR conv-downsample", §1.4): upfirdn2d with pad (2, 2), then a
 * 3x3 stride-2 valid convolution with bias, then optionally (res + y) / res_div.
 */
#ifndef CLSDE_CONV_DOWN_FIR_REF_H
#define CLSDE_CONV_DOWN_FIR_REF_H

#include <stdint.h>

typedef struct clsde_conv_down_fir_params {
    int32_t n, c_in, h, w;  /* input x [n, c_in, h, w], h, w >= 2 */
    int32_t c_out;          /* weight [c_out, c_in, 3, 3] */
    int32_t has_bias;       /* bias [c_out] */
    int32_t has_residual;   /* res [n, c_out, oh, ow]: y = (res + y) / res_div */
    float res_div;          /* 1 for a plain sum, sqrt(2) for skip_rescale */
} clsde_conv_down_fir_params;

/* Output side: the filtered side h + 1, then (h + 1 - 3)/2 + 1 = (h - 2)/2 + 1; 0 for
 * h < 2 (no valid output). */
int32_t clsde_conv_down_fir_out_h(const clsde_conv_down_fir_params *p);
int32_t clsde_conv_down_fir_out_w(const clsde_conv_down_fir_params *p);

/* y [n, c_out, oh, ow] from x, w [c_out, c_in, 3, 3] (PyTorch layout), bias (NULL when
 * !has_bias) and res (NULL when !has_residual): clsde_upfirdn2d_ref into the caller's
 * scratch z [n, c_in, h + 1, w + 1], then clsde_conv2d_ref: the two-pass definition, each
 * sum in double. */
void clsde_conv_down_fir_ref(const clsde_conv_down_fir_params *p, const float *x,
                             const float *w, const float *bias, const float *res, float *z,
                             float *y);

#endif
