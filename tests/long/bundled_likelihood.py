#!/usr/bin/python3
"""Long check (meson suite 'long', not in the default run): the likelihood of the bundled
model end to end. `clsde likelihood` on 8 MNIST test images must give a plausible NLL for
a model of the data (0.5 .. 2.5 bits/dim; the model card has the measured figure), and
8 images of uniform noise must be far less likely (at least 3 bits/dim more). A wrong sign
or scale in the divergence, the dequantisation offset, the prior or the JVP moves one of
these out of range.

  bundled_likelihood.py CLSDE SOURCE_ROOT     (exit 77: numpy or the model missing)
"""
import importlib.util
import os
import re
import subprocess
import sys
import tempfile


def bpd(clsde, args):
    out = subprocess.run([clsde, 'likelihood', '--quiet', '--batch', '8', '-n', '8'] + args,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    m = re.match(r'bpd (\S+) \+- (\S+) ', out)
    if not m:
        raise SystemExit('unexpected output: %r' % out)
    return float(m.group(1)), float(m.group(2))


def main():
    clsde, root = sys.argv[1], sys.argv[2]
    model = os.path.join(root, 'models', 'ddpmpp_s_mnist.safetensors')
    if importlib.util.find_spec('numpy') is None:
        print('skipped: numpy is not installed')
        return 77
    if not os.path.exists(model):
        print('skipped: no bundled model at %s' % model)
        return 77
    import numpy as np
    sys.path.insert(0, os.path.join(root, 'tools'))
    import clsde_safetensors as st
    data, data_sem = bpd(clsde, ['--model', model, '--data', 'mnist'])
    with tempfile.TemporaryDirectory() as tmp:
        noise = os.path.join(tmp, 'noise.safetensors')
        rng = np.random.default_rng(0)
        st.save(noise, [('x', rng.integers(0, 256, (8, 1, 32, 32)).astype(np.uint8))])
        nz, nz_sem = bpd(clsde, ['--model', model, '--input', noise])
    print('MNIST test images 0..7: %.3f +- %.3f bits/dim; uniform noise: %.3f +- %.3f'
          % (data, data_sem, nz, nz_sem))
    ok = 0.5 <= data <= 2.5 and nz >= data + 3
    print('ok' if ok else 'FAILED: want 0.5 <= data <= 2.5 and noise >= data + 3')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
