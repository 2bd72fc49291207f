"""Row-sum microkernels (global average pooling, reductions over trailing dims): every row of the
list against float64 numpy over row lengths and counts around the tiles, and special values."""

import numpy as np
import pytest

from pyprune import _core, kernels

UKERNELS = _core.testing.rsum_ukernels()
AVAILABLE = kernels.available_isas()


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_numpy(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    tile = ukernel["channel_tile"]
    for rows in sorted({1, 2, tile - 1, tile, tile + 1, 2 * tile + 3} - {0}):
        for n in list(range(1, 20)) + [31, 32, 33, 39, 40, 49, 63, 64, 65, 196, 1000, 2048]:
            x = rng.uniform(-1.0, 1.0, (rows, n)).astype(np.float32)
            got = _core.testing.rsum(ukernel["name"], x)
            want = x.astype(np.float64).sum(axis=1)
            # up to n roundings of partial sums of values in [-1, 1]
            np.testing.assert_allclose(got, want, rtol=0, atol=2e-7 * n, err_msg=f"{rows}x{n}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_special_values(ukernel):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    x = np.ones((5, 13), np.float32)
    x[0, 12] = np.nan
    x[1, 3] = np.inf
    x[2, 0], x[2, 7] = np.inf, -np.inf
    x[3, 5] = -np.inf
    got = _core.testing.rsum(ukernel["name"], x)
    np.testing.assert_array_equal(got, [np.nan, np.inf, np.nan, -np.inf, 13.0])
