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
           --steps 0: the official init, EMA = weights), PC with N/40 steps: its score is ~0,
           so its samples are prior noise whatever N is (64 images: FD 8053 at N = 25,
           7972 at N = 250, IS 1.00 and class 8 for all at both), and N/40 costs a tenth
  nll      not a sample row: the NLL in bits/dim of the first --nll-n test images
           (`clsde likelihood`, Rademacher probe, RK45 1e-5, dequantisation seed --seed),
           mean and standard error over the images

Resumable and shared between runs and machines: images are drawn in chunks of --chunk
(`clsde sample --first I -n CHUNK`, so image k is the same whatever the chunking or the worker
that drew it); each chunk is kept as uint8 images (exactly what the evaluator reads) with its
wall time in STATE/<row>/chunk_<first>_<count>.npz, which is small enough to commit, so a
10,000-image row can be drawn over several sessions. STATE/<row>/row.json records what the
chunks were drawn with (sampler arguments, seed, SHA-256 of the model); a rerun with other
settings stops rather than mixing chunks. Several workers may run at once (one per core,
`POCL_MAX_PTHREAD_COUNT=1`): a chunk is claimed by an flock on WORKDIR/locks/<chunk>.lock
while it is drawn; the kernel drops it when its worker exits, killed or not.

  /usr/bin/python3 tools/quality.py --model models/ddpmpp_s_mnist.safetensors --data mnist \\
      --n 10000 [--rows pc,pc_n4,ode,untrained] [--draw-only] [--partial]
  --draw-only   draw the missing chunks, print nothing (a background worker)
  --partial     score each row on the chunks drawn so far (its image count is printed)
  --score-only  draw nothing, score what is there (while workers run)
  --group K     draw K consecutive chunks per clsde run, as one batch (a GPU worker)
  --deadline T  start no clsde run that would end after time T (date +%s): an outer time
                limit then never kills a run and loses its images
"""
import argparse
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import clsde_safetensors as st  # noqa: E402
import evaluate as evmod  # noqa: E402

ROWS = ('pc', 'pc_n4', 'ode', 'untrained', 'nll')


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


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def check_row(rowdir, settings):
    """Create or compare STATE/<row>/row.json: chunks drawn with other settings stop the run."""
    os.makedirs(rowdir, exist_ok=True)
    path = os.path.join(rowdir, 'row.json')
    if os.path.exists(path):
        with open(path) as f:
            have = json.load(f)
        if have != settings:
            sys.exit('quality.py: %s holds chunks drawn with %s, not %s; move it away to start '
                     'the row again' % (rowdir, json.dumps(have), json.dumps(settings)))
    else:
        with open(path + '.part', 'w') as f:
            json.dump(settings, f, indent=1, sort_keys=True)
            f.write('\n')
        os.replace(path + '.part', path)


class Lock:
    """A chunk's claim: an exclusive flock on its lock file, held through an open descriptor.
    The file stays when released (unlinking it would let a second worker lock a new file of
    the same name while the first still holds the old one); it holds the holder's pid, for
    people only."""

    def __init__(self, path, fd):
        self.path, self.fd = path, fd

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # drops the flock
            self.fd = None


def try_flock(path):
    """An open descriptor of path holding its exclusive flock, or None if another open
    descriptor (this process's or another's) holds it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def claim(lockdir, name):
    """A Lock on one chunk, or None if a live worker holds it."""
    os.makedirs(lockdir, exist_ok=True)
    path = os.path.join(lockdir, name + '.lock')
    fd = try_flock(path)
    if fd is None:
        return None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return Lock(path, fd)


def chunk_path(rowdir, first, cnt):
    return os.path.join(rowdir, 'chunk_%06d_%d.npz' % (first, cnt))


class OutOfTime(Exception):
    """A clsde run would end past the deadline: not started."""


class Pace:
    """The deadline (time.time() seconds, or None) and the seconds per image of this
    worker's last clsde run of the row, which predicts the next run's length."""

    def __init__(self, deadline=None):
        self.deadline, self.s_per_image = deadline, None

    def check(self, first, total):
        if self.deadline is None or self.s_per_image is None:
            return
        need = self.s_per_image * total
        if time.time() + need > self.deadline:
            raise OutOfTime('stopped before images %d..%d: they would take about %.0f s, '
                            '%.0f s are left' % (first, first + total - 1, need,
                                                 self.deadline - time.time()))


def draw(clsde, model, args_row, rowdir, tmpdir, n, chunk, seed, log, group=1, pace=None):
    """Draw the missing chunks of images 0..n-1 that no other worker holds; passes again
    while a chunk that was locked when passed has lost its worker since (killed: its lock
    is taken over). Chunks whose worker is alive are left to it. With group > 1, up to
    group consecutive chunks are drawn by one `clsde sample` run (one batch: a GPU wants
    large batches) and kept as separate chunk files, the same images as chunk by chunk.
    With pace, a run that would end past its deadline is not started (OutOfTime), so a
    time limit outside does not kill a run and lose its images."""
    while draw_pass(clsde, model, args_row, rowdir, tmpdir, n, chunk, seed, log, group, pace):
        pass


def draw_pass(clsde, model, args_row, rowdir, tmpdir, n, chunk, seed, log, group=1,
              pace=None):
    """One pass over the chunks; True when a chunk skipped as locked is still missing and
    its worker has died since."""
    pace = pace or Pace()
    os.makedirs(tmpdir, exist_ok=True)
    skipped = []
    firsts = list(range(0, n, chunk))
    for g in range(0, len(firsts), group):
        locks = []  # (first, count, out, lock) of the chunks this worker claimed, in order
        for first in firsts[g:g + group]:
            cnt = min(chunk, n - first)
            out = chunk_path(rowdir, first, cnt)
            if os.path.exists(out):
                continue
            lock = claim(os.path.join(tmpdir, 'locks'), os.path.basename(out))
            if lock is None:
                skipped.append(out)
            elif os.path.exists(out):
                lock.release()
            else:
                locks.append((first, cnt, out, lock))
        try:
            # one clsde run per stretch of consecutive claimed chunks
            while locks:
                run = [locks.pop(0)]
                while locks and locks[0][0] == run[-1][0] + run[-1][1]:
                    run.append(locks.pop(0))
                try:
                    total = sum(c for _, c, _, _ in run)
                    pace.check(run[0][0], total)
                    pace.s_per_image = draw_run(clsde, model, args_row, tmpdir, seed, run,
                                                log) / total
                finally:
                    for _, _, _, lock in run:
                        lock.release()
        finally:
            for _, _, _, lock in locks:
                lock.release()
    return any(not os.path.exists(out) and not held(tmpdir, os.path.basename(out))
               for out in skipped)


def thread_limit():
    """POCL_MAX_PTHREAD_COUNT as a number (0: unset or empty), checked before a draw so that
    a bad value cannot lose a finished run."""
    v = os.environ.get('POCL_MAX_PTHREAD_COUNT', '') or '0'
    try:
        return int(v)
    except ValueError:
        sys.exit('quality.py: POCL_MAX_PTHREAD_COUNT=%r is not a number' % v)


def draw_run(clsde, model, args_row, tmpdir, seed, run, log):
    """Images run[0].first .. run[-1].first + count - 1 in one `clsde sample` batch, kept as
    one chunk file per entry of run (first, count, path, lock); the caller releases the
    locks."""
    first, total = run[0][0], sum(c for _, c, _, _ in run)
    threads = thread_limit()
    raw = os.path.join(tmpdir, 'chunk_%06d_%d.safetensors' % (first, total))
    cmd = [clsde, 'sample', '--model', model, '--seed', str(seed), '--first', str(first),
           '-n', str(total), '--batch', str(total), '--raw', raw,
           '-o', os.path.join(tmpdir, 'chunk_%06d.png' % first), '--quiet'] + args_row
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    dt = time.perf_counter() - t0
    tensors, meta = st.load(raw)
    x = evmod.to_uint8(tensors['x'])
    device = meta.get('device', '')  # clsde sample names the device it drew on
    if len(x) != total:
        raise RuntimeError('%s holds %d images, not %d' % (raw, len(x), total))
    for f, cnt, out, _ in run:
        with open(out + '.part', 'wb') as fh:
            # seconds: this chunk's share of the run's wall time
            np.savez_compressed(fh, x=x[f - first:f - first + cnt],
                                seconds=np.float64(dt * cnt / total),
                                threads=np.int64(threads), device=np.str_(device))
        os.replace(out + '.part', out)
    os.unlink(raw)
    log('%s: images %d..%d in %.1f s' % (os.path.dirname(run[0][2]), first,
                                           first + total - 1, dt))
    return dt


def held(tmpdir, name):
    """Whether a live process holds the chunk's lock."""
    path = os.path.join(tmpdir, 'locks', name + '.lock')
    if not os.path.exists(path):
        return False
    fd = try_flock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def draw_nll(clsde, model, data, rowdir, tmpdir, n, chunk, seed, log):
    """bpd of test images 0..n-1 in chunks, kept as STATE/nll/chunk_<first>_<count>.csv."""
    os.makedirs(tmpdir, exist_ok=True)
    for first in range(0, n, chunk):
        cnt = min(chunk, n - first)
        out = os.path.join(rowdir, 'chunk_%06d_%d.csv' % (first, cnt))
        if os.path.exists(out):
            continue
        lock = claim(os.path.join(tmpdir, 'locks'), os.path.basename(out))
        if lock is None:
            continue
        try:
            if os.path.exists(out):
                continue
            threads = thread_limit()
            t0 = time.perf_counter()
            subprocess.run([clsde, 'likelihood', '--model', model, '--data', data, '--first',
                            str(first), '-n', str(cnt), '--batch', str(cnt), '--seed', str(seed),
                            '--out', out + '.part', '--quiet'], check=True,
                           stdout=subprocess.DEVNULL)
            dt = time.perf_counter() - t0
            with open(out + '.part', 'a') as f:
                f.write('# seconds %.3f threads %s\n'
                        % (dt, threads))
            os.replace(out + '.part', out)
            log('%s: test images %d..%d in %.1f s' % (rowdir, first, first + cnt - 1, dt))
        finally:
            lock.release()


def gather_nll(rowdir, n, chunk, partial):
    """(bpd array of the chunks present, seconds)."""
    bpd, seconds = [], 0.0
    for first in range(0, n, chunk):
        path = os.path.join(rowdir, 'chunk_%06d_%d.csv' % (first, min(chunk, n - first)))
        if not os.path.exists(path):
            if partial:
                break
            sys.exit('quality.py: %s is missing (another worker still drawing it?)' % path)
        with open(path) as f:
            for line in f:
                if line.startswith('# seconds'):
                    seconds += float(line.split()[2])
                elif line[:1].isdigit():
                    bpd.append(float(line.split(',')[1]))
    return np.array(bpd), seconds


def gather(rowdir, n, chunk, partial):
    """(uint8 images of the chunks present, seconds, timing); without partial all of
    0..n-1 must be there; with it, every chunk there is (images are independent by index,
    so a hole left by a worker still drawing does not hide the chunks after it).
    timing maps each kind of chunk, (threads, device): POCL_MAX_PTHREAD_COUNT of its worker
    (0: none set, e.g. a GPU) and the device `clsde sample` named ('' in chunks drawn
    before it did), to [images, seconds], so that rows drawn on mixed devices report each."""
    parts, seconds, timing = [], 0.0, {}
    for first in range(0, n, chunk):
        path = chunk_path(rowdir, first, min(chunk, n - first))
        if not os.path.exists(path):
            if partial:
                continue
            sys.exit('quality.py: %s is missing (another worker still drawing it?)' % path)
        with np.load(path) as z:
            parts.append(z['x'])
            seconds += float(z['seconds'])
            device = str(z['device']) if 'device' in z.files else ''
            t = timing.setdefault((int(z['threads']), device), [0, 0.0])
            t[0] += len(z['x'])
            t[1] += float(z['seconds'])
    if not parts:
        return None, 0.0, timing
    return np.concatenate(parts), seconds, timing


def per_image(timing):
    """The s/image cell: seconds per image of the one-thread chunks (the reference cost
    here), with each other kind of chunk named with its own share and rate (by its device
    where the chunk names one); a row with no one-thread chunk says what its figure is."""
    def what(key):
        threads, device = key
        if device:
            return 'on ' + device
        return 'with %d threads' % threads if threads else \
            'with no thread limit: all cores or a GPU'

    one = [0, 0.0]
    for (threads, _), t in timing.items():
        if threads == 1:
            one[0] += t[0]
            one[1] += t[1]
    others = [(k, t) for k, t in sorted(timing.items()) if k[0] != 1 and t[0]]
    if not one[0]:
        return '; '.join('%.3f (%d images %s)' % (t[1] / t[0], t[0], what(k))
                         for k, t in others) or '—'
    cell = '%.3f' % (one[1] / one[0])
    if others:
        cell += ' (%d images; %s)' % (one[0], '; '.join(
            '%d more at %.3f %s' % (t[0], t[1] / t[0], what(k)) for k, t in others))
    return cell


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
    p.add_argument('--chunk', type=int, default=64, help='images per chunk file (default 64)')
    p.add_argument('--group', type=int, default=1,
                   help='chunks drawn together by one clsde run as one batch (default 1; '
                        'a GPU wants more)')
    p.add_argument('--deadline', type=float,
                   help='do not start a clsde run that would end after this time (seconds '
                        'since the epoch, as date +%%s), judged by the last run of the row')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--rows', default=','.join(ROWS))
    p.add_argument('--nll-n', type=int, default=256, help='test images for the NLL (256)')
    p.add_argument('--nll-chunk', type=int, default=16, help='images per likelihood run')
    p.add_argument('--state', help='where the chunks are kept (default '
                   'quality-state/<model file name>)')
    p.add_argument('--workdir', default='build/quality', help='temporary files and locks')
    p.add_argument('--clsde', default='build/src/clsde')
    p.add_argument('--draw-only', action='store_true', help='draw missing chunks, no table')
    p.add_argument('--partial', action='store_true',
                   help='score the chunks drawn so far instead of requiring all --n images')
    p.add_argument('--score-only', action='store_true',
                   help='draw nothing: score the chunks there are (implies --partial), e.g. '
                        'while workers run')
    args = p.parse_args()
    if args.chunk < 1 or args.group < 1:
        p.error('--chunk and --group must be at least 1')
    if args.score_only:
        if args.draw_only:
            p.error('--score-only and --draw-only exclude each other')
        args.partial = True

    def log(msg):
        print('quality.py: %s' % msg, file=sys.stderr, flush=True)

    rows = args.rows.split(',')
    for r in rows:
        if r not in ROWS:
            p.error('unknown row %r (rows: %s)' % (r, ', '.join(ROWS)))
    state = args.state or os.path.join(
        'quality-state', os.path.splitext(os.path.basename(args.model))[0])
    os.makedirs(args.workdir, exist_ok=True)
    n_scales = model_config(args.model)['model']['num_scales']
    settings = {
        'pc': (args.model, [], 'PC, config default (N = %d)' % n_scales),
        'pc_n4': (args.model, ['--steps', str(n_scales // 4)],
                  'PC, N = %d' % (n_scales // 4)),
        'ode': (args.model, ['--sampler', 'ode'], 'ODE (RK45, rtol = atol = 1e-5)'),
        'untrained': (None, ['--steps', str(max(2, n_scales // 40))],
                      'untrained (step 0), PC N = %d' % max(2, n_scales // 40)),
    }
    results, nll = [], None
    out_of_time = False
    for r in rows:
        if r == 'nll':
            rowdir = os.path.join(state, r)
            check_row(rowdir, {'model': os.path.basename(args.model),
                               'model_sha256': sha256(args.model), 'data': args.data,
                               'seed': args.seed, 'chunk': args.nll_chunk})
            if not args.score_only:
                draw_nll(args.clsde, args.model, args.data, rowdir,
                         os.path.join(args.workdir, r), args.nll_n, args.nll_chunk, args.seed,
                         log)
            if not args.draw_only:
                bpd, sec = gather_nll(rowdir, args.nll_n, args.nll_chunk, args.partial)
                if len(bpd):
                    nll = {'n': len(bpd), 'mean': float(bpd.mean()), 'seconds': sec,
                           'sem': float(bpd.std(ddof=1) / np.sqrt(len(bpd)))
                           if len(bpd) > 1 else float('nan')}
            continue
        model, extra, label = settings[r]
        rowdir = os.path.join(state, r)
        if args.score_only and not os.path.isdir(rowdir):
            log('%s: no chunks yet' % r)
            continue
        if model is None:
            if args.score_only and not os.path.exists(
                    os.path.join(args.workdir, 'untrained.safetensors')):
                # its chunks are there; making the model to check row.json needs torch
                log('%s: scored without checking row.json (no %s/untrained.safetensors; '
                    'a drawing run makes it)' % (r, args.workdir))
            else:
                model = untrained_model(args.model, args.workdir)
        if model is not None:
            check_row(rowdir, {'model': os.path.basename(model),
                               'model_sha256': sha256(model), 'sample_args': extra,
                               'seed': args.seed, 'chunk': args.chunk})
        if not args.score_only and not out_of_time:
            try:
                draw(args.clsde, model, extra, rowdir, os.path.join(args.workdir, r), args.n,
                     args.chunk, args.seed, log, args.group, Pace(args.deadline))
            except OutOfTime as e:
                log('%s: %s' % (r, e))
                out_of_time = True
        if args.draw_only:
            continue
        x, sec, timing = gather(rowdir, args.n, args.chunk, args.partial)
        if x is None:
            log('%s: no chunks yet' % r)
            continue
        npy = os.path.join(args.workdir, r + '.npy')
        np.save(npy, x)
        ev = evaluate(args.data, npy)
        ev.update(row=r, label=label, seconds=sec,
                  timing={str(k): v for k, v in sorted(timing.items())},
                  per_image=per_image(timing))
        results.append(ev)
        log('%s: %d images, FD %.3f IS %.3f (%.1f s)' % (r, len(x), ev['fd'], ev['is'], sec))
    if args.draw_only:
        return
    base = evaluate(args.data, None, ['--baseline', '--n', str(args.n)])
    with open(os.path.join(args.workdir, 'quality.json'), 'w') as f:
        json.dump({'rows': results, 'baseline': base, 'n': args.n, 'model': args.model,
                   'nll': nll}, f, indent=1)

    def ratio(v):
        return 'inf' if v is None else '%.2f' % v

    short = [e['label'] for e in results if e['n'] < args.n]
    print('%s%d images per row, classifier %s (test accuracy %.4f), FD against the %s set '
          '(%d images); seed %d'
          % ('up to ' if short else '', args.n, base['classifier'],
             base['classifier_test_accuracy'], base['reference'], base['n_reference'],
             args.seed))
    if short:
        print('Partial rows (n < %d; FD is biased upward at small n, compare rows at equal '
              'n): %s' % (args.n, ', '.join(short)))
    print()
    print('| images | n | FD ↓ | IS ↑ | class max/min | class counts | s/image (1 thread) |')
    print('|---|---|---|---|---|---|---|')
    for b in base['rows']:
        if b['name'].startswith(('train,', 'test,', 'noise U')):
            print('| %s | %d | %.3f | %.3f | %s | %s | — |'
                  % (b['name'], b['n'], b['fd'], b['is'], ratio(b['class_max_min']),
                     ' '.join(str(c) for c in b.get('class_counts', []))))
    for e in results:
        print('| %s | %d | %.3f | %.3f | %s | %s | %s |'
              % (e['label'], e['n'], e['fd'], e['is'], ratio(e['class_max_min']),
                 ' '.join(str(c) for c in e['class_counts']), e['per_image']))

    if nll:
        print()
        print('NLL of the first %d %s test images: %.4f +- %.4f bits/dim (mean +- standard '
              'error; %.1f s/image)' % (nll['n'], args.data, nll['mean'], nll['sem'],
                                         nll['seconds'] / nll['n']))


if __name__ == '__main__':
    main()
