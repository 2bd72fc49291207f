"""Dense convolution on the GEMM kernels: every microkernel against the reference kernel, the
reference against numpy and torch, 1x1 and KxK, grouped, bad input."""

import numpy as np
import pytest
from conftest import SMALL_SWEEP
from hypothesis import given, settings
from hypothesis import strategies as st

import pyprune
import reference
from pyprune import _core, kernels
from pyprune.activation import Activation

UKERNELS = _core.testing.gemm_ukernels()
AVAILABLE = kernels.available_isas()
REF = next(u["name"] for u in UKERNELS if u["isa"] == "scalar")
ACTIVATIONS = (Activation.none(), Activation.relu(), Activation.relu6(), Activation.clamp(-0.5, 0.75))


def run(x, weight, bias, act, stride=1, padding=0, groups=1, ukernel=None):
    conv = _core.Conv2d(weight, bias, stride=stride, padding=padding, groups=groups, ukernel=ukernel)
    return conv.forward(x, act.min, act.max)


def gemm_shapes(mr, nr):
    """(cout, cin, h, w): output channels around the tile's rows, pixel counts around its
    columns (ragged tails included, and a tail of whole vectors: nr + nr / 2), depths below,
    at and above the unrolling."""
    couts = sorted({1, 2, mr - 1, mr, mr + 1, 2 * mr - 1, 2 * mr, 3 * mr + 1} - {0})
    pixels = sorted({1, 2, 3, nr - 1, nr, nr + 1, nr + nr // 2, 2 * nr + 3, 3 * nr + 5} - {0})
    cins = (1, 2, 5, 13, 17) if SMALL_SWEEP else (1, 2, 3, 4, 5, 8, 13, 16, 17, 33)
    return [(co, ci, 1, p) for co in couts for ci in cins for p in pixels]


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_reference(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    for i, (cout, cin, h, w) in enumerate(gemm_shapes(ukernel["mr"], ukernel["nr"])):
        act = ACTIVATIONS[i % 4]
        x = rng.standard_normal((1 + 2 * (i % 2), cin, h, w), dtype=np.float32)
        weight = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32)
        bias = rng.standard_normal(cout, dtype=np.float32) if i % 3 else None
        got = run(x, weight, bias, act, ukernel=ukernel["name"])
        want = run(x, weight, bias, act, ukernel=REF)
        tol = reference.tolerance(cin)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{(cout, cin, h, w)} {act}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_every_column_tail(ukernel, rng):
    """Every pixel count from 1 to two tiles and one: each way a kernel splits what is left after
    its whole tiles (narrower blocks, single columns), with and without whole tiles before; rows
    past mr in the second block of channels; depths with and without a whole unrolled trip, a
    pair or four k left over and an odd k (4 pixels: rows of 4 floats back to back, which NEON
    loads four at a time)."""
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    cout = ukernel["mr"] + 3
    for i, (cin, pixels) in enumerate((c, p) for c in (3, 13, 16, 35) for p in range(1, 2 * ukernel["nr"] + 2)):
        act = ACTIVATIONS[i % 4]
        x = rng.standard_normal((1, cin, 1, pixels), dtype=np.float32)
        weight = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32)
        bias = rng.standard_normal(cout, dtype=np.float32)
        got = run(x, weight, bias, act, ukernel=ukernel["name"])
        want = run(x, weight, bias, act, ukernel=REF)
        tol = reference.tolerance(cin)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{(cout, cin, pixels)} {act}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_column_does_not_depend_on_its_place(ukernel, rng):
    """A column's value is the same bits whatever the call's pixel count and wherever the column
    falls in it (whole tile, narrower block, transposed or single-column tail): the contract that
    lets drivers cut pixels anywhere, and results stay independent of the thread count. A 1x1
    convolution of stride 2 over a slice of the pixels, each doubled, is one kernel call on that
    slice (a 1x1 plane would take the GEMV instead)."""
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    nr = ukernel["nr"]
    pixels = 2 * nr + 5
    for cin in (1, 3, 13, 35):
        x = rng.standard_normal((1, cin, 1, pixels), dtype=np.float32)
        weight = rng.standard_normal((ukernel["mr"] + 3, cin, 1, 1), dtype=np.float32)
        bias = rng.standard_normal(ukernel["mr"] + 3, dtype=np.float32)
        whole = run(x, weight, bias, Activation.none(), ukernel=ukernel["name"])
        cuts = [(j, j + 1) for j in range(pixels)] + [tuple(sorted(rng.choice(pixels + 1, 2, replace=False)))
                                                      for _ in range(24)]
        for a, b in cuts:
            doubled = np.repeat(x[..., a:b], 2, axis=-1)
            part = run(doubled, weight, bias, Activation.none(), stride=2, ukernel=ukernel["name"])
            np.testing.assert_array_equal(part, whole[..., a:b], err_msg=f"cin {cin}, pixels [{a}, {b}) of {pixels}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_zero_biases_without_clamp(ukernel, rng):
    """Unclamped calls whose biases are all zero (Winograd's GEMMs): a kernel may start from the
    first k's products instead (NEON's 8x12, from one whole loop trip of k on). Zeros of either
    sign, depths around the loop trip with pairs and an odd k left over, and blocks of channels
    where only one bias, the last row's, is not zero (which must not be skipped)."""
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    mr, nr = ukernel["mr"], ukernel["nr"]
    cout = 2 * mr + 3
    cins = (15, 16, 17, 33, 64) if SMALL_SWEEP else (2, 15, 16, 17, 18, 31, 32, 33, 47, 64, 65)
    for i, (cin, pixels) in enumerate((c, p) for c in cins for p in (nr - 1, nr, nr + 1, 2 * nr + 5)):
        x = rng.standard_normal((1, cin, 1, pixels), dtype=np.float32)
        weight = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32)
        bias = np.where(rng.random(cout) < 0.5, np.float32(0.0), np.float32(-0.0)).astype(np.float32)
        if i % 2:
            bias[mr - 1] = 0.5  # the first block's last row
            bias[2 * mr + 2] = -0.25  # the rows past the last whole block
        got = run(x, weight, bias, Activation.none(), ukernel=ukernel["name"])
        want = run(x, weight, bias, Activation.none(), ukernel=REF)
        tol = reference.tolerance(cin)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{(cout, cin, pixels)}, bias {bias}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_on_grouped_convolutions_matches_reference(ukernel, rng):
    """Grouped 3x3s with output channels per group around the tile's rows: their panels come
    from phase planes of the padded input, each output row's extra columns dropped."""
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    mr = ukernel["mr"]
    per_groups = sorted({1, mr - 1, mr, mr + 1} - {0})
    cases = [(c, g, s, n) for c in per_groups for g in (2, 5) for s in (1, 2) for n in (9, 20)]
    for i, (per_group, groups, stride, size) in enumerate(cases):
        act = ACTIVATIONS[i % 4]
        cin = (1 + i % 3) * groups
        x = rng.standard_normal((1 + i % 2, cin, size, size + 3), dtype=np.float32)
        weight = rng.standard_normal((per_group * groups, cin // groups, 3, 3), dtype=np.float32)
        bias = rng.standard_normal(per_group * groups, dtype=np.float32)
        got = run(x, weight, bias, act, stride, 1, groups, ukernel=ukernel["name"])
        want = run(x, weight, bias, act, stride, 1, groups, ukernel=REF)
        tol = reference.tolerance(9 * cin // groups)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{(per_group, groups, stride, size)} {act}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_large_layer_and_nan(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    x = rng.standard_normal((1, 67, 23, 29), dtype=np.float32)
    x[0, 3, 5, 7] = np.nan
    x[0, 4, 6, 8] = np.inf
    weight = rng.standard_normal((37, 67, 1, 1), dtype=np.float32)
    got = run(x, weight, None, Activation.relu(), ukernel=ukernel["name"])
    want = reference.conv2d(x, weight, lo=0.0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-4, atol=1e-4)


CONV_CASES = [
    # (cin, cout, k, stride, padding, groups, h, w)
    (3, 8, 3, 2, 1, 1, 17, 13),
    (5, 8, 3, 2, 1, 1, 17, 13),  # dense strided: exact-pixel panels from phase planes
    (4, 6, 3, 2, 0, 1, 12, 15),
    (3, 16, 3, 1, 1, 1, 9, 9),
    (8, 8, 3, 1, 0, 1, 5, 7),
    (6, 9, 5, 2, 2, 3, 11, 10),
    (12, 12, 1, 1, 0, 4, 7, 5),
    (12, 24, 1, 2, 0, 3, 9, 9),
    (4, 4, 3, 1, 1, 4, 6, 6),
    (5, 7, 7, 3, 3, 1, 15, 16),
    (2, 3, 2, 1, 1, 1, 4, 4),
    (16, 32, 1, 1, 0, 1, 1, 1),
]


@pytest.mark.parametrize("cin,cout,k,stride,padding,groups,h,w", CONV_CASES)
def test_conv2d_matches_numpy(cin, cout, k, stride, padding, groups, h, w, rng):
    x = rng.standard_normal((2, cin, h, w), dtype=np.float32)
    weight = rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32)
    bias = rng.standard_normal(cout, dtype=np.float32)
    for act in ACTIVATIONS:
        got = kernels.conv2d(x, weight, bias, stride=stride, padding=padding, groups=groups, activation=act)
        want = reference.conv2d(x, weight, bias, stride, padding, groups, act.min, act.max)
        tol = reference.tolerance(cin // groups * k * k)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("cin,cout,k,stride,padding,groups,h,w", CONV_CASES)
def test_conv2d_matches_torch(cin, cout, k, stride, padding, groups, h, w, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((1, cin, h, w), dtype=np.float32)
    weight = rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32)
    bias = rng.standard_normal(cout, dtype=np.float32)
    tx, tw, tb = map(torch.from_numpy, (x, weight, bias))
    got = kernels.conv2d(tx, tw, tb, stride=stride, padding=padding, groups=groups, activation="relu6")
    want = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, groups=groups).clamp(0, 6)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def pointwise_reference(x, weight):
    """A 1x1 convolution of x (n, cin, 1, pixels) by weight (cout, cin), in float64."""
    return np.einsum("oc,ncp->nop", weight.astype(np.float64), x[:, :, 0].astype(np.float64))[:, :, None]


@settings(max_examples=20 if SMALL_SWEEP else 100, deadline=None)
@given(
    n=st.integers(1, 2),
    cin=st.integers(1, 40),
    cout=st.integers(1, 40),
    pixels=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
)
def test_pointwise_property(n, cin, cout, pixels, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, 1, pixels), dtype=np.float32)
    weight = rng.standard_normal((cout, cin), dtype=np.float32)
    got = kernels.pointwise_conv2d(x, weight)
    want = pointwise_reference(x, weight)
    tol = reference.tolerance(cin)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@settings(max_examples=8 if SMALL_SWEEP else 30, deadline=None)
@given(
    n=st.integers(1, 2),
    cin=st.integers(128, 300),
    cout=st.integers(40, 130),
    pixels=st.integers(1, 700),
    threads=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**32 - 1),
)
def test_deep_pointwise_property(n, cin, cout, pixels, threads, seed):
    """Depths and channel counts whose x86 panels are copied into strips (pieces of the tile's
    width, the last one wider, several panels past 218 pixels at depth 300), with a residual and
    an activation applied after the pieces; identical at 1 and 2 threads."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, 1, pixels), dtype=np.float32)
    weight = rng.standard_normal((cout, cin), dtype=np.float32)
    bias = rng.standard_normal(cout, dtype=np.float32)
    residual = rng.standard_normal((n, cout, 1, pixels), dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(1)
        single = kernels.pointwise_conv2d(x, weight, bias, activation="relu6", residual=residual)
        pyprune.set_num_threads(threads)
        got = kernels.pointwise_conv2d(x, weight, bias, activation="relu6", residual=residual)
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(got, single)
    want = pointwise_reference(x, weight)
    want = np.clip(want + bias[None, :, None, None] + residual, 0.0, 6.0)
    tol = reference.tolerance(cin)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# (n, cin, cout, h, w): input planes a multiple of 4 KiB (1024 floats), whose rows the pointwise
# GEMM copies at any depth and any number of channel blocks (x86: into strips where deep enough,
# otherwise rows further apart): shallow and deep, a single block and many, a plane of one row,
# several panels, a batch; deep with many blocks at 1 thread and fewer per thread at 2 and 3.
ALIASED_PLANES = [
    (1, 3, 5, 32, 32),
    (2, 16, 40, 16, 64),
    (1, 40, 1, 1, 1024),
    (1, 33, 70, 64, 64),
    (2, 130, 13, 8, 128),
    (1, 128, 60, 32, 32),
]


@pytest.mark.parametrize("n,cin,cout,h,w", ALIASED_PLANES)
def test_pointwise_on_planes_whose_rows_alias(n, cin, cout, h, w, rng):
    x = rng.standard_normal((n, cin, h, w), dtype=np.float32)
    weight = rng.standard_normal((cout, cin), dtype=np.float32)
    bias = rng.standard_normal(cout, dtype=np.float32)
    residual = rng.standard_normal((n, cout, h, w), dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            pyprune.set_num_threads(threads)
            results.append(kernels.pointwise_conv2d(x, weight, bias, activation="relu6", residual=residual))
    finally:
        pyprune.set_num_threads(before)
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])
    product = np.einsum("oc,nchw->nohw", weight.astype(np.float64), x.astype(np.float64))
    want = np.clip(product + bias[None, :, None, None] + residual, 0.0, 6.0)
    tol = reference.tolerance(cin)
    np.testing.assert_allclose(results[0], want, rtol=tol, atol=tol)


# (n, cin, cout, h, w, kernel, stride, padding, groups): the ways threads share a convolution's
# output. Pointwise: weights larger than the input (shares of channels: many blocks, or three,
# too few for an even split: pixels), smaller (shares of pixels), one block, a plane under one
# vector, several panels and a batch.
# Deep ones on inputs larger than L2 and few blocks, whose tasks ask for the next panel's rows
# (x86): a batch, a depth that is no multiple of the blocks.
# im2col: a large plane and small weights (pixels), a small plane and large weights (channels),
# 1x1 stride 2, grouped. Depth 1024 cuts the plane into panels whose rest, narrower than the
# register tile, goes with the last panel: 196 pixels (x86-64) and 185 (NEON).
SPLITS = [
    (1, 1024, 16, 14, 14, 1, 1, 0, 1),
    (1, 1024, 16, 5, 37, 1, 1, 0, 1),
    (1, 24, 64, 31, 33, 1, 1, 0, 1),
    (1, 16, 24, 9, 17, 1, 1, 0, 1),
    (1, 8, 5, 7, 7, 1, 1, 0, 1),
    (1, 12, 64, 3, 4, 1, 1, 0, 1),
    (1, 64, 256, 8, 9, 1, 1, 0, 1),
    (1, 64, 24, 3, 5, 1, 1, 0, 1),
    (2, 64, 48, 40, 41, 1, 1, 0, 1),
    (2, 256, 40, 33, 35, 1, 1, 0, 1),
    (1, 301, 20, 30, 41, 1, 1, 0, 1),
    (1, 6, 16, 45, 47, 3, 1, 1, 1),
    (1, 96, 64, 3, 3, 3, 1, 1, 1),
    (2, 32, 48, 13, 11, 1, 2, 0, 1),
    (2, 24, 16, 31, 33, 3, 2, 1, 2),
]


@pytest.mark.parametrize("n,cin,cout,h,w,k,stride,padding,groups", SPLITS)
def test_results_do_not_depend_on_thread_count(n, cin, cout, h, w, k, stride, padding, groups, rng):
    x = rng.standard_normal((n, cin, h, w), dtype=np.float32)
    weight = rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32)
    bias = rng.standard_normal(cout, dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 4, 7):
            pyprune.set_num_threads(threads)
            results.append(kernels.conv2d(x, weight, bias, stride=stride, padding=padding, groups=groups,
                                          activation="relu"))
    finally:
        pyprune.set_num_threads(before)
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])
    want = reference.conv2d(x, weight, bias, stride, padding, groups, lo=0.0)
    tol = reference.tolerance(cin // groups * k * k)
    np.testing.assert_allclose(results[0], want, rtol=tol, atol=tol)


def test_module_weights_are_packed_once_and_reused(rng):
    weight = rng.standard_normal((8, 4, 1, 1), dtype=np.float32)
    conv = _core.Conv2d(weight)
    weight[:] = 0  # the packed copy is independent of the caller's array
    x = rng.standard_normal((1, 4, 5, 5), dtype=np.float32)
    assert np.abs(conv.forward(x)).sum() > 0
    assert (conv.in_channels, conv.out_channels) == (4, 8)
    out = np.empty((1, 8, 5, 5), np.float32)
    assert conv.forward(x, out=out) is out


X = np.zeros((1, 4, 8, 8), np.float32)
W = np.zeros((6, 4, 3, 3), np.float32)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(x=X.astype(np.float64), weight=W), TypeError, "x must have dtype float32"),
        (dict(x=X, weight=W[:, :, :, :2]), ValueError, "square kernel"),
        (dict(x=X, weight=W, groups=4), ValueError, "groups must be at least 1 and divide the 6"),
        (dict(x=X, weight=W, groups=0), ValueError, "groups must be at least 1"),
        (dict(x=X, weight=W, stride=0), ValueError, "stride must be at least 1"),
        (dict(x=X, weight=W, padding=3), ValueError, "padding must be in \\[0, 2\\]"),
        (dict(x=X, weight=W, bias=np.zeros(5, np.float32)), ValueError, "bias must have shape \\(6,\\)"),
        (dict(x=X[:, :3], weight=W), ValueError, "x must have 4 channels"),
        (dict(x=X, weight=W[:, :2], groups=3), ValueError, "x must have 6 channels"),
        (dict(x=X[:, :, :2], weight=W), ValueError, "smaller than the 3x3 kernel"),
        (dict(x=X, weight=W, out=np.zeros((1, 6, 6, 5), np.float32)), ValueError, "out must have shape \\(1, 6, 6, 6\\)"),
        (dict(x=X, weight=W, activation="swish"), ValueError, "activation must be one of"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        kernels.conv2d(**kwargs)


def test_pointwise_weight_shape_checked():
    with pytest.raises(ValueError, match="weight must have shape \\(Cout, Cin, 1, 1\\)"):
        kernels.pointwise_conv2d(X, W)
    with pytest.raises(ValueError, match="out must not share memory"):
        kernels.pointwise_conv2d(X, np.zeros((4, 4), np.float32), out=X)
