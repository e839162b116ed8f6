#!/usr/bin/python3
"""Tests for tools/tune_log_stages.py (unittest): the load counts of a tiling, the fit on a
synthetic tune log made from known coefficients, CPU tilings left out, too few lines refused.

Run: /usr/bin/python3 tests/tools/test_tune_log_stages.py   (needs numpy; about a second)
"""

import math
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "tune_log_stages.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import tune_log_stages  # noqa: E402

A, B, C = 0.3, 0.1, 0.5  # us per W load, per X load, per block


def log_line(tm, tn, sm, sn, tk, wg_m, wg_n, c_in, k):
    w = wg_m * sm * tm * math.ceil(tk / (wg_m * wg_n))
    x = math.ceil(tk / wg_m) * sn * tn
    ms = (A * w + B * x + C) * math.ceil(c_in * k * k / tk) / 1000
    return ("    better: implicit tm=%d tn=%d vn=1 sm=%d sn=%d tk=%d wg_m=%d wg_n=%d  %.6f ms "
            "(was 1.0 ms side by side)\n" % (tm, tn, sm, sn, tk, wg_m, wg_n, ms))


class Stages(unittest.TestCase):
    def test_counts(self):
        lines = ["[1/2] k3 s1 ci256 co256 hw256 n256 (1x256x16x16->256 k3 s1, x14): budget 1 s\n",
                 log_line(4, 4, 1, 1, 16, 8, 16, 256, 3)]
        (shape, tile, ms, blocks, w, x), = tune_log_stages.rows(lines)
        self.assertEqual(shape, (1, 256, 16, 16, 256, 3, 1))
        self.assertEqual(blocks, 144)  # 2304 / 16
        self.assertEqual(w, 32)        # BM 32 rows, tk 16 < 128 work-items: one load each
        self.assertEqual(x, 8)         # 16 / 8 rows x 4 pixels

    def test_fit_recovers_the_coefficients(self):
        lines = ["[1/2] k3 s1 ci256 co256 hw256 n256 (1x256x16x16->256 k3 s1, x14): budget 1 s\n"]
        for t in [(4, 4, 1, 1, 16, 8, 16), (2, 2, 1, 1, 32, 4, 32), (1, 1, 1, 1, 32, 8, 16),
                  (1, 4, 1, 2, 16, 4, 16)]:
            lines.append(log_line(*t, 256, 3))
        lines.append("[2/2] k1 s1 ci512 co256 hw16 n16 (1x512x4x4->256 k1 s1, x5): budget 1 s\n")
        for t in [(4, 2, 1, 1, 16, 8, 16), (2, 2, 1, 1, 64, 4, 16)]:
            lines.append(log_line(*t, 512, 1))
        lines.append("    better: implicit tm=8 tn=16 vn=16 sm=16 sn=8 tk=64 wg_m=1 wg_n=1  "
                     "9.0 ms (was 9.5 ms side by side)\n")  # a CPU tiling: left out
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.writelines(lines)
        try:
            out = subprocess.run([sys.executable, TOOL, f.name], check=True,
                                 stdout=subprocess.PIPE, text=True).stdout
        finally:
            os.unlink(f.name)
        fit = out.strip().splitlines()[-1]
        self.assertIn("us per block = 0.300 * W loads + 0.100 * X loads + 0.500", fit)
        self.assertIn("6 tilings", fit)

    def test_too_few_lines(self):
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.write("nothing here\n")
        try:
            r = subprocess.run([sys.executable, TOOL, f.name], stderr=subprocess.PIPE,
                               text=True)
        finally:
            os.unlink(f.name)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("0 GPU-like", r.stderr)


if __name__ == "__main__":
    unittest.main()
