/*
 * check_conv2d.c — conv2d (every padding/stride variant of the networks, random general
 * ones, each epilogue part, y == res in place, random tilings, the CLBlast path when built
 * with it, and every parameter set of the context's tune table: the device's tuned rows
 * and a CLSDE_TUNE_FILE override) and dense, against src/ref/conv2d_ref.c.
 *
 * Tolerance: inputs are U(-1, 1), weights U(-1, 1)/sqrt(K) (K = c_in*k*k, the reduction
 * length), so outputs are O(1). A float sum of K such terms is off by about
 * eps*sqrt(K)*|partial sums|; we allow atol = 1e-6*sqrt(K) (about 8x that for any K) plus
 * 1e-6 relative for the epilogue's few roundings. Dropping or doubling one term moves an
 * output by ~1/sqrt(K) * |x| >> atol, so misplaced taps are caught.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkkern.h"
#include "kernels/conv2d.h"
#include "ref/conv2d_ref.h"
#include "tune.h"
#include "../h100_props.h"

enum variant { V_SAME3, V_DOWN_FIR, V_DOWN_DDPM, V_1X1, V_GENERAL, V_COUNT };

static const char *const variant_name[V_COUNT] = {
    "3x3 s1 p1", "3x3 s2 p0", "3x3 s2 p0,0,1,1", "1x1", "general",
};

static int random_channels(checkkern *c)
{
    static const int edge[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 63, 64, 65, 127, 128, 130};
    if (c->small) return ck_randint(c, 1, 9);
    return ck_randint(c, 0, 1) ? ck_pick(c, edge, 18) : ck_randint(c, 1, 130);
}

/* Fill p with a random shape of the given variant. */
static void random_params(checkkern *c, enum variant v, clsde_conv2d_params *p)
{
    const int max_side = c->small ? 9 : 33;
    p->n = ck_randint(c, 1, c->small ? 2 : 4);
    p->c_in = random_channels(c);
    p->c_out = random_channels(c);
    p->h = ck_randint(c, 1, max_side);
    p->w = ck_randint(c, 0, 3) ? ck_randint(c, 1, max_side) : p->h;
    p->k = 3;
    p->stride = 1;
    p->pad_t = p->pad_l = p->pad_b = p->pad_r = 0;
    switch (v) {
    case V_SAME3:
        p->pad_t = p->pad_l = p->pad_b = p->pad_r = 1;
        break;
    case V_DOWN_FIR: /* after the FIR pre-filter the side is H+1 >= 2 (§1.3) */
        p->stride = 2;
        if (p->h < 3) p->h = 3;
        if (p->w < 3) p->w = 3;
        break;
    case V_DOWN_DDPM: /* right/bottom zero pad, then stride 2 (§1.4) */
        p->stride = 2;
        p->pad_b = p->pad_r = 1;
        if (p->h < 2) p->h = 2;
        if (p->w < 2) p->w = 2;
        break;
    case V_1X1:
        p->k = 1;
        break;
    default:
        p->k = ck_randint(c, 1, 5);
        p->stride = ck_randint(c, 1, 3);
        p->pad_t = ck_randint(c, 0, p->k);
        p->pad_l = ck_randint(c, 0, p->k);
        p->pad_b = ck_randint(c, 0, p->k);
        p->pad_r = ck_randint(c, 0, p->k);
        if (p->h + p->pad_t + p->pad_b < p->k) p->h = p->k;
        if (p->w + p->pad_l + p->pad_r < p->k) p->w = p->k;
        break;
    }
    p->has_bias = ck_randint(c, 0, 1);
    p->has_chan_bias = ck_randint(c, 0, 2) == 0;
    p->has_residual = ck_randint(c, 0, 1);
    switch (ck_randint(c, 0, 2)) {
    case 0: p->res_div = 1.0f; break;
    case 1: p->res_div = (float)sqrt(2.0); break;
    default: p->res_div = ck_randf(c, 0.5f, 3.0f); break;
    }
}

/* One run; choice NULL: the default entry point (which consults the tune table). */
static void check_one(checkkern *c, const clsde_conv2d_params *p,
                      const clsde_conv2d_choice *choice, int in_place, const char *label)
{
    const int oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p);
    const int kdim = p->c_in * p->k * p->k;
    const size_t nx = (size_t)p->n * p->c_in * p->h * p->w;
    const size_t nw = (size_t)p->c_out * kdim;
    const size_t ny = (size_t)p->n * p->c_out * oh * ow;
    const size_t ncb = (size_t)p->n * p->c_out;
    float *x = ck_alloc(nx), *w = ck_alloc(nw), *bias = ck_alloc(p->c_out);
    float *cb = ck_alloc(ncb), *res = ck_alloc(ny), *got = ck_alloc(ny), *ref = ck_alloc(ny);
    ck_buf bx, bw, bb, bcb, bres, by;
    char shape[448], tiling[200] = "";
    clsde_status st;

    if (choice) {
        tiling[0] = ' ';
        clsde_conv2d_choice_format(choice, tiling + 1, sizeof tiling - 1);
    }
    snprintf(shape, sizeof shape,
             "%s n%d c_in%d %dx%d -> c_out%d %dx%d k%d s%d pad %d,%d,%d,%d%s%s%s res_div %g%s%s",
             label, p->n, p->c_in, p->h, p->w, p->c_out, oh, ow, p->k, p->stride, p->pad_t,
             p->pad_l, p->pad_b, p->pad_r, p->has_bias ? " bias" : "",
             p->has_chan_bias ? " chan_bias" : "", p->has_residual ? " residual" : "",
             (double)p->res_div, in_place ? " in place" : "", tiling);
    ck_fill(c, x, nx, -1.0f, 1.0f);
    ck_fill(c, w, nw, -1.0f, 1.0f);
    for (size_t i = 0; i < nw; i++) w[i] /= sqrtf((float)kdim);
    ck_fill(c, bias, p->c_out, -1.0f, 1.0f);
    ck_fill(c, cb, ncb, -1.0f, 1.0f);
    ck_fill(c, res, ny, -2.0f, 2.0f);
    clsde_conv2d_ref(p, x, w, bias, cb, res, ref);

    bx = ck_upload(c, x, nx);
    bw = ck_upload(c, w, nw);
    bb = ck_upload(c, bias, p->c_out);
    bcb = ck_upload(c, cb, ncb);
    bres = ck_upload(c, res, ny);
    by = ck_upload(c, NULL, ny);
    {
        /* Buffers for absent operands are passed as NULL: the kernel must not touch them. */
        const cl_mem b_bias = p->has_bias ? bb.mem : NULL;
        const cl_mem b_cb = p->has_chan_bias ? bcb.mem : NULL;
        const cl_mem b_res = p->has_residual ? bres.mem : NULL;
        const cl_mem b_y = in_place ? bres.mem : by.mem;
        const ck_buf *out = in_place ? &bres : &by;
        if (choice)
            st = clsde_conv2d_enqueue_choice(c->ctx, p, choice, bx.mem, bw.mem, b_bias, b_cb,
                                             b_res, b_y);
        else
            st = clsde_conv2d_enqueue(c->ctx, p, bx.mem, bw.mem, b_bias, b_cb, b_res, b_y);
        if (!ck_status(c, st, shape) && !ck_download(c, out, got, shape))
            ck_compare(c, "conv2d", shape, got, ref, ny, 1e-6 * sqrt((double)kdim), 1e-6);
    }
    ck_free(&bx), ck_free(&bw), ck_free(&bb), ck_free(&bcb), ck_free(&bres), ck_free(&by);
    free(x), free(w), free(bias), free(cb), free(res), free(got), free(ref);
}

/* The CLBlast path's own kernels with the GEMM done here: im2col on the device, acc = W cols
 * on the host (double sums, rounded to float as a GEMM's output is), the epilogue on the
 * device; compared with the conv reference under the same tolerance. Runs without CLBlast
 * and under Oclgrind, whose uninitialised-value check reports CLBlast's own XgemmDirect
 * kernels (they load lanes they later discard). */
static void check_im2col_path(checkkern *c, const clsde_conv2d_params *p, int in_place,
                              const char *label)
{
    const int oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p);
    const int kdim = p->c_in * p->k * p->k, npix = p->n * oh * ow, ohw = oh * ow;
    const size_t nx = (size_t)p->n * p->c_in * p->h * p->w, nw = (size_t)p->c_out * kdim;
    const size_t ny = (size_t)p->n * p->c_out * ohw, ncb = (size_t)p->n * p->c_out;
    const size_t ncols = (size_t)kdim * npix, nacc = (size_t)p->c_out * npix;
    float *x = ck_alloc(nx), *w = ck_alloc(nw), *bias = ck_alloc(p->c_out), *cb = ck_alloc(ncb);
    float *res = ck_alloc(ny), *got = ck_alloc(ny), *ref = ck_alloc(ny);
    float *cols = ck_alloc(ncols), *acc = ck_alloc(nacc);
    ck_buf bx, bcols, bacc, bb, bcb, bres, by;
    char shape[320];
    snprintf(shape, sizeof shape,
             "%s im2col+epilogue n%d c_in%d %dx%d -> c_out%d %dx%d k%d s%d pad %d,%d,%d,%d%s%s%s%s",
             label, p->n, p->c_in, p->h, p->w, p->c_out, oh, ow, p->k, p->stride, p->pad_t,
             p->pad_l, p->pad_b, p->pad_r, p->has_bias ? " bias" : "",
             p->has_chan_bias ? " chan_bias" : "", p->has_residual ? " residual" : "",
             in_place ? " in place" : "");
    ck_fill(c, x, nx, -1.0f, 1.0f);
    ck_fill(c, w, nw, -1.0f, 1.0f);
    for (size_t i = 0; i < nw; i++) w[i] /= sqrtf((float)kdim);
    ck_fill(c, bias, p->c_out, -1.0f, 1.0f);
    ck_fill(c, cb, ncb, -1.0f, 1.0f);
    ck_fill(c, res, ny, -2.0f, 2.0f);
    clsde_conv2d_ref(p, x, w, bias, cb, res, ref);
    bx = ck_upload(c, x, nx);
    bcols = ck_upload(c, NULL, ncols);
    if (!ck_status(c, clsde_conv2d_im2col_enqueue(c->ctx, p, bx.mem, bcols.mem), shape) &&
        !ck_download(c, &bcols, cols, shape)) {
        for (int m = 0; m < p->c_out; m++)
            for (int q = 0; q < npix; q++) {
                double s = 0.0;
                for (int k = 0; k < kdim; k++)
                    s += (double)w[(size_t)m * kdim + k] * cols[(size_t)k * npix + q];
                acc[(size_t)m * npix + q] = (float)s;
            }
        bacc = ck_upload(c, acc, nacc);
        bb = ck_upload(c, bias, p->c_out);
        bcb = ck_upload(c, cb, ncb);
        bres = ck_upload(c, res, ny);
        by = ck_upload(c, NULL, ny);
        {
            const ck_buf *out = in_place ? &bres : &by;
            const clsde_status st = clsde_conv2d_epilogue_enqueue(
                c->ctx, p, bacc.mem, p->has_bias ? bb.mem : NULL, p->has_chan_bias ? bcb.mem : NULL,
                p->has_residual ? bres.mem : NULL, out->mem);
            if (!ck_status(c, st, shape) && !ck_download(c, out, got, shape))
                ck_compare(c, "conv2d", shape, got, ref, ny, 1e-6 * sqrt((double)kdim), 1e-6);
        }
        ck_free(&bacc), ck_free(&bb), ck_free(&bcb), ck_free(&bres), ck_free(&by);
    }
    ck_free(&bx), ck_free(&bcols);
    free(x), free(w), free(bias), free(cb), free(res), free(got), free(ref), free(cols), free(acc);
}

static void random_tune(checkkern *c, clsde_conv2d_tune *t)
{
    t->tm = ck_randint(c, 1, 6);
    static const int widths[] = {1, 2, 4, 8, 16};
    t->vn = ck_pick(c, widths, c->small ? 4 : 5);
    t->tn = t->vn * ck_randint(c, 1, t->vn > 4 ? 2 : 3);
    t->sm = ck_randint(c, 1, 3);
    t->sn = ck_randint(c, 1, 3);
    t->tk = ck_randint(c, 1, 20);
    t->wg_m = ck_randint(c, 1, 4);
    t->wg_n = ck_randint(c, 1, 8);
}

static void check_dense(checkkern *c)
{
    const int n = ck_randint(c, 1, c->small ? 3 : 8);
    const int in = ck_randint(c, 0, 1) ? ck_randint(c, 1, c->small ? 40 : 600)
                                       : ck_pick(c, (const int[]){1, 256, 512}, 3);
    const int out = ck_randint(c, 1, c->small ? 40 : 600);
    const int with_bias = ck_randint(c, 0, 3) != 0;
    float *x = ck_alloc((size_t)n * in), *w = ck_alloc((size_t)out * in);
    float *bias = ck_alloc(out), *got = ck_alloc((size_t)n * out), *ref = ck_alloc((size_t)n * out);
    ck_buf bx, bw, bb, by;
    char shape[96];
    snprintf(shape, sizeof shape, "dense n%d in%d out%d%s", n, in, out, with_bias ? " bias" : "");
    ck_fill(c, x, (size_t)n * in, -1.0f, 1.0f);
    ck_fill(c, w, (size_t)out * in, -1.0f, 1.0f);
    for (size_t i = 0; i < (size_t)out * in; i++) w[i] /= sqrtf((float)in);
    ck_fill(c, bias, out, -1.0f, 1.0f);
    clsde_dense_ref(n, in, out, x, w, with_bias ? bias : NULL, ref);
    bx = ck_upload(c, x, (size_t)n * in);
    bw = ck_upload(c, w, (size_t)out * in);
    bb = ck_upload(c, bias, out);
    by = ck_upload(c, NULL, (size_t)n * out);
    if (!ck_status(c, clsde_dense_enqueue(c->ctx, n, in, out, bx.mem, bw.mem,
                                          with_bias ? bb.mem : NULL, by.mem), shape) &&
        !ck_download(c, &by, got, shape))
        ck_compare(c, "dense", shape, got, ref, (size_t)n * out, 1e-6 * sqrt((double)in), 1e-6);
    ck_free(&bx), ck_free(&bw), ck_free(&bb), ck_free(&by);
    free(x), free(w), free(bias), free(got), free(ref);
}

/* Bad arguments must fail with CLSDE_ERR_ARG before anything is enqueued. */
static void check_errors(checkkern *c)
{
    clsde_conv2d_params p = {.n = 1, .c_in = 2, .h = 4, .w = 4, .c_out = 3, .k = 3,
                             .stride = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1,
                             .res_div = 1.0f};
    ck_buf bx = ck_upload(c, NULL, 32), bw = ck_upload(c, NULL, 54), by = ck_upload(c, NULL, 48);
    struct {
        const char *what;
        clsde_status st;
    } cases[4];
    cases[0].what = "residual flag without a buffer";
    p.has_residual = 1;
    cases[0].st = clsde_conv2d_enqueue(c->ctx, &p, bx.mem, bw.mem, NULL, NULL, NULL, by.mem);
    p.has_residual = 0;
    cases[1].what = "weights too small for c_out 4";
    p.c_out = 4;
    cases[1].st = clsde_conv2d_enqueue(c->ctx, &p, bx.mem, bw.mem, NULL, NULL, NULL, by.mem);
    p.c_out = 3;
    cases[2].what = "output smaller than the kernel";
    p.pad_t = p.pad_b = 0;
    p.h = 2;
    cases[2].st = clsde_conv2d_enqueue(c->ctx, &p, bx.mem, bw.mem, NULL, NULL, NULL, by.mem);
    cases[3].what = "dense y too small";
    cases[3].st = clsde_dense_enqueue(c->ctx, 2, 16, 30, bx.mem, bw.mem, NULL, by.mem);
    c->checks++;
    for (int i = 0; i < 4; i++) {
        if (cases[i].st != CLSDE_ERR_ARG) {
            fprintf(stderr, "FAIL conv2d: %s: status %d, expected CLSDE_ERR_ARG\n",
                    cases[i].what, (int)cases[i].st);
            c->failures++;
        }
    }
    ck_free(&bx), ck_free(&bw), ck_free(&by);
}

/* A random shape of the variant that matches a tune row's class (k, stride). */
static enum variant class_variant(checkkern *c, const char *cls)
{
    int k = 0, stride = 0;
    if (sscanf(cls, "k%d s%d", &k, &stride) != 2) return V_GENERAL;
    if (k == 1 && stride == 1) return V_1X1;
    if (k == 3 && stride == 1) return V_SAME3;
    if (k == 3 && stride == 2) return ck_randint(c, 0, 1) ? V_DOWN_FIR : V_DOWN_DDPM;
    return V_GENERAL;
}

/* Every distinct (parameter set, kernel side) of the context's tune table (override and
 * tuned rows) on random shapes of its class's variant (k and stride as in the class, the
 * rest random, edges included): whatever `clsde tune` stored must be correct on every
 * shape it may be used for, not only on the one it was measured on. Under Oclgrind
 * (small) the first three. A new parameter set builds a program, so the full run takes
 * about a second per set on a loaded 2-core PoCL machine. */
static void check_tune_table(checkkern *c)
{
    const clsde_tune_table *tables[2];
    char seen[128][200];
    int n_seen = 0, rows = 0;
    if (clsde_tune_load(c->ctx) != CLSDE_OK) {
        ck_status(c, CLSDE_ERR_NOMEM, "loading the tune table");
        return;
    }
    tables[0] = &c->ctx->tune->override;
    tables[1] = &c->ctx->tune->tuned;
    for (int t = 0; t < 2; t++) {
        for (int32_t i = 0; i < tables[t]->n; i++) {
            const clsde_tune_row *r = &tables[t]->rows[i];
            clsde_conv2d_choice ch;
            clsde_conv2d_params p;
            char label[128], key[200];
            int dup = 0, k = 0;
            if (strcmp(r->op, "conv2d") != 0) continue;
            rows++;
            sscanf(r->cls, "k%d", &k);
            snprintf(key, sizeof key, "k%d %s", k, r->params);
            for (int j = 0; j < n_seen; j++) dup |= !strcmp(seen[j], key);
            if (dup || n_seen == (c->small ? 3 : 128)) continue;
            snprintf(seen[n_seen++], sizeof seen[0], "%s", key);
            if (clsde_conv2d_choice_parse(r->params, &ch) != 0) {
                fprintf(stderr, "FAIL conv2d: tune row '%s' = '%s' does not parse\n", r->cls,
                        r->params);
                c->failures++;
                continue;
            }
            if (ch.path == CLSDE_CONV2D_CLBLAST && (!clsde_tune_clblast_version(NULL) || c->small))
                continue; /* not usable here / CLBlast's kernels under Oclgrind, see above */
            if (ch.path == CLSDE_CONV2D_IMPLICIT && !clsde_conv2d_tune_fits(c->ctx, &ch.tile))
                continue; /* clsde_conv2d_choose never uses it on this device */
            snprintf(label, sizeof label, "%s row '%s'", t ? "tuned" : "override", r->cls);
            for (int rep = 0; rep < (c->small ? 1 : 3); rep++) {
                const enum variant v = class_variant(c, r->cls);
                random_params(c, v, &p);
                if (v == V_GENERAL) p.k = k > 0 && k <= 5 ? k : p.k;
                if (p.h + p.pad_t + p.pad_b < p.k) p.h = p.k;
                if (p.w + p.pad_l + p.pad_r < p.k) p.w = p.k;
                check_one(c, &p, &ch, p.has_residual && ck_randint(c, 0, 1), label);
            }
        }
    }
    if (rows)
        printf("conv2d: %d tune row%s, %d distinct parameter set%s checked%s\n", rows,
               rows == 1 ? "" : "s", n_seen, n_seen == 1 ? "" : "s",
               c->small && n_seen == 3 ? " (the first 3 under CLSDE_TEST_SMALL)" : "");
}

void check_conv2d(checkkern *c)
{
    const int reps = c->small ? 2 : 4;
    const int tunings = c->small ? 3 : 4;
    clsde_conv2d_params p;
    clsde_conv2d_choice ch;

    for (int r = 0; r < reps; r++) {
        for (int v = 0; v < V_COUNT; v++) {
            random_params(c, (enum variant)v, &p);
            check_one(c, &p, NULL, p.has_residual && ck_randint(c, 0, 1), variant_name[v]);
        }
    }
    /* 1x1 maps and 1-channel layers, whatever the variant. */
    random_params(c, V_SAME3, &p);
    p.h = p.w = 1;
    check_one(c, &p, NULL, 0, "3x3 s1 p1 on 1x1");
    random_params(c, V_1X1, &p);
    p.h = p.w = 1;
    p.c_in = 1;
    check_one(c, &p, NULL, 0, "1x1 on 1x1, c_in 1");
    /* Tilings other than the default: every one must be correct for the tuner to pick. */
    ch.path = CLSDE_CONV2D_IMPLICIT;
    for (int r = 0; r < tunings; r++) {
        random_tune(c, &ch.tile);
        random_params(c, (enum variant)ck_randint(c, 0, V_COUNT - 1), &p);
        check_one(c, &p, &ch, p.has_residual && ck_randint(c, 0, 1), "tuned");
    }
    /* The tilings a GPU takes by default (here an H100's properties, h100_props.h), the
     * shrunk ones of small layers included: the code a GPU runs without a tune file. */
    for (int v = 0; v < V_COUNT; v++) {
        const clsde_device_info keep = c->ctx->info;
        random_params(c, (enum variant)v, &p);
        h100_props(&c->ctx->info);
        clsde_conv2d_tune_default(c->ctx, &p, &ch.tile);
        c->ctx->info = keep;
        if (clsde_conv2d_tune_fits(c->ctx, &ch.tile))
            check_one(c, &p, &ch, p.has_residual && ck_randint(c, 0, 1), "GPU default");
    }
    /* The CLBlast path's kernels around a host GEMM, then (with CLBlast, not under
     * Oclgrind: see check_im2col_path) the whole path, on every variant, in place too. */
    for (int v = 0; v < V_COUNT; v++) {
        random_params(c, (enum variant)v, &p);
        check_im2col_path(c, &p, p.has_residual && ck_randint(c, 0, 1), variant_name[v]);
    }
    if (clsde_tune_clblast_version(NULL) && !c->small) {
        ch.path = CLSDE_CONV2D_CLBLAST;
        for (int v = 0; v < V_COUNT; v++) {
            random_params(c, (enum variant)v, &p);
            check_one(c, &p, &ch, p.has_residual && ck_randint(c, 0, 1), variant_name[v]);
        }
    } else if (clsde_tune_clblast_version(NULL)) {
        printf("conv2d: the CLBlast GEMM itself is not run under CLSDE_TEST_SMALL (Oclgrind)\n");
    }
    check_tune_table(c);
    for (int r = 0; r < (c->small ? 2 : 8); r++) check_dense(c);
    check_errors(c);
}
