/* elementwise.h — host wrappers for cl/elementwise.cl. Buffers may be sub-buffers. */
#ifndef CLSDE_KERNELS_ELEMENTWISE_H
#define CLSDE_KERNELS_ELEMENTWISE_H

#include "../runtime.h"

/* y = silu(x), n elements. y may equal x. */
clsde_status clsde_silu_enqueue(clsde_context *ctx, size_t n, cl_mem x, cl_mem y);
/* Tangent of silu (algorithms.md §6.2, forward mode): ty = silu'(x) * tx, n elements,
 * silu'(x) = s (1 + x (1 - s)), s = logistic(x). ty may equal tx. */
clsde_status clsde_silu_jvp_enqueue(clsde_context *ctx, size_t n, cl_mem x, cl_mem tx,
                                    cl_mem ty);
/* y = a*x + b*y2, n elements. y may equal x or y2. */
clsde_status clsde_axpby_enqueue(clsde_context *ctx, size_t n, float a, cl_mem x, float b,
                                 cl_mem y2, cl_mem y);
/* y[p, :] = a*x[p, :] + bias[p] for p < planes (planes = N*C), hw elements per plane. */
clsde_status clsde_scale_add_bc_enqueue(clsde_context *ctx, size_t planes, size_t hw, float a,
                                        cl_mem x, cl_mem bias, cl_mem y);

/* Per-image scaling, x, y: [n, per_image], s: device buffer [n]. y may equal x.
 * divide = 0: y[b, i] = x[b, i] * s[b];  divide = 1: y[b, i] = x[b, i] / s[b]
 * (the reference divides: h / sigma, -out / std == out / (-std)). */
clsde_status clsde_scale_per_image_enqueue(clsde_context *ctx, size_t n, size_t per_image,
                                           int divide, cl_mem s, cl_mem x, cl_mem y);
/* y = a * x + b (scalar a, b), n elements; y may equal x. (Centring: 2x - 1.) */
clsde_status clsde_affine_enqueue(clsde_context *ctx, size_t n, float a, float b, cl_mem x,
                                  cl_mem y);

#endif
