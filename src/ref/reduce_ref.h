/* reduce_ref.h — per-image reductions (algorithms.md §3.2 norms, §5.2 RK45 error norm). */
#ifndef CLSDE_REDUCE_REF_H
#define CLSDE_REDUCE_REF_H

#include <stddef.h>

/* x: [n, per_image]; out[b] = sum_i x[b,i]^2, or sqrt of it when take_sqrt (L2 norm). */
void clsde_sumsq_per_image_ref(size_t n, size_t per_image, int take_sqrt, const float *x,
                               float *out);

/* a, t: [n, per_image]; out[b] = sum_i a[b,i] t[b,i] (algorithms.md §6.2, the per-image
 * dot product of the forward-mode divergence estimate). */
void clsde_dot_per_image_ref(size_t n, size_t per_image, const float *a, const float *t,
                             float *out);

/* err, y, ynew: [n, per_image]; out[b] = sum_i (err / (atol + rtol max(|y|, |ynew|)))^2. */
void clsde_err_sumsq_per_image_ref(size_t n, size_t per_image, float atol, float rtol,
                                   const float *err, const float *y, const float *ynew,
                                   float *out);
/* The same on double data, double result. */
void clsde_err_sumsq_per_image_f64_ref(size_t n, size_t per_image, double atol, double rtol,
                                       const double *err, const double *y, const double *ynew,
                                       double *out);

#endif
