/*
 * check_rng.c — cl/rng.cl against src/ref/rng_ref.c.
 * The Philox words themselves (dist CLSDE_RNG_BITS) and the uniform and Rademacher values,
 * exact functions of them, are compared bit for bit. Normals: the double Box–Muller path rounds a value accurate to ~1e-15 to float, so
 * kernel and reference agree to 2 ulp (2.4e-7 relative); the float path (-DRNG_FP32=1,
 * what devices without fp64 run) uses the device's float log/log1p/sqrt/sin/cos, whose
 * OpenCL bounds (3-4 ulp each) add up to 16 ulp (1.9e-6 relative) at most.
 * Also: batch-split and work-group-size invariance (bit for bit) and the moments of
 * 1e6 device normals (8e3 under Oclgrind) with ~5-standard-error bounds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkkern.h"
#include "kernels/rng.h"
#include "program.h"

static uint32_t rand_u32(checkkern *c)
{
    return (uint32_t)(ck_rand(c) >> 32);
}

static size_t random_per_image(checkkern *c)
{
    static const int edge[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 63, 64, 65, 255, 257, 3072};
    if (ck_randint(c, 0, 1)) return (size_t)ck_pick(c, edge, 15);
    return (size_t)ck_randint(c, 1, c->small ? 300 : 20000);
}

static void random_params(checkkern *c, clsde_rng_params *p, clsde_rng_dist dist)
{
    memset(p, 0, sizeof *p);
    p->seed = ck_rand(c);
    p->first_image = ck_randint(c, 0, 1) ? rand_u32(c) >> 2 : (uint32_t)ck_randint(c, 0, 9);
    p->n_images = (uint32_t)ck_randint(c, 1, 4);
    p->per_image = (uint32_t)random_per_image(c);
    p->step = ck_randint(c, 0, 1) ? rand_u32(c) : (uint32_t)ck_randint(c, 0, 2000);
    p->stream = clsde_rng_stream((clsde_rng_kind)ck_randint(c, 1, 6),
                                 (uint32_t)ck_randint(c, 0, 3));
    p->dist = dist;
    p->fp32 = dist == CLSDE_RNG_NORMAL && ck_randint(c, 0, 2) == 0;
}

static void check_values(checkkern *c, clsde_rng_dist dist)
{
    clsde_rng_params p;
    size_t n;
    float *got, *ref;
    ck_buf b;
    char shape[160];
    double rtol = 0;
    random_params(c, &p, dist);
    n = (size_t)p.n_images * p.per_image;
    got = ck_alloc(n), ref = ck_alloc(n);
    if (dist == CLSDE_RNG_NORMAL) rtol = clsde_rng_uses_fp32(c->ctx, &p) ? 1.9e-6 : 2.4e-7;
    snprintf(shape, sizeof shape, "%ux%u first %u step %u stream %#x dist %d fp32 %d",
             (unsigned)p.n_images, (unsigned)p.per_image, (unsigned)p.first_image,
             (unsigned)p.step, (unsigned)p.stream, (int)dist, clsde_rng_uses_fp32(c->ctx, &p));
    {
        clsde_rng_params r = p;
        r.fp32 = clsde_rng_uses_fp32(c->ctx, &p);
        clsde_rng_ref(&r, ref);
    }
    b = ck_upload(c, NULL, n);
    if (!ck_status(c, clsde_rng_enqueue(c->ctx, &p, b.mem), "rng") &&
        !ck_download(c, &b, got, "rng")) {
        if (dist != CLSDE_RNG_BITS) {
            ck_compare(c, "rng", shape, got, ref, n, 0, rtol);
        } else {
            /* the Philox words themselves; NaN patterns included, so compare bits */
            c->checks++;
            for (size_t i = 0; i < n; i++)
                if (memcmp(&got[i], &ref[i], sizeof *got) != 0) {
                    uint32_t g, r;
                    memcpy(&g, &got[i], 4), memcpy(&r, &ref[i], 4);
                    fprintf(stderr, "FAIL rng: words %s: index %zu: got %08x, reference %08x "
                                    "(seed %llu)\n", shape, i, (unsigned)g, (unsigned)r,
                            (unsigned long long)c->seed);
                    c->failures++;
                    break;
                }
        }
    }
    ck_free(&b);
    free(got), free(ref);
}

/* The same images drawn as one batch, as two calls into sub-ranges, and through the
 * kernel with other work-group sizes must be identical bit for bit. */
static void check_invariance(checkkern *c)
{
    clsde_rng_params p, q;
    size_t n, k;
    float *whole, *split;
    ck_buf b;
    char shape[128];
    random_params(c, &p, CLSDE_RNG_NORMAL);
    p.n_images = (uint32_t)ck_randint(c, 2, 5);
    if (c->small && p.per_image > 67) p.per_image = 67; /* five runs of the kernel follow */
    n = (size_t)p.n_images * p.per_image;
    k = (size_t)ck_randint(c, 1, (int)p.n_images - 1);
    whole = ck_alloc(n), split = ck_alloc(n);
    snprintf(shape, sizeof shape, "%ux%u split at %zu", (unsigned)p.n_images,
             (unsigned)p.per_image, k);
    b = ck_upload(c, NULL, n);
    if (ck_status(c, clsde_rng_enqueue(c->ctx, &p, b.mem), "rng whole") ||
        ck_download(c, &b, whole, "rng whole"))
        goto done;
    ck_free(&b);
    /* images [first, first + k) into one buffer, the rest into another */
    q = p, q.n_images = (uint32_t)k;
    b = ck_upload(c, NULL, k * p.per_image);
    if (ck_status(c, clsde_rng_enqueue(c->ctx, &q, b.mem), "rng part 1") ||
        ck_download(c, &b, split, "rng part 1"))
        goto done;
    ck_free(&b);
    q.first_image = p.first_image + (uint32_t)k, q.n_images = p.n_images - (uint32_t)k;
    b = ck_upload(c, NULL, (p.n_images - k) * p.per_image);
    if (ck_status(c, clsde_rng_enqueue(c->ctx, &q, b.mem), "rng part 2") ||
        ck_download(c, &b, split + k * p.per_image, "rng part 2"))
        goto done;
    ck_compare(c, "rng batch split", shape, split, whole, n, 0, 0);
    ck_free(&b);
    /* other work-group shapes, straight through the kernel */
    {
        /* id 1 (image) is never padded: its local size stays 1, as in the wrapper */
        static const size_t lws_choices[][2] = {{7, 1}, {32, 1}};
        const char *opts = p.fp32 ? "-DRNG_FP32=1" : "";
        const cl_uint seed_lo = (cl_uint)p.seed, seed_hi = (cl_uint)(p.seed >> 32);
        const cl_int dist = 0;
        cl_kernel kern;
        b = ck_upload(c, NULL, n);
        if (ck_status(c, clsde_kernel_get(c->ctx, "rng.cl", opts, "rng_fill", &kern), "kernel"))
            goto done;
        for (int v = 0; v < 2; v++) {
            const size_t gws[2] = {((size_t)p.per_image + 3) / 4, p.n_images};
            clsde_status st = CLSDE_OK;
            if (clSetKernelArg(kern, 0, sizeof(cl_uint), &p.per_image) ||
                clSetKernelArg(kern, 1, sizeof(cl_uint), &p.first_image) ||
                clSetKernelArg(kern, 2, sizeof(cl_uint), &seed_lo) ||
                clSetKernelArg(kern, 3, sizeof(cl_uint), &seed_hi) ||
                clSetKernelArg(kern, 4, sizeof(cl_uint), &p.step) ||
                clSetKernelArg(kern, 5, sizeof(cl_uint), &p.stream) ||
                clSetKernelArg(kern, 6, sizeof(cl_int), &dist) ||
                clSetKernelArg(kern, 7, sizeof(cl_mem), &b.mem)) {
                fprintf(stderr, "FAIL rng: clSetKernelArg\n");
                c->failures++;
                break;
            }
            st = clsde_enqueue(c->ctx, kern, "rng_fill", 2, gws, lws_choices[v]);
            if (ck_status(c, st, "rng other work-group") ||
                ck_download(c, &b, split, "rng other work-group"))
                break;
            ck_compare(c, "rng work-group size", shape, split, whole, n, 0, 0);
        }
    }
done:
    ck_free(&b);
    free(whole), free(split);
}

/* Device moments: mean, variance, 4th moment, tail mass and the correlation of
 * neighbours (the two outputs of one Box–Muller pair). Bounds ~5 standard errors. */
static void check_moments(checkkern *c, int fp32)
{
    clsde_rng_params p;
    size_t n;
    float *z;
    ck_buf b;
    double s1 = 0, s2 = 0, s4 = 0, tail = 0, pair = 0;
    memset(&p, 0, sizeof p);
    p.seed = ck_rand(c), p.first_image = 5, p.n_images = 4;
    p.per_image = c->small ? 2000 : 250000;
    p.step = 3, p.stream = clsde_rng_stream(CLSDE_RNG_CORRECTOR, 0), p.fp32 = fp32;
    n = (size_t)p.n_images * p.per_image;
    z = ck_alloc(n);
    b = ck_upload(c, NULL, n);
    if (!ck_status(c, clsde_rng_enqueue(c->ctx, &p, b.mem), "rng moments") &&
        !ck_download(c, &b, z, "rng moments")) {
        const double se = 1 / sqrt((double)n);
        int ok;
        for (size_t i = 0; i < n; i++) {
            const double v = z[i];
            s1 += v, s2 += v * v, s4 += v * v * v * v, tail += fabs(v) > 2.5;
            if (i % 2) pair += v * z[i - 1];
        }
        s1 /= n, s2 /= n, s4 /= n, tail /= n, pair /= n / 2;
        ok = fabs(s1) < 5 * se && fabs(s2 - 1) < 5 * sqrt(2.0) * se &&
             fabs(s4 - 3) < 5 * sqrt(96.0) * se && fabs(tail - 0.0124193) < 5 * sqrt(0.0123) * se &&
             fabs(pair) < 5 * sqrt(2.0) * se;
        c->checks++;
        if (!ok) {
            fprintf(stderr, "FAIL rng: moments of %zu normals (fp32 %d): mean %.5f var %.5f "
                            "m4 %.4f P(|z|>2.5) %.5f pair corr %.5f (seed %llu)\n",
                    n, fp32, s1, s2, s4, tail, pair, (unsigned long long)c->seed);
            c->failures++;
        }
    }
    ck_free(&b);
    free(z);
}

void check_rng(checkkern *c)
{
    const int reps = c->small ? 2 : 8;
    for (int r = 0; r < reps; r++) {
        check_values(c, CLSDE_RNG_NORMAL);
        check_values(c, CLSDE_RNG_UNIFORM);
        check_values(c, CLSDE_RNG_RADEMACHER);
        check_values(c, CLSDE_RNG_BITS);
        check_invariance(c);
    }
    check_moments(c, 0);
    check_moments(c, 1);
}
