/*
 * reduce.cl — per-image reductions over x[n, per_image] (one work-group per image):
 *   sumsq_per_image:      out[b] = sum_i x[b,i]^2, or its square root (the L2 norm used
 *                         by the Langevin step size, algorithms.md §3.2)
 *   dot_per_image:        out[b] = sum_i a[b,i] * t[b,i], the per-image dot product that
 *                         closes the forward-mode Hutchinson estimate (algorithms.md §6.2)
 *   err_sumsq_per_image:  out[b] = sum_i (err / (atol + rtol*max(|y|, |ynew|)))^2, the
 *                         per-image piece of the RK45 error norm (algorithms.md §5.2);
 *                         the host adds the images (and any extra entries), divides by
 *                         the entry count and takes the square root
 *   err_sumsq_per_image_f64: the same on double buffers (ODE state kept in float64),
 *                         only on cl_khr_fp64 devices
 * Accumulation: in double when the device has cl_khr_fp64 (and REDUCE_FP32 is 0);
 * otherwise in float with a compensated (Kahan) sum per vector lane and a compensated
 * (TwoSum) tree across the lanes and the work-group, so the result stays within a few
 * ulp even for 1e6 terms. Results are rounded to float once at the end.
 *
 * Tuning / variant parameters (-D):
 *   WG          work-group size, a power of two (default 1)
 *   VW          vector width, 1, 2, 4, 8 or 16 (default 16)
 *   REDUCE_FP32 0 (default) or 1: force the float path (lets the checker test it on
 *               fp64 devices)
 * Global id 0: lane within the image's work-group, id 1: image b. Work-item l reads the
 * vectors l, l + WG, l + 2 WG, ... of its image, then the last per_image % VW elements
 * one by one (l, l + WG, ...), so any per_image >= 1 works. The defaults suit CPUs: PoCL
 * runs a work-group on one thread as a loop over its work-items, so one work-item per
 * image streaming 16-wide vectors is a plain vector loop, where 256 work-items striding
 * by 256 elements are not vectorised (PoCL, 8 x 3x256x256: WG 256 / VW 1 1.5-4.6 ms,
 * WG 1 / VW 16 0.21 ms); src/kernels/reduce.c passes WG 256 / VW 1 to GPUs, where
 * consecutive work-items read consecutive elements.
 */
#pragma OPENCL FP_CONTRACT OFF

#ifndef WG
#define WG 1
#endif
#ifndef VW
#define VW 16
#endif
#ifndef REDUCE_FP32
#define REDUCE_FP32 0
#endif
#if WG < 1 || (WG & (WG - 1)) != 0
#error "reduce.cl: WG must be a power of two"
#endif

#if defined(cl_khr_fp64)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VW == 1
#define VEC(t) t
#define LOADV(p, i) ((p)[i])
#define STOREV(v, p, i) ((p)[i] = (v))
#define CONVERTV(t, v) ((t)(v))
#else
#define VEC(t) CAT(t, VW)
#define LOADV(p, i) CAT(vload, VW)(i, p)
#define STOREV(v, p, i) CAT(vstore, VW)(v, i, p)
#define CONVERTV(t, v) CAT(CAT(convert_, t), VW)(v)
#endif

#if defined(cl_khr_fp64) && !REDUCE_FP32
#define ACC_DOUBLE 1
#define acc_s double /* accumulation type, scalar and (accV) per lane */
#else
#define ACC_DOUBLE 0
#define acc_s float
#endif
#define accV VEC(acc_s)

/* Kahan step on running sum S with compensation C (vectors or scalars of type T); on the
 * double path a plain sum. */
#if ACC_DOUBLE
#define ACC_ADD(T, S, C, V) ((S) += (V))
#else
#define ACC_ADD(T, S, C, V)                                                               \
    do {                                                                                  \
        const T y_ = (V) - (C);                                                           \
        const T t_ = (S) + y_;                                                            \
        (C) = (t_ - (S)) - y_;                                                            \
        (S) = t_;                                                                         \
    } while (0)
#endif

/* (*s, *c) += (s2, c2) with TwoSum: afterwards *s + *c equals the sum of the four up to
 * the rounding of the (small) compensation terms. c, c2 hold +error (not Kahan's -error). */
inline void two_sum_into(acc_s *s, acc_s *c, const acc_s s2, const acc_s c2)
{
#if ACC_DOUBLE
    *s += s2;
    (void)c, (void)c2;
#else
    const float x = *s, sum = x + s2, bp = sum - x;
    const float err = (x - (sum - bp)) + (s2 - bp);
    *s = sum;
    *c = *c + c2 + err;
#endif
}

/* Sum of one work-item's lane sums (vs, Kahan compensation vc) and tail sum (s, Kahan
 * compensation c) over the work-group, pairwise; the result is valid on every work-item.
 * The lanes go through private arrays: Oclgrind's uninitialised-value checker crashes on
 * the shuffles that lane access (.s0, .lo) compiles to. l = local id. */
inline acc_s acc_reduce_wg(const accV vs, const accV vc, const acc_s s, const acc_s c,
                           __local acc_s *ls, __local acc_s *lc, const int l)
{
    acc_s ts[VW], tc[VW];
    STOREV(vs, ts, 0);
    STOREV(-vc, tc, 0); /* Kahan keeps the negated error */
    /* written out: PoCL leaves even constant-count loops rolled, with ts, tc on the stack */
#define LP(i) two_sum_into(&ts[2 * i], &tc[2 * i], ts[2 * i + 1], tc[2 * i + 1]), \
              ts[i] = ts[2 * i], tc[i] = tc[2 * i]
#if VW >= 16
    LP(0), LP(1), LP(2), LP(3), LP(4), LP(5), LP(6), LP(7);
#endif
#if VW >= 8
    LP(0), LP(1), LP(2), LP(3);
#endif
#if VW >= 4
    LP(0), LP(1);
#endif
#if VW >= 2
    LP(0);
#endif
#undef LP
    two_sum_into(&ts[0], &tc[0], s, -c);
#if WG == 1
    (void)ls, (void)lc, (void)l;
    return ts[0] + tc[0];
#else
    ls[l] = ts[0];
    lc[l] = tc[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = WG / 2; h > 0; h >>= 1) {
        if (l < h) {
            acc_s a = ls[l], e = lc[l];
            two_sum_into(&a, &e, ls[l + h], lc[l + h]);
            ls[l] = a, lc[l] = e;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return ls[0] + lc[0];
#endif
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sumsq_per_image(const int per_image, const int take_sqrt, __global const float *x,
                     __global float *out)
{
    __local acc_s ls[WG], lc[WG];
    const int l = get_local_id(0), b = get_global_id(1);
    const int nv = per_image / VW;
    __global const float *xb = x + (size_t)b * per_image;
    accV vs = 0, vc = 0;
    acc_s s = 0, c = 0;
    for (int v = l; v < nv; v += WG) {
        const accV d = CONVERTV(acc_s, LOADV(xb, v));
        ACC_ADD(accV, vs, vc, d * d);
    }
    for (int i = nv * VW + l; i < per_image; i += WG) {
        const acc_s d = xb[i];
        ACC_ADD(acc_s, s, c, d * d);
    }
    const acc_s r = acc_reduce_wg(vs, vc, s, c, ls, lc, l);
    if (l == 0) out[b] = take_sqrt ? (float)sqrt(r) : (float)r;
}

/* a, t: [n, per_image]; a may equal t. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void dot_per_image(const int per_image, __global const float *a, __global const float *t,
                   __global float *out)
{
    __local acc_s ls[WG], lc[WG];
    const int l = get_local_id(0), b = get_global_id(1);
    const int nv = per_image / VW;
    __global const float *ab = a + (size_t)b * per_image, *tb = t + (size_t)b * per_image;
    accV vs = 0, vc = 0;
    acc_s s = 0, c = 0;
    for (int v = l; v < nv; v += WG) {
        const accV d = CONVERTV(acc_s, LOADV(ab, v)) * CONVERTV(acc_s, LOADV(tb, v));
        ACC_ADD(accV, vs, vc, d);
    }
    for (int i = nv * VW + l; i < per_image; i += WG) {
        const acc_s d = (acc_s)ab[i] * (acc_s)tb[i];
        ACC_ADD(acc_s, s, c, d);
    }
    const acc_s r = acc_reduce_wg(vs, vc, s, c, ls, lc, l);
    if (l == 0) out[b] = (float)r;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void err_sumsq_per_image(const int per_image, const float atol, const float rtol,
                         __global const float *err, __global const float *y,
                         __global const float *ynew, __global float *out)
{
    __local acc_s ls[WG], lc[WG];
    const int l = get_local_id(0), b = get_global_id(1);
    const int nv = per_image / VW;
    const size_t o = (size_t)b * per_image;
    __global const float *eb = err + o, *yb = y + o, *nb = ynew + o;
    accV vs = 0, vc = 0;
    acc_s s = 0, c = 0;
    for (int v = l; v < nv; v += WG) {
        const accV q = CONVERTV(acc_s, LOADV(eb, v)) /
                       ((accV)atol + (accV)rtol * fmax(fabs(CONVERTV(acc_s, LOADV(yb, v))),
                                                       fabs(CONVERTV(acc_s, LOADV(nb, v)))));
        ACC_ADD(accV, vs, vc, q * q);
    }
    for (int i = nv * VW + l; i < per_image; i += WG) {
        const acc_s q = (acc_s)eb[i] / ((acc_s)atol + (acc_s)rtol * fmax(fabs((acc_s)yb[i]),
                                                                         fabs((acc_s)nb[i])));
        ACC_ADD(acc_s, s, c, q * q);
    }
    const acc_s r = acc_reduce_wg(vs, vc, s, c, ls, lc, l);
    if (l == 0) out[b] = (float)r;
}

#if ACC_DOUBLE
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void err_sumsq_per_image_f64(const int per_image, const double atol, const double rtol,
                             __global const double *err, __global const double *y,
                             __global const double *ynew, __global double *out)
{
    __local acc_s ls[WG], lc[WG];
    const int l = get_local_id(0), b = get_global_id(1);
    const int nv = per_image / VW;
    const size_t o = (size_t)b * per_image;
    __global const double *eb = err + o, *yb = y + o, *nb = ynew + o;
    accV vs = 0, vc = 0;
    acc_s s = 0, c = 0;
    for (int v = l; v < nv; v += WG) {
        const accV q =
            LOADV(eb, v) / (atol + rtol * fmax(fabs(LOADV(yb, v)), fabs(LOADV(nb, v))));
        ACC_ADD(accV, vs, vc, q * q);
    }
    for (int i = nv * VW + l; i < per_image; i += WG) {
        const double q = eb[i] / (atol + rtol * fmax(fabs(yb[i]), fabs(nb[i])));
        ACC_ADD(acc_s, s, c, q * q);
    }
    const acc_s r = acc_reduce_wg(vs, vc, s, c, ls, lc, l);
    if (l == 0) out[b] = r;
}
#endif
