"""The thread pool under back-to-back calls of varying sizes and from several Python threads."""

import os
import threading

import numpy as np
import pytest

import pyprune
from isolated import run_python
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


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64, 1000])
def test_every_index_runs_once_however_long_the_tasks(threads, n):
    # Slow tasks at the front hold the first thread in its own share, at the back another's:
    # the others take what is left of those shares.
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(threads)
        for slow, busy_us in ((0, 0), (n // 2, 200), (n, 20)):
            counts, used = _core.testing.parallel_for_runs(n, slow, busy_us)
            assert counts == [1] * n and used <= max(1, min(threads, n))
            counts, _ = _core.testing.parallel_for_runs(n, n, 0)  # none slow, back to back
            assert counts == [1] * n
    finally:
        pyprune.set_num_threads(before)


def test_parallel_for_runs_checks_its_arguments():
    for kwargs, match in (({"n": -1}, "n must be"), ({"n": 10**7}, "n must be at most"),
                          ({"busy_us": 10**5}, "busy_us must be at most")):
        args = {"n": 4, "slow": 0, "busy_us": 0, **kwargs}
        with pytest.raises(ValueError, match=match):
            _core.testing.parallel_for_runs(**args)


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


def test_thread_counts_outside_the_limit_leave_the_pool_as_it_was():
    before = pyprune.get_num_threads()
    tasks = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
    limit = kernels.capabilities().max_threads
    for bad in (0, -1, limit + 1, 100_000, 2**40):
        with pytest.raises(ValueError, match="num_threads must be at least 1 and at most"):
            pyprune.set_num_threads(bad)
        assert pyprune.get_num_threads() == before
    if tasks is not None:
        assert len(os.listdir("/proc/self/task")) <= tasks


FORK_SCRIPT = """
import os, sys, threading
import numpy as np
import pyprune
from pyprune import kernels

x = np.random.default_rng(0).standard_normal((1, 32, 40, 40)).astype(np.float32)
w = np.random.default_rng(1).standard_normal((48, 32, 1, 1)).astype(np.float32)
want = kernels.pointwise_conv2d(x, w)
pyprune.set_num_threads({threads})
busy = {busy}
stop = threading.Event()

def hammer():  # keeps a kernel running while the main thread forks
    while not stop.is_set():
        kernels.pointwise_conv2d(x, w)

if busy:
    worker = threading.Thread(target=hammer)
    worker.start()
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        try:
            for n in (1, 3, 2):
                pyprune.set_num_threads(n)
                assert pyprune.get_num_threads() == n
                assert np.array_equal(kernels.pointwise_conv2d(x, w), want)
        except BaseException as e:
            print(e, file=sys.stderr)
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
stop.set()
if busy:
    worker.join()
assert np.array_equal(kernels.pointwise_conv2d(x, w), want)
print("ok")
"""


# GCC 12's AddressSanitizer runtime takes no locks around fork(): a child forked while another
# thread is inside it (starting a thread, allocating) can wait forever on a lock that thread held.
# Python's own test suite skips its fork tests under ASan for the same reason.
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""), reason="the ASan runtime is not fork-safe")
@pytest.mark.parametrize("threads,busy", [(4, False), (8, False), (2, True), (4, True)])
def test_the_pool_works_in_a_forked_child(threads, busy):
    result = run_python(FORK_SCRIPT.format(threads=threads, busy=busy))
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
