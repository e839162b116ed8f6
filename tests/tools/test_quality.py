#!/usr/bin/python3
"""Tests for tools/quality.py's chunk bookkeeping (unittest): chunk locks (claim, held,
release, a killed holder), drawing chunks through a stand-in for `clsde sample`, the
row.json guard, a second pass over a chunk whose worker died, and gathering a partial row.

Run: /usr/bin/python3 tests/tools/test_quality.py   (needs numpy; a few seconds)
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import quality  # noqa: E402

# A stand-in for `clsde sample`: images k of the call get the value k / 1000 (so chunks can
# be checked), written as --raw safetensors 'x' [n, 1, 4, 4], with the metadata key
# 'device' set to $FAKE_DEVICE if that is set (as clsde sample names its device).
FAKE = """#!%s
import os, sys
sys.path.insert(0, %r)
import numpy as np
import clsde_safetensors as st
a = sys.argv[1:]
first, n, raw = int(a[a.index('--first') + 1]), int(a[a.index('-n') + 1]), a[a.index('--raw') + 1]
x = np.zeros((n, 1, 4, 4), np.float32) + (first + np.arange(n, dtype=np.float32))[:, None, None, None] / 1000
dev = os.environ.get('FAKE_DEVICE')
st.save(raw, [('x', x)], {'device': dev} if dev else None)
""" % (sys.executable, TOOLS)


HOLDER = """import sys
sys.path.insert(0, %r)
import quality
lock = quality.claim(sys.argv[1], "c")
print("held" if lock else "refused", flush=True)
sys.stdin.read()
""" % TOOLS


class Locks(unittest.TestCase):
    def test_claim_held_released(self):
        with tempfile.TemporaryDirectory() as d:
            locks = os.path.join(d, "locks")
            self.assertFalse(quality.held(d, "c"))  # no lock file yet
            lock = quality.claim(locks, "c")
            self.assertIsNotNone(lock)
            with open(lock.path) as f:
                self.assertEqual(f.read(), str(os.getpid()))
            self.assertIsNone(quality.claim(locks, "c"))  # held (another descriptor)
            self.assertTrue(quality.held(d, "c"))
            lock.release()
            lock.release()  # twice is harmless
            self.assertFalse(quality.held(d, "c"))
            again = quality.claim(locks, "c")
            self.assertIsNotNone(again)  # released: free again, the file kept
            again.release()

    def test_killed_holder_frees_the_chunk(self):
        with tempfile.TemporaryDirectory() as d:
            locks = os.path.join(d, "locks")
            p = subprocess.Popen([sys.executable, "-c", HOLDER, locks], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
            try:
                self.assertEqual(p.stdout.readline().strip(), "held")
                self.assertTrue(quality.held(d, "c"))
                self.assertIsNone(quality.claim(locks, "c"))
            finally:
                p.kill()
                p.wait()
            self.assertFalse(quality.held(d, "c"))  # the kernel dropped the dead worker's lock
            lock = quality.claim(locks, "c")
            self.assertIsNotNone(lock)
            lock.release()


class Drawing(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        self.fake = os.path.join(self.d, "clsde")
        with open(self.fake, "w") as f:
            f.write(FAKE)
        os.chmod(self.fake, 0o755)
        self.row = os.path.join(self.d, "state", "pc")
        self.work = os.path.join(self.d, "work")
        self.log = []

    def tearDown(self):
        self.tmp.cleanup()

    def draw(self, n=5, chunk=2):
        quality.draw(self.fake, "m.safetensors", [], self.row, self.work, n, chunk, 1,
                     self.log.append)

    def test_chunks_and_gather(self):
        os.makedirs(self.row)
        self.draw()
        self.assertEqual(sorted(f for f in os.listdir(self.row)),
                         ["chunk_000000_2.npz", "chunk_000002_2.npz", "chunk_000004_1.npz"])
        x, seconds, timing = quality.gather(self.row, 5, 2, False)
        self.assertEqual(x.dtype, np.uint8)
        # image k: floor(255 * k / 1000) as evaluate.to_uint8
        np.testing.assert_array_equal(x[:, 0, 0, 0], np.floor(255 * np.arange(5) / 1000.0))
        self.assertGreater(seconds, 0)
        self.assertEqual(len(self.log), 3)
        self.draw()  # nothing left to draw
        self.assertEqual(len(self.log), 3)

    def test_timing_per_device(self):
        # chunks drawn with one PoCL thread (1) and on a GPU (0, no thread count set)
        os.makedirs(self.row)
        os.environ["POCL_MAX_PTHREAD_COUNT"] = "1"
        try:
            quality.draw(self.fake, "m", [], self.row, self.work, 4, 2, 1, self.log.append)
        finally:
            del os.environ["POCL_MAX_PTHREAD_COUNT"]
        os.unlink(os.path.join(self.row, "chunk_000002_2.npz"))
        quality.draw(self.fake, "m", [], self.row, self.work, 6, 2, 1, self.log.append, 2)
        _, seconds, timing = quality.gather(self.row, 6, 2, False)
        self.assertEqual(sorted(timing), [(0, ""), (1, "")])
        self.assertEqual(timing[1, ""][0], 2)
        self.assertEqual(timing[0, ""][0], 4)
        self.assertAlmostEqual(timing[0, ""][1] + timing[1, ""][1], seconds)
        cell = quality.per_image(timing)
        self.assertTrue(cell.startswith("%.3f (2 images; 4 more at " % (timing[1, ""][1] / 2)),
                        cell)
        self.assertTrue(cell.endswith("with no thread limit: all cores or a GPU)"), cell)
        # a chunk that names its device (as clsde sample's --raw does) is reported by it
        os.unlink(os.path.join(self.row, "chunk_000004_2.npz"))
        os.environ["FAKE_DEVICE"] = "Some GPU (Some platform, driver 1, 99 compute units)"
        try:
            quality.draw(self.fake, "m", [], self.row, self.work, 6, 2, 1, self.log.append)
        finally:
            del os.environ["FAKE_DEVICE"]
        _, _, timing = quality.gather(self.row, 6, 2, False)
        self.assertEqual(timing[0, "Some GPU (Some platform, driver 1, 99 compute units)"][0],
                         2)
        self.assertIn("2 more at %.3f on Some GPU (Some platform, driver 1, 99 compute units)"
                      % (timing[0, "Some GPU (Some platform, driver 1, 99 compute units)"][1]
                         / 2), quality.per_image(timing))
        # no one-thread chunk: the figure says what it is
        self.assertEqual(quality.per_image({(0, ""): [4, 2.0]}),
                         "0.500 (4 images with no thread limit: all cores or a GPU)")
        # other kinds: each named with its own rate; one-thread chunks of any device merge
        self.assertEqual(quality.per_image({(1, ""): [1, 1.0], (1, "cpu"): [1, 1.0],
                                            (0, ""): [4, 2.0], (2, ""): [1, 3.0]}),
                         "1.000 (2 images; 4 more at 0.500 with no thread limit: all cores "
                         "or a GPU; 1 more at 3.000 with 2 threads)")
        self.assertEqual(quality.per_image({}), "—")

    def test_partial_skips_a_hole(self):
        os.makedirs(self.row)
        self.draw()
        os.unlink(os.path.join(self.row, "chunk_000002_2.npz"))
        x, _, _ = quality.gather(self.row, 5, 2, True)  # chunks 0 and 4: the hole skipped
        np.testing.assert_array_equal(x[:, 0, 0, 0],
                                      np.floor(255 * np.array([0, 1, 4]) / 1000.0))
        with self.assertRaises(SystemExit):
            quality.gather(self.row, 5, 2, False)

    def test_dead_worker_chunk_drawn_on_a_second_pass(self):
        os.makedirs(self.row)
        # chunk 2 held by another worker (here: a lock this test holds) while the pass goes
        # by: skipped ...
        lock = quality.claim(os.path.join(self.work, "locks"), "chunk_000002_2.npz")
        self.assertFalse(quality.draw_pass(self.fake, "m", [], self.row, self.work, 5, 2, 1,
                                           self.log.append))
        self.assertFalse(os.path.exists(os.path.join(self.row, "chunk_000002_2.npz")))
        # ... then its worker dies (its lock drops): the next draw takes it over
        lock.release()
        self.draw()
        self.assertTrue(os.path.exists(os.path.join(self.row, "chunk_000002_2.npz")))

    def test_group_draws_consecutive_chunks_in_one_run(self):
        # chunks of 2 over 7 images, 3 chunks per run
        os.makedirs(self.row)
        quality.draw(self.fake, "m", [], self.row, self.work, 7, 2, 1, self.log.append, 3)
        self.assertEqual(sorted(os.listdir(self.row)),
                         ["chunk_000000_2.npz", "chunk_000002_2.npz", "chunk_000004_2.npz",
                          "chunk_000006_1.npz"])
        self.assertEqual(len(self.log), 2)
        self.assertIn("images 0..5", self.log[0])
        self.assertIn("images 6..6", self.log[1])
        x, _, _ = quality.gather(self.row, 7, 2, False)
        np.testing.assert_array_equal(x[:, 0, 0, 0], np.floor(255 * np.arange(7) / 1000.0))
        # a group with a chunk already there (another worker's) splits around it
        for c in ("chunk_000000_2.npz", "chunk_000004_2.npz"):
            os.unlink(os.path.join(self.row, c))
        self.log.clear()
        quality.draw(self.fake, "m", [], self.row, self.work, 7, 2, 1, self.log.append, 3)
        self.assertEqual(len(self.log), 2)
        self.assertIn("images 0..1", self.log[0])
        self.assertIn("images 4..5", self.log[1])
        y, _, _ = quality.gather(self.row, 7, 2, False)
        np.testing.assert_array_equal(x, y)
        for name in os.listdir(os.path.join(self.work, "locks")):  # every lock released
            self.assertFalse(quality.held(self.work, name[:-len(".lock")]))

    def test_deadline_stops_before_a_run_that_would_not_finish(self):
        os.makedirs(self.row)
        pace = quality.Pace(time.time() + 1000)
        pace.s_per_image = 1000.0  # the last run's pace: 2 images would take 2000 s
        with self.assertRaises(quality.OutOfTime):
            quality.draw(self.fake, "m", [], self.row, self.work, 5, 2, 1, self.log.append,
                         1, pace)
        self.assertEqual(os.listdir(self.row), [])  # nothing started
        self.assertFalse(quality.held(self.work, "chunk_000000_2.npz"))  # lock released
        # a fresh pace (no run yet) draws the first run, then judges by its speed
        pace = quality.Pace(time.time() + 1000)
        quality.draw(self.fake, "m", [], self.row, self.work, 5, 2, 1, self.log.append, 1, pace)
        self.assertEqual(len(os.listdir(self.row)), 3)
        self.assertIsNotNone(pace.s_per_image)
        self.assertLess(pace.s_per_image, 1000.0)

    def test_bad_thread_limit_fails_before_drawing(self):
        os.makedirs(self.row)
        old = os.environ.get("POCL_MAX_PTHREAD_COUNT")
        try:
            os.environ["POCL_MAX_PTHREAD_COUNT"] = "two"
            with self.assertRaises(SystemExit):
                self.draw()
            self.assertEqual(self.log, [])  # no run started
            os.environ["POCL_MAX_PTHREAD_COUNT"] = ""  # empty: no limit, recorded as 0
            self.draw()
            _, _, timing = quality.gather(self.row, 5, 2, False)
            self.assertEqual(list(timing), [(0, "")])
        finally:
            if old is None:
                os.environ.pop("POCL_MAX_PTHREAD_COUNT", None)
            else:
                os.environ["POCL_MAX_PTHREAD_COUNT"] = old

    def test_row_json_guard(self):
        settings = {"model": "m", "sample_args": ["--steps", "250"], "seed": 1, "chunk": 64}
        quality.check_row(self.row, settings)
        with open(os.path.join(self.row, "row.json")) as f:
            self.assertEqual(json.load(f), settings)
        quality.check_row(self.row, dict(settings))  # same settings: fine
        with self.assertRaises(SystemExit):
            quality.check_row(self.row, dict(settings, seed=2))


if __name__ == "__main__":
    unittest.main()
