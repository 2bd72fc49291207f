"""max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d against torch: random kernels,
strides, dilations, paddings (asymmetric ones through an explicit pad), ceil_mode windows past the
edge, count_include_pad, divisor overrides, batch 1 and 3, (C, H, W) inputs, NaN; refusals."""

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from operator_testing import assert_close, assert_equal, random, refused, run1

import pyprune

torch = pytest.importorskip("torch")


def torch_or_error(f):
    try:
        return f()
    except RuntimeError:
        return None


@st.composite
def windows(draw, dilation=True):
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    p = tuple(draw(st.integers(0, k[i] // 2)) for i in range(2))
    shape = (draw(st.sampled_from([1, 3])), draw(st.integers(1, 3)), draw(st.integers(1, 13)), draw(st.integers(1, 13)))
    return k, s, d, p, shape, draw(st.booleans())


@settings(max_examples=200, deadline=None)
@given(window=windows(), seed=st.integers(0, 2**16))
def test_max_pool2d(window, seed):
    k, s, d, p, shape, ceil = window
    x = random(np.random.default_rng(seed), shape)
    attrs = {"kernel": list(k), "stride": list(s), "padding": [p[0], p[1], p[0], p[1]], "dilation": list(d),
             "ceil_mode": int(ceil)}
    want = torch_or_error(lambda: F.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil_mode=ceil))
    if want is None:
        refused("max_pool2d", attrs, x, says="smaller than")
    else:
        assert_equal(run1("max_pool2d", attrs, x), want)


@settings(max_examples=200, deadline=None)
@given(window=windows(dilation=False), include=st.booleans(), divisor=st.sampled_from([0, 0, 1, 7]),
       seed=st.integers(0, 2**16))
def test_avg_pool2d(window, include, divisor, seed):
    k, s, _, p, shape, ceil = window
    x = random(np.random.default_rng(seed), shape)
    attrs = {"kernel": list(k), "stride": list(s), "padding": [p[0], p[1], p[0], p[1]], "ceil_mode": int(ceil),
             "count_include_pad": int(include), "divisor": divisor}
    want = torch_or_error(lambda: F.avg_pool2d(torch.from_numpy(x), k, s, p, ceil_mode=ceil, count_include_pad=include,
                                               divisor_override=divisor or None))
    if want is None:
        refused("avg_pool2d", attrs, x, says="smaller than")
    else:
        assert_close(run1("avg_pool2d", attrs, x), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pads", [(0, 1, 1, 0), (1, 0, 0, 1), (1, 1, 0, 0), (0, 0, 1, 1)])
def test_asymmetric_padding(pads, rng):
    """Padding (top, left, bottom, right) as an explicit pad in front of an unpadded pool."""
    x = random(rng, (2, 3, 9, 8))
    t = torch.from_numpy(x)
    top, left, bottom, right = pads
    padded = F.pad(t, (left, right, top, bottom), value=-np.inf)
    attrs = {"kernel": [3, 3], "stride": [2, 2], "padding": list(pads)}
    assert_equal(run1("max_pool2d", attrs, x), F.max_pool2d(padded, 3, 2))
    zeros = F.pad(t, (left, right, top, bottom))
    assert_close(run1("avg_pool2d", attrs, x), F.avg_pool2d(zeros, 3, 2))
    ones = F.pad(torch.ones_like(t), (left, right, top, bottom))
    counted = F.avg_pool2d(zeros, 3, 2, divisor_override=1) / F.avg_pool2d(ones, 3, 2, divisor_override=1)
    assert_close(run1("avg_pool2d", {**attrs, "count_include_pad": 0}, x), counted)


@pytest.mark.parametrize("shape", [(1, 64, 112, 112), (3, 16, 15, 17), (5, 7, 7)])
@pytest.mark.parametrize("k,s,p", [(3, 2, 1), (3, 1, 1), (2, 2, 0), (5, 1, 2), (5, 2, 2), (3, 2, 0)])
def test_network_pools(shape, k, s, p, rng):
    x = random(rng, shape)
    t = torch.from_numpy(x)
    attrs = {"kernel": [k, k], "stride": [s, s], "padding": [p] * 4}
    for ceil in (0, 1):
        assert_equal(run1("max_pool2d", {**attrs, "ceil_mode": ceil}, x), F.max_pool2d(t, k, s, p, ceil_mode=bool(ceil)))
        assert_close(run1("avg_pool2d", {**attrs, "ceil_mode": ceil}, x), F.avg_pool2d(t, k, s, p, ceil_mode=bool(ceil)))


@pytest.mark.parametrize("hw,k,s,p", [(7, 3, 1, 1), (14, 3, 1, 1), (10, 5, 1, 2), (17, 3, 2, 1), (9, 2, 2, 0),
                                       (20, 5, 1, 2), (11, 3, 2, 0)])
def test_narrow_planes_pool_many_at_a_time(hw, k, s, p, rng):
    """Planes of narrow rows are pooled stacked, each padded, many per kernel call: 300 planes
    make several stacks, the last one short; with ceil_mode windows past the edge, NaN in a max
    pool, every divisor of an average; the same bits at 1 and 2 threads."""
    x = random(rng, (2, 150, hw, hw))
    x[1, 7, hw // 2, 0] = np.nan
    t = torch.from_numpy(x)
    before = pyprune.get_num_threads()
    try:
        for ceil in (0, 1):
            attrs = {"kernel": [k, k], "stride": [s, s], "padding": [p] * 4, "ceil_mode": ceil}
            results = []
            for threads in (1, 2):
                pyprune.set_num_threads(threads)
                results.append(run1("max_pool2d", attrs, x))
                for include in (0, 1):
                    results.append(run1("avg_pool2d", {**attrs, "count_include_pad": include}, x))
            assert_equal(results[0], F.max_pool2d(t, k, s, p, ceil_mode=bool(ceil)))
            for include in (0, 1):
                assert_close(results[1 + include], F.avg_pool2d(t, k, s, p, ceil_mode=bool(ceil),
                                                                count_include_pad=bool(include)), rtol=1e-5, atol=1e-6)
            for a, b in zip(results[:3], results[3:]):
                np.testing.assert_array_equal(a, b)
    finally:
        pyprune.set_num_threads(before)


def test_stride_defaults_to_kernel(rng):
    x = random(rng, (1, 2, 8, 8))
    assert_equal(run1("max_pool2d", {"kernel": [2, 2]}, x), F.max_pool2d(torch.from_numpy(x), 2))


def test_max_pools_propagate_nan(rng):
    x = random(rng, (1, 2, 9, 9))
    x[0, 0, 4, 4] = np.nan
    x[0, 1, 0, 0] = np.nan
    t = torch.from_numpy(x)
    assert_equal(run1("max_pool2d", {"kernel": [3, 3], "stride": [2, 2], "padding": [1] * 4}, x), F.max_pool2d(t, 3, 2, 1))
    assert_equal(run1("adaptive_max_pool2d", {"output_size": [2, 3]}, x), F.adaptive_max_pool2d(t, (2, 3)))


@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 20), w=st.integers(1, 20), oh=st.integers(1, 9), ow=st.integers(1, 9),
       n=st.sampled_from([1, 3]), seed=st.integers(0, 2**16))
def test_adaptive_pools(h, w, oh, ow, n, seed):
    x = random(np.random.default_rng(seed), (n, 3, h, w))
    t = torch.from_numpy(x)
    assert_close(run1("adaptive_avg_pool2d", {"output_size": [oh, ow]}, x), F.adaptive_avg_pool2d(t, (oh, ow)))
    assert_equal(run1("adaptive_max_pool2d", {"output_size": [oh, ow]}, x), F.adaptive_max_pool2d(t, (oh, ow)))


@pytest.mark.parametrize("shape", [(1, 1024, 7, 7), (3, 64, 56, 56), (2, 8, 1, 1), (1, 3, 300, 200)])
def test_global_average_pool(shape, rng):
    x = random(rng, shape)
    assert_close(run1("adaptive_avg_pool2d", {"output_size": [1, 1]}, x), F.adaptive_avg_pool2d(torch.from_numpy(x), 1))


@pytest.mark.parametrize("shape", [(2, 64, 56, 56), (1, 5, 17, 33)])
def test_pools_along_one_axis(shape, rng):
    """Coordinate attention's pools: each row to one value, each column to one value."""
    x = random(rng, shape)
    x[0, 1, 3, 4] = np.nan
    t = torch.from_numpy(x)
    for size in [(shape[2], 1), (1, shape[3])]:
        assert_close(run1("adaptive_avg_pool2d", {"output_size": list(size)}, x), F.adaptive_avg_pool2d(t, size))
        assert_equal(run1("adaptive_max_pool2d", {"output_size": list(size)}, x), F.adaptive_max_pool2d(t, size))


def test_refusals():
    x = np.ones((1, 2, 5, 5), np.float32)
    refused("max_pool2d", {}, x, says="'kernel' is required")
    refused("max_pool2d", {"kernel": [3]}, x, says=["kernel", "2 entries"])
    refused("max_pool2d", {"kernel": [0, 3]}, x, says="kernel")
    refused("max_pool2d", {"kernel": [3, 3], "padding": [2, 2, 2, 2]}, x, says="more than half")
    refused("max_pool2d", {"kernel": [3, 3], "padding": [1, 1]}, x, says=["padding", "4 entries"])
    refused("max_pool2d", {"kernel": [3, 3], "ceil_mode": 2}, x, says="ceil_mode")
    refused("max_pool2d", {"kernel": [3, 3], "count_include_pad": 1}, x, says="unknown attribute 'count_include_pad'")
    refused("avg_pool2d", {"kernel": [3, 3], "dilation": [2, 2]}, x, says="unknown attribute 'dilation'")
    refused("avg_pool2d", {"kernel": [3, 3], "divisor": -1}, x, says="divisor")
    refused("max_pool2d", {"kernel": [7, 7]}, x, says="smaller than")
    refused("max_pool2d", {"kernel": [2, 2]}, np.ones((2, 5, 5, 1, 1), np.float32), says="(N, C, H, W)")
    refused("adaptive_avg_pool2d", {"output_size": [0, 1]}, x, says="output_size")
    refused("adaptive_avg_pool2d", {"output_size": [1, 1]}, np.ones((1, 2, 0, 3), np.float32), says="empty plane")
    refused("adaptive_max_pool2d", {}, x, says="'output_size' is required")


@pytest.mark.parametrize("shape", [(2, 64, 25, 5), (1, 16, 7, 7), (3, 5, 1, 9), (6, 8, 8)])
@pytest.mark.parametrize("stride", [1, 2])
def test_a_window_on_the_whole_plane_is_a_global_pool(shape, stride, rng):
    """avg_pool2d(x, 7) after a 7x7 map or F.avg_pool2d(x, x.shape[2:]) (DS-CNN), max_pool2d
    likewise: one output per plane, reduced whole; a NaN propagates out of its max."""
    x = random(rng, shape)
    x.reshape(-1)[3] = np.nan
    t, k = torch.from_numpy(x), list(shape[-2:])
    attrs = {"kernel": k, "stride": [stride, stride], "padding": [0, 0, 0, 0]}
    for ceil in (0, 1):
        assert_equal(run1("max_pool2d", {**attrs, "ceil_mode": ceil}, x), F.max_pool2d(t, k, stride, ceil_mode=bool(ceil)))
    x.reshape(-1)[3] = 0.5
    t = torch.from_numpy(x)
    assert_close(run1("avg_pool2d", attrs, x), F.avg_pool2d(t, k, stride), rtol=1e-5, atol=1e-6)
    assert_close(run1("avg_pool2d", {**attrs, "divisor": 7}, x), F.avg_pool2d(t, k, stride, divisor_override=7),
                 rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,kernel,dilation,ceil", [
    ((1, 1, 1, 5), [1, 3], [2, 2], False), ((2, 3, 5, 5), [3, 3], [2, 2], False), ((1, 2, 7, 3), [4, 2], [2, 2], False),
    ((1, 1, 2, 2), [2, 2], [1, 2], True)])  # as many taps as the plane, the second past its edge
def test_a_dilated_window_on_the_whole_plane_reads_only_its_taps(shape, kernel, dilation, ceil, rng):
    """A 3-tap window at dilation 2 spans five inputs but reads three; one as wide as the plane
    reaches past it: one output per plane, not the plane's maximum."""
    x = random(rng, shape)
    attrs = {"kernel": kernel, "stride": [1, 2], "padding": [0, 0, 0, 0], "dilation": dilation, "ceil_mode": int(ceil)}
    want = F.max_pool2d(torch.from_numpy(x), kernel, [1, 2], 0, dilation, ceil_mode=ceil)
    assert_equal(run1("max_pool2d", attrs, x), want)
