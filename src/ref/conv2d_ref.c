/*
 * conv2d_ref.c — the definition of correct for cl/conv2d.cl: 2-D convolution with PyTorch
 * cross-correlation semantics (networks.md §0, §1.1), the fused epilogue of the residual
 * blocks (§1.5: + bias, + projected time embedding, (skip + h) / res_div), and Linear.
 * Sums accumulate in double; each epilogue step rounds to float as PyTorch does.
 */
#include <stddef.h>

#include "conv2d_ref.h"

int32_t clsde_conv2d_out_h(const clsde_conv2d_params *p)
{
    return (p->h + p->pad_t + p->pad_b - p->k) / p->stride + 1;
}

int32_t clsde_conv2d_out_w(const clsde_conv2d_params *p)
{
    return (p->w + p->pad_l + p->pad_r - p->k) / p->stride + 1;
}

/* One output value before the epilogue: sum over c, a, b of w[o, c, a, b] * x_pad[c, ...]. */
static double conv_at(const clsde_conv2d_params *p, const float *xn, const float *wo, int oy,
                      int ox)
{
    double acc = 0.0;
    for (int c = 0; c < p->c_in; c++) {
        const float *xc = xn + (size_t)c * p->h * p->w;
        const float *wc = wo + (size_t)c * p->k * p->k;
        for (int a = 0; a < p->k; a++) {
            const int iy = oy * p->stride - p->pad_t + a;
            if (iy < 0 || iy >= p->h) continue;
            for (int b = 0; b < p->k; b++) {
                const int ix = ox * p->stride - p->pad_l + b;
                if (ix < 0 || ix >= p->w) continue;
                acc += (double)wc[a * p->k + b] * (double)xc[(size_t)iy * p->w + ix];
            }
        }
    }
    return acc;
}

void clsde_conv2d_ref(const clsde_conv2d_params *p, const float *x, const float *w,
                      const float *bias, const float *chan_bias, const float *res, float *y)
{
    const int oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p);
    const size_t plane = (size_t)oh * ow;
    for (int n = 0; n < p->n; n++) {
        const float *xn = x + (size_t)n * p->c_in * p->h * p->w;
        for (int o = 0; o < p->c_out; o++) {
            const float *wo = w + (size_t)o * p->c_in * p->k * p->k;
            const size_t base = ((size_t)n * p->c_out + o) * plane;
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    const size_t i = base + (size_t)oy * ow + ox;
                    float v = (float)conv_at(p, xn, wo, oy, ox);
                    if (p->has_bias) v += bias[o];
                    if (p->has_chan_bias) v += chan_bias[(size_t)n * p->c_out + o];
                    if (p->has_residual) {
                        v = res[i] + v;
                        if (p->res_div != 1.0f) v /= p->res_div;
                    }
                    y[i] = v;
                }
            }
        }
    }
}

void clsde_dense_ref(int32_t n, int32_t in, int32_t out, const float *x, const float *wt,
                     const float *bias, float *y)
{
    for (int b = 0; b < n; b++) {
        for (int o = 0; o < out; o++) {
            double acc = 0.0;
            for (int i = 0; i < in; i++)
                acc += (double)wt[(size_t)o * in + i] * (double)x[(size_t)b * in + i];
            y[(size_t)b * out + o] = (float)acc + (bias ? bias[o] : 0.0f);
        }
    }
}
