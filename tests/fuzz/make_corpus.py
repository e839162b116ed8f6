#!/usr/bin/env python3
"""Write the seed corpus of fuzz_model_load into tests/fuzz/corpus/ (stdlib only).

ok_* files are valid clsde model files (fuzz_driver.c requires them to load), bad_* files
are each broken in one way (they must be rejected), config_* files are bare config JSON for
the config parser. Rerun after changing a seed; keep the corpus under 50 KB.
"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

NCSNPP_VE = {
    "training": {"sde": "vesde", "continuous": True},
    "sampling": {"method": "pc", "predictor": "reverse_diffusion", "corrector": "langevin",
                 "snr": 0.16, "n_steps_each": 1, "noise_removal": True,
                 "probability_flow": False},
    "data": {"image_size": 16, "num_channels": 3, "centered": False},
    "model": {"name": "ncsnpp", "sigma_min": 0.01, "sigma_max": 50, "num_scales": 1000,
              "beta_min": 0.1, "beta_max": 20.0, "dropout": 0.1, "embedding_type": "fourier",
              "scale_by_sigma": True, "nonlinearity": "swish", "nf": 16, "ch_mult": [1, 2],
              "num_res_blocks": 1, "attn_resolutions": [8], "resamp_with_conv": True,
              "conditional": True, "fir": True, "fir_kernel": [1, 3, 3, 1],
              "skip_rescale": True, "resblock_type": "biggan", "progressive": "output_skip",
              "progressive_input": "input_skip", "progressive_combine": "sum",
              "fourier_scale": 16},
}


def variant(base, **changes):
    cfg = json.loads(json.dumps(base))
    for key, value in changes.items():
        sec, field = key.split("__")
        if value is None:
            cfg[sec].pop(field, None)
        else:
            cfg[sec][field] = value
    return cfg


DDPMPP_VP = variant(NCSNPP_VE, training__sde="vpsde", data__centered=True, model__fir=False,
                    model__progressive="none", model__progressive_input="none",
                    model__embedding_type="positional", model__scale_by_sigma=False)
DDPM_VP = variant(DDPMPP_VP, model__name="ddpm", model__nf=32, training__continuous=False,
                  sampling__predictor="ancestral_sampling", sampling__corrector="none")
RESIN = variant(NCSNPP_VE, model__progressive="none", model__progressive_input="residual",
                model__ch_mult=[1, 2, 2], data__image_size=32, model__attn_resolutions=[16])


def f32(n, start=0.0):
    return struct.pack("<%df" % n, *[start + 0.25 * i for i in range(n)])


def container(entries, meta=None, data=b"", header_len=None, pad=True):
    """entries: list of (name, dtype, shape, begin, end); raw bytes of a .safetensors file."""
    h = {}
    if meta is not None:
        h["__metadata__"] = meta
    for name, dtype, shape, begin, end in entries:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
    text = json.dumps(h, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    n = len(text) if header_len is None else header_len
    return struct.pack("<Q", n) + text + data


def model(cfg, tensors, fmt="1", config_text=None, **kw):
    """tensors: list of (name, shape), F32, contiguous."""
    entries, data, off = [], b"", 0
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        entries.append((name, "F32", shape, off, off + 4 * n))
        data += f32(n, off / 4.0)
        off += 4 * n
    meta = {"source": json.dumps({"input": "make_corpus.py"})}
    if fmt is not None:
        meta["clsde_format"] = fmt
    if cfg is not None or config_text is not None:
        meta["config"] = config_text if config_text is not None else json.dumps(cfg)
    return container(entries, meta, data, **kw)


SMALL = [("all_modules.0.W", [16]), ("all_modules.1.weight", [4, 8]),
         ("all_modules.1.bias", [4]), ("all_modules.3.weight", [2, 3, 3, 3])]


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.remove(os.path.join(OUT, old))
    files = {
        "ok_ncsnpp_ve.safetensors": model(NCSNPP_VE, SMALL),
        "ok_ddpmpp_vp.safetensors": model(DDPMPP_VP, SMALL[1:]),
        "ok_ddpm_vp.safetensors": model(DDPM_VP, SMALL[1:3]),
        "ok_residual_input.safetensors": model(RESIN, SMALL[:2]),
        "ok_scalar_and_empty.safetensors": model(NCSNPP_VE, [("s", []), ("e", [0, 4]),
                                                             ("v", [3])]),
        "ok_no_tensors.safetensors": model(NCSNPP_VE, []),
        "config_ncsnpp_ve.json": json.dumps(NCSNPP_VE).encode(),
        "config_ddpm_vp.json": json.dumps(DDPM_VP).encode(),
        "bad_header_len.safetensors": model(NCSNPP_VE, SMALL, header_len=1 << 40),
        "bad_short.safetensors": b"\x10\x00\x00",
        "bad_truncated.safetensors": model(NCSNPP_VE, SMALL)[:-10],
        "bad_not_json.safetensors": container([], None, pad=False).replace(b"{}", b"{]"),
        "bad_overlap.safetensors": container([("a", "F32", [2], 0, 8), ("b", "F32", [2], 4, 12)],
                                             {"clsde_format": "1"}, f32(3)),
        "bad_hole.safetensors": container([("a", "F32", [1], 0, 4), ("b", "F32", [1], 8, 12)],
                                          {"clsde_format": "1"}, f32(3)),
        "bad_trailing.safetensors": container([("a", "F32", [1], 0, 4)], {}, f32(2)),
        "bad_reversed.safetensors": container([("a", "F32", [1], 4, 0)], {}, f32(1)),
        "bad_size.safetensors": container([("a", "F32", [2, 2], 0, 12)], {}, f32(3)),
        "bad_dtype.safetensors": container([("a", "F33", [1], 0, 4)], {}, f32(1)),
        "bad_f16.safetensors": container([("a", "F16", [2], 0, 4)],
                                         {"clsde_format": "1",
                                          "config": json.dumps(NCSNPP_VE)}, f32(1)),
        "bad_no_format.safetensors": model(NCSNPP_VE, SMALL[:1], fmt=None),
        "bad_no_config.safetensors": model(None, SMALL[:1]),
        "bad_config_json.safetensors": model(None, SMALL[:1], config_text="{\"data\": "),
        "bad_config_nf.safetensors": model(variant(NCSNPP_VE, model__nf=0), SMALL[:1]),
        "bad_config_arch.safetensors": model(variant(NCSNPP_VE, model__name="unet"), SMALL[:1]),
        "bad_config_missing.safetensors": model(variant(NCSNPP_VE, model__fir=None), SMALL[:1]),
        "bad_residual.safetensors": model(variant(NCSNPP_VE, model__progressive="residual"),
                                          SMALL[:1]),
        "bad_too_many.safetensors": container([("a", "F32", [1 << 32, 1 << 32], 0, 0)], {}),
        # regression: 2^62 F32 elements are 2^64 bytes, which wrapped to 0 in an early parser
        "bad_wrap.safetensors": container([("a", "F32", [1 << 53, 512], 0, 0)],
                                          {"clsde_format": "1",
                                           "config": json.dumps(NCSNPP_VE)}),
        "bad_groupnorm.safetensors": model(variant(NCSNPP_VE, model__ch_mult=[1, 9]),
                                           SMALL[:1]),
    }
    total = 0
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        total += len(data)
    print("%d files, %d bytes in %s" % (len(files), total, OUT))


if __name__ == "__main__":
    main()
