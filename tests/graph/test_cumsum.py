"""cumsum against torch, exactly (both sum in double, in order): every axis of shapes of every
rank, empty ones included, infinities and NaN, long rows cut into tasks; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from operator_testing import assert_equal, random, refused, run1

torch = pytest.importorskip("torch")


@settings(max_examples=100, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=6, min_side=0, max_side=6), data=st.data())
def test_every_axis_matches_torch(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    x = random(np.random.default_rng(len(shape)), shape)
    assert_equal(run1("cumsum", {"axis": axis}, x), torch.cumsum(torch.from_numpy(x), axis))


def test_special_values_carry_on_as_in_torch():
    x = np.array([[1.0, np.inf, -np.inf, 2.0], [3e38, 3e38, -3e38, 1.0], [np.nan, 1.0, 2.0, 3.0]], np.float32)
    for axis in (0, 1):
        assert_equal(run1("cumsum", {"axis": axis}, x), torch.cumsum(torch.from_numpy(x), axis))


@pytest.mark.parametrize("shape,axis", [((2, 64, 60, 70), 1), ((1, 3, 300, 400), 3), ((1, 1, 200000), 2)])
def test_large_tensors_run_in_tasks(shape, axis, rng):
    x = random(rng, shape)
    assert_equal(run1("cumsum", {"axis": axis}, x), torch.cumsum(torch.from_numpy(x), axis))


def test_refusals():
    x = np.ones((2, 3), np.float32)
    refused("cumsum", {}, x, says="attribute 'axis' is required")
    refused("cumsum", {"axis": 2}, x, says="axis")
    refused("cumsum", {"axis": 0, "reverse": 1}, x, says="unknown attribute 'reverse'")
    refused("cumsum", {"axis": 0}, x, x, says="takes 1 input, got 2")
