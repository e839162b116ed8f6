/*
 * layers.h — the building blocks of networks.md §1 as graph builders: convolutions, NIN,
 * GroupNorm, FIR and naive resampling, the residual blocks and attention, the time
 * embedding. Each call records graph nodes named after the checkpoint module
 * ("all_modules.12.Conv_0") and takes its weights from the model by the same name, with
 * shape checks. Errors are sticky on the graph (graph.h), so blocks read like the spec.
 */
#ifndef CLSDE_NETS_LAYERS_H
#define CLSDE_NETS_LAYERS_H

#include "../graph.h"

struct clsde_model;

/* Builder state shared by the block functions of one network. */
typedef struct clsde_nets {
    clsde_graph *g;
    const struct clsde_model *model;
    int32_t m;          /* running module index: networks.md §2.3, module order = checkpoint
                           index order */
    int32_t temb_act;   /* node act(temb) [B, 4nf, 1, 1] fed to every block's Dense_0, or -1 */
    int32_t ddpm_norm;  /* 1: GroupNorm always 32 groups (ddpm.py), 0: min(C/4, 32) */
    float res_div;      /* sqrt(2) with skip_rescale, else 1 */
    int32_t fir;        /* model.fir: FIR [1,3,3,1] resampling, else nearest / 2x2 mean */
} clsde_nets;

/* Channels of a node. */
int32_t clsde_nets_channels(const clsde_nets *b, int32_t x);

/* Weight `all_modules.<module>.<param>` (param "" for a bare module: "all_modules.3.weight")
 * with the expected shape (ndim values of dims), registered in the graph. -1 on error. */
int32_t clsde_nets_param(clsde_nets *b, int32_t module, const char *param, int32_t ndim,
                         const int64_t *dims, clsde_weight_layout layout);

/* GroupNorm group count for c channels under the network's rule (networks.md §0). */
int32_t clsde_nets_groups(const clsde_nets *b, int32_t c);

/* Conv2d `<sub>.weight` [c_out, c_in, k, k] and `<sub>.bias` of module m (sub "" for a bare
 * conv module); opt gives stride, padding and the fused epilogue. */
int32_t clsde_nets_conv(clsde_nets *b, int32_t m, const char *sub, int32_t x, int32_t c_out,
                        int32_t k, const clsde_graph_conv *opt);
/* The fused FIR conv-downsample `<sub>.weight` [c_out, c_in, 3, 3] / `<sub>.bias` of module
 * m (networks.md §1.3), with an optional residual (-1) merged as (res + y) / res_div. */
int32_t clsde_nets_conv_down_fir(clsde_nets *b, int32_t m, const char *sub, int32_t x,
                                 int32_t c_out, int32_t res, float res_div);
/* conv3x3 stride 1 pad 1, optional channel bias (-1) and residual (-1). */
int32_t clsde_nets_conv3x3(clsde_nets *b, int32_t m, const char *sub, int32_t x,
                           int32_t c_out, int32_t chan_bias, int32_t res, float res_div);
/* conv1x1 with optional residual. */
int32_t clsde_nets_conv1x1(clsde_nets *b, int32_t m, const char *sub, int32_t x,
                           int32_t c_out, int32_t res, float res_div);
/* NIN: `<sub>.W` [c_in, c_out] (uploaded transposed) and `<sub>.b`, as a 1x1 conv. */
int32_t clsde_nets_nin(clsde_nets *b, int32_t m, const char *sub, int32_t x, int32_t c_out,
                       int32_t res, float res_div);
/* GroupNorm `<sub>.weight`/`.bias`, eps 1e-6, optionally fused with SiLU. */
int32_t clsde_nets_group_norm(clsde_nets *b, int32_t m, const char *sub, int32_t x,
                              int32_t silu);
/* Linear `<sub>.weight` [out, in], `<sub>.bias` on [B, in, 1, 1]. */
int32_t clsde_nets_dense(clsde_nets *b, int32_t m, const char *sub, int32_t x, int32_t out);

/* Parameter-free resampling (networks.md §1.3/§1.4), named `<name>`:
 * up: FIR upsample_2d or nearest x2; down: FIR downsample_2d or the given 2x2 mean
 * (avg_pool = 1: F.avg_pool2d as Downsample modules, 0: naive_downsample_2d as BigGAN). */
int32_t clsde_nets_up(clsde_nets *b, const char *name, int32_t x);
int32_t clsde_nets_down(clsde_nets *b, const char *name, int32_t x, int32_t avg_pool);

/* Blocks: each consumes module b->m (b->m++), returns the block's output node. */
/* ResnetBlockBigGANpp (§1.5): resample 0, +1 up, -1 down. */
int32_t clsde_nets_resnet_biggan(clsde_nets *b, int32_t x, int32_t out_ch, int32_t resample);
/* ResnetBlockDDPMpp / ResnetBlockDDPM (§1.5; ddpm_norm and res_div decide which). */
int32_t clsde_nets_resnet_ddpm(clsde_nets *b, int32_t x, int32_t out_ch);
/* AttnBlockpp / AttnBlock (§1.6). */
int32_t clsde_nets_attn_block(clsde_nets *b, int32_t x);
/* layerspp.Downsample / layers.Downsample (§1.4) from c_in to c_out channels. */
int32_t clsde_nets_downsample(clsde_nets *b, int32_t x, int32_t c_out, int32_t with_conv);
/* layerspp.Upsample / layers.Upsample (§1.4); with a conv, `res`/`res_div` (or -1) fuse a
 * residual merge into it. fir with a conv is the fused FIR up-conv, which the reference
 * cannot run: refused with CLSDE_ERR_UNSUPPORTED naming the config `field`. */
int32_t clsde_nets_upsample(clsde_nets *b, int32_t x, int32_t c_out, int32_t with_conv,
                            int32_t res, float res_div, const char *field);

/* Time embedding MLP (§1.2): temb = Dense_b(act(Dense_a(e))) from modules b->m, b->m + 1,
 * then act(temb) once for all blocks; sets b->temb_act. `e` is [B, E, 1, 1]. */
void clsde_nets_temb(clsde_nets *b, int32_t e, int32_t nf);

#endif /* CLSDE_NETS_LAYERS_H */
