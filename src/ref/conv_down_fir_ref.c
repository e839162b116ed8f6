/*
 * conv_down_fir_ref.c — the definition of correct for cl/conv_down_fir.cl: literally the two
 * passes of networks.md §1.3 (conv_downsample_2d), composed from the upfirdn2d and conv2d
 * references (double sums; F is rounded to float between them, as the official code's
 * float32 tensor is).
 */
#include <stddef.h>

#include "conv2d_ref.h"
#include "conv_down_fir_ref.h"
#include "resample_ref.h"

int32_t clsde_conv_down_fir_out_h(const clsde_conv_down_fir_params *p)
{
    return p->h < 2 ? 0 : (p->h - 2) / 2 + 1;
}

int32_t clsde_conv_down_fir_out_w(const clsde_conv_down_fir_params *p)
{
    return p->w < 2 ? 0 : (p->w - 2) / 2 + 1;
}

void clsde_conv_down_fir_ref(const clsde_conv_down_fir_params *p, const float *x,
                             const float *w, const float *bias, const float *res, float *z,
                             float *y)
{
    const clsde_upfirdn2d_params f = {p->n, p->c_in, p->h, p->w, 1, 1, 2, 2, 1.0f};
    const clsde_conv2d_params c = {p->n, p->c_in, p->h + 1, p->w + 1, p->c_out, 3, 2, 0, 0,
                                   0, 0, p->has_bias, 0, p->has_residual, p->res_div};
    clsde_upfirdn2d_ref(&f, x, z);
    clsde_conv2d_ref(&c, z, w, bias, NULL, res, y);
}
