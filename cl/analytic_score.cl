/*
 * analytic_score.cl — the exact score of an isotropic Gaussian mixture perturbed by an SDE
 * (algorithms.md §9.1): the "network" of the sampler tests. For image b at time t_b
 *   p_t(x) = sum_k w_k N(x; m mu_k, c_k I),   c_k = m^2 s_k^2 + sigma^2,
 *   l_k = ln w_k - (D/2) ln(2 pi c_k) - |m mu_k - x|^2 / (2 c_k),   r = softmax(l),
 *   score = sum_k r_k (m mu_k - x) / c_k.
 * The host computes the per-image coefficients (m, c_k, lw_k = ln w_k - D/2 ln(2 pi c_k))
 * in double from t (src/kernels/analytic_score.c); the kernel does the rest.
 *
 * Tuning / variant parameters (-D):
 *   WG        work-group size, a power of two (default 64)
 *   KMAX      largest number of components (default 8); local memory KMAX*WG accumulators
 *   GMM_F64   0 (default): x, score, mu, coef are float, sums in double where the device
 *             has cl_khr_fp64 (else float); 1: everything double (only on fp64 devices),
 *             for the float64 ODE parity test (§9.4)
 * Global id 0: lane within the image's work-group (work-item l handles elements
 * l, l + WG, ...), id 1: image b. Any D >= 1 works.
 */
#pragma OPENCL FP_CONTRACT OFF

#ifndef WG
#define WG 64
#endif
#ifndef KMAX
#define KMAX 8
#endif
#ifndef GMM_F64
#define GMM_F64 0
#endif

#if defined(cl_khr_fp64)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

#if GMM_F64
typedef double real_t;
#else
typedef float real_t;
#endif

/* mu: [K, D]; coef: [n, 1 + 2K] = (m, c_0..c_{K-1}, lw_0..lw_{K-1}); x, score: [n, D]. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void gmm_score(const int K, const int D, __global const real_t *restrict mu,
               __global const real_t *restrict coef, __global const real_t *restrict x,
               __global real_t *restrict score)
{
    __local acc_t ls[KMAX][WG];
    __local acc_t r[KMAX];
    const int l = get_local_id(0), b = get_global_id(1);
    __global const real_t *cb = coef + (size_t)b * (1 + 2 * K);
    __global const real_t *xb = x + (size_t)b * D;
    const acc_t m = cb[0];

    for (int k = 0; k < K; k++) {
        acc_t a = 0;
        for (int i = l; i < D; i += WG) {
            const acc_t u = m * (acc_t)mu[(size_t)k * D + i] - (acc_t)xb[i];
            a += u * u;
        }
        ls[k][l] = a;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = WG / 2; h > 0; h >>= 1) {
        if (l < h)
            for (int k = 0; k < K; k++) ls[k][l] += ls[k][l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) {
        /* responsibilities r_k / c_k by log-sum-exp */
        acc_t lmax = -INFINITY, sum = 0;
        for (int k = 0; k < K; k++) {
            const acc_t lk = (acc_t)cb[1 + K + k] - ls[k][0] / (2 * (acc_t)cb[1 + k]);
            r[k] = lk;
            lmax = fmax(lmax, lk);
        }
        for (int k = 0; k < K; k++) {
            r[k] = exp(r[k] - lmax);
            sum += r[k];
        }
        for (int k = 0; k < K; k++) r[k] = r[k] / sum / (acc_t)cb[1 + k];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int i = l; i < D; i += WG) {
        const acc_t xi = xb[i];
        acc_t s = 0;
        for (int k = 0; k < K; k++) s += r[k] * (m * (acc_t)mu[(size_t)k * D + i] - xi);
        score[(size_t)b * D + i] = (real_t)s;
    }
}
