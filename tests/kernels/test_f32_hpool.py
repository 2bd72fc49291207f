"""Row pooling microkernels (max_pool2d, avg_pool2d): every row of the list against numpy over
output counts around the vector widths and blocks, 1-6 input rows (further apart than the
outputs read: the counts kernels specialise and others) and every padding before the row,
with exactly the inputs a call may read (the declared overread included), NaN
and infinities."""

import numpy as np
import pytest

from pyprune import _core, kernels

UKERNELS = _core.testing.hpool_ukernels()
AVAILABLE = kernels.available_isas()
OVERREAD = _core.testing.HPOOL_OVERREAD


def combine(op, rows):
    """op over a list of equal-shape arrays, first to last (the kernels' order), NaN propagating."""
    acc = rows[0].copy()
    for r in rows[1:]:
        acc = acc + r if op == "sum" else np.where(np.isnan(acc) | np.isnan(r), np.float32(np.nan), np.maximum(acc, r))
    return acc


def expected(ukernel, x, n, pad=0):
    """The window of output o starts at column o * stride - pad; the padding is left out (the
    identity)."""
    k, s = ukernel["kernel"], ukernel["stride"]
    columns = combine(ukernel["op"], list(x))  # each column over the rows first
    none = np.float32(-np.inf if ukernel["op"] == "max" else 0.0)
    columns = np.concatenate([np.full(pad, none, np.float32), columns])
    return combine(ukernel["op"], [columns[j : j + s * (n - 1) + 1 : s] for j in range(k)])


def paddings(ukernel):
    return range(ukernel["kernel"] // 2 + 1)


def inputs(ukernel, n, rng, rows=1, pad=0):
    """rows rows of what n outputs read: exactly that for one row, 3 more floats per row for
    several (a row stride past what the outputs read)."""
    size = (n - 1) * ukernel["stride"] + ukernel["kernel"] - pad + OVERREAD
    return rng.standard_normal((rows, size + (3 if rows > 1 else 0)), dtype=np.float32)


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_numpy(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    for pad in paddings(ukernel):
        for rows in (1, 2, 3, 4, 5, 6):
            for n in list(range(1, 40)) + [55, 56, 111, 1000]:
                x = inputs(ukernel, n, rng, rows, pad)
                np.testing.assert_array_equal(_core.testing.hpool(ukernel["name"], x, n, pad),
                                              expected(ukernel, x, n, pad), err_msg=f"pad={pad} rows={rows} n={n}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_special_values(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    n = 21
    for pad in paddings(ukernel):
        x = inputs(ukernel, n, rng, rows=3, pad=pad)
        x[0, [0, 5, 9, 17, 22]] = np.nan
        x[1, [1, 13, 19]] = np.nan
        x[0, [2, 11]] = np.inf
        x[2, [3, 12, 21]] = -np.inf
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(_core.testing.hpool(ukernel["name"], x, n, pad), expected(ukernel, x, n, pad),
                                          err_msg=f"pad={pad}")


def test_too_short_input_is_refused():
    name = UKERNELS[0]["name"]
    with pytest.raises(ValueError, match="x must have at least"):
        _core.testing.hpool(name, np.ones((2, 3), np.float32), 5)


def test_too_much_padding_is_refused():
    name = UKERNELS[0]["name"]
    with pytest.raises(ValueError, match="pad must be at most"):
        _core.testing.hpool(name, np.ones((2, 30), np.float32), 5, UKERNELS[0]["kernel"] // 2 + 1)
