/* elementwise_ref.h — plain-C references for cl/elementwise.cl (networks.md §7.1). */
#ifndef CLSDE_ELEMENTWISE_REF_H
#define CLSDE_ELEMENTWISE_REF_H

#include <stddef.h>

/* y[i] = x[i] * sigmoid(x[i]), i < n. */
void clsde_silu_ref(size_t n, const float *x, float *y);
/* ty[i] = silu'(x[i]) * tx[i], silu'(x) = s (1 + x (1 - s)), s = logistic(x)
 * (algorithms.md §6.2, forward mode). ty may equal tx. */
void clsde_silu_jvp_ref(size_t n, const float *x, const float *tx, float *ty);
/* y[i] = a * x[i] + b * y2[i]. */
void clsde_axpby_ref(size_t n, float a, const float *x, float b, const float *y2, float *y);
/* x, y: [planes, hw]; bias: [planes]; y = a * x + bias[plane]. */
void clsde_scale_add_bc_ref(size_t planes, size_t hw, float a, const float *x, const float *bias,
                            float *y);

/* x, y: [n, per_image]; y = x * s[b] or x / s[b]. */
void clsde_scale_per_image_ref(size_t n, size_t per_image, int divide, const float *s,
                               const float *x, float *y);
/* y = a * x + b. */
void clsde_affine_ref(size_t n, float a, float b, const float *x, float *y);

#endif
