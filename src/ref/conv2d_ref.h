/*
 * conv2d_ref.h — parameters and plain-C reference of 2-D convolution (networks.md §0,
 * PyTorch cross-correlation semantics) with the fused epilogue, and of dense (Linear).
 */
#ifndef CLSDE_CONV2D_REF_H
#define CLSDE_CONV2D_REF_H

#include <stdint.h>

typedef struct clsde_conv2d_params {
    int32_t n, c_in, h, w;               /* input x [n, c_in, h, w] */
    int32_t c_out, k;                    /* weight [c_out, c_in, k, k] */
    int32_t stride;                      /* 1 or 2 */
    int32_t pad_t, pad_l, pad_b, pad_r;  /* zero padding; asymmetric allowed (DDPM down:
                                            0,0,1,1) */
    int32_t has_bias;                    /* bias [c_out] */
    int32_t has_chan_bias;               /* chan_bias [n, c_out] added after the bias
                                            (projected time embedding, broadcast over H, W) */
    int32_t has_residual;                /* res [n, c_out, oh, ow]: y = (res + y) / res_div */
    float res_div;                       /* 1 for a plain sum, sqrt(2) for skip_rescale */
} clsde_conv2d_params;

/* Output side: (h + pad_t + pad_b - k) / stride + 1 (and likewise for w). */
int32_t clsde_conv2d_out_h(const clsde_conv2d_params *p);
int32_t clsde_conv2d_out_w(const clsde_conv2d_params *p);

/* y[n, c_out, oh, ow] = conv(x, w) + bias + chan_bias, then (res + y) / res_div.
 * Unused optional pointers may be NULL. Accumulates in double. */
void clsde_conv2d_ref(const clsde_conv2d_params *p, const float *x, const float *w,
                      const float *bias, const float *chan_bias, const float *res, float *y);

/* Linear: y[n, out] = bias[out] + sum_i wt[out, in] * x[n, in]  (weight [out, in]). */
void clsde_dense_ref(int32_t n, int32_t in, int32_t out, const float *x, const float *wt,
                     const float *bias, float *y);

#endif
