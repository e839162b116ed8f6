/* analytic_score.h — host wrapper for cl/analytic_score.cl (Gaussian-mixture scores). */
#ifndef CLSDE_KERNELS_ANALYTIC_SCORE_H
#define CLSDE_KERNELS_ANALYTIC_SCORE_H

#include "../runtime.h"
#include "../ref/analytic_score_ref.h"

/* score [n, d] from x [n, d], means mu [k, d] and per-image coefficients coef [n, 1 + 2k]
 * (clsde_gmm_coef). All four buffers hold float, or double when f64 is 1 (CLSDE_ERR_UNSUPPORTED
 * on devices without cl_khr_fp64). k is 1 .. CLSDE_GMM_KMAX. */
clsde_status clsde_gmm_score_enqueue(clsde_context *ctx, int32_t k, int32_t d, int32_t n,
                                     int f64, cl_mem mu, cl_mem coef, cl_mem x, cl_mem score);

#endif
