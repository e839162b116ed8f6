/*
 * rk45_ref.c — the Dormand–Prince 5(4) tableau of scipy's RK45 (algorithms.md §5.2) and
 * plain-C versions of the rk45.cl combinations, summed in the kernel's order.
 */
#include "rk45_ref.h"

const double clsde_rk_c[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};

const double clsde_rk_tab[CLSDE_RK_ROWS][7] = {
    {1.0 / 5},
    {3.0 / 40, 9.0 / 40},
    {44.0 / 45, -56.0 / 15, 32.0 / 9},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
    {-71.0 / 57600, 0, 71.0 / 16695, -71.0 / 1920, 17253.0 / 339200, -22.0 / 525, 1.0 / 40},
    {1},
    {-1, 1}};

const int clsde_rk_terms[CLSDE_RK_ROWS] = {1, 2, 3, 4, 5, 6, 7, 1, 2};

/* The float tableau: each fraction divided in float, as the kernel's Q(a, b) does. */
static float tab_f(int row, int j)
{
    static const float num[CLSDE_RK_ROWS][7] = {
        {1}, {3, 9}, {44, -56, 32}, {19372, -25360, 64448, -212},
        {9017, -355, 46732, 49, -5103}, {35, 0, 500, 125, -2187, 11},
        {-71, 0, 71, -71, 17253, -22, 1}, {1}, {-1, 1}};
    static const float den[CLSDE_RK_ROWS][7] = {
        {5}, {40, 40}, {45, 15, 9}, {6561, 2187, 6561, 729},
        {3168, 33, 5247, 176, 18656}, {384, 1, 1113, 192, 6784, 84},
        {57600, 1, 16695, 1920, 339200, 525, 40}, {1}, {1, 1}};
    return num[row][j] / den[row][j];
}

void clsde_rk_combine_ref(const clsde_rk_params *p, int row, int flags, const double *h,
                          const double *y, const double *K, double *out, float *out_f)
{
    const int64_t stride = (int64_t)p->n * p->per_image;
    for (int32_t b = 0; b < p->n; b++)
        for (int32_t i = 0; i < p->per_image; i++) {
            const int64_t o = (int64_t)b * p->per_image + i;
            double acc = 0, v;
            for (int j = 0; j < clsde_rk_terms[row]; j++)
                acc += K[j * stride + o] * clsde_rk_tab[row][j];
            v = (flags & CLSDE_RK_NO_H) ? acc : acc * h[b];
            if (flags & CLSDE_RK_ADD_Y) v = y[o] + v;
            out[o] = v;
            if (out_f) out_f[o] = (float)v;
        }
}

void clsde_rk_combine_f32_ref(const clsde_rk_params *p, int row, int flags, const float *h,
                              const float *y, const float *ylo, const float *K, float *out,
                              float *out_lo, float *out_f)
{
    const int64_t stride = (int64_t)p->n * p->per_image;
    for (int32_t b = 0; b < p->n; b++)
        for (int32_t i = 0; i < p->per_image; i++) {
            const int64_t o = (int64_t)b * p->per_image + i;
            float acc = 0, v;
            for (int j = 0; j < clsde_rk_terms[row]; j++) acc += K[j * stride + o] * tab_f(row, j);
            v = (flags & CLSDE_RK_NO_H) ? acc : acc * h[b];
            if ((flags & CLSDE_RK_ADD_Y) && (flags & CLSDE_RK_COMP)) {
                const float w = v + ylo[o];
                const float s = y[o] + w, bp = s - y[o];
                out_lo[o] = (y[o] - (s - bp)) + (w - bp);
                v = s;
            } else if (flags & CLSDE_RK_ADD_Y) {
                v = y[o] + (v + ylo[o]);
            }
            out[o] = v;
            if (out_f) out_f[o] = v;
        }
}

void clsde_rk_drift_ref(const clsde_rk_params *p, const double *ab, const double *x,
                        const double *s, double *k_stage)
{
    for (int32_t b = 0; b < p->n; b++)
        for (int32_t i = 0; i < p->per_image; i++) {
            const int64_t o = (int64_t)b * p->per_image + i;
            k_stage[o] = ab[2 * b] * x[o] + ab[2 * b + 1] * s[o];
        }
}

void clsde_rk_drift_f32_ref(const clsde_rk_params *p, const float *ab, const float *x,
                            const float *s, float *k_stage)
{
    for (int32_t b = 0; b < p->n; b++)
        for (int32_t i = 0; i < p->per_image; i++) {
            const int64_t o = (int64_t)b * p->per_image + i;
            k_stage[o] = ab[2 * b] * x[o] + ab[2 * b + 1] * s[o];
        }
}
