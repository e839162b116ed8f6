/*
 * reduce_ref.c — the definition of correct for cl/reduce.cl: per-image sums of squares
 * (algorithms.md §3.2: per-sample Euclidean norm over C*H*W), dot products (§6.2) and the
 * per-image piece of scipy's RMS error norm (§5.2), accumulated in double and rounded once.
 */
#include <math.h>

#include "reduce_ref.h"

void clsde_sumsq_per_image_ref(size_t n, size_t per_image, int take_sqrt, const float *x,
                               float *out)
{
    for (size_t b = 0; b < n; b++) {
        double s = 0;
        for (size_t i = 0; i < per_image; i++) {
            const double v = x[b * per_image + i];
            s += v * v;
        }
        out[b] = (float)(take_sqrt ? sqrt(s) : s);
    }
}

void clsde_dot_per_image_ref(size_t n, size_t per_image, const float *a, const float *t,
                             float *out)
{
    for (size_t b = 0; b < n; b++) {
        double s = 0;
        for (size_t i = b * per_image; i < (b + 1) * per_image; i++) s += (double)a[i] * t[i];
        out[b] = (float)s;
    }
}

void clsde_err_sumsq_per_image_ref(size_t n, size_t per_image, float atol, float rtol,
                                   const float *err, const float *y, const float *ynew,
                                   float *out)
{
    for (size_t b = 0; b < n; b++) {
        double s = 0;
        for (size_t i = b * per_image; i < (b + 1) * per_image; i++) {
            const double sc = (double)atol + (double)rtol * fmax(fabs(y[i]), fabs(ynew[i]));
            const double q = err[i] / sc;
            s += q * q;
        }
        out[b] = (float)s;
    }
}

void clsde_err_sumsq_per_image_f64_ref(size_t n, size_t per_image, double atol, double rtol,
                                       const double *err, const double *y, const double *ynew,
                                       double *out)
{
    for (size_t b = 0; b < n; b++) {
        double s = 0;
        for (size_t i = b * per_image; i < (b + 1) * per_image; i++) {
            const double q = err[i] / (atol + rtol * fmax(fabs(y[i]), fabs(ynew[i])));
            s += q * q;
        }
        out[b] = s;
    }
}
