#!/usr/bin/python3
"""Convert official score_sde_pytorch checkpoints and diffusers NCSN++ directories into a
clsde model file (.safetensors, F32, official tensor names; format in tools/README.md).

Implements spec/networks.md §6: the EMA recipe of §6.1 and the diffusers name mapping of
§6.2/§6.3. Needs numpy only, never torch: pickles are read by a restricted unpickler that
knows the handful of globals a torch checkpoint uses and refuses every other one, so a
hostile file cannot run code. Legacy (pre-1.6, non-zip) torch.save files are not read.
"""

import argparse
import collections
import hashlib
import json
import math
import os
import pickle
import re
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clsde_safetensors as st  # noqa: E402

VERSION = "1"  # converter version, recorded in the model file's "source" metadata
FORMAT = "1"   # value of __metadata__["clsde_format"]; the C loader checks it


class ConvertError(Exception):
    """A problem with the user's input; main() prints it as one line and exits 1."""


# --------------------------------------------------------------------------------------------
# Restricted torch unpickler: only the globals below exist, each one our own small function.

class _StorageType:
    """Stands for torch.<Name>Storage; only carries the element type."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, np.dtype(dtype)

    def __setstate__(self, state):
        raise pickle.UnpicklingError("BUILD on %s" % self.name)


_STORAGES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "BFloat16Storage": "<u2", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class _Storage:
    """One data/<key> member of the zip: read only when a tensor is materialised."""

    def __init__(self, reader, stype, key, numel):
        self.reader, self.stype, self.key, self.numel = reader, stype, key, numel

    def array(self):
        return self.reader.read_storage(self)

    def __setstate__(self, state):
        raise pickle.UnpicklingError("BUILD on a storage")


class LazyTensor:
    """A tensor of a checkpoint: shape and dtype known, data read by numpy()."""

    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset = storage, offset
        self.shape, self.stride = shape, stride
        self.dtype = storage.stype.dtype
        self.bf16 = storage.stype.name == "BFloat16Storage"

    def numpy(self):
        """Copy of the data as a C-contiguous array in native byte order."""
        buf = self.storage.array()
        shape, stride, off = self.shape, self.stride, self.offset
        if 0 in shape:
            out = np.zeros(shape, dtype=buf.dtype)
        else:
            # as_strided reads raw memory: prove every index lies inside the storage first
            last = off + sum((n - 1) * s for n, s in zip(shape, stride))
            if off < 0 or last >= buf.size:
                raise ConvertError("tensor view (offset %d, shape %s, stride %s) reaches past "
                                   "its storage of %d elements" % (off, shape, stride, buf.size))
            it = buf.itemsize
            out = np.lib.stride_tricks.as_strided(buf[off:], shape, [s * it for s in stride],
                                                  writeable=False).copy()
        if self.bf16:
            out = (out.astype("<u4") << 16).view("<f4")
        return out.astype(out.dtype.newbyteorder("="), copy=False)

    def __setstate__(self, state):
        raise pickle.UnpicklingError("BUILD on a tensor")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    ok = (isinstance(storage, _Storage) and _is_int(storage_offset) and storage_offset >= 0
          and isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
          and all(_is_int(v) and v >= 0 for v in size + stride))
    if not ok:
        raise pickle.UnpicklingError("malformed _rebuild_tensor_v2 arguments")
    return LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if not isinstance(data, LazyTensor):
        raise pickle.UnpicklingError("_rebuild_parameter without a tensor")
    return data


class _NumpyDtype:
    """numpy.dtype as pickled for numpy scalars (the official optimizer's lr is one)."""

    _OK = {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"}

    def __init__(self, spec, align=False, copy=False):
        if spec not in self._OK:
            raise pickle.UnpicklingError("numpy dtype %r not allowed" % (spec,))
        self.spec, self.order = spec, "<"

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "=")):
            raise pickle.UnpicklingError("malformed numpy dtype state")
        self.order = state[1] if state[1] in "<>" else "<"

    def numpy(self):
        return np.dtype(self.order + self.spec)


def _numpy_scalar(dtype, data=None):
    if isinstance(data, str):
        data = data.encode("latin-1")
    if not isinstance(dtype, _NumpyDtype) or not isinstance(data, bytes):
        raise pickle.UnpicklingError("malformed numpy scalar")
    dt = dtype.numpy()
    if len(data) != dt.itemsize:
        raise pickle.UnpicklingError("numpy scalar of %d bytes for dtype %s" % (len(data), dt))
    return np.frombuffer(data, dt)[0].item()


def _codecs_encode(obj, encoding="utf-8"):
    # protocol 2 stores bytes as latin-1 text plus this call
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode with %r not allowed" % (encoding,))
    return obj.encode("latin-1")


_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _NumpyDtype,
    ("_codecs", "encode"): _codecs_encode,
}
_GLOBALS.update({("torch", n): _StorageType(n, d) for n, d in _STORAGES.items()})


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, reader):
        super().__init__(f)
        self.reader = reader

    def find_class(self, module, name):
        fn = _GLOBALS.get((module, name))
        if fn is None:
            raise ConvertError("%s: refusing pickle global '%s.%s' (not part of a torch "
                               "checkpoint; the file may be malicious)"
                               % (self.reader.label, module, name))
        return fn

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
                and re.fullmatch(r"[0-9]+", pid[2]) and _is_int(pid[4]) and pid[4] >= 0):
            raise pickle.UnpicklingError("unsupported persistent id %r" % (pid[:1],))
        return _Storage(self.reader, pid[1], pid[2], pid[4])


class TorchZip:
    """A torch.save zip container (<stem>/data.pkl, <stem>/data/<key>, <stem>/version)."""

    def __init__(self, path):
        self.path, self.label = path, os.path.basename(path)
        try:
            self.zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise ConvertError("%s: not a zip container (truncated, or a legacy pre-1.6 "
                               "torch.save file, which is not supported)" % self.label)
        pkls = [n for n in self.zf.namelist() if re.fullmatch(r"[^/]+/data\.pkl", n)]
        if len(pkls) != 1:
            raise ConvertError("%s: expected one <stem>/data.pkl member, found %d"
                               % (self.label, len(pkls)))
        self.prefix = pkls[0][: -len("data.pkl")]
        order = self.prefix + "byteorder"
        self.big = (order in self.zf.namelist()
                    and self.zf.read(order).strip() == b"big")

    def load(self):
        try:
            with self.zf.open(self.prefix + "data.pkl") as f:
                return _Unpickler(f, self).load()
        except ConvertError:
            raise
        except Exception as e:  # anything a corrupt pickle or zip can raise
            raise ConvertError("%s: cannot read data.pkl (%s: %s)"
                               % (self.label, type(e).__name__, e))

    def read_storage(self, s):
        name = self.prefix + "data/" + s.key
        try:
            raw = self.zf.read(name)
        except KeyError:
            raise ConvertError("%s: storage member '%s' is missing" % (self.label, name))
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ConvertError("%s: cannot read '%s' (%s)" % (self.label, name, e))
        dt = s.stype.dtype.newbyteorder(">") if self.big else s.stype.dtype
        if len(raw) != s.numel * dt.itemsize:
            raise ConvertError("%s: '%s' has %d bytes, its %d %s elements need %d"
                               % (self.label, name, len(raw), s.numel, s.stype.name,
                                  s.numel * dt.itemsize))
        return np.frombuffer(raw, dtype=dt)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# --------------------------------------------------------------------------------------------
# Output tensors: everything becomes F32, read lazily so big checkpoints stream.

class _F32:
    """Pending output tensor: shape known now, data produced by fn() when written."""

    dtype = np.dtype("<f4")

    def __init__(self, name, shape, fn):
        self.name, self.shape, self.fn = name, tuple(shape), fn

    def numpy(self):
        return self.fn()


def as_f32(name, t, transpose=False):
    """Wrap a LazyTensor or array as an F32 output tensor; float16/bfloat16 widen exactly,
    any other dtype is refused rather than rounded."""
    dt = np.dtype(t.dtype)
    if not (dt.kind == "f" and dt.itemsize <= 4) and not getattr(t, "bf16", False):
        raise ConvertError("tensor '%s' is %s; clsde model files hold float32 weights only"
                           % (name, dt.name))
    shape = tuple(t.shape)[::-1] if transpose else tuple(t.shape)

    def fn():
        a = t.numpy() if isinstance(t, LazyTensor) else np.asarray(t)
        a = a.astype(np.float32)
        return np.ascontiguousarray(a.T if transpose else a)
    return _F32(name, shape, fn)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Official checkpoints (networks.md §6.1)

def load_config(path):
    """The official config dict from a fixture-style {"config": {...}} file or a bare one."""
    try:
        with open(path) as f:
            obj = json.load(f)
    except OSError as e:
        raise ConvertError("%s: cannot read config (%s)" % (path, e.strerror))
    except ValueError as e:
        raise ConvertError("%s: not valid JSON (%s)" % (path, e))
    if isinstance(obj, dict) and isinstance(obj.get("config"), dict):
        obj = obj["config"]
    missing = [k for k in ("training", "sampling", "data", "model")
               if not isinstance(obj, dict) or not isinstance(obj.get(k), dict)]
    if missing:
        raise ConvertError("%s: not an official config: no '%s' section"
                           % (path, "', '".join(missing)))
    if not isinstance(obj["model"].get("name"), str):
        raise ConvertError("%s: model.name is missing" % path)
    return obj


def has_fourier_w(config):
    # ddpm.py ignores model.embedding_type (its configs still carry the default 'fourier')
    m = config["model"]
    return m["name"] == "ncsnpp" and m.get("embedding_type", "fourier") == "fourier"


def checkpoint_tensors(ckpt, config, weights, label):
    """[(official name, F32 tensor)] in checkpoint order, plus provenance fields."""
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        raise ConvertError("%s: no 'model' state dict (not an official training checkpoint)"
                           % label)
    entries, sigmas = [], None
    for key, t in ckpt["model"].items():
        name = key[len("module."):] if key.startswith("module.") else key
        if not isinstance(t, LazyTensor):
            raise ConvertError("%s: 'model' entry '%s' is not a tensor" % (label, key))
        if name == "sigmas":
            sigmas = t
        else:
            entries.append((name, t))
    check_sigmas(sigmas, config, label)
    frozen = set()
    names = {n for n, _ in entries}
    if has_fourier_w(config):
        if "all_modules.0.W" not in names:
            raise ConvertError("%s: config says Fourier embedding but the checkpoint has no "
                               "all_modules.0.W (wrong --config?)" % label)
        frozen.add("all_modules.0.W")
    elif "all_modules.0.W" in names:
        raise ConvertError("%s: checkpoint has a Fourier all_modules.0.W but the config says "
                           "model.name=%s, embedding_type=%s (wrong --config?)"
                           % (label, config["model"]["name"],
                              config["model"].get("embedding_type")))
    src = {"weights": weights, "step": _plain(ckpt.get("step"))}
    if weights == "model":
        return [(n, as_f32(n, t)) for n, t in entries], src

    ema = ckpt.get("ema")
    shadow = ema.get("shadow_params") if isinstance(ema, dict) else None
    if not isinstance(shadow, list):
        raise ConvertError("%s: no 'ema' entry with shadow_params (use --weights model to "
                           "convert the raw weights)" % label)
    trainable = [(n, t) for n, t in entries if n not in frozen]
    if len(shadow) != len(trainable):
        raise ConvertError("%s: EMA has %d shadow params but 'model' has %d trainable tensors "
                           "(%d keys without sigmas%s)"
                           % (label, len(shadow), len(trainable), len(entries),
                              ", minus the Fourier W" if frozen else ""))
    ema_of = {}
    for (n, t), s in zip(trainable, shadow):
        if not isinstance(s, LazyTensor) or tuple(s.shape) != tuple(t.shape):
            raise ConvertError("%s: EMA shadow param for '%s' has shape %s, the model tensor %s"
                               % (label, n, list(getattr(s, "shape", [])), list(t.shape)))
        ema_of[n] = s
    out = [(n, as_f32(n, ema_of.get(n, t))) for n, t in entries]
    src.update(ema_decay=_plain(ema.get("decay")), ema_num_updates=_plain(ema.get("num_updates")))
    return out, src


def check_sigmas(sigmas, config, label):
    """The sigmas buffer is exp(linspace(ln sigma_max, ln sigma_min, num_scales)): a cheap
    way to catch a --config that belongs to another model."""
    if sigmas is None:
        return
    m = config["model"]
    s = sigmas.numpy()
    if s.ndim != 1 or s.size == 0:
        raise ConvertError("%s: checkpoint sigmas has shape %s, expected [num_scales]"
                           % (label, list(s.shape)))
    if "num_scales" in m and s.size != m["num_scales"]:
        raise ConvertError("%s: checkpoint sigmas has %d entries, config model.num_scales is %s "
                           "(wrong --config?)" % (label, s.size, m.get("num_scales")))
    for v, key in ((s[0], "sigma_max"), (s[-1], "sigma_min")):
        want = m.get(key)
        if key in m and not (isinstance(want, (int, float))
                                        and math.isclose(v, want, rel_tol=1e-6)):
            raise ConvertError("%s: checkpoint sigmas imply %s = %.6g, config says %s "
                               "(wrong --config?)" % (label, key, v, want))


def _plain(v):
    return v if v is None or isinstance(v, (int, float, str)) else str(v)


# --------------------------------------------------------------------------------------------
# diffusers UNet2DModel NCSN++ (networks.md §6.2, §6.3)

_ATTN = (("NIN_0", "to_q", "query"), ("NIN_1", "to_k", "key"), ("NIN_2", "to_v", "value"),
         ("NIN_3", "to_out.0", "proj_attn"))


def skip_layout(nf, ch_mult, nrb, attn_levels, channels):
    """Official module list of the output_skip/input_skip(sum)/FIR/biggan/Fourier NCSN++
    (networks.md §2.3, §2.7) with each parameter's diffusers name.

    Returns a list of modules, each {"kind", "index", "params": [(official name, shape,
    [diffusers names], transpose)], "groups": (diffusers GroupNorm groups, original) or
    None}. attn_levels holds level indices, not resolutions.
    """
    L, T = len(ch_mult), 4 * nf
    mods = []

    def add(kind, params, groups=None):
        k = len(mods)
        mods.append({"kind": kind, "index": k, "groups": groups,
                     "params": [("all_modules.%d.%s" % (k, o), s, d, tr)
                                for o, s, d, tr in params]})

    def dense(pre, shape):
        return [("weight", shape, [pre + ".weight"], False),
                ("bias", shape[:1], [pre + ".bias"], False)]

    def resblock(pre, cin, cout, resample=False, groups=None):
        p = [("GroupNorm_0.weight", [cin], [pre + ".norm1.weight"], False),
             ("GroupNorm_0.bias", [cin], [pre + ".norm1.bias"], False),
             ("Conv_0.weight", [cout, cin, 3, 3], [pre + ".conv1.weight"], False),
             ("Conv_0.bias", [cout], [pre + ".conv1.bias"], False),
             ("Dense_0.weight", [cout, T], [pre + ".time_emb_proj.weight"], False),
             ("Dense_0.bias", [cout], [pre + ".time_emb_proj.bias"], False),
             ("GroupNorm_1.weight", [cout], [pre + ".norm2.weight"], False),
             ("GroupNorm_1.bias", [cout], [pre + ".norm2.bias"], False),
             ("Conv_1.weight", [cout, cout, 3, 3], [pre + ".conv2.weight"], False),
             ("Conv_1.bias", [cout], [pre + ".conv2.bias"], False)]
        if cin != cout or resample:
            p += [("Conv_2.weight", [cout, cin, 1, 1], [pre + ".conv_shortcut.weight"], False),
                  ("Conv_2.bias", [cout], [pre + ".conv_shortcut.bias"], False)]
        add("ResnetBlockBigGANpp", p, groups)

    def attn(pre, c, diffusers_groups):
        p = [("GroupNorm_0.weight", [c], [pre + ".group_norm.weight"], False),
             ("GroupNorm_0.bias", [c], [pre + ".group_norm.bias"], False)]
        for nin, new, old in _ATTN:
            p += [(nin + ".W", [c, c], ["%s.%s.weight" % (pre, n) for n in (new, old)], True),
                  (nin + ".b", [c], ["%s.%s.bias" % (pre, n) for n in (new, old)], False)]
        add("AttnBlockpp", p, (diffusers_groups, gn(c)))

    def gn(c):
        return min(c // 4, 32)

    add("GaussianFourierProjection", [("W", [nf], ["time_proj.weight", "time_proj.W"], False)])
    add("Linear", dense("time_embedding.linear_1", [T, 2 * nf]))
    add("Linear", dense("time_embedding.linear_2", [T, T]))
    add("Conv2d", dense("conv_in", [nf, channels, 3, 3]))
    hs, cin = [nf], nf
    for i in range(L):
        cout = nf * ch_mult[i]
        for j in range(nrb):
            resblock("down_blocks.%d.resnets.%d" % (i, j), cin, cout)
            cin = cout
            if i in attn_levels:
                attn("down_blocks.%d.attentions.%d" % (i, j), cin, 32)
            hs.append(cin)
        if i < L - 1:
            resblock("down_blocks.%d.resnet_down" % i, cin, cin, resample=True)
            add("Combine", [("Conv_0.weight", [cin, channels, 1, 1],
                             ["down_blocks.%d.skip_conv.weight" % i], False),
                            ("Conv_0.bias", [cin], ["down_blocks.%d.skip_conv.bias" % i], False)])
            hs.append(cin)
    cin = hs[-1]
    resblock("mid_block.resnets.0", cin, cin)
    attn("mid_block.attentions.0", cin, gn(cin))
    resblock("mid_block.resnets.1", cin, cin)
    for i in reversed(range(L)):
        u, cout = L - 1 - i, nf * ch_mult[i]
        for j in range(nrb + 1):
            skip = hs.pop()
            # AttnSkipUpBlock2D's resnets use min(in + skip // 4, 32) groups (§6.3 item 2)
            groups = (min(cin + skip // 4, 32), gn(cin + skip)) if i in attn_levels else None
            resblock("up_blocks.%d.resnets.%d" % (u, j), cin + skip, cout, groups=groups)
            cin = cout
        if i in attn_levels:
            attn("up_blocks.%d.attentions.0" % u, cin, 32)
        norm, conv = (("up_blocks.%d.skip_norm" % u, "up_blocks.%d.skip_conv" % u) if i > 0
                      else ("conv_norm_out", "conv_out"))
        add("GroupNorm", dense(norm, [cin]))
        add("Conv2d", dense(conv, [channels, cin, 3, 3]))
        if i > 0:
            resblock("up_blocks.%d.resnet_up" % u, cin, cin, resample=True)
    return mods


def _need(cond, cfg_label, msg):
    if not cond:
        raise ConvertError("%s: %s" % (cfg_label, msg))


def diffusers_structure(dc, label):
    """Check a UNet2DModel config.json describes an NCSN++ the original code computes the
    same way; return (nf, ch_mult, nrb, attn_levels, channels, image_size)."""
    _need(dc.get("_class_name") == "UNet2DModel", label,
          "_class_name is %r, expected UNet2DModel (not a diffusers model directory?)"
          % dc.get("_class_name"))
    _need(dc.get("time_embedding_type") == "fourier", label,
          "time_embedding_type is %r; only the Fourier NCSN++ layout is supported"
          % dc.get("time_embedding_type"))
    # networks.md §6.3 item 4: each of these silently yields a different network
    _need(dc.get("center_input_sample") is True, label,
          "center_input_sample is %r; the original NCSN++ maps x to 2x-1 first, so this file "
          "describes a different network" % dc.get("center_input_sample"))
    msf = dc.get("mid_block_scale_factor")
    _need(isinstance(msf, (int, float)) and abs(msf - math.sqrt(2)) < 1e-6, label,
          "mid_block_scale_factor is %r, the original rescales by sqrt(2)" % msf)
    _need(dc.get("attention_head_dim") is None, label,
          "attention_head_dim is %r; the original attention has one head (null)"
          % dc.get("attention_head_dim"))
    eps = dc.get("norm_eps")
    _need(isinstance(eps, (int, float)) and abs(eps - 1e-6) < 1e-12, label,
          "norm_eps is %r, the original GroupNorm eps is 1e-6" % eps)
    for key, want in (("norm_num_groups", None), ("attn_norm_num_groups", None),
                      ("act_fn", "silu"), ("add_attention", True), ("class_embed_type", None),
                      ("num_class_embeds", None), ("resnet_time_scale_shift", "default")):
        if key in dc:
            _need(dc[key] == want, label, "%s is %r, NCSN++ needs %r" % (key, dc[key], want))
    boc, nrb = dc.get("block_out_channels"), dc.get("layers_per_block")
    _need(isinstance(boc, list) and len(boc) >= 2 and all(_is_int(c) and c > 0 for c in boc),
          label, "block_out_channels must list two or more widths")
    _need(_is_int(nrb) and nrb >= 1, label, "layers_per_block must be a positive integer")
    nf = boc[0]
    _need(all(c % nf == 0 for c in boc), label,
          "block_out_channels %r are not multiples of the first width" % boc)
    L = len(boc)
    down, up = dc.get("down_block_types"), dc.get("up_block_types")
    _need(isinstance(down, list) and len(down) == L and isinstance(up, list) and len(up) == L,
          label, "down_block_types and up_block_types need one entry per block_out_channels")
    attn = set()
    for i in range(L):
        d, u = down[i], up[L - 1 - i]
        _need(d in ("SkipDownBlock2D", "AttnSkipDownBlock2D"), label,
              "down block %d is %r; only SkipDownBlock2D/AttnSkipDownBlock2D map to NCSN++"
              % (i, d))
        _need(u == d.replace("Down", "Up"), label,
              "up block %d is %r but its level's down block is %r; the original puts attention "
              "at the same resolutions on both paths" % (L - 1 - i, u, d))
        if d.startswith("Attn"):
            attn.add(i)
    cin, cout = dc.get("in_channels"), dc.get("out_channels")
    _need(_is_int(cin) and cin == cout, label,
          "in_channels %r and out_channels %r must be equal" % (cin, cout))
    size = dc.get("sample_size")
    _need(_is_int(size) and size % (1 << (L - 1)) == 0, label,
          "sample_size %r is not divisible by 2^%d" % (size, L - 1))
    return nf, [c // nf for c in boc], nrb, attn, cin, size


def diffusers_config(nf, ch_mult, nrb, attn_levels, channels, size, sigma_max, num_scales, snr):
    """The official config the diffusers model corresponds to (ve/*_ncsnpp_continuous)."""
    return {
        "training": {"sde": "vesde", "continuous": True, "batch_size": 64, "n_iters": 2400001,
                     "snapshot_freq": 50000, "log_freq": 50, "eval_freq": 100,
                     "snapshot_freq_for_preemption": 5000, "snapshot_sampling": True,
                     "likelihood_weighting": False, "reduce_mean": False},
        "sampling": {"method": "pc", "predictor": "reverse_diffusion", "corrector": "langevin",
                     "n_steps_each": 1, "noise_removal": True, "probability_flow": False,
                     "snr": snr},
        "data": {"dataset": "unknown", "image_size": size, "random_flip": True,
                 "uniform_dequantization": False, "centered": False, "num_channels": channels},
        "model": {"name": "ncsnpp", "sigma_min": 0.01, "sigma_max": sigma_max,
                  "num_scales": num_scales, "beta_min": 0.1, "beta_max": 20.0, "dropout": 0.0,
                  "embedding_type": "fourier", "fourier_scale": 16, "scale_by_sigma": True,
                  "ema_rate": 0.999, "normalization": "GroupNorm", "nonlinearity": "swish",
                  "nf": nf, "ch_mult": list(ch_mult), "num_res_blocks": nrb,
                  "attn_resolutions": sorted({size >> i for i in attn_levels}, reverse=True),
                  "resamp_with_conv": True, "conditional": True, "fir": True,
                  "fir_kernel": [1, 3, 3, 1], "skip_rescale": True, "resblock_type": "biggan",
                  "progressive": "output_skip", "progressive_input": "input_skip",
                  "progressive_combine": "sum", "attention_type": "ddpm", "init_scale": 0.0,
                  "conv_size": 3},
    }


def load_diffusers(d, args):
    """Returns (tensors, config, source) for a diffusers UNet2DModel directory."""
    if not os.path.isfile(os.path.join(d, "config.json")) and \
            os.path.isfile(os.path.join(d, "unet", "config.json")):
        d = os.path.join(d, "unet")  # a pipeline directory: the model is in unet/
    cfg_path = os.path.join(d, "config.json")
    label = os.path.join(os.path.basename(os.path.normpath(d)), "config.json")
    try:
        with open(cfg_path) as f:
            dc = json.load(f)
    except OSError as e:
        raise ConvertError("%s: cannot read (%s)" % (cfg_path, e.strerror))
    except ValueError as e:
        raise ConvertError("%s: not valid JSON (%s)" % (cfg_path, e))
    _need(isinstance(dc, dict), label, "not a JSON object")
    nf, ch_mult, nrb, attn, ch, size = diffusers_structure(dc, label)
    layout = skip_layout(nf, ch_mult, nrb, attn, ch)
    if not args.allow_group_mismatch:
        for m in layout:
            if m["groups"] and m["groups"][0] != m["groups"][1]:
                raise ConvertError(
                    "%s: at all_modules.%d (%s) diffusers uses %d GroupNorm groups, the original "
                    "%d (networks.md §6.3 item 2; widths below 128); clsde would compute the "
                    "original network, pass --allow-group-mismatch to convert anyway"
                    % (label, m["index"], m["kind"], m["groups"][0], m["groups"][1]))

    for fname in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"):
        wpath = os.path.join(d, fname)
        if os.path.isfile(wpath):
            break
    else:
        raise ConvertError("%s: no diffusion_pytorch_model.safetensors or .bin" % d)
    if fname.endswith(".safetensors"):
        try:
            weights, _ = st.load(wpath, mmap=True)
        except st.SafetensorsError as e:
            raise ConvertError(str(e))
    else:
        weights = TorchZip(wpath).load()
        if not isinstance(weights, dict) or not all(isinstance(t, LazyTensor)
                                                    for t in weights.values()):
            raise ConvertError("%s: not a state dict of tensors" % fname)
    weights = dict(weights)
    if "time_proj.W" in weights and "time_proj.weight" in weights:
        # some early ports saved the Fourier weight under both names
        a, b = (_arr(weights[k]) for k in ("time_proj.weight", "time_proj.W"))
        if a.shape != b.shape or not np.array_equal(a, b):
            raise ConvertError("%s: time_proj.weight and time_proj.W differ" % fname)
        del weights["time_proj.W"]

    tensors = []
    for m in layout:
        for name, shape, cands, tr in m["params"]:
            key = next((c for c in cands if c in weights), None)
            if key is None:
                raise ConvertError("%s: tensor '%s' (for %s) is missing" % (fname, cands[0], name))
            t = weights.pop(key)
            got = list(t.shape)[::-1] if tr else list(t.shape)
            if got != shape:
                raise ConvertError("%s: tensor '%s' has shape %s, %s needs %s%s"
                                   % (fname, key, list(t.shape), name, shape,
                                      " after transposing" if tr else ""))
            tensors.append((name, as_f32(key, t, transpose=tr)))
    if weights:
        extra = sorted(weights)
        raise ConvertError("%s: %d tensors do not belong to the NCSN++ layout, e.g. '%s'"
                           % (fname, len(extra), extra[0]))

    sched = scheduler_defaults(d)
    sigma_max = args.sigma_max if args.sigma_max is not None else sched.get("sigma_max", 348.0)
    num_scales = args.num_scales if args.num_scales is not None else sched.get("num_scales", 2000)
    snr = args.snr if args.snr is not None else sched.get("snr", 0.075)
    config = diffusers_config(nf, ch_mult, nrb, attn, ch, size, sigma_max, num_scales, snr)
    source = {"input": os.path.basename(os.path.normpath(args.input)), "weights_file": fname,
              "sha256": sha256_file(wpath), "config_sha256": sha256_file(cfg_path),
              "format": "diffusers UNet2DModel", "weights": "as stored in the diffusers file",
              "sde_from": sched.get("_from", "converter defaults / command line")}
    return tensors, config, source


def scheduler_defaults(d):
    """sigma_max, N, snr from a ScoreSdeVeScheduler config next to the model, if any."""
    for p in (os.path.join(d, "scheduler_config.json"),
              os.path.join(d, "..", "scheduler", "scheduler_config.json")):
        if os.path.isfile(p):
            try:
                with open(p) as f:
                    s = json.load(f)
            except (OSError, ValueError) as e:
                raise ConvertError("%s: cannot read (%s)" % (p, e))
            out = {"_from": os.path.relpath(p, d)}
            for src, dst in (("sigma_max", "sigma_max"), ("num_train_timesteps", "num_scales"),
                             ("snr", "snr")):
                if isinstance(s.get(src), (int, float)):
                    out[dst] = s[src]
            if s.get("sigma_min", 0.01) != 0.01:
                raise ConvertError("%s: sigma_min %r; the converter writes 0.01"
                                   % (p, s["sigma_min"]))
            return out
    return {}


def _arr(t):
    return t.numpy() if isinstance(t, LazyTensor) else np.asarray(t)


# --------------------------------------------------------------------------------------------

def write_model(path, tensors, config, source):
    meta = {"clsde_format": FORMAT,
            "config": json.dumps(config, allow_nan=False),
            "source": json.dumps(source, allow_nan=False)}
    st.save(path, tensors, meta)


def describe(config):
    m = config["model"]
    arch = m["name"]
    if m["name"] == "ncsnpp":
        arch += " (%s, %s/%s, %s)" % (m.get("embedding_type"), m.get("progressive"),
                                     m.get("progressive_input"), m.get("resblock_type"))
    tr = config["training"]
    return "%s, %s %s, %dpx" % (arch, tr.get("sde"),
                                "continuous" if tr.get("continuous") else "discrete",
                                config["data"].get("image_size", 0))


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="convert.py",
        description="Convert an official score_sde_pytorch checkpoint (checkpoint_*.pth) or a "
                    "diffusers UNet2DModel NCSN++ directory into a clsde model file.",
        epilog="A .pth needs --config: a JSON file holding the official config dict, bare or "
               "under a 'config' key (as in the fixtures' config.json). The official .py "
               "config files are not executed; dump them to JSON first, e.g. "
               "json.dump(config.to_dict(), f) with ml_collections.")
    p.add_argument("input", help="checkpoint .pth file or diffusers model directory")
    p.add_argument("-o", "--output", required=True, help="output .safetensors path")
    p.add_argument("--config", help="official config as JSON (required for .pth)")
    p.add_argument("--weights", choices=("ema", "model"), default=None,
                   help=".pth only: EMA weights (default, what the paper's results use) or raw")
    p.add_argument("--sigma-max", type=float, default=None,
                   help="diffusers only: VE sigma_max (default: scheduler config, else 348)")
    p.add_argument("--num-scales", type=int, default=None,
                   help="diffusers only: VE N (default: scheduler config, else 2000)")
    p.add_argument("--snr", type=float, default=None,
                   help="diffusers only: Langevin snr (default: scheduler config, else 0.075)")
    p.add_argument("--allow-group-mismatch", action="store_true",
                   help="diffusers only: convert although diffusers' GroupNorm group counts "
                        "differ from the original's at widths below 128 (networks.md §6.3)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    return p.parse_args(argv)


def convert(args):
    if os.path.isdir(args.output):
        raise ConvertError("%s: output is a directory" % args.output)
    if os.path.exists(args.output) and not args.force:
        raise ConvertError("%s: output exists (pass --force to overwrite)" % args.output)
    outdir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(outdir):
        raise ConvertError("%s: output directory does not exist" % outdir)
    if not os.path.exists(args.input):
        raise ConvertError("%s: no such file or directory" % args.input)
    if os.path.isdir(args.input):
        if args.config or args.weights:
            raise ConvertError("--config and --weights apply to .pth checkpoints; a diffusers "
                               "directory carries its own config.json")
        tensors, config, source = load_diffusers(args.input, args)
    else:
        if args.sigma_max is not None or args.num_scales is not None or args.snr is not None \
                or args.allow_group_mismatch:
            raise ConvertError("--sigma-max, --num-scales, --snr and --allow-group-mismatch "
                               "apply to diffusers input; a checkpoint's config sets them")
        if not args.config:
            raise ConvertError("%s: a .pth checkpoint needs --config CONFIG.json (see --help)"
                               % args.input)
        config = load_config(args.config)
        z = TorchZip(args.input)
        tensors, source = checkpoint_tensors(z.load(), config, args.weights or "ema", z.label)
        source = dict({"input": z.label, "sha256": sha256_file(args.input),
                       "format": "score_sde_pytorch checkpoint"}, **source)
    source["converter_version"] = VERSION
    write_model(args.output, tensors, config, source)
    nparams = sum(int(np.prod(t.shape, dtype=np.int64)) for _, t in tensors)
    print("%s: %s; %d tensors, %s params, %s weights" % (
        args.output, describe(config), len(tensors), format(nparams, ","), source["weights"]))


def main(argv=None):
    args = parse_args(argv)
    try:
        convert(args)
    except (ConvertError, st.SafetensorsError) as e:
        print("convert.py: error: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("convert.py: error: %s: %s" % (e.filename or "", e.strerror), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
