#!/usr/bin/python3
"""The sampling table of BENCHMARKS.md: `clsde bench sample --json` and
tools/bench_torch_sample.py on the same model file, the same batch sizes, step count,
--measure window and thread count, one engine right after the other for each sampler, then
one Markdown row per (sampler, batch) with the ratio PyTorch / clsde computed here.

  bench_sample_table.py --clsde build/src/clsde --model M [--model M2 ...] --batch 1,16 \\
      --steps 1000 --threads 1 [--measure K] [--jsonl raw.jsonl]

Threads: PoCL gets POCL_MAX_PTHREAD_COUNT, torch set_num_threads, the same number. The raw
rows of both engines are appended to --jsonl as they come, so a stopped run keeps them.
"""
import argparse
import json
import os
import subprocess
import sys
import time

TOOLS = os.path.dirname(os.path.abspath(__file__))


def run_json_lines(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    text = out.strip()
    if text.startswith('['):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith('{')]


def fmt(v, digits=3):
    return '—' if v is None else f'{v:.{digits}f}'


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--clsde', default='build/src/clsde')
    p.add_argument('--model', action='append', required=True)
    p.add_argument('--batch', default='1,16')
    p.add_argument('--steps', type=int, default=1000)
    p.add_argument('--measure', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--samplers', default='pc,ode')
    p.add_argument('--jsonl', help='append every raw row here')
    args = p.parse_args()
    env = dict(os.environ, POCL_MAX_PTHREAD_COUNT=str(args.threads))
    rows = []
    print(f'# {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, load average '
          f'{os.getloadavg()[0]:.1f}, {args.threads} thread(s) each', flush=True)
    for model in args.model:
        for sampler in args.samplers.split(','):
            for b in args.batch.split(','):
                common = ['--batch', b, '--steps', str(args.steps)]
                if args.measure:
                    common += ['--measure', str(args.measure)]
                c = run_json_lines([args.clsde, 'bench', 'sample', '--model', model, '--json',
                                    '--samplers', sampler] + common, env)
                t = run_json_lines([sys.executable, os.path.join(TOOLS, 'bench_torch_sample.py'),
                                    '--weights', model, '--threads', str(args.threads),
                                    '--samplers', sampler] + common, env)
                pair = (c[0], t[0])
                if args.jsonl:
                    with open(args.jsonl, 'a') as f:
                        for r in pair:
                            f.write(json.dumps(r) + '\n')
                rows.append((model, sampler, int(b), pair))
                print(f'# {os.path.basename(model)} {sampler} batch {b}: clsde '
                      f'{c[0]["s_per_eval_per_image"]} torch {t[0]["s_per_eval_per_image"]} '
                      f's/eval/image', flush=True)
    print('| model | sampler | batch | NFE clsde / PyTorch | clsde s/image | PyTorch s/image '
          '| clsde s/eval/image | PyTorch s/eval/image | speed-up |')
    print('|---|---|---|---|---|---|---|---|---|')
    for model, sampler, b, (c, t) in rows:
        name = os.path.splitext(os.path.basename(model))[0]
        proj = ' (projected)' if c.get('projected') else ''
        label = f'PC N={c["steps"]}{proj}' if sampler == 'pc' else (
            'ODE' if c['nfe'] is not None else f'ODE ({c["measured_attempts"]} attempts)')
        nfe = '—' if c['nfe'] is None else f'{c["nfe"]:g} / {t["nfe"]}'
        speed = t['s_per_eval_per_image'] / c['s_per_eval_per_image']
        if c['s_per_image'] is not None and t['s_per_image'] is not None:
            speed = t['s_per_image'] / c['s_per_image']
        print(f'| {name} | {label} | {b} | {nfe} | {fmt(c["s_per_image"])} | '
              f'{fmt(t["s_per_image"])} | {fmt(c["s_per_eval_per_image"], 4)} | '
              f'{fmt(t["s_per_eval_per_image"], 4)} | {speed:.2f}x |')


if __name__ == '__main__':
    main()
