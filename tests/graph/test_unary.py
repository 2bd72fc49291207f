"""unary: every kind against torch over shapes of every rank (empty ones included), values where
the functions are defined and where they are not (NaN, infinities), pow's exponents; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from operator_testing import assert_close, random, refused, run1

torch = pytest.importorskip("torch")

KINDS = {
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "exp": torch.exp,
    "log": torch.log,
    "abs": torch.abs,
    "neg": torch.neg,
    "reciprocal": torch.reciprocal,
    "erf": torch.erf,
    "sin": torch.sin,
    "cos": torch.cos,
    "atan": torch.atan,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "round": torch.round,
    "sign": torch.sign,
    "tan": torch.tan,
    "trunc": torch.trunc,
    "expm1": torch.expm1,
    "log1p": torch.log1p,
    "exp2": torch.exp2,
    "log2": torch.log2,
    "log10": torch.log10,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "asin": torch.asin,
    "acos": torch.acos,
    "asinh": torch.asinh,
    "acosh": torch.acosh,
    "atanh": torch.atanh,
    "erfc": torch.erfc,
    "erfinv": torch.erfinv,
}
EXPONENTS = (2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 0.0, 1.0, 1.7, -3.0, 2.5)


@settings(max_examples=80, deadline=None)
@given(shape=array_shapes(min_dims=0, max_dims=6, min_side=0, max_side=5), kind=st.sampled_from(sorted(KINDS)),
       seed=st.integers(0, 2**16))
def test_kinds_match_torch(shape, kind, seed):
    x = random(np.random.default_rng(seed), shape, -3.0, 3.0)
    with np.errstate(all="ignore"):
        got = run1("unary", {"kind": kind}, x)
    assert_close(got, KINDS[kind](torch.from_numpy(x)), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("exponent", EXPONENTS)
def test_pow_matches_torch(exponent, rng):
    x = random(rng, (3, 5, 7), -3.0, 3.0)
    got = run1("unary", {"kind": "pow", "exponent": exponent}, x)
    assert_close(got, torch.pow(torch.from_numpy(x), exponent), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("kind", sorted(KINDS) + ["pow"])
def test_special_values_match_torch(kind):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1e30, 88.0, -104.0], np.float32)
    attrs = {"kind": kind, **({"exponent": 1.7} if kind == "pow" else {})}
    want = torch.pow(torch.from_numpy(x), 1.7) if kind == "pow" else KINDS[kind](torch.from_numpy(x))
    assert_close(run1("unary", attrs, x), want, rtol=2e-6, atol=0)


def test_atan_is_within_an_ulp_of_torch_at_every_magnitude(rng):
    """Tiny arguments (atan x = x), both sides of 1 and huge ones (towards pi / 2), both signs."""
    magnitudes = 10.0 ** rng.uniform(-30, 30, 5000)
    x = np.concatenate([magnitudes, -magnitudes, rng.uniform(-4, 4, 5000)]).astype(np.float32)
    got = run1("unary", {"kind": "atan"}, x)
    np.testing.assert_array_max_ulp(got, torch.atan(torch.from_numpy(x)).numpy(), maxulp=1)


def test_erfinv_is_within_an_ulp_of_torch_up_to_the_ends(rng):
    """Both branches of the starting approximation, the float32 neighbours of -1, 0 and 1, and
    the ends themselves (infinities) and beyond (NaN)."""
    one = np.float32(1)
    ends = [np.nextafter(one, np.float32(0)), np.nextafter(-one, np.float32(0)), np.float32(1e-38), np.float32(-1e-30)]
    x = np.concatenate([rng.uniform(-1, 1, 20000), 1 - 10.0 ** rng.uniform(-7.2, -1, 2000), ends,
                        [1.0, -1.0, 1.5, -0.0, 0.0]]).astype(np.float32)
    got = run1("unary", {"kind": "erfinv"}, x)
    np.testing.assert_array_max_ulp(got, torch.erfinv(torch.from_numpy(x)).numpy(), maxulp=1)


def test_rounding_goes_half_to_even_and_keeps_the_sign_of_zero():
    x = np.array([-2.5, -1.5, -0.5, -0.25, 0.5, 1.5, 2.5, 3.5, 8388607.5, -0.0], np.float32)
    got = run1("unary", {"kind": "round"}, x)
    np.testing.assert_array_equal(got, torch.round(torch.from_numpy(x)).numpy())
    assert np.signbit(got[2]) and np.signbit(got[-1])


def test_large_input_runs_in_tasks(rng):
    x = random(rng, (1, 3, 200, 200), 0.1, 4.0)
    assert_close(run1("unary", {"kind": "log"}, x), torch.log(torch.from_numpy(x)), rtol=2e-6, atol=1e-7)


def test_refusals():
    x = np.ones((2, 3), np.float32)
    refused("unary", {}, x, says="attribute 'kind' is required")
    refused("unary", {"kind": "cbrt"}, x, says=["kind", "cbrt"])
    refused("unary", {"kind": "pow"}, x, says="'exponent' is required")
    refused("unary", {"kind": "exp", "exponent": 2.0}, x, says="applies only to kind 'pow'")
    refused("unary", {"kind": "pow", "exponent": "two"}, x, says=["exponent", "number"])
    refused("unary", {"kind": "abs", "alpha": 1}, x, says="unknown attribute 'alpha'")
    refused("unary", {"kind": "abs"}, x, x, says="takes 1 input, got 2")
