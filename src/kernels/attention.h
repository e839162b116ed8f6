/* attention.h — host wrappers for cl/attention.cl. o must not alias q, k, v. */
#ifndef CLSDE_KERNELS_ATTENTION_H
#define CLSDE_KERNELS_ATTENTION_H

#include "../runtime.h"
#include "../ref/attention_ref.h"

clsde_status clsde_attention_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t hw,
                                     cl_mem q, cl_mem k, cl_mem v, cl_mem o);
/* Forward-mode derivative (algorithms.md §6.2) of the forward above in directions tq, tk,
 * tv (see clsde_attention_jvp_ref); all [n, c, hw]. to must not alias any input
 * (CLSDE_ERR_ARG when it is the same buffer). A query's rows of scores and tangents live
 * in local memory, 8 bytes per key: any hw whose rows for one query the device holds works
 * (the OpenCL minimum of 32 KiB: hw <= 4096; the networks use hw <= 1024), beyond that
 * CLSDE_ERR_DEVICE_LIMIT. */
clsde_status clsde_attention_jvp_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t hw,
                                         cl_mem q, cl_mem k, cl_mem v, cl_mem tq, cl_mem tk,
                                         cl_mem tv, cl_mem to);

#endif
