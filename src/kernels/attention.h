/* attention.h — host wrapper for cl/attention.cl. o must not alias q, k, v. */
#ifndef CLSDE_KERNELS_ATTENTION_H
#define CLSDE_KERNELS_ATTENTION_H

#include "../runtime.h"
#include "../ref/attention_ref.h"

clsde_status clsde_attention_enqueue(clsde_context *ctx, int32_t n, int32_t c, int32_t hw,
                                     cl_mem q, cl_mem k, cl_mem v, cl_mem o);

#endif
