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
