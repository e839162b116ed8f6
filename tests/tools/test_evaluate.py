#!/usr/bin/python3
"""Tests for tools/evaluate.py and the shipped models/classifier_mnist.safetensors (unittest).

Run: /usr/bin/python3 tests/tools/test_evaluate.py   (exit status != 0 on failure; ~30 s)
Data: $CLSDE_DATA, else ../shared/data relative to the repository root (MNIST IDX files).
Needs numpy, scipy and PIL only; the classifier runs in numpy.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import classifier  # noqa: E402
import clsde_safetensors as st  # noqa: E402
import evaluate  # noqa: E402

N_TRAIN = 3000  # training images for the floor: enough to be far below the noise ceiling


class Metrics(unittest.TestCase):
    """The statistics alone, on numbers with known answers."""

    def test_fd_closed_form(self):
        # Commuting covariances Q D Q^T: FD = |mu1 - mu2|^2 + sum (sqrt(d1) - sqrt(d2))^2.
        rng = np.random.default_rng(1)
        q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
        d1, d2 = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
        mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
        fd = evaluate.frechet_distance(mu1, q @ np.diag(d1) @ q.T, mu2, q @ np.diag(d2) @ q.T)
        want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
        self.assertAlmostEqual(fd, want, places=9)

    def test_fd_constant_sets(self):
        # Zero covariance (every image the same): no NaN, no warning, just the mean term.
        z = np.zeros((4, 4))
        self.assertAlmostEqual(evaluate.frechet_distance(np.zeros(4), z, np.full(4, 2.0), z), 16)

    def test_fit_gaussian_unbiased(self):
        f = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]], np.float32)
        mu, sigma = evaluate.fit_gaussian(f)
        self.assertEqual(sigma.dtype, np.float64)
        np.testing.assert_allclose(mu, [2, 2])
        np.testing.assert_allclose(sigma, np.cov(f.astype(np.float64).T, ddof=1))
        self.assertAlmostEqual(sigma[0, 0], 4.0)  # (4 + 0 + 4) / (3 - 1)

    def test_is_limits(self):
        sure = np.eye(10)[np.arange(1000) % 10] * 60.0   # confident and balanced: IS -> 10
        self.assertAlmostEqual(evaluate.inception_score(sure), 10.0, places=6)
        self.assertAlmostEqual(evaluate.inception_score(np.tile(sure[3], (50, 1))), 1.0, places=9)
        self.assertAlmostEqual(evaluate.inception_score(np.zeros((7, 10))), 1.0, places=9)
        half = np.eye(10)[np.arange(1000) % 5] * 60.0    # 5 classes only: IS -> 5
        self.assertAlmostEqual(evaluate.inception_score(half), 5.0, places=6)

    def test_class_histogram(self):
        counts, ratio = evaluate.class_histogram(np.eye(10)[[0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
        self.assertEqual(counts, [3] + [1] * 9)
        self.assertEqual(ratio, 3.0)
        self.assertIsNone(evaluate.class_histogram(np.eye(10)[[1, 2]])[1])

    def test_uint8_truncates(self):
        x = np.array([0, 2.9 / 255, 0.5, 254.99 / 255, 1, 1.5, -0.2, np.nan, np.inf, -np.inf],
                     np.float32)
        self.assertEqual(evaluate.to_uint8(x).tolist(), [0, 2, 127, 254, 255, 255, 0, 0, 255, 0])
        # The product is float32, as the reference's numpy multiply of a float32 array.
        v = np.float32(np.nextafter(np.float32(3 / 255), np.float32(1)))
        self.assertEqual(evaluate.to_uint8(v)[()], int(np.floor(v * np.float32(255))))


class Inputs(unittest.TestCase):
    """Every input format gives back the same uint8 images."""

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(2)
        cls.u8 = rng.integers(0, 256, (5, 1, 32, 32), dtype=np.uint8)
        cls.u8[:, :, 0, 0] = 1  # no image is all zero (an all-zero grid cell counts as unused)
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def grid(self, imgs, cols, pad=2, cell=32):
        """The layout of src/cli/png_out.c's png_write_grid."""
        rows = (len(imgs) + cols - 1) // cols
        g = np.zeros((rows * (cell + pad) + pad, cols * (cell + pad) + pad), np.uint8)
        for i, im in enumerate(imgs):
            y, x = pad + (i // cols) * (cell + pad), pad + (i % cols) * (cell + pad)
            g[y:y + cell, x:x + cell] = im[0]
        return g

    def save_png(self, name, arr):
        from PIL import Image
        Image.fromarray(arr).save(self.path(name))
        return self.path(name)

    def test_float_formats_truncate(self):
        x = (self.u8.astype(np.float32) + 0.75) / 255     # floor(255 x) = u8, not a rounding
        st.save(self.path("s.safetensors"), [("x", x)], {})
        np.save(self.path("f.npy"), x)
        np.save(self.path("u.npy"), self.u8)
        for name in ("s.safetensors", "f.npy", "u.npy"):
            got = evaluate.read_samples(self.path(name))
            np.testing.assert_array_equal(got, self.u8, err_msg=name)

    def test_safetensors_needs_x(self):
        st.save(self.path("y.safetensors"), [("y", np.zeros((1, 1, 32, 32), np.float32))], {})
        with self.assertRaisesRegex(evaluate.InputError, "no tensor 'x'"):
            evaluate.read_samples(self.path("y.safetensors"))

    def test_png_directory(self):
        d = self.path("pngs")
        os.mkdir(d)
        for i, im in enumerate(self.u8):
            self.save_png(os.path.join("pngs", "%03d.png" % i), im[0])
        np.testing.assert_array_equal(evaluate.read_samples(d), self.u8)

    def test_png_grid(self):
        p = self.save_png("grid.png", self.grid(self.u8, cols=3))  # 2 rows, 1 empty cell
        notes = []
        got = evaluate.read_samples(p, grid_cell=32, log=notes.append)
        np.testing.assert_array_equal(got, self.u8)
        self.assertIn("1 empty cell", notes[0])
        np.testing.assert_array_equal(evaluate.read_samples(p, grid_cell=32, count=4), self.u8[:4])
        with self.assertRaisesRegex(evaluate.InputError, "not a grid|non-zero pixels"):
            evaluate.read_samples(p, grid_cell=28)

    def test_rgb_grid_and_28px(self):
        # An RGB PNG with equal channels is grey; 28x28 images get the 2 px zero frame.
        small = self.u8[:, :, 2:30, 2:30]
        p = self.save_png("rgb.png", np.repeat(self.grid(small, cols=5, cell=28)[..., None], 3, 2))
        want = np.pad(small, ((0, 0), (0, 0), (2, 2), (2, 2)))
        np.testing.assert_array_equal(evaluate.read_samples(p, grid_cell=28), want)

    def test_bad_shape(self):
        np.save(self.path("bad.npy"), np.zeros((2, 1, 16, 16), np.float32))
        with self.assertRaisesRegex(evaluate.InputError, "16x16"):
            evaluate.read_samples(self.path("bad.npy"))


class WithClassifier(unittest.TestCase):
    """The shipped MNIST classifier on real data: the floor, the ceiling, and the CLI."""

    @classmethod
    def setUpClass(cls):
        cls.ev = evaluate.Evaluator("mnist")          # features of the 10k test images
        train, _ = classifier.load_split("mnist", "train")
        idx = np.random.default_rng(0).choice(len(train), N_TRAIN, replace=False)
        cls.train = cls.ev.score(train[idx])
        rng = np.random.default_rng(0)
        cls.noise = cls.ev.score(evaluate.to_uint8(rng.random((2000, 1, 32, 32), np.float32)))
        cls.blank = cls.ev.score(np.zeros((500, 1, 32, 32), np.uint8))

    def test_accuracy_as_recorded(self):
        _, labels = classifier.load_split("mnist", "test")
        acc = np.mean(self.ev.ref_logits.argmax(1) == labels)
        self.assertGreaterEqual(acc, 0.99)
        self.assertAlmostEqual(acc, float(self.ev.clf.meta["test_accuracy"]), places=4)

    def test_fd_self_is_zero(self):
        fd = self.ev.score(feats=self.ev.ref_feats, logits=self.ev.ref_logits)["fd"]
        self.assertLess(abs(fd), 1e-6)

    def test_fd_floor_and_ceiling(self):
        print("\nFD test vs %d train: %.3f, vs 2000 uniform noise: %.1f, vs blank: %.1f"
              % (N_TRAIN, self.train["fd"], self.noise["fd"], self.blank["fd"]), file=sys.stderr)
        self.assertLess(self.train["fd"], 5.0)
        self.assertGreater(self.noise["fd"], 100 * self.train["fd"])
        self.assertGreater(self.blank["fd"], 100 * self.train["fd"])

    def test_is(self):
        is_test = self.ev.score(feats=self.ev.ref_feats, logits=self.ev.ref_logits)["is"]
        self.assertGreater(is_test, 9.5)
        self.assertLessEqual(is_test, 10.0)
        self.assertGreater(self.train["is"], 9.5)
        self.assertAlmostEqual(self.blank["is"], 1.0, places=6)   # constant images
        self.assertLess(self.noise["is"], 2.0)
        # Noise is called one or two classes: the histogram shows the collapse.
        ratio = self.noise["class_max_min"]
        self.assertTrue(ratio is None or ratio > 10, ratio)

    def test_cli_json(self):
        with tempfile.TemporaryDirectory() as d:
            test, _ = classifier.load_split("mnist", "test")
            x = (test[:200].astype(np.float32) + 0.5) / 255
            st.save(os.path.join(d, "x.safetensors"), [("x", x)], {})
            r = subprocess.run([sys.executable, os.path.join(TOOLS, "evaluate.py"), "--data",
                                "mnist", "--samples", os.path.join(d, "x.safetensors"),
                                "--json"], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout)
            self.assertEqual(out["n"], 200)
            self.assertEqual(out["n_reference"], 10000)
            self.assertEqual(sum(out["class_counts"]), 200)
            # 200 test images against all 10k: only the small-sample bias, like the floor's.
            self.assertLess(out["fd"], 3 * out["fd_floor"] + 1)
            for k in ("fd", "is", "class_max_min", "fd_floor", "classifier_test_accuracy"):
                self.assertIn(k, out)
            r = subprocess.run([sys.executable, os.path.join(TOOLS, "evaluate.py"), "--data",
                                "mnist", "--samples", os.path.join(d, "none.npy")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("none.npy: no such file", r.stderr)


if __name__ == "__main__":
    unittest.main()
