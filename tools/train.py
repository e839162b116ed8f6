#!/usr/bin/python3
"""Train a small score model with continuous-time denoising score matching (algorithms.md §8.1).

Writes official-format training checkpoints ({'optimizer', 'model' with 'module.' keys and the
float64 'sigmas' first, 'ema', 'step'}, torch.save), so tools/convert.py treats them exactly like
the published ones. Data: MNIST / Fashion-MNIST IDX files, zero-padded 28 -> 32, 1 channel.
Resumable: rerun the same command; WORKDIR holds checkpoint.pth, loss.csv, config.json.

  /usr/bin/python3 tools/train.py --config tools/configs/ddpmpp_s_mnist.json \
      --workdir train/ddpmpp_s_mnist --steps 3000 --threads 1

The batch order and every noise draw are functions of (seed, step) only, so a resumed run
continues with the same batches it would have seen without the interruption.
"""
import argparse
import csv
import gzip
import json
import os
import signal
import sys
import time
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ncsnpp  # noqa: E402

DATASET_DIRS = {'mnist': 'mnist', 'fashionmnist': 'fashion-mnist', 'fashion-mnist': 'fashion-mnist'}
T_EPS = 1e-5  # algorithms.md §8.1: t ~ U(1e-5, 1) for every SDE


def load_idx_images(path):
    """IDX3 ubyte (gzip): magic 0x00000803, then N, rows, cols as big-endian u32."""
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype='>u4')
    if magic != 2051:
        raise ValueError(f'{path}: IDX magic {magic:#x}, expected 0x803 (unsigned byte, 3-D)')
    if len(raw) != 16 + int(n) * rows * cols:
        raise ValueError(f'{path}: {len(raw) - 16} data bytes, header says {n}x{rows}x{cols}')
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(int(n), int(rows), int(cols))


def load_dataset(config, data_dir):
    """uint8 images [N, 1, S, S], zero-padded to data.image_size (28 -> 32 adds 2 px a side)."""
    name = config['data']['dataset'].lower()
    if name not in DATASET_DIRS:
        raise ValueError(f"data.dataset '{config['data']['dataset']}' is not MNIST or FashionMNIST")
    imgs = load_idx_images(os.path.join(data_dir, DATASET_DIRS[name], 'train-images-idx3-ubyte.gz'))
    size = config['data']['image_size']
    pad = size - imgs.shape[1]
    if pad < 0 or pad % 2:
        raise ValueError(f'data.image_size {size} cannot be reached by symmetric zero padding '
                         f'of {imgs.shape[1]} px images')
    imgs = np.pad(imgs, ((0, 0), (pad // 2, pad // 2), (pad // 2, pad // 2)))
    return imgs[:, None]


class EMA:
    """Official ExponentialMovingAverage: trainable parameters only, positional list,
    decay min(rate, (1 + n)/(10 + n)) with n counted after the increment."""

    def __init__(self, params, decay):
        self.decay = decay
        self.num_updates = 0
        self.shadow_params = [p.clone().detach() for p in params if p.requires_grad]

    @torch.no_grad()
    def update(self, params):
        self.num_updates += 1
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for s, p in zip(self.shadow_params, [p for p in params if p.requires_grad]):
            s.sub_((1. - decay) * (s - p))

    def state_dict(self):
        return {'decay': self.decay, 'num_updates': self.num_updates,
                'shadow_params': self.shadow_params}

    def load_state_dict(self, state):
        self.decay = state['decay']
        self.num_updates = state['num_updates']
        self.shadow_params = [s.clone() for s in state['shadow_params']]


def save_checkpoint(workdir, model, optimizer, ema, step):
    """Official layout; written into WORKDIR/.tmp then renamed, so a crash never leaves a torn
    file and the zip's inner folder is still named after the stem 'checkpoint'."""
    state = {'optimizer': optimizer.state_dict(),
             'model': OrderedDict(('module.' + k, v) for k, v in model.state_dict().items()),
             'ema': ema.state_dict(),
             'step': step}
    tmp_dir = os.path.join(workdir, '.tmp')
    os.makedirs(tmp_dir, exist_ok=True)
    tmp = os.path.join(tmp_dir, 'checkpoint.pth')
    torch.save(state, tmp)
    os.replace(tmp, os.path.join(workdir, 'checkpoint.pth'))


def batch_indices(n_data, batch, seed, step):
    """One permutation per epoch (drop-last), chosen by (seed, epoch)."""
    per_epoch = n_data // batch
    epoch, i = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n_data)
    return perm[i * batch:(i + 1) * batch]


def dsm_loss(model, sde, x0, reduce_mean, gen):
    """algorithms.md §8.1 continuous DSM, λ(t) = σ(t)²: mean_b reduce((σ·ŝ + z)²)."""
    b = x0.shape[0]
    t = torch.rand(b, generator=gen) * (1. - T_EPS) + T_EPS
    z = torch.randn(x0.shape, generator=gen)
    mean, std = sde.marginal_prob(t)
    xt = mean[:, None, None, None] * x0 + std[:, None, None, None] * z
    score = sde.score(model, xt, t)[0]
    per_elem = torch.square(score * std[:, None, None, None] + z).reshape(b, -1)
    per_sample = per_elem.mean(dim=1) if reduce_mean else 0.5 * per_elem.sum(dim=1)
    return per_sample.mean()


def read_loss_csv(path, upto_step):
    """Rows with step <= upto_step (rows after the last checkpoint are dropped on resume)."""
    if not os.path.exists(path):
        return []
    with open(path, newline='') as f:
        return [r for r in csv.DictReader(f) if int(r['step']) <= upto_step]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', required=True, help='JSON config (official layout)')
    p.add_argument('--workdir', required=True, help='checkpoint.pth, loss.csv, config.json')
    p.add_argument('--steps', type=int, help='total optimiser steps (default training.n_iters)')
    p.add_argument('--batch-size', type=int, help='default training.batch_size')
    p.add_argument('--threads', type=int, default=1, help='torch intra-op threads (default 1)')
    p.add_argument('--seed', type=int, default=42)
    p.add_argument('--save-every', type=int, default=100, help='checkpoint period in steps')
    p.add_argument('--log-every', type=int, default=10, help='log period in steps')
    p.add_argument('--data-dir', default='/work/shared/data')
    return p.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    with open(args.config) as f:
        config = json.load(f)
    tr, opt_cfg = config['training'], config['optim']
    if not tr.get('continuous', True) or tr.get('likelihood_weighting', False):
        raise SystemExit('train.py: only continuous DSM with the default weighting is implemented')
    if opt_cfg.get('optimizer', 'Adam') != 'Adam':
        raise SystemExit(f"train.py: optim.optimizer {opt_cfg['optimizer']} is not Adam")
    steps = args.steps if args.steps is not None else tr['n_iters']
    batch = args.batch_size or tr['batch_size']
    tr['batch_size'], tr['n_iters'] = batch, steps
    os.makedirs(args.workdir, exist_ok=True)
    ckpt_path = os.path.join(args.workdir, 'checkpoint.pth')
    csv_path = os.path.join(args.workdir, 'loss.csv')

    data = load_dataset(config, args.data_dir)
    centered, flip = config['data']['centered'], config['data'].get('random_flip', False)
    torch.manual_seed(args.seed)
    model = torch_ncsnpp.create_model(config)
    sde = torch_ncsnpp.SDE(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=opt_cfg['lr'],
                                 betas=(opt_cfg['beta1'], 0.999), eps=opt_cfg['eps'],
                                 weight_decay=opt_cfg['weight_decay'])
    ema = EMA(model.parameters(), torch_ncsnpp.model_cfg(config, 'ema_rate'))
    step = 0
    if os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path, map_location='cpu')
        model.load_state_dict(OrderedDict((k[len('module.'):], v)
                                          for k, v in ckpt['model'].items()))
        optimizer.load_state_dict(ckpt['optimizer'])
        ema.load_state_dict(ckpt['ema'])
        step = ckpt['step']
        print(f'resumed from {ckpt_path} at step {step}', flush=True)
    rows = read_loss_csv(csv_path, step)
    seconds0 = float(rows[-1]['seconds']) if rows else 0.
    with open(csv_path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['step', 'loss', 'lr', 'seconds'])
        w.writerows([[r['step'], r['loss'], r['lr'], r['seconds']] for r in rows])
    with open(os.path.join(args.workdir, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)

    stop = {'signal': None}

    def on_signal(signum, _frame):
        stop['signal'] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {config['model']['name']} {n_params} params, {config['data']['dataset']} "
          f"{data.shape[0]} images, batch {batch}, {args.threads} thread(s), steps {step}->{steps}",
          flush=True)
    model.train()
    warmup, base_lr, clip = opt_cfg['warmup'], opt_cfg['lr'], opt_cfg['grad_clip']
    t_start = time.time()
    t_log, loss_sum, n_log = t_start, 0., 0
    csv_file = open(csv_path, 'a', newline='')
    log = csv.writer(csv_file)
    while step < steps and stop['signal'] is None:
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        torch.manual_seed(args.seed * 1_000_003 + step)  # dropout, if any
        x0 = torch.from_numpy(data[batch_indices(len(data), batch, args.seed, step)]).float()
        x0 = x0 / 255.
        if flip:
            mask = torch.rand(batch, generator=gen) < 0.5
            x0 = torch.where(mask[:, None, None, None], torch.flip(x0, [3]), x0)
        if centered:
            x0 = 2. * x0 - 1.
        # official optimization_manager: lr·min(step/warmup, 1) with the pre-increment step
        lr = base_lr * min(step / warmup, 1.0) if warmup > 0 else base_lr
        for g in optimizer.param_groups:
            g['lr'] = lr
        optimizer.zero_grad()
        loss = dsm_loss(model, sde, x0, tr['reduce_mean'], gen)
        loss.backward()
        if clip >= 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
        optimizer.step()
        step += 1
        ema.update(model.parameters())
        lv = float(loss)
        if not np.isfinite(lv):
            raise SystemExit(f'train.py: loss is {lv} at step {step}; last checkpoint kept')
        log.writerow([step, f'{lv:.6g}', f'{lr:.6g}', f'{seconds0 + time.time() - t_start:.2f}'])
        loss_sum, n_log = loss_sum + lv, n_log + 1
        if step % args.log_every == 0 or step == steps:
            now = time.time()
            print(f'step {step:6d}  loss {loss_sum / n_log:.5f}  lr {lr:.2e}  '
                  f'{n_log * batch / (now - t_log):6.1f} samples/s  '
                  f'elapsed {seconds0 + now - t_start:8.1f} s', flush=True)
            csv_file.flush()
            t_log, loss_sum, n_log = now, 0., 0
        if step % args.save_every == 0:
            save_checkpoint(args.workdir, model, optimizer, ema, step)
    csv_file.close()
    save_checkpoint(args.workdir, model, optimizer, ema, step)
    why = f'signal {stop["signal"]}' if stop['signal'] is not None else 'done'
    print(f'saved {ckpt_path} at step {step} ({why})', flush=True)


if __name__ == '__main__':
    main()
