"""Depthwise taps microkernels (any window, output rows from tap pointers): every row of the list
against numpy in float64 and against the scalar reference, over output counts around the vector
widths and the 16-output tile, 1-9 output rows (whole row tiles and every remainder), 1 to 121
taps, rows further apart than they are long, with exactly the inputs a call may read (the
declared overread included); clamps and NaN; nothing written outside the outputs."""

import numpy as np
import pytest

from pyprune import _core, kernels

UKERNELS = _core.testing.dwconv2d_taps_ukernels()
AVAILABLE = kernels.available_isas()
OVERREAD = _core.testing.DWCONV2D_TAPS_OVERREAD
REFERENCE = next(u["name"] for u in UKERNELS if u["isa"] == "scalar")
GUARD = 5  # columns past n in every output row, which must keep their sentinel


def call(name, x, offsets, row_step, weights, rows, n, lo=-np.inf, hi=np.inf):
    out = np.full((rows, n + GUARD), 1234.5, np.float32)
    _core.testing.dwconv2d_taps(name, x, offsets, row_step, weights, n, out, lo, hi)
    assert (out[:, n:] == np.float32(1234.5)).all(), "wrote past the outputs"
    return out[:, :n]


def expected(x, offsets, row_step, weights, rows, n, lo=-np.inf, hi=np.inf):
    acc = np.full((rows, n), weights[0], np.float64)
    for t, offset in enumerate(offsets):
        for r in range(rows):
            start = offset + r * row_step
            acc[r] += np.float64(weights[1 + t]) * x[start : start + n]
    return np.clip(acc, lo, hi)


def case(rng, rows, n, taps):
    """Taps at random offsets, rows row_step apart (longer than what a row reads), and a buffer
    ending exactly where the last read, overread included, ends."""
    row_step = n + OVERREAD + int(rng.integers(0, 9))
    offsets = [int(o) for o in rng.integers(0, 3 * n + 7, taps)]
    size = max(offsets) + (rows - 1) * row_step + n + OVERREAD
    x = rng.standard_normal(size, dtype=np.float32)
    weights = rng.standard_normal(1 + taps, dtype=np.float32)
    return x, offsets, row_step, weights


def available(ukernel):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_numpy_and_reference(ukernel, rng):
    available(ukernel)
    for rows in range(1, 10):
        for n in list(range(1, 35)) + [47, 48, 56, 57, 111, 224]:
            taps = int(rng.choice([1, 2, 3, 9, 11, 25, 49, 121]))
            x, offsets, row_step, weights = case(rng, rows, n, taps)
            got = call(ukernel["name"], x, offsets, row_step, weights, rows, n)
            want = expected(x, offsets, row_step, weights, rows, n)
            scale = 1 + np.abs(weights[1:]).sum() * 4
            np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * scale, err_msg=f"rows={rows} n={n} taps={taps}")
            np.testing.assert_allclose(got, call(REFERENCE, x, offsets, row_step, weights, rows, n), rtol=0,
                                       atol=2e-6 * scale, err_msg=f"rows={rows} n={n} taps={taps}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_clamps_and_propagates_nan(ukernel, rng):
    available(ukernel)
    rows, n = 5, 21
    x, offsets, row_step, weights = case(rng, rows, n, 9)
    x[offsets[3] + 2 * row_step + 7] = np.nan
    got = call(ukernel["name"], x, offsets, row_step, weights, rows, n, -0.5, 0.75)
    want = expected(x, offsets, row_step, weights, rows, n, -0.5, 0.75)
    assert np.isnan(got[2, 7])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_reads_past_the_buffer_are_refused():
    x = np.ones(40, np.float32)
    out = np.zeros((2, 8), np.float32)
    with pytest.raises(ValueError, match="reads past x"):
        _core.testing.dwconv2d_taps(REFERENCE, x, [0, 20], 10, np.ones(3, np.float32), 8, out, -np.inf, np.inf)
    with pytest.raises(ValueError, match="weights must have 3 elements"):
        _core.testing.dwconv2d_taps(REFERENCE, x, [0, 1], 0, np.ones(2, np.float32), 8, out, -np.inf, np.inf)
