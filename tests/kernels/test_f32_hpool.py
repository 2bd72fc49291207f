"""Horizontal pooling microkernels (max_pool2d, avg_pool2d): every row of the list against numpy
over output counts around the vector widths, with exactly the inputs a call may read (the
declared overread included), NaN and infinities."""

import numpy as np
import pytest

from pyprune import _core, kernels

UKERNELS = _core.testing.hpool_ukernels()
AVAILABLE = kernels.available_isas()
OVERREAD = _core.testing.HPOOL_OVERREAD


def expected(ukernel, x, n):
    k, s = ukernel["kernel"], ukernel["stride"]
    taps = [x[j : j + s * (n - 1) + 1 : s] for j in range(k)]
    if ukernel["op"] == "sum":
        acc = taps[0].copy()
        for t in taps[1:]:
            acc = acc + t  # the kernels' order: taps first to last
        return acc
    stacked = np.stack(taps)
    return np.where(np.isnan(stacked).any(axis=0), np.float32(np.nan), stacked.max(axis=0))


def inputs(ukernel, n, rng):
    size = (n - 1) * ukernel["stride"] + ukernel["kernel"] + OVERREAD
    return rng.standard_normal(size, dtype=np.float32)


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_numpy(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    for n in list(range(1, 40)) + [56, 111, 1000]:
        x = inputs(ukernel, n, rng)
        np.testing.assert_array_equal(_core.testing.hpool(ukernel["name"], x, n), expected(ukernel, x, n), err_msg=f"n={n}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_special_values(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    n = 21
    x = inputs(ukernel, n, rng)
    x[[0, 5, 9, 17, 22]] = np.nan
    x[[2, 11]] = np.inf
    x[[3, 12, 21]] = -np.inf
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(_core.testing.hpool(ukernel["name"], x, n), expected(ukernel, x, n))


def test_too_short_input_is_refused():
    name = UKERNELS[0]["name"]
    with pytest.raises(ValueError, match="x must have at least"):
        _core.testing.hpool(name, np.ones(3, np.float32), 5)
