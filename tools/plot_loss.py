#!/usr/bin/python3
"""Plot a training loss curve from tools/train.py's loss.csv (step, loss, lr, seconds).

usage: tools/plot_loss.py LOSS.csv -o loss.png [--title TEXT]
Draws the raw per-step loss (light) and a moving average over 50 steps, log-scale y.
"""
import argparse
import csv
import os
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('csv')
    ap.add_argument('-o', '--output', required=True)
    ap.add_argument('--title', default='')
    args = ap.parse_args()
    steps, losses, secs = [], [], []
    with open(args.csv) as f:
        for row in csv.reader(f):
            if not row or not row[0].strip().isdigit():
                continue
            steps.append(int(row[0]))
            losses.append(float(row[1]))
            secs.append(float(row[3]))
    if not steps:
        sys.exit('plot_loss.py: no rows in %s' % args.csv)
    steps, losses = np.array(steps), np.array(losses)
    k = min(50, len(losses))
    smooth = np.convolve(losses, np.ones(k) / k, mode='valid')
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    ax.plot(steps, losses, color='#9ecae1', linewidth=0.6, label='per step')
    ax.plot(steps[k - 1:], smooth, color='#08519c', linewidth=1.5, label='mean of %d' % k)
    ax.set_yscale('log')
    ax.set_xlabel('training step')
    ax.set_ylabel('DSM loss')
    ax.set_title(args.title or os.path.basename(os.path.dirname(os.path.abspath(args.csv))))
    ax.grid(True, which='both', alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = args.output + '.tmp.png'
    fig.savefig(tmp)
    os.replace(tmp, args.output)
    print('%s: %d steps, last loss %.5f (mean of last %d: %.5f), %.0f s' %
          (args.output, steps[-1], losses[-1], k, smooth[-1], secs[-1]))


if __name__ == '__main__':
    main()
