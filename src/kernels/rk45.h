/* rk45.h — host wrappers for cl/rk45.cl (the RK45 ODE sampler's state arithmetic). Each one
 * covers images p->b0 .. p->b0 + p->nb - 1 of the [n, per_image] buffers (all n when nb = 0). */
#ifndef CLSDE_KERNELS_RK45_H
#define CLSDE_KERNELS_RK45_H

#include "../runtime.h"
#include "../ref/rk45_ref.h"

/* out [n, per_image] = [y +] h_b sum_j tab[row][j] K_j (clsde_rk_combine_ref). Element type
 * of h, y, K, out: double when p->fp64 (CLSDE_ERR_UNSUPPORTED without cl_khr_fp64), else
 * float; ylo, out_lo, out_f are float. K: [7, n, per_image]. Buffers a flag does not use
 * may be NULL (ylo and out_lo are only read/written on the float path with CLSDE_RK_COMP;
 * without CLSDE_RK_COMP the float path reads ylo as a low part of y when it is not NULL). */
clsde_status clsde_rk_combine_enqueue(clsde_context *ctx, const clsde_rk_params *p, int row,
                                      int flags, cl_mem h, cl_mem y, cl_mem ylo, cl_mem K,
                                      cl_mem out, cl_mem out_lo, cl_mem out_f);

/* K_stage = A_b x + B_b s (stage 0..6 of K [7, n, per_image]); ab [n, 2] in the state type;
 * x, s double when in_f64, else float. */
clsde_status clsde_rk_drift_enqueue(clsde_context *ctx, const clsde_rk_params *p, int in_f64,
                                    cl_mem ab, cl_mem x, cl_mem s, cl_mem K, int32_t stage);

/* For images b with mask[b] != 0 (int32 [n]): y <- ynew, K_1 <- K_7, and on the float path
 * ylo <- ynew_lo. */
clsde_status clsde_rk_accept_enqueue(clsde_context *ctx, const clsde_rk_params *p, cl_mem mask,
                                     cl_mem ynew, cl_mem ynew_lo, cl_mem y, cl_mem ylo,
                                     cl_mem K);

#endif
