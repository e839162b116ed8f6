#!/usr/bin/python3
"""Whole-sampler timing of the PyTorch reference (tools/torch_ncsnpp.py), the baseline for
`clsde bench sample`: the same rows for the same weights.

For each batch size: the PC sampler of score_sde_pytorch's sampling.py (reverse-diffusion
predictor, one Langevin corrector step per time step with the batch-mean norms, N steps, the
model's wrapper) and the probability-flow ODE sampler (scipy solve_ivp RK45, rtol = atol =
1e-5, float64 state, float32 network, continuous wrapper, denoising step), written after the
official code (algorithms.md §3, §5). Prints one JSON object per row: {"sampler", "batch",
"steps", "nfe", "seconds", "s_per_image", "s_per_eval_per_image", "projected",
"measured_attempts", "threads", "model"}.

--measure K follows `clsde bench sample --measure K`: PC stops after K + 1 of its N steps and
projects t(step 1) + (N - 1) * (t(step K + 1) - t(step 1)) / K; the ODE stops after K + 1
step attempts and gives only the seconds per evaluation per image over the last K attempts
(6 evaluations each; scipy's first attempt also makes the 2 evaluations of its initial-step
probe).

  bench_torch_sample.py --weights models/x.safetensors --batch 1,16 --threads 2 [--measure K]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from scipy import integrate

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import bench_torch  # noqa: E402
import clsde_safetensors  # noqa: E402
import torch_ncsnpp  # noqa: E402


class Stop(Exception):
    """Raised once the measured window is complete."""


class Window:
    """Times of the end of unit 1 and unit K + 1 (PC steps or ODE attempts), then Stop."""

    def __init__(self, k, t0):
        self.k, self.t0, self.units, self.t1, self.tk = k, t0, 0, None, None

    def tick(self):
        self.units += 1
        now = time.perf_counter() - self.t0
        if self.units == 1:
            self.t1 = now
        if self.k and self.units == self.k + 1:
            self.tk = now
            raise Stop()


class Sampler:
    def __init__(self, config, model):
        self.cfg, self.model = config, model
        self.sde = torch_ncsnpp.SDE(config)
        m = config['model']
        self.kind = self.sde.kind
        self.N = m['num_scales']
        self.eps = 1e-5 if self.kind == 'vesde' else 1e-3
        self.smin, self.smax = m['sigma_min'], m['sigma_max']
        self.b0, self.b1 = m['beta_min'], m['beta_max']
        self.centered = config['data'].get('centered', False)
        self.nfe = 0

    def score(self, x, t, continuous=None):
        self.nfe += 1
        return self.sde.score(self.model, x, t, continuous)[0]

    # sde_lib: continuous drift f(x,t) and diffusion g(t)
    def fg(self, x, t):
        if self.kind == 'vesde':
            sigma = self.smin * (self.smax / self.smin) ** t
            g = sigma * np.sqrt(2 * (np.log(self.smax) - np.log(self.smin)))
            return torch.zeros_like(x), g
        beta = self.b0 + t * (self.b1 - self.b0)
        f = -0.5 * beta[:, None, None, None] * x
        if self.kind == 'vpsde':
            return f, torch.sqrt(beta)
        disc = 1. - torch.exp(-2 * self.b0 * t - (self.b1 - self.b0) * t ** 2)
        return f, torch.sqrt(beta * disc)

    def discretize(self, x, t, N):
        """sde.discretize: (f, G) of the reverse-diffusion predictor."""
        timestep = (t * (N - 1)).long()
        if self.kind == 'vesde':
            sig = torch.exp(torch.linspace(np.log(self.smin), np.log(self.smax), N))
            s, adj = sig[timestep], torch.where(timestep == 0, torch.zeros_like(t),
                                                sig[(timestep - 1).clamp(min=0)])
            return torch.zeros_like(x), torch.sqrt(s ** 2 - adj ** 2)
        if self.kind == 'vpsde':
            betas = torch.linspace(self.b0 / N, self.b1 / N, N)
            beta = betas[timestep]
            return torch.sqrt(1 - beta)[:, None, None, None] * x - x, torch.sqrt(beta)
        f, g = self.fg(x, t)
        return f / N, g * np.sqrt(1. / N)

    def prior(self, shape, gen):
        z = torch.randn(shape, generator=gen)
        return z * self.smax if self.kind == 'vesde' else z

    def pc(self, shape, N, snr, gen, window=None):
        x = self.prior(shape, gen)
        ts = torch.linspace(1., self.eps, N)
        betas = torch.linspace(self.b0 / N, self.b1 / N, N)
        for i in range(N):
            t = torch.ones(shape[0]) * ts[i]
            # Langevin corrector, one step
            grad = self.score(x, t)
            noise = torch.randn(shape, generator=gen)
            gn = torch.norm(grad.reshape(shape[0], -1), dim=-1).mean()
            nn_ = torch.norm(noise.reshape(shape[0], -1), dim=-1).mean()
            alpha = 1. if self.kind == 'vesde' else (1 - betas[(t * (N - 1)).long()])[0]
            step = (snr * nn_ / gn) ** 2 * 2 * alpha
            x = x + step * grad + torch.sqrt(step * 2) * noise
            # reverse-diffusion predictor
            f, G = self.discretize(x, t, N)
            rev_f = f - (G ** 2)[:, None, None, None] * self.score(x, t)
            x_mean = x - rev_f
            x = x_mean + G[:, None, None, None] * torch.randn(shape, generator=gen)
            if window:
                window.tick()
        return x_mean

    def ode(self, shape, gen, rtol=1e-5, atol=1e-5, window=None):
        x0 = self.prior(shape, gen)
        calls = [0]

        def fun(t, y):
            calls[0] += 1
            if window and calls[0] > 2 and (calls[0] - 2) % 6 == 0:
                window.tick()  # an attempt ends with its 6th evaluation (scipy nfev 2 + 6n)
            x = torch.from_numpy(y.reshape(shape)).float()
            vt = torch.ones(shape[0]) * t
            f, g = self.fg(x, vt)
            drift = f - 0.5 * (g ** 2)[:, None, None, None] * self.score(x, vt, True)
            return drift.numpy().reshape(-1).astype(np.float64)

        sol = integrate.solve_ivp(fun, (1., self.eps), x0.numpy().reshape(-1).astype(np.float64),
                                  rtol=rtol, atol=atol, method='RK45')
        x = torch.from_numpy(sol.y[:, -1].reshape(shape)).float()
        eps = torch.ones(shape[0]) * self.eps
        f, G = self.discretize(x, eps, self.N)
        x = x - (f - (G ** 2)[:, None, None, None] * self.score(x, eps, True))
        return x, sol.nfev, len(sol.t) - 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--weights', required=True, help='clsde .safetensors model file')
    p.add_argument('--batch', default='1,16', help='comma-separated batch sizes (default 1,16)')
    p.add_argument('--steps', type=int, default=1000, help='PC steps N (default 1000)')
    p.add_argument('--snr', type=float, default=0.16, help='Langevin snr (default 0.16)')
    p.add_argument('--threads', type=int, default=os.cpu_count(),
                   help='torch threads (default: all cores, as PoCL uses)')
    p.add_argument('--samplers', default='pc,ode')
    p.add_argument('--measure', type=int, default=0,
                   help='time K steps/attempts after the first and stop (see above)')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    _, meta, _ = clsde_safetensors.read_header(args.weights)
    config = json.loads(meta['config'])
    model = torch_ncsnpp.create_model(config).eval()
    bench_torch.load_model_file(model, args.weights)
    s = Sampler(config, model)
    d = config['data']
    name = os.path.splitext(os.path.basename(args.weights))[0]
    with torch.no_grad():
        for which in args.samplers.split(','):
            for b in [int(v) for v in args.batch.split(',')]:
                shape = (b, d['num_channels'], d['image_size'], d['image_size'])
                gen = torch.Generator().manual_seed(b)
                s.nfe = 0
                k = args.measure if which == 'ode' or args.measure + 1 < args.steps else 0
                t0 = time.perf_counter()
                w = Window(k, t0)
                row = {'sampler': which, 'batch': b}
                try:
                    if which == 'pc':
                        s.pc(shape, args.steps, args.snr, gen, w)
                        steps, nfe = args.steps, s.nfe
                    else:
                        _, nfe, steps = s.ode(shape, gen, window=w)
                    sec = time.perf_counter() - t0
                    row.update(steps=steps, nfe=nfe, seconds=round(sec, 4),
                               s_per_image=round(sec / b, 5),
                               s_per_eval_per_image=round(sec / (nfe * b), 6),
                               projected=False, measured_attempts=0)
                except Stop:
                    per_unit = (w.tk - w.t1) / k
                    if which == 'pc':
                        sec = w.t1 + (args.steps - 1) * per_unit
                        row.update(steps=args.steps, nfe=2 * args.steps, seconds=round(sec, 4),
                                   s_per_image=round(sec / b, 5),
                                   s_per_eval_per_image=round(per_unit / (2 * b), 6),
                                   projected=True, measured_attempts=k)
                    else:
                        row.update(steps=None, nfe=None, seconds=None, s_per_image=None,
                                   s_per_eval_per_image=round(per_unit / (6 * b), 6),
                                   projected=False, measured_attempts=k)
                row.update(threads=args.threads, model=name)
                print(json.dumps(row), flush=True)

if __name__ == '__main__':
    main()
