/*
 * check_group_norm.c — group_norm / group_norm_silu against src/ref/group_norm_ref.c
 * (double throughout). Random shapes: batch 1..4, channels 1..67 with a random divisor as
 * the group count (groups of 1 channel included), sides 1..33 (1x1 and odd), the network
 * shapes, large planes outside Oclgrind; out of place and in place (y == x), with the
 * device's work-group shape and with another one (WG up to 256, VW 1..16) in place.
 *
 * Tolerance, with u = 2^-24, M = (C/G)*H*W the reduction length, z = (x - mean)/sqrt(var +
 * eps) from the reference and the largest |gamma|, |beta|:
 *   |got - ref| <= u * (24 + sqrt(M)/8) * max|z| * max|gamma| + 4u * max|beta| + 8u * |ref|
 * The sqrt(M) term covers the float partial sums of the statistics; the rest is the
 * rounding of (x - mean) * scale + beta and of SiLU. Observed: the largest error is below
 * 0.15 of this bound at M < 50 and below 0.005 of it at M = 256^2 * 4 (about 1e-6
 * absolute throughout). Group offsets reach 5000 standard deviations, so a mean rounded
 * to one float (or an uncorrected one-pass mean) fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkkern.h"
#include "kernels/group_norm.h"
#include "ref/group_norm_ref.h"

#define U_ (1.0 / 16777216.0)

/* A random divisor of c, biased towards the ends (1 group, groups of 1 channel). */
static int random_groups(checkkern *c, int ch)
{
    int divs[64], nd = 0;
    for (int d = 1; d <= ch && nd < 64; d++)
        if (ch % d == 0) divs[nd++] = d;
    switch (ck_randint(c, 0, 3)) {
    case 0: return 1;
    case 1: return ch;
    default: return divs[ck_randint(c, 0, nd - 1)];
    }
}

/* Largest |z| of the reference normalisation (double), for the tolerance. */
static double max_abs_z(const clsde_group_norm_params *p, const float *x)
{
    const size_t span = (size_t)(p->c / p->groups) * (size_t)p->hw;
    double zmax = 0.0;
    for (size_t grp = 0; grp < (size_t)p->n * (size_t)p->groups; grp++) {
        const float *xg = x + grp * span;
        double mean = 0.0, var = 0.0;
        for (size_t i = 0; i < span; i++) mean += xg[i];
        mean /= (double)span;
        for (size_t i = 0; i < span; i++) var += (xg[i] - mean) * (xg[i] - mean);
        var /= (double)span;
        for (size_t i = 0; i < span; i++)
            zmax = fmax(zmax, fabs(xg[i] - mean) / sqrt(var + (double)p->eps));
    }
    return zmax;
}

static double max_abs(const float *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

static void run_case(checkkern *c, int n, int ch, int groups, int h, int w)
{
    const size_t hw = (size_t)h * (size_t)w, total = (size_t)n * (size_t)ch * hw;
    const size_t span = (size_t)(ch / groups) * hw;
    clsde_group_norm_params p;
    float *x = ck_alloc(total), *gamma = ck_alloc((size_t)ch), *beta = ck_alloc((size_t)ch);
    float *got = ck_alloc(total), *ref = ck_alloc(total);
    ck_buf bx, bg, bb, by;
    char shape[96];
    double atol, rtol = 8 * U_;
    const float offset = ck_randf(c, -50.0f, 50.0f), scale = ck_randf(c, 0.01f, 4.0f);

    p.n = n, p.c = ch, p.hw = (int32_t)hw, p.groups = groups, p.eps = 1e-6f;
    p.silu = ck_randint(c, 0, 1);
    /* per-group offsets: x = offset_g + scale * N(0, 1) */
    for (size_t grp = 0; grp < (size_t)n * (size_t)groups; grp++) {
        const float off = ck_randint(c, 0, 3) ? offset * ck_randf(c, 0.0f, 1.0f) : 0.0f;
        for (size_t i = 0; i < span; i++) x[grp * span + i] = off + scale * ck_randn(c);
    }
    ck_fill(c, gamma, (size_t)ch, -2.0f, 2.0f);
    ck_fill(c, beta, (size_t)ch, -1.0f, 1.0f);
    atol = U_ * (24.0 + sqrt((double)span) / 8) * max_abs_z(&p, x) * max_abs(gamma, (size_t)ch) +
           4 * U_ * max_abs(beta, (size_t)ch);
    snprintf(shape, sizeof shape, "%dx%dx%dx%d groups %d%s", n, ch, h, w, groups,
             p.silu ? " +silu" : "");
    clsde_group_norm_ref(&p, x, gamma, beta, ref);

    bx = ck_upload(c, x, total);
    bg = ck_upload(c, gamma, (size_t)ch);
    bb = ck_upload(c, beta, (size_t)ch);
    by = ck_upload(c, NULL, total);
    if (!ck_status(c, clsde_group_norm_enqueue(c->ctx, &p, bx.mem, bg.mem, bb.mem, by.mem),
                   "group_norm") &&
        !ck_download(c, &by, got, "group_norm"))
        ck_compare(c, "group_norm", shape, got, ref, total, atol, rtol);
    if (!ck_status(c, clsde_group_norm_enqueue(c->ctx, &p, bx.mem, bg.mem, bb.mem, bx.mem),
                   "group_norm in place") &&
        !ck_download(c, &bx, got, "group_norm in place"))
        ck_compare(c, "group_norm in place", shape, got, ref, total, atol, rtol);
    /* another work-group shape (the tree reduction, other vector widths and tails), in
     * place on a fresh copy of x */
    {
        static const int shapes[][2] = {{256, 4}, {64, 1}, {16, 8}, {2, 16}};
        const int v = ck_randint(c, 0, 3), wg = shapes[v][0], vw = shapes[v][1];
        char what[64];
        ck_buf bv = ck_upload(c, x, total);
        snprintf(what, sizeof what, "group_norm WG %d VW %d in place", wg, vw);
        if (wg <= c->ctx->info.max_work_group_size &&
            !ck_status(c, clsde_group_norm_enqueue_tuned(c->ctx, &p, wg, vw, bv.mem, bg.mem,
                                                         bb.mem, bv.mem),
                       what) &&
            !ck_download(c, &bv, got, what))
            ck_compare(c, what, shape, got, ref, total, atol, rtol);
        ck_free(&bv);
    }
    ck_free(&bx), ck_free(&bg), ck_free(&bb), ck_free(&by);
    free(x), free(gamma), free(beta), free(got), free(ref);
}

/* Wrong arguments are refused with CLSDE_ERR_ARG before anything is enqueued. */
static void check_errors(checkkern *c)
{
    clsde_group_norm_params p = {1, 6, 4, 4, 1e-6f, 0};
    ck_buf b = ck_upload(c, NULL, 24);
    c->checks++;
    if (clsde_group_norm_enqueue(c->ctx, &p, b.mem, b.mem, b.mem, b.mem) != CLSDE_ERR_ARG) {
        fprintf(stderr, "FAIL %s: 6 channels in 4 groups was accepted\n", c->kernel);
        c->failures++;
    }
    p.groups = 3, p.eps = -1.0f;
    if (clsde_group_norm_enqueue(c->ctx, &p, b.mem, b.mem, b.mem, b.mem) != CLSDE_ERR_ARG) {
        fprintf(stderr, "FAIL %s: negative eps was accepted\n", c->kernel);
        c->failures++;
    }
    ck_free(&b);
}

void check_group_norm(checkkern *c)
{
    static const int sides[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33};
    /* network shapes: NCSN++ G = min(C/4, 32); DDPM G = 32 (C = 32: groups of 1) */
    static const int nets[][4] = {{128, 32, 32, 32}, {256, 32, 16, 16}, {512, 32, 4, 4},
                                  {32, 32, 8, 8},    {64, 16, 32, 32},  {12, 3, 1, 1}};
    const int reps = c->small ? 6 : 40;
    for (int r = 0; r < reps; r++) {
        const int ch = ck_randint(c, 1, c->small ? 12 : 67);
        const int s1 = ck_pick(c, sides, c->small ? 8 : 13);
        const int s2 = ck_randint(c, 0, 2) ? s1 : ck_pick(c, sides, c->small ? 8 : 13);
        run_case(c, ck_randint(c, 1, c->small ? 2 : 4), ch, random_groups(c, ch), s1, s2);
    }
    for (int i = 0; i < (c->small ? 1 : 6); i++) {
        const int *s = nets[c->small ? 5 : i];
        run_case(c, c->small ? 1 : ck_randint(c, 1, 2), s[0], s[1], s[2], s[3]);
    }
    if (!c->small) { /* large planes: 256^2 (256 px models) and a 4-channel group */
        run_case(c, 1, 8, 2, 256, 256);
        run_case(c, 2, 3, 1, 129, 131);
    }
    check_errors(c);
}
