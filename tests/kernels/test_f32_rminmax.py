"""Row extreme microkernels (softmax's row maxima, max/min reductions): every row of the list
against numpy over lengths around the vectors and tiles, extremes at every position, and special
values (NaN anywhere wins, infinities, signed zeros)."""

import numpy as np
import pytest

from pyprune import _core, kernels

UKERNELS = _core.testing.rminmax_ukernels()
AVAILABLE = kernels.available_isas()
LENGTHS = list(range(1, 70)) + [127, 128, 129, 196, 255, 256, 257, 1000, 4099]


def run(ukernel, x):
    return _core.testing.rminmax(ukernel["name"], np.ascontiguousarray(x, np.float32))


def want(ukernel, x):
    return np.max(x) if ukernel["op"] == "max" else np.min(x)


@pytest.fixture(params=UKERNELS, ids=[u["name"] for u in UKERNELS])
def ukernel(request):
    if request.param["isa"] not in AVAILABLE:
        pytest.skip(f"{request.param['isa']} not available on this CPU")
    return request.param


def test_matches_numpy_over_lengths(ukernel, rng):
    for n in LENGTHS:
        x = rng.standard_normal(n).astype(np.float32)
        assert run(ukernel, x) == want(ukernel, x), n


def test_the_extreme_is_found_at_every_position(ukernel):
    for n in (1, 7, 8, 15, 16, 17, 33, 64, 65, 100):
        for k in range(n):
            x = np.zeros(n, np.float32)
            x[k] = 5.0 if ukernel["op"] == "max" else -5.0
            assert run(ukernel, x) == x[k], (n, k)


def test_a_nan_anywhere_gives_nan(ukernel, rng):
    for n in (1, 5, 16, 31, 64, 65, 130):
        for k in sorted({0, n // 3, n - 1}):
            x = rng.standard_normal(n).astype(np.float32)
            x[k] = np.nan
            assert np.isnan(run(ukernel, x)), (n, k)


def test_infinities_and_signed_zeros(ukernel):
    for n in (3, 17, 70):
        x = np.full(n, -np.inf if ukernel["op"] == "max" else np.inf, np.float32)
        assert run(ukernel, x) == x[0]
        x[n // 2] = -x[0]
        assert run(ukernel, x) == x[n // 2]
    zeros = np.array([0.0, -0.0] * 20, np.float32)
    assert run(ukernel, zeros) == 0.0


def test_an_empty_row_is_refused():
    with pytest.raises(ValueError, match="empty"):
        _core.testing.rminmax(UKERNELS[0]["name"], np.zeros(0, np.float32))
