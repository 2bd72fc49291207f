"""pixel_grid (a detector's anchor points and strides: affine functions of its maps' pixel
coordinates, concatenated, or of one map's as two dims) against numpy over random maps, dims and
coefficients; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from operator_testing import refused, run1


def expected(shape, coefficients, sizes):
    """The grid by its definition: rows of the dims other than the -1 one, row-major; along it
    each map's pixels row-major, a x + b y + c."""
    axis = shape.index(-1)
    abc = np.asarray(coefficients, np.float64).reshape(-1, len(sizes), 3)
    segments = []
    for i, (h, w) in enumerate(sizes):
        y, x = np.divmod(np.arange(h * w), w)
        segments.append(abc[:, i, :1] * x + abc[:, i, 1:2] * y + abc[:, i, 2:])
    rows = np.concatenate(segments, 1).astype(np.float32)
    return np.moveaxis(rows.reshape(*shape[:axis], *shape[axis + 1:], -1), -1, axis)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), min_size=1, max_size=4),
       others=st.lists(st.integers(1, 3), max_size=3), data=st.data())
def test_matches_its_definition(sizes, others, data):
    axis = data.draw(st.integers(0, len(others)))
    shape = others[:axis] + [-1] + others[axis:]
    rows = int(np.prod(others))
    coefficients = data.draw(st.lists(st.floats(-40, 40, width=32), min_size=3 * rows * len(sizes),
                                      max_size=3 * rows * len(sizes)))
    # maps of any rank from 2 and any leading dims: only the last two are read
    maps = [np.zeros((2, 5, h, w) if k % 2 else (h, w), np.float32) for k, (h, w) in enumerate(sizes)]
    got = run1("pixel_grid", {"shape": shape, "coefficients": coefficients}, *maps)
    np.testing.assert_array_equal(got, expected(shape, coefficients, sizes))


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), others=st.lists(st.integers(1, 3), max_size=3), data=st.data())
def test_one_map_s_height_and_width_as_two_dims(h, w, others, data):
    axis = data.draw(st.integers(0, len(others)))
    shape = others[:axis] + [-2, -3] + others[axis:]
    rows = int(np.prod(others))
    coefficients = data.draw(st.lists(st.floats(-40, 40, width=32), min_size=3 * rows, max_size=3 * rows))
    got = run1("pixel_grid", {"shape": shape, "coefficients": coefficients}, np.zeros((1, 3, h, w), np.float32))
    flat = expected(others[:axis] + [-1] + others[axis:], coefficients, [(h, w)])
    np.testing.assert_array_equal(got, flat.reshape(*others[:axis], h, w, *others[axis:]))


def test_anchor_points_and_strides_of_three_maps():
    maps = [np.zeros((1, 4, h, w), np.float32) for h, w in ((4, 6), (2, 3), (1, 2))]
    points = run1("pixel_grid", {"shape": [1, 2, -1], "coefficients": [1, 0, 0.5] * 3 + [0, 1, 0.5] * 3}, *maps)
    assert points.shape == (1, 2, 32)
    np.testing.assert_array_equal(points[0, :, 24:30], [[0.5, 1.5, 2.5, 0.5, 1.5, 2.5], [0.5, 0.5, 0.5, 1.5, 1.5, 1.5]])
    strides = run1("pixel_grid", {"shape": [1, -1], "coefficients": [0, 0, 8, 0, 0, 16, 0, 0, 32]}, *maps)
    np.testing.assert_array_equal(strides[0], [8] * 24 + [16] * 6 + [32] * 2)


def test_bad_nodes_are_refused_naming_the_problem():
    m = np.zeros((1, 2, 3, 4), np.float32)
    ok = {"shape": [2, -1], "coefficients": [0.0] * 6}
    refused("pixel_grid", ok, says="at least one map")
    refused("pixel_grid", {**ok, "shape": [2, 3]}, m, says="one -1")
    refused("pixel_grid", {**ok, "shape": [-1, -1]}, m, says="one -1")
    refused("pixel_grid", {**ok, "shape": [0, -1]}, m, says="one -1")
    refused("pixel_grid", {**ok, "shape": [2, -3, -2]}, m, says="-2 then -3")
    refused("pixel_grid", {**ok, "shape": [2, -2, -1]}, m, says="-2 then -3")
    refused("pixel_grid", {**ok, "shape": [2, -2, -3]}, m, m, says="-2 then -3")  # two maps
    refused("pixel_grid", {**ok, "coefficients": [0.0] * 5}, m, says="must have 6 entries")
    refused("pixel_grid", {**ok, "coefficients": [0.0] * 5 + [float("nan")]}, m, says="coefficients")
    refused("pixel_grid", {**ok, "coefficients": [0.0] * 5 + [1e31]}, m, says="coefficients")
    refused("pixel_grid", {**ok, "color": 1}, m, says="unknown attribute 'color'")
    with pytest.raises(ValueError, match="map 0 must have rank >= 2"):  # shapes: refused when inferred
        run1("pixel_grid", ok, np.zeros(3, np.float32))
