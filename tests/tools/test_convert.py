#!/usr/bin/python3
"""Tests for tools/convert.py and tools/clsde_safetensors.py (plain unittest).

Run: /usr/bin/python3 tests/tools/test_convert.py   (exit status != 0 on failure)
Fixtures: $CLSDE_FIXTURES, else ../shared/fixtures relative to the repository root.
torch is used only here, to cross-check the converter (which must not need it); the
comparisons that need it are skipped with a message when it is missing.
"""

import collections
import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import clsde_safetensors as st  # noqa: E402
import convert  # noqa: E402

FIXTURES = os.environ.get("CLSDE_FIXTURES") or os.path.join(ROOT, "..", "shared", "fixtures")
try:
    import torch
except ImportError:
    torch = None


def fixture_dirs():
    if not os.path.isdir(FIXTURES):
        return []
    return sorted(os.path.join(FIXTURES, d) for d in os.listdir(FIXTURES)
                  if os.path.isfile(os.path.join(FIXTURES, d, "checkpoint.pth")))


# Runs the converter with torch made unimportable, so a converter that needs torch fails.
_RUN = ("import sys, runpy; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')")


def run_convert(*args):
    p = subprocess.run([sys.executable, "-c", _RUN, os.path.join(TOOLS, "convert.py")]
                       + [str(a) for a in args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def sha256(path):
    return hashlib.sha256(read_bytes(path)).hexdigest()


# ---- forging torch checkpoints without torch --------------------------------------------------
# Classes/functions pickled under this module's name, then renamed to torch's in the bytes.

class FloatStorage:
    pass


class DoubleStorage:
    pass


def _rebuild_tensor_v2(*args):
    raise AssertionError("never called: only its pickled name matters")


class _Ref:
    def __init__(self, key, numel, stype):
        self.key, self.numel, self.stype = key, numel, stype


class _Tensor:
    def __init__(self, ref, offset, size, stride):
        self.ref, self.offset, self.size, self.stride = ref, offset, size, stride

    def __reduce__(self):
        return (_rebuild_tensor_v2, (self.ref, self.offset, tuple(self.size), tuple(self.stride),
                                     False, collections.OrderedDict()))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Ref):
            return ("storage", obj.stype, obj.key, "cpu", obj.numel)
        return None


def forge_zip(path, obj, storages, stem="checkpoint"):
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    mod = FloatStorage.__module__.encode()
    data = buf.getvalue()
    for cls in (b"FloatStorage", b"DoubleStorage"):
        data = data.replace(b"c" + mod + b"\n" + cls + b"\n", b"ctorch\n" + cls + b"\n")
    data = data.replace(b"c" + mod + b"\n_rebuild_tensor_v2\n",
                        b"ctorch._utils\n_rebuild_tensor_v2\n")
    assert mod not in data
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(stem + "/data.pkl", data)
        for key, raw in storages.items():
            z.writestr(stem + "/data/" + key, raw)
        z.writestr(stem + "/version", b"3\n")


class Forge:
    """Builds {'model', 'ema', 'optimizer', 'step'} checkpoints from numpy arrays."""

    def __init__(self):
        self.storages = {}

    def t(self, a, stride=None, offset=0):
        """A tensor over a fresh storage holding a (float32, or float64 if a is)."""
        a = np.asarray(a)
        a, stype = ((a.astype("<f8"), DoubleStorage) if a.dtype == np.float64
                    else (a.astype("<f4"), FloatStorage))
        key = str(len(self.storages))
        self.storages[key] = a.tobytes()
        st_ = stride or [int(np.prod(a.shape[i + 1:])) for i in range(a.ndim)]
        return _Tensor(_Ref(key, a.size, stype), offset, list(a.shape), st_)

    def checkpoint(self, model, shadow):
        return {"model": collections.OrderedDict(model),
                "ema": {"decay": 0.999, "num_updates": 1, "shadow_params": shadow},
                "optimizer": {"state": {}, "param_groups": []}, "step": 1}


def tiny_config():
    return {"training": {"sde": "vpsde", "continuous": True}, "sampling": {"method": "pc"},
            "data": {"image_size": 8, "num_channels": 1},
            "model": {"name": "ncsnpp", "embedding_type": "positional", "num_scales": 4,
                      "sigma_min": 0.01, "sigma_max": 50}}


def tiny_sigmas():
    return np.exp(np.linspace(np.log(50), np.log(0.01), 4))


# ---- tests ------------------------------------------------------------------------------------

class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="clsde_convert_test_")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def assert_fails(self, args, *needles):
        rc, out, err = run_convert(*args)
        self.assertEqual(rc, 1, "expected failure, got rc %d\nstdout %s\nstderr %s"
                         % (rc, out, err))
        self.assertEqual(err.count("\n"), 1, "error must be one line: %r" % err)
        for n in needles:
            self.assertIn(n, err)
        return err

    def assert_clean(self, out="out.safetensors"):
        """Neither the output nor a temporary file was left behind."""
        self.assertFalse(os.path.exists(self.path(out)), "output written despite the error")
        left = [os.path.join(r, f) for r, _, fs in os.walk(self.tmp) for f in fs
                if f.endswith(".tmp")]
        self.assertEqual(left, [], "temporary files left behind")


@unittest.skipUnless(fixture_dirs(), "no fixtures found at %s" % FIXTURES)
class Fixtures(Base):
    def test_every_fixture(self):
        if torch is None:
            print("\n  torch missing: skipping the torch.load comparison", file=sys.stderr)
        for d in fixture_dirs():
            with self.subTest(fixture=os.path.basename(d)):
                self.check_fixture(d)

    def check_fixture(self, d):
        ckpt_path, cfg_path = os.path.join(d, "checkpoint.pth"), os.path.join(d, "config.json")
        out = self.path(os.path.basename(d) + ".safetensors")
        rc, stdout, err = run_convert(ckpt_path, "--config", cfg_path, "-o", out)
        self.assertEqual(rc, 0, err)
        with open(cfg_path) as f:
            fx = json.load(f)
        info = fx["checkpoint"]
        tensors, meta = st.load(out)
        header, _, _ = st.read_header(out)
        names = list(tensors)

        # counts from config.json -> checkpoint
        frozen = [k[len("module."):] for k in info["non_trainable_params"]]
        self.assertEqual(len(names), info["model_keys"] - 1)
        self.assertEqual(len(names), info["ema_shadow_params"] + len(frozen))
        self.assertEqual(sum(a.size for a in tensors.values()), info["params_total"])
        self.assertIn("%d tensors" % len(names), stdout)
        self.assertNotIn("sigmas", names)
        self.assertTrue(all(a.dtype == np.float32 for a in tensors.values()))
        self.assertEqual(list(header), names, "header order must be data order")

        # metadata
        self.assertEqual(meta["clsde_format"], "1")
        self.assertEqual(json.loads(meta["config"]), fx["config"])
        src = json.loads(meta["source"])
        self.assertEqual(src["sha256"], sha256(ckpt_path))
        self.assertEqual(src["input"], "checkpoint.pth")
        self.assertEqual(src["weights"], "ema")
        self.assertEqual(src["ema_decay"], info["ema_decay"])
        self.assertEqual(src["ema_num_updates"], info["ema_num_updates"])
        self.assertEqual(src["step"], info["step"])

        if torch is None:
            return
        ck = torch.load(ckpt_path, map_location="cpu")
        keys = [k for k in ck["model"] if k != "module.sigmas"]
        self.assertEqual(names, [k[len("module."):] for k in keys])
        shadow = iter(ck["ema"]["shadow_params"])
        for k in keys:
            name = k[len("module."):]
            want = (ck["model"][k] if name in frozen else next(shadow)).numpy()
            got = tensors[name]
            self.assertEqual(got.shape, want.shape, name)
            self.assertEqual(got.tobytes(), want.tobytes(), "%s differs from the %s weight"
                             % (name, "'model'" if name in frozen else "EMA"))
            if name not in frozen:  # fixtures perturb EMA and 'model' apart everywhere
                self.assertNotEqual(got.tobytes(), ck["model"][k].numpy().tobytes(), name)
        self.assertIsNone(next(shadow, None), "EMA params left over")

    def test_raw_weights(self):
        d = os.path.join(FIXTURES, "vp_ddpmpp")
        out = self.path("raw.safetensors")
        rc, _, err = run_convert(os.path.join(d, "checkpoint.pth"), "--config",
                                 os.path.join(d, "config.json"), "-o", out, "--weights", "model")
        self.assertEqual(rc, 0, err)
        tensors, meta = st.load(out)
        self.assertEqual(json.loads(meta["source"])["weights"], "model")
        if torch is not None:
            ck = torch.load(os.path.join(d, "checkpoint.pth"), map_location="cpu")
            for name, a in tensors.items():
                self.assertEqual(a.tobytes(), ck["model"]["module." + name].numpy().tobytes())

    def test_wrong_config(self):
        d = os.path.join(FIXTURES, "ve_ncsnpp_skip")
        self.assert_fails([os.path.join(d, "checkpoint.pth"), "--config",
                           os.path.join(FIXTURES, "vp_ddpmpp", "config.json"), "-o",
                           self.path("out.safetensors")], "wrong --config")
        self.assert_clean()

    def test_truncated_zip(self):
        src = os.path.join(FIXTURES, "ve_ncsnpp_skip", "checkpoint.pth")
        bad = self.path("trunc.pth")
        with open(bad, "wb") as g:
            g.write(read_bytes(src)[: os.path.getsize(src) // 2])
        self.assert_fails([bad, "--config", os.path.join(FIXTURES, "ve_ncsnpp_skip", "config.json"),
                           "-o", self.path("out.safetensors")], "trunc.pth", "not a zip")
        self.assert_clean()

    def test_existing_output(self):
        d = os.path.join(FIXTURES, "vp_ddpm")
        out = self.path("out.safetensors")
        with open(out, "w") as f:
            f.write("keep")
        args = [os.path.join(d, "checkpoint.pth"), "--config", os.path.join(d, "config.json"),
                "-o", out]
        self.assert_fails(args, "exists", "--force")
        with open(out) as f:
            self.assertEqual(f.read(), "keep")
        rc, _, err = run_convert(*args, "--force")
        self.assertEqual(rc, 0, err)
        st.load(out)

    def test_missing_config(self):
        d = os.path.join(FIXTURES, "vp_ddpm")
        self.assert_fails([os.path.join(d, "checkpoint.pth"), "-o", self.path("out.safetensors")],
                          "--config")
        self.assert_clean()


class Errors(Base):
    """Failure paths on forged checkpoints (no torch, no fixtures needed)."""

    def write_config(self, cfg=None):
        p = self.path("config.json")
        with open(p, "w") as f:
            json.dump({"config": cfg or tiny_config()}, f)
        return p

    def convert_forged(self, ckpt_obj, forge, *extra):
        p = self.path("checkpoint_3.pth")
        forge_zip(p, ckpt_obj, forge.storages, stem="checkpoint_3")
        return ([p, "--config", self.write_config(), "-o", self.path("out.safetensors")]
                + list(extra))

    def test_forged_ok(self):
        f = Forge()
        w, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(2, np.float32)
        ck = f.checkpoint([("module.sigmas", f.t(tiny_sigmas())),
                           ("module.all_modules.0.weight", f.t(w)),
                           ("module.all_modules.0.bias", f.t(b))], [f.t(w + 1), f.t(b + 1)])
        args = self.convert_forged(ck, f)
        rc, out, err = run_convert(*args)
        self.assertEqual(rc, 0, err)
        t, meta = st.load(args[-1])
        self.assertEqual(list(t), ["all_modules.0.weight", "all_modules.0.bias"])
        np.testing.assert_array_equal(t["all_modules.0.weight"], w + 1)
        np.testing.assert_array_equal(t["all_modules.0.bias"], b + 1)
        src = json.loads(meta["source"])
        self.assertEqual((src["input"], src["ema_num_updates"], src["step"]),
                         ("checkpoint_3.pth", 1, 1))

    def test_sigmas_checked(self):
        f = Forge()
        w = f.t(np.ones(2, np.float32))
        ck = f.checkpoint([("module.sigmas", f.t(tiny_sigmas()[:3])),
                           ("module.all_modules.0.weight", w)], [w])
        self.assert_fails(self.convert_forged(ck, f), "sigmas has 3 entries", "num_scales is 4")

    def test_strided_view(self):
        f = Forge()
        base = np.arange(12, dtype=np.float32)
        # a transposed 3x2 view of the first 6 elements, starting at offset 2
        view = f.t(base, stride=[1, 3], offset=2)
        view.size = [3, 2]
        ck = f.checkpoint([("module.all_modules.0.weight", view)], [view])
        rc, _, err = run_convert(*self.convert_forged(ck, f))
        self.assertEqual(rc, 0, err)
        t, _ = st.load(self.path("out.safetensors"))
        want = np.lib.stride_tricks.as_strided(base[2:], (3, 2), (4, 12))
        np.testing.assert_array_equal(t["all_modules.0.weight"], want)

    def test_view_past_storage(self):
        f = Forge()
        view = f.t(np.zeros(4, np.float32), stride=[1, 3])
        view.size = [3, 2]  # reaches element 5 of a 4-element storage
        ck = f.checkpoint([("module.all_modules.0.weight", view)], [view])
        self.assert_fails(self.convert_forged(ck, f), "past its storage")
        self.assert_clean()

    def test_short_storage_leaves_no_file(self):
        """Storage sizes are checked only when the tensor is written: a failure in the
        middle of writing must leave neither the output nor the temporary file."""
        f = Forge()
        a, b = f.t(np.ones(4, np.float32)), f.t(np.ones(8, np.float32))
        ck = f.checkpoint([("module.all_modules.0.weight", a), ("module.all_modules.0.bias", b)],
                          [a, b])
        f.storages["1"] = f.storages["1"][:-4]
        self.assert_fails(self.convert_forged(ck, f), "'checkpoint_3/data/1' has 28 bytes")
        self.assert_clean()

    def test_ema_count_mismatch(self):
        f = Forge()
        a, b = f.t(np.ones(4, np.float32)), f.t(np.ones(2, np.float32))
        ck = f.checkpoint([("module.all_modules.0.weight", a), ("module.all_modules.0.bias", b)],
                          [a])
        self.assert_fails(self.convert_forged(ck, f), "1 shadow params", "2 trainable")
        self.assert_clean()

    def test_ema_shape_mismatch(self):
        f = Forge()
        a, b = f.t(np.ones((2, 2), np.float32)), f.t(np.ones(2, np.float32))
        ck = f.checkpoint([("module.all_modules.0.weight", a), ("module.all_modules.0.bias", b)],
                          [f.t(np.ones(4, np.float32)), b])
        self.assert_fails(self.convert_forged(ck, f), "'all_modules.0.weight'", "[4]", "[2, 2]")
        self.assert_clean()

    def test_float64_weight_refused(self):
        f = Forge()
        a = f.t(np.ones(2, np.float64))
        ck = f.checkpoint([("module.all_modules.0.weight", a)], [a])
        self.assert_fails(self.convert_forged(ck, f), "'all_modules.0.weight' is float64")

    def malicious(self, pkl):
        p = self.path("evil.pth")
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("evil/data.pkl", pkl)
            z.writestr("evil/version", b"3\n")
        return [p, "--config", self.write_config(), "-o", self.path("out.safetensors")]

    def test_malicious_pickle(self):
        marker = self.path("pwned")
        # GLOBAL 'os system', then call it: what pickle.loads would execute
        pkl = (b"\x80\x02cos\nsystem\nX" + len("touch " + marker).to_bytes(4, "little")
               + ("touch " + marker).encode() + b"\x85R.")
        self.assert_fails(self.malicious(pkl), "refusing pickle global 'os.system'")
        self.assertFalse(os.path.exists(marker), "the pickle's code ran")

        class Evil:
            def __reduce__(self):
                return (eval, ("open(%r, 'w')" % marker,))
        self.assert_fails(self.malicious(pickle.dumps({"model": Evil()}, protocol=2)),
                          "refusing pickle global '__builtin__.eval'")  # protocol 2 name
        self.assertFalse(os.path.exists(marker), "the pickle's code ran")
        self.assert_clean()

    def test_garbage_pickle(self):
        self.assert_fails(self.malicious(b"\x80\x02}q\x00(X\x01"), "cannot read data.pkl")

    def test_missing_input(self):
        self.assert_fails([self.path("nope.pth"), "--config", self.write_config(), "-o",
                           self.path("out.safetensors")], "nope.pth", "no such file")


class Safetensors(Base):
    def test_roundtrip(self):
        p = self.path("a.safetensors")
        ts = [("z", np.arange(3, dtype=np.float32)), ("a", np.ones((2, 0, 2), np.float32)),
              ("h", np.arange(5, dtype=np.float16)), ("i", np.arange(4, dtype=np.int64))]
        st.save(p, ts, {"k": "v"})
        got, meta = st.load(p)
        self.assertEqual(list(got), ["z", "a", "h", "i"])
        for n, a in ts:
            self.assertEqual(got[n].dtype, a.dtype)
            np.testing.assert_array_equal(got[n], a)
        self.assertEqual(meta, {"k": "v"})
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
        self.assertEqual(n % 8, 0)

    def test_atomic_write(self):
        p = self.path("m.safetensors")
        st.save(p, [("a", np.ones(2, np.float32))])
        before = read_bytes(p)

        class Boom:
            shape, dtype = (2,), np.dtype("<f4")

            def numpy(self):
                raise RuntimeError("disk on fire")
        with self.assertRaises(RuntimeError):
            st.save(p, [("a", np.ones(2, np.float32)), ("b", Boom())])
        self.assertEqual(read_bytes(p), before)
        os.unlink(p)
        with self.assertRaises(RuntimeError):
            st.save(p, [("a", np.ones(2, np.float32)), ("b", Boom())])
        self.assert_clean("m.safetensors")

    def test_bad_files(self):
        p = self.path("bad.safetensors")
        st.save(p, [("a", np.ones(4, np.float32))])
        raw = read_bytes(p)
        cases = {"truncated": raw[:-1], "short": raw[:5],
                 "huge header": (10 ** 9).to_bytes(8, "little") + raw[8:]}
        hdr = json.dumps({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}).encode()
        cases["bad offsets"] = len(hdr).to_bytes(8, "little") + hdr + b"\0" * 16
        for what, data in cases.items():
            with self.subTest(what), open(p, "wb") as f:
                f.write(data)
            with self.subTest(what), self.assertRaises(st.SafetensorsError):
                st.load(p)


# ---- diffusers ------------------------------------------------------------------------------

def official_to_diffusers(names, classes, cfg, old_names=False):
    """Independent inverse of networks.md §6.2: official tensor name -> (diffusers name,
    transpose), walking the module classes recorded in the fixture's trace."""
    m = cfg["model"]
    L, nrb = len(m["ch_mult"]), m["num_res_blocks"]
    attn_res = set(m["attn_resolutions"])
    size = cfg["data"]["image_size"]
    prefixes, k = {}, 0

    def take(cls, prefix):
        nonlocal k
        got = classes["all_modules.%d" % k]
        assert got == cls, "module %d is %s, expected %s" % (k, got, cls)
        prefixes[k] = (cls, prefix)
        k += 1

    take("GaussianFourierProjection", "time_proj")
    take("Linear", "time_embedding.linear_1")
    take("Linear", "time_embedding.linear_2")
    take("Conv2d", "conv_in")
    for i in range(L):
        for j in range(nrb):
            take("ResnetBlockBigGANpp", "down_blocks.%d.resnets.%d" % (i, j))
            if size >> i in attn_res:
                take("AttnBlockpp", "down_blocks.%d.attentions.%d" % (i, j))
        if i < L - 1:
            take("ResnetBlockBigGANpp", "down_blocks.%d.resnet_down" % i)
            take("Combine", "down_blocks.%d.skip_conv" % i)
    take("ResnetBlockBigGANpp", "mid_block.resnets.0")
    take("AttnBlockpp", "mid_block.attentions.0")
    take("ResnetBlockBigGANpp", "mid_block.resnets.1")
    for i in reversed(range(L)):
        u = L - 1 - i
        for j in range(nrb + 1):
            take("ResnetBlockBigGANpp", "up_blocks.%d.resnets.%d" % (u, j))
        if size >> i in attn_res:
            take("AttnBlockpp", "up_blocks.%d.attentions.0" % u)
        take("GroupNorm", "up_blocks.%d.skip_norm" % u if i else "conv_norm_out")
        take("Conv2d", "up_blocks.%d.skip_conv" % u if i else "conv_out")
        if i:
            take("ResnetBlockBigGANpp", "up_blocks.%d.resnet_up" % u)
    assert "all_modules.%d" % k not in classes

    rb = {"GroupNorm_0": "norm1", "Conv_0": "conv1", "Dense_0": "time_emb_proj",
          "GroupNorm_1": "norm2", "Conv_1": "conv2", "Conv_2": "conv_shortcut"}
    nin = ({"NIN_0": "query", "NIN_1": "key", "NIN_2": "value", "NIN_3": "proj_attn"} if old_names
           else {"NIN_0": "to_q", "NIN_1": "to_k", "NIN_2": "to_v", "NIN_3": "to_out.0"})
    out = {}
    for name in names:
        _, idx, rest = name.split(".", 2)
        cls, pre = prefixes[int(idx)]
        if cls == "GaussianFourierProjection":
            out[name] = ("time_proj.W" if old_names else "time_proj.weight", False)
        elif cls == "ResnetBlockBigGANpp":
            sub, p = rest.split(".")
            out[name] = ("%s.%s.%s" % (pre, rb[sub], p), False)
        elif cls == "AttnBlockpp":
            sub, p = rest.split(".")
            if sub == "GroupNorm_0":
                out[name] = ("%s.group_norm.%s" % (pre, p), False)
            else:
                param = {"W": "weight", "b": "bias"}[p]
                out[name] = ("%s.%s.%s" % (pre, nin[sub], param), p == "W")
        elif cls == "Combine":
            out[name] = ("%s.%s" % (pre, rest.split(".")[1]), False)
        else:
            out[name] = ("%s.%s" % (pre, rest), False)
    return out


def diffusers_config_json(cfg, **over):
    m = cfg["model"]
    L = len(m["ch_mult"])
    attn = [cfg["data"]["image_size"] >> i in m["attn_resolutions"] for i in range(L)]
    down = ["AttnSkipDownBlock2D" if a else "SkipDownBlock2D" for a in attn]
    c = {"_class_name": "UNet2DModel", "_diffusers_version": "0.27.0", "act_fn": "silu",
         "add_attention": True, "attention_head_dim": None, "attn_norm_num_groups": None,
         "block_out_channels": [m["nf"] * c for c in m["ch_mult"]],
         "center_input_sample": True, "class_embed_type": None, "down_block_types": down,
         "downsample_padding": 1, "dropout": 0.0, "flip_sin_to_cos": True, "freq_shift": 0,
         "in_channels": 3, "layers_per_block": m["num_res_blocks"],
         "mid_block_scale_factor": 1.41421356237, "norm_eps": 1e-06, "norm_num_groups": None,
         "num_class_embeds": None, "out_channels": 3, "resnet_time_scale_shift": "default",
         "sample_size": cfg["data"]["image_size"], "time_embedding_type": "fourier",
         "up_block_types": [d.replace("Down", "Up") for d in reversed(down)]}
    c.update(over)
    return c


@unittest.skipUnless(fixture_dirs(), "no fixtures found at %s" % FIXTURES)
class Diffusers(Base):
    """ve_ncsnpp_skip is exactly the diffusers NCSN++ layout: convert it, write it out in
    diffusers form with an independent inverse mapping, convert that back, compare bits."""

    def setUp(self):
        super().setUp()
        d = os.path.join(FIXTURES, "ve_ncsnpp_skip")
        with open(os.path.join(d, "config.json")) as f:
            self.fx = json.load(f)
        self.ref = self.path("ref.safetensors")
        rc, _, err = run_convert(os.path.join(d, "checkpoint.pth"), "--config",
                                 os.path.join(d, "config.json"), "-o", self.ref)
        self.assertEqual(rc, 0, err)
        self.tensors, _ = st.load(self.ref)

    def make_dir(self, name, fmt="safetensors", old_names=False, **over):
        d = self.path(name)
        os.mkdir(d)
        mapping = official_to_diffusers(list(self.tensors), self.fx["trace"]["modules"],
                                        self.fx["config"], old_names)
        items = [(mapping[n][0], np.ascontiguousarray(a.T) if mapping[n][1] else a)
                 for n, a in self.tensors.items()]
        items.reverse()  # diffusers' own order differs; the converter must not depend on it
        if fmt == "safetensors":
            st.save(os.path.join(d, "diffusion_pytorch_model.safetensors"), items)
        else:
            torch.save(collections.OrderedDict((k, torch.from_numpy(v.copy())) for k, v in items),
                       os.path.join(d, "diffusion_pytorch_model.bin"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(diffusers_config_json(self.fx["config"], **over), f)
        return d

    def convert_dir(self, d, *extra):
        out = self.path(os.path.basename(d) + ".safetensors")
        rc, stdout, err = run_convert(d, "-o", out, "--sigma-max", "50", "--num-scales", "1000",
                                      "--snr", "0.16", "--allow-group-mismatch", *extra)
        self.assertEqual(rc, 0, err)
        return out

    def check_same(self, out):
        got, meta = st.load(out)
        self.assertEqual(list(got), list(self.tensors))
        for n, a in self.tensors.items():
            self.assertEqual(got[n].shape, a.shape, n)
            self.assertEqual(got[n].tobytes(), a.tobytes(), n)
        cfg = json.loads(meta["config"])
        want = self.fx["config"]
        for sec, keys in (("model", ["name", "nf", "ch_mult", "num_res_blocks", "attn_resolutions",
                                     "resblock_type", "fir", "fir_kernel", "skip_rescale",
                                     "progressive", "progressive_input", "progressive_combine",
                                     "embedding_type", "scale_by_sigma", "conditional",
                                     "sigma_min", "sigma_max", "num_scales"]),
                          ("data", ["image_size", "num_channels", "centered"]),
                          ("training", ["sde", "continuous"]),
                          ("sampling", ["method", "predictor", "corrector", "snr",
                                        "n_steps_each", "noise_removal", "probability_flow"])):
            for k in keys:
                self.assertEqual(cfg[sec][k], want[sec][k], "%s.%s" % (sec, k))
        src = json.loads(meta["source"])
        self.assertEqual(src["format"], "diffusers UNet2DModel")
        self.assertEqual(meta["clsde_format"], "1")

    def test_layout_matches_checkpoint(self):
        """The converter's NCSN++ skip layout reproduces the fixtures' official names,
        shapes and (from the trace) module classes."""
        for fx in ("ve_ncsnpp_skip", "ve_ncsnpp_skip_mnist"):
            out = self.ref if fx == "ve_ncsnpp_skip" else self.path(fx + ".safetensors")
            d = os.path.join(FIXTURES, fx)
            if fx != "ve_ncsnpp_skip":
                rc, _, err = run_convert(os.path.join(d, "checkpoint.pth"), "--config",
                                         os.path.join(d, "config.json"), "-o", out)
                self.assertEqual(rc, 0, err)
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)["config"]
            m = cfg["model"]
            attn = {i for i in range(len(m["ch_mult"]))
                    if cfg["data"]["image_size"] >> i in m["attn_resolutions"]}
            layout = convert.skip_layout(m["nf"], m["ch_mult"], m["num_res_blocks"], attn,
                                         cfg["data"]["num_channels"])
            header, _, _ = st.read_header(out)
            self.assertEqual([(p[0], p[1]) for mod in layout for p in mod["params"]],
                             [(n, h["shape"]) for n, h in header.items()])
            if fx == "ve_ncsnpp_skip":
                classes = self.fx["trace"]["modules"]
                self.assertEqual([mod["kind"] for mod in layout],
                                 [classes["all_modules.%d" % i] for i in range(len(classes))])

    def test_roundtrip_safetensors(self):
        self.check_same(self.convert_dir(self.make_dir("new")))

    def test_roundtrip_old_names(self):
        self.check_same(self.convert_dir(self.make_dir("old", old_names=True)))

    def test_fourier_weight_under_both_names(self):
        d = self.make_dir("both")
        p = os.path.join(d, "diffusion_pytorch_model.safetensors")
        t, _ = st.load(p)
        st.save(p, list(t.items()) + [("time_proj.W", t["time_proj.weight"])])
        self.check_same(self.convert_dir(d))
        st.save(p, list(t.items()) + [("time_proj.W", t["time_proj.weight"] + 1)])
        self.assert_fails([d, "-o", self.path("out.safetensors"), "--allow-group-mismatch"],
                          "time_proj.weight and time_proj.W differ")

    def test_not_a_diffusers_dir(self):
        self.assert_fails([os.path.join(FIXTURES, "ve_ncsnpp_skip"), "-o",
                           self.path("out.safetensors")], "expected UNet2DModel")

    @unittest.skipIf(torch is None, "torch missing: cannot write a .bin")
    def test_roundtrip_bin(self):
        self.check_same(self.convert_dir(self.make_dir("bin", fmt="bin")))

    def test_pipeline_layout_and_scheduler(self):
        root = self.path("pipe")
        os.mkdir(root)
        shutil.move(self.make_dir("unet"), os.path.join(root, "unet"))
        os.mkdir(os.path.join(root, "scheduler"))
        with open(os.path.join(root, "scheduler", "scheduler_config.json"), "w") as f:
            json.dump({"_class_name": "ScoreSdeVeScheduler", "sigma_min": 0.01, "sigma_max": 50.0,
                       "num_train_timesteps": 1000, "snr": 0.16, "sampling_eps": 1e-5}, f)
        out = self.path("pipe.safetensors")
        rc, _, err = run_convert(root, "-o", out, "--allow-group-mismatch")
        self.assertEqual(rc, 0, err)
        self.check_same(out)

    def test_defaults(self):
        out = self.path("defaults.safetensors")
        rc, _, err = run_convert(self.make_dir("dflt"), "-o", out, "--allow-group-mismatch")
        self.assertEqual(rc, 0, err)
        m = json.loads(st.load(out)[1]["config"])["model"]
        self.assertEqual((m["sigma_min"], m["sigma_max"], m["num_scales"]), (0.01, 348.0, 2000))

    def test_rejected_configs(self):
        cases = [({"center_input_sample": False}, "center_input_sample"),
                 ({"mid_block_scale_factor": 1}, "mid_block_scale_factor"),
                 ({"attention_head_dim": 8}, "attention_head_dim"),
                 ({"norm_eps": 1e-5}, "norm_eps"),
                 ({"time_embedding_type": "positional"}, "time_embedding_type"),
                 ({"up_block_types": ["SkipUpBlock2D"] * 3}, "up block 1")]
        for over, needle in cases:
            with self.subTest(needle):
                d = self.make_dir("bad_" + needle.replace(" ", "_"), **over)
                self.assert_fails([d, "-o", self.path("out.safetensors"), "--allow-group-mismatch"],
                                  needle)
        # widths 16/32 < 128: diffusers' group counts differ from the original's
        self.assert_fails([self.make_dir("groups"), "-o", self.path("out.safetensors")],
                          "GroupNorm groups", "--allow-group-mismatch")
        self.assert_clean()

    def test_missing_and_extra_tensors(self):
        d = self.make_dir("mod")
        p = os.path.join(d, "diffusion_pytorch_model.safetensors")
        t, _ = st.load(p)
        t2 = dict(t)
        del t2["mid_block.attentions.0.to_k.bias"]
        st.save(p, list(t2.items()))
        self.assert_fails([d, "-o", self.path("out.safetensors"), "--allow-group-mismatch"],
                          "'mid_block.attentions.0.to_k.bias'", "missing")
        t2 = dict(t, extra=np.zeros(1, np.float32))
        st.save(p, list(t2.items()))
        self.assert_fails([d, "-o", self.path("out.safetensors"), "--allow-group-mismatch"],
                          "'extra'")
        t2 = dict(t)
        t2["conv_in.weight"] = np.zeros((16, 3, 1, 1), np.float32)
        st.save(p, list(t2.items()))
        self.assert_fails([d, "-o", self.path("out.safetensors"), "--allow-group-mismatch"],
                          "'conv_in.weight'", "[16, 3, 1, 1]", "all_modules.3.weight")


if __name__ == "__main__":
    unittest.main(verbosity=2)
