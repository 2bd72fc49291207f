"""upsample against F.interpolate: nearest, nearest-exact, bilinear and bicubic (align_corners or
not), to a size or by a scale (torch's floor(in * scale) sizes and 1 / scale coordinates), up and
down, batch 1 and 3, images of one pixel and of ragged sizes (bicubic's taps clamped at every
border); refusals."""

import itertools

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from operator_testing import assert_close, assert_equal, random, refused, run1

torch = pytest.importorskip("torch")

SCALES = (2.0, 3.0, 1.5, 0.5, 1 / 3, 2.3, 0.7, 1.0, 1.25, 4.0, 0.3, 1.1)
MODES = [("nearest", None), ("nearest_exact", None), ("bilinear", False), ("bilinear", True), ("bicubic", False),
         ("bicubic", True)]


def interpolate(x, mode, align_corners, **how):
    return F.interpolate(torch.from_numpy(x), mode=mode.replace("_", "-"), align_corners=align_corners, **how)


def attrs_of(mode, align_corners, **how):
    attrs = {"mode": mode, **how}
    if align_corners is not None:
        attrs["align_corners"] = int(align_corners)
    return attrs


def check(x, mode, align_corners, got, want):
    if mode.startswith("nearest"):
        assert_equal(got, want)
    elif mode == "bilinear":
        assert_close(got, want, rtol=1e-5, atol=5e-6)  # inputs of magnitude 2: a few ulp
    else:
        # torch's build fuses some of the cubic weights' and the sums' products (FMA): with the
        # negative weights' cancellation, a few ulp of the intermediate sums
        assert_close(got, want, rtol=1e-5, atol=1e-5)


@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), oh=st.integers(1, 25), ow=st.integers(1, 25),
       mode=st.sampled_from(MODES), n=st.sampled_from([1, 3]), seed=st.integers(0, 2**16))
def test_to_a_size(h, w, oh, ow, mode, n, seed):
    x = random(np.random.default_rng(seed), (n, 2, h, w))
    got = run1("upsample", attrs_of(*mode, size=[oh, ow]), x)
    check(x, *mode, got, interpolate(x, *mode, size=(oh, ow)))


@settings(max_examples=100, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), like=st.sampled_from([(13, 25), (1, 1), (7, 3), (3, 8, 5)]),
       mode=st.sampled_from(MODES), seed=st.integers(0, 2**16))
def test_to_the_size_of_another_input(h, w, like, mode, seed):
    """size_like: the size is input 1's last two dims (F.interpolate(x, size=y.shape[-2:])),
    whatever its rank and values; as `size` would give."""
    rng = np.random.default_rng(seed)
    x, y = random(rng, (2, 3, h, w)), random(rng, like)
    got = run1("upsample", attrs_of(*mode, size_like=1), x, y)
    assert got.shape == (2, 3, *like[-2:])
    check(x, *mode, got, interpolate(x, *mode, size=like[-2:]))


@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), sh=st.sampled_from(SCALES), sw=st.sampled_from(SCALES),
       mode=st.sampled_from(MODES), seed=st.integers(0, 2**16))
def test_by_a_scale(h, w, sh, sw, mode, seed):
    x = random(np.random.default_rng(seed), (1, 2, h, w))
    attrs = attrs_of(*mode, scale=[sh, sw])
    try:
        want = interpolate(x, *mode, scale_factor=(sh, sw))
    except RuntimeError:  # an empty output
        refused("upsample", attrs, x, says="empty output")
        return
    check(x, *mode, run1("upsample", attrs, x), want)


@pytest.mark.parametrize("align_corners", [False, True])
def test_bicubic_over_every_small_size_up_and_down(align_corners, rng):
    """Images of 1 to 7 rows (and 8 to 2 columns) to 1 to 13: the four taps clamped at both
    borders, source coordinates before the first pixel, one-pixel inputs and outputs."""
    for h, oh in itertools.product(range(1, 8), (1, 2, 3, 5, 8, 13)):
        x = random(rng, (2, 3, h, 9 - h))
        got = run1("upsample", attrs_of("bicubic", align_corners, size=[oh, 14 - oh]), x)
        check(x, "bicubic", align_corners, got, interpolate(x, "bicubic", align_corners, size=(oh, 14 - oh)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,scale", [((1, 128, 40, 40), 2.0), ((3, 16, 13, 17), 2.0), ((1, 8, 20, 30), 0.5)])
def test_network_upsampling(mode, shape, scale, rng):
    x = random(rng, shape)
    check(x, *mode, run1("upsample", attrs_of(*mode, scale=[scale, scale]), x),
          interpolate(x, *mode, scale_factor=scale))


def test_refusals():
    x = np.ones((1, 2, 4, 4), np.float32)
    refused("upsample", {"mode": "nearest"}, x, says="exactly one of")
    refused("upsample", {"mode": "nearest", "size": [8, 8], "scale": [2, 2]}, x, says="exactly one of")
    refused("upsample", {"mode": "nearest", "size": [8, 8], "size_like": 1}, x, x, says="exactly one of")
    refused("upsample", {"mode": "nearest", "size_like": 2}, x, x, says="size_like")
    refused("upsample", {"mode": "nearest", "size_like": 1}, x, says="input")
    refused("upsample", {"mode": "nearest", "size": [8, 8]}, x, x, says="input")
    refused("upsample", {"mode": "nearest", "size_like": 1}, x, np.ones(5, np.float32), says="rank 1, less than 2")
    refused("upsample", {"mode": "area", "size": [8, 8]}, x, says=["mode", "area"])
    refused("upsample", {"mode": "bicubic", "size": [8, 8], "antialias": 1}, x, says="unknown attribute 'antialias'")
    refused("upsample", {"mode": "nearest", "size": [8, 8], "align_corners": 1}, x, says="align_corners")
    refused("upsample", {"mode": "nearest_exact", "size": [8, 8], "align_corners": 0}, x, says="align_corners")
    refused("upsample", {"mode": "bicubic", "size": [8, 8], "align_corners": 2}, x, says="align_corners")
    refused("upsample", {"mode": "bilinear", "scale": [0.0, 2.0]}, x, says="scale")
    refused("upsample", {"mode": "bilinear", "scale": [2.0]}, x, says=["scale", "2 entries"])
    refused("upsample", {"mode": "nearest", "size": [0, 8]}, x, says="size")
    refused("upsample", {"mode": "nearest", "scale": [0.1, 1.0]}, x, says="empty output")
    refused("upsample", {"mode": "nearest", "scale": [2.0, 2.0]}, np.ones((2, 4, 4), np.float32), says="(N, C, H, W)")
    refused("upsample", {"mode": "nearest", "scale": [2**20, 2**20]}, np.ones((1, 1, 2**12, 2**12), np.float32),
            says="too large")
