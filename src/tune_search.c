/*
 * tune_search.c — the conv2d tuner behind `clsde tune` (tune_search.h): the conv shapes of a
 * network, walked from its config (networks.md §2.3, §3; presets §2.5, §2.6, §3), then per
 * shape class a search over the tilings of
 * cl/conv2d.cl within the device's limits — the defaults first, then a hill climb over
 * neighbouring tilings, then random points of the grid — plus the CLBlast path when built
 * with it. Each candidate's output is compared with clsde_conv2d_ref (the checker's
 * tolerance) before it is timed; a failing candidate is reported and never stored.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "model.h"
#include "nets/nets.h"
#include "ref/conv2d_ref.h"
#include "tune_search.h"

/* ------------------------------------------------------------ shape lists */

clsde_status clsde_conv_shapes_add(clsde_conv_shapes *list, const clsde_conv2d_params *p,
                                   int32_t count)
{
    for (int32_t i = 0; i < list->n; i++) {
        const clsde_conv2d_params *q = &list->s[i].p;
        if (q->n == p->n && q->c_in == p->c_in && q->h == p->h && q->w == p->w &&
            q->c_out == p->c_out && q->k == p->k && q->stride == p->stride &&
            q->pad_t == p->pad_t && q->pad_l == p->pad_l && q->pad_b == p->pad_b &&
            q->pad_r == p->pad_r) {
            list->s[i].count += count;
            return CLSDE_OK;
        }
    }
    if (list->n == list->cap) {
        const int32_t cap = list->cap ? 2 * list->cap : 32;
        clsde_conv_shape *s = realloc(list->s, (size_t)cap * sizeof *s);
        CLSDE_FAIL_IF(!s, NULL, CLSDE_ERR_NOMEM, "out of memory (conv shapes)");
        list->s = s;
        list->cap = cap;
    }
    list->s[list->n].p = *p;
    list->s[list->n++].count = count;
    return CLSDE_OK;
}

void clsde_conv_shapes_free(clsde_conv_shapes *list)
{
    free(list->s);
    list->s = NULL;
    list->n = list->cap = 0;
}

double clsde_conv2d_flops(const clsde_conv2d_params *p)
{
    return 2.0 * p->n * (double)p->c_out * clsde_conv2d_out_h(p) * clsde_conv2d_out_w(p) *
           (double)p->c_in * p->k * p->k;
}

/* ---- the network walk: the convolutions a config's network runs, in module order ---- */

typedef struct walk {
    clsde_conv_shapes *out;
    const clsde_model_config *c;
    int32_t batch;
    clsde_status st;
} walk;

static void conv(walk *w, int32_t c_in, int32_t side, int32_t c_out, int32_t k, int32_t stride,
                 int32_t pt, int32_t pl, int32_t pb, int32_t pr)
{
    clsde_conv2d_params p;
    if (w->st != CLSDE_OK) return;
    memset(&p, 0, sizeof p);
    p.n = w->batch, p.c_in = c_in, p.h = p.w = side, p.c_out = c_out, p.k = k;
    p.stride = stride, p.pad_t = pt, p.pad_l = pl, p.pad_b = pb, p.pad_r = pr;
    p.has_bias = 1, p.res_div = 1.0f;
    w->st = clsde_conv_shapes_add(w->out, &p, 1);
}

static void conv3(walk *w, int32_t c_in, int32_t side, int32_t c_out)
{
    conv(w, c_in, side, c_out, 3, 1, 1, 1, 1, 1);
}

static void conv1(walk *w, int32_t c_in, int32_t side, int32_t c_out)
{
    conv(w, c_in, side, c_out, 1, 1, 0, 0, 0, 0);
}

/* A stride-2 3x3 conv from side to side/2 after the right/bottom zero pad (§1.4). With fir
 * it is the fused conv-downsample of §1.3, which runs as its own kernel (conv_down_fir),
 * not as a conv2d: nothing to tune here. */
static void conv_down(walk *w, int32_t c_in, int32_t side, int32_t c_out)
{
    if (!w->c->fir) conv(w, c_in, side, c_out, 3, 2, 0, 0, 1, 1);
}

/* Residual block at `side` (its input's side); updown +1 up, -1 down (BigGAN only): the
 * convs run at the resampled side. Conv_0, Conv_1 3x3; the 1x1 shortcut (Conv_2 / NIN_0)
 * when the width changes or the block resamples (§1.5). */
static void resblock(walk *w, int32_t in, int32_t out, int32_t side, int updown)
{
    const int32_t s = updown > 0 ? 2 * side : updown < 0 ? side / 2 : side;
    conv3(w, in, s, out);
    conv3(w, out, s, out);
    if (in != out || updown) conv1(w, in, s, out);
}

static void attn(walk *w, int32_t ch, int32_t side)
{
    for (int i = 0; i < 4; i++) conv1(w, ch, side, ch); /* NIN_0..3 (q, k, v, out) */
}

static int attn_at(const clsde_model_config *c, int32_t side)
{
    for (int32_t i = 0; i < c->n_attn; i++)
        if (c->attn_resolutions[i] == side) return 1;
    return 0;
}

/* networks.md §2.3 (NCSN++ / DDPM++) and §3 (DDPM: DDPM blocks, conv Up/Downsample when
 * resamp_with_conv, no pyramids), the same walk model_config.c makes for GroupNorm. */
static clsde_status walk_config(walk *w)
{
    const clsde_model_config *c = w->c;
    const int biggan = c->arch != CLSDE_ARCH_DDPM && c->resblock_type == CLSDE_RESBLOCK_BIGGAN;
    const int32_t L = c->n_levels, S = c->image_size, C = c->num_channels;
    int32_t hs[1 + CLSDE_MAX_LEVELS * 65], n_hs = 0, in = c->nf, ipc = C;

    CLSDE_FAIL_IF(L < 1 || L > CLSDE_MAX_LEVELS || c->num_res_blocks < 0 ||
                      c->num_res_blocks > 64 || c->nf < 1 || S < 1,
                  NULL, CLSDE_ERR_ARG, "conv shapes: config out of range");
    conv3(w, C, S, in); /* conv_in */
    hs[n_hs++] = in;
    for (int32_t i = 0; i < L; i++) {
        const int32_t ch = c->nf * c->ch_mult[i], side = S >> i;
        for (int32_t j = 0; j < c->num_res_blocks; j++) {
            resblock(w, in, ch, side, 0);
            in = ch;
            if (attn_at(c, side)) attn(w, in, side);
            hs[n_hs++] = in;
        }
        if (i < L - 1) {
            if (biggan) resblock(w, in, in, side, -1);
            else if (c->resamp_with_conv) conv_down(w, in, side, in); /* Downsample */
            if (c->progressive_input == CLSDE_PROG_INPUT_SKIP) {
                conv1(w, C, side / 2, in); /* Combine */
                if (c->progressive_combine == CLSDE_COMBINE_CAT) in *= 2;
            } else if (c->progressive_input == CLSDE_PROG_RESIDUAL) {
                conv_down(w, ipc, side, in); /* pyramid conv-downsample */
                ipc = in;
            }
            hs[n_hs++] = in;
        }
    }
    {
        const int32_t side = S >> (L - 1);
        in = hs[n_hs - 1];
        resblock(w, in, in, side, 0);
        attn(w, in, side);
        resblock(w, in, in, side, 0);
    }
    for (int32_t i = L - 1; i >= 0; i--) {
        const int32_t ch = c->nf * c->ch_mult[i], side = S >> i;
        for (int32_t j = 0; j < c->num_res_blocks + 1; j++) {
            resblock(w, in + hs[--n_hs], ch, side, 0);
            in = ch;
        }
        if (attn_at(c, side)) attn(w, in, side);
        if (c->progressive == CLSDE_PROG_OUTPUT_SKIP) conv3(w, in, side, C);
        if (i > 0) {
            if (biggan) resblock(w, in, in, side, +1);
            else if (c->resamp_with_conv) conv3(w, in, 2 * side, in); /* nearest x2 + conv */
        }
    }
    if (c->progressive != CLSDE_PROG_OUTPUT_SKIP) conv3(w, in, S, C); /* conv_out */
    return w->st;
}

clsde_status clsde_conv_shapes_config(clsde_context *ctx, const clsde_model_config *cfg,
                                      int32_t batch, clsde_conv_shapes *out)
{
    walk w = {out, cfg, batch, CLSDE_OK};
    const clsde_status st = batch < 1 ? clsde_error_set(NULL, CLSDE_ERR_ARG, "batch %d < 1",
                                                        (int)batch)
                                      : walk_config(&w);
    if (st != CLSDE_OK) clsde_error_adopt(ctx);
    return st;
}

clsde_status clsde_conv_shapes_graph(const clsde_graph *g, clsde_conv_shapes *out)
{
    for (int32_t i = 0; i < g->n_nodes; i++) {
        clsde_conv2d_params p;
        if (g->nodes[i].op != CLSDE_OP_CONV2D) continue;
        p = g->nodes[i].p.conv2d;
        p.has_bias = 1, p.has_chan_bias = p.has_residual = 0, p.res_div = 1.0f;
        CLSDE_TRY(clsde_conv_shapes_add(out, &p, 1));
    }
    return CLSDE_OK;
}

clsde_status clsde_conv_shapes_model(clsde_context *ctx, const char *path, int32_t batch,
                                     clsde_conv_shapes *out)
{
    clsde_model *m = NULL;
    clsde_graph *g = NULL;
    clsde_nets_io io;
    clsde_status st;
    CLSDE_FAIL_IF(batch < 1, ctx, CLSDE_ERR_ARG, "conv shapes: batch %d < 1", (int)batch);
    CLSDE_TRY(clsde_model_file_load(ctx, path, &m));
    st = clsde_graph_create(ctx, &g);
    if (st == CLSDE_OK)
        st = m->cfg.arch == CLSDE_ARCH_DDPM ? clsde_ddpm_build(g, m, batch, &io)
                                            : clsde_ncsnpp_build(g, m, batch, &io);
    if (st == CLSDE_OK) {
        st = clsde_conv_shapes_graph(g, out);
        if (st != CLSDE_OK) clsde_error_adopt(ctx);
    }
    clsde_graph_destroy(g);
    clsde_model_file_destroy(m);
    return st;
}

const char *const clsde_conv_presets[] = {"cifar10-ncsnpp", "cifar10-ddpmpp", "cifar10-ddpm",
                                          NULL};

/* The network part of the official configs: ve/cifar10_ncsnpp_continuous (§2.5),
 * vp/cifar10_ddpmpp_continuous (§2.6), vp/ddpm/cifar10 (§3). */
void clsde_conv_preset_config(int which, clsde_model_config *c)
{
    memset(c, 0, sizeof *c);
    c->image_size = 32, c->num_channels = 3, c->nf = 128;
    c->n_levels = 4;
    c->ch_mult[0] = 1, c->ch_mult[1] = c->ch_mult[2] = c->ch_mult[3] = 2;
    c->n_attn = 1, c->attn_resolutions[0] = 16;
    c->arch = CLSDE_ARCH_NCSNPP, c->resblock_type = CLSDE_RESBLOCK_BIGGAN;
    c->resamp_with_conv = 1, c->num_res_blocks = 4;
    c->progressive = CLSDE_PROG_NONE, c->progressive_combine = CLSDE_COMBINE_SUM;
    switch (which) {
    case 0:
        c->fir = 1, c->progressive_input = CLSDE_PROG_RESIDUAL;
        break;
    case 1:
        c->fir = 0, c->progressive_input = CLSDE_PROG_NONE;
        break;
    default:
        c->arch = CLSDE_ARCH_DDPM, c->resblock_type = CLSDE_RESBLOCK_DDPM;
        c->num_res_blocks = 2, c->fir = 0, c->progressive_input = CLSDE_PROG_NONE;
        break;
    }
}

clsde_status clsde_conv_shapes_preset(clsde_context *ctx, const char *name, int32_t batch,
                                      clsde_conv_shapes *out)
{
    clsde_model_config c;
    int which = 0;
    CLSDE_FAIL_IF(!name, ctx, CLSDE_ERR_ARG, "conv shapes: no preset");
    while (clsde_conv_presets[which] && strcmp(clsde_conv_presets[which], name) != 0) which++;
    CLSDE_FAIL_IF(!clsde_conv_presets[which], ctx, CLSDE_ERR_ARG,
                  "unknown shape preset '%s' (presets: cifar10-ncsnpp, cifar10-ddpmpp, "
                  "cifar10-ddpm)", name);
    clsde_conv_preset_config(which, &c);
    return clsde_conv_shapes_config(ctx, &c, batch, out);
}

/* ------------------------------------------------------------ measuring one candidate */

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* The device buffers and reference output of one class's representative shape. */
/* The reference covers the first and the last image of the batch: the batch is folded into
 * the GEMM's N, so they hold the first and the last pixel tile and image boundaries inside
 * tiles, which is where a tiling goes wrong; the kernel checker runs every tuned tiling on
 * whole random batches, and verify() requires every other output to have been written.
 * (The full batch-8 reference of the largest class is ~5 GMAC in double: most of a class's
 * budget on a 2-core machine.) */
typedef struct bench_case {
    clsde_conv2d_params p;
    cl_mem x, w, bias, y;
    float *ref;      /* [2][per_image]: images 0 and n-1 */
    float *got;      /* [ny] */
    size_t ny;       /* n * c_out * oh * ow */
    size_t per_image;
    int32_t kdim;
} bench_case;

static void case_free(bench_case *b)
{
    clsde_buffer_release(b->x), clsde_buffer_release(b->w);
    clsde_buffer_release(b->bias), clsde_buffer_release(b->y);
    free(b->ref), free(b->got);
    memset(b, 0, sizeof *b);
}

/* Inputs as the kernel checker draws them: x, bias U(-1, 1), w U(-1, 1)/sqrt(K). */
static clsde_status case_init(clsde_context *ctx, const clsde_conv2d_params *p, uint64_t seed,
                              bench_case *b)
{
    const int32_t oh = clsde_conv2d_out_h(p), ow = clsde_conv2d_out_w(p);
    const size_t nx = (size_t)p->n * p->c_in * p->h * p->w;
    const size_t nw = (size_t)p->c_out * p->c_in * p->k * p->k;
    float *x = NULL, *w = NULL, *bias = NULL;
    uint64_t s = seed | 1;
    clsde_status st = CLSDE_OK;

    memset(b, 0, sizeof *b);
    b->p = *p;
    b->kdim = p->c_in * p->k * p->k;
    b->per_image = (size_t)p->c_out * oh * ow;
    b->ny = (size_t)p->n * b->per_image;
    x = malloc(nx * sizeof *x), w = malloc(nw * sizeof *w), bias = malloc(p->c_out * sizeof *bias);
    b->ref = malloc(2 * b->per_image * sizeof *b->ref), b->got = malloc(b->ny * sizeof *b->got);
    CLSDE_GOTO_IF(!x || !w || !bias || !b->ref || !b->got, ctx, CLSDE_ERR_NOMEM,
                  "out of memory (tune case)");
#define U01() ((float)((double)(next_rand(&s) >> 11) * (1.0 / 9007199254740992.0)))
    for (size_t i = 0; i < nx; i++) x[i] = 2.0f * U01() - 1.0f;
    for (size_t i = 0; i < nw; i++) w[i] = (2.0f * U01() - 1.0f) / sqrtf((float)b->kdim);
    for (int32_t i = 0; i < p->c_out; i++) bias[i] = 2.0f * U01() - 1.0f;
#undef U01
    {
        clsde_conv2d_params one = *p;
        const size_t x_image = (size_t)p->c_in * p->h * p->w;
        one.n = 1;
        clsde_conv2d_ref(&one, x, w, p->has_bias ? bias : NULL, NULL, NULL, b->ref);
        clsde_conv2d_ref(&one, x + (size_t)(p->n - 1) * x_image, w, p->has_bias ? bias : NULL,
                         NULL, NULL, b->ref + b->per_image);
    }
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, nx * sizeof(float), &b->x));
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, nw * sizeof(float), &b->w));
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, (size_t)p->c_out * sizeof(float), &b->bias));
    CLSDE_TRY_GOTO(clsde_buffer_create(ctx, b->ny * sizeof(float), &b->y));
    CLSDE_TRY_GOTO(clsde_buffer_write(ctx, b->x, 0, nx * sizeof(float), x));
    CLSDE_TRY_GOTO(clsde_buffer_write(ctx, b->w, 0, nw * sizeof(float), w));
    CLSDE_TRY_GOTO(clsde_buffer_write(ctx, b->bias, 0, (size_t)p->c_out * sizeof(float), bias));
    free(x), free(w), free(bias);
    return CLSDE_OK;
fail:
    free(x), free(w), free(bias);
    case_free(b);
    return st;
}

static clsde_status run(clsde_context *ctx, bench_case *b, const clsde_conv2d_choice *c)
{
    return clsde_conv2d_enqueue_choice(ctx, &b->p, c, b->x, b->w, b->p.has_bias ? b->bias : NULL,
                                       NULL, NULL, b->y);
}

int clsde_conv2d_outputs_match(const float *got, const float *ref, size_t n, int32_t kdim,
                               char *why, size_t nwhy)
{
    const double atol = 1e-6 * sqrt((double)kdim), rtol = 1e-6;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - (double)ref[i]);
        if (!(d <= atol + rtol * fabs((double)ref[i]))) {
            snprintf(why, nwhy, "output %zu: got %.9g, reference %.9g (|diff| %.3g > %.3g)", i,
                     (double)got[i], (double)ref[i], d, atol + rtol * fabs((double)ref[i]));
            return 0;
        }
    }
    return 1;
}

/* Run once and compare images 0 and n-1 with the reference (clsde_conv2d_outputs_match),
 * every other output must be finite (y is NaN-poisoned first, so a skipped output shows):
 * *ok = 1 when all holds, else 0 with the first problem in why. Infrastructure failures (a
 * build error, a refused launch) come back as statuses; the caller rejects the candidate
 * for them too. */
static clsde_status verify(clsde_context *ctx, bench_case *b, const clsde_conv2d_choice *c,
                           int *ok, char *why, size_t nwhy)
{
    const float nan = NAN;
    const size_t last = (size_t)(b->p.n - 1) * b->per_image;
    *ok = 0;
    CLSDE_CL(ctx, clEnqueueFillBuffer(ctx->queue, b->y, &nan, sizeof nan, 0,
                                      b->ny * sizeof(float), 0, NULL, NULL),
             "clEnqueueFillBuffer");
    CLSDE_TRY(run(ctx, b, c));
    CLSDE_TRY(clsde_buffer_read(ctx, b->y, 0, b->ny * sizeof(float), b->got));
    if (!clsde_conv2d_outputs_match(b->got, b->ref, b->per_image, b->kdim, why, nwhy)) {
        strncat(why, " (image 0)", nwhy - strlen(why) - 1);
        return CLSDE_OK;
    }
    if (!clsde_conv2d_outputs_match(b->got + last, b->ref + b->per_image, b->per_image,
                                    b->kdim, why, nwhy)) {
        char tail[48];
        snprintf(tail, sizeof tail, " (image %d)", (int)b->p.n - 1);
        strncat(why, tail, nwhy - strlen(why) - 1);
        return CLSDE_OK;
    }
    for (size_t i = b->per_image; i < last; i++)
        if (!isfinite(b->got[i])) {
            snprintf(why, nwhy, "output %zu (image %zu) not written or not finite: %g", i,
                     i / b->per_image, (double)b->got[i]);
            return CLSDE_OK;
        }
    *ok = 1;
    return CLSDE_OK;
}

/* The fastest single call over `rounds` rounds of at least 50 ms (one call at least); ms.
 * The machine is shared: the fastest call is the cost without interference, and is what
 * repeats between runs (a mean over calls moves by 2-5x with the load; the kernel bench
 * counts the same way). A candidate slower than cutoff_ms (> 0) after its first round is
 * not measured further. */
static clsde_status time_it(clsde_context *ctx, bench_case *b, const clsde_conv2d_choice *c,
                            int rounds, double cutoff_ms, double *ms)
{
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        double spent = 0;
        int reps = 0;
        do {
            const double t0 = clsde_now();
            double t;
            CLSDE_TRY(run(ctx, b, c));
            CLSDE_TRY(clsde_finish(ctx));
            t = clsde_now() - t0;
            if (t < best) best = t;
            spent += t;
            reps++;
        } while (spent < 0.05 && reps < 1000);
        if (cutoff_ms > 0 && 1e3 * best > cutoff_ms) break;
    }
    *ms = 1e3 * best;
    return CLSDE_OK;
}

/* ------------------------------------------------------------ the search space */

/* Values each tiling parameter may take, in order (neighbours are adjacent entries).
 * CPU: one work-item per group (wg 1x1: no barriers, accumulators in registers, see
 * cl/conv2d.cl), register tiles of TM x TN, blocks of SM x SN tiles. Other devices:
 * work-groups of 16..max work-items, small per-item tiles, K blocks up to 128 (on an H100
 * at batch 1 most winners sat at the old ceiling of 32: there each K block cost the
 * latency of its staging loads, BENCHMARKS.md "NVIDIA H100"). */
typedef struct space {
    int32_t vals[8][8]; /* per parameter, in clsde_conv2d_tune field order */
    int32_t nvals[8];
} space;

enum { P_TM, P_TN, P_VN, P_SM, P_SN, P_TK, P_WGM, P_WGN };

static void set_vals(space *s, int which, const int32_t *v, int n)
{
    memcpy(s->vals[which], v, (size_t)n * sizeof *v);
    s->nvals[which] = n;
}

static void make_space(const clsde_context *ctx, space *s)
{
    memset(s, 0, sizeof *s);
    if (ctx->info.type == CLSDE_DEVICE_CPU) {
        set_vals(s, P_TM, (const int32_t[]){2, 3, 4, 6, 8, 12, 16}, 7);
        set_vals(s, P_TN, (const int32_t[]){4, 8, 16, 32, 48, 64}, 6);
        set_vals(s, P_VN, (const int32_t[]){4, 8, 16}, 3);
        set_vals(s, P_SM, (const int32_t[]){1, 2, 4, 8, 16, 32}, 6);
        set_vals(s, P_SN, (const int32_t[]){1, 2, 4, 8, 16}, 5);
        set_vals(s, P_TK, (const int32_t[]){16, 32, 64, 128, 256}, 5);
        set_vals(s, P_WGM, (const int32_t[]){1}, 1);
        set_vals(s, P_WGN, (const int32_t[]){1}, 1);
    } else {
        set_vals(s, P_TM, (const int32_t[]){1, 2, 4, 8}, 4);
        set_vals(s, P_TN, (const int32_t[]){1, 2, 4, 8}, 4);
        set_vals(s, P_VN, (const int32_t[]){1, 2, 4}, 3);
        set_vals(s, P_SM, (const int32_t[]){1, 2}, 2);
        set_vals(s, P_SN, (const int32_t[]){1, 2}, 2);
        set_vals(s, P_TK, (const int32_t[]){4, 8, 16, 32, 64, 128}, 6);
        set_vals(s, P_WGM, (const int32_t[]){1, 2, 4, 8, 16, 32}, 6);
        set_vals(s, P_WGN, (const int32_t[]){1, 2, 4, 8, 16, 32, 64}, 7);
    }
}

static int32_t *field(clsde_conv2d_tune *t, int which)
{
    int32_t *f[8] = {&t->tm, &t->tn, &t->vn, &t->sm, &t->sn, &t->tk, &t->wg_m, &t->wg_n};
    return f[which];
}

/* Whether a tiling is worth running for p on this device: valid, within the work-group
 * and local-memory limits, a register tile that fits (CPU: at most 32 vector accumulators),
 * no block more than twice the layer, and on a CPU at least two groups per compute unit
 * (as the defaults keep: with one group per core, a core that another process holds for a
 * moment stalls the whole launch; a tuner run in a quiet moment would not see that). On a
 * GPU that rule would rule out every small tiling of a small layer (a 256-channel 8x8 conv
 * at batch 1 has 16,384 outputs: 264 groups on 132 compute units would leave 62 outputs
 * per group), so there the timings decide. */
static int plausible(const clsde_context *ctx, const clsde_conv2d_params *p,
                     const clsde_conv2d_tune *t)
{
    const int64_t npix = (int64_t)p->n * clsde_conv2d_out_h(p) * clsde_conv2d_out_w(p);
    const int64_t bm = (int64_t)t->wg_m * t->sm * t->tm, bn = (int64_t)t->wg_n * t->sn * t->tn;
    const int64_t groups = ((npix + bn - 1) / bn) * ((p->c_out + bm - 1) / bm);
    const int wg = t->wg_m * t->wg_n;
    if (!clsde_conv2d_tune_fits(ctx, t)) return 0;
    if (bm > 2 * (int64_t)p->c_out + t->tm || bn > 2 * npix + t->tn) return 0;
    if (ctx->info.type == CLSDE_DEVICE_CPU) {
        const int acc = t->tm * (t->tn / t->vn);
        if (acc > 32 || acc < 4 || t->tk > 2 * p->c_in * p->k * p->k + 16) return 0;
        if (groups < 2 * (ctx->info.compute_units > 0 ? ctx->info.compute_units : 1)) return 0;
    } else if (wg < 16 || t->tm * t->tn > 64 ||
               (t->tk + t->wg_m - 1) / t->wg_m * t->sn * t->tn > 64) {
        return 0; /* the last: X values a work-item gathers per K block (cl/conv2d.cl) */
    }
    return 1;
}

static int same_tile(const clsde_conv2d_tune *a, const clsde_conv2d_tune *b)
{
    return !memcmp(a, b, sizeof *a);
}

/* A list of tilings already run (no candidate is measured twice). */
typedef struct visited {
    clsde_conv2d_tune t[512];
    int n;
} visited;

static int seen(const visited *v, const clsde_conv2d_tune *t)
{
    for (int i = 0; i < v->n; i++)
        if (same_tile(&v->t[i], t)) return 1;
    return 0;
}

/* The neighbours of t: one parameter moved to an adjacent value (TN follows VN so that
 * the register tile keeps its vector count; TM snaps to c_out when the layer is smaller). */
static int neighbours(const clsde_context *ctx, const clsde_conv2d_params *p, const space *s,
                      const clsde_conv2d_tune *t, clsde_conv2d_tune *out, int max)
{
    int n = 0;
    for (int which = 0; which < 8; which++) {
        int cur = -1;
        for (int i = 0; i < s->nvals[which]; i++)
            if (s->vals[which][i] == *field((clsde_conv2d_tune *)t, which)) cur = i;
        for (int dir = -1; dir <= 1; dir += 2) {
            clsde_conv2d_tune c = *t;
            int idx = cur < 0 ? 0 : cur + dir;
            if (cur < 0 && dir > 0) continue;
            if (idx < 0 || idx >= s->nvals[which]) continue;
            *field(&c, which) = s->vals[which][idx];
            if (which == P_VN) c.tn = c.tn / t->vn * c.vn;
            if (c.tm > p->c_out) c.tm = p->c_out;
            if (n < max && !same_tile(&c, t) && plausible(ctx, p, &c)) out[n++] = c;
        }
    }
    return n;
}

/* A random plausible tiling (up to 200 draws), 0 when none was found. */
static int random_tile(const clsde_context *ctx, const clsde_conv2d_params *p, const space *s,
                       uint64_t *rng, clsde_conv2d_tune *t)
{
    for (int tries = 0; tries < 200; tries++) {
        for (int which = 0; which < 8; which++)
            *field(t, which) = s->vals[which][next_rand(rng) % (uint64_t)s->nvals[which]];
        if (t->tm > p->c_out) t->tm = p->c_out;
        if (t->tn < t->vn) t->tn = t->vn;
        t->tn -= t->tn % t->vn;
        if (plausible(ctx, p, t)) return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ the search */

typedef struct klass {
    char cls[64];
    int32_t rep;     /* index of the representative shape (the heaviest in the class) */
    int32_t count;   /* runs of all shapes in the class */
    double weight;   /* FLOP of all of them */
} klass;

static int by_weight(const void *a, const void *b)
{
    const double wa = ((const klass *)a)->weight, wb = ((const klass *)b)->weight;
    return wa < wb ? 1 : wa > wb ? -1 : 0;
}

static void shape_label(const clsde_conv2d_params *p, char *out, size_t n)
{
    snprintf(out, n, "%dx%dx%dx%d->%d k%d s%d", (int)p->n, (int)p->c_in, (int)p->h, (int)p->w,
             (int)p->c_out, (int)p->k, (int)p->stride);
}

#define SAY(...)                                                                       \
    do {                                                                              \
        if (set->progress) {                                                          \
            fprintf(set->progress, __VA_ARGS__);                                      \
            fflush(set->progress);                                                    \
        }                                                                             \
    } while (0)

/* Try one candidate: verify, then time. *ms = 0 when it was rejected. */
static clsde_status try_one(clsde_context *ctx, bench_case *b, const clsde_conv2d_choice *c,
                            const clsde_tune_settings *set, clsde_tune_result *r,
                            double cutoff_ms, double *ms)
{
    char why[256], text[192];
    int ok = 0;
    clsde_status st;
    *ms = 0;
    r->tried++;
    clsde_conv2d_choice_format(c, text, sizeof text);
    st = verify(ctx, b, c, &ok, why, sizeof why);
    if (st != CLSDE_OK) {
        snprintf(why, sizeof why, "%s", clsde_last_error(ctx));
        clsde_error_clear(ctx);
        /* the queue may hold a failed launch; start the next candidate from a clean one */
        clFinish(ctx->queue);
    }
    if (st != CLSDE_OK || !ok) {
        r->rejected++;
        SAY("    rejected %s: %s\n", text, why);
        return CLSDE_OK;
    }
    return time_it(ctx, b, c, 3, cutoff_ms, ms);
}

/* Time a and b in alternation, `rounds` rounds each, so that both see the same machine
 * load; best of each. */
static clsde_status duel(clsde_context *ctx, bench_case *b, const clsde_conv2d_choice *ca,
                         const clsde_conv2d_choice *cb, int rounds, double *ms_a, double *ms_b)
{
    *ms_a = *ms_b = 1e30;
    for (int r = 0; r < rounds; r++) {
        double ta, tb;
        CLSDE_TRY(time_it(ctx, b, ca, 1, 0, &ta));
        CLSDE_TRY(time_it(ctx, b, cb, 1, 0, &tb));
        if (ta < *ms_a) *ms_a = ta;
        if (tb < *ms_b) *ms_b = tb;
    }
    return CLSDE_OK;
}

/* A candidate replaces the incumbent only if it is this much faster when both are timed
 * side by side (duel): the machine is shared, and a one-off fast round is noise. */
#define WIN_MARGIN 0.98

static clsde_status tune_class(clsde_context *ctx, const clsde_conv2d_params *p, double budget,
                               const clsde_tune_settings *set, int try_clblast, uint64_t *rng,
                               clsde_tune_result *r)
{
    const double t0 = clsde_now();
    bench_case b;
    space s;
    visited *v = calloc(1, sizeof *v);
    clsde_conv2d_choice def, cur, cand, fin;
    double cur_ms, ms, ms_new, ms_old;
    clsde_status st = CLSDE_OK;
    int exhausted = 0, misses = 0;
    int32_t extra = 0;

    CLSDE_FAIL_IF(!v, ctx, CLSDE_ERR_NOMEM, "out of memory (tune search)");
    st = case_init(ctx, p, *rng, &b);
    if (st != CLSDE_OK) {
        free(v);
        return st;
    }
    SAY("    C reference: %.1f s\n", clsde_now() - t0);
    make_space(ctx, &s);

    /* 1. the defaults: the baseline every other candidate must beat */
    memset(&def, 0, sizeof def);
    def.path = CLSDE_CONV2D_IMPLICIT;
    clsde_conv2d_tune_default(ctx, p, &def.tile);
    v->t[v->n++] = def.tile;
    CLSDE_TRY_GOTO(try_one(ctx, &b, &def, set, r, 0, &ms));
    CLSDE_GOTO_IF(ms == 0, ctx, CLSDE_ERR_INTERNAL,
                  "conv2d %s: the default tiling failed verification (see above)", r->shape);
    r->default_ms = cur_ms = ms;
    cur = def;

    /* 2. CLBlast as one candidate (its own kernels carry their own tuning); it competes
     * with the final winner of the tiling search in step 4 */
    if (try_clblast) {
        memset(&cand, 0, sizeof cand);
        cand.path = CLSDE_CONV2D_CLBLAST;
        CLSDE_TRY_GOTO(try_one(ctx, &b, &cand, set, r, 3 * r->default_ms, &ms));
        r->clblast_ms = ms;
        SAY("    clblast: %.3f ms (%.2fx the defaults)\n", ms, ms > 0 ? r->default_ms / ms : 0);
    }

    /* 3. the caller's tilings (all of them, whatever the budget: they were asked for by
     * name), then a hill climb: run an unseen neighbour of the current tiling, move when it
     * wins a duel against it; once every neighbour has run, random points of the grid,
     * climbing on from any that wins. */
    while (extra < set->n_extra || (clsde_now() - t0 < budget && v->n < 512 && misses < 200)) {
        if (extra < set->n_extra) {
            cand = set->extra[extra++];
            if (cand.path == CLSDE_CONV2D_CLBLAST) continue; /* timed in step 2 */
            if (seen(v, &cand.tile)) continue;
        } else if (!exhausted) {
            clsde_conv2d_tune nb[32];
            const int n = neighbours(ctx, p, &s, &cur.tile, nb, 32);
            int found = 0;
            for (int i = n - 1; i > 0; i--) { /* a random unseen one */
                const int j = (int)(next_rand(rng) % (uint64_t)(i + 1));
                const clsde_conv2d_tune tmp = nb[i];
                nb[i] = nb[j], nb[j] = tmp;
            }
            for (int i = 0; i < n && !found; i++)
                if (!seen(v, &nb[i])) cand.tile = nb[i], found = 1;
            if (!found) {
                exhausted = 1;
                continue;
            }
        } else if (!random_tile(ctx, p, &s, rng, &cand.tile) || seen(v, &cand.tile)) {
            misses++;
            continue;
        }
        cand.path = CLSDE_CONV2D_IMPLICIT;
        v->t[v->n++] = cand.tile;
        CLSDE_TRY_GOTO(try_one(ctx, &b, &cand, set, r, 3 * cur_ms, &ms));
        if (!(ms > 0 && ms < cur_ms)) continue;
        CLSDE_TRY_GOTO(duel(ctx, &b, &cand, &cur, 3, &ms_new, &ms_old));
        if (ms_new < WIN_MARGIN * ms_old) {
            char text[192];
            cur = cand, cur_ms = ms_new, exhausted = 0;
            clsde_conv2d_choice_format(&cur, text, sizeof text);
            SAY("    better: %s  %.3f ms (was %.3f ms side by side)\n", text, ms_new, ms_old);
        }
    }

    /* 4. the final: the search's winner against CLBlast, then against the defaults, side
     * by side; the defaults' and the winner's times reported come from this duel */
    fin = cur;
    if (r->clblast_ms > 0 && r->clblast_ms < cur_ms) {
        memset(&cand, 0, sizeof cand);
        cand.path = CLSDE_CONV2D_CLBLAST;
        CLSDE_TRY_GOTO(duel(ctx, &b, &cand, &cur, 5, &ms_new, &ms_old));
        if (ms_new < WIN_MARGIN * ms_old) fin = cand;
    }
    if (memcmp(&fin, &def, sizeof fin) != 0) {
        CLSDE_TRY_GOTO(duel(ctx, &b, &fin, &def, 5, &ms_new, &ms_old));
        if (!(ms_new < WIN_MARGIN * ms_old)) fin = def, ms_new = ms_old;
        r->best_ms = ms_new;
        r->default_ms = ms_old;
    } else {
        r->best_ms = r->default_ms;
    }
    clsde_conv2d_choice_format(&fin, r->params, sizeof r->params);
fail:
    case_free(&b);
    free(v);
    r->seconds = clsde_now() - t0;
    return st;
}

clsde_status clsde_tune_conv2d(clsde_context *ctx, const clsde_conv_shapes *shapes,
                               const clsde_tune_settings *set, clsde_tune_result **results,
                               int32_t *n_results)
{
    klass *k = NULL;
    clsde_tune_result *res = NULL;
    int32_t nk = 0;
    double total_weight = 0;
    uint64_t rng = set->seed ? set->seed : 0x9E3779B97F4A7C15ULL;
    int clblast_left = set->clblast && clsde_tune_clblast_version(NULL) ? 3 : 0;
    const double t_start = clsde_now();
    clsde_status st = CLSDE_OK;

    *results = NULL;
    *n_results = 0;
    CLSDE_FAIL_IF(!shapes || shapes->n < 1, ctx, CLSDE_ERR_ARG, "clsde tune: no conv shapes");
    CLSDE_TRY(clsde_tune_load_for_search(ctx));
    k = calloc((size_t)shapes->n, sizeof *k);
    res = calloc((size_t)shapes->n, sizeof *res);
    CLSDE_GOTO_IF(!k || !res, ctx, CLSDE_ERR_NOMEM, "out of memory (tune classes)");

    /* group shapes by class; the representative is the heaviest shape of the class */
    for (int32_t i = 0; i < shapes->n; i++) {
        char cls[64];
        const double w = clsde_conv2d_flops(&shapes->s[i].p) * shapes->s[i].count;
        int32_t j;
        clsde_conv2d_class(&shapes->s[i].p, cls, sizeof cls);
        for (j = 0; j < nk && strcmp(k[j].cls, cls) != 0; j++) {
        }
        if (j == nk) {
            snprintf(k[nk].cls, sizeof k[nk].cls, "%s", cls);
            k[nk++].rep = i;
        }
        if (w > clsde_conv2d_flops(&shapes->s[k[j].rep].p) * shapes->s[k[j].rep].count)
            k[j].rep = i;
        k[j].count += shapes->s[i].count;
        k[j].weight += w;
    }
    qsort(k, (size_t)nk, sizeof *k, by_weight);
    for (int32_t j = 0; j < nk; j++) total_weight += k[j].weight;

    SAY("tuning conv2d on %s: %d shape%s in %d class%s, budget %.0f s\n", ctx->info.name,
        (int)shapes->n, shapes->n == 1 ? "" : "s", (int)nk, nk == 1 ? "" : "es", set->budget_s);
    for (int32_t j = 0; j < nk; j++) {
        clsde_tune_result *r = &res[j];
        const clsde_conv2d_params *p = &shapes->s[k[j].rep].p;
        const clsde_tune_row *row = clsde_tune_table_find(&ctx->tune->tuned, "conv2d", k[j].cls);
        clsde_conv2d_choice c;
        double budget, left;
        snprintf(r->cls, sizeof r->cls, "%s", k[j].cls);
        shape_label(p, r->shape, sizeof r->shape);
        r->count = k[j].count;
        r->flops = clsde_conv2d_flops(p);
        if (row && !set->force && clsde_conv2d_choice_parse(row->params, &c) == 0) {
            r->cached = 1;
            snprintf(r->params, sizeof r->params, "%s", row->params);
            r->best_ms = row->ms, r->default_ms = row->default_ms;
            SAY("[%d/%d] %s (%s, x%d): cached, %s (--force re-tunes)\n", (int)j + 1, (int)nk,
                r->cls, r->shape, (int)r->count, row->params);
            continue;
        }
        /* budget: this class's FLOP share of what is left, at least half of an even split
         * (the floor), and no more than leaves the floor to each class after it; once the
         * whole budget is spent the remaining classes are skipped (they keep the defaults,
         * and a later run tunes them) */
        left = set->budget_s - (clsde_now() - t_start);
        if (left <= 0) {
            r->skipped = 1;
            SAY("[%d/%d] %s (%s, x%d): skipped, the budget is spent (defaults stay; run "
                "again to tune it)\n", (int)j + 1, (int)nk, r->cls, r->shape, (int)r->count);
            continue;
        }
        {
            double rest = 0;
            for (int32_t i = j; i < nk; i++) rest += k[i].weight;
            const double floor = 0.5 * set->budget_s / nk;
            const double cap = left - (nk - j - 1) * floor;
            budget = left * k[j].weight / (rest > 0 ? rest : 1);
            if (budget > cap) budget = cap;
            if (budget < floor) budget = floor;
            if (budget > left) budget = left;
        }
        SAY("[%d/%d] %s (%s, x%d, %.0f%% of the FLOP): budget %.1f s\n", (int)j + 1, (int)nk,
            r->cls, r->shape, (int)r->count, 100 * k[j].weight / total_weight, budget);
        CLSDE_TRY_GOTO(tune_class(ctx, p, budget, set, clblast_left > 0, &rng, r));
        /* CLBlast far behind on the heaviest classes will not win the lighter ones, and
         * each of its runs costs many of ours: after 3 classes where it is more than 4x
         * slower than the defaults (and none it wins), it is not timed any more. */
        if (clblast_left > 0 && r->clblast_ms > 0) {
            if (r->params[0] == 'c') clblast_left = 1 << 30;
            else if (r->clblast_ms > 4 * r->default_ms && --clblast_left == 0)
                SAY("    CLBlast was >4x slower than the defaults on 3 classes: not timed on "
                    "the rest\n");
        }
        SAY("    -> %s  %.3f ms, defaults %.3f ms (%.2fx); %d candidates, %d rejected, %.1f s\n",
            r->params, r->best_ms, r->default_ms, r->default_ms / r->best_ms, (int)r->tried,
            (int)r->rejected, r->seconds);
        {
            clsde_tune_row row_new;
            memset(&row_new, 0, sizeof row_new);
            snprintf(row_new.op, sizeof row_new.op, "conv2d");
            snprintf(row_new.cls, sizeof row_new.cls, "%s", r->cls);
            snprintf(row_new.params, sizeof row_new.params, "%s", r->params);
            snprintf(row_new.shape, sizeof row_new.shape, "%s", r->shape);
            row_new.ms = r->best_ms;
            row_new.default_ms = r->default_ms;
            CLSDE_TRY_GOTO(clsde_tune_put(ctx, &row_new));
        }
    }
    *results = res;
    *n_results = nk;
    free(k);
    return CLSDE_OK;
fail:
    free(k);
    free(res);
    return st;
}
