"""Elementwise math microkernels (f32-vmath: exp, expm1, log, log1p): every row against the
exact function (float64) over every binade, both signs and dense sweeps, with the error bound its
list states; special values; ragged lengths against the whole array; against torch."""

import numpy as np
import pytest
from activation_reference import ulps
from conftest import SMALL_SWEEP

from pyprune import _core, kernels

UKERNELS = _core.testing.vmath_ukernels()
AVAILABLE = kernels.available_isas()
IDS = [u["name"] for u in UKERNELS]

# The bounds csrc/f32-vunary/f32-vmath.inc states, in ulp of the exact result (reference kernels: 1).
BOUNDS = {"exp": 1.5, "expm1": 2, "log": 1.5, "log1p": 1.5}
EXACT = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p}
SPECIAL = {  # (x, the result as torch gives it)
    "exp": [(np.inf, np.inf), (-np.inf, 0.0), (89.0, np.inf), (-104.0, 0.0), (0.0, 1.0), (-0.0, 1.0)],
    "expm1": [(np.inf, np.inf), (-np.inf, -1.0), (89.0, np.inf), (-30.0, -1.0), (0.0, 0.0), (-0.0, -0.0)],
    "log": [(np.inf, np.inf), (-np.inf, np.nan), (0.0, -np.inf), (-0.0, -np.inf), (-1.0, np.nan), (1.0, 0.0),
            (1e-45, -103.27893)],
    "log1p": [(np.inf, np.inf), (-np.inf, np.nan), (-1.0, -np.inf), (-2.0, np.nan), (0.0, 0.0), (-0.0, -0.0),
              (1e-45, 1e-45)],
}


def available(ukernel):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")


def sample(rng):
    """Every binade of float32 (subnormals to 2^127) with random mantissas, both signs; dense
    sweeps of [-110, 110] (past where exp leaves the floats both ways) and of [-1, 1]."""
    per_binade = 64 if SMALL_SWEEP else 2048
    exponents = np.repeat(np.arange(0, 255, dtype=np.uint32), per_binade)
    binades = (exponents << 23 | rng.integers(0, 2**23, exponents.size, dtype=np.uint32)).view(np.float32)
    steps = 20001 if SMALL_SWEEP else 400001
    return np.concatenate([binades, -binades, np.linspace(-110, 110, steps, dtype=np.float32),
                           np.linspace(-1, 1, steps, dtype=np.float32)])


def exact(op, x):
    """op in float64, rounded to float32 where that overflows (the exact result is then inf)."""
    with np.errstate(all="ignore"):
        want = EXACT[op](x.astype(np.float64))
        rounded = want.astype(np.float32)
    return np.where(np.isinf(rounded), rounded, want)


@pytest.mark.parametrize("ukernel", UKERNELS, ids=IDS)
def test_ukernel_is_within_its_bound_of_the_exact_function(ukernel, rng):
    available(ukernel)
    x = sample(rng)
    got = _core.testing.vmath(ukernel["name"], x)
    want = exact(ukernel["op"], x)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), f"NaN where {x[np.isnan(got) != nan][:5]}"
    bound = 1 if ukernel["isa"] == "scalar" else BOUNDS[ukernel["op"]]
    err = ulps(got[~nan], want[~nan])
    worst = np.argmax(err)
    assert err[worst] <= bound, f"{err[worst]:.2f} ulp at x = {x[~nan][worst]!r}"


@pytest.mark.parametrize("ukernel", UKERNELS, ids=IDS)
def test_special_values(ukernel):
    available(ukernel)
    x, want = np.array(SPECIAL[ukernel["op"]] + [(np.nan, np.nan)], np.float32).T
    got = _core.testing.vmath(ukernel["name"], np.ascontiguousarray(x))
    np.testing.assert_array_equal(got, want)
    signed = ~np.isnan(want)
    assert np.array_equal(np.signbit(got[signed]), np.signbit(want[signed])), got


@pytest.mark.parametrize("ukernel", UKERNELS, ids=IDS)
def test_ragged_lengths_match_the_whole_array(ukernel, rng):
    """Main loop, single vectors and the partial last vector give each element the same value."""
    available(ukernel)
    x = rng.uniform(-5.0, 5.0, 4 * ukernel["tile"] + 11).astype(np.float32)
    if ukernel["op"].startswith("log"):
        x = np.abs(x)
    whole = _core.testing.vmath(ukernel["name"], x)
    for n in sorted(set(range(1, 2 * ukernel["tile"] + 10)) | {x.size}):
        np.testing.assert_array_equal(_core.testing.vmath(ukernel["name"], x[:n]), whole[:n], err_msg=f"n={n}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=IDS)
def test_ukernel_matches_torch(ukernel, rng):
    torch = pytest.importorskip("torch")
    available(ukernel)
    x = rng.uniform(-20.0, 20.0, 10000).astype(np.float32)
    if ukernel["op"].startswith("log"):
        x = np.abs(x) - (1.0 if ukernel["op"] == "log1p" else 0.0)
    want = getattr(torch, ukernel["op"])(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_core.testing.vmath(ukernel["name"], x), want, rtol=3e-7, atol=1e-37)


def test_every_op_has_a_row_of_every_isa():
    for isa in {u["isa"] for u in UKERNELS}:
        assert sorted(u["op"] for u in UKERNELS if u["isa"] == isa) == sorted(EXACT), isa


def test_refusals():
    name = UKERNELS[0]["name"]
    with pytest.raises(ValueError, match="must not be empty"):
        _core.testing.vmath(name, np.zeros(0, np.float32))
    with pytest.raises(ValueError):
        _core.testing.vmath(name, np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError):
        _core.testing.vmath("pp_f32_vexp_ukernel__nowhere", np.zeros(2, np.float32))
