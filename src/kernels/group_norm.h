/* group_norm.h — host wrapper for cl/group_norm.cl. y may equal x. */
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

#endif
