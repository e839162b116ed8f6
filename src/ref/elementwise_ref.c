/* elementwise_ref.c — the definition of correct for cl/elementwise.cl. */
#include <math.h>

#include "elementwise_ref.h"

void clsde_silu_ref(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] = (float)((double)x[i] / (1.0 + exp(-(double)x[i])));
}

void clsde_silu_jvp_ref(size_t n, const float *x, const float *tx, float *ty)
{
    for (size_t i = 0; i < n; i++) {
        const double z = x[i], s = 1.0 / (1.0 + exp(-z));
        ty[i] = (float)(s * (1.0 + z * (1.0 - s)) * (double)tx[i]);
    }
}

void clsde_axpby_ref(size_t n, float a, const float *x, float b, const float *y2, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] = a * x[i] + b * y2[i];
}

void clsde_scale_add_bc_ref(size_t planes, size_t hw, float a, const float *x, const float *bias,
                            float *y)
{
    for (size_t p = 0; p < planes; p++)
        for (size_t i = 0; i < hw; i++) y[p * hw + i] = a * x[p * hw + i] + bias[p];
}

void clsde_scale_per_image_ref(size_t n, size_t per_image, int divide, const float *s,
                               const float *x, float *y)
{
    for (size_t b = 0; b < n; b++)
        for (size_t i = 0; i < per_image; i++)
            y[b * per_image + i] = divide ? x[b * per_image + i] / s[b] : x[b * per_image + i] * s[b];
}

void clsde_affine_ref(size_t n, float a, float b, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] = a * x[i] + b;
}
