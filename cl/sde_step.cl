/*
 * sde_step.cl — the state updates of the samplers, one pass over the state each
 * (algorithms.md §3, §5, §7). The scalar coefficients come from src/sde.c.
 *
 *   pc_update:      x_mean = A*x + B*s,  x_new = x_mean + S*z      per image (A, B, S)
 *                   — every predictor, the Langevin/ALD corrector and the PF-ODE drift
 *                   (mapping in src/sde.c); image b reads coef[off + b*stride + 0..2], so a
 *                   batch shares one triple (stride 0) or has its own (stride 3)
 *   langevin_coef:  (A, B, S) = (1, step_b, sqrt(2 step_b)) from per-image norms of the
 *                   score and the noise, step = 2a(snr |z| / |s|)^2 per image, or with the
 *                   reference's batch means of the norms (§3.2)
 *   inpaint_mix:    x <- x(1-mask) + (m*y + sigma*z)*mask, x_mean <- x(1-mask) + m*y*mask (§7.1)
 *   colorize_mix:   the same in the decoupled colour space, decoupled channel 0 known (§7.2)
 *   color_transform: per pixel out_j = sum_i in_i mat[i][j] (decouple with M, couple with M^-1)
 *
 * Every update is written with the reference's operation order and FP_CONTRACT OFF, so
 * the kernels equal src/ref/sde_step_ref.c bit for bit. Outputs may alias inputs (each
 * work-item reads its elements before writing them).
 *
 * Tuning parameters (-D):
 *   VW  vector width of pc_update and inpaint_mix, 1, 2, 4, 8 or 16 (default 16, for CPUs;
 *       src/kernels/sde_step.c passes 4 to other devices); work-item g handles elements
 *       [g*VW, g*VW + VW) of one image, the partial last vector is done element by element.
 * Global ids: pc_update, inpaint_mix: id 0 = element vector within an image, id 1 = image;
 * colorize_mix, color_transform: id 0 = pixel, id 1 = image; langevin_coef: id 0 = image.
 */
#pragma OPENCL FP_CONTRACT OFF

#ifndef VW
#define VW 16
#endif

#if defined(cl_khr_fp64)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#if VW == 1
#define floatV float
#define LOADV(p, i) ((p)[i])
#define STOREV(v, p, i) ((p)[i] = (v))
#else
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define floatV CAT(float, VW)
#define LOADV(p, i) CAT(vload, VW)(0, (p) + (i))
#define STOREV(v, p, i) CAT(vstore, VW)(v, 0, (p) + (i))
#endif

#define PC_NOISE 1
#define PC_MEAN 2

__kernel void pc_update(const int per_image, const int flags, const int coef_off,
                        const int coef_stride, __global const float *restrict coef,
                        __global const float *x, __global const float *s,
                        __global const float *z, __global float *x_new, __global float *x_mean)
{
    const int g = get_global_id(0), b = get_global_id(1);
    const int base = g * VW;
    if (base >= per_image) return;
    __global const float *cb = coef + coef_off + b * coef_stride;
    const float A = cb[0], B = cb[1], S = cb[2];
    const size_t o = (size_t)b * per_image + base;
    if (base + VW <= per_image) {
        const floatV xm = A * LOADV(x, o) + B * LOADV(s, o);
        const floatV xn = (flags & PC_NOISE) ? xm + S * LOADV(z, o) : xm;
        if (flags & PC_MEAN) STOREV(xm, x_mean, o);
        STOREV(xn, x_new, o);
    } else {
        for (size_t i = o; i < (size_t)b * per_image + per_image; i++) {
            const float xm = A * x[i] + B * s[i];
            const float xn = (flags & PC_NOISE) ? xm + S * z[i] : xm;
            if (flags & PC_MEAN) x_mean[i] = xm;
            x_new[i] = xn;
        }
    }
}

/* Correctly rounded float division and square root where the device has fp64
 * (OpenCL 1.2 allows 2.5 / 3 ulp for float / and sqrt); plain float otherwise. */
#if defined(cl_khr_fp64)
#define DIV_RN(a, b) ((float)((double)(a) / (double)(b)))
#define SQRT_RN(a) ((float)sqrt((double)(a)))
#else
#define DIV_RN(a, b) ((a) / (b))
#define SQRT_RN(a) sqrt(a)
#endif

/* norm_s, norm_z: [n] per-image L2 norms (reduce.cl); coef: [n, 3]. Mirrors
 * step = (snr * zbar / gbar) ** 2 * 2 * alpha of the reference's LangevinCorrector. */
__kernel void langevin_coef(const int n, const float snr, const float a, const int batch_mean,
                            __global const float *restrict norm_s,
                            __global const float *restrict norm_z, __global float *restrict coef)
{
    const int b = get_global_id(0);
    if (b >= n) return;
    float gs, gz;
    if (batch_mean) {
        gs = 0.0f, gz = 0.0f;
        for (int j = 0; j < n; j++) gs += norm_s[j], gz += norm_z[j];
        gs = DIV_RN(gs, (float)n);
        gz = DIV_RN(gz, (float)n);
    } else {
        gs = norm_s[b];
        gz = norm_z[b];
    }
    const float r = DIV_RN(snr * gz, gs);
    const float step = r * r * 2.0f * a;
    coef[3 * b + 0] = 1.0f;
    coef[3 * b + 1] = step;
    coef[3 * b + 2] = SQRT_RN(step * 2.0f);
}

/* x, y, z, x_mean: [n, per_image]; mask: [per_image] shared (mask_stride 0) or
 * [n, per_image] (mask_stride = per_image), 1 = known. m, sigma: the forward kernel's
 * mean coefficient and std at t (same t for the batch). has_noise 0: z is not read
 * (sigma*z dropped; the initial state x = y*mask + prior*(1-mask) is m = 1 without noise). */
__kernel void inpaint_mix(const int per_image, const int mask_stride, const float m,
                          const float sigma, const int flags, __global const float *y,
                          __global const float *mask, __global const float *z,
                          __global float *x, __global float *x_mean)
{
    const int g = get_global_id(0), b = get_global_id(1);
    const int base = g * VW;
    if (base >= per_image) return;
    const size_t o = (size_t)b * per_image + base;
    __global const float *mk = mask + (size_t)b * mask_stride + base;
    if (base + VW <= per_image) {
        const floatV mv = LOADV(mk, 0), keep = 1.0f - mv;
        const floatV md_mean = m * LOADV(y, o);
        const floatV md = (flags & PC_NOISE) ? md_mean + LOADV(z, o) * sigma : md_mean;
        const floatV xn = LOADV(x, o) * keep + md * mv;
        STOREV(xn, x, o);
        if (flags & PC_MEAN) STOREV(xn * keep + md_mean * mv, x_mean, o);
    } else {
        for (int i = 0; i < per_image - base; i++) {
            const float mv = mk[i], keep = 1.0f - mv;
            const float md_mean = m * y[o + i];
            const float md = (flags & PC_NOISE) ? md_mean + z[o + i] * sigma : md_mean;
            const float xn = x[o + i] * keep + md * mv;
            x[o + i] = xn;
            if (flags & PC_MEAN) x_mean[o + i] = xn * keep + md_mean * mv;
        }
    }
}

/* mat: row-major 3x3 in the first nine lanes of a float16 (mat.s0 = mat[0][0], s1 = [0][1]...).
 * out_j = (in_0 mat[0][j] + in_1 mat[1][j]) + in_2 mat[2][j]. */
inline float3 mat_apply(const float16 mt, const float3 v)
{
    return (float3)(v.x * mt.s0 + v.y * mt.s3 + v.z * mt.s6,
                    v.x * mt.s1 + v.y * mt.s4 + v.z * mt.s7,
                    v.x * mt.s2 + v.y * mt.s5 + v.z * mt.s8);
}

/* x, y: [n, 3, hw]; y may equal x. */
__kernel void color_transform(const int hw, const float16 mt, __global const float *x,
                              __global float *y)
{
    const int p = get_global_id(0), b = get_global_id(1);
    if (p >= hw) return;
    const size_t o = (size_t)b * 3 * hw + p;
    const float3 v = mat_apply(mt, (float3)(x[o], x[o + hw], x[o + 2 * hw]));
    y[o] = v.x;
    y[o + hw] = v.y;
    y[o + 2 * hw] = v.z;
}

/* x, x_mean: [n, 3, hw] RGB state; y_dec, z: [n, 3, hw] (decoupled grey image and noise;
 * only channel 0 is read). M decouples, Minv couples. */
__kernel void colorize_mix(const int hw, const float m, const float sigma, const int flags,
                           const float16 M, const float16 Minv, __global const float *y_dec,
                           __global const float *z, __global float *x, __global float *x_mean)
{
    const int p = get_global_id(0), b = get_global_id(1);
    if (p >= hw) return;
    const size_t o = (size_t)b * 3 * hw + p;
    const float md_mean = m * y_dec[o];
    const float md = (flags & PC_NOISE) ? md_mean + z[o] * sigma : md_mean;
    const float3 w = mat_apply(M, (float3)(x[o], x[o + hw], x[o + 2 * hw]));
    /* mask = (1, 0, 0): w * (1 - mask) + md * mask, written out so -0 and NaN behave as
     * in the reference's two products and one sum */
    const float3 wn = (float3)(w.x * 0.0f + md * 1.0f, w.y * 1.0f + md * 0.0f,
                               w.z * 1.0f + md * 0.0f);
    const float3 xn = mat_apply(Minv, wn);
    x[o] = xn.x;
    x[o + hw] = xn.y;
    x[o + 2 * hw] = xn.z;
    if (flags & PC_MEAN) {
        const float3 w2 = mat_apply(M, xn);
        const float3 wm = (float3)(w2.x * 0.0f + md_mean * 1.0f, w2.y * 1.0f + md_mean * 0.0f,
                                   w2.z * 1.0f + md_mean * 0.0f);
        const float3 xm = mat_apply(Minv, wm);
        x_mean[o] = xm.x;
        x_mean[o + hw] = xm.y;
        x_mean[o + 2 * hw] = xm.z;
    }
}
