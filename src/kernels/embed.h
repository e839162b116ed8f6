/* embed.h — host wrappers for cl/embed.cl. With cl_khr_fp64 (PoCL) the results equal the C
 * reference (ln/exp/sin/cos in double, rounded); without it the kernels use float ln/exp/
 * sin/cos (OpenCL bounds: 3 and 4 ulp, full range reduction), ~2e-4 absolute at worst —
 * see the header of cl/embed.cl. */
#ifndef CLSDE_KERNELS_EMBED_H
#define CLSDE_KERNELS_EMBED_H

#include "../runtime.h"
#include "../ref/embed_ref.h"

/* sigma [n] (the VE label; its ln is taken inside), W [nf], out [n, 2*nf]. */
clsde_status clsde_fourier_embed_enqueue(clsde_context *ctx, int32_t n, int32_t nf,
                                         cl_mem sigma, cl_mem W, cl_mem out);
/* label [n], out [n, dim]; dim >= 4 (CLSDE_ERR_ARG otherwise). */
clsde_status clsde_sinusoidal_embed_enqueue(clsde_context *ctx, int32_t n, int32_t dim,
                                            cl_mem label, cl_mem out);

/* The same with float_only = 1: the kernels built as on a device without cl_khr_fp64
 * (float ln/exp/sin/cos, see cl/embed.cl), so the checker can test that path on any
 * device. float_only = 0 is the plain call above. */
clsde_status clsde_fourier_embed_enqueue_ex(clsde_context *ctx, int32_t n, int32_t nf,
                                            cl_mem sigma, cl_mem W, cl_mem out,
                                            int32_t float_only);
clsde_status clsde_sinusoidal_embed_enqueue_ex(clsde_context *ctx, int32_t n, int32_t dim,
                                               cl_mem label, cl_mem out, int32_t float_only);

#endif
