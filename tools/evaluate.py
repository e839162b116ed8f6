#!/usr/bin/python3
"""Sample quality for MNIST / Fashion-MNIST models without Inception weights.

algorithms.md §8.2 measures CIFAR-10 samples with Inception features; this tool keeps that
protocol and swaps the network for the small classifier of tools/classifier.py:
  FD   Fréchet distance between Gaussians fitted to the classifier's 128-d penultimate
       features of the samples and of a reference split (float64, unbiased covariances)
  IS   classifier-based Inception Score exp(E_x KL(p(y|x) || p(y))), all samples, one split
  classes  histogram of predicted classes and its max/min ratio (mode dropping shows here)
Numbers are comparable only between runs of the same classifier file and the same sample
count (FD is biased upwards by about 1/N), so every report also gives the FD of as many
training images: the floor at that N.

  tools/evaluate.py --data mnist --samples x.safetensors [--reference test|train] [--json]
  tools/evaluate.py --data mnist --samples grid.png --grid-cell 32
  tools/evaluate.py --data mnist --baseline [--n 10000] [--json]
"""
import argparse
import glob
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import classifier as clsmod  # noqa: E402
import clsde_safetensors as st  # noqa: E402

SEED = 0          # random training subsets and noise images
FLOOR_N = 10000   # training images in the baseline's floor row


class InputError(Exception):
    """A samples file we cannot read or that does not hold MNIST-shaped images."""


# ---------------------------------------------------------------------------------------------
# Reading samples: every reader returns uint8 [N, 1, 32, 32].

def to_uint8(x):
    """Sampler output in [0, 1] -> uint8 exactly as the reference before Inception
    (algorithms.md §3.3): floor(clip(255 x, 0, 255)), the product taken in float32 as numpy
    does for a float32 array; NaN -> 0, as clsde's png_to_u8."""
    v = np.asarray(x, dtype=np.float32) * np.float32(255)
    v = np.where(np.isnan(v), np.float32(0), v)
    return np.floor(np.clip(v, 0, 255)).astype(np.uint8)


def _normalise_shape(a, what):
    """[N,1,H,W], [N,H,W] or [N,H,W,1] (also 3 equal channels) -> [N,1,32,32]; 28x28 images
    are zero-padded 2 px a side as the training data is."""
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim == 4 and a.shape[1] not in (1, 3) and a.shape[3] in (1, 3):
        a = a.transpose(0, 3, 1, 2)
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise InputError('%s: shape %s, expected [N, 1, H, W]' % (what, list(a.shape)))
    if a.shape[1] == 3:
        if not (np.array_equal(a[:, 0], a[:, 1]) and np.array_equal(a[:, 0], a[:, 2])):
            raise InputError('%s: colour images; the classifier reads grey images' % what)
        a = a[:, :1]
    if a.shape[2:] == (28, 28):
        a = np.pad(a, ((0, 0), (0, 0), (2, 2), (2, 2)))
    if a.shape[2:] != (32, 32):
        raise InputError('%s: images are %dx%d, expected 32x32 (or 28x28)%s'
                         % (what, a.shape[2], a.shape[3],
                            '; a grid needs --grid-cell' if min(a.shape[2:]) > 32 else ''))
    if len(a) == 0:
        raise InputError('%s: no images' % what)
    return a


def _png_pixels(path):
    from PIL import Image
    try:
        with Image.open(path) as im:
            if im.mode in ('I;16', 'I;16B', 'I'):
                raise InputError('%s: 16-bit PNG; expected 8-bit grey' % path)
            arr = np.asarray(im.convert('RGB') if im.mode not in ('L', 'RGB') else im)
    except (OSError, SyntaxError) as e:
        raise InputError('%s: not a readable PNG (%s)' % (path, e))
    if arr.ndim == 3:
        if not (np.array_equal(arr[..., 0], arr[..., 1])
                and np.array_equal(arr[..., 0], arr[..., 2])):
            raise InputError('%s: colour image; the classifier reads grey images' % path)
        arr = arr[..., 0]
    return arr.astype(np.uint8)


def split_grid(img, cell, pad, what):
    """A grid as clsde's png_write_grid (and torchvision's make_grid) lays it out: cells of
    cell x cell px, `pad` px of zero border before, between and after them. Returns uint8
    [rows*cols, cell, cell] in row-major order, empty trailing cells included."""
    h, w = img.shape
    step = cell + pad
    cols, rows = (w - pad) // step, (h - pad) // step
    if cols < 1 or rows < 1 or cols * step + pad != w or rows * step + pad != h:
        raise InputError('%s: %dx%d px is not a grid of %d px cells with %d px borders'
                         % (what, w, h, cell, pad))
    border = np.ones((h, w), bool)
    cells = []
    for r in range(rows):
        for c in range(cols):
            y, x = pad + r * step, pad + c * step
            cells.append(img[y:y + cell, x:x + cell])
            border[y:y + cell, x:x + cell] = False
    if img[border].any():
        raise InputError('%s: non-zero pixels between cells: not a grid of %d px cells with '
                         '%d px borders (see --grid-cell, --grid-pad)' % (what, cell, pad))
    return np.stack(cells)


def read_samples(path, grid_cell=None, grid_pad=2, count=None, log=None):
    """Samples at path as uint8 [N, 1, 32, 32]: a directory of PNGs (sorted by name), one
    PNG, a .safetensors file with tensor 'x' [N,1,H,W] (float: sampler output in [0,1],
    converted by to_uint8; U8: taken as is) or a .npy array (same rule). With grid_cell,
    each PNG is a grid (split_grid). count keeps the first count images; without it,
    all-zero cells at the end of a grid's last row are taken as unused and dropped (said
    through log)."""
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, '*.png')))
        if not files:
            raise InputError('%s: no .png files in the directory' % path)
    elif not os.path.exists(path):
        raise InputError('%s: no such file or directory' % path)
    else:
        files = [path]
    ext = os.path.splitext(path)[1].lower()
    if os.path.isdir(path) or ext == '.png':
        pngs = [(f, _png_pixels(f)) for f in files]
        if grid_cell:
            parts = []
            for f, img in pngs:
                cells = split_grid(img, grid_cell, grid_pad, f)
                if count is None:
                    cols = (img.shape[1] - grid_pad) // (grid_cell + grid_pad)
                    keep = len(cells)
                    while keep > len(cells) - cols + 1 and not cells[keep - 1].any():
                        keep -= 1
                    if keep < len(cells) and log:
                        log('%s: %d empty cell(s) at the end of the grid ignored (--count sets '
                            'the number of images)' % (f, len(cells) - keep))
                    cells = cells[:keep]
                parts.append(cells)
            a = np.concatenate(parts)
        else:
            if len({img.shape for _, img in pngs}) > 1:
                raise InputError('%s: PNGs of different sizes' % path)
            a = np.stack([img for _, img in pngs])
    elif ext == '.safetensors':
        try:
            tensors, _ = st.load(path)
        except st.SafetensorsError as e:
            raise InputError(str(e))
        if 'x' not in tensors:
            raise InputError("%s: no tensor 'x' (has %s)" % (path, ', '.join(tensors) or 'none'))
        a = tensors['x']
    elif ext == '.npy':
        try:
            a = np.load(path, allow_pickle=False)
        except ValueError as e:
            raise InputError('%s: %s' % (path, e))
    else:
        raise InputError('%s: expected a directory, .png, .safetensors or .npy' % path)
    if a.dtype.kind == 'f':
        a = to_uint8(a)   # float64/float16 are rounded to float32 first, as sampler output
    elif a.dtype != np.uint8:
        raise InputError('%s: dtype %s; expected float in [0,1] or uint8' % (path, a.dtype))
    a = _normalise_shape(a, path)
    if count is not None:
        if count > len(a):
            raise InputError('%s: --count %d but only %d images' % (path, count, len(a)))
        a = a[:count]
    return np.ascontiguousarray(a)


# ---------------------------------------------------------------------------------------------
# Statistics.

def fit_gaussian(features):
    """Mean and unbiased covariance (ddof 1, as TF-GAN and pytorch-fid) in float64."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), float64.

    (S1 S2)^(1/2) by scipy.linalg.sqrtm, handled as pytorch-fid does: if the result is not
    finite (a near-singular product, e.g. dead ReLU units), retry with eps added to both
    diagonals; a complex result must have |imag| <= 1e-3 on the diagonal, and only the real
    part is kept. May come out slightly negative (~ -1e-10) for identical statistics."""
    from scipy import linalg  # here, so that reading samples needs numpy only
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    # scipy's error estimate divides by ||S1 S2||, which is 0 for constant images: quiet.
    with np.errstate(invalid='ignore', divide='ignore'):
        covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean, _ = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset), disp=False)
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError('sqrtm(S1 S2) has imaginary diagonal up to %g'
                             % np.max(np.abs(np.diagonal(covmean).imag)))
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def inception_score(logits):
    """exp(mean_x KL(p(y|x) || p(y))) over all rows at once (one split, as TF-GAN's
    classifier_score_from_logits that the reference uses), p(y) the mean of p(y|x)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    log_py = np.log(p.mean(axis=0))
    return float(np.exp(np.mean(np.sum(p * (logp - log_py), axis=1))))


def class_histogram(logits):
    """(counts of the arg-max class [10], max/min ratio or None when a class is missing)."""
    counts = np.bincount(np.asarray(logits).argmax(axis=1), minlength=10)
    return counts.tolist(), (float(counts.max() / counts.min()) if counts.min() > 0 else None)


# ---------------------------------------------------------------------------------------------

class Evaluator:
    """One classifier and one reference split; features are computed once per image set."""

    def __init__(self, data, model=None, reference='test', data_dir=None):
        self.data, self.reference, self.data_dir = data, reference, data_dir
        self.model_path = model or clsmod.default_model_path(data)
        self.clf = clsmod.Classifier(self.model_path)
        if self.clf.meta.get('data') not in (None, data):
            raise InputError('%s is a classifier for %s, not %s'
                             % (self.model_path, self.clf.meta['data'], data))
        self._train = None
        ref, _ = clsmod.load_split(data, reference, data_dir)
        self.n_reference = len(ref)
        self.ref_feats, self.ref_logits = self.features(ref)
        self.ref_stats = fit_gaussian(self.ref_feats)

    def features(self, imgs_u8):
        return self.clf.forward(imgs_u8.astype(np.float32) / 255)

    def train_images(self):
        if self._train is None:
            self._train, _ = clsmod.load_split(self.data, 'train', self.data_dir)
        return self._train

    def other_split(self, n, rng):
        """n random images of the split that is not the reference: the floor at n."""
        if self.reference == 'test':
            imgs = self.train_images()
            return imgs[rng.choice(len(imgs), size=n, replace=False)], 'train, %d random' % n
        imgs, _ = clsmod.load_split(self.data, 'test', self.data_dir)
        return imgs[rng.choice(len(imgs), size=min(n, len(imgs)), replace=False)], \
            'test, %d random' % min(n, len(imgs))

    def score(self, imgs_u8=None, feats=None, logits=None):
        """FD, IS and class histogram of uint8 images (or of their features and logits)."""
        if imgs_u8 is not None:
            feats, logits = self.features(imgs_u8)
        counts, ratio = class_histogram(logits)
        return {'n': int(len(feats)),
                'fd': frechet_distance(*fit_gaussian(feats), *self.ref_stats),
                'is': inception_score(logits),
                'class_counts': counts, 'class_max_min': ratio}

    def header(self):
        return {'data': self.data, 'classifier': os.path.relpath(self.model_path),
                'classifier_test_accuracy': float(self.clf.meta.get('test_accuracy', 'nan')),
                'reference': self.reference, 'n_reference': self.n_reference}


def baseline_rows(ev, n):
    """The reference rows: the floor (other split), and images no model should produce."""
    rng = np.random.default_rng(SEED)
    other, name = ev.other_split(n, rng)
    rows = [(name, other)]
    noisy = other.astype(np.float32) / 255 + rng.normal(0, 0.1, other.shape).astype(np.float32)
    rows.append(('%s + N(0, 0.1^2) pixel noise' % name.split(',')[0], to_uint8(noisy)))
    shape = (n, 1, 32, 32)
    rows.append(('noise U[0,1]', to_uint8(rng.random(shape, dtype=np.float32))))
    rows.append(('noise N(0.5, 0.25^2) clipped',
                 to_uint8(rng.normal(0.5, 0.25, shape).astype(np.float32))))
    rows.append(('blank (all 0)', np.zeros(shape, np.uint8)))
    itself = dict(name='%s set itself' % ev.reference,
                  **ev.score(feats=ev.ref_feats, logits=ev.ref_logits))
    return [itself] + [dict(name=nm, **ev.score(imgs)) for nm, imgs in rows]


def _fmt_ratio(r):
    return '%.2f' % r if r is not None else 'inf'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', choices=clsmod.DATASETS, required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument('--samples', help='PNG directory, PNG (grid with --grid-cell), '
                   '.safetensors (tensor x) or .npy')
    g.add_argument('--baseline', action='store_true', help='print the reference rows')
    p.add_argument('--reference', choices=('test', 'train'), default='test',
                   help='split the features are compared with (train: all 60k images)')
    p.add_argument('--grid-cell', type=int, help='PNG input is a grid of cells of this size')
    p.add_argument('--grid-pad', type=int, default=2, help='grid border, px (default 2)')
    p.add_argument('--count', type=int, help='use the first COUNT images')
    p.add_argument('--n', type=int, default=FLOOR_N, help='images per baseline row')
    p.add_argument('--classifier', help='default models/classifier_<data>.safetensors')
    p.add_argument('--data-dir', help='default $CLSDE_DATA or ../shared/data')
    p.add_argument('--json', action='store_true', help='print one JSON object')
    args = p.parse_args(argv)

    def log(msg):
        print('evaluate.py: %s' % msg, file=sys.stderr)

    try:
        samples = None
        if args.samples:
            samples = read_samples(args.samples, args.grid_cell, args.grid_pad, args.count, log)
        ev = Evaluator(args.data, args.classifier, args.reference, args.data_dir)
        out = ev.header()
        if args.baseline:
            out['rows'] = baseline_rows(ev, args.n)
        else:
            out['samples'] = args.samples
            out.update(ev.score(samples))
            floor, name = ev.other_split(len(samples), np.random.default_rng(SEED))
            out['fd_floor'] = ev.score(floor)['fd']
            out['fd_floor_set'] = name
    except (InputError, OSError, ValueError, st.SafetensorsError) as e:
        log(str(e))
        return 1

    if args.json:
        print(json.dumps(out))
        return 0
    print('classifier %s (%s, test accuracy %.4f); reference: %s set, %d images'
          % (out['classifier'], out['data'], out['classifier_test_accuracy'], out['reference'],
             out['n_reference']))
    if args.baseline:
        print('%-36s %6s %10s %7s %8s' % ('images', 'n', 'FD', 'IS', 'max/min'))
        for r in out['rows']:
            print('%-36s %6d %10.4f %7.3f %8s' % (r['name'], r['n'], r['fd'], r['is'],
                                                 _fmt_ratio(r['class_max_min'])))
    else:
        print('samples   %s: %d images' % (out['samples'], out['n']))
        print('FD        %.4f   (floor: %s images give %.4f)'
              % (out['fd'], out['fd_floor_set'], out['fd_floor']))
        print('IS        %.3f    (of 10 classes)' % out['is'])
        print('classes   %s   max/min %s'
              % (' '.join(str(c) for c in out['class_counts']), _fmt_ratio(out['class_max_min'])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
