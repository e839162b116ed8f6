/* embed_ref.c — the definition of correct for cl/embed.cl (networks.md §1.2, "Precision
 * budget"): arguments formed with the reference's float32 operations in its order; ln, exp,
 * sin and cos evaluated in double and rounded to float (correctly rounded in practice).
 * FP contraction is off in ISO C mode (-std=c11) and there is no multiply-add here anyway. */
#include <math.h>
#include <stddef.h>

#include "embed_ref.h"

#define PI_F 0x1.921fb6p+1f /* (float)pi */

void clsde_fourier_embed_ref(int32_t n, int32_t nf, const float *sigma, const float *W,
                             float *out)
{
    for (int32_t b = 0; b < n; b++) {
        const float ls = (float)log((double)sigma[b]);
        for (int32_t k = 0; k < nf; k++) {
            const float p = ((ls * W[k]) * 2.0f) * PI_F;
            out[(size_t)b * 2 * nf + k] = (float)sin((double)p);
            out[(size_t)b * 2 * nf + nf + k] = (float)cos((double)p);
        }
    }
}

float clsde_sinusoidal_embed_neg_c(int32_t dim)
{
    return (float)(-(log(10000.0) / (double)(dim / 2 - 1)));
}

void clsde_sinusoidal_embed_ref(int32_t n, int32_t dim, const float *label, float *out)
{
    const int32_t half = dim / 2;
    const float neg_c = clsde_sinusoidal_embed_neg_c(dim);
    for (int32_t b = 0; b < n; b++) {
        float *ob = out + (size_t)b * dim;
        for (int32_t k = 0; k < half; k++) {
            const float f = (float)exp((double)((float)k * neg_c));
            const float a = label[b] * f;
            ob[k] = (float)sin((double)a);
            ob[half + k] = (float)cos((double)a);
        }
        if (dim & 1) ob[dim - 1] = 0.0f;
    }
}
