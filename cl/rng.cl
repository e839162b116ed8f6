/*
 * rng.cl — counter-based noise: Philox4x32-10 + Box–Muller (normal), uniform [0, 1),
 * Rademacher +-1, written to out[n_images, per_image]. The key/counter layout and the
 * maps from words to floats are defined in src/ref/rng_ref.h (the C reference):
 *   key = (seed_lo, seed_hi), counter = (element / 4, first_image + b, step, stream).
 * Element e of absolute image k therefore gets the same value whatever the batch split,
 * the work-group size or the device (integers bit-exact; normals rounded from double
 * on cl_khr_fp64 devices, from float math elsewhere).
 *
 * Tuning / variant parameters (-D):
 *   RNG_FP32  0 (default): Box–Muller in double when the device has cl_khr_fp64;
 *             1: always in float (the path of devices without fp64; lets the checker test it).
 * Global id 0: block j (elements 4j .. 4j+3 of the image), id 1: image b in the batch
 * (enqueued with local size 1 in that dimension, so it is never padded).
 * The last block of an image is partial when per_image % 4 != 0: its extra words are
 * computed and dropped. No local memory, any work-group size.
 */
#pragma OPENCL FP_CONTRACT OFF

#ifndef RNG_FP32
#define RNG_FP32 0
#endif

#if defined(cl_khr_fp64) && !RNG_FP32
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define RNG_USE_DOUBLE 1
#else
#define RNG_USE_DOUBLE 0
#endif

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

inline uint4 philox_round(const uint4 c, const uint2 k)
{
    const uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
    const uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
    return (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
}

inline uint4 philox4x32_10(uint4 c, uint2 k)
{
    c = philox_round(c, k);
    for (int r = 1; r < 10; r++) {
        k += (uint2)(PHILOX_W0, PHILOX_W1);
        c = philox_round(c, k);
    }
    return c;
}

/* (z0, z1) from the word pair (a, b); see rng_ref.h for why each branch. */
inline float2 box_muller(const uint a, const uint b)
{
    const uint o = b >> 29, g = b & 0x1fffffffu;
    const uint q = o == 7u ? 0u : (o + 1u) >> 1; /* quarter turns (not & 3: Oclgrind 21.10 mis-evaluates that form) */
    float cz, sz;
#if RNG_USE_DOUBLE
    const double r2 = a < 0x80000000u ? -2.0 * log(((double)a + 1.0) * 0x1p-32)
                                      : -2.0 * log1p(-(double)(0xffffffffu - a) * 0x1p-32);
    const double rho = sqrt(r2);
    const double psi = 6.283185307179586 * (double)((o & 1u) ? 0x20000000u - g : g) * 0x1p-32;
    const double c = cos(psi), s = (o & 1u) ? -sin(psi) : sin(psi);
    double zc, zs;
    if (q == 0) { zc = c; zs = s; }
    else if (q == 1) { zc = -s; zs = c; }
    else if (q == 2) { zc = -c; zs = -s; }
    else { zc = s; zs = -c; }
    cz = (float)(rho * zc);
    sz = (float)(rho * zs);
#else
    const float r2 = a < 0x80000000u ? -2.0f * log(convert_float(a + 1u) * 0x1p-32f)
                                     : -2.0f * log1p(-convert_float(0xffffffffu - a) * 0x1p-32f);
    const float rho = sqrt(r2);
    const float psi = convert_float((o & 1u) ? 0x20000000u - g : g) * 0x1p-32f * 6.28318548f;
    const float c = cos(psi), s = (o & 1u) ? -sin(psi) : sin(psi);
    float zc, zs;
    if (q == 0) { zc = c; zs = s; }
    else if (q == 1) { zc = -s; zs = c; }
    else if (q == 2) { zc = -c; zs = -s; }
    else { zc = s; zs = -c; }
    cz = rho * zc;
    sz = rho * zs;
#endif
    return (float2)(cz, sz);
}

inline uint4 block_words(const uint j, const uint image, const uint step, const uint stream,
                         const uint seed_lo, const uint seed_hi)
{
    return philox4x32_10((uint4)(j, image, step, stream), (uint2)(seed_lo, seed_hi));
}

inline void store_block(const float4 v, __global float *restrict dst, const uint left)
{
    if (left >= 4) {
        vstore4(v, 0, dst);
    } else {
        dst[0] = v.x;
        if (left > 1) dst[1] = v.y;
        if (left > 2) dst[2] = v.z;
    }
}

/* dist: 0 normal, 1 uniform [0, 1), 2 Rademacher (clsde_rng_dist). */
__kernel void rng_fill(const uint per_image, const uint first_image, const uint seed_lo,
                       const uint seed_hi, const uint step, const uint stream, const int dist,
                       __global float *restrict out)
{
    const uint j = get_global_id(0), b = get_global_id(1);
    const uint e = j * 4u;
    if (e >= per_image) return;
    const uint4 w = block_words(j, first_image + b, step, stream, seed_lo, seed_hi);
    float4 v;
    if (dist == 0) {
        const float2 z01 = box_muller(w.x, w.y), z23 = box_muller(w.z, w.w);
        v = (float4)(z01, z23);
    } else if (dist == 1) {
        v = convert_float4(w >> 8u) * 0x1p-24f;
    } else {
        v = select((float4)(-1.0f), (float4)(1.0f), (w >> 31u) != 0u);
    }
    store_block(v, out + (size_t)b * per_image + e, per_image - e);
}
