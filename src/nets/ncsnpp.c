/*
 * ncsnpp.c — NCSN++ / DDPM++ (models/ncsnpp.py) as a graph: networks.md §2.3 (modules in
 * checkpoint order) and §2.4 (forward). One function per part of the forward pass; each
 * consumes modules with the running index exactly as the reference does.
 * Not built: progressive = 'residual' with FIR and ddpm resblocks with FIR up-conv (the
 * official code cannot run them either; refused with the config field named).
 */
#include <math.h>
#include <stdio.h>

#include "../model.h"
#include "nets.h"

typedef struct ncsnpp {
    clsde_nets b;
    const clsde_model_config *cfg;
    int32_t hs[4 * CLSDE_MAX_LEVELS * 64]; /* skip stack (LIFO) */
    int32_t n_hs;
    int32_t ip;   /* input pyramid [B, ipc, s, s] or -1 */
    int32_t pyr;  /* output pyramid or -1 */
} ncsnpp;

static void push(ncsnpp *n, int32_t h)
{
    if (n->n_hs < (int32_t)(sizeof n->hs / sizeof n->hs[0]))
        n->hs[n->n_hs++] = h;
    else
        clsde_graph_fail(n->b.g, CLSDE_ERR_UNSUPPORTED, "ncsnpp: more than %d skip connections",
                         (int)(sizeof n->hs / sizeof n->hs[0]));
}

static int32_t pop(ncsnpp *n)
{
    return n->n_hs > 0 ? n->hs[--n->n_hs] : -1;
}

static int32_t side(const ncsnpp *n, int32_t x)
{
    return x >= 0 ? n->b.g->nodes[x].shape[3] : 0;
}

static int is_attn_res(const clsde_model_config *cfg, int32_t s)
{
    for (int32_t i = 0; i < cfg->n_attn; i++)
        if (cfg->attn_resolutions[i] == s) return 1;
    return 0;
}

/* The residual block the config asks for (§2.3 "ResBlock"); resample +1 up, -1 down.
 * With ddpm blocks the resampling is a separate module (Upsample/Downsample). */
static int32_t resblock(ncsnpp *n, int32_t x, int32_t out_ch, int32_t resample)
{
    const clsde_model_config *cfg = n->cfg;
    if (cfg->resblock_type == CLSDE_RESBLOCK_BIGGAN)
        return clsde_nets_resnet_biggan(&n->b, x, out_ch, resample);
    if (resample < 0)
        return clsde_nets_downsample(&n->b, x, clsde_nets_channels(&n->b, x),
                                     cfg->resamp_with_conv);
    if (resample > 0)
        return clsde_nets_upsample(&n->b, x, clsde_nets_channels(&n->b, x),
                                   cfg->resamp_with_conv, -1, 1.0f,
                                   "model.resblock_type = 'ddpm' with model.resamp_with_conv");
    return clsde_nets_resnet_ddpm(&n->b, x, out_ch);
}

/* §2.4 step 1: Fourier features of ln(sigma) or the sinusoid of the label, then the MLP. */
static void embedding(ncsnpp *n, int32_t label)
{
    clsde_nets *b = &n->b;
    const int32_t nf = n->cfg->nf;
    int32_t e;
    if (n->cfg->embedding_type == CLSDE_EMBED_FOURIER) {
        const int64_t d[1] = {nf};
        const int32_t m = b->m++;
        const int32_t W = clsde_nets_param(b, m, "W", 1, d, CLSDE_WEIGHT_COPY);
        e = clsde_graph_fourier_embed(b->g, "all_modules.0", label, W, nf);
    } else {
        e = clsde_graph_sinusoidal_embed(b->g, "embedding", label, nf);
    }
    clsde_nets_temb(b, e, nf);
}

/* §2.4 step 3, after the down-block of level i < L-1: merge the input pyramid into h. */
static int32_t combine(ncsnpp *n, int32_t h, int32_t level)
{
    clsde_nets *b = &n->b;
    const clsde_model_config *cfg = n->cfg;
    const int32_t c = clsde_nets_channels(b, h);
    char name[CLSDE_GRAPH_NAME];
    if (cfg->progressive_input == CLSDE_PROG_INPUT_SKIP) {
        /* parameter-free FIR downsample (or avg_pool2d), then Combine: Conv_0 1x1 of the
         * pyramid, plain sum or concat [pyramid, h] (§1.7) */
        snprintf(name, sizeof name, "pyramid_down.%d", (int)level);
        n->ip = clsde_nets_down(b, name, n->ip, 1);
        const int32_t m = b->m++;
        if (cfg->progressive_combine == CLSDE_COMBINE_CAT) {
            const int32_t hp = clsde_nets_conv1x1(b, m, "Conv_0", n->ip, c, -1, 1.0f);
            snprintf(name, sizeof name, "all_modules.%d.cat", (int)m);
            return clsde_graph_concat(b->g, name, hp, h);
        }
        return clsde_nets_conv1x1(b, m, "Conv_0", n->ip, c, h, 1.0f);
    }
    if (cfg->progressive_input == CLSDE_PROG_RESIDUAL) {
        /* Downsample(ipc -> c, with_conv) then (ip + h)/sqrt(2), fused into its conv */
        const int32_t m = b->m++;
        clsde_graph_conv opt = clsde_graph_conv_same(3);
        opt.stride = 2;
        opt.pad_t = opt.pad_l = opt.pad_b = opt.pad_r = 0;
        opt.res = h;
        opt.res_div = b->res_div;
        if (cfg->fir) {
            n->ip = clsde_nets_conv_down_fir(b, m, "Conv2d_0", n->ip, c, h, b->res_div);
        } else {
            opt.pad_b = opt.pad_r = 1;
            n->ip = clsde_nets_conv(b, m, "Conv_0", n->ip, c, 3, &opt);
        }
        return n->ip;
    }
    return h;
}

/* §2.4 step 5, output pyramid of level i after its blocks and attention. */
static int32_t output_pyramid(ncsnpp *n, int32_t h, int32_t level)
{
    clsde_nets *b = &n->b;
    const clsde_model_config *cfg = n->cfg;
    const int32_t c = clsde_nets_channels(b, h);
    const int32_t c_img = cfg->num_channels;
    char name[CLSDE_GRAPH_NAME];
    if (level == cfg->n_levels - 1) {
        const int32_t m = b->m;
        b->m += 2;
        const int32_t a = clsde_nets_group_norm(b, m, "", h, 1);
        n->pyr = clsde_nets_conv3x3(b, m + 1, "", a,
                                    cfg->progressive == CLSDE_PROG_OUTPUT_SKIP ? c_img : c, -1,
                                    -1, 1.0f);
        return h;
    }
    if (cfg->progressive == CLSDE_PROG_OUTPUT_SKIP) {
        /* pyr = U(pyr) + conv(act(GN(h))): plain sum, fused into the conv */
        const int32_t m = b->m;
        b->m += 2;
        snprintf(name, sizeof name, "pyramid_up.%d", (int)level);
        const int32_t up = clsde_nets_up(b, name, n->pyr);
        const int32_t a = clsde_nets_group_norm(b, m, "", h, 1);
        n->pyr = clsde_nets_conv3x3(b, m + 1, "", a, c_img, -1, up, 1.0f);
        return h;
    }
    /* residual: pyr = Upsample(pyr -> c, with_conv); pyr = (pyr + h)/sqrt(2); h = pyr.
     * Only fir = false reaches here (the FIR up-conv is refused in clsde_nets_upsample). */
    n->pyr = clsde_nets_upsample(b, n->pyr, c, 1, h, b->res_div,
                                 "model.progressive = 'residual'");
    return n->pyr;
}

/* §2.4 steps 2-4: centring, down path with input pyramid, middle. */
static int32_t down_path(ncsnpp *n, int32_t x)
{
    clsde_nets *b = &n->b;
    const clsde_model_config *cfg = n->cfg;
    int32_t h;
    if (!cfg->centered) x = clsde_graph_affine(b->g, "center", x, 2.0f, -1.0f); /* 2x - 1 */
    n->ip = cfg->progressive_input != CLSDE_PROG_NONE ? x : -1;

    h = clsde_nets_conv3x3(b, b->m++, "", x, cfg->nf, -1, -1, 1.0f);
    push(n, h);
    for (int32_t i = 0; i < cfg->n_levels; i++) {
        for (int32_t r = 0; r < cfg->num_res_blocks; r++) {
            h = resblock(n, n->hs[n->n_hs - 1], cfg->nf * cfg->ch_mult[i], 0);
            if (is_attn_res(cfg, side(n, h))) h = clsde_nets_attn_block(b, h);
            push(n, h);
        }
        if (i != cfg->n_levels - 1) {
            h = resblock(n, n->hs[n->n_hs - 1], clsde_nets_channels(b, h), -1);
            h = combine(n, h, i);
            push(n, h);
        }
    }
    h = resblock(n, n->hs[n->n_hs - 1], clsde_nets_channels(b, h), 0);
    h = clsde_nets_attn_block(b, h);
    return resblock(n, h, clsde_nets_channels(b, h), 0);
}

/* §2.4 step 5-6: up path ([h, skip] concatenated, LIFO), output pyramid, final conv. */
static int32_t up_path(ncsnpp *n, int32_t h)
{
    clsde_nets *b = &n->b;
    const clsde_model_config *cfg = n->cfg;
    char name[CLSDE_GRAPH_NAME];
    for (int32_t i = cfg->n_levels - 1; i >= 0; i--) {
        for (int32_t r = 0; r < cfg->num_res_blocks + 1; r++) {
            snprintf(name, sizeof name, "all_modules.%d.cat", (int)b->m);
            h = clsde_graph_concat(b->g, name, h, pop(n));
            h = resblock(n, h, cfg->nf * cfg->ch_mult[i], 0);
        }
        if (is_attn_res(cfg, side(n, h))) h = clsde_nets_attn_block(b, h);
        if (cfg->progressive != CLSDE_PROG_NONE) h = output_pyramid(n, h, i);
        if (i != 0) h = resblock(n, h, clsde_nets_channels(b, h), 1);
    }
    if (n->n_hs != 0)
        return clsde_graph_fail(b->g, CLSDE_ERR_INTERNAL, "ncsnpp: %d skips left", (int)n->n_hs);
    if (cfg->progressive == CLSDE_PROG_OUTPUT_SKIP) return n->pyr;
    const int32_t m = b->m;
    b->m += 2;
    h = clsde_nets_group_norm(b, m, "", h, 1);
    return clsde_nets_conv3x3(b, m + 1, "", h, cfg->num_channels, -1, -1, 1.0f);
}

clsde_status clsde_ncsnpp_build(clsde_graph *g, const clsde_model *model, int32_t batch,
                                clsde_nets_io *io)
{
    ncsnpp n = {0};
    const clsde_model_config *cfg = &model->cfg;
    const int32_t s = cfg->image_size;
    int32_t h;
    CLSDE_FAIL_IF(cfg->progressive == CLSDE_PROG_RESIDUAL && cfg->fir, g->ctx,
                  CLSDE_ERR_UNSUPPORTED, "%s: model.progressive = 'residual' with model.fir = "
                  "true needs the fused FIR upsample-conv, which the official code cannot run "
                  "(networks.md §2.8); clsde does not implement it", model->label);
    CLSDE_FAIL_IF(!cfg->conditional, g->ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: model.conditional = false is not supported (no official config uses it)",
                  model->label);
    CLSDE_FAIL_IF(cfg->nonlinearity != CLSDE_ACT_SWISH, g->ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: model.nonlinearity must be 'swish' (SiLU)", model->label);
    n.cfg = cfg;
    n.b.g = g;
    n.b.model = model;
    n.b.temb_act = -1;
    n.b.res_div = cfg->skip_rescale ? (float)sqrt(2.0) : 1.0f;
    n.b.fir = cfg->fir;
    n.pyr = -1;

    io->x = clsde_graph_input(g, "x", batch, cfg->num_channels, s, s);
    io->label = clsde_graph_input(g, "label", batch, 1, 1, 1);
    io->sigma = -1;
    if (cfg->scale_by_sigma && cfg->embedding_type != CLSDE_EMBED_FOURIER)
        io->sigma = clsde_graph_input(g, "used_sigma", batch, 1, 1, 1);

    embedding(&n, io->label);
    h = down_path(&n, io->x);
    h = up_path(&n, h);
    /* §2.4 step 7: h / used_sigmas, the label itself for Fourier models */
    if (cfg->scale_by_sigma)
        h = clsde_graph_scale_per_image(g, "scale_by_sigma", h,
                                        io->sigma >= 0 ? io->sigma : io->label, 1);
    io->out = h;
    clsde_graph_output(g, h);
    return clsde_graph_status(g);
}
