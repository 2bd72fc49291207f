"""floor_divide, remainder (Python's // and %) and fmod: against torch over broadcast shapes,
signs, zeros, infinities and the integers of index tensors, bit for bit. atan2, pow and hypot:
against torch within an ulp (libm's here, SLEEF's in torch), special values included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from operator_testing import random, refused, run1

torch = pytest.importorskip("torch")

OPS = {"floor_divide": torch.floor_divide, "remainder": torch.remainder, "fmod": torch.fmod}
LIBM = {"atan2": torch.atan2, "pow": torch.pow, "hypot": torch.hypot}


def assert_same(got, want):
    np.testing.assert_array_equal(got, want.numpy())  # NaN where NaN, -0.0 and 0.0 alike
    assert np.array_equal(np.signbit(got[got == 0]), np.signbit(want.numpy()[want.numpy() == 0]))


@settings(max_examples=60, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=6, min_side=0, max_side=4),
       op=st.sampled_from(sorted(OPS)), seed=st.integers(0, 2**16))
def test_floats_match_torch(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a, b = random(rng, shapes.input_shapes[0], -50, 50), random(rng, shapes.input_shapes[1], -4, 4)
    assert_same(run1(op, {}, a, b), OPS[op](torch.from_numpy(a), torch.from_numpy(b)))


@pytest.mark.parametrize("op", sorted(OPS))
def test_integers_and_special_values_match_torch(op):
    # the flat (anchor, class) indices of a detection head split by the class count
    a = np.arange(-300, 300, dtype=np.float32)
    for b in (80.0, 7.0, -3.0, 1.0):
        assert_same(run1(op, {}, a, np.array(b, np.float32)), OPS[op](torch.from_numpy(a), b))
    big = np.array([2.0**24, 2.0**24 - 1, 16777213.0, 1e30], np.float32)
    assert_same(run1(op, {}, big, np.array(3, np.float32)), OPS[op](torch.from_numpy(big), 3.0))
    special = np.array([0.0, -0.0, 5.0, -5.0, np.inf, -np.inf, np.nan, 1.0, 0.5], np.float32)
    for b in (0.0, -0.0, np.inf, -np.inf, np.nan, 2.0, -2.0):
        assert_same(run1(op, {}, special, np.array(b, np.float32)), OPS[op](torch.from_numpy(special), b))


def assert_within_an_ulp(got, want):
    want = want.numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    assert np.all(np.abs(got[finite] - want[finite]) <= np.spacing(np.abs(want[finite]))), (got, want)


@settings(max_examples=60, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=6, min_side=0, max_side=4),
       op=st.sampled_from(sorted(LIBM)), seed=st.integers(0, 2**16))
def test_atan2_and_pow_match_torch(shapes, op, seed):
    rng = np.random.default_rng(seed)
    low = 0.0 if op == "pow" else -50  # a negative base to a fractional power is NaN in both
    a, b = random(rng, shapes.input_shapes[0], low, 50), random(rng, shapes.input_shapes[1], -4, 4)
    assert_within_an_ulp(run1(op, {}, a, b), LIBM[op](torch.from_numpy(a), torch.from_numpy(b)))


@pytest.mark.parametrize("op", sorted(LIBM))
def test_atan2_and_pow_of_special_values_match_torch(op):
    special = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, np.inf, -np.inf, np.nan, 1e-30, 1e30], np.float32)
    a, b = np.meshgrid(special, special)
    assert_within_an_ulp(run1(op, {}, a, b), LIBM[op](torch.from_numpy(a), torch.from_numpy(b)))


def test_refusals():
    x = np.ones((2, 3), np.float32)
    refused("remainder", {}, x, np.ones(4, np.float32), says=["cannot broadcast", "(2, 3)", "(4,)"])
    refused("floor_divide", {}, x, says="takes 2 inputs, got 1")
    refused("floor_divide", {"activation": "relu"}, x, x, says="unknown attribute 'activation'")
    refused("atan2", {}, x, np.ones((3, 2), np.float32), says="cannot broadcast")
    refused("pow", {}, x, says="takes 2 inputs, got 1")
