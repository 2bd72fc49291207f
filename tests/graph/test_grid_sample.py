"""grid_sample (F.grid_sample of 4-D inputs): every mode, padding and align_corners against torch
over shape sweeps, grids reaching past the borders, exact pixel centres and half points, far-off
and non-finite coordinates, and the refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from operator_testing import assert_close, random, refused, run1

torch = pytest.importorskip("torch")
F = torch.nn.functional

MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")


def torch_sample(x, grid, mode, padding, align_corners):
    return F.grid_sample(torch.from_numpy(x), torch.from_numpy(grid), mode, padding, bool(align_corners))


def sample(x, grid, mode, padding, align_corners):
    return run1("grid_sample", {"mode": mode, "padding": padding, "align_corners": align_corners}, x, grid)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 5), h=st.integers(1, 9), w=st.integers(1, 9),
       out_h=st.integers(1, 7), out_w=st.integers(1, 80), mode=st.sampled_from(MODES),
       padding=st.sampled_from(PADDINGS), align_corners=st.integers(0, 1), reach=st.sampled_from([1.0, 1.6, 4.0]),
       seed=st.integers(0, 2**16))
def test_matches_torch(n, c, h, w, out_h, out_w, mode, padding, align_corners, reach, seed):
    rng = np.random.default_rng(seed)
    x, grid = random(rng, (n, c, h, w)), random(rng, (n, out_h, out_w, 2), -reach, reach)
    assert_close(sample(x, grid, mode, padding, align_corners), torch_sample(x, grid, mode, padding, align_corners),
                 rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("align_corners", [0, 1])
@pytest.mark.parametrize("mode", MODES)
def test_pixel_centres_read_the_pixels_and_half_points_round_as_torch(mode, align_corners):
    x = random(np.random.default_rng(0), (1, 2, 5, 6))
    # the pixels' centres in grid units: the input comes back (up to rounding)
    ys, xs = (np.arange(s, dtype=np.float32) for s in (5, 6))
    to_grid = (lambda i, s: 2 * i / (s - 1) - 1) if align_corners else (lambda i, s: (2 * i + 1) / s - 1)
    gy, gx = np.meshgrid(to_grid(ys, 5), to_grid(xs, 6), indexing="ij")
    centres = np.stack([gx, gy], -1)[None].astype(np.float32)
    assert_close(sample(x, centres, mode, "zeros", align_corners), x, rtol=1e-5, atol=1e-5)
    # halfway between pixels: nearest rounds half to even, as torch does
    halves = centres + np.float32(0.5) * (centres[:, 1:2, 1:2] - centres[:, :1, :1])
    for padding in PADDINGS:
        assert_close(sample(x, halves, mode, padding, align_corners), torch_sample(x, halves, mode, padding, align_corners),
                     rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_far_off_and_non_finite_coordinates(mode):
    x = random(np.random.default_rng(1), (1, 3, 4, 5))
    far = np.array([1e30, -1e30, 3e9, -3e9, 1e6, 7.0], np.float32)
    grid = np.stack(np.meshgrid(far, far, indexing="ij"), -1)[None]
    for padding in PADDINGS:  # zeros reads nothing; border and reflection land inside
        assert_close(sample(x, grid, mode, padding, 0), torch_sample(x, grid, mode, padding, False), rtol=1e-4, atol=1e-5)
    special = np.array([[[[np.nan, 0.0], [0.0, np.inf], [-np.inf, 0.5], [0.2, 0.3]]]], np.float32)
    got, want = sample(x, special, mode, "zeros", 0), torch_sample(x, special, mode, "zeros", False).numpy()
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert_close(np.nan_to_num(got), np.nan_to_num(want))


def test_refusals():
    x, grid = np.ones((2, 3, 4, 5), np.float32), np.zeros((2, 6, 7, 2), np.float32)
    refused("grid_sample", {}, x, grid[..., :1].copy(), says=["grid must be (N, H_out, W_out, 2)", "(2, 6, 7, 1)"])
    refused("grid_sample", {}, x, grid[:1].copy(), says=["the input's N = 2", "(1, 6, 7, 2)"])
    refused("grid_sample", {}, x, grid[0].copy(), says="grid must be")
    refused("grid_sample", {}, x[0].copy(), grid, says="input must be (N, C, H, W)")
    refused("grid_sample", {}, x[:, :, :0].copy(), grid, says="empty planes")
    refused("grid_sample", {}, x, says="takes 2 inputs, got 1")
    refused("grid_sample", {"mode": "area"}, x, grid, says=["mode", "area"])
    refused("grid_sample", {"padding": "circular"}, x, grid, says=["padding", "circular"])
    refused("grid_sample", {"align_corners": 2}, x, grid, says="align_corners")
    refused("grid_sample", {"scale": 2}, x, grid, says="unknown attribute 'scale'")


def test_empty_grid_gives_an_empty_output():
    y = sample(np.ones((1, 3, 4, 5), np.float32), np.zeros((1, 0, 7, 2), np.float32), "bilinear", "zeros", 0)
    assert y.shape == (1, 3, 0, 7)
