#!/usr/bin/python3
"""tools/torch_ncsnpp.py against every network fixture in /work/shared/fixtures.

Loads each official checkpoint with its EMA weights (networks.md §6.1), runs the network on the
stored `x`/`label`, the score wrapper on `x`/`t`, and compares per sample with
err_b = max|mine_b - ref_b| / max|ref_b| (fixtures/README.md), bound 1e-4 (observed float32
noise floor ~1e-6). Also checks that state_dict keys equal the checkpoint's 'model' keys.
Also: parameter counts of the official full-size configs and of the bundled S models (spec
networks.md §2.5-§3, §8), the FIR border rules (§1.3), the intended fused FIR up-conv, and
that progressive = 'residual' (no fixture: the official code cannot run it) builds and runs.
Run: /usr/bin/python3 tests/tools/test_torch_ncsnpp.py  (CLSDE_FIXTURES overrides the dir).
"""
import json
import os
import struct
import sys
import unittest

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import torch_ncsnpp  # noqa: E402

FIXTURES = os.environ.get('CLSDE_FIXTURES', '/work/shared/fixtures')
NAMES = ['ve_ncsnpp_skip', 've_ncsnpp_cifar', 've_ncsnpp_skip_cat', 've_ncsnpp_resin_nofir',
         'vp_ddpmpp', 'vp_ddpmpp_ddpmblock', 'vp_ddpm', 've_ncsnpp_skip_mnist']
BOUND = 1e-4
DTYPES = {'F32': np.float32, 'F64': np.float64, 'F16': np.float16, 'I64': np.int64,
          'I32': np.int32}


def read_safetensors(path):
    """Minimal reader: u64 LE header length, JSON header, raw little-endian data."""
    with open(path, 'rb') as f:
        blob = f.read()
    (n,) = struct.unpack('<Q', blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        out[name] = np.frombuffer(data[a:b], dtype=DTYPES[info['dtype']]).reshape(info['shape'])
    return out


def per_sample_err(mine, ref):
    mine = mine.detach().double().numpy().reshape(ref.shape[0], -1)
    ref = ref.astype(np.float64).reshape(ref.shape[0], -1)
    return [float(np.abs(m - r).max() / np.abs(r).max()) for m, r in zip(mine, ref)]


class TestFixtures(unittest.TestCase):
    results = {}

    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)

    def check_fixture(self, name):
        d = os.path.join(FIXTURES, name)
        if not os.path.isdir(d):
            self.skipTest('fixture directory %s not found (set CLSDE_FIXTURES)' % d)
        with open(os.path.join(d, 'config.json')) as f:
            config = json.load(f)['config']
        io = read_safetensors(os.path.join(d, 'io.safetensors'))
        model = torch_ncsnpp.create_model(config)
        ckpt = torch.load(os.path.join(d, 'checkpoint.pth'), map_location='cpu')
        self.assertEqual(list(model.state_dict().keys()),
                         [k[len('module.'):] for k in ckpt['model'].keys()])
        torch_ncsnpp.load_ema_weights(model, ckpt)
        model.eval()
        sde = torch_ncsnpp.SDE(config)
        x = torch.from_numpy(io['x'].copy())
        t = torch.from_numpy(io['t'].copy())
        with torch.no_grad():
            out = model(x, torch.from_numpy(io['label'].copy()))
            score, label, _ = sde.score(model, x, t)
        errs = {'label': per_sample_err(label.float(), io['label'][:, None]),
                'out': per_sample_err(out, io['out']),
                'score': per_sample_err(score, io['score'])}
        if 'score_continuous' in io:
            with torch.no_grad():
                sc, _, _ = sde.score(model, x, t, continuous=True)
            errs['score_continuous'] = per_sample_err(sc, io['score_continuous'])
        self.results[name] = errs
        line = '  '.join(f"{k} max_b err_b = {max(v):.2e}" for k, v in errs.items())
        print(f'\n{name:22s} {line}  (bound {BOUND:.0e})', file=sys.stderr)
        for k, v in errs.items():
            self.assertLessEqual(max(v), BOUND, f'{name} {k}: per-sample errors {v}')


def tiny_config(**model):
    m = dict(name='ncsnpp', nf=16, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(8,),
             embedding_type='fourier', fir=True, scale_by_sigma=True)
    m.update(model)
    return {'model': m, 'data': {'image_size': 16, 'num_channels': 3, 'centered': False},
            'training': {'sde': 'vesde', 'continuous': True}}


class TestStructure(unittest.TestCase):
    # (model overrides, data overrides, parameters, modules): networks.md §2.5-§2.7, §3, §8
    FULL = {
        've/cifar10_ncsnpp_continuous': (dict(progressive_input='residual', num_res_blocks=4,
                                              ch_mult=(1, 2, 2, 2), nf=128, attn_resolutions=(16,)),
                                         {'image_size': 32}, 62758915, 59),
        'vp/cifar10_ddpmpp_continuous': (dict(embedding_type='positional', fir=False, nf=128,
                                              num_res_blocks=4, ch_mult=(1, 2, 2, 2),
                                              attn_resolutions=(16,)), {'image_size': 32},
                                         61804419, 55),
        'vp/ddpm/cifar10': (dict(name='ddpm', nf=128, num_res_blocks=2, ch_mult=(1, 2, 2, 2),
                                 attn_resolutions=(16,)), {'image_size': 32}, 35218947, 37),
        've/celebahq_256_ncsnpp_continuous': (dict(progressive='output_skip', nf=128,
                                                   progressive_input='input_skip', num_res_blocks=2,
                                                   ch_mult=(1, 1, 2, 2, 2, 2, 2),
                                                   attn_resolutions=(16,)),
                                              {'image_size': 256}, 65574549, 77),
        'DDPM++-S (C=1)': (dict(embedding_type='positional', fir=False, ch_mult=(1, 2, 4),
                                num_res_blocks=2, scale_by_sigma=False, dropout=0.),
                           {'image_size': 32, 'num_channels': 1, 'centered': True}, 1029905, 30),
        'NCSN++-S (C=1)': (dict(progressive_input='residual', ch_mult=(1, 2, 4), num_res_blocks=2),
                           {'image_size': 32, 'num_channels': 1}, 1035745, 33),
    }

    def test_parameter_counts(self):
        for name, (model, data, n_params, n_modules) in self.FULL.items():
            c = tiny_config(**model)
            c['data'].update(data)
            torch.manual_seed(0)
            m = torch_ncsnpp.create_model(c)
            got = sum(p.numel() for p in m.parameters())
            self.assertEqual((got, len(m.all_modules)), (n_params, n_modules), name)
            del m

    def test_initialisation(self):
        torch.manual_seed(0)
        m = torch_ncsnpp.create_model(tiny_config())
        sd = m.state_dict()
        self.assertEqual(sd['sigmas'].dtype, torch.float64)
        self.assertFalse(m.all_modules[0].W.requires_grad)
        self.assertAlmostEqual(float(sd['all_modules.0.W'].std()), 16., delta=6.)
        for k, v in sd.items():
            if k.endswith('.bias') or k.endswith('.b'):
                self.assertEqual(float(v.abs().max()), 0., k)
            if k.endswith('Conv_1.weight') or k.endswith('NIN_3.W'):
                self.assertLess(float(v.abs().max()), 1e-4, k)  # init_scale 0 -> 1e-10
        w = sd['all_modules.3.weight']  # conv_in 3->16: U(-a, a), a = sqrt(3 / fan_avg)
        self.assertLessEqual(float(w.abs().max()), np.sqrt(3. / ((3 * 9 + 16 * 9) / 2)))

    def test_fir_borders(self):
        x = torch.ones(1, 1, 4, 4)
        up = torch_ncsnpp.upsample_2d(x, (1, 3, 3, 1))[0, 0]
        self.assertAlmostEqual(float(up[0, 0]), 9. / 16, places=6)
        self.assertAlmostEqual(float(up[0, 3]), 3. / 4, places=6)
        self.assertAlmostEqual(float(up[3, 3]), 1., places=6)
        down = torch_ncsnpp.downsample_2d(torch.ones(1, 1, 8, 8), (1, 3, 3, 1))[0, 0]
        self.assertAlmostEqual(float(down[0, 0]), (7. / 8) ** 2, places=6)
        self.assertAlmostEqual(float(down[1, 1]), 1., places=6)

    def test_fused_fir_upconv(self):
        """networks.md §1.3 per axis: v[m] = sum_a w[a] u[m-2+a] (u zero-inserted), then
        upfirdn2d(v, 4K, pad (1,1)), + nothing else (bias is added by the module)."""
        g = torch.Generator().manual_seed(3)
        x = torch.randn(1, 2, 5, 5, generator=g, dtype=torch.float64)
        w = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)
        u = torch.zeros(1, 2, 10, 10, dtype=torch.float64)
        u[:, :, ::2, ::2] = x
        up = torch.nn.functional.pad(u, (2, 1, 2, 1))
        v = torch.nn.functional.conv2d(up, w)  # side 2H+1 = 11
        ref = torch_ncsnpp.upfirdn2d(v, torch_ncsnpp.fir_kernel_2d((1, 3, 3, 1), 4), pad=(1, 1))
        got = torch_ncsnpp.upsample_conv_2d(x, w, (1, 3, 3, 1))
        self.assertEqual(tuple(got.shape), (1, 3, 10, 10))
        self.assertLess(float((got - ref).abs().max()), 1e-12)

    def test_progressive_residual_runs(self):
        for fir in (True, False):
            torch.manual_seed(0)
            c = tiny_config(progressive='residual', progressive_input='residual', fir=fir)
            m = torch_ncsnpp.create_model(c).eval()
            names = list(m.state_dict().keys())
            self.assertTrue(any(('Conv2d_0' if fir else 'Conv_0.weight') in k for k in names))
            with torch.no_grad():
                y = m(torch.rand(2, 3, 16, 16), torch.tensor([0.5, 10.]))
            self.assertEqual(tuple(y.shape), (2, 3, 16, 16))
            self.assertTrue(bool(torch.isfinite(y).all()))


def make_test(name):
    return lambda self: self.check_fixture(name)


for _n in NAMES:
    setattr(TestFixtures, f'test_{_n}', make_test(_n))


if __name__ == '__main__':
    unittest.main(verbosity=2)
