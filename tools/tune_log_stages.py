#!/usr/bin/python3
"""Per-K-block cost of the conv2d tilings in a `clsde tune` log (GPU-like tilings).

For each candidate the tuner reports as better ("better: implicit tm=.. ms"), prints its
time per K block (the kernel stages K in blocks of tk: ceil(c_in*k*k / tk) blocks) and how
many loads one work-item issued per block in the staging of commit 5620aae and before: W
row by row (only work-items lid < tk load, BM * ceil(tk / WG) each, one row after another)
and X (ceil(tk / wg_m) * sn * tn each). Then fits

    us per block = a * W loads + b * X loads + c

by least squares and prints a, b, c and R^2. On the H100's batch-1 tune (bench-logs/
2026-11-26-h100/tune_full_b1_180s.log) this is what showed the W staging to be the
bottleneck there (BENCHMARKS.md, "NVIDIA H100").

Usage: tools/tune_log_stages.py TUNE_LOG   (needs numpy)
"""

import math
import re
import sys

import numpy as np

CLASS = re.compile(r'^\[\d+/\d+\] .*\((\d+)x(\d+)x(\d+)x(\d+)->(\d+) k(\d+) s(\d+)')
BETTER = re.compile(r'better: implicit tm=(\d+) tn=(\d+) vn=\d+ sm=(\d+) sn=(\d+) tk=(\d+) '
                    r'wg_m=(\d+) wg_n=(\d+)\s+([\d.]+) ms')


def rows(lines):
    shape = None
    for line in lines:
        m = CLASS.search(line)
        if m:
            shape = tuple(int(v) for v in m.groups())
            continue
        m = BETTER.search(line)
        if not m or shape is None:
            continue
        tm, tn, sm, sn, tk, wg_m, wg_n = (int(v) for v in m.groups()[:7])
        ms = float(m.group(8))
        _, c_in, _, _, _, k, _ = shape
        wg = wg_m * wg_n
        if wg == 1:
            continue  # a CPU tiling: no staging across work-items
        blocks = math.ceil(c_in * k * k / tk)
        w_loads = wg_m * sm * tm * math.ceil(tk / wg)
        x_loads = math.ceil(tk / wg_m) * sn * tn
        yield shape, (tm, tn, sm, sn, tk, wg_m, wg_n), ms, blocks, w_loads, x_loads


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split('\n\n')[-1])
    with open(sys.argv[1]) as f:
        data = list(rows(f))
    if len(data) < 3:
        sys.exit('tune_log_stages.py: %d GPU-like "better:" lines in %s, need 3 or more'
                 % (len(data), sys.argv[1]))
    print('shape                      tm tn sm sn  tk wg     ms  blocks  W  X  us/block')
    for shape, t, ms, blocks, w, x in data:
        n, c_in, side, _, c_out, k, _ = shape
        print('%-26s %2d %2d %2d %2d %3d %dx%-3d %6.3f %6d %2d %2d %8.2f' % (
            '%dx%dx%dx%d->%d k%d' % (n, c_in, side, side, c_out, k), *t[:5], t[5], t[6], ms,
            blocks, w, x, ms * 1000 / blocks))
    a = np.array([[w, x, 1.0] for _, _, _, _, w, x in data])
    y = np.array([ms * 1000 / blocks for _, _, ms, blocks, _, _ in data])
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    r2 = 1 - ((a @ coef - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    print('\nus per block = %.3f * W loads + %.3f * X loads + %.3f   (R^2 %.3f, %d tilings)'
          % (*coef, r2, len(data)))


if __name__ == '__main__':
    main()
