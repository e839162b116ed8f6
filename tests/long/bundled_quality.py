#!/usr/bin/python3
"""Long check (meson suite 'long', not in the default run): the bundled model end to end.
64 images of the bundled MNIST model through `clsde sample` (PC, N = 250 — the model
card's fast setting), scored by tools/evaluate.py with the bundled classifier, must look
like digits: classifier Inception Score >= 5 (of 10), at least 8 of the 10 classes
present, and a Fréchet distance below a tenth of uniform noise's at the same count.
A broken kernel, sampler, loader or a damaged model file fails one of these; the model's
measured figures are in models/ddpmpp_s_mnist.md.

  bundled_quality.py CLSDE SOURCE_ROOT     (exit 77: numpy/scipy or the model missing)
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile


def main():
    clsde, root = sys.argv[1], sys.argv[2]
    model = os.path.join(root, 'models', 'ddpmpp_s_mnist.safetensors')
    for mod in ('numpy', 'scipy'):
        if importlib.util.find_spec(mod) is None:
            print('skipped: %s is not installed (tools/setup.sh --tools)' % mod)
            return 77
    if not os.path.exists(model):
        print('skipped: no bundled model at %s' % model)
        return 77
    evaluate = [sys.executable, os.path.join(root, 'tools', 'evaluate.py'), '--data', 'mnist',
                '--json']
    with tempfile.TemporaryDirectory(prefix='clsde-long-') as tmp:
        raw = os.path.join(tmp, 'x.safetensors')
        subprocess.run([clsde, 'sample', '--model', model, '-n', '64', '--batch', '64',
                        '--steps', '250', '--seed', '11', '--raw', raw,
                        '-o', os.path.join(tmp, 'grid.png'), '--quiet'], check=True)
        got = json.loads(subprocess.run(evaluate + ['--samples', raw], check=True,
                                        stdout=subprocess.PIPE, text=True).stdout)
    base = json.loads(subprocess.run(evaluate + ['--baseline', '--n', '64'], check=True,
                                     stdout=subprocess.PIPE, text=True).stdout)
    noise = next(r for r in base['rows'] if r['name'].startswith('noise U'))
    present = sum(1 for c in got['class_counts'] if c > 0)
    print('64 samples: FD %.2f (floor %.2f, uniform noise %.2f), IS %.3f, classes %s'
          % (got['fd'], got['fd_floor'], noise['fd'], got['is'], got['class_counts']))
    ok = got['is'] >= 5 and present >= 8 and got['fd'] < noise['fd'] / 10
    if not ok:
        print('FAIL: want IS >= 5, >= 8 classes present, FD < %.2f' % (noise['fd'] / 10))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
