#!/usr/bin/python3
"""The sampling table of BENCHMARKS.md: `clsde bench sample --json` and
tools/bench_torch_sample.py on the same model file, the same batch sizes, step count,
--measure window and thread count, one engine right after the other for each sampler, then
one Markdown row per (sampler, batch) with the ratio PyTorch / clsde of the seconds per
evaluation per image computed here (for PC, with equal NFE, that is also the s/image ratio).
--repeat R alternates the two engines R times per row and keeps each engine's fastest run
(by seconds per evaluation per image): on a shared machine a burst of other work then
has to hit every run of an engine to move its figure.

  bench_sample_table.py --clsde build/src/clsde --model M [--model M2 ...] --batch 1,16 \\
      --steps 1000 --threads 1 [--measure K] [--repeat R] [--jsonl raw.jsonl]

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
    p.add_argument('--repeat', type=int, default=1, help='runs per engine and row (fastest kept)')
    p.add_argument('--jsonl', help='append every raw row here')
    args = p.parse_args()
    env = dict(os.environ, POCL_MAX_PTHREAD_COUNT=str(args.threads))
    rows = []
    print(f'# {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, load average '
          f'{os.getloadavg()[0]:.1f}, {args.threads} thread(s) each, fastest of '
          f'{args.repeat} run(s) per engine and row', flush=True)
    for model in args.model:
        for sampler in args.samplers.split(','):
            for b in args.batch.split(','):
                common = ['--batch', b, '--steps', str(args.steps)]
                if args.measure:
                    common += ['--measure', str(args.measure)]
                best = [None, None]
                for rnd in range(args.repeat):
                    c = run_json_lines([args.clsde, 'bench', 'sample', '--model', model,
                                        '--json', '--samplers', sampler] + common, env)[0]
                    t = run_json_lines([sys.executable,
                                        os.path.join(TOOLS, 'bench_torch_sample.py'),
                                        '--weights', model, '--threads', str(args.threads),
                                        '--samplers', sampler] + common, env)[0]
                    for i, r in enumerate((c, t)):
                        r['round'] = rnd
                        if best[i] is None or (r['s_per_eval_per_image'] <
                                               best[i]['s_per_eval_per_image']):
                            best[i] = r
                    if args.jsonl:
                        with open(args.jsonl, 'a') as f:
                            for r in (c, t):
                                f.write(json.dumps(r) + '\n')
                    print(f'# {os.path.basename(model)} {sampler} batch {b} round {rnd}: clsde '
                          f'{c["s_per_eval_per_image"]} torch {t["s_per_eval_per_image"]} '
                          f's/eval/image', flush=True)
                pair = tuple(best)
                rows.append((model, sampler, int(b), pair))
    print(f'# done {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, load average '
          f'{os.getloadavg()[0]:.1f}', flush=True)
    print('| model | sampler | batch | NFE clsde / PyTorch | clsde s/image | PyTorch s/image '
          '| clsde s/eval/image | PyTorch s/eval/image | speed-up |')
    print('|---|---|---|---|---|---|---|---|---|')
    for model, sampler, b, (c, t) in rows:
        name = os.path.splitext(os.path.basename(model))[0]
        proj = ' (projected)' if c.get('projected') else ''
        label = f'PC N={c["steps"]}{proj}' if sampler == 'pc' else (
            'ODE' if c['nfe'] is not None else f'ODE ({c["measured_attempts"]} attempts)')
        nfe = '—' if c['nfe'] is None else f'{c["nfe"]:g} / {t["nfe"]}'
        # per evaluation: the ODE's NFE differs between the engines (different initial
        # noise; clsde solves one ODE per image, PyTorch the batch as one system)
        speed = t['s_per_eval_per_image'] / c['s_per_eval_per_image']
        print(f'| {name} | {label} | {b} | {nfe} | {fmt(c["s_per_image"])} | '
              f'{fmt(t["s_per_image"])} | {fmt(c["s_per_eval_per_image"], 4)} | '
              f'{fmt(t["s_per_eval_per_image"], 4)} | {speed:.2f}x |')


if __name__ == '__main__':
    main()
