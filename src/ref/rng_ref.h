/*
 * rng_ref.h — counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, "Parallel
 * random numbers: as easy as 1, 2, 3"; Random123) and the Box–Muller map to N(0,1).
 * This is the plain-C definition that cl/rng.cl must reproduce; the layout below is the
 * contract that makes noise independent of batch split, work-group size and device.
 *
 * One Philox call = one block of 4 uint32 words:
 *   key     = (seed_lo, seed_hi)                       the 64-bit user seed
 *   counter = (block, image, step, stream)
 *             block  = element index within the image / 4  (element e uses word e % 4)
 *             image  = absolute image index (first_image + local index), not the batch slot
 *             step   = sampler step (or any caller-chosen index)
 *             stream = what the noise is for at that step, see clsde_rng_stream()
 * Normal: words (w0, w1) -> elements 0, 1 of the block and (w2, w3) -> elements 2, 3 by
 *   rho = sqrt(-2 ln u1), u1 = (w_even + 1) * 2^-32 in (0, 1]
 *   (z_even, z_odd) = rho * (cos 2 pi u2, sin 2 pi u2),   u2 = w_odd * 2^-32 in [0, 1)
 * evaluated without cancellation: ln u1 = log1p(-(2^32 - 1 - w) 2^-32) (exact argument; the
 * float path takes ln u1 directly below u1 = 1/2), and the angle reduced exactly to an
 * octant so sin/cos only see [0, pi/4].
 * Uniform: (w >> 8) * 2^-24 in [0, 1), exact.  Rademacher: +1 if bit 31 of w is set, else -1.
 * Every element uses its own word, so element e of image k is the same whatever else is drawn.
 */
#ifndef CLSDE_RNG_REF_H
#define CLSDE_RNG_REF_H

#include <stdint.h>

/* Streams: kind << 24 | sub-index (corrector inner step, mixing stage, ...). */
typedef enum clsde_rng_kind {
    CLSDE_RNG_PRIOR = 1,     /* prior sample x_T (step 0) */
    CLSDE_RNG_CORRECTOR = 2, /* Langevin / ALD noise; sub = inner step j < n_steps_each */
    CLSDE_RNG_PREDICTOR = 3, /* predictor noise */
    CLSDE_RNG_MIX = 4,       /* inpainting / colorization z'; sub 0 after the corrector,
                                1 after the predictor */
    CLSDE_RNG_PROBE = 5,     /* Hutchinson probe of the likelihood (Rademacher or Gaussian) */
    CLSDE_RNG_DEQUANT = 6    /* uniform dequantisation noise */
} clsde_rng_kind;

static inline uint32_t clsde_rng_stream(clsde_rng_kind kind, uint32_t sub)
{
    return (uint32_t)kind << 24 | (sub & 0xffffffu);
}

typedef enum clsde_rng_dist {
    CLSDE_RNG_NORMAL = 0,
    CLSDE_RNG_UNIFORM = 1,
    CLSDE_RNG_RADEMACHER = 2,
    CLSDE_RNG_BITS = 3       /* the raw words, reinterpreted as float bit patterns (tests) */
} clsde_rng_dist;

typedef struct clsde_rng_params {
    uint64_t seed;
    uint32_t first_image;  /* absolute index of the first image written */
    uint32_t n_images;     /* out: [n_images, per_image] */
    uint32_t per_image;    /* elements per image, C*H*W */
    uint32_t step;
    uint32_t stream;       /* clsde_rng_stream(kind, sub) */
    clsde_rng_dist dist;
    int32_t fp32;          /* normal only: 1 = Box–Muller in float (the kernel's path on
                              devices without cl_khr_fp64), 0 = in double */
} clsde_rng_params;

/* Philox4x32 with R rounds (10 for everything in clsde; R is there for the KAT of Random123). */
void clsde_philox4x32(int rounds, const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The four floats of one block from its four words (dist as above; fp32 as in params). */
void clsde_rng_block_ref(clsde_rng_dist dist, int fp32, const uint32_t w[4], float out[4]);

/* out: [n_images, per_image], image b gets absolute index first_image + b. */
void clsde_rng_ref(const clsde_rng_params *p, float *out);

#endif
