import os

import numpy as np
import pytest

# PYPRUNE_TEST_SWEEP=small trims shape sweeps (used by the emulated aarch64 run).
SMALL_SWEEP = os.environ.get("PYPRUNE_TEST_SWEEP") == "small"


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name, so every test is reproducible on its own."""
    seed = sum(map(ord, request.node.nodeid)) % 2**32
    print(f"rng seed {seed}")
    return np.random.default_rng(seed)


def pytest_collection_modifyitems(config, items):
    """PYPRUNE_TEST_SHARD=i/n keeps every n-th test from the i-th: n such runs side by side share
    the cores (the emulated aarch64 Python runs under qemu-user, one core a process, and cannot
    start a child process of the guest, so pytest-xdist's workers are not an option there)."""
    shard = os.environ.get("PYPRUNE_TEST_SHARD")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    if not 0 <= index < count:
        raise pytest.UsageError(f"PYPRUNE_TEST_SHARD={shard}: expected i/n with 0 <= i < n")
    config.hook.pytest_deselected(items=[item for n, item in enumerate(items) if n % count != index])
    items[:] = [item for n, item in enumerate(items) if n % count == index]
