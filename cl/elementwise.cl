/*
 * elementwise.cl — memory-bound elementwise ops on flat float arrays:
 *   silu:   y[i] = x[i] * sigmoid(x[i])
 *   silu_jvp: ty[i] = silu'(x[i]) * tx[i], the tangent of silu (ty may alias tx)
 *   axpby:  y[i] = a * x[i] + b * y2[i]          (y may alias x or y2)
 *   scale_add_bc: y[n,c,i] = a * x[n,c,i] + b[n*C + c]   (per-(batch, channel) bias)
 *   scale_per_image: y[b,i] = x[b,i] * s[b]  or  x[b,i] / s[b]
 *   affine: y[i] = a * x[i] + b
 *
 * Tuning parameters (-D):
 *   VW  vector width, 1, 2, 4, 8 or 16 (default 16: best on PoCL, see BENCHMARKS.md). Work-item g handles elements
 *       [g*VW, g*VW + VW); the last, partial vector is done element by element.
 * Global id 0 maps to the element (vector) index; the wrapper rounds the global
 * size up to the work-group size, so every kernel guards against g*VW >= n.
 */
#ifndef VW
#define VW 16
#endif

#if VW == 1
#define floatV float
#define LOADV(p, i) ((p)[i])
#define STOREV(v, p, i) ((p)[i] = (v))
#else
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define floatV CAT(float, VW)
#define LOADV(p, i) CAT(vload, VW)(i, p)
#define STOREV(v, p, i) CAT(vstore, VW)(v, i, p)
#endif

__kernel void silu(const int n, __global const float *restrict x, __global float *restrict y)
{
    const int g = get_global_id(0);
    const int base = g * VW;
    if (base + VW <= n) {
        const floatV v = LOADV(x, g);
        STOREV(v / ((floatV)1.0f + exp(-v)), y, g);
    } else {
        for (int i = base; i < n; i++) y[i] = clsde_silu(x[i]);
    }
}

/* No restrict: ty may be tx (each work-item reads its elements before writing them). */
__kernel void silu_jvp(const int n, __global const float *x, __global const float *tx,
                       __global float *ty)
{
    const int g = get_global_id(0);
    const int base = g * VW;
    if (base + VW <= n) {
        floatV d;
        CLSDE_SILU_GRAD(floatV, LOADV(x, g), d);
        STOREV(d * LOADV(tx, g), ty, g);
    } else {
        for (int i = base; i < n; i++) {
            float d;
            CLSDE_SILU_GRAD(float, x[i], d);
            ty[i] = d * tx[i];
        }
    }
}

__kernel void axpby(const int n, const float a, __global const float *x, const float b,
                    __global const float *y2, __global float *y)
{
    const int g = get_global_id(0);
    const int base = g * VW;
    if (base + VW <= n) {
        const floatV r = a * LOADV(x, g) + b * LOADV(y2, g);
        STOREV(r, y, g);
    } else {
        for (int i = base; i < n; i++) y[i] = a * x[i] + b * y2[i];
    }
}

/* x, y: [N, C, HW]; bias: [N, C]. Global id 0: element (vector) within a plane,
 * id 1: n*C + c. HW need not be a multiple of VW. */
__kernel void scale_add_bc(const int hw, const float a, __global const float *x,
                           __global const float *restrict bias, __global float *y)
{
    const int g = get_global_id(0);
    const int plane = get_global_id(1);
    const int base = g * VW;
    const float b = bias[plane];
    __global const float *xp = x + (size_t)plane * hw;
    __global float *yp = y + (size_t)plane * hw;
    if (base >= hw) return;
    for (int i = base; i < min(base + VW, hw); i++) yp[i] = a * xp[i] + b;
}

/* x, y: [N, per_image]; id 0: element (vector) in the image, id 1: image b. */
__kernel void scale_per_image(const int per_image, const int divide,
                              __global const float *restrict s, __global const float *x,
                              __global float *y)
{
    const int g = get_global_id(0);
    const int b = get_global_id(1);
    const int base = g * VW;
    const float sb = s[b];
    __global const float *xp = x + (size_t)b * per_image;
    __global float *yp = y + (size_t)b * per_image;
    if (base >= per_image) return;
    if (divide)
        for (int i = base; i < min(base + VW, per_image); i++) yp[i] = xp[i] / sb;
    else
        for (int i = base; i < min(base + VW, per_image); i++) yp[i] = xp[i] * sb;
}

__kernel void affine(const int n, const float a, const float b, __global const float *x,
                     __global float *y)
{
    const int g = get_global_id(0);
    const int base = g * VW;
    if (base + VW <= n) {
        STOREV(a * LOADV(x, g) + b, y, g);
    } else {
        for (int i = base; i < n; i++) y[i] = a * x[i] + b;
    }
}
