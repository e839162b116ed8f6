#!/usr/bin/python3
"""A clsde model file with random weights for a full-size official config, for benchmarks
(`clsde bench forward --torch`) where only the speed matters: the network is built by
tools/torch_ncsnpp.py with the official initialisation, then every tensor gets Gaussian noise
(std 0.02, times the tensor's own std where it has one) so no layer is zero (init_scale 0
zeroes the last convolution of every residual block) and no branch is skipped.

Written as convert.py writes models: F32 tensors under the official names, the float64
'sigmas' buffer left out, __metadata__ clsde_format "1", the config as JSON, and a "source"
that says the weights are random.

  make_random_model.py cifar10_ncsnpp_continuous -o build/ncsnpp_random.safetensors
  make_random_model.py tools/configs/ddpmpp_s_mnist.json -o /tmp/m.safetensors --seed 1
"""
import argparse
import json
import os
import sys

import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import bench_torch  # noqa: E402  (PRESETS, resolve_config)
import convert  # noqa: E402  (write_model, FORMAT)
import torch_ncsnpp  # noqa: E402

# What the presets leave out and the clsde loader requires, from the same official configs
# (configs/default_cifar10_configs.py, configs/ve/cifar10_ncsnpp_continuous.py,
# configs/vp/cifar10_ddpmpp_continuous.py).
_MODEL_DEFAULTS = {'normalization': 'GroupNorm', 'attention_type': 'ddpm', 'conv_size': 3}
_TRAINING = {
    'vesde': {'reduce_mean': False, 'likelihood_weighting': False, 'batch_size': 128,
              'n_iters': 1300001},
    'vpsde': {'reduce_mean': True, 'likelihood_weighting': False, 'batch_size': 128,
              'n_iters': 1300001},
}
_SAMPLING = {
    'vesde': {'method': 'pc', 'predictor': 'reverse_diffusion', 'corrector': 'langevin',
              'snr': 0.16, 'n_steps_each': 1, 'noise_removal': True, 'probability_flow': False},
    'vpsde': {'method': 'pc', 'predictor': 'euler_maruyama', 'corrector': 'none',
              'snr': 0.16, 'n_steps_each': 1, 'noise_removal': True, 'probability_flow': False},
}


def full_config(name, cfg):
    cfg = json.loads(json.dumps(cfg))
    cfg.pop('about', None)
    if name in bench_torch.PRESETS:
        sde = cfg['training']['sde']
        for k, v in _MODEL_DEFAULTS.items():
            cfg['model'].setdefault(k, v)
        for k, v in _TRAINING[sde].items():
            cfg['training'].setdefault(k, v)
        cfg.setdefault('sampling', dict(_SAMPLING[sde]))
    return cfg


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help=f"preset ({', '.join(bench_torch.PRESETS)}), tools/configs "
                   'name, or JSON config file')
    p.add_argument('-o', '--output', required=True, help='output .safetensors file')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args()

    name, cfg = bench_torch.resolve_config(args.config)
    cfg = full_config(name, cfg)
    torch.manual_seed(args.seed)
    model = torch_ncsnpp.create_model(cfg)
    tensors = {}
    g = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        for k, t in model.state_dict().items():
            if k == 'sigmas':
                continue
            t = t.float()
            s = float(t.std()) if t.numel() > 1 and float(t.std()) > 0 else 1.0
            noise = torch.randn(t.shape, generator=g) * (0.02 * s)
            tensors[k] = (t + noise).contiguous().numpy()
    source = {'weights': 'random', 'generator': 'tools/make_random_model.py',
              'preset': name, 'seed': args.seed}
    convert.write_model(args.output, list(tensors.items()), cfg, source)
    n = sum(a.size for a in tensors.values())
    print(f'{args.output}: {name}, {len(tensors)} tensors, {n:,} parameters (random)')


if __name__ == '__main__':
    main()
