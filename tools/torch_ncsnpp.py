"""Plain PyTorch reference of the score networks: NCSN++/DDPM++ (`ncsnpp`) and DDPM (`ddpm`).

Written from spec networks.md §1-§3 with the official module structure, parameter names and
initialisation, so `state_dict()` matches an official checkpoint's 'model' keys (less
`module.`); plus the score wrapper of algorithms.md §2 and an EMA checkpoint loader (§6.1).
Branches the official code cannot run (progressive 'residual', fir=False Upsample) follow the
intended behaviour described in networks.md §1.3/§2.8. NCSNv2 is not implemented.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# networks.md §0: "rescaled sum" divides by the float constant np.sqrt(2.)
SQRT2 = float(np.sqrt(2.))

# Defaults of the official default_*_configs.py for keys a small config may leave out.
MODEL_DEFAULTS = {
    'sigma_min': 0.01, 'sigma_max': 50., 'num_scales': 1000, 'beta_min': 0.1, 'beta_max': 20.,
    'dropout': 0.1, 'embedding_type': 'fourier', 'scale_by_sigma': False, 'ema_rate': 0.9999,
    'nonlinearity': 'swish', 'nf': 128, 'ch_mult': (1, 2, 2, 2), 'num_res_blocks': 4,
    'attn_resolutions': (16,), 'resamp_with_conv': True, 'conditional': True, 'fir': False,
    'fir_kernel': (1, 3, 3, 1), 'skip_rescale': True, 'resblock_type': 'biggan',
    'progressive': 'none', 'progressive_input': 'none', 'progressive_combine': 'sum',
    'init_scale': 0., 'fourier_scale': 16,
}


def model_cfg(config, key):
    """config['model'][key] with the official default when absent."""
    m = config['model']
    return m[key] if key in m else MODEL_DEFAULTS[key]


def get_sigmas(config):
    """networks.md §2.1: float64 sigmas = exp(linspace(ln σ_max, ln σ_min, num_scales))."""
    return np.exp(np.linspace(np.log(model_cfg(config, 'sigma_max')),
                              np.log(model_cfg(config, 'sigma_min')),
                              model_cfg(config, 'num_scales')))


def get_act(config):
    name = model_cfg(config, 'nonlinearity').lower()
    acts = {'swish': nn.SiLU, 'elu': nn.ELU, 'relu': nn.ReLU}
    if name == 'lrelu':
        return nn.LeakyReLU(negative_slope=0.2)
    if name not in acts:
        raise ValueError(f"model.nonlinearity '{name}' is not one of swish, elu, relu, lrelu")
    return acts[name]()


# ---- initialisation (networks.md §0: variance scaling, fan_avg, uniform) -------------------

def default_init(shape, scale=1.):
    """DDPM init: U(-a, a), a = sqrt(3·scale/fan_avg); scale 0 means 1e-10 (never exactly 0).
    Fans as the official JAX port: in axis 1, out axis 0, times the receptive field."""
    scale = 1e-10 if scale == 0 else scale
    receptive = np.prod(shape) / shape[1] / shape[0]
    fan_avg = (shape[1] * receptive + shape[0] * receptive) / 2
    bound = np.sqrt(3 * scale / fan_avg)
    return (torch.rand(*shape, dtype=torch.float32) * 2. - 1.) * bound


def dense(in_f, out_f):
    lin = nn.Linear(in_f, out_f)
    lin.weight.data = default_init(lin.weight.shape)
    nn.init.zeros_(lin.bias)
    return lin


def conv3x3(in_ch, out_ch, stride=1, padding=1, init_scale=1.):
    conv = nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=padding, bias=True)
    conv.weight.data = default_init(conv.weight.shape, init_scale)
    nn.init.zeros_(conv.bias)
    return conv


def conv1x1(in_ch, out_ch, init_scale=1.):
    conv = nn.Conv2d(in_ch, out_ch, kernel_size=1, bias=True)
    conv.weight.data = default_init(conv.weight.shape, init_scale)
    nn.init.zeros_(conv.bias)
    return conv


def ncsnpp_groups(ch):
    """networks.md §0: NCSN++ family GroupNorm count min(C // 4, 32)."""
    return min(ch // 4, 32)


def group_norm(ch, groups):
    return nn.GroupNorm(num_groups=groups, num_channels=ch, eps=1e-6)


# ---- embeddings (networks.md §1.2) ----------------------------------------------------------

class GaussianFourierProjection(nn.Module):
    """Frozen W ~ N(0,1)·scale; input ln σ; output [sin(p), cos(p)], p = ((ln σ·W)·2)·π."""

    def __init__(self, embedding_size, scale):
        super().__init__()
        self.W = nn.Parameter(torch.randn(embedding_size) * scale, requires_grad=False)

    def forward(self, x):
        p = x[:, None] * self.W[None, :] * 2 * np.pi
        return torch.cat([torch.sin(p), torch.cos(p)], dim=-1)


def timestep_embedding(t, dim, max_positions=10000):
    """Sinusoidal embedding: frequencies exp(-k·ln(1e4)/(half-1)) in float32, sines first."""
    half = dim // 2
    c = math.log(max_positions) / (half - 1)
    freq = torch.exp(torch.arange(half, dtype=torch.float32, device=t.device) * -c)
    a = t.float()[:, None] * freq[None, :]
    e = torch.cat([torch.sin(a), torch.cos(a)], dim=1)
    if dim % 2 == 1:
        e = F.pad(e, (0, 1))
    return e


# ---- FIR resampling (networks.md §1.3) ------------------------------------------------------

def fir_kernel_2d(k, gain=1.):
    """K = outer(k, k) / sum(outer(k, k)) · gain, float32 (the 4x4 kernel for k = [1,3,3,1])."""
    k = np.asarray(k, dtype=np.float32)
    k = np.outer(k, k)
    k /= np.sum(k)
    return k * gain


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Zero-insert by `up`, zero-pad (p0 before, p1 after) on both axes, true 2-D convolution
    with `kernel` (valid), keep every `down`-th row/column. Acts on each [H, W] plane."""
    b, c, h, w = x.shape
    x = x.reshape(b * c, 1, h, w)
    if up > 1:
        z = x.new_zeros(b * c, 1, h * up, w * up)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    k = torch.flip(torch.as_tensor(kernel, dtype=x.dtype, device=x.device), [0, 1])
    x = F.conv2d(x, k[None, None], stride=down)
    return x.reshape(b, c, x.shape[2], x.shape[3])


def upsample_2d(x, fir_k, factor=2):
    k = fir_kernel_2d(fir_k, factor ** 2)
    p = k.shape[0] - factor
    return upfirdn2d(x, k, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def downsample_2d(x, fir_k, factor=2):
    k = fir_kernel_2d(fir_k)
    p = k.shape[0] - factor
    return upfirdn2d(x, k, down=factor, pad=((p + 1) // 2, p // 2))


def conv_downsample_2d(x, w, fir_k, factor=2):
    """Fused FIR pre-filter (pad (2,2) for a 4-tap kernel and a 3x3 conv) + stride-2 valid conv."""
    k = fir_kernel_2d(fir_k)
    p = (k.shape[0] - factor) + (w.shape[-1] - 1)
    x = upfirdn2d(x, k, pad=((p + 1) // 2, p // 2))
    return F.conv2d(x, w, stride=factor, padding=0)


def upsample_conv_2d(x, w, fir_k, factor=2):
    """Fused transposed-conv upsample + FIR (StyleGAN2 intent; the official port cannot run it,
    networks.md §1.3): conv_transpose2d with w flipped and in/out swapped, then FIR pad (1,1)."""
    k = fir_kernel_2d(fir_k, factor ** 2)
    p = (k.shape[0] - factor) - (w.shape[-1] - 1)
    wt = torch.flip(w, [2, 3]).permute(1, 0, 2, 3)
    x = F.conv_transpose2d(x, wt, stride=factor, padding=0)
    return upfirdn2d(x, k, pad=((p + 1) // 2 + factor - 1, p // 2 + 1))


def naive_upsample_2d(x, factor=2):
    b, c, h, w = x.shape
    x = x.reshape(b, c, h, 1, w, 1).repeat(1, 1, 1, factor, 1, factor)
    return x.reshape(b, c, h * factor, w * factor)


def naive_downsample_2d(x, factor=2):
    b, c, h, w = x.shape
    return x.reshape(b, c, h // factor, factor, w // factor, factor).mean(dim=(3, 5))


class FIRConv2d(nn.Module):
    """`up_or_down_sampling.Conv2d`: weight [out,in,k,k] and bias [out] held directly."""

    def __init__(self, in_ch, out_ch, kernel=3, up=False, down=False, fir_kernel=(1, 3, 3, 1)):
        super().__init__()
        assert not (up and down)
        self.weight = nn.Parameter(default_init((out_ch, in_ch, kernel, kernel)))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.up, self.down, self.fir_kernel, self.kernel = up, down, fir_kernel, kernel

    def forward(self, x):
        if self.up:
            x = upsample_conv_2d(x, self.weight, self.fir_kernel)
        elif self.down:
            x = conv_downsample_2d(x, self.weight, self.fir_kernel)
        else:
            x = F.conv2d(x, self.weight, padding=self.kernel // 2)
        return x + self.bias.reshape(1, -1, 1, 1)


# ---- layers (networks.md §1.4-§1.7) ---------------------------------------------------------

class NIN(nn.Module):
    """Dense over channels: W [in, out] (transposed w.r.t. Conv/Linear), b [out]."""

    def __init__(self, in_dim, num_units, init_scale=0.1):
        super().__init__()
        self.W = nn.Parameter(default_init((in_dim, num_units), init_scale))
        self.b = nn.Parameter(torch.zeros(num_units))

    def forward(self, x):
        y = torch.einsum('bhwc,co->bhwo', x.permute(0, 2, 3, 1), self.W) + self.b
        return y.permute(0, 3, 1, 2)


class AttnBlockpp(nn.Module):
    """Single-head self-attention over H·W positions; also `layers.AttnBlock` (DDPM) with
    groups=32 and skip_rescale=False."""

    def __init__(self, channels, skip_rescale=False, init_scale=0., groups=None):
        super().__init__()
        self.GroupNorm_0 = group_norm(channels, groups or ncsnpp_groups(channels))
        self.NIN_0 = NIN(channels, channels)
        self.NIN_1 = NIN(channels, channels)
        self.NIN_2 = NIN(channels, channels)
        self.NIN_3 = NIN(channels, channels, init_scale=init_scale)
        self.skip_rescale = skip_rescale

    def forward(self, x):
        b, c, h, w = x.shape
        hn = self.GroupNorm_0(x)
        q, k, v = self.NIN_0(hn), self.NIN_1(hn), self.NIN_2(hn)
        att = torch.einsum('bchw,bcij->bhwij', q, k) * (int(c) ** (-0.5))
        att = F.softmax(att.reshape(b, h, w, h * w), dim=-1).reshape(b, h, w, h, w)
        o = self.NIN_3(torch.einsum('bhwij,bcij->bchw', att, v))
        return (x + o) / SQRT2 if self.skip_rescale else x + o


class Combine(nn.Module):
    """Input-pyramid merge: Conv_0 (1x1) of the pyramid, then sum or cat([h_pyr, y])."""

    def __init__(self, dim1, dim2, method='sum'):
        super().__init__()
        if method not in ('sum', 'cat'):
            raise ValueError(f"model.progressive_combine '{method}' is not sum or cat")
        self.Conv_0 = conv1x1(dim1, dim2)
        self.method = method

    def forward(self, x, y):
        h = self.Conv_0(x)
        return torch.cat([h, y], dim=1) if self.method == 'cat' else h + y


class Upsample(nn.Module):
    """layerspp.Upsample (and layers.Upsample with fir=False, out=in). The fir=False path is the
    intended nearest ×2 (the official call passes 'nearest' as scale_factor and fails)."""

    def __init__(self, in_ch, out_ch=None, with_conv=False, fir=False, fir_kernel=(1, 3, 3, 1)):
        super().__init__()
        out_ch = out_ch or in_ch
        if with_conv and not fir:
            self.Conv_0 = conv3x3(in_ch, out_ch)
        elif with_conv:
            self.Conv2d_0 = FIRConv2d(in_ch, out_ch, up=True, fir_kernel=fir_kernel)
        self.fir, self.with_conv, self.fir_kernel = fir, with_conv, fir_kernel

    def forward(self, x):
        _, _, h, w = x.shape
        if not self.fir:
            y = F.interpolate(x, size=(h * 2, w * 2), mode='nearest')
            return self.Conv_0(y) if self.with_conv else y
        if not self.with_conv:
            return upsample_2d(x, self.fir_kernel)
        return self.Conv2d_0(x)


class Downsample(nn.Module):
    """layerspp.Downsample (and layers.Downsample): fir=False pads one zero column/row at the
    right/bottom, then a 3x3 stride-2 conv (padding 0) or a 2x2 mean."""

    def __init__(self, in_ch, out_ch=None, with_conv=False, fir=False, fir_kernel=(1, 3, 3, 1)):
        super().__init__()
        out_ch = out_ch or in_ch
        if with_conv and not fir:
            self.Conv_0 = conv3x3(in_ch, out_ch, stride=2, padding=0)
        elif with_conv:
            self.Conv2d_0 = FIRConv2d(in_ch, out_ch, down=True, fir_kernel=fir_kernel)
        self.fir, self.with_conv, self.fir_kernel = fir, with_conv, fir_kernel

    def forward(self, x):
        if not self.fir:
            if self.with_conv:
                return self.Conv_0(F.pad(x, (0, 1, 0, 1)))
            return F.avg_pool2d(x, 2, stride=2)
        if not self.with_conv:
            return downsample_2d(x, self.fir_kernel)
        return self.Conv2d_0(x)


class ResnetBlockBigGANpp(nn.Module):
    """networks.md §1.5: norm-act, resample h and raw x, conv, +Dense(act(temb)), norm-act,
    dropout, conv; 1x1 Conv_2 shortcut when in != out or resampling; (x + h)/√2."""

    def __init__(self, act, in_ch, out_ch=None, temb_dim=None, up=False, down=False,
                 dropout=0.1, fir=False, fir_kernel=(1, 3, 3, 1), skip_rescale=True,
                 init_scale=0.):
        super().__init__()
        out_ch = out_ch or in_ch
        self.GroupNorm_0 = group_norm(in_ch, ncsnpp_groups(in_ch))
        self.Conv_0 = conv3x3(in_ch, out_ch)
        if temb_dim is not None:
            self.Dense_0 = dense(temb_dim, out_ch)
        self.GroupNorm_1 = group_norm(out_ch, ncsnpp_groups(out_ch))
        self.Dropout_0 = nn.Dropout(dropout)
        self.Conv_1 = conv3x3(out_ch, out_ch, init_scale=init_scale)
        self.has_shortcut = in_ch != out_ch or up or down
        if self.has_shortcut:
            self.Conv_2 = conv1x1(in_ch, out_ch)
        self.act, self.up, self.down, self.fir = act, up, down, fir
        self.fir_kernel, self.skip_rescale = fir_kernel, skip_rescale

    def resample(self, x):
        if self.up:
            return upsample_2d(x, self.fir_kernel) if self.fir else naive_upsample_2d(x)
        if self.down:
            return downsample_2d(x, self.fir_kernel) if self.fir else naive_downsample_2d(x)
        return x

    def forward(self, x, temb=None):
        h = self.act(self.GroupNorm_0(x))
        h, x = self.resample(h), self.resample(x)
        h = self.Conv_0(h)
        if temb is not None:
            h = h + self.Dense_0(self.act(temb))[:, :, None, None]
        h = self.Conv_1(self.Dropout_0(self.act(self.GroupNorm_1(h))))
        if self.has_shortcut:
            x = self.Conv_2(x)
        return (x + h) / SQRT2 if self.skip_rescale else x + h


class ResnetBlockDDPMpp(nn.Module):
    """ResnetBlockDDPMpp (layerspp) and, with groups=32 and skip_rescale=False, the DDPM
    ResnetBlockDDPM (layers.py): no resampling inside, NIN_0 shortcut when in != out."""

    def __init__(self, act, in_ch, out_ch=None, temb_dim=None, dropout=0.1, skip_rescale=False,
                 init_scale=0., groups=None):
        super().__init__()
        out_ch = out_ch or in_ch
        self.GroupNorm_0 = group_norm(in_ch, groups or ncsnpp_groups(in_ch))
        self.Conv_0 = conv3x3(in_ch, out_ch)
        if temb_dim is not None:
            self.Dense_0 = dense(temb_dim, out_ch)
        self.GroupNorm_1 = group_norm(out_ch, groups or ncsnpp_groups(out_ch))
        self.Dropout_0 = nn.Dropout(dropout)
        self.Conv_1 = conv3x3(out_ch, out_ch, init_scale=init_scale)
        if in_ch != out_ch:
            self.NIN_0 = NIN(in_ch, out_ch)
        self.act, self.skip_rescale, self.in_ch, self.out_ch = act, skip_rescale, in_ch, out_ch

    def forward(self, x, temb=None):
        h = self.Conv_0(self.act(self.GroupNorm_0(x)))
        if temb is not None:
            h = h + self.Dense_0(self.act(temb))[:, :, None, None]
        h = self.Conv_1(self.Dropout_0(self.act(self.GroupNorm_1(h))))
        if self.in_ch != self.out_ch:
            x = self.NIN_0(x)
        return (x + h) / SQRT2 if self.skip_rescale else x + h


# ---- NCSN++ / DDPM++ (networks.md §2) -------------------------------------------------------

class NCSNpp(nn.Module):
    """Flat `all_modules` list built in checkpoint order (§2.3), consumed by a running index
    in forward (§2.4)."""

    def __init__(self, config):
        super().__init__()
        mc = lambda k: model_cfg(config, k)  # noqa: E731
        self.register_buffer('sigmas', torch.tensor(get_sigmas(config)))
        self.act = act = get_act(config)
        self.nf = nf = mc('nf')
        ch_mult = list(mc('ch_mult'))
        self.num_res_blocks = nrb = mc('num_res_blocks')
        self.attn_resolutions = attn_res = list(mc('attn_resolutions'))
        self.num_resolutions = n_res = len(ch_mult)
        image_size = config['data']['image_size']
        all_res = [image_size // (2 ** i) for i in range(n_res)]
        self.conditional = mc('conditional')
        fir, fir_k = mc('fir'), tuple(mc('fir_kernel'))
        self.skip_rescale = skip_rescale = mc('skip_rescale')
        self.resblock_type = rb_type = mc('resblock_type').lower()
        self.progressive = prog = mc('progressive').lower()
        self.progressive_input = prog_in = mc('progressive_input').lower()
        self.embedding_type = emb_type = mc('embedding_type').lower()
        self.centered = config['data']['centered']
        self.scale_by_sigma = mc('scale_by_sigma')
        init_scale, dropout = mc('init_scale'), mc('dropout')
        combine = mc('progressive_combine').lower()
        resamp_with_conv = mc('resamp_with_conv')
        if prog not in ('none', 'output_skip', 'residual'):
            raise ValueError(f"model.progressive '{prog}' is not none/output_skip/residual")
        if prog_in not in ('none', 'input_skip', 'residual'):
            raise ValueError(f"model.progressive_input '{prog_in}' is not none/input_skip/residual")
        if rb_type not in ('ddpm', 'biggan'):
            raise ValueError(f"model.resblock_type '{rb_type}' is not ddpm or biggan")

        modules = []
        if emb_type == 'fourier':
            modules.append(GaussianFourierProjection(nf, mc('fourier_scale')))
            embed_dim = 2 * nf
        elif emb_type == 'positional':
            embed_dim = nf
        else:
            raise ValueError(f"model.embedding_type '{emb_type}' is not fourier or positional")
        if self.conditional:
            modules += [dense(embed_dim, 4 * nf), dense(4 * nf, 4 * nf)]

        def attn(ch):
            return AttnBlockpp(ch, skip_rescale=skip_rescale, init_scale=init_scale)

        def resblock(in_ch, out_ch=None, up=False, down=False):
            if rb_type == 'ddpm':
                return ResnetBlockDDPMpp(act, in_ch, out_ch, temb_dim=4 * nf, dropout=dropout,
                                         skip_rescale=skip_rescale, init_scale=init_scale)
            return ResnetBlockBigGANpp(act, in_ch, out_ch, temb_dim=4 * nf, up=up, down=down,
                                       dropout=dropout, fir=fir, fir_kernel=fir_k,
                                       skip_rescale=skip_rescale, init_scale=init_scale)

        # parameter-free pyramid resamplers live outside all_modules
        self.pyramid_upsample = Upsample(1, fir=fir, fir_kernel=fir_k)
        self.pyramid_downsample = Downsample(1, fir=fir, fir_kernel=fir_k)

        channels = config['data']['num_channels']
        ipc = channels
        modules.append(conv3x3(channels, nf))
        hs_c = [nf]
        in_ch = nf
        for i in range(n_res):
            for _ in range(nrb):
                out_ch = nf * ch_mult[i]
                modules.append(resblock(in_ch, out_ch))
                in_ch = out_ch
                if all_res[i] in attn_res:
                    modules.append(attn(in_ch))
                hs_c.append(in_ch)
            if i != n_res - 1:
                if rb_type == 'ddpm':
                    modules.append(Downsample(in_ch, with_conv=resamp_with_conv, fir=fir,
                                              fir_kernel=fir_k))
                else:
                    modules.append(resblock(in_ch, down=True))
                if prog_in == 'input_skip':
                    modules.append(Combine(ipc, in_ch, combine))
                    if combine == 'cat':
                        in_ch *= 2
                elif prog_in == 'residual':
                    modules.append(Downsample(ipc, in_ch, with_conv=True, fir=fir,
                                              fir_kernel=fir_k))
                    ipc = in_ch
                hs_c.append(in_ch)

        in_ch = hs_c[-1]
        modules += [resblock(in_ch), attn(in_ch), resblock(in_ch)]

        pyramid_ch = 0
        for i in reversed(range(n_res)):
            for _ in range(nrb + 1):
                out_ch = nf * ch_mult[i]
                modules.append(resblock(in_ch + hs_c.pop(), out_ch))
                in_ch = out_ch
            if all_res[i] in attn_res:
                modules.append(attn(in_ch))
            if prog != 'none':
                if i == n_res - 1 or prog == 'output_skip':
                    modules.append(group_norm(in_ch, ncsnpp_groups(in_ch)))
                    if prog == 'output_skip':
                        modules.append(conv3x3(in_ch, channels, init_scale=init_scale))
                        pyramid_ch = channels
                    else:
                        modules.append(conv3x3(in_ch, in_ch))
                        pyramid_ch = in_ch
                else:
                    modules.append(Upsample(pyramid_ch, in_ch, with_conv=True, fir=fir,
                                            fir_kernel=fir_k))
                    pyramid_ch = in_ch
            if i != 0:
                if rb_type == 'ddpm':
                    modules.append(Upsample(in_ch, with_conv=resamp_with_conv, fir=fir,
                                            fir_kernel=fir_k))
                else:
                    modules.append(resblock(in_ch, up=True))
        assert not hs_c
        if prog != 'output_skip':
            modules.append(group_norm(in_ch, ncsnpp_groups(in_ch)))
            modules.append(conv3x3(in_ch, channels, init_scale=init_scale))
        self.all_modules = nn.ModuleList(modules)

    def forward(self, x, time_cond):
        mods = self.all_modules
        m = 0
        if self.embedding_type == 'fourier':
            used_sigmas = time_cond
            temb = mods[m](torch.log(used_sigmas))
            m += 1
        else:
            used_sigmas = self.sigmas[time_cond.long()]
            temb = timestep_embedding(time_cond, self.nf)
        if self.conditional:
            temb = mods[m + 1](self.act(mods[m](temb)))
            m += 2
        else:
            temb = None
        if not self.centered:
            x = 2 * x - 1.
        pyr_in = x if self.progressive_input != 'none' else None

        hs = [mods[m](x)]
        m += 1
        for i in range(self.num_resolutions):
            for _ in range(self.num_res_blocks):
                h = mods[m](hs[-1], temb)
                m += 1
                if h.shape[-1] in self.attn_resolutions:
                    h = mods[m](h)
                    m += 1
                hs.append(h)
            if i != self.num_resolutions - 1:
                if self.resblock_type == 'ddpm':
                    h = mods[m](hs[-1])
                else:
                    h = mods[m](hs[-1], temb)
                m += 1
                if self.progressive_input == 'input_skip':
                    pyr_in = self.pyramid_downsample(pyr_in)
                    h = mods[m](pyr_in, h)
                    m += 1
                elif self.progressive_input == 'residual':
                    pyr_in = mods[m](pyr_in)
                    m += 1
                    pyr_in = (pyr_in + h) / SQRT2 if self.skip_rescale else pyr_in + h
                    h = pyr_in
                hs.append(h)

        h = mods[m](hs[-1], temb)
        h = mods[m + 1](h)
        h = mods[m + 2](h, temb)
        m += 3

        pyr = None
        for i in reversed(range(self.num_resolutions)):
            for _ in range(self.num_res_blocks + 1):
                h = mods[m](torch.cat([h, hs.pop()], dim=1), temb)
                m += 1
            if h.shape[-1] in self.attn_resolutions:
                h = mods[m](h)
                m += 1
            if self.progressive != 'none':
                if i == self.num_resolutions - 1:
                    pyr = mods[m + 1](self.act(mods[m](h)))
                    m += 2
                elif self.progressive == 'output_skip':
                    pyr = self.pyramid_upsample(pyr) + mods[m + 1](self.act(mods[m](h)))
                    m += 2
                else:
                    pyr = mods[m](pyr)
                    m += 1
                    pyr = (pyr + h) / SQRT2 if self.skip_rescale else pyr + h
                    h = pyr
            if i != 0:
                if self.resblock_type == 'ddpm':
                    h = mods[m](h)
                else:
                    h = mods[m](h, temb)
                m += 1
        assert not hs

        if self.progressive == 'output_skip':
            h = pyr
        else:
            h = mods[m + 1](self.act(mods[m](h)))
            m += 2
        assert m == len(mods)
        if self.scale_by_sigma:
            h = h / used_sigmas.reshape((x.shape[0],) + (1,) * (x.dim() - 1))
        return h


# ---- DDPM (networks.md §3) ------------------------------------------------------------------

class DDPM(nn.Module):
    """score_sde's port of Ho et al.'s U-Net: 32-group norms, plain sums, one attention per
    up level, Downsample/Upsample modules, always the sinusoidal embedding."""

    def __init__(self, config):
        super().__init__()
        mc = lambda k: model_cfg(config, k)  # noqa: E731
        self.register_buffer('sigmas', torch.tensor(get_sigmas(config)))
        self.act = act = get_act(config)
        self.nf = nf = mc('nf')
        ch_mult = list(mc('ch_mult'))
        self.num_res_blocks = nrb = mc('num_res_blocks')
        self.attn_resolutions = attn_res = list(mc('attn_resolutions'))
        self.num_resolutions = n_res = len(ch_mult)
        all_res = [config['data']['image_size'] // (2 ** i) for i in range(n_res)]
        self.centered = config['data']['centered']
        self.scale_by_sigma = mc('scale_by_sigma')
        with_conv, dropout = mc('resamp_with_conv'), mc('dropout')
        if not mc('conditional'):
            raise ValueError('model.conditional = False: the official ddpm.py cannot build it '
                             '(networks.md §3 [port bug])')

        def resblock(in_ch, out_ch=None):
            return ResnetBlockDDPMpp(act, in_ch, out_ch, temb_dim=4 * nf, dropout=dropout,
                                     skip_rescale=False, init_scale=0., groups=32)

        def attn(ch):
            return AttnBlockpp(ch, skip_rescale=False, init_scale=0., groups=32)

        channels = config['data']['num_channels']
        modules = [dense(nf, 4 * nf), dense(4 * nf, 4 * nf), conv3x3(channels, nf)]
        hs_c = [nf]
        in_ch = nf
        for i in range(n_res):
            for _ in range(nrb):
                out_ch = nf * ch_mult[i]
                modules.append(resblock(in_ch, out_ch))
                in_ch = out_ch
                if all_res[i] in attn_res:
                    modules.append(attn(in_ch))
                hs_c.append(in_ch)
            if i != n_res - 1:
                modules.append(Downsample(in_ch, with_conv=with_conv))
                hs_c.append(in_ch)
        in_ch = hs_c[-1]
        modules += [resblock(in_ch), attn(in_ch), resblock(in_ch)]
        for i in reversed(range(n_res)):
            for _ in range(nrb + 1):
                out_ch = nf * ch_mult[i]
                modules.append(resblock(in_ch + hs_c.pop(), out_ch))
                in_ch = out_ch
            if all_res[i] in attn_res:
                modules.append(attn(in_ch))
            if i != 0:
                modules.append(Upsample(in_ch, with_conv=with_conv))
        assert not hs_c
        modules += [group_norm(in_ch, 32), conv3x3(in_ch, channels, init_scale=0.)]
        self.all_modules = nn.ModuleList(modules)

    def forward(self, x, labels):
        mods = self.all_modules
        temb = mods[1](self.act(mods[0](timestep_embedding(labels, self.nf))))
        h = x if self.centered else 2 * x - 1.
        hs = [mods[2](h)]
        m = 3
        for i in range(self.num_resolutions):
            for _ in range(self.num_res_blocks):
                h = mods[m](hs[-1], temb)
                m += 1
                if h.shape[-1] in self.attn_resolutions:
                    h = mods[m](h)
                    m += 1
                hs.append(h)
            if i != self.num_resolutions - 1:
                hs.append(mods[m](hs[-1]))
                m += 1
        h = mods[m](hs[-1], temb)
        h = mods[m + 1](h)
        h = mods[m + 2](h, temb)
        m += 3
        for i in reversed(range(self.num_resolutions)):
            for _ in range(self.num_res_blocks + 1):
                h = mods[m](torch.cat([h, hs.pop()], dim=1), temb)
                m += 1
            if h.shape[-1] in self.attn_resolutions:
                h = mods[m](h)
                m += 1
            if i != 0:
                h = mods[m](h)
                m += 1
        assert not hs
        h = mods[m + 1](self.act(mods[m](h)))
        m += 2
        assert m == len(mods)
        if self.scale_by_sigma:
            h = h / self.sigmas[labels, None, None, None]
        return h


def create_model(config):
    """Build the network named by config['model']['name'] (official config as nested dicts)."""
    name = config['model']['name']
    if name == 'ncsnpp':
        return NCSNpp(config)
    if name == 'ddpm':
        return DDPM(config)
    raise ValueError(f"model.name '{name}' is not supported (ncsnpp, ddpm)")


# ---- SDE quantities and the score wrapper (algorithms.md §1.1, §2) --------------------------

class SDE:
    """The parts of VE/VP/subVP the wrapper and training need, float32 like the reference."""

    def __init__(self, config):
        tr, mc = config['training'], (lambda k: model_cfg(config, k))
        self.kind = tr['sde'].lower()
        if self.kind not in ('vesde', 'vpsde', 'subvpsde'):
            raise ValueError(f"training.sde '{tr['sde']}' is not vesde, vpsde or subvpsde")
        self.continuous = tr.get('continuous', True)
        self.N = mc('num_scales')
        self.sigma_min, self.sigma_max = mc('sigma_min'), mc('sigma_max')
        self.beta_0, self.beta_1 = mc('beta_min'), mc('beta_max')
        betas = torch.linspace(self.beta_0 / self.N, self.beta_1 / self.N, self.N)
        self.sqrt_1m_alphas_cumprod = torch.sqrt(1. - torch.cumprod(1. - betas, dim=0))

    def marginal_prob(self, t):
        """(m(t), σ(t)) per sample, shape [B]."""
        if self.kind == 'vesde':
            return torch.ones_like(t), self.sigma_min * (self.sigma_max / self.sigma_min) ** t
        lmc = -0.25 * t ** 2 * (self.beta_1 - self.beta_0) - 0.5 * t * self.beta_0
        if self.kind == 'vpsde':
            return torch.exp(lmc), torch.sqrt(1. - torch.exp(2. * lmc))
        return torch.exp(lmc), 1. - torch.exp(2. * lmc)

    def label(self, t, continuous=None):
        """time_cond fed to the network (algorithms.md §2 table)."""
        continuous = self.continuous if continuous is None else continuous
        if self.kind == 'vesde':
            if continuous:
                return self.marginal_prob(t)[1]
            return torch.round((1. - t) * (self.N - 1)).long()
        if continuous or self.kind == 'subvpsde':
            return t * 999
        return t * (self.N - 1)

    def score(self, model, x, t, continuous=None):
        """s(x, t) from the network; returns (score, label, raw output)."""
        continuous = self.continuous if continuous is None else continuous
        label = self.label(t, continuous)
        out = model(x, label)
        if self.kind == 'vesde':
            return out, label, out
        if self.kind == 'vpsde' and not continuous:
            std = self.sqrt_1m_alphas_cumprod.to(x.device)[label.long()]
        else:
            std = self.marginal_prob(t)[1]
        return -out / std[:, None, None, None], label, out


# ---- official checkpoints (networks.md §6.1) ------------------------------------------------

def load_ema_weights(model, ckpt):
    """Load an official training checkpoint (path or dict) into `model` with the EMA weights:
    'model' less 'module.', trainable parameters replaced positionally by shadow_params."""
    if not isinstance(ckpt, dict):
        ckpt = torch.load(ckpt, map_location='cpu')
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in ckpt['model'].items()}
    model.load_state_dict(state, strict=True)
    shadows = ckpt['ema']['shadow_params']
    trainable = [p for p in model.parameters() if p.requires_grad]
    if len(trainable) != len(shadows):
        raise ValueError(f"checkpoint has {len(shadows)} EMA shadow params, the model "
                         f"{len(trainable)} trainable parameters")
    with torch.no_grad():
        for i, (p, s) in enumerate(zip(trainable, shadows)):
            if p.shape != s.shape:
                raise ValueError(f'EMA shadow {i} has shape {list(s.shape)}, '
                                 f'parameter expects {list(p.shape)}')
            p.copy_(s)
    return ckpt
