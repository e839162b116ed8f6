#!/usr/bin/python3
"""The quality table of a bundled MNIST / Fashion-MNIST model (issue 8): samples drawn with
`clsde sample` for each sampler setting, scored by tools/evaluate.py against the test set,
next to the reference rows at the same sample count (the training set: the floor; uniform
noise), as one Markdown table.

Rows (--rows, comma-separated; default all):
  pc       the model's default sampler (config sampling.*, N = model.num_scales)
  pc_n4    the same with N/4 time steps
  ode      the probability-flow ODE (RK45, rtol = atol = 1e-5)
  untrained  the same architecture and config at its initialisation (tools/train.py with
           --steps 0: the official init, EMA = weights), PC with N/4 steps (its samples are
           noise-like whatever N is; N/4 keeps the cost down)

Resumable: images are drawn in chunks of --chunk (`clsde sample --first I -n CHUNK`, so image
k is the same whatever the chunking), each chunk's raw output and wall time kept in
WORKDIR/<row>/; a rerun draws only missing chunks. Image k of every row uses seed --seed.

  /usr/bin/python3 tools/quality.py --model models/ddpmpp_s_mnist.safetensors --data mnist \\
      --n 512 --workdir build/quality [--rows pc,pc_n4,ode,untrained] [--clsde build/src/clsde]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import clsde_safetensors as st  # noqa: E402

ROWS = ('pc', 'pc_n4', 'ode', 'untrained')


def model_config(path):
    _, meta, _ = st.read_header(path)
    return json.loads(meta['config'])


def untrained_model(model, workdir):
    """The model's config at step 0 of tools/train.py, converted as the trained one was."""
    out = os.path.join(workdir, 'untrained.safetensors')
    if os.path.exists(out):
        return out
    tdir = os.path.join(workdir, 'untrained_train')
    os.makedirs(tdir, exist_ok=True)
    cfg_path = os.path.join(tdir, 'input_config.json')
    with open(cfg_path, 'w') as f:
        json.dump(model_config(model), f)
    py = sys.executable
    subprocess.run([py, os.path.join(TOOLS, 'train.py'), '--config', cfg_path, '--workdir', tdir,
                    '--steps', '0'], check=True)
    subprocess.run([py, os.path.join(TOOLS, 'convert.py'), os.path.join(tdir, 'checkpoint.pth'),
                    '--config', os.path.join(tdir, 'config.json'), '-o', out, '--force'],
                   check=True)
    return out


def draw(clsde, model, args_row, rowdir, n, chunk, seed, log):
    """Draw images 0..n-1 in chunks; returns (images [n,1,H,W] float, seconds, nfe note)."""
    os.makedirs(rowdir, exist_ok=True)
    seconds = 0.0
    for first in range(0, n, chunk):
        cnt = min(chunk, n - first)
        raw = os.path.join(rowdir, 'chunk_%06d_%d.safetensors' % (first, cnt))
        tfile = raw + '.seconds'
        if not (os.path.exists(raw) and os.path.exists(tfile)):
            cmd = [clsde, 'sample', '--model', model, '--seed', str(seed), '--first', str(first),
                   '-n', str(cnt), '--batch', str(cnt), '--raw', raw + '.part',
                   '-o', os.path.join(rowdir, 'chunk_%06d.png' % first), '--quiet'] + args_row
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            dt = time.perf_counter() - t0
            os.replace(raw + '.part', raw)
            with open(tfile, 'w') as f:
                f.write('%.3f\n' % dt)
            log('%s: images %d..%d in %.1f s' % (rowdir, first, first + cnt - 1, dt))
        with open(tfile) as f:
            seconds += float(f.read())
    parts = []
    for first in range(0, n, chunk):
        cnt = min(chunk, n - first)
        tensors, _ = st.load(os.path.join(rowdir, 'chunk_%06d_%d.safetensors' % (first, cnt)))
        parts.append(np.asarray(tensors['x'], dtype=np.float32))
    return np.concatenate(parts), seconds


def evaluate(data, npy, extra=()):
    out = subprocess.run([sys.executable, os.path.join(TOOLS, 'evaluate.py'), '--data', data,
                          '--json'] + list(extra) + (['--samples', npy] if npy else []),
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True)
    p.add_argument('--data', required=True)
    p.add_argument('--n', type=int, default=512, help='images per row (default 512)')
    p.add_argument('--chunk', type=int, default=64, help='images per clsde run (default 64)')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--rows', default=','.join(ROWS))
    p.add_argument('--workdir', default='build/quality')
    p.add_argument('--clsde', default='build/src/clsde')
    args = p.parse_args()

    def log(msg):
        print('quality.py: %s' % msg, file=sys.stderr, flush=True)

    rows = args.rows.split(',')
    for r in rows:
        if r not in ROWS:
            p.error('unknown row %r (rows: %s)' % (r, ', '.join(ROWS)))
    os.makedirs(args.workdir, exist_ok=True)
    n_scales = model_config(args.model)['model']['num_scales']
    settings = {
        'pc': (args.model, [], 'PC, config default (N = %d)' % n_scales),
        'pc_n4': (args.model, ['--steps', str(n_scales // 4)],
                  'PC, N = %d' % (n_scales // 4)),
        'ode': (args.model, ['--sampler', 'ode'], 'ODE (RK45, rtol = atol = 1e-5)'),
        'untrained': (None, ['--steps', str(n_scales // 4)],
                      'untrained (step 0), PC N = %d' % (n_scales // 4)),
    }
    results = []
    for r in rows:
        model, extra, label = settings[r]
        if model is None:
            model = untrained_model(args.model, args.workdir)
        x, sec = draw(args.clsde, model, extra, os.path.join(args.workdir, r), args.n, args.chunk,
                      args.seed, log)
        npy = os.path.join(args.workdir, r + '.npy')
        np.save(npy, x)
        ev = evaluate(args.data, npy)
        ev.update(row=r, label=label, seconds=sec)
        results.append(ev)
        log('%s: FD %.3f IS %.3f (%.1f s)' % (r, ev['fd'], ev['is'], sec))
    base = evaluate(args.data, None, ['--baseline', '--n', str(args.n)])
    with open(os.path.join(args.workdir, 'quality.json'), 'w') as f:
        json.dump({'rows': results, 'baseline': base, 'n': args.n, 'model': args.model}, f,
                  indent=1)

    def ratio(v):
        return 'inf' if v is None else '%.2f' % v

    print('%d images per row, classifier %s (test accuracy %.4f), FD against the %s set '
          '(%d images); seed %d' % (args.n, base['classifier'], base['classifier_test_accuracy'],
                                    base['reference'], base['n_reference'], args.seed))
    print()
    print('| images | FD ↓ | IS ↑ | class max/min | class counts | s/image |')
    print('|---|---|---|---|---|---|')
    for b in base['rows']:
        if b['name'].startswith(('train,', 'test,', 'noise U')):
            print('| %s | %.3f | %.3f | %s | %s | — |'
                  % (b['name'], b['fd'], b['is'], ratio(b['class_max_min']),
                     ' '.join(str(c) for c in b.get('class_counts', []))))
    for e in results:
        print('| %s | %.3f | %.3f | %s | %s | %.3f |'
              % (e['label'], e['fd'], e['is'], ratio(e['class_max_min']),
                 ' '.join(str(c) for c in e['class_counts']), e['seconds'] / e['n']))


if __name__ == '__main__':
    main()
