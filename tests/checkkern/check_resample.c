/*
 * check_resample.c — upfirdn2d, upsample_nearest, downsample_avg, avg_pool2 and concat
 * against src/ref/resample_ref.c.
 *
 * upfirdn2d is checked three ways:
 *  1. against the double reference: |got - ref| <= 16u * |gain| * max|x| + u * |ref|
 *     (u = 2^-24; at most 16 float roundings, each below u * sum|K x| <= u |gain| max|x|);
 *  2. bit for bit against PyTorch's CPU order, emulated here with fmaf: the flipped taps
 *     in row-major (a, b) order, one fused multiply-add each (F.conv2d on the CPU does
 *     exactly this — checked against torch 1.13 — so the kernel reproduces the official
 *     upfirdn2d_native result, not just a nearby value);
 *  3. for the three network uses (upsample_2d, downsample_2d, the conv-down pre-filter),
 *     against the 1-D rules of networks.md §1.3 applied along W then H in double, written
 *     independently of the reference.
 * Up-1 cases run the device's kernel or, at random, the per-output or the row-wise
 * kernel at each vector width (so both are checked on any device, Oclgrind included).
 * The 2x2 means are four-term float sums in the reference's order and nearest / concat
 * are copies: all compared with tolerance 0.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkkern.h"
#include "kernels/resample.h"
#include "ref/resample_ref.h"

#define U_ (1.0 / 16777216.0)

enum { USE_UP, USE_DOWN, USE_PREFILTER, USE_RANDOM };

static int random_side(checkkern *c)
{
    static const int edge[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33};
    if (ck_randint(c, 0, 1)) return ck_pick(c, edge, c->small ? 9 : 13);
    return ck_randint(c, 1, c->small ? 12 : 33);
}

static double max_abs(const float *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

/* PyTorch's CPU evaluation of upfirdn2d_native: conv2d of the zero-inserted, padded plane
 * with the flipped float32 kernel, taps accumulated in row-major order by fma. */
static void upfirdn2d_torch_order(const clsde_upfirdn2d_params *p, const float *x, float *y)
{
    static const float k1[4] = {1, 3, 3, 1};
    const int h = p->h, w = p->w, oh = clsde_upfirdn2d_out_h(p), ow = clsde_upfirdn2d_out_w(p);
    for (size_t pl = 0; pl < (size_t)p->n * (size_t)p->c; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float acc = 0.0f;
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 4; b++) {
                        const int r = oy * p->down + a - p->pad0, s = ox * p->down + b - p->pad0;
                        const float k = (k1[3 - a] * k1[3 - b] / 64.0f) * p->gain;
                        float u = 0.0f;
                        if (r >= 0 && r < h * p->up && r % p->up == 0 && s >= 0 &&
                            s < w * p->up && s % p->up == 0)
                            u = x[(pl * h + r / p->up) * w + s / p->up];
                        acc = fmaf(k, u, acc);
                    }
                y[(pl * oh + oy) * ow + ox] = acc;
            }
}

/* One axis of networks.md §1.3's table: in[0..len) -> out, zero outside; returns the
 * output length. */
static int rule_1d(int use, const double *in, int len, double *out)
{
#define X(i) ((i) >= 0 && (i) < len ? in[i] : 0.0)
    static const double k1[4] = {1 / 8.0, 3 / 8.0, 3 / 8.0, 1 / 8.0};
    int m = 0;
    switch (use) {
    case USE_UP: /* y[2n] = x[n-1]/4 + 3x[n]/4, y[2n+1] = 3x[n]/4 + x[n+1]/4 */
        for (int n = 0; n < len; n++) {
            out[m++] = 0.25 * X(n - 1) + 0.75 * X(n);
            out[m++] = 0.75 * X(n) + 0.25 * X(n + 1);
        }
        break;
    case USE_DOWN: /* y[n] = (x[2n-1] + 3x[2n] + 3x[2n+1] + x[2n+2]) / 8 */
        for (int n = 0; 2 * n + 2 <= len; n++)
            out[m++] = (X(2 * n - 1) + 3 * X(2 * n) + 3 * X(2 * n + 1) + X(2 * n + 2)) / 8;
        break;
    default: /* conv-down pre-filter: z[m] = sum_j k1[j] x[m + j - 2], side len + 1 */
        for (; m <= len; m++) {
            double z = 0.0;
            for (int j = 0; j < 4; j++) z += k1[j] * X(m + j - 2);
            out[m] = z;
        }
    }
    return m;
#undef X
}

/* The 2-D result as the outer product of the 1-D rules: along W, then along H. Returns -1
 * when the table's output size differs from (oh, ow). */
static int table_2d(int use, int planes, int h, int w, const float *x, int oh, int ow,
                     float *y)
{
    const int big = 2 * (h > w ? h : w) + 2;
    double *row = malloc((size_t)big * sizeof *row), *out = malloc((size_t)big * sizeof *out);
    double *tmp = malloc((size_t)h * (size_t)ow * sizeof *tmp); /* [h, ow] */
    int rc = 0;
    if (!row || !out || !tmp) {
        fprintf(stderr, "checkkern: out of memory\n");
        exit(2);
    }
    for (int pl = 0; pl < planes && rc == 0; pl++) {
        const float *xp = x + (size_t)pl * h * w;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) row[j] = xp[(size_t)i * w + j];
            if (rule_1d(use, row, w, out) != ow) rc = -1;
            for (int j = 0; j < ow; j++) tmp[(size_t)i * ow + j] = out[j];
        }
        for (int j = 0; j < ow; j++) {
            for (int i = 0; i < h; i++) row[i] = tmp[(size_t)i * ow + j];
            if (rule_1d(use, row, h, out) != oh) rc = -1;
            for (int i = 0; i < oh; i++) y[((size_t)pl * oh + i) * ow + j] = (float)out[i];
        }
    }
    free(row), free(out), free(tmp);
    return rc;
}

static void check_upfirdn2d(checkkern *c, int use)
{
    static const char *names[] = {"upsample_2d", "downsample_2d", "conv-down pre-filter",
                                  "random"};
    clsde_upfirdn2d_params p;
    size_t nx, ny;
    int oh, ow, fvw = -1; /* -1: the device's kernel */
    float *x, *got, *ref, *alt;
    ck_buf bx, by;
    char shape[160];
    double atol;

    p.n = ck_randint(c, 1, c->small ? 2 : 4);
    p.c = ck_randint(c, 1, c->small ? 6 : 67);
    p.h = random_side(c);
    p.w = ck_randint(c, 0, 2) ? p.h : random_side(c);
    switch (use) {
    case USE_UP: p.up = 2, p.down = 1, p.pad0 = 2, p.pad1 = 1, p.gain = 4.0f; break;
    case USE_DOWN: p.up = 1, p.down = 2, p.pad0 = 1, p.pad1 = 1, p.gain = 1.0f; break;
    case USE_PREFILTER: p.up = 1, p.down = 1, p.pad0 = 2, p.pad1 = 2, p.gain = 1.0f; break;
    default:
        p.up = ck_randint(c, 1, 2), p.down = ck_randint(c, 1, 2);
        p.pad0 = ck_randint(c, 0, 3), p.pad1 = ck_randint(c, 0, 3);
        p.gain = ck_randint(c, 0, 1) ? (float)(p.up * p.up) : ck_randf(c, -3.0f, 3.0f);
    }
    /* up 1: the device's kernel, or either kernel at any row vector width */
    if (p.up == 1 && ck_randint(c, 0, 1)) {
        static const int widths[] = {0, 4, 8, 16};
        fvw = ck_pick(c, widths, 4);
    }
    oh = clsde_upfirdn2d_out_h(&p), ow = clsde_upfirdn2d_out_w(&p);
    snprintf(shape, sizeof shape,
             "%dx%dx%dx%d -> %dx%d (%s: up %d down %d pad %d,%d gain %g, kernel %s %d)",
             (int)p.n, (int)p.c, (int)p.h, (int)p.w, oh, ow, names[use], (int)p.up,
             (int)p.down, (int)p.pad0, (int)p.pad1, (double)p.gain,
             fvw < 0 ? "default" : "FVW", fvw);
    if (oh < 1 || ow < 1) { /* smaller than the kernel: must be refused */
        ck_buf b = ck_upload(c, NULL, 16);
        c->checks++;
        if (clsde_upfirdn2d_enqueue(c->ctx, &p, b.mem, b.mem) != CLSDE_ERR_ARG) {
            fprintf(stderr, "FAIL %s: upfirdn2d %s was accepted (seed %llu)\n", c->kernel,
                    shape, (unsigned long long)c->seed);
            c->failures++;
        }
        ck_free(&b);
        return;
    }
    nx = (size_t)p.n * p.c * p.h * p.w;
    ny = (size_t)p.n * p.c * oh * ow;
    x = ck_alloc(nx), got = ck_alloc(ny), ref = ck_alloc(ny), alt = ck_alloc(ny);
    ck_fill_normal(c, x, nx, ck_randf(c, 0.1f, 10.0f));
    clsde_upfirdn2d_ref(&p, x, ref);
    atol = 16 * U_ * fabs((double)p.gain) * max_abs(x, nx);
    bx = ck_upload(c, x, nx);
    by = ck_upload(c, NULL, ny);
    if (!ck_status(c,
                   fvw < 0 ? clsde_upfirdn2d_enqueue(c->ctx, &p, bx.mem, by.mem)
                           : clsde_upfirdn2d_enqueue_tuned(c->ctx, &p, fvw, bx.mem, by.mem),
                   "upfirdn2d") &&
        !ck_download(c, &by, got, "upfirdn2d")) {
        ck_compare(c, "upfirdn2d vs reference", shape, got, ref, ny, atol, U_);
        upfirdn2d_torch_order(&p, x, alt);
        ck_compare(c, "upfirdn2d vs PyTorch CPU order", shape, got, alt, ny, 0, 0);
        if (use != USE_RANDOM) {
            if (table_2d(use, p.n * p.c, p.h, p.w, x, oh, ow, alt)) {
                fprintf(stderr, "FAIL %s: %s: the 1-D table gives another output size\n",
                        c->kernel, shape);
                c->failures++;
            } else {
                ck_compare(c, "upfirdn2d vs networks.md 1-D table", shape, got, alt, ny, atol,
                           U_);
            }
        }
    }
    ck_free(&bx), ck_free(&by);
    free(x), free(got), free(ref), free(alt);
}

/* Fixed values from networks.md §1.3: a constant image keeps 1 inside and is attenuated
 * to 3/4 on the outer ring (9/16 in the corners) by upsample_2d, to 7/8 (49/64) by
 * downsample_2d (6 -> 3: the first and the last output each miss one tap of 1/8). */
static void check_fir_constants(checkkern *c)
{
    const int h = 6;
    float x[36], got[144];
    clsde_upfirdn2d_params up = {1, 1, h, h, 2, 1, 2, 1, 4.0f};
    clsde_upfirdn2d_params dn = {1, 1, h, h, 1, 2, 1, 1, 1.0f};
    ck_buf bx, by;
    for (int i = 0; i < 36; i++) x[i] = 1.0f;
    bx = ck_upload(c, x, 36);
    by = ck_upload(c, NULL, 144);
    if (!ck_status(c, clsde_upfirdn2d_enqueue(c->ctx, &up, bx.mem, by.mem), "upsample_2d") &&
        !ck_download(c, &by, got, "upsample_2d")) {
        float want[144];
        for (int i = 0; i < 2 * h; i++)
            for (int j = 0; j < 2 * h; j++)
                want[i * 2 * h + j] = (i == 0 || i == 2 * h - 1 ? 0.75f : 1.0f) *
                                      (j == 0 || j == 2 * h - 1 ? 0.75f : 1.0f);
        ck_compare(c, "upsample_2d of ones", "1x1x6x6", got, want, 144, 0, 0);
    }
    ck_free(&by);
    by = ck_upload(c, NULL, 9);
    if (!ck_status(c, clsde_upfirdn2d_enqueue(c->ctx, &dn, bx.mem, by.mem), "downsample_2d") &&
        !ck_download(c, &by, got, "downsample_2d")) {
        float want[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                want[i * 3 + j] = (i == 1 ? 1.0f : 0.875f) * (j == 1 ? 1.0f : 0.875f);
        ck_compare(c, "downsample_2d of ones", "1x1x6x6", got, want, 9, 0, 0);
    }
    ck_free(&bx), ck_free(&by);
}

static void check_nearest(checkkern *c)
{
    const int n = ck_randint(c, 1, c->small ? 2 : 4), ch = ck_randint(c, 1, c->small ? 6 : 67);
    const int h = random_side(c), w = ck_randint(c, 0, 2) ? h : random_side(c);
    const size_t nx = (size_t)n * ch * h * w, ny = 4 * nx;
    float *x = ck_alloc(nx), *got = ck_alloc(ny), *ref = ck_alloc(ny);
    ck_buf bx, by;
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d", n, ch, h, w);
    ck_fill(c, x, nx, -3, 3);
    clsde_upsample_nearest_ref(n, ch, h, w, x, ref);
    bx = ck_upload(c, x, nx);
    by = ck_upload(c, NULL, ny);
    if (!ck_status(c, clsde_upsample_nearest_enqueue(c->ctx, n, ch, h, w, bx.mem, by.mem),
                   "upsample_nearest") &&
        !ck_download(c, &by, got, "upsample_nearest"))
        ck_compare(c, "upsample_nearest", shape, got, ref, ny, 0, 0);
    ck_free(&bx), ck_free(&by);
    free(x), free(got), free(ref);
}

/* pool = 0: downsample_avg (naive_downsample_2d, even sides); 1: avg_pool2 (any side >= 2). */
static void check_mean2x2(checkkern *c, int pool)
{
    static const int even[] = {2, 4, 6, 8, 16, 32, 34};
    const char *what = pool ? "avg_pool2" : "downsample_avg";
    const int n = ck_randint(c, 1, c->small ? 2 : 4), ch = ck_randint(c, 1, c->small ? 6 : 67);
    int h, w;
    size_t nx, ny;
    float *x, *got, *ref;
    ck_buf bx, by;
    char shape[64];
    clsde_status st;
    if (pool) {
        h = ck_randint(c, 2, c->small ? 12 : 33);
        w = ck_randint(c, 0, 2) ? h : ck_randint(c, 2, c->small ? 12 : 33);
    } else {
        h = ck_randint(c, 0, 1) ? ck_pick(c, even, c->small ? 5 : 7) : 2 * ck_randint(c, 1, 16);
        w = ck_randint(c, 0, 3) ? h : ck_pick(c, even, 7);
        if (c->small) h = h > 12 ? 12 : h, w = w > 12 ? 12 : w;
    }
    nx = (size_t)n * ch * h * w;
    ny = (size_t)n * ch * (h / 2) * (w / 2);
    x = ck_alloc(nx), got = ck_alloc(ny), ref = ck_alloc(ny);
    snprintf(shape, sizeof shape, "%dx%dx%dx%d", n, ch, h, w);
    /* wide dynamic range so that the summation order shows in the last bit */
    for (size_t i = 0; i < nx; i++) x[i] = ck_randn(c) * expf(3.0f * ck_randn(c));
    if (pool)
        clsde_avg_pool2_ref(n, ch, h, w, x, ref);
    else
        clsde_downsample_avg_ref(n, ch, h, w, x, ref);
    bx = ck_upload(c, x, nx);
    by = ck_upload(c, NULL, ny);
    st = pool ? clsde_avg_pool2_enqueue(c->ctx, n, ch, h, w, bx.mem, by.mem)
              : clsde_downsample_avg_enqueue(c->ctx, n, ch, h, w, bx.mem, by.mem);
    if (!ck_status(c, st, what) && !ck_download(c, &by, got, what))
        ck_compare(c, what, shape, got, ref, ny, 0, 0);
    ck_free(&bx), ck_free(&by);
    free(x), free(got), free(ref);
}

static void check_concat(checkkern *c)
{
    const int n = ck_randint(c, 1, c->small ? 2 : 4);
    const int c1 = ck_randint(c, 1, c->small ? 6 : 67), c2 = ck_randint(c, 1, c->small ? 6 : 67);
    const int s = random_side(c), hw = s * s;
    const size_t na = (size_t)n * c1 * hw, nb = (size_t)n * c2 * hw, ny = na + nb;
    float *a = ck_alloc(na), *b = ck_alloc(nb), *got = ck_alloc(ny), *ref = ck_alloc(ny);
    ck_buf ba, bb, by;
    char shape[64];
    snprintf(shape, sizeof shape, "%dx(%d+%d)x%dx%d", n, c1, c2, s, s);
    ck_fill(c, a, na, -3, 3);
    ck_fill(c, b, nb, -3, 3);
    clsde_concat_ref(n, c1, c2, hw, a, b, ref);
    ba = ck_upload(c, a, na);
    bb = ck_upload(c, b, nb);
    by = ck_upload(c, NULL, ny);
    if (!ck_status(c, clsde_concat_enqueue(c->ctx, n, c1, c2, hw, ba.mem, bb.mem, by.mem),
                   "concat") &&
        !ck_download(c, &by, got, "concat"))
        ck_compare(c, "concat", shape, got, ref, ny, 0, 0);
    ck_free(&ba), ck_free(&bb), ck_free(&by);
    free(a), free(b), free(got), free(ref);
}

/* Shapes outside the contract, aliasing and short buffers are refused with CLSDE_ERR_ARG. */
static void check_errors(checkkern *c)
{
    const clsde_upfirdn2d_params up3 = {1, 1, 4, 4, 3, 1, 2, 1, 9.0f};
    const clsde_upfirdn2d_params up2 = {1, 1, 4, 4, 2, 1, 2, 1, 4.0f};
    ck_buf b = ck_upload(c, NULL, 64), b2 = ck_upload(c, NULL, 64);
    const struct {
        const char *what;
        clsde_status st;
    } cases[] = {
        {"upfirdn2d up 3", clsde_upfirdn2d_enqueue(c->ctx, &up3, b.mem, b2.mem)},
        {"upfirdn2d in place", clsde_upfirdn2d_enqueue(c->ctx, &up2, b.mem, b.mem)},
        {"upsample_nearest 4x5 into 64 floats",
         clsde_upsample_nearest_enqueue(c->ctx, 1, 1, 4, 5, b.mem, b2.mem)},
        {"downsample_avg 3x4", clsde_downsample_avg_enqueue(c->ctx, 1, 1, 3, 4, b.mem, b2.mem)},
        {"avg_pool2 1x4", clsde_avg_pool2_enqueue(c->ctx, 1, 1, 1, 4, b.mem, b2.mem)},
        {"concat c2 = 0", clsde_concat_enqueue(c->ctx, 1, 2, 0, 4, b.mem, b.mem, b2.mem)},
        {"concat into a", clsde_concat_enqueue(c->ctx, 1, 2, 2, 4, b.mem, b2.mem, b.mem)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        c->checks++;
        if (cases[i].st != CLSDE_ERR_ARG) {
            fprintf(stderr, "FAIL %s: %s was not refused\n", c->kernel, cases[i].what);
            c->failures++;
        }
    }
    ck_free(&b), ck_free(&b2);
}

void check_resample(checkkern *c)
{
    const int reps = c->small ? 3 : 20;
    for (int r = 0; r < reps; r++) {
        for (int use = USE_UP; use <= USE_RANDOM; use++) check_upfirdn2d(c, use);
        check_upfirdn2d(c, USE_RANDOM);
        check_nearest(c);
        check_mean2x2(c, 0);
        check_mean2x2(c, 1);
        check_concat(c);
    }
    check_fir_constants(c);
    check_errors(c);
}
