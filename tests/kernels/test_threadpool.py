"""The thread pool under back-to-back calls of varying sizes and from several Python threads."""

import threading

import numpy as np

import pyprune
from pyprune import _core, kernels


def test_back_to_back_calls_of_varying_size(rng):
    inf = float("inf")
    cases = []
    for i in range(60):
        c = 1 + i % 9
        x = rng.standard_normal((1, c, 3 + i % 5, 4 + i % 7), dtype=np.float32)
        dw = rng.standard_normal((c, 1, 3, 3), dtype=np.float32)
        pw = rng.standard_normal((2 + i % 11, c, 1, 1), dtype=np.float32)
        cases.append((x, _core.SeparableConv2d(dw, None, 1, 1, -inf, inf, pw, None), dw))
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(1)
        want = [(sep.forward(x), kernels.depthwise_conv2d(x, dw, padding=1)) for x, sep, dw in cases]
        for threads in (2, 3):
            pyprune.set_num_threads(threads)
            for _ in range(5):
                for (x, sep, dw), (w_sep, w_dw) in zip(cases, want):
                    np.testing.assert_array_equal(sep.forward(x), w_sep)
                    np.testing.assert_array_equal(kernels.depthwise_conv2d(x, dw, padding=1), w_dw)
    finally:
        pyprune.set_num_threads(before)


def test_concurrent_callers_get_their_own_results(rng):
    xs = [rng.standard_normal((1, 16, 20, 20), dtype=np.float32) for _ in range(4)]
    w = rng.standard_normal((24, 16, 1, 1), dtype=np.float32)
    want = [kernels.pointwise_conv2d(x, w) for x in xs]
    errors = []

    def worker(i):
        try:
            for _ in range(50):
                np.testing.assert_array_equal(kernels.pointwise_conv2d(xs[i], w), want[i])
        except Exception as e:  # reported on the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
