/* group_norm.h — host wrappers for cl/group_norm.cl. y may equal x (forward only). */
#ifndef CLSDE_KERNELS_GROUP_NORM_H
#define CLSDE_KERNELS_GROUP_NORM_H

#include "../runtime.h"
#include "../ref/group_norm_ref.h"

/* x, y [n, c, hw]; gamma, beta [c]. The work-group shape comes from the device class. */
clsde_status clsde_group_norm_enqueue(clsde_context *ctx, const clsde_group_norm_params *p,
                                      cl_mem x, cl_mem gamma, cl_mem beta, cl_mem y);
/* The same with an explicit work-group size wg (a power of two) and vector width vw
 * (1, 2, 4, 8, 16): the checker runs every variant on any device; tuning will use it. */
clsde_status clsde_group_norm_enqueue_tuned(clsde_context *ctx, const clsde_group_norm_params *p,
                                            int32_t wg, int32_t vw, cl_mem x, cl_mem gamma,
                                            cl_mem beta, cl_mem y);

/* Forward-mode derivative (algorithms.md §6.2): ty = d/de GroupNorm(x + e tx) at e = 0,
 * through the SiLU when p->silu (see clsde_group_norm_jvp_ref). x, tx, ty [n, c, hw];
 * gamma, beta [c]. ty must not alias x or tx (CLSDE_ERR_ARG when it is the same buffer);
 * x may equal tx. Same work-group shapes as the forward. */
clsde_status clsde_group_norm_jvp_enqueue(clsde_context *ctx, const clsde_group_norm_params *p,
                                          cl_mem x, cl_mem tx, cl_mem gamma, cl_mem beta,
                                          cl_mem ty);
clsde_status clsde_group_norm_jvp_enqueue_tuned(clsde_context *ctx,
                                                const clsde_group_norm_params *p, int32_t wg,
                                                int32_t vw, cl_mem x, cl_mem tx, cl_mem gamma,
                                                cl_mem beta, cl_mem ty);

#endif
