/*
 * rng_ref.c — the definition of correct for cl/rng.cl: Philox4x32-R and the word-to-float
 * maps documented in rng_ref.h. Checked against Random123's known-answer vectors in
 * tests/unit/test_rng.c. Plain C, no OpenCL; relies on ISO C11 float semantics (no
 * contraction, -std=c11) so the float path rounds exactly as the kernel's.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "rng_ref.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void clsde_philox4x32(int rounds, const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < rounds; r++) {
        uint64_t p0, p1;
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        p0 = (uint64_t)PHILOX_M0 * c0;
        p1 = (uint64_t)PHILOX_M1 * c2;
        c0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        c1 = (uint32_t)p1;
        c2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c3 = (uint32_t)p0;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* u1 = (a + 1) 2^-32 in (0, 1] and u1 - 1 = -(2^32 - 1 - a) 2^-32 exactly, so in double
 * ln u1 = log1p(u1 - 1) is accurate everywhere, including near u1 = 1 where rho is small.
 * The angle 2 pi b 2^-32 is split into octant o and offset; odd octants measure from
 * their upper end so that sin/cos only see [0, pi/4] and values near zero stay
 * relatively accurate; q quarter turns and a sign then place it. */
static void box_muller_d(uint32_t a, uint32_t b, float *z0, float *z1)
{
    const uint32_t o = b >> 29, g = b & 0x1fffffffu, q = o == 7u ? 0u : (o + 1u) >> 1;
    const uint32_t odd = o & 1u, m = odd ? 0x20000000u - g : g;
    const double rho = sqrt(-2.0 * log1p(-(double)(0xffffffffu - a) * 0x1p-32));
    const double psi = 6.283185307179586 * (double)m * 0x1p-32;
    const double c = cos(psi), s = odd ? -sin(psi) : sin(psi);
    const double zc = (q & 1u) ? -s : c, zs = (q & 1u) ? c : s;
    const double sg = (q & 2u) ? -1.0 : 1.0;
    *z0 = (float)(rho * (sg * zc));
    *z1 = (float)(rho * (sg * zs));
}

/* The same in float, operation for operation as the kernel's RNG_FP32 path. float cannot
 * hold u1 - 1 near u1 = 0, so ln u1 is taken directly below 1/2 and as log1p above. The
 * kernel's float log/log1p/sqrt/sin/cos may differ from libm by the OpenCL ULP bounds. */
static void box_muller_f(uint32_t a, uint32_t b, float *z0, float *z1)
{
    const uint32_t o = b >> 29, g = b & 0x1fffffffu, q = o == 7u ? 0u : (o + 1u) >> 1;
    const uint32_t odd = o & 1u, m = odd ? 0x20000000u - g : g;
    const float r2 = a < 0x80000000u ? -2.0f * logf((float)(a + 1u) * 0x1p-32f)
                                     : -2.0f * log1pf(-(float)(0xffffffffu - a) * 0x1p-32f);
    const float rho = sqrtf(r2);
    const float psi = (float)m * 0x1p-32f * 6.28318548f;
    const float c = cosf(psi), s = odd ? -sinf(psi) : sinf(psi);
    const float zc = (q & 1u) ? -s : c, zs = (q & 1u) ? c : s;
    const float sg = (q & 2u) ? -1.0f : 1.0f;
    *z0 = rho * (sg * zc);
    *z1 = rho * (sg * zs);
}

void clsde_rng_block_ref(clsde_rng_dist dist, int fp32, const uint32_t w[4], float out[4])
{
    switch (dist) {
    case CLSDE_RNG_NORMAL:
        if (fp32) {
            box_muller_f(w[0], w[1], &out[0], &out[1]);
            box_muller_f(w[2], w[3], &out[2], &out[3]);
        } else {
            box_muller_d(w[0], w[1], &out[0], &out[1]);
            box_muller_d(w[2], w[3], &out[2], &out[3]);
        }
        break;
    case CLSDE_RNG_UNIFORM:
        for (int l = 0; l < 4; l++) out[l] = (float)(w[l] >> 8) * 0x1p-24f;
        break;
    case CLSDE_RNG_BITS:
        memcpy(out, w, 4 * sizeof *out);
        break;
    case CLSDE_RNG_RADEMACHER:
        for (int l = 0; l < 4; l++) out[l] = (w[l] >> 31) ? 1.0f : -1.0f;
        break;
    }
}

void clsde_rng_ref(const clsde_rng_params *p, float *out)
{
    const uint32_t key[2] = {(uint32_t)p->seed, (uint32_t)(p->seed >> 32)};
    for (uint32_t b = 0; b < p->n_images; b++) {
        float *dst = out + (size_t)b * p->per_image;
        for (uint32_t e = 0; e < p->per_image; e += 4) {
            const uint32_t ctr[4] = {e / 4, p->first_image + b, p->step, p->stream};
            uint32_t w[4];
            float v[4];
            clsde_philox4x32(10, ctr, key, w);
            clsde_rng_block_ref(p->dist, p->fp32, w, v);
            for (uint32_t l = 0; l < 4 && e + l < p->per_image; l++) dst[e + l] = v[l];
        }
    }
}
