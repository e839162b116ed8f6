/*
 * ddpm.c — the DDPM U-Net of models/ddpm.py as a graph (networks.md §3): the §2.3/§2.4
 * skeleton with ResnetBlockDDPM (32 groups, plain sums, NIN shortcut), AttnBlock,
 * Downsample (right/bottom pad + stride-2 conv, or avg_pool2d) and Upsample (nearest +
 * conv), always the sinusoidal embedding, no pyramids. Attention once per up level after
 * all nrb + 1 blocks, as the score_sde port does (not Ho et al.'s per-block attention).
 */
#include <stdio.h>

#include "../model.h"
#include "nets.h"

static int is_attn_res(const clsde_model_config *cfg, int32_t s)
{
    for (int32_t i = 0; i < cfg->n_attn; i++)
        if (cfg->attn_resolutions[i] == s) return 1;
    return 0;
}

clsde_status clsde_ddpm_build(clsde_graph *g, const clsde_model *model, int32_t batch,
                              clsde_nets_io *io)
{
    const clsde_model_config *cfg = &model->cfg;
    const int32_t s = cfg->image_size, nf = cfg->nf;
    clsde_nets b = {.g = g, .model = model, .temb_act = -1, .ddpm_norm = 1, .res_div = 1.0f};
    int32_t hs[1 + CLSDE_MAX_LEVELS * 65], n_hs = 0; /* skip stack: 1 + L (nrb + 1) */
    char name[CLSDE_GRAPH_NAME];
    int32_t h, x;
    /* networks.md §3 [port bug]: conditional = False fails at construction in ddpm.py */
    CLSDE_FAIL_IF(!cfg->conditional, g->ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: model.conditional = false: the official ddpm.py cannot build this model "
                  "(networks.md §3)", model->label);
    CLSDE_FAIL_IF(cfg->nonlinearity != CLSDE_ACT_SWISH, g->ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: model.nonlinearity must be 'swish' (SiLU)", model->label);
    CLSDE_FAIL_IF(cfg->num_res_blocks > 64, g->ctx, CLSDE_ERR_UNSUPPORTED,
                  "%s: model.num_res_blocks %d exceeds 64", model->label, (int)cfg->num_res_blocks);

    io->x = x = clsde_graph_input(g, "x", batch, cfg->num_channels, s, s);
    io->label = clsde_graph_input(g, "label", batch, 1, 1, 1);
    io->sigma = cfg->scale_by_sigma ? clsde_graph_input(g, "used_sigma", batch, 1, 1, 1) : -1;

    /* temb = Dense_1(act(Dense_0(sinusoid(label, nf)))), modules 0 and 1 */
    clsde_nets_temb(&b, clsde_graph_sinusoidal_embed(g, "embedding", io->label, nf), nf);
    if (!cfg->centered) x = clsde_graph_affine(g, "center", x, 2.0f, -1.0f);

    hs[n_hs++] = h = clsde_nets_conv3x3(&b, b.m++, "", x, nf, -1, -1, 1.0f);
    for (int32_t i = 0; i < cfg->n_levels; i++) {
        for (int32_t r = 0; r < cfg->num_res_blocks; r++) {
            h = clsde_nets_resnet_ddpm(&b, hs[n_hs - 1], nf * cfg->ch_mult[i]);
            if (h >= 0 && is_attn_res(cfg, g->nodes[h].shape[3])) h = clsde_nets_attn_block(&b, h);
            hs[n_hs++] = h;
        }
        if (i != cfg->n_levels - 1) {
            h = clsde_nets_downsample(&b, hs[n_hs - 1], clsde_nets_channels(&b, h),
                                      cfg->resamp_with_conv);
            hs[n_hs++] = h;
        }
    }
    h = clsde_nets_resnet_ddpm(&b, hs[n_hs - 1], clsde_nets_channels(&b, h));
    h = clsde_nets_attn_block(&b, h);
    h = clsde_nets_resnet_ddpm(&b, h, clsde_nets_channels(&b, h));

    for (int32_t i = cfg->n_levels - 1; i >= 0; i--) {
        for (int32_t r = 0; r < cfg->num_res_blocks + 1; r++) {
            snprintf(name, sizeof name, "all_modules.%d.cat", (int)b.m);
            h = clsde_graph_concat(g, name, h, hs[--n_hs]);
            h = clsde_nets_resnet_ddpm(&b, h, nf * cfg->ch_mult[i]);
        }
        if (h >= 0 && is_attn_res(cfg, g->nodes[h].shape[3])) h = clsde_nets_attn_block(&b, h);
        if (i != 0)
            h = clsde_nets_upsample(&b, h, clsde_nets_channels(&b, h), cfg->resamp_with_conv, -1,
                                    1.0f, "model.resamp_with_conv");
    }
    {
        const int32_t m = b.m;
        b.m += 2;
        h = clsde_nets_group_norm(&b, m, "", h, 1);
        h = clsde_nets_conv3x3(&b, m + 1, "", h, cfg->num_channels, -1, -1, 1.0f);
    }
    /* networks.md §3: only ve/cifar10_ddpm.py divides, by sigmas[label] */
    if (cfg->scale_by_sigma) h = clsde_graph_scale_per_image(g, "scale_by_sigma", h, io->sigma, 1);
    io->out = h;
    clsde_graph_output(g, h);
    return clsde_graph_status(g);
}
