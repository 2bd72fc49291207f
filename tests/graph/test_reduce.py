"""reduce (mean, sum, max, min, prod over axes, keepdim) and softmax / log_softmax against torch:
random ranks, shapes (empty ones included) and axes, long rows, NaN and infinities; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from operator_testing import assert_close, assert_equal, random, refused, run1

torch = pytest.importorskip("torch")

KINDS = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax, "min": torch.amin}


def torch_reduce(kind, x, axes, keepdim):
    if kind == "prod":  # torch.prod takes one dim
        y = torch.from_numpy(x)
        for axis in sorted(axes, reverse=True):
            y = y.prod(axis, keepdim=keepdim)
        return y
    return KINDS[kind](torch.from_numpy(x), dim=tuple(axes), keepdim=keepdim)


@settings(max_examples=250, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=6, min_side=0, max_side=6),
       kind=st.sampled_from(sorted([*KINDS, "prod"])), keepdim=st.booleans(), data=st.data())
def test_reduce_matches_torch(shape, kind, keepdim, data):
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    x = random(np.random.default_rng(len(axes)), shape)
    attrs = {"kind": kind, "axes": axes, "keepdim": int(keepdim)}
    if kind in ("max", "min") and any(shape[a] == 0 for a in axes):
        refused("reduce", attrs, x, says="empty axis")
        return
    got = run1("reduce", attrs, x)
    want = torch_reduce(kind, x, axes, keepdim)
    if kind in ("max", "min"):
        assert_equal(got, want)
        return
    # Sums of mixed signs cancel: the error allowed is float rounding of the sum of magnitudes.
    # A float product of n factors (torch's too, in another order) is within n roundings.
    magnitude = torch_reduce(kind, np.abs(x), axes, keepdim).numpy()
    count = np.prod([shape[a] for a in axes])
    rtol = 1e-6 if kind != "prod" else 2.0**-23 * max(count, 1)
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want.numpy()))
    assert np.all(np.abs(got - want.numpy())[~np.isnan(got)] <= rtol * magnitude[~np.isnan(got)] + 1e-7)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("shape,axes", [((1, 1024, 7, 7), [2, 3]), ((3, 64, 56, 56), [1]), ((2, 300000), [1]),
                                        ((300000, 3), [0]), ((4, 5, 6, 7), [0, 2]), ((2, 3, 4), [0, 1, 2]),
                                        ((5, 70000), [0]), ((2100, 64), [0]), ((1, 2, 32, 56, 56), [1])])
def test_network_and_long_reductions(kind, shape, axes, rng):
    x = random(rng, shape, 0.0, 2.0)
    got = run1("reduce", {"kind": kind, "axes": axes, "keepdim": 1}, x)
    assert_close(got, torch_reduce(kind, x, axes, True), rtol=1e-5, atol=0)


@pytest.mark.parametrize("n", [5, 16, 37, 64])
def test_a_nan_anywhere_in_a_long_row(n):
    """max, min and softmax over rows long enough for the vector paths: a NaN at any position,
    among values or infinities, makes the row's result NaN."""
    x = np.tile(np.linspace(-3.0, 3.0, n, dtype=np.float32), (n + 1, 1))
    x[np.arange(n), np.arange(n)] = np.nan  # row n keeps no NaN
    x[::3, 0] = np.inf
    t = torch.from_numpy(x)
    for kind in ("max", "min"):
        assert_close(run1("reduce", {"kind": kind, "axes": [1], "keepdim": 0}, x), torch_reduce(kind, x, [1], False),
                     rtol=0, atol=0, equal_nan=True)
    assert_close(run1("softmax", {"axis": 1}, x), torch.softmax(t, 1), rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("kind", sorted([*KINDS, "prod"]))
def test_nan_and_infinities(kind):
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 1.0, -np.inf], [1.0, 2.0, 3.0], [-np.inf, -np.inf, 0.0]], np.float32)
    for axes in ([0], [1], [0, 1]):
        got = run1("reduce", {"kind": kind, "axes": axes}, x)
        assert_close(got, torch_reduce(kind, x, axes, False), rtol=1e-6, atol=0, equal_nan=True)


@settings(max_examples=150, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=7), log=st.booleans(), data=st.data())
def test_softmax_matches_torch(shape, log, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    x = random(np.random.default_rng(axis), shape, -10.0, 10.0)
    f = torch.log_softmax if log else torch.softmax
    assert_close(run1("softmax", {"axis": axis, "log": int(log)}, x), f(torch.from_numpy(x), axis), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("log", [0, 1])
@pytest.mark.parametrize("shape,axis", [((8, 1000), 1), ((1, 21, 64, 64), 1), ((2, 12, 197, 197), 3), ((70000, 2), 0),
                                        ((2, 1118, 2), 2), ((1, 4420, 16), 2)])  # a detector's scores per anchor
def test_network_softmax(log, shape, axis, rng):
    x = random(rng, shape, -20.0, 20.0)
    f = torch.log_softmax if log else torch.softmax
    assert_close(run1("softmax", {"axis": axis, "log": log}, x), f(torch.from_numpy(x), axis), rtol=1e-5, atol=1e-6)


def test_softmax_special_values():
    x = np.array([[0.0, np.nan, 1.0], [np.inf, 1.0, 2.0], [-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 1.0]], np.float32)
    for log in (0, 1):
        f = torch.log_softmax if log else torch.softmax
        for axis in (0, 1):
            assert_close(run1("softmax", {"axis": axis, "log": log}, x), f(torch.from_numpy(x), axis), equal_nan=True)


def test_refusals():
    x = np.ones((2, 3), np.float32)
    refused("reduce", {"kind": "mean"}, x, says="'axes' is required")
    refused("reduce", {"kind": "mean", "axes": []}, x, says="axes")
    refused("reduce", {"kind": "mean", "axes": [1, 1]}, x, says="twice")
    refused("reduce", {"kind": "mean", "axes": [2]}, x, says=["axes", "rank 2"])
    refused("reduce", {"kind": "mean", "axes": [-1]}, x, says="axes")
    refused("reduce", {"kind": "median", "axes": [0]}, x, says=["kind", "median"])
    refused("reduce", {"kind": "max", "axes": [1]}, np.ones((2, 0), np.float32), says="empty axis 1")
    refused("softmax", {}, x, says="'axis' is required")
    refused("softmax", {"axis": 2}, x, says="axis")
    refused("softmax", {"axis": 1, "log": 2}, x, says="log")
