/*
 * sde_step.c — host wrappers for cl/sde_step.cl: check sizes, pack the flags (noise term,
 * x_mean output), set arguments, enqueue. The vector width and work-group size of
 * pc_update and inpaint_mix come from the device class until tune.c exists.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../program.h"
#include "sde_step.h"

#define FILE_ "sde_step.cl"
#define VW_DEFAULT 16 /* the default VW of sde_step.cl */
#define WG 64
#define PC_NOISE 1
#define PC_MEAN 2

/* Shape of the vector kernels (pc_update, inpaint_mix) by device class until tune.c
 * exists: on CPUs 16-wide work-items in work-groups of 16 (PoCL, 8 x 3x256x256 pc_update:
 * VW 4 / WG 64 1.2 ms, VW 16 / WG 16 0.44-0.88 ms, VW 16 / WG 1 0.93-1.05 ms); elsewhere
 * float4 work-items in work-groups of 64, consecutive work-items on consecutive vectors. */
static void vector_shape(const clsde_context *ctx, int32_t *vw, int32_t *wg)
{
    const int cpu = ctx->info.type == CLSDE_DEVICE_CPU;
    *vw = cpu ? VW_DEFAULT : 4;
    *wg = cpu ? 16 : WG;
    while (*wg > 1 && *wg > ctx->info.max_work_group_size) *wg /= 2;
}

/* The build options for vector width vw, after checking vw and wg. */
static clsde_status check_shape(clsde_context *ctx, const char *what, int32_t vw, int32_t wg,
                                char options[16])
{
    CLSDE_FAIL_IF(vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16, ctx, CLSDE_ERR_ARG,
                  "%s: vector width %d", what, (int)vw);
    CLSDE_FAIL_IF(wg < 1 || wg > ctx->info.max_work_group_size, ctx, CLSDE_ERR_ARG,
                  "%s: work-group size %d (1 to %d)", what, (int)wg,
                  (int)ctx->info.max_work_group_size);
    options[0] = 0;
    if (vw != VW_DEFAULT) snprintf(options, 16, "-DVW=%d", (int)vw);
    return CLSDE_OK;
}

clsde_status clsde_pc_update_enqueue(clsde_context *ctx, const clsde_pc_update_params *p,
                                     cl_mem coef, cl_mem x, cl_mem s, cl_mem z, cl_mem x_new,
                                     cl_mem x_mean)
{
    int32_t vw, wg;
    vector_shape(ctx, &vw, &wg);
    return clsde_pc_update_enqueue_tuned(ctx, p, vw, wg, coef, x, s, z, x_new, x_mean);
}

clsde_status clsde_pc_update_enqueue_tuned(clsde_context *ctx, const clsde_pc_update_params *p,
                                           int32_t vw, int32_t wg, cl_mem coef, cl_mem x,
                                           cl_mem s, cl_mem z, cl_mem x_new, cl_mem x_mean)
{
    cl_kernel k;
    char options[16];
    const cl_int per = p->per_image, off = p->coef_offset, stride = p->coef_stride;
    const cl_int flags = (z ? PC_NOISE : 0) | (x_mean ? PC_MEAN : 0);
    /* unused pointer arguments get a valid buffer that is never read or written */
    const cl_mem zz = z ? z : x, xm = x_mean ? x_mean : x_new;
    const size_t gws[2] = {((size_t)p->per_image + (size_t)vw - 1) / (size_t)vw,
                           (size_t)p->n},
                 lws[2] = {(size_t)wg, 1};
    CLSDE_FAIL_IF(p->n <= 0 || p->per_image <= 0 ||
                      (int64_t)p->n * p->per_image > INT_MAX,
                  ctx, CLSDE_ERR_ARG, "pc_update: bad size %d x %d", (int)p->n,
                  (int)p->per_image);
    CLSDE_FAIL_IF(p->coef_offset < 0 || (p->coef_stride != 0 && p->coef_stride != 3), ctx,
                  CLSDE_ERR_ARG, "pc_update: coef offset %d / stride %d (stride must be 0 or 3)",
                  (int)p->coef_offset, (int)p->coef_stride);
    CLSDE_FAIL_IF(!coef || !x || !s || !x_new, ctx, CLSDE_ERR_ARG, "pc_update: NULL buffer");
    CLSDE_TRY(check_shape(ctx, "pc_update", vw, wg, options));
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, options, "pc_update", &k));
    CLSDE_ARG(ctx, k, 0, per);
    CLSDE_ARG(ctx, k, 1, flags);
    CLSDE_ARG(ctx, k, 2, off);
    CLSDE_ARG(ctx, k, 3, stride);
    CLSDE_ARG(ctx, k, 4, coef);
    CLSDE_ARG(ctx, k, 5, x);
    CLSDE_ARG(ctx, k, 6, s);
    CLSDE_ARG(ctx, k, 7, zz);
    CLSDE_ARG(ctx, k, 8, x_new);
    CLSDE_ARG(ctx, k, 9, xm);
    return clsde_enqueue(ctx, k, "pc_update", 2, gws, lws);
}

clsde_status clsde_langevin_coef_enqueue(clsde_context *ctx, int32_t n, float snr, float a,
                                         int batch_mean, cl_mem norm_s, cl_mem norm_z,
                                         cl_mem coef)
{
    cl_kernel k;
    const cl_int n32 = n, bm = batch_mean != 0;
    const size_t gws = (size_t)n, lws = 1;
    CLSDE_FAIL_IF(n <= 0, ctx, CLSDE_ERR_ARG, "langevin_coef: bad batch %d", (int)n);
    CLSDE_FAIL_IF(!(snr > 0) || !(a > 0), ctx, CLSDE_ERR_ARG,
                  "langevin_coef: snr %g and alpha %g must be > 0", (double)snr, (double)a);
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "langevin_coef", &k));
    CLSDE_ARG(ctx, k, 0, n32);
    CLSDE_ARG(ctx, k, 1, snr);
    CLSDE_ARG(ctx, k, 2, a);
    CLSDE_ARG(ctx, k, 3, bm);
    CLSDE_ARG(ctx, k, 4, norm_s);
    CLSDE_ARG(ctx, k, 5, norm_z);
    CLSDE_ARG(ctx, k, 6, coef);
    return clsde_enqueue(ctx, k, "langevin_coef", 1, &gws, &lws);
}

clsde_status clsde_inpaint_mix_enqueue(clsde_context *ctx, const clsde_mix_params *p, cl_mem y,
                                       cl_mem mask, cl_mem z, cl_mem x, cl_mem x_mean)
{
    int32_t vw, wg;
    vector_shape(ctx, &vw, &wg);
    return clsde_inpaint_mix_enqueue_tuned(ctx, p, vw, wg, y, mask, z, x, x_mean);
}

clsde_status clsde_inpaint_mix_enqueue_tuned(clsde_context *ctx, const clsde_mix_params *p,
                                             int32_t vw, int32_t wg, cl_mem y, cl_mem mask,
                                             cl_mem z, cl_mem x, cl_mem x_mean)
{
    cl_kernel k;
    char options[16];
    const cl_int per = p->per_image, ms = p->mask_stride;
    const cl_int flags = (z ? PC_NOISE : 0) | (x_mean ? PC_MEAN : 0);
    const cl_mem zz = z ? z : y, xm = x_mean ? x_mean : x;
    const float m = p->m, sigma = p->sigma;
    const size_t gws[2] = {((size_t)p->per_image + (size_t)vw - 1) / (size_t)vw,
                           (size_t)p->n},
                 lws[2] = {(size_t)wg, 1};
    CLSDE_FAIL_IF(p->n <= 0 || p->per_image <= 0 ||
                      (int64_t)p->n * p->per_image > INT_MAX,
                  ctx, CLSDE_ERR_ARG, "inpaint_mix: bad size %d x %d", (int)p->n,
                  (int)p->per_image);
    CLSDE_FAIL_IF(p->mask_stride != 0 && p->mask_stride != p->per_image, ctx, CLSDE_ERR_ARG,
                  "inpaint_mix: mask stride %d must be 0 or per_image %d", (int)p->mask_stride,
                  (int)p->per_image);
    CLSDE_TRY(check_shape(ctx, "inpaint_mix", vw, wg, options));
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, options, "inpaint_mix", &k));
    CLSDE_ARG(ctx, k, 0, per);
    CLSDE_ARG(ctx, k, 1, ms);
    CLSDE_ARG(ctx, k, 2, m);
    CLSDE_ARG(ctx, k, 3, sigma);
    CLSDE_ARG(ctx, k, 4, flags);
    CLSDE_ARG(ctx, k, 5, y);
    CLSDE_ARG(ctx, k, 6, mask);
    CLSDE_ARG(ctx, k, 7, zz);
    CLSDE_ARG(ctx, k, 8, x);
    CLSDE_ARG(ctx, k, 9, xm);
    return clsde_enqueue(ctx, k, "inpaint_mix", 2, gws, lws);
}

static cl_float16 pack_mat(const float mat[9])
{
    cl_float16 v;
    memset(&v, 0, sizeof v);
    for (int i = 0; i < 9; i++) v.s[i] = mat[i];
    return v;
}

static clsde_status check_hw(clsde_context *ctx, const char *what, int32_t n, int32_t hw)
{
    CLSDE_FAIL_IF(n <= 0 || hw <= 0 || (int64_t)n * 3 * hw > INT_MAX, ctx, CLSDE_ERR_ARG,
                  "%s: bad size %d x 3 x %d", what, (int)n, (int)hw);
    return CLSDE_OK;
}

clsde_status clsde_color_transform_enqueue(clsde_context *ctx, int32_t n, int32_t hw,
                                           const float mat[9], cl_mem x, cl_mem y)
{
    cl_kernel k;
    const cl_int hw32 = hw;
    const cl_float16 mt = pack_mat(mat);
    const size_t gws[2] = {(size_t)hw, (size_t)n}, lws[2] = {WG, 1};
    CLSDE_TRY(check_hw(ctx, "color_transform", n, hw));
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "color_transform", &k));
    CLSDE_ARG(ctx, k, 0, hw32);
    CLSDE_ARG(ctx, k, 1, mt);
    CLSDE_ARG(ctx, k, 2, x);
    CLSDE_ARG(ctx, k, 3, y);
    return clsde_enqueue(ctx, k, "color_transform", 2, gws, lws);
}

clsde_status clsde_colorize_mix_enqueue(clsde_context *ctx, int32_t n, int32_t hw, float m,
                                        float sigma, const float M[9], const float Minv[9],
                                        cl_mem y_dec, cl_mem z, cl_mem x, cl_mem x_mean)
{
    cl_kernel k;
    const cl_int hw32 = hw;
    const cl_int flags = (z ? PC_NOISE : 0) | (x_mean ? PC_MEAN : 0);
    const cl_mem zz = z ? z : y_dec, xm = x_mean ? x_mean : x;
    const cl_float16 mt = pack_mat(M), mi = pack_mat(Minv);
    const size_t gws[2] = {(size_t)hw, (size_t)n}, lws[2] = {WG, 1};
    CLSDE_TRY(check_hw(ctx, "colorize_mix", n, hw));
    CLSDE_TRY(clsde_kernel_get(ctx, FILE_, "", "colorize_mix", &k));
    CLSDE_ARG(ctx, k, 0, hw32);
    CLSDE_ARG(ctx, k, 1, m);
    CLSDE_ARG(ctx, k, 2, sigma);
    CLSDE_ARG(ctx, k, 3, flags);
    CLSDE_ARG(ctx, k, 4, mt);
    CLSDE_ARG(ctx, k, 5, mi);
    CLSDE_ARG(ctx, k, 6, y_dec);
    CLSDE_ARG(ctx, k, 7, zz);
    CLSDE_ARG(ctx, k, 8, x);
    CLSDE_ARG(ctx, k, 9, xm);
    return clsde_enqueue(ctx, k, "colorize_mix", 2, gws, lws);
}
