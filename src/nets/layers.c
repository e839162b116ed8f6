/*
 * layers.c — networks.md §1 blocks as graph builders (layers.py, layerspp.py,
 * up_or_down_sampling.py). Every function records nodes; nothing is computed here.
 * Fusions (all exact reorderings of the reference's float32 sums, not approximations):
 * GroupNorm+SiLU in one node, the temb projection as the conv's per-(n,c) bias, and every
 * residual merge `(x + h)/sqrt(2)` as the epilogue of the conv that produces h.
 */
#include <stdio.h>

#include "../model.h"
#include "layers.h"

/* networks.md §0: GroupNorm eps is 1e-6 everywhere in NCSN++/DDPM++/DDPM. */
#define GN_EPS 1e-6f

int32_t clsde_nets_channels(const clsde_nets *b, int32_t x)
{
    return x >= 0 ? b->g->nodes[x].shape[1] : 0;
}

int32_t clsde_nets_groups(const clsde_nets *b, int32_t c)
{
    if (b->ddpm_norm) return 32;
    return c / 4 < 32 ? c / 4 : 32;
}

/* "all_modules.<m>" or "all_modules.<m>.<sub>" */
static void module_name(char *buf, size_t n, int32_t m, const char *sub)
{
    if (sub && *sub)
        snprintf(buf, n, "all_modules.%d.%s", (int)m, sub);
    else
        snprintf(buf, n, "all_modules.%d", (int)m);
}

int32_t clsde_nets_param(clsde_nets *b, int32_t module, const char *param, int32_t ndim,
                         const int64_t *dims, clsde_weight_layout layout)
{
    char name[128];
    const float *data = NULL;
    int64_t count = 1;
    clsde_status st;
    if (clsde_graph_status(b->g) != CLSDE_OK) return -1;
    module_name(name, sizeof name, module, param);
    st = clsde_model_tensor((clsde_model *)b->model, name, dims, ndim, &data);
    if (st != CLSDE_OK) {
        /* the loader's message names the tensor and both shapes */
        b->g->status = st;
        return -1;
    }
    for (int32_t i = 0; i < ndim; i++) count *= dims[i];
    return clsde_graph_weight(b->g, name, data, count, layout,
                              ndim == 2 ? (int32_t)dims[0] : 0, ndim == 2 ? (int32_t)dims[1] : 0);
}

/* `<sub>.<leaf>` or just `<leaf>` for a bare module */
static void param_name(char *buf, size_t n, const char *sub, const char *leaf)
{
    if (sub && *sub)
        snprintf(buf, n, "%s.%s", sub, leaf);
    else
        snprintf(buf, n, "%s", leaf);
}

int32_t clsde_nets_conv(clsde_nets *b, int32_t m, const char *sub, int32_t x, int32_t c_out,
                        int32_t k, const clsde_graph_conv *opt)
{
    char pw[64], pb[64], name[CLSDE_GRAPH_NAME];
    const int64_t wd[4] = {c_out, clsde_nets_channels(b, x), k, k}, bd[1] = {c_out};
    param_name(pw, sizeof pw, sub, "weight");
    param_name(pb, sizeof pb, sub, "bias");
    const int32_t w = clsde_nets_param(b, m, pw, 4, wd, CLSDE_WEIGHT_COPY);
    const int32_t bias = clsde_nets_param(b, m, pb, 1, bd, CLSDE_WEIGHT_COPY);
    module_name(name, sizeof name, m, sub);
    if (w < 0 || bias < 0) return -1;
    return clsde_graph_conv2d(b->g, name, x, w, bias, c_out, k, opt);
}

int32_t clsde_nets_conv_down_fir(clsde_nets *b, int32_t m, const char *sub, int32_t x,
                                 int32_t c_out, int32_t res, float res_div)
{
    char pw[64], pb[64], name[CLSDE_GRAPH_NAME];
    const int64_t wd[4] = {c_out, clsde_nets_channels(b, x), 3, 3}, bd[1] = {c_out};
    param_name(pw, sizeof pw, sub, "weight");
    param_name(pb, sizeof pb, sub, "bias");
    const int32_t w = clsde_nets_param(b, m, pw, 4, wd, CLSDE_WEIGHT_COPY);
    const int32_t bias = clsde_nets_param(b, m, pb, 1, bd, CLSDE_WEIGHT_COPY);
    module_name(name, sizeof name, m, sub);
    if (w < 0 || bias < 0) return -1;
    return clsde_graph_conv_down_fir(b->g, name, x, w, bias, c_out, res, res_div);
}

int32_t clsde_nets_conv3x3(clsde_nets *b, int32_t m, const char *sub, int32_t x,
                           int32_t c_out, int32_t chan_bias, int32_t res, float res_div)
{
    clsde_graph_conv opt = clsde_graph_conv_same(3);
    opt.chan_bias = chan_bias;
    opt.res = res;
    opt.res_div = res_div;
    return clsde_nets_conv(b, m, sub, x, c_out, 3, &opt);
}

int32_t clsde_nets_conv1x1(clsde_nets *b, int32_t m, const char *sub, int32_t x,
                           int32_t c_out, int32_t res, float res_div)
{
    clsde_graph_conv opt = clsde_graph_conv_same(1);
    opt.res = res;
    opt.res_div = res_div;
    return clsde_nets_conv(b, m, sub, x, c_out, 1, &opt);
}

int32_t clsde_nets_nin(clsde_nets *b, int32_t m, const char *sub, int32_t x, int32_t c_out,
                       int32_t res, float res_div)
{
    char pw[64], pb[64], name[CLSDE_GRAPH_NAME];
    const int32_t c_in = clsde_nets_channels(b, x);
    /* networks.md §0 / §9.1: NIN's W is [in, out]; as a 1x1 conv weight it is [out, in] */
    const int64_t wd[2] = {c_in, c_out}, bd[1] = {c_out};
    clsde_graph_conv opt = clsde_graph_conv_same(1);
    snprintf(pw, sizeof pw, "%s.W", sub);
    snprintf(pb, sizeof pb, "%s.b", sub);
    const int32_t w = clsde_nets_param(b, m, pw, 2, wd, CLSDE_WEIGHT_TRANSPOSE);
    const int32_t bias = clsde_nets_param(b, m, pb, 1, bd, CLSDE_WEIGHT_COPY);
    module_name(name, sizeof name, m, sub);
    if (w < 0 || bias < 0) return -1;
    opt.res = res;
    opt.res_div = res_div;
    return clsde_graph_conv2d(b->g, name, x, w, bias, c_out, 1, &opt);
}

int32_t clsde_nets_group_norm(clsde_nets *b, int32_t m, const char *sub, int32_t x,
                              int32_t silu)
{
    char pw[64], pb[64], name[CLSDE_GRAPH_NAME];
    const int32_t c = clsde_nets_channels(b, x);
    const int64_t d[1] = {c};
    param_name(pw, sizeof pw, sub, "weight");
    param_name(pb, sizeof pb, sub, "bias");
    const int32_t gamma = clsde_nets_param(b, m, pw, 1, d, CLSDE_WEIGHT_COPY);
    const int32_t beta = clsde_nets_param(b, m, pb, 1, d, CLSDE_WEIGHT_COPY);
    module_name(name, sizeof name, m, sub);
    if (gamma < 0 || beta < 0) return -1;
    return clsde_graph_group_norm(b->g, name, x, gamma, beta, clsde_nets_groups(b, c), GN_EPS,
                                  silu);
}

int32_t clsde_nets_dense(clsde_nets *b, int32_t m, const char *sub, int32_t x, int32_t out)
{
    char pw[64], pb[64], name[CLSDE_GRAPH_NAME];
    const int32_t in = clsde_nets_channels(b, x);
    const int64_t wd[2] = {out, in}, bd[1] = {out};
    param_name(pw, sizeof pw, sub, "weight");
    param_name(pb, sizeof pb, sub, "bias");
    const int32_t w = clsde_nets_param(b, m, pw, 2, wd, CLSDE_WEIGHT_COPY);
    const int32_t bias = clsde_nets_param(b, m, pb, 1, bd, CLSDE_WEIGHT_COPY);
    module_name(name, sizeof name, m, sub);
    if (w < 0 || bias < 0) return -1;
    return clsde_graph_dense(b->g, name, x, w, bias, out);
}

/* networks.md §1.3 table: upsample_2d = upfirdn2d(4K, up 2, pad (2,1)),
 * downsample_2d = upfirdn2d(K, down 2, pad (1,1)). */
int32_t clsde_nets_up(clsde_nets *b, const char *name, int32_t x)
{
    if (b->fir) return clsde_graph_upfirdn2d(b->g, name, x, 2, 1, 2, 1, 4.0f);
    return clsde_graph_upsample_nearest(b->g, name, x);
}

int32_t clsde_nets_down(clsde_nets *b, const char *name, int32_t x, int32_t avg_pool)
{
    if (b->fir) return clsde_graph_upfirdn2d(b->g, name, x, 1, 2, 1, 1, 1.0f);
    if (avg_pool) return clsde_graph_avg_pool2(b->g, name, x);
    return clsde_graph_downsample_avg(b->g, name, x);
}

/* networks.md §1.5 ResnetBlockBigGANpp. The shortcut is computed last so that the
 * resampled x is live only as long as needed. */
int32_t clsde_nets_resnet_biggan(clsde_nets *b, int32_t x, int32_t out_ch, int32_t resample)
{
    const int32_t m = b->m++;
    const int32_t in_ch = clsde_nets_channels(b, x);
    char name[CLSDE_GRAPH_NAME];
    int32_t h = clsde_nets_group_norm(b, m, "GroupNorm_0", x, 1);
    if (resample > 0) {
        module_name(name, sizeof name, m, "up_h");
        h = clsde_nets_up(b, name, h);
        module_name(name, sizeof name, m, "up_x");
        x = clsde_nets_up(b, name, x);
    } else if (resample < 0) {
        module_name(name, sizeof name, m, "down_h");
        h = clsde_nets_down(b, name, h, 0);
        module_name(name, sizeof name, m, "down_x");
        x = clsde_nets_down(b, name, x, 0);
    }
    const int32_t proj = b->temb_act >= 0 ? clsde_nets_dense(b, m, "Dense_0", b->temb_act, out_ch)
                                          : -1;
    h = clsde_nets_conv3x3(b, m, "Conv_0", h, out_ch, proj, -1, 1.0f);
    h = clsde_nets_group_norm(b, m, "GroupNorm_1", h, 1); /* Dropout_0: identity */
    if (in_ch != out_ch || resample != 0) x = clsde_nets_conv1x1(b, m, "Conv_2", x, out_ch, -1, 1);
    return clsde_nets_conv3x3(b, m, "Conv_1", h, out_ch, -1, x, b->res_div);
}

/* networks.md §1.5 ResnetBlockDDPMpp (min(C/4,32) groups, res_div from skip_rescale) and
 * ResnetBlockDDPM (32 groups, plain sum): NIN_0 shortcut when the width changes. */
int32_t clsde_nets_resnet_ddpm(clsde_nets *b, int32_t x, int32_t out_ch)
{
    const int32_t m = b->m++;
    const int32_t in_ch = clsde_nets_channels(b, x);
    int32_t h = clsde_nets_group_norm(b, m, "GroupNorm_0", x, 1);
    const int32_t proj = b->temb_act >= 0 ? clsde_nets_dense(b, m, "Dense_0", b->temb_act, out_ch)
                                          : -1;
    h = clsde_nets_conv3x3(b, m, "Conv_0", h, out_ch, proj, -1, 1.0f);
    h = clsde_nets_group_norm(b, m, "GroupNorm_1", h, 1);
    if (in_ch != out_ch) x = clsde_nets_nin(b, m, "NIN_0", x, out_ch, -1, 1.0f);
    return clsde_nets_conv3x3(b, m, "Conv_1", h, out_ch, -1, x, b->res_div);
}

/* networks.md §1.6: single head, scale C^-1/2, residual (x + o)/sqrt(2) or x + o. */
int32_t clsde_nets_attn_block(clsde_nets *b, int32_t x)
{
    const int32_t m = b->m++;
    const int32_t c = clsde_nets_channels(b, x);
    char name[CLSDE_GRAPH_NAME];
    const int32_t h = clsde_nets_group_norm(b, m, "GroupNorm_0", x, 0);
    const int32_t q = clsde_nets_nin(b, m, "NIN_0", h, c, -1, 1.0f);
    const int32_t k = clsde_nets_nin(b, m, "NIN_1", h, c, -1, 1.0f);
    const int32_t v = clsde_nets_nin(b, m, "NIN_2", h, c, -1, 1.0f);
    module_name(name, sizeof name, m, "attention");
    const int32_t o = clsde_graph_attention(b->g, name, q, k, v);
    return clsde_nets_nin(b, m, "NIN_3", o, c, x, b->res_div);
}

/* networks.md §1.4 Downsample: FIR conv-down (Conv2d_0: FIR pad (2,2), 3x3 stride 2 valid,
 * one fused node),
 * or right/bottom pad + 3x3 stride 2 (Conv_0), or the parameter-free FIR / avg_pool2d. */
int32_t clsde_nets_downsample(clsde_nets *b, int32_t x, int32_t c_out, int32_t with_conv)
{
    const int32_t m = b->m++;
    char name[CLSDE_GRAPH_NAME];
    clsde_graph_conv opt = clsde_graph_conv_same(3);
    opt.stride = 2;
    opt.pad_t = opt.pad_l = opt.pad_b = opt.pad_r = 0;
    if (!with_conv) {
        module_name(name, sizeof name, m, "");
        return clsde_nets_down(b, name, x, 1);
    }
    if (b->fir) return clsde_nets_conv_down_fir(b, m, "Conv2d_0", x, c_out, -1, 1.0f);
    opt.pad_b = opt.pad_r = 1;
    return clsde_nets_conv(b, m, "Conv_0", x, c_out, 3, &opt);
}

int32_t clsde_nets_upsample(clsde_nets *b, int32_t x, int32_t c_out, int32_t with_conv,
                            int32_t res, float res_div, const char *field)
{
    const int32_t m = b->m++;
    char name[CLSDE_GRAPH_NAME];
    if (with_conv && b->fir)
        return clsde_graph_fail(b->g, CLSDE_ERR_UNSUPPORTED,
                                "%s with model.fir = true needs the fused FIR upsample-conv "
                                "(all_modules.%d.Conv2d_0), which the official code cannot run "
                                "(networks.md §1.3 [port bug]); clsde does not implement it",
                                field, (int)m);
    module_name(name, sizeof name, m, with_conv ? "up" : "");
    x = clsde_nets_up(b, name, x);
    /* fir = false: the intended nearest x2 (the reference passes 'nearest' as a scale
     * factor and fails, networks.md §2.8) */
    if (!with_conv) return x;
    return clsde_nets_conv3x3(b, m, "Conv_0", x, c_out, -1, res, res_div);
}

void clsde_nets_temb(clsde_nets *b, int32_t e, int32_t nf)
{
    const int32_t ma = b->m++, mb = b->m++;
    int32_t t = clsde_nets_dense(b, ma, "", e, 4 * nf);
    t = clsde_graph_silu(b->g, "temb.act_a", t);
    t = clsde_nets_dense(b, mb, "", t, 4 * nf);
    /* every block applies act to temb before its Dense_0 (§1.2); do it once */
    b->temb_act = clsde_graph_silu(b->g, "temb.act", t);
}
