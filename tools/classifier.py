#!/usr/bin/python3
"""Small CNN classifier for MNIST / Fashion-MNIST: the feature extractor of tools/evaluate.py.

FID needs Inception weights we cannot ship; this 188k-parameter network, trained here on the
60k training images, stands in for it (features for a Fréchet distance, logits for a
classifier-based Inception Score). Training needs torch; using a trained file needs only numpy
(Classifier below runs the forward pass in numpy, so evaluation does not depend on torch).

  /usr/bin/python3 tools/classifier.py train --data mnist -o models/classifier_mnist.safetensors
  /usr/bin/python3 tools/classifier.py test --data mnist    # accuracy of the shipped file

Input: [N, 1, 32, 32] float32 in [0, 1]: the 28x28 images zero-padded 2 px a side, as
tools/train.py pads them for the generative model, divided by 255.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clsde_safetensors as st  # noqa: E402

DATASETS = ('mnist', 'fashion-mnist')
SIZE = 32       # generative model's image size; the 28x28 data is zero-padded to it
FEATURES = 128  # penultimate width: the Fréchet-distance features

# The network as data: (tensor name, shape). Every conv is 3x3, stride 1, zero pad 1, then ReLU
# and 2x2 max-pooling (32 -> 16 -> 8 -> 4) (trained with BatchNorm after each conv, folded into
# the conv's weights and bias when saved); fc1 reads the [64, 4, 4] map flattened in C, H, W
# order (torch's order), fc1 + ReLU is the feature layer, fc2 gives the 10 logits.
ARCH = [
    ('conv1.weight', (32, 1, 3, 3)), ('conv1.bias', (32,)),
    ('conv2.weight', (64, 32, 3, 3)), ('conv2.bias', (64,)),
    ('conv3.weight', (64, 64, 3, 3)), ('conv3.bias', (64,)),
    ('fc1.weight', (FEATURES, 64 * 4 * 4)), ('fc1.bias', (FEATURES,)),
    ('fc2.weight', (10, FEATURES)), ('fc2.bias', (10,)),
]
ARCH_TEXT = ('input [N,1,32,32] in [0,1]; conv3x3(1->32,pad 1)+ReLU+maxpool2; '
             'conv3x3(32->64)+ReLU+maxpool2; conv3x3(64->64)+ReLU+maxpool2 (each conv trained '
             'with BatchNorm, folded into its weights and bias); flatten (C,H,W) 1024; '
             'fc1 1024->128 + ReLU = features; (dropout 0.3 in training only); fc2 128->10 = logits')


def default_data_dir():
    """$CLSDE_DATA, else ../shared/data beside the repository (where the data sets live)."""
    return os.environ.get('CLSDE_DATA') or os.path.join(os.path.dirname(HERE), '..', 'shared',
                                                        'data')


def default_model_path(data):
    return os.path.join(os.path.dirname(HERE), 'models', 'classifier_%s.safetensors' % data)


def _read_idx(path, magic_want, ndim):
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    hdr = 4 + 4 * ndim
    if len(raw) < hdr:
        raise ValueError('%s: %d bytes, too short for an IDX header' % (path, len(raw)))
    magic, *dims = (int(v) for v in np.frombuffer(raw[:hdr], dtype='>u4'))
    if magic != magic_want:
        raise ValueError('%s: IDX magic %#x, expected %#x' % (path, magic, magic_want))
    if len(raw) != hdr + int(np.prod(dims)):
        raise ValueError('%s: %d data bytes, header says %s' % (path, len(raw) - hdr, dims))
    return np.frombuffer(raw[hdr:], dtype=np.uint8).reshape(dims)


def load_split(data, split, data_dir=None):
    """(images uint8 [N, 1, 32, 32] zero-padded 2 px a side, labels uint8 [N]) of
    data in DATASETS, split 'train' (60k) or 'test' (10k), read from the gzipped IDX files."""
    if data not in DATASETS:
        raise ValueError("data set '%s': expected one of %s" % (data, ', '.join(DATASETS)))
    d = os.path.join(data_dir or default_data_dir(), data)
    prefix = {'train': 'train', 'test': 't10k'}[split]
    imgs = _read_idx(os.path.join(d, prefix + '-images-idx3-ubyte.gz'), 0x803, 3)
    labels = _read_idx(os.path.join(d, prefix + '-labels-idx1-ubyte.gz'), 0x801, 1)
    if len(imgs) != len(labels) or imgs.shape[1:] != (28, 28):
        raise ValueError('%s %s: %s images, %d labels' % (data, split, imgs.shape, len(labels)))
    return np.pad(imgs, ((0, 0), (2, 2), (2, 2)))[:, None], labels


def _conv3x3_relu_pool(x, w, b):
    """x [N, H, W, C] (channels last, so im2col rows are contiguous), w [O, C, 3, 3], b [O]
    -> [N, H/2, W/2, O]: zero-padded 3x3 convolution (cross-correlation, as torch), ReLU,
    2x2 max-pool."""
    n, h, wd, c = x.shape
    o = w.shape[0]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = sliding_window_view(xp, (3, 3), axis=(1, 2))      # [N, H, W, C, 3, 3]
    y = cols.reshape(n * h * wd, c * 9) @ w.reshape(o, c * 9).T + b
    np.maximum(y, 0, out=y)
    return y.reshape(n, h // 2, 2, wd // 2, 2, o).max(axis=(2, 4))


class Classifier:
    """A trained classifier file, run in numpy (float32, as torch computes it)."""

    def __init__(self, path):
        tensors, self.meta = st.load(path)
        self.path = path
        for name, shape in ARCH:
            if name not in tensors:
                raise ValueError('%s: tensor %s missing' % (path, name))
            if tuple(tensors[name].shape) != shape:
                raise ValueError('%s: tensor %s has shape %s, expected %s'
                                 % (path, name, list(tensors[name].shape), list(shape)))
        extra = set(tensors) - {n for n, _ in ARCH}
        if extra:
            raise ValueError('%s: unexpected tensors %s' % (path, sorted(extra)))
        self.w = {k: st.to_float32(v) for k, v in tensors.items()}

    def forward(self, x, batch=256):
        """x float [N, 1, 32, 32] in [0, 1] -> (features float32 [N, 128], logits [N, 10])."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != (1, SIZE, SIZE):
            raise ValueError('classifier input must be [N, 1, %d, %d], got %s'
                             % (SIZE, SIZE, list(x.shape)))
        w = self.w
        feats = np.empty((len(x), FEATURES), np.float32)
        logits = np.empty((len(x), 10), np.float32)
        for i in range(0, len(x), batch):
            h = x[i:i + batch].transpose(0, 2, 3, 1)
            for k in ('conv1', 'conv2', 'conv3'):
                h = _conv3x3_relu_pool(h, w[k + '.weight'], w[k + '.bias'])
            h = h.transpose(0, 3, 1, 2).reshape(len(h), -1)     # torch flattens C, H, W
            f = np.maximum(h @ w['fc1.weight'].T + w['fc1.bias'], 0)
            feats[i:i + batch] = f
            logits[i:i + batch] = f @ w['fc2.weight'].T + w['fc2.bias']
        return feats, logits


def _torch_net():
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
            self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
            self.conv3 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
            self.bn1, self.bn2, self.bn3 = nn.BatchNorm2d(32), nn.BatchNorm2d(64), nn.BatchNorm2d(64)
            self.fc1 = nn.Linear(64 * 4 * 4, FEATURES)
            self.fc2 = nn.Linear(FEATURES, 10)
            self.drop = nn.Dropout(0.3)

        def forward(self, x):
            import torch.nn.functional as F
            for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2),
                             (self.conv3, self.bn3)):
                x = F.max_pool2d(F.relu(bn(conv(x))), 2)
            return self.fc2(self.drop(F.relu(self.fc1(x.flatten(1)))))

    return Net()


def _folded(net):
    """The trained net as ARCH tensors: each eval-mode BatchNorm folded into the conv before it
    (w * s, beta - mean * s with s = gamma / sqrt(var + eps)), so the file holds plain convs."""
    sd = {k: v.detach().double().numpy() for k, v in net.state_dict().items()}
    out = {}
    for i in (1, 2, 3):
        bn = 'bn%d.' % i
        s = sd[bn + 'weight'] / np.sqrt(sd[bn + 'running_var'] + getattr(net, 'bn%d' % i).eps)
        out['conv%d.weight' % i] = sd['conv%d.weight' % i] * s[:, None, None, None]
        out['conv%d.bias' % i] = sd[bn + 'bias'] - sd[bn + 'running_mean'] * s
    for k in ('fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'):
        out[k] = sd[k]
    return [(name, out[name].astype(np.float32)) for name, _ in ARCH]


def _shift(batch, rng, max_shift):
    """Random integer translation by up to max_shift px in each direction, zero fill: the
    padded frame has room for it, and samples are never perfectly centred."""
    n = len(batch)
    out = np.zeros_like(batch)
    m = max_shift
    padded = np.pad(batch, ((0, 0), (0, 0), (m, m), (m, m)))
    dy = rng.integers(0, 2 * m + 1, n)
    dx = rng.integers(0, 2 * m + 1, n)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + SIZE, dx[i]:dx[i] + SIZE]
    return out


def accuracy(clf, imgs, labels):
    _, logits = clf.forward(imgs.astype(np.float32) / 255)
    return float(np.mean(logits.argmax(1) == labels))


def train(args):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train, y_train = load_split(args.data, 'train', args.data_dir)
    x_test, y_test = load_split(args.data, 'test', args.data_dir)
    net = _torch_net()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps_per_epoch = (len(x_train) + args.batch - 1) // args.batch
    total = args.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, total) / total)))
    t0 = time.time()
    for epoch in range(args.epochs):
        net.train()
        perm = rng.permutation(len(x_train))
        loss_sum, correct = 0.0, 0
        for i in range(0, len(perm), args.batch):
            idx = perm[i:i + args.batch]
            xb = x_train[idx]
            if args.shift:
                xb = _shift(xb, rng, args.shift)
            xb = torch.from_numpy(xb.astype(np.float32) / 255)
            yb = torch.from_numpy(y_train[idx].astype(np.int64))
            out = net(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((out.argmax(1) == yb).sum())
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(torch.from_numpy(x_test[j:j + 1000].astype(np.float32) / 255))
                              .argmax(1) for j in range(0, len(x_test), 1000)])
        test_acc = float((pred.numpy() == y_test).mean())
        print('epoch %d: train loss %.4f, train acc %.4f, test acc %.4f (%.0f s)'
              % (epoch + 1, loss_sum / len(perm), correct / len(perm), test_acc,
                 time.time() - t0), flush=True)

    tensors = _folded(net)
    cmd = ('/usr/bin/python3 tools/classifier.py train --data %s -o %s --epochs %d --batch %d '
           '--lr %g --shift %d --seed %d --threads %d'
           % (args.data, os.path.relpath(args.output, os.path.dirname(HERE))
              if os.path.isabs(args.output) else args.output, args.epochs, args.batch, args.lr,
              args.shift, args.seed, args.threads))
    meta = {
        'clsde_classifier': '1',
        'architecture': ARCH_TEXT,
        'data': args.data,
        'input': 'float32 [N,1,32,32] = uint8 image / 255, 28x28 zero-padded 2 px a side',
        'features': 'fc1 after ReLU (128-d)',
        'training': ('%d epochs of the %d training images, batch %d, Adam lr %g with cosine '
                     'decay, random shifts up to %d px, dropout 0.3, seed %d, torch %s, %d thread(s)'
                     % (args.epochs, len(x_train), args.batch, args.lr, args.shift, args.seed,
                        torch.__version__, args.threads)),
        'train_command': cmd,
    }
    tmp = args.output + '.partial'
    st.save(tmp, tensors, meta)
    # The recorded accuracy is that of the numpy forward pass evaluate.py runs, not torch's.
    acc = accuracy(Classifier(tmp), x_test, y_test)
    os.unlink(tmp)
    if abs(acc - test_acc) > 2e-4:
        raise RuntimeError('numpy forward gives test accuracy %.4f, torch %.4f' % (acc, test_acc))
    meta['test_accuracy'] = '%.4f' % acc
    meta['test_set'] = '%s t10k, %d images' % (args.data, len(x_test))
    st.save(args.output, tensors, meta)
    print('%s: %s, test accuracy %.4f, %d parameters, %d bytes'
          % (args.output, args.data, acc, sum(t.size for _, t in tensors),
             os.path.getsize(args.output)))


def test(args):
    path = args.model or default_model_path(args.data)
    clf = Classifier(path)
    x_test, y_test = load_split(args.data, 'test', args.data_dir)
    acc = accuracy(clf, x_test, y_test)
    print('%s: test accuracy %.4f (recorded %s)' % (path, acc, clf.meta.get('test_accuracy')))
    print(json.dumps(clf.meta, indent=1) if args.verbose else '', end='')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    t = sub.add_parser('train', help='train on the 60k training images, save .safetensors')
    t.add_argument('--data', choices=DATASETS, required=True)
    t.add_argument('-o', '--output', required=True)
    t.add_argument('--epochs', type=int, default=5)
    t.add_argument('--batch', type=int, default=128)
    t.add_argument('--lr', type=float, default=1e-3)
    t.add_argument('--shift', type=int, default=2, help='max random translation, px (0: none)')
    t.add_argument('--seed', type=int, default=0)
    t.add_argument('--threads', type=int, default=1)
    t.add_argument('--data-dir', default=None, help='default $CLSDE_DATA or ../shared/data')
    e = sub.add_parser('test', help='test-set accuracy of a saved classifier (numpy only)')
    e.add_argument('--data', choices=DATASETS, required=True)
    e.add_argument('--model', help='default models/classifier_<data>.safetensors')
    e.add_argument('--data-dir', default=None)
    e.add_argument('-v', '--verbose', action='store_true', help='print the metadata')
    args = p.parse_args(argv)
    try:
        train(args) if args.cmd == 'train' else test(args)
    except (OSError, ValueError, st.SafetensorsError) as err:
        print('classifier.py: %s' % err, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
