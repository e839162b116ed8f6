#!/usr/bin/python3
"""Forward-pass timing of the PyTorch reference network (tools/torch_ncsnpp.py), the baseline
that `clsde bench` numbers are compared with.

Prints one JSON line per batch size: {"model", "batch", "ms", "peak_rss_mb", "threads",
"min_ms"}; `ms` is the median wall time of one eval-mode forward (no autograd) over --repeat
runs after --warmup untimed ones, `min_ms` the fastest (steadier on a shared machine);
`peak_rss_mb` is the process's peak resident set so far (it includes building the model,
and never goes down). Weights are random unless --weights names a clsde
.safetensors model file (official tensor names without 'module.', the official config as JSON
in __metadata__.config), so the C engine and PyTorch can run identical weights.

  bench_torch.py cifar10_ddpmpp_continuous --batch 1,8 --threads 2
  bench_torch.py --weights models/ddpmpp_s_mnist.safetensors --batch 64
  bench_torch.py --weights M --batch 64 --device cuda   (GPU: float32, TF32 off, timed with
                  torch.cuda.synchronize(); peak_rss_mb is then the GPU's peak allocation)
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import torch_ncsnpp  # noqa: E402

_CIFAR10_BASE = {
    'data': {'dataset': 'CIFAR10', 'image_size': 32, 'num_channels': 3, 'random_flip': True,
             'uniform_dequantization': False},
    'model': {'nf': 128, 'ch_mult': [1, 2, 2, 2], 'num_res_blocks': 4, 'attn_resolutions': [16],
              'resamp_with_conv': True, 'conditional': True, 'fir_kernel': [1, 3, 3, 1],
              'skip_rescale': True, 'resblock_type': 'biggan', 'progressive': 'none',
              'progressive_combine': 'sum', 'init_scale': 0.0, 'fourier_scale': 16,
              'dropout': 0.1, 'nonlinearity': 'swish', 'num_scales': 1000, 'sigma_min': 0.01,
              'sigma_max': 50, 'beta_min': 0.1, 'beta_max': 20.0, 'name': 'ncsnpp'},
}

# Full-size official configs (networks.md §5.1), only the keys the network reads.
PRESETS = {
    'cifar10_ncsnpp_continuous': {  # configs/ve/cifar10_ncsnpp_continuous.py
        'data': {'centered': False},
        'model': {'fir': True, 'progressive_input': 'residual', 'embedding_type': 'fourier',
                  'scale_by_sigma': True, 'ema_rate': 0.999},
        'training': {'sde': 'vesde', 'continuous': True},
    },
    'cifar10_ddpmpp_continuous': {  # configs/vp/cifar10_ddpmpp_continuous.py
        'data': {'centered': True},
        'model': {'fir': False, 'progressive_input': 'none', 'embedding_type': 'positional',
                  'scale_by_sigma': False, 'ema_rate': 0.9999},
        'training': {'sde': 'vpsde', 'continuous': True},
    },
}


def preset_config(name):
    p = PRESETS[name]
    return {'data': dict(_CIFAR10_BASE['data'], **p['data']),
            'model': dict(_CIFAR10_BASE['model'], **p['model']),
            'training': dict(p['training'])}


def resolve_config(arg):
    """A preset name, a tools/configs/<name>.json name, or a JSON file (bare or fixture-style)."""
    if arg in PRESETS:
        return arg, preset_config(arg)
    path = arg if os.path.exists(arg) else os.path.join(TOOLS, 'configs', arg + '.json')
    if not os.path.exists(path):
        raise SystemExit(f"bench_torch.py: '{arg}' is neither a preset "
                         f"({', '.join(PRESETS)}) nor a JSON config file")
    with open(path) as f:
        cfg = json.load(f)
    cfg = cfg.get('config', cfg)
    return os.path.splitext(os.path.basename(path))[0], cfg


def load_model_file(model, path):
    """Copy the tensors of a clsde .safetensors model into `model`, checking names and shapes.
    The float64 'sigmas' buffer is rebuilt from the config when the file does not carry it."""
    import clsde_safetensors
    tensors, _ = clsde_safetensors.load(path)
    own = model.state_dict()
    unknown = [k for k in tensors if k not in own]
    missing = [k for k in own if k not in tensors and k != 'sigmas']
    if unknown or missing:
        raise SystemExit(f'{path}: tensors not in the network: {unknown[:5]}; '
                         f'network tensors missing from the file: {missing[:5]}')
    with torch.no_grad():
        for k, a in tensors.items():
            if tuple(a.shape) != tuple(own[k].shape):
                raise SystemExit(f"{path}: tensor '{k}' has shape {list(a.shape)}, "
                                 f"config expects {list(own[k].shape)}")
            own[k].copy_(torch.from_numpy(np.ascontiguousarray(a)))


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.  # Linux: kB


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', nargs='?', help=f"preset ({', '.join(PRESETS)}), "
                   'tools/configs name, or JSON file; default: the --weights file\'s config')
    p.add_argument('--weights', help='clsde .safetensors model file to load')
    p.add_argument('--batch', default='1', help='comma-separated batch sizes (default 1)')
    p.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    p.add_argument('--repeat', type=int, default=5, help='timed forwards per batch (default 5)')
    p.add_argument('--warmup', type=int, default=3, help='untimed forwards first (default 3)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='cpu', help="torch device (default cpu; 'cuda')")
    args = p.parse_args()
    dev = torch.device(args.device)
    cuda = dev.type == 'cuda'
    if cuda:
        # plain float32 arithmetic, as clsde's kernels: no TF32 tensor-core shortcuts
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    if args.config:
        name, config = resolve_config(args.config)
    elif args.weights:
        import clsde_safetensors
        _, meta, _ = clsde_safetensors.read_header(args.weights)
        if 'config' not in meta:
            raise SystemExit(f'{args.weights}: no __metadata__.config; pass a config')
        name = os.path.splitext(os.path.basename(args.weights))[0]
        config = json.loads(meta['config'])
    else:
        raise SystemExit('bench_torch.py: give a config/preset or --weights')
    torch.manual_seed(args.seed)
    model = torch_ncsnpp.create_model(config).eval()
    if args.weights:
        load_model_file(model, args.weights)
    model = model.to(dev)
    sde = torch_ncsnpp.SDE(config) if 'training' in config else None
    d = config['data']
    for b in [int(s) for s in args.batch.split(',')]:
        g = torch.Generator().manual_seed(args.seed + b)
        x = torch.randn(b, d['num_channels'], d['image_size'], d['image_size'], generator=g)
        t = torch.rand(b, generator=g) * (1. - 1e-3) + 1e-3
        label = sde.label(t) if sde else t * 999
        x, label = x.to(dev), label.to(dev)
        times = []
        with torch.no_grad():
            for i in range(args.warmup + args.repeat):
                if cuda:
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                model(x, label)
                if cuda:
                    torch.cuda.synchronize()
                if i >= args.warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
        row = {'model': name, 'batch': b, 'ms': round(statistics.median(times), 3),
               'peak_rss_mb': round(peak_rss_mb(), 1), 'threads': args.threads,
               'min_ms': round(min(times), 3)}
        if cuda:
            row.update(device=torch.cuda.get_device_name(dev),
                       peak_gpu_mb=round(torch.cuda.max_memory_allocated(dev) / 2**20, 1))
        print(json.dumps(row), flush=True)


if __name__ == '__main__':
    main()
