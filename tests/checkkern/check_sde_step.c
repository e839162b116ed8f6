/*
 * check_sde_step.c — cl/sde_step.cl against src/ref/sde_step_ref.c.
 * Every update is a fixed sequence of single float operations with FP_CONTRACT OFF on
 * both sides, so pc_update, inpaint_mix, color_transform and colorize_mix must match bit
 * for bit (tolerance 0). langevin_coef divides and takes a square root: bit for bit on
 * fp64 devices (correctly rounded through double), 4 ulp (5e-7) otherwise.
 * Plus properties independent of the reference: the Langevin step on a hand-computed
 * batch (§9.5 item 4), M^-1 M = I, and the colorization mix replacing exactly the
 * decoupled grey channel.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkkern.h"
#include "kernels/sde_step.h"
#include "sde.h"

static int random_per_image(checkkern *c)
{
    static const int edge[] = {1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 255, 257, 768};
    if (ck_randint(c, 0, 1)) return ck_pick(c, edge, 13);
    return ck_randint(c, 1, c->small ? 300 : 30000);
}

/* Vector width and work-group size: the device's (-1) or one of these, so that every
 * vector width and its scalar tail is checked on any device. */
static const int vec_shapes[][2] = {{1, 64}, {2, 8}, {4, 64}, {8, 1}, {16, 16}, {16, 1}};

static int random_vec_shape(checkkern *c)
{
    const int v = ck_randint(c, 0, 1) ? -1 : ck_randint(c, 0, 5);
    return v >= 0 && vec_shapes[v][1] > c->ctx->info.max_work_group_size ? -1 : v;
}

static void check_pc_update(checkkern *c)
{
    clsde_pc_update_params p;
    const int noise = ck_randint(c, 0, 2) != 0, mean = ck_randint(c, 0, 2) != 0;
    const int in_place = ck_randint(c, 0, 1), v = random_vec_shape(c);
    size_t n, nc;
    float *x, *s, *z, *coef, *xn_ref, *xm_ref, *got;
    ck_buf bx, bs, bz, bc, bxn, bxm;
    char shape[128];
    p.n = ck_randint(c, 1, 4);
    p.per_image = random_per_image(c);
    p.coef_stride = ck_randint(c, 0, 1) ? 3 : 0;
    p.coef_offset = 3 * ck_randint(c, 0, 5);
    n = (size_t)p.n * p.per_image;
    nc = (size_t)p.coef_offset + 3 * (size_t)p.n + 3;
    x = ck_alloc(n), s = ck_alloc(n), z = ck_alloc(n), coef = ck_alloc(nc);
    xn_ref = ck_alloc(n), xm_ref = ck_alloc(n), got = ck_alloc(n);
    ck_fill_normal(c, x, n, 30.0f);
    ck_fill_normal(c, s, n, 2.0f);
    ck_fill_normal(c, z, n, 1.0f);
    for (size_t i = 0; i < nc; i++) coef[i] = ck_randf(c, -3, 3) * powf(10.0f, ck_randf(c, -4, 2));
    snprintf(shape, sizeof shape,
             "%dx%d coef off %d stride %d noise %d mean %d in place %d VW %d WG %d", (int)p.n,
             (int)p.per_image, (int)p.coef_offset, (int)p.coef_stride, noise, mean, in_place,
             v < 0 ? 0 : vec_shapes[v][0], v < 0 ? 0 : vec_shapes[v][1]);
    clsde_pc_update_ref(&p, coef, x, s, noise ? z : NULL, xn_ref, mean ? xm_ref : NULL);
    bx = ck_upload(c, x, n), bs = ck_upload(c, s, n), bz = ck_upload(c, z, n);
    bc = ck_upload(c, coef, nc), bxn = ck_upload(c, NULL, n), bxm = ck_upload(c, NULL, n);
    if (!ck_status(c,
                   v < 0 ? clsde_pc_update_enqueue(c->ctx, &p, bc.mem, bx.mem, bs.mem,
                                                   noise ? bz.mem : NULL,
                                                   in_place ? bx.mem : bxn.mem,
                                                   mean ? bxm.mem : NULL)
                         : clsde_pc_update_enqueue_tuned(
                               c->ctx, &p, vec_shapes[v][0], vec_shapes[v][1], bc.mem, bx.mem,
                               bs.mem, noise ? bz.mem : NULL, in_place ? bx.mem : bxn.mem,
                               mean ? bxm.mem : NULL),
                   "pc_update")) {
        if (!ck_download(c, in_place ? &bx : &bxn, got, "pc_update x_new"))
            ck_compare(c, "pc_update x_new", shape, got, xn_ref, n, 0, 0);
        if (mean && !ck_download(c, &bxm, got, "pc_update x_mean"))
            ck_compare(c, "pc_update x_mean", shape, got, xm_ref, n, 0, 0);
        if (!mean && !ck_download(c, &bxm, got, "pc_update x_mean untouched")) {
            /* x_mean not requested: the buffer must keep its canary contents */
            uint32_t bits;
            memcpy(&bits, &got[0], sizeof bits);
            c->checks++;
            if (bits != 0x7fc0deadu) {
                fprintf(stderr, "FAIL sde_step: pc_update wrote x_mean although not asked "
                                "(%s)\n", shape);
                c->failures++;
            }
        }
    }
    ck_free(&bx), ck_free(&bs), ck_free(&bz), ck_free(&bc), ck_free(&bxn), ck_free(&bxm);
    free(x), free(s), free(z), free(coef), free(xn_ref), free(xm_ref), free(got);
}

static void run_langevin(checkkern *c, int n, float snr, float a, int batch_mean,
                         const float *ns, const float *nz, float *out)
{
    ck_buf bs = ck_upload(c, ns, (size_t)n), bz = ck_upload(c, nz, (size_t)n);
    ck_buf bc = ck_upload(c, NULL, 3 * (size_t)n);
    for (int i = 0; i < 3 * n; i++) out[i] = NAN;
    if (!ck_status(c, clsde_langevin_coef_enqueue(c->ctx, n, snr, a, batch_mean, bs.mem, bz.mem,
                                                  bc.mem),
                   "langevin_coef"))
        ck_download(c, &bc, out, "langevin_coef");
    ck_free(&bs), ck_free(&bz), ck_free(&bc);
}

static void check_langevin_coef(checkkern *c)
{
    const int n = ck_randint(c, 1, 9), batch_mean = ck_randint(c, 0, 1);
    const float snr = ck_randf(c, 0.01f, 0.3f), a = ck_randf(c, 0.5f, 1.0f);
    const double rtol = c->ctx->info.fp64 ? 0 : 5e-7;
    float ns[9], nz[9], got[27], ref[27];
    char shape[64];
    for (int i = 0; i < n; i++) ns[i] = ck_randf(c, 1.0f, 1e4f), nz[i] = ck_randf(c, 20.0f, 80.0f);
    snprintf(shape, sizeof shape, "n %d batch_mean %d", n, batch_mean);
    clsde_langevin_coef_ref(n, snr, a, batch_mean, ns, nz, ref);
    run_langevin(c, n, snr, a, batch_mean, ns, nz, got);
    ck_compare(c, "langevin_coef", shape, got, ref, 3 * (size_t)n, 0, rtol);
}

/* §9.5 item 4, by hand: |s| = (3, 5), |z| = (4, 4), snr 0.16, a = 1.
 * batch means 4 and 4: step = 2 * 0.16^2 = 0.0512, sqrt(2 step) = 0.32 for both;
 * per image: step = 2 (0.16 * 4/3)^2 = 0.0910222 and 2 (0.16 * 4/5)^2 = 0.032768. */
static void check_langevin_by_hand(checkkern *c)
{
    const float ns[2] = {3, 5}, nz[2] = {4, 4};
    const float want_mean[6] = {1, 0.0512f, 0.32f, 1, 0.0512f, 0.32f};
    const float want_img[6] = {1, 0.0910222f, 0.42666667f, 1, 0.032768f, 0.256f};
    float got[6];
    run_langevin(c, 2, 0.16f, 1.0f, 1, ns, nz, got);
    ck_compare(c, "langevin_coef by hand (batch mean)", "n 2", got, want_mean, 6, 0, 1e-6);
    run_langevin(c, 2, 0.16f, 1.0f, 0, ns, nz, got);
    ck_compare(c, "langevin_coef by hand (per image)", "n 2", got, want_img, 6, 0, 1e-6);
}

static void check_inpaint_mix(checkkern *c)
{
    clsde_mix_params p;
    const int noise = ck_randint(c, 0, 1), mean = ck_randint(c, 0, 2) != 0;
    const int v = random_vec_shape(c);
    size_t n, nm;
    float *y, *mask, *z, *x, *xr, *xmr, *got;
    ck_buf by, bm, bz, bx, bxm;
    char shape[128];
    p.n = ck_randint(c, 1, 4);
    p.per_image = random_per_image(c);
    p.mask_stride = ck_randint(c, 0, 1) ? p.per_image : 0;
    p.m = ck_randf(c, 0.0f, 1.0f), p.sigma = ck_randf(c, 0.01f, 50.0f);
    n = (size_t)p.n * p.per_image;
    nm = p.mask_stride ? n : (size_t)p.per_image;
    y = ck_alloc(n), mask = ck_alloc(nm), z = ck_alloc(n), x = ck_alloc(n);
    xr = ck_alloc(n), xmr = ck_alloc(n), got = ck_alloc(n);
    ck_fill(c, y, n, 0, 1);
    ck_fill_normal(c, z, n, 1);
    ck_fill_normal(c, x, n, 20);
    for (size_t i = 0; i < nm; i++) mask[i] = (float)ck_randint(c, 0, 1);
    memcpy(xr, x, n * sizeof *x);
    snprintf(shape, sizeof shape, "%dx%d mask stride %d noise %d mean %d VW %d WG %d",
             (int)p.n, (int)p.per_image, (int)p.mask_stride, noise, mean,
             v < 0 ? 0 : vec_shapes[v][0], v < 0 ? 0 : vec_shapes[v][1]);
    clsde_inpaint_mix_ref(&p, y, mask, noise ? z : NULL, xr, mean ? xmr : NULL);
    by = ck_upload(c, y, n), bm = ck_upload(c, mask, nm), bz = ck_upload(c, z, n);
    bx = ck_upload(c, x, n), bxm = ck_upload(c, NULL, n);
    if (!ck_status(c,
                   v < 0 ? clsde_inpaint_mix_enqueue(c->ctx, &p, by.mem, bm.mem,
                                                     noise ? bz.mem : NULL, bx.mem,
                                                     mean ? bxm.mem : NULL)
                         : clsde_inpaint_mix_enqueue_tuned(
                               c->ctx, &p, vec_shapes[v][0], vec_shapes[v][1], by.mem, bm.mem,
                               noise ? bz.mem : NULL, bx.mem, mean ? bxm.mem : NULL),
                   "inpaint_mix")) {
        if (!ck_download(c, &bx, got, "inpaint_mix x"))
            ck_compare(c, "inpaint_mix x", shape, got, xr, n, 0, 0);
        if (mean && !ck_download(c, &bxm, got, "inpaint_mix x_mean"))
            ck_compare(c, "inpaint_mix x_mean", shape, got, xmr, n, 0, 0);
    }
    ck_free(&by), ck_free(&bm), ck_free(&bz), ck_free(&bx), ck_free(&bxm);
    free(y), free(mask), free(z), free(x), free(xr), free(xmr), free(got);
}

static void check_color(checkkern *c)
{
    static const int sides[] = {1, 2, 3, 5, 8, 16, 17, 32};
    const int n = ck_randint(c, 1, 3), side = ck_pick(c, sides, c->small ? 6 : 8);
    const int hw = side * side, noise = ck_randint(c, 0, 1), mean = ck_randint(c, 0, 2) != 0;
    const size_t len = (size_t)n * 3 * hw;
    const float m = ck_randf(c, 0.0f, 1.0f), sigma = ck_randf(c, 0.01f, 50.0f);
    float M[9], Mi[9];
    float *x = ck_alloc(len), *ydec = ck_alloc(len), *z = ck_alloc(len), *ref = ck_alloc(len);
    float *refm = ck_alloc(len), *got = ck_alloc(len), *dec = ck_alloc(len);
    ck_buf bx, by, bz, bo, bxm;
    char shape[96];
    clsde_color_matrices(M, Mi);
    snprintf(shape, sizeof shape, "%dx3x%dx%d noise %d mean %d", n, side, side, noise, mean);
    ck_fill_normal(c, x, len, 10);
    ck_fill(c, ydec, len, -1, 2);
    ck_fill_normal(c, z, len, 1);
    /* color_transform: bit for bit, and couple(decouple(x)) = x to float round-off */
    clsde_color_transform_ref(n, hw, M, x, ref);
    bx = ck_upload(c, x, len), bo = ck_upload(c, NULL, len);
    if (!ck_status(c, clsde_color_transform_enqueue(c->ctx, n, hw, M, bx.mem, bo.mem),
                   "color_transform") &&
        !ck_download(c, &bo, got, "color_transform")) {
        ck_compare(c, "color_transform", shape, got, ref, len, 0, 0);
        if (!ck_status(c, clsde_color_transform_enqueue(c->ctx, n, hw, Mi, bo.mem, bo.mem),
                       "color_transform in place") &&
            !ck_download(c, &bo, got, "color_transform in place"))
            ck_compare(c, "couple(decouple(x))", shape, got, x, len, 1e-5, 1e-6);
    }
    ck_free(&bo);
    /* colorize_mix */
    memcpy(ref, x, len * sizeof *x);
    clsde_colorize_mix_ref(n, hw, m, sigma, M, Mi, ydec, noise ? z : NULL, ref, mean ? refm : NULL);
    by = ck_upload(c, ydec, len), bz = ck_upload(c, z, len), bxm = ck_upload(c, NULL, len);
    if (!ck_status(c, clsde_colorize_mix_enqueue(c->ctx, n, hw, m, sigma, M, Mi, by.mem,
                                                 noise ? bz.mem : NULL, bx.mem,
                                                 mean ? bxm.mem : NULL),
                   "colorize_mix")) {
        if (!ck_download(c, &bx, got, "colorize_mix x")) {
            ck_compare(c, "colorize_mix x", shape, got, ref, len, 0, 0);
            /* decoupled: channel 0 = m ydec0 (+ sigma z0), channels 1, 2 = those of the old x */
            clsde_color_transform_ref(n, hw, M, got, dec);
            clsde_color_transform_ref(n, hw, M, x, ref);
            for (int b = 0; b < n; b++)
                for (int p = 0; p < hw; p++) {
                    const size_t o = (size_t)b * 3 * hw + p;
                    ref[o] = m * ydec[o] + (noise ? z[o] * sigma : 0.0f);
                }
            ck_compare(c, "colorize_mix in decoupled space", shape, dec, ref, len, 1e-4, 1e-5);
        }
        if (mean && !ck_download(c, &bxm, got, "colorize_mix x_mean"))
            ck_compare(c, "colorize_mix x_mean", shape, got, refm, len, 0, 0);
    }
    ck_free(&bx), ck_free(&by), ck_free(&bz), ck_free(&bxm);
    free(x), free(ydec), free(z), free(ref), free(refm), free(got), free(dec);
}

void check_sde_step(checkkern *c)
{
    const int reps = c->small ? 3 : 12;
    check_langevin_by_hand(c);
    for (int r = 0; r < reps; r++) {
        check_pc_update(c);
        check_langevin_coef(c);
        check_inpaint_mix(c);
        check_color(c);
    }
}
