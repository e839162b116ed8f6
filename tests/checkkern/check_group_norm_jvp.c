/*
 * check_group_norm_jvp.c — group_norm_jvp / group_norm_silu_jvp (the forward-mode
 * derivative, algorithms.md §6.2) against src/ref/group_norm_ref.c (double throughout).
 * Shapes as check_group_norm.c: batch 1..4, channels 1..67 with a random divisor as the
 * group count, sides 1..33 (1x1 and odd), the network shapes, large planes outside
 * Oclgrind; the device's work-group shape and another one (WG up to 256, VW 1..16).
 * Tangents: per-group offsets (the tangent's mean must cancel) plus noise, sometimes
 * correlated with x (the covariance term), sometimes tx = x (the same buffer, where the
 * tangent nearly cancels: eps / (var + eps)).
 *
 * Tolerance, with u = 2^-24, M = (C/G)*H*W the reduction length, and per group
 * z = max|x - mean| / sigma, T = max|tx - mean(tx)| / sigma (sigma = sqrt(var + eps)), so
 * that |ty| <= max|gamma| * T * (1 + z) before the SiLU:
 *   |got - ref| <= u * (32 + sqrt(M)/8) * max|gamma| * max_g(T (1 + z)^2) * S + 8u |ref|
 * with S = 1 + max|gamma| max z + max|beta| for the SiLU (the error of its argument moves
 * silu', |silu''| <= 1/2) and S = 1 without. The sqrt(M) term covers the float partial
 * sums of the four statistics; the covariance enters multiplied by xhat, hence the second
 * factor (1 + z). Observed: below 0.025 of this bound (seeds 1-5; largest on small groups).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkkern.h"
#include "kernels/group_norm.h"
#include "ref/group_norm_ref.h"

#define U_ (1.0 / 16777216.0)

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

static double max_abs(const float *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

/* max over groups of T (1 + z)^2, and the largest z (file header), in double */
static void tangent_scale(const clsde_group_norm_params *p, const float *x, const float *tx,
                          double *tz, double *zmax)
{
    const size_t span = (size_t)(p->c / p->groups) * (size_t)p->hw;
    *tz = 0.0, *zmax = 0.0;
    for (size_t grp = 0; grp < (size_t)p->n * (size_t)p->groups; grp++) {
        const float *xg = x + grp * span, *tg = tx + grp * span;
        double mean = 0.0, tmean = 0.0, var = 0.0, sigma, z = 0.0, t = 0.0;
        for (size_t i = 0; i < span; i++) mean += xg[i], tmean += tg[i];
        mean /= (double)span, tmean /= (double)span;
        for (size_t i = 0; i < span; i++) var += (xg[i] - mean) * (xg[i] - mean);
        sigma = sqrt(var / (double)span + (double)p->eps);
        for (size_t i = 0; i < span; i++) {
            z = fmax(z, fabs(xg[i] - mean) / sigma);
            t = fmax(t, fabs(tg[i] - tmean) / sigma);
        }
        *tz = fmax(*tz, t * (1 + z) * (1 + z));
        *zmax = fmax(*zmax, z);
    }
}

static void run_case(checkkern *c, int n, int ch, int groups, int h, int w)
{
    const size_t hw = (size_t)h * (size_t)w, total = (size_t)n * (size_t)ch * hw;
    const size_t span = (size_t)(ch / groups) * hw;
    const int same = ck_randint(c, 0, 7) == 0; /* tx = x, one buffer */
    const float corr = ck_randint(c, 0, 2) ? 0.0f : ck_randf(c, -2.0f, 2.0f);
    const float offset = ck_randf(c, -50.0f, 50.0f), scale = ck_randf(c, 0.01f, 4.0f);
    const float toffset = ck_randf(c, -20.0f, 20.0f), tscale = ck_randf(c, 0.01f, 4.0f);
    clsde_group_norm_params p;
    float *x = ck_alloc(total), *tx = ck_alloc(total), *gamma = ck_alloc((size_t)ch);
    float *beta = ck_alloc((size_t)ch), *got = ck_alloc(total), *ref = ck_alloc(total);
    ck_buf bx, btx, bg, bb, by;
    char shape[128];
    double tz, zmax, gmax, bmax, atol;

    p.n = n, p.c = ch, p.hw = (int32_t)hw, p.groups = groups, p.eps = 1e-6f;
    p.silu = ck_randint(c, 0, 1);
    for (size_t grp = 0; grp < (size_t)n * (size_t)groups; grp++) {
        const float off = ck_randint(c, 0, 3) ? offset * ck_randf(c, 0.0f, 1.0f) : 0.0f;
        const float toff = ck_randint(c, 0, 1) ? toffset * ck_randf(c, 0.0f, 1.0f) : 0.0f;
        for (size_t i = 0; i < span; i++) {
            const size_t j = grp * span + i;
            x[j] = off + scale * ck_randn(c);
            tx[j] = same ? x[j] : toff + corr * x[j] + tscale * ck_randn(c);
        }
    }
    ck_fill(c, gamma, (size_t)ch, -2.0f, 2.0f);
    ck_fill(c, beta, (size_t)ch, -1.0f, 1.0f);
    tangent_scale(&p, x, tx, &tz, &zmax);
    gmax = max_abs(gamma, (size_t)ch), bmax = max_abs(beta, (size_t)ch);
    atol = U_ * (32.0 + sqrt((double)span) / 8) * gmax * tz *
           (p.silu ? 1.0 + gmax * zmax + bmax : 1.0);
    snprintf(shape, sizeof shape, "%dx%dx%dx%d groups %d%s%s", n, ch, h, w, groups,
             p.silu ? " +silu" : "", same ? " tx = x" : "");
    clsde_group_norm_jvp_ref(&p, x, tx, gamma, beta, ref);

    bx = ck_upload(c, x, total);
    btx = same ? bx : ck_upload(c, tx, total);
    bg = ck_upload(c, gamma, (size_t)ch);
    bb = ck_upload(c, beta, (size_t)ch);
    by = ck_upload(c, NULL, total);
    if (!ck_status(c, clsde_group_norm_jvp_enqueue(c->ctx, &p, bx.mem, btx.mem, bg.mem, bb.mem,
                                                   by.mem),
                   "group_norm_jvp") &&
        !ck_download(c, &by, got, "group_norm_jvp"))
        ck_compare(c, "group_norm_jvp", shape, got, ref, total, atol, 8 * U_);
    {
        static const int shapes[][2] = {{256, 4}, {64, 1}, {16, 8}, {2, 16}};
        const int v = ck_randint(c, 0, 3), wg = shapes[v][0], vw = shapes[v][1];
        char what[64];
        ck_buf bo = ck_upload(c, NULL, total);
        snprintf(what, sizeof what, "group_norm_jvp WG %d VW %d", wg, vw);
        if (wg <= c->ctx->info.max_work_group_size &&
            !ck_status(c, clsde_group_norm_jvp_enqueue_tuned(c->ctx, &p, wg, vw, bx.mem, btx.mem,
                                                             bg.mem, bb.mem, bo.mem),
                       what) &&
            !ck_download(c, &bo, got, what))
            ck_compare(c, what, shape, got, ref, total, atol, 8 * U_);
        ck_free(&bo);
    }
    ck_free(&bx), ck_free(&bg), ck_free(&bb), ck_free(&by);
    if (!same) ck_free(&btx);
    free(x), free(tx), free(gamma), free(beta), free(got), free(ref);
}

/* Wrong arguments and aliased outputs are refused with CLSDE_ERR_ARG. */
static void check_errors(checkkern *c)
{
    clsde_group_norm_params p = {1, 6, 4, 4, 1e-6f, 1};
    ck_buf a = ck_upload(c, NULL, 24), b = ck_upload(c, NULL, 24);
    c->checks++;
    if (clsde_group_norm_jvp_enqueue(c->ctx, &p, a.mem, a.mem, a.mem, a.mem, b.mem) !=
        CLSDE_ERR_ARG) {
        fprintf(stderr, "FAIL %s: 6 channels in 4 groups was accepted\n", c->kernel);
        c->failures++;
    }
    p.groups = 3;
    if (clsde_group_norm_jvp_enqueue(c->ctx, &p, a.mem, b.mem, a.mem, a.mem, b.mem) !=
            CLSDE_ERR_ARG ||
        clsde_group_norm_jvp_enqueue(c->ctx, &p, b.mem, a.mem, a.mem, a.mem, b.mem) !=
            CLSDE_ERR_ARG) {
        fprintf(stderr, "FAIL %s: ty aliasing tx or x was accepted\n", c->kernel);
        c->failures++;
    }
    if (clsde_group_norm_jvp_enqueue(c->ctx, &p, a.mem, NULL, a.mem, a.mem, b.mem) !=
        CLSDE_ERR_ARG) {
        fprintf(stderr, "FAIL %s: a NULL tx was accepted\n", c->kernel);
        c->failures++;
    }
    ck_free(&a), ck_free(&b);
}

void check_group_norm_jvp(checkkern *c)
{
    static const int sides[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33};
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
    if (!c->small) {
        run_case(c, 1, 8, 2, 256, 256);
        run_case(c, 2, 3, 1, 129, 131);
    }
    check_errors(c);
}
