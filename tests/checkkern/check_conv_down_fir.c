/*
 * check_conv_down_fir.c — the fused FIR conv-downsample against src/ref/conv_down_fir_ref.c
 * (the two-pass definition): random shapes with odd sides, 1x1 and 2x2 outputs (inputs 2..5),
 * channel counts off every tile, batch 1 and > 1, with and without bias and residual, in
 * place (y == res), the default tiling and random ones (strips of a few columns, pixel
 * vectors of every width, work-groups of several items), the CIFAR NCSN++ pyramid shapes,
 * and bad arguments.
 *
 * Tolerance: x U(-1, 1), so |F| <= 1; weights U(-1, 1)/sqrt(K), K = 9*c_in, the reduction
 * length; outputs are O(1). The kernel's F is the reference's F to 1 ulp (the same 16 taps,
 * fma'd in float vs summed in double), and its K-term float sum is off by about
 * eps*sqrt(K): atol = 1e-6*sqrt(K) (about 8x that) plus 1e-6 relative for the epilogue, as
 * check_conv2d.c. A misplaced tap or F row moves an output by ~1/sqrt(K) >> atol.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkkern.h"
#include "kernels/conv_down_fir.h"
#include "ref/conv_down_fir_ref.h"

static int random_channels(checkkern *c)
{
    static const int edge[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 32, 33, 64, 127, 128, 130};
    if (c->small) return ck_randint(c, 1, 19);
    return ck_randint(c, 0, 1) ? ck_pick(c, edge, 15) : ck_randint(c, 1, 130);
}

static void random_params(checkkern *c, clsde_conv_down_fir_params *p)
{
    const int max_side = c->small ? 12 : 35;
    p->n = ck_randint(c, 1, c->small ? 2 : 4);
    p->c_in = random_channels(c);
    p->c_out = random_channels(c);
    p->h = ck_randint(c, 0, 3) ? ck_randint(c, 2, max_side) : ck_randint(c, 2, 5);
    p->w = ck_randint(c, 0, 2) ? ck_randint(c, 2, max_side) : p->h;
    p->has_bias = ck_randint(c, 0, 3) != 0;
    p->has_residual = ck_randint(c, 0, 1);
    p->res_div = ck_randint(c, 0, 1) ? (float)sqrt(2.0) : ck_randf(c, 0.5f, 3.0f);
}

static void random_tune(checkkern *c, clsde_conv_down_fir_tune *t)
{
    static const int vns[] = {1, 2, 4, 8, 16}, fvs[] = {4, 8, 16};
    t->tm = ck_randint(c, 1, 6);
    t->vn = ck_pick(c, vns, c->small ? 4 : 5);
    t->tn = t->vn * ck_randint(c, 1, t->vn > 4 ? 2 : 3);
    t->sm = ck_randint(c, 1, 3);
    t->sn = ck_randint(c, 1, 3);
    t->cc = ck_randint(c, 1, 5);
    t->cw = ck_randint(c, 1, 9);
    t->fv = ck_pick(c, fvs, 3);
    t->wg_m = ck_randint(c, 1, 3);
    t->wg_n = ck_randint(c, 1, 4);
}

static int skipped; /* random tilings beyond the device's limits */

/* One run; t NULL: the default entry point. */
static void check_one(checkkern *c, const clsde_conv_down_fir_params *p,
                      const clsde_conv_down_fir_tune *t, int in_place, const char *label)
{
    const int oh = clsde_conv_down_fir_out_h(p), ow = clsde_conv_down_fir_out_w(p);
    const int kdim = p->c_in * 9;
    const size_t nx = (size_t)p->n * p->c_in * p->h * p->w, nw = (size_t)p->c_out * kdim;
    const size_t nz = (size_t)p->n * p->c_in * (p->h + 1) * (p->w + 1);
    const size_t ny = (size_t)p->n * p->c_out * oh * ow;
    float *x = ck_alloc(nx), *w = ck_alloc(nw), *bias = ck_alloc(p->c_out);
    float *res = ck_alloc(ny), *z = ck_alloc(nz), *got = ck_alloc(ny), *ref = ck_alloc(ny);
    ck_buf bx, bw, bb, bres, by;
    char shape[320], tiling[160] = "";
    clsde_status st;

    if (t)
        snprintf(tiling, sizeof tiling, " tiling tm%d tn%d vn%d sm%d sn%d cc%d cw%d fv%d wg%dx%d",
                 t->tm, t->tn, t->vn, t->sm, t->sn, t->cc, t->cw, t->fv, t->wg_m, t->wg_n);
    snprintf(shape, sizeof shape, "%s n%d c_in%d %dx%d -> c_out%d %dx%d%s%s res_div %g%s%s",
             label, p->n, p->c_in, p->h, p->w, p->c_out, oh, ow, p->has_bias ? " bias" : "",
             p->has_residual ? " residual" : "", (double)p->res_div,
             in_place ? " in place" : "", tiling);
    ck_fill(c, x, nx, -1.0f, 1.0f);
    ck_fill(c, w, nw, -1.0f, 1.0f);
    for (size_t i = 0; i < nw; i++) w[i] /= sqrtf((float)kdim);
    ck_fill(c, bias, p->c_out, -1.0f, 1.0f);
    ck_fill(c, res, ny, -2.0f, 2.0f);
    clsde_conv_down_fir_ref(p, x, w, p->has_bias ? bias : NULL, p->has_residual ? res : NULL,
                            z, ref);

    bx = ck_upload(c, x, nx);
    bw = ck_upload(c, w, nw);
    bb = ck_upload(c, bias, p->c_out);
    bres = ck_upload(c, res, ny);
    by = ck_upload(c, NULL, ny);
    {
        const cl_mem b_bias = p->has_bias ? bb.mem : NULL;
        const cl_mem b_res = p->has_residual ? bres.mem : NULL;
        const ck_buf *out = in_place ? &bres : &by;
        if (t)
            st = clsde_conv_down_fir_enqueue_tuned(c->ctx, p, t, bx.mem, bw.mem, b_bias, b_res,
                                                   out->mem);
        else
            st = clsde_conv_down_fir_enqueue(c->ctx, p, bx.mem, bw.mem, b_bias, b_res, out->mem);
        if (st == CLSDE_ERR_DEVICE_LIMIT && t) {
            /* a random tiling beyond this device's local memory (Oclgrind's is small) */
            skipped++;
        } else if (!ck_status(c, st, shape) && !ck_download(c, out, got, shape)) {
            ck_compare(c, "conv_down_fir", shape, got, ref, ny, 1e-6 * sqrt((double)kdim),
                       1e-6);
        }
    }
    ck_free(&bx), ck_free(&bw), ck_free(&bb), ck_free(&bres), ck_free(&by);
    free(x), free(w), free(bias), free(res), free(z), free(got), free(ref);
}

/* Bad arguments must fail with CLSDE_ERR_ARG before anything is enqueued. */
static void check_errors(checkkern *c)
{
    clsde_conv_down_fir_params p = {1, 2, 4, 4, 3, 1, 0, 1.0f};
    ck_buf bx = ck_upload(c, NULL, 32), bw = ck_upload(c, NULL, 54), by = ck_upload(c, NULL, 12);
    clsde_status st[4];
    static const char *what[4] = {"bias flag without a buffer", "input 1x4",
                                  "residual flag without a buffer", "weights too small"};
    st[0] = clsde_conv_down_fir_enqueue(c->ctx, &p, bx.mem, bw.mem, NULL, NULL, by.mem);
    p.has_bias = 0;
    p.h = 1;
    st[1] = clsde_conv_down_fir_enqueue(c->ctx, &p, bx.mem, bw.mem, NULL, NULL, by.mem);
    p.h = 4;
    p.has_residual = 1;
    st[2] = clsde_conv_down_fir_enqueue(c->ctx, &p, bx.mem, bw.mem, NULL, NULL, by.mem);
    p.has_residual = 0;
    p.c_out = 4;
    st[3] = clsde_conv_down_fir_enqueue(c->ctx, &p, bx.mem, bw.mem, NULL, NULL, by.mem);
    c->checks++;
    for (int i = 0; i < 4; i++) {
        if (st[i] != CLSDE_ERR_ARG) {
            fprintf(stderr, "FAIL conv_down_fir: %s: status %d, expected CLSDE_ERR_ARG\n",
                    what[i], (int)st[i]);
            c->failures++;
        }
    }
    ck_free(&bx), ck_free(&bw), ck_free(&by);
}

void check_conv_down_fir(checkkern *c)
{
    /* the CIFAR-10 NCSN++ input pyramid (networks.md §7.1): c_in, side, c_out */
    static const int net[][3] = {{3, 32, 128}, {128, 16, 256}, {256, 8, 256}};
    clsde_conv_down_fir_params p;
    clsde_conv_down_fir_tune t;
    for (int r = 0; r < (c->small ? 3 : 8); r++) {
        random_params(c, &p);
        check_one(c, &p, NULL, p.has_residual && ck_randint(c, 0, 1), "default");
    }
    /* 1x1 outputs (inputs 2 and 3 wide) with 1 channel in */
    random_params(c, &p);
    p.h = ck_randint(c, 2, 3), p.w = ck_randint(c, 2, 3), p.c_in = 1;
    check_one(c, &p, NULL, 0, "1x1 output");
    for (int r = 0; r < (c->small ? 3 : 6); r++) {
        random_tune(c, &t);
        random_params(c, &p);
        check_one(c, &p, &t, p.has_residual && ck_randint(c, 0, 1), "tiling");
    }
    if (!c->small) {
        for (int s = 0; s < 3; s++) {
            p.n = ck_randint(c, 1, 2), p.c_in = net[s][0], p.h = p.w = net[s][1];
            p.c_out = net[s][2], p.has_bias = 1, p.has_residual = 1;
            p.res_div = (float)sqrt(2.0);
            check_one(c, &p, NULL, 1, "NCSN++ pyramid");
        }
    }
    if (skipped)
        printf("conv_down_fir: %d random tiling%s beyond the device's limits not run\n", skipped,
               skipped == 1 ? "" : "s");
    check_errors(c);
}
