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
    const ulong p0 = (ulong)PHILOX_M0 * c.x, p1 = (ulong)PHILOX_M1 * c.z;
    return (uint4)((uint)(p1 >> 32) ^ c.y ^ k.x, (uint)p1, (uint)(p0 >> 32) ^ c.w ^ k.y, (uint)p0);
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

/* (z0, z1) from the word pair (a, b); see rng_ref.h for the map. Branch-free (select
 * instead of if/else) so that implicit vectorisers such as PoCL's keep the work-items in
 * lock-step; on the float path both logarithms are computed and one is selected. */
inline float2 box_muller(const uint a, const uint b)
{
    const uint o = b >> 29, g = b & 0x1fffffffu;
    const uint q = o == 7u ? 0u : (o + 1u) >> 1; /* quarter turns (not "& 3": Oclgrind 21.10
                                                    mis-evaluates that form) */
    const uint odd = o & 1u;
    const uint m = odd ? 0x20000000u - g : g;
#if RNG_USE_DOUBLE
    /* u1 - 1 = -(2^32 - 1 - a) 2^-32 exactly, so log1p covers all of (0, 1] */
    const double rho = sqrt(-2.0 * log1p(-(double)(0xffffffffu - a) * 0x1p-32));
    const double psi = 6.283185307179586 * (double)m * 0x1p-32;
    const double c = cos(psi), s = odd ? -sin(psi) : sin(psi);
    const double zc = (q & 1u) ? -s : c, zs = (q & 1u) ? c : s;
    const double sg = (q & 2u) ? -1.0 : 1.0;
    return (float2)((float)(rho * (sg * zc)), (float)(rho * (sg * zs)));
#else
    /* float cannot hold u1 - 1 near u1 = 0: ln u1 directly below 1/2, log1p above */
    const float l0 = log(convert_float(min(a, 0x7fffffffu) + 1u) * 0x1p-32f);
    const float l1 = log1p(-convert_float(0xffffffffu - max(a, 0x80000000u)) * 0x1p-32f);
    const float rho = sqrt(-2.0f * (a < 0x80000000u ? l0 : l1));
    const float psi = convert_float(m) * 0x1p-32f * 6.28318548f;
    const float c = cos(psi), s = odd ? -sin(psi) : sin(psi);
    const float zc = (q & 1u) ? -s : c, zs = (q & 1u) ? c : s;
    const float sg = (q & 2u) ? -1.0f : 1.0f;
    return (float2)(rho * (sg * zc), rho * (sg * zs));
#endif
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

/* dist: 0 normal, 1 uniform [0, 1), 2 Rademacher, 3 the raw words as float bit patterns
 * (clsde_rng_dist; 3 lets the checker compare the Philox words bit for bit). */
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
    } else if (dist == 2) {
        v = select((float4)(-1.0f), (float4)(1.0f), (w >> 31u) != 0u);
    } else {
        v = as_float4(w);
    }
    store_block(v, out + (size_t)b * per_image + e, per_image - e);
}
