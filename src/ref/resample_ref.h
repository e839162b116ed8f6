/*
 * resample_ref.h — FIR up/down-sampling (upfirdn2d with the separable [1,3,3,1] kernel),
 * nearest x2 upsampling, 2x2 mean downsampling, channel concat (networks.md §1.3, §1.4).
 */
#ifndef CLSDE_RESAMPLE_REF_H
#define CLSDE_RESAMPLE_REF_H

#include <stdint.h>

typedef struct clsde_upfirdn2d_params {
    int32_t n, c, h, w;  /* x [n, c, h, w], every plane independent */
    int32_t up, down;    /* 1 or 2 */
    int32_t pad0, pad1;  /* zero padding before / after, same on both axes */
    float gain;          /* K = outer(k1, k1) * gain with k1 = [1,3,3,1]/8: 1 for
                            downsample_2d and the conv-down pre-filter, 4 for upsample_2d */
} clsde_upfirdn2d_params;

/* Output side: (h*up + pad0 + pad1 - 4) / down + 1; 0 when the padded input is shorter
 * than the kernel (no valid output). */
int32_t clsde_upfirdn2d_out_h(const clsde_upfirdn2d_params *p);
int32_t clsde_upfirdn2d_out_w(const clsde_upfirdn2d_params *p);

/* y [n, c, out_h, out_w]; double accumulation. */
void clsde_upfirdn2d_ref(const clsde_upfirdn2d_params *p, const float *x, float *y);
/* y [n, c, 2h, 2w] nearest. */
void clsde_upsample_nearest_ref(int32_t n, int32_t c, int32_t h, int32_t w, const float *x,
                                float *y);
/* y [n, c, h/2, w/2] 2x2 mean (h, w even): naive_downsample_2d, i.e. torch.mean over the
 * reshaped 2x2, which sums ((a + b) + (c + d)) / 4 (a, b the top pair) — except for w == 2,
 * where the four values are contiguous and torch sums them in order (as avg_pool2). */
void clsde_downsample_avg_ref(int32_t n, int32_t c, int32_t h, int32_t w, const float *x,
                              float *y);
/* y [n, c, h/2, w/2] (floored; h, w >= 2): F.avg_pool2d(x, 2, stride=2), which sums
 * (((a + b) + c) + d) / 4 (layerspp.Downsample and layers.Downsample without conv, the
 * non-FIR input pyramid). */
void clsde_avg_pool2_ref(int32_t n, int32_t c, int32_t h, int32_t w, const float *x, float *y);
/* y [n, c1 + c2, hw] = [a; b] along channels. */
void clsde_concat_ref(int32_t n, int32_t c1, int32_t c2, int32_t hw, const float *a,
                      const float *b, float *y);

#endif
