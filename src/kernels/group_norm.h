/* group_norm.h — host wrapper for cl/group_norm.cl. y may equal x. */
#ifndef CLSDE_KERNELS_GROUP_NORM_H
#define CLSDE_KERNELS_GROUP_NORM_H

#include "../runtime.h"
#include "../ref/group_norm_ref.h"

clsde_status clsde_group_norm_enqueue(clsde_context *ctx, const clsde_group_norm_params *p,
                                      cl_mem x, cl_mem gamma, cl_mem beta, cl_mem y);

#endif
