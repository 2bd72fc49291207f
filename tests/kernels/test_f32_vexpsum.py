"""Softmax exponential microkernels (y = exp(x - max) and its sum): every row of the list against
float64 numpy over lengths around the tiles, the range a softmax row spans, and special values."""

import numpy as np
import pytest

from pyprune import _core, kernels

UKERNELS = _core.testing.vexpsum_ukernels()
AVAILABLE = kernels.available_isas()


def _exact(x, max):
    return np.exp((x - np.float32(max)).astype(np.float64))  # the difference rounded in float32 first


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_numpy(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    tile = ukernel["tile"]
    for n in sorted(set(range(1, 2 * tile + 10)) | {49, 196, 1000, 4099}):
        x = rng.uniform(-30.0, 10.0, n).astype(np.float32)
        max = np.float32(x.max())
        y, total = _core.testing.vexpsum(ukernel["name"], x, max)
        want = _exact(x, max)
        # 2 ulp of each result (relative 2^-22), absolute below the smallest normal
        np.testing.assert_allclose(y, want, rtol=2.5e-7, atol=1.2e-38, err_msg=f"n={n}")
        # up to n roundings of partial sums of values in (0, 1]
        assert abs(total - want.sum()) <= 1.2e-7 * n * want.sum() + 1e-6, (n, total, want.sum())


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_range_and_special_values(ukernel):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    # the whole range of differences: from 0 down past where exp leaves the normal floats
    x = -np.linspace(0.0, 100.0, 20001, dtype=np.float32)
    y, _ = _core.testing.vexpsum(ukernel["name"], x, 0.0)
    want = _exact(x, 0.0)
    normal = want >= 2.0**-126
    np.testing.assert_allclose(y[normal], want[normal], rtol=2.5e-7)
    assert np.all((y[~normal] >= 0) & (y[~normal] <= 2.0**-126))
    x = np.array([0.0, -np.inf, np.nan, 1.0, -1.0, -88.0, -104.0, 2.0, 0.5], np.float32)
    y, total = _core.testing.vexpsum(ukernel["name"], x, 2.0)
    assert y[1] == 0.0 and np.isnan(y[2]) and np.isnan(total) and y[7] == 1.0
    np.testing.assert_allclose(y[[0, 3, 4, 8]], np.exp(np.array([-2.0, -1.0, -3.0, -1.5])), rtol=2.5e-7)
    y, total = _core.testing.vexpsum(ukernel["name"], np.full(5, -np.inf, np.float32), -np.inf)
    assert np.all(np.isnan(y)) and np.isnan(total)  # -inf - -inf, as torch's softmax of such a row


def test_refusals():
    name = UKERNELS[0]["name"]
    with pytest.raises(ValueError, match="must not be empty"):
        _core.testing.vexpsum(name, np.zeros(0, np.float32), 0.0)
    with pytest.raises(ValueError):
        _core.testing.vexpsum(name, np.zeros((2, 2), np.float32), 0.0)
