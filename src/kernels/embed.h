/* embed.h — host wrappers for cl/embed.cl. */
#ifndef CLSDE_KERNELS_EMBED_H
#define CLSDE_KERNELS_EMBED_H

#include "../runtime.h"
#include "../ref/embed_ref.h"

clsde_status clsde_fourier_embed_enqueue(clsde_context *ctx, int32_t n, int32_t nf,
                                         cl_mem sigma, cl_mem W, cl_mem out);
clsde_status clsde_sinusoidal_embed_enqueue(clsde_context *ctx, int32_t n, int32_t dim,
                                            cl_mem label, cl_mem out);

#endif
