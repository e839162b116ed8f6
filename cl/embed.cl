/*
 * embed.cl — time / noise-level embeddings (networks.md §1.2), out [n, ...] per image b:
 *   fourier_embed:    p_k = ((ln(sigma_b) * W_k) * 2) * (float)pi     k < nf
 *                     out[b] = [sin(p_0 .. p_nf-1), cos(p_0 .. p_nf-1)]
 *   sinusoidal_embed: f_k = exp((float)k * neg_c), a_k = label_b * f_k     k < half = dim/2
 *                     out[b] = [sin(a_0 ..), cos(a_0 ..)] (+ one 0 when dim is odd)
 * The float32 arguments are formed with the reference's float32 operations in its order
 * (FP_CONTRACT off, so no fused multiply-add can change a rounding). The arguments reach
 * ~2.5e3 rad, where one float ulp is ~2.4e-4 rad, so ln, exp, sin and cos must be accurate:
 *   - with cl_khr_fp64 they are evaluated in double and rounded to float, which gives the
 *     correctly rounded float result except when the double result lies within a few
 *     double ulps of a float rounding boundary (then 1 float ulp off): this matches the C
 *     reference (src/ref/embed_ref.c) bit for bit in practice;
 *   - without fp64 the float built-ins are used: the OpenCL 1.2 full profile bounds sin
 *     and cos to 4 ulp for every finite argument (correct range reduction), log and exp
 *     to 3 ulp. A log or exp that is 1 ulp off moves every Fourier argument p_k (or a
 *     sinusoidal a_k) by one rounding of the argument, i.e. features change by up to
 *     ~2e-4 absolute: within the spec's conformance tolerance for the embedding, not
 *     bit-exact.
 * -DEMBED_FLOAT_ONLY=1 selects the float path on any device (a test hook: the checker
 * tests both paths on PoCL).
 * Global id 0: feature k, id 1: image b. No tuning parameters (a few hundred values).
 */
#pragma OPENCL FP_CONTRACT OFF

#if defined(cl_khr_fp64) && !defined(EMBED_FLOAT_ONLY)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define EMB_LOG(x) ((float)log((double)(x)))
#define EMB_EXP(x) ((float)exp((double)(x)))
#define EMB_SIN(x) ((float)sin((double)(x)))
#define EMB_COS(x) ((float)cos((double)(x)))
#else
#define EMB_LOG(x) log(x)
#define EMB_EXP(x) exp(x)
#define EMB_SIN(x) sin(x)
#define EMB_COS(x) cos(x)
#endif

/* pi rounded to float32, as np.pi is when PyTorch multiplies a float32 tensor by it */
#define PI_F 0x1.921fb6p+1f

/* sigma: [n], W: [nf], out: [n, 2*nf] */
__kernel void fourier_embed(const int nf, __global const float *restrict sigma,
                            __global const float *restrict W, __global float *restrict out)
{
    const int k = get_global_id(0), b = get_global_id(1);
    float p;
    if (k >= nf) return;
    p = ((EMB_LOG(sigma[b]) * W[k]) * 2.0f) * PI_F;
    out[(size_t)b * 2 * nf + k] = EMB_SIN(p);
    out[(size_t)b * 2 * nf + nf + k] = EMB_COS(p);
}

/* label: [n], out: [n, dim]; neg_c = (float)(-ln(10000) / (half - 1)) from the host */
__kernel void sinusoidal_embed(const int dim, const float neg_c,
                               __global const float *restrict label,
                               __global float *restrict out)
{
    const int k = get_global_id(0), b = get_global_id(1), nh = dim / 2;
    float a;
    __global float *ob = out + (size_t)b * dim;
    if (k >= nh) return;
    a = label[b] * EMB_EXP((float)k * neg_c);
    ob[k] = EMB_SIN(a);
    ob[nh + k] = EMB_COS(a);
    if (k == 0 && (dim & 1)) ob[dim - 1] = 0.0f;
}
