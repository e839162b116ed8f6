/*
 * reduce.cl — per-image reductions over x[n, per_image] (one work-group per image):
 *   sumsq_per_image:      out[b] = sum_i x[b,i]^2, or its square root (the L2 norm used
 *                         by the Langevin step size, algorithms.md §3.2)
 *   err_sumsq_per_image:  out[b] = sum_i (err / (atol + rtol*max(|y|, |ynew|)))^2, the
 *                         per-image piece of the RK45 error norm (algorithms.md §5.2);
 *                         the host adds the images (and any extra entries), divides by
 *                         the entry count and takes the square root
 *   err_sumsq_per_image_f64: the same on double buffers (ODE state kept in float64),
 *                         only on cl_khr_fp64 devices
 * Accumulation: in double when the device has cl_khr_fp64 (and REDUCE_FP32 is 0);
 * otherwise in float with a compensated (Kahan) sum per work-item and a compensated
 * (TwoSum) tree across the work-group, so the result stays within a few ulp even for
 * 1e6 terms. Results are rounded to float once at the end.
 *
 * Tuning / variant parameters (-D):
 *   WG          work-group size, a power of two (default 256)
 *   REDUCE_FP32 0 (default) or 1: force the float path (lets the checker test it on
 *               fp64 devices)
 * Global id 0: lane within the image's work-group (work-item l reads elements
 * l, l + WG, l + 2 WG, ...), id 1: image b. Any per_image >= 1 works.
 */
#pragma OPENCL FP_CONTRACT OFF

#ifndef WG
#define WG 256
#endif
#ifndef REDUCE_FP32
#define REDUCE_FP32 0
#endif

#if defined(cl_khr_fp64)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#if defined(cl_khr_fp64) && !REDUCE_FP32
#define ACC_DOUBLE 1
typedef double acc_t;
#else
#define ACC_DOUBLE 0
typedef float acc_t;
#endif

/* Running sum with compensation (the compensation is unused on the double path). */
typedef struct {
    acc_t s, c;
} acc2;

inline void acc_add(acc2 *a, const acc_t v)
{
#if ACC_DOUBLE
    a->s += v;
#else
    const float y = v - a->c;
    const float t = a->s + y;
    a->c = (t - a->s) - y;
    a->s = t;
#endif
}

/* Tree over the work-group, then out = s (+ c). l = local id. */
inline acc_t acc_reduce_wg(acc2 a, __local acc_t *ls, __local acc_t *lc, const int l)
{
    ls[l] = a.s;
    lc[l] = -a.c; /* Kahan keeps the negated error */
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = WG / 2; h > 0; h >>= 1) {
        if (l < h) {
#if ACC_DOUBLE
            ls[l] += ls[l + h];
#else
            /* TwoSum: s + err == a + b exactly */
            const float x = ls[l], y = ls[l + h];
            const float s = x + y, bp = s - x;
            const float err = (x - (s - bp)) + (y - bp);
            ls[l] = s;
            lc[l] = lc[l] + lc[l + h] + err;
#endif
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#if ACC_DOUBLE
    return ls[0];
#else
    return ls[0] + lc[0];
#endif
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sumsq_per_image(const int per_image, const int take_sqrt, __global const float *x,
                     __global float *out)
{
    __local acc_t ls[WG], lc[WG];
    const int l = get_local_id(0), b = get_global_id(1);
    __global const float *xb = x + (size_t)b * per_image;
    acc2 a = {0, 0};
    for (int i = l; i < per_image; i += WG) {
        const acc_t v = xb[i];
        acc_add(&a, v * v);
    }
    const acc_t r = acc_reduce_wg(a, ls, lc, l);
    if (l == 0) out[b] = take_sqrt ? (float)sqrt(r) : (float)r;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void err_sumsq_per_image(const int per_image, const float atol, const float rtol,
                         __global const float *err, __global const float *y,
                         __global const float *ynew, __global float *out)
{
    __local acc_t ls[WG], lc[WG];
    const int l = get_local_id(0), b = get_global_id(1);
    const size_t o = (size_t)b * per_image;
    acc2 a = {0, 0};
    for (int i = l; i < per_image; i += WG) {
        const acc_t sc = (acc_t)atol + (acc_t)rtol * fmax((acc_t)fabs(y[o + i]),
                                                          (acc_t)fabs(ynew[o + i]));
        const acc_t q = (acc_t)err[o + i] / sc;
        acc_add(&a, q * q);
    }
    const acc_t r = acc_reduce_wg(a, ls, lc, l);
    if (l == 0) out[b] = (float)r;
}

#if ACC_DOUBLE
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void err_sumsq_per_image_f64(const int per_image, const double atol, const double rtol,
                             __global const double *err, __global const double *y,
                             __global const double *ynew, __global double *out)
{
    __local acc_t ls[WG], lc[WG];
    const int l = get_local_id(0), b = get_global_id(1);
    const size_t o = (size_t)b * per_image;
    acc2 a = {0, 0};
    for (int i = l; i < per_image; i += WG) {
        const double sc = atol + rtol * fmax(fabs(y[o + i]), fabs(ynew[o + i]));
        const double q = err[o + i] / sc;
        acc_add(&a, q * q);
    }
    const acc_t r = acc_reduce_wg(a, ls, lc, l);
    if (l == 0) out[b] = r;
}
#endif
