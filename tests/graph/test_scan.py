"""cumsum and cumprod against torch, exactly (both run in double, in order), and logcumsumexp
within an ulp or two (in double here, in float32 in torch): every axis of shapes of every rank,
empty ones included, infinities, NaN, overflow and underflow of float32, long rows cut into
tasks; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from operator_testing import assert_equal, random, refused, run1

torch = pytest.importorskip("torch")

SCANS = {"cumsum": torch.cumsum, "cumprod": torch.cumprod}


@settings(max_examples=100, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=6, min_side=0, max_side=6), op=st.sampled_from(sorted(SCANS)),
       data=st.data())
def test_every_axis_matches_torch(shape, op, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    x = random(np.random.default_rng(len(shape)), shape)
    assert_equal(run1(op, {"axis": axis}, x), SCANS[op](torch.from_numpy(x), axis))


@pytest.mark.parametrize("op", sorted(SCANS))
def test_special_values_carry_on_as_in_torch(op):
    x = np.array([[1.0, np.inf, -np.inf, 2.0], [3e38, 3e38, -3e38, 1.0], [np.nan, 1.0, 2.0, 3.0],
                  [0.0, np.inf, 1.0, -0.0], [1e-30, 1e-30, 1e30, 1e30], [-0.0, 0.0, -1.0, 5.0]], np.float32)
    for axis in (0, 1):
        assert_equal(run1(op, {"axis": axis}, x), SCANS[op](torch.from_numpy(x), axis))


def test_products_keep_what_float32_would_lose_between_outputs():
    """1e-30 * 1e-30 underflows float32 but not the double product, which 1e30 * 1e30 brings back."""
    x = np.array([1e-30, 1e-30, 1e30, 1e30], np.float32)
    np.testing.assert_allclose(run1("cumprod", {"axis": 0}, x), [1e-30, 0.0, 1e-30, 1.0], rtol=1e-6)


@pytest.mark.parametrize("op", sorted(SCANS))
@pytest.mark.parametrize("shape,axis", [((2, 64, 60, 70), 1), ((1, 3, 300, 400), 3), ((1, 1, 200000), 2)])
def test_large_tensors_run_in_tasks(op, shape, axis, rng):
    x = random(rng, shape) if op == "cumsum" else random(rng, shape, 0.999, 1.001)  # products neither 0 nor inf
    assert_equal(run1(op, {"axis": axis}, x), SCANS[op](torch.from_numpy(x), axis))


@settings(max_examples=60, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=7), data=st.data())
def test_logcumsumexp_matches_torch(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    x = random(np.random.default_rng(len(shape)), shape, -30.0, 30.0)
    want = torch.logcumsumexp(torch.from_numpy(x).double(), axis).float()
    np.testing.assert_allclose(run1("logcumsumexp", {"axis": axis}, x), want, rtol=1e-6, atol=1e-6)


def test_logcumsumexp_of_special_values_as_in_torch():
    """No exponential overflows (1e4 on 1e4), -inf adds nothing, +inf and NaN stay."""
    x = np.array([[1e4, 1e4, -1e4, 0.0], [-np.inf, -np.inf, 1.0, -np.inf], [np.inf, 1.0, -np.inf, 2.0],
                  [np.nan, 1.0, 2.0, 3.0], [-88.0, -100.0, -200.0, 80.0]], np.float32)
    for axis in (0, 1):
        np.testing.assert_allclose(run1("logcumsumexp", {"axis": axis}, x),
                                   torch.logcumsumexp(torch.from_numpy(x), axis), rtol=1e-6)
    np.testing.assert_allclose(run1("logcumsumexp", {"axis": 0}, np.array([1e4, 1e4], np.float32)),
                               [1e4, 1e4 + np.log(2.0)], rtol=1e-7)


@pytest.mark.parametrize("op", [*sorted(SCANS), "logcumsumexp"])
def test_refusals(op):
    x = np.ones((2, 3), np.float32)
    refused(op, {}, x, says="attribute 'axis' is required")
    refused(op, {"axis": 2}, x, says="axis")
    refused(op, {"axis": -1}, x, says="axis")
    refused(op, {"axis": 0.5}, x, says=["axis", "integer"])
    refused(op, {"axis": 0, "reverse": 1}, x, says="unknown attribute 'reverse'")
    refused(op, {"axis": 0}, x, x, says="takes 1 input, got 2")
    refused(op, {"axis": 0}, np.array(1.0, np.float32), says="rank 0")
