"""Elementwise binary microkernels (add, sub, mul, div of the graph): every row of the list
against numpy over lengths around its tile, scalar and vector b, clamps, NaN and infinities."""

import numpy as np
import pytest

from pyprune import _core, kernels

UKERNELS = _core.testing.vbinary_ukernels()
AVAILABLE = kernels.available_isas()
OPS = {
    "add": np.add,
    "sub": np.subtract,
    "rsub": lambda a, b: b - a,
    "mul": np.multiply,
    "div": np.divide,
    "rdiv": lambda a, b: b / a,
    "max": np.maximum,  # NaN where either is, as torch.maximum
    "min": np.minimum,
}
CLAMPS = ((-np.inf, np.inf), (0.0, np.inf), (0.0, 6.0), (-0.5, 0.25))


def lengths(tile):
    """Every length up to three tiles and a ragged tail, then a long row."""
    return list(range(1, 3 * tile + 2)) + [1000 * tile + tile // 2 + 1]


def expected(op, a, b, lo, hi):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = OPS[op](a, b).astype(np.float32)
    return np.where(np.isnan(y), y, np.minimum(np.maximum(y, np.float32(lo)), np.float32(hi)))


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_numpy(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    for i, n in enumerate(lengths(max(ukernel["tile"], 8))):
        lo, hi = CLAMPS[i % len(CLAMPS)]
        a = rng.standard_normal(n, dtype=np.float32)
        b = rng.standard_normal(1 if ukernel["scalar_b"] else n, dtype=np.float32) + np.float32(0.5)
        got = _core.testing.vbinary(ukernel["name"], a, b, lo, hi)
        want = expected(ukernel["op"], a, b, lo, hi)
        np.testing.assert_array_equal(got, want, err_msg=f"n={n} clamp=({lo}, {hi})")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_keeps_nan_and_infinities(ukernel):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    a = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 2.0, 3.0] * 5, np.float32)
    # The special values in a, then in b too (a's reversed, or each as b's one value).
    if ukernel["scalar_b"]:
        bs = [np.array([v], np.float32) for v in (0.0, np.nan, np.inf, -np.inf)]
    else:
        bs = [np.zeros_like(a), a[::-1].copy()]
    for b in bs:
        for lo, hi in CLAMPS:
            got = _core.testing.vbinary(ukernel["name"], a, b, lo, hi)
            np.testing.assert_array_equal(got, expected(ukernel["op"], a, b, lo, hi), err_msg=f"b={b[:8]}")


def test_wrong_b_size_is_refused():
    name = next(u["name"] for u in UKERNELS if u["scalar_b"])
    with pytest.raises(ValueError, match="b must have 1 elements"):
        _core.testing.vbinary(name, np.ones(4, np.float32), np.ones(4, np.float32), -np.inf, np.inf)
