/*
 * rk45.cl — the state arithmetic of the Dormand–Prince 5(4) probability-flow ODE sampler
 * (algorithms.md §5.2, scipy's RK45), per image with its own step h_b:
 *   rk_combine: out = y + h_b * sum_j T[row][j] K_j   (stage inputs, y_new, the error
 *               estimate, the initial-step probe and difference), optionally also a float
 *               copy for the network and, on the float path, a compensated y_new
 *   rk_drift:   K = A_b x + B_b s, the PF drift F = f - 1/2 g^2 s with per-image (A, B)
 *   rk_accept:  y <- y_new and K_1 <- K_7 (FSAL) for the images whose step was accepted
 * The step-size control runs on the host after one reduction per attempt (reduce.cl).
 *
 * Tuning / variant parameters (-D):
 *   RK_FP64  1: state, stages and coefficients in double (requires cl_khr_fp64; the
 *            reference keeps the solver in float64); 0: float, with y_new accumulated
 *            as a compensated pair (hi, lo) so that thousands of small steps do not lose
 *            the low bits of the state (the stage inputs use hi + lo once)
 *   IN_F64   rk_drift only: 1 = x and s are double (the float64 analytic test); 0 = float
 *            (the network's input copy and its float32 score)
 * Global id 0: element within an image, id 1: image b. K is [7, n, per_image] with the
 * stage stride kstride (= n * per_image) in elements.
 * Summation order (FP_CONTRACT OFF): acc = sum over j in order, dy = acc * h, out = y + dy,
 * as scipy's `y + np.dot(K[:s].T, a[:s]) * h` (numpy's dot may differ in the last bit).
 */
#pragma OPENCL FP_CONTRACT OFF

#ifndef RK_FP64
#define RK_FP64 0
#endif
#ifndef IN_F64
#define IN_F64 0
#endif

#if RK_FP64 || IN_F64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#if RK_FP64
typedef double real_t;
#else
typedef float real_t;
#endif

#define Q(a, b) ((real_t)(a) / (real_t)(b))
#define RK_ROWS 9

/* Rows 0..4: a_{s,j} of stages 2..6; row 5: b (y_new, also stage 7's input); row 6: the
 * error weights e = b^ - b as scipy stores them; row 7: (1) for the initial-step probe
 * y0 + h f0; row 8: (-1, 1) for f1 - f0. */
__constant real_t RK_TAB[RK_ROWS][7] = {
    {Q(1, 5)},
    {Q(3, 40), Q(9, 40)},
    {Q(44, 45), Q(-56, 15), Q(32, 9)},
    {Q(19372, 6561), Q(-25360, 2187), Q(64448, 6561), Q(-212, 729)},
    {Q(9017, 3168), Q(-355, 33), Q(46732, 5247), Q(49, 176), Q(-5103, 18656)},
    {Q(35, 384), 0, Q(500, 1113), Q(125, 192), Q(-2187, 6784), Q(11, 84)},
    {Q(-71, 57600), 0, Q(71, 16695), Q(-71, 1920), Q(17253, 339200), Q(-22, 525), Q(1, 40)},
    {1},
    {-1, 1}};
__constant int RK_TERMS[RK_ROWS] = {1, 2, 3, 4, 5, 6, 7, 1, 2};

#define RK_ADD_Y 1  /* out = y + dy (else out = dy) */
#define RK_NO_H 2   /* dy = acc (else acc * h_b) */
#define RK_OUT_F 4  /* also write (float) out to out_f */
#define RK_COMP 8   /* float path: y has a low part ylo; write the compensated out_lo */

__kernel void rk_combine(const int per_image, const int row, const int flags,
                         __global const real_t *restrict h, __global const real_t *restrict y,
                         __global const float *restrict ylo, __global const real_t *restrict K,
                         const int kstride, __global real_t *restrict out,
                         __global float *restrict out_lo, __global float *restrict out_f)
{
    const int i = get_global_id(0), b = get_global_id(1);
    if (i >= per_image) return;
    const size_t o = (size_t)b * per_image + i;
    const int nt = RK_TERMS[row];
    real_t acc = 0;
    for (int j = 0; j < nt; j++) acc += K[(size_t)j * kstride + o] * RK_TAB[row][j];
    const real_t dy = (flags & RK_NO_H) ? acc : acc * h[b];
    real_t v = dy;
    if (flags & RK_ADD_Y) {
        const real_t yv = y[o];
#if !RK_FP64
        if (flags & RK_COMP) {
            /* TwoSum(y_hi, dy + y_lo): hi + lo == y_hi + (dy + y_lo) exactly */
            const float w = dy + ylo[o];
            const float s = yv + w, bp = s - yv;
            out_lo[o] = (yv - (s - bp)) + (w - bp);
            v = s;
        } else {
            v = yv + (dy + ylo[o]);
        }
#else
        v = yv + dy;
#endif
    }
    out[o] = v;
    if (flags & RK_OUT_F) out_f[o] = (float)v;
}

#if IN_F64
typedef double in_t;
#else
typedef float in_t;
#endif

/* ab: [n, 2] = (A_b, B_b); x, s: [n, per_image]; K + koff: [n, per_image]. */
__kernel void rk_drift(const int per_image, __global const real_t *restrict ab,
                       __global const in_t *restrict x, __global const in_t *restrict s,
                       __global real_t *restrict K, const int koff)
{
    const int i = get_global_id(0), b = get_global_id(1);
    if (i >= per_image) return;
    const size_t o = (size_t)b * per_image + i;
    const real_t A = ab[2 * b], B = ab[2 * b + 1];
    K[(size_t)koff + o] = A * (real_t)x[o] + B * (real_t)s[o];
}

/* mask: [n] (non-zero: accepted). y <- ynew (and ylo <- ynew_lo when comp), K_1 <- K_7. */
__kernel void rk_accept(const int per_image, const int comp, __global const int *restrict mask,
                        __global const real_t *restrict ynew,
                        __global const float *restrict ynew_lo, __global real_t *restrict y,
                        __global float *restrict ylo, __global real_t *restrict K,
                        const int kstride)
{
    const int i = get_global_id(0), b = get_global_id(1);
    if (i >= per_image || !mask[b]) return;
    const size_t o = (size_t)b * per_image + i;
    y[o] = ynew[o];
    if (comp) ylo[o] = ynew_lo[o];
    K[o] = K[(size_t)6 * kstride + o];
}
