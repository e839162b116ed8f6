/* rng.h — host wrapper for cl/rng.cl (counter layout: src/ref/rng_ref.h). */
#ifndef CLSDE_KERNELS_RNG_H
#define CLSDE_KERNELS_RNG_H

#include "../runtime.h"
#include "../ref/rng_ref.h"

/* Fill out [p->n_images, p->per_image] (may be a sub-buffer) with p->dist noise for
 * absolute images p->first_image .. + n_images - 1. Normals use double Box–Muller when the
 * device has cl_khr_fp64 and p->fp32 is 0, float otherwise (see clsde_rng_uses_fp32). */
clsde_status clsde_rng_enqueue(clsde_context *ctx, const clsde_rng_params *p, cl_mem out);

/* 1 when the kernel will take the float Box–Muller path for these parameters. */
int clsde_rng_uses_fp32(const clsde_context *ctx, const clsde_rng_params *p);

#endif
