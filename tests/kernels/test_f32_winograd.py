"""Winograd convolution F(m x m, 3 x 3): the matrices, every transform kernel against the
reference kernel and the reference against the matrices, the whole convolution (dense, and
grouped in the engine) against the direct (im2col GEMM) convolution, float64 numpy and torch
over shape sweeps, thread invariance
and concurrent callers, its rounding error against float64, bad input."""

import threading

import activation_reference
import numpy as np
import pytest
from conftest import SMALL_SWEEP
from hypothesis import given, settings
from hypothesis import strategies as st

import pyprune
import reference
from pyprune import _core, kernels
from pyprune.activation import Activation

TESTING = _core.testing
INPUT_UKERNELS = TESTING.winograd_input_ukernels()
OUTPUT_UKERNELS = TESTING.winograd_output_ukernels()
AVAILABLE = kernels.available_isas()
TILES = kernels.capabilities().winograd.tiles
GROUP = 8  # PP_WINOGRAD_TILE_GROUP: kernels may read the lanes up to the next multiple of it
ACTIVATIONS = (Activation.none(), Activation.relu(), Activation.relu6(), Activation.clamp(-0.5, 0.75))


def ref_name(rows, tile):
    return next(u["name"] for u in rows if u["isa"] == "scalar" and u["tile"] == tile)


def tile_counts():
    """Tiles per call: around one and two vectors of tiles (4 on NEON, 8 on AVX2)."""
    return (1, 2, 3, 5, 8, 9, 13) if SMALL_SWEEP else (1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 23)


# ---- the matrices ----------------------------------------------------------------------------


@pytest.mark.parametrize("tile", TILES)
def test_matrices_compute_the_correlation(tile, rng):
    mats = TESTING.winograd_matrices(tile)
    bt, g, at = mats["BT"], mats["G"], mats["AT"]
    alpha = tile + 2
    assert bt.shape == (alpha, alpha) and g.shape == (alpha, 3) and at.shape == (tile, alpha)
    for _ in range(5):
        d, f = rng.standard_normal((alpha, alpha)), rng.standard_normal((3, 3))
        y = at @ ((g @ f @ g.T) * (bt @ d @ bt.T)) @ at.T
        want = np.lib.stride_tricks.sliding_window_view(d, (3, 3)).reshape(tile, tile, 9) @ f.ravel()
        np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-11)


# ---- transform kernels -----------------------------------------------------------------------


def strip_for(rng, tile, tiles, poison=True):
    """An input strip of exactly the width a kernel may read, NaN past the last patch (which must
    not reach any result)."""
    alpha = tile + 2
    width = -(-tiles // GROUP) * GROUP * tile + alpha
    strip = rng.standard_normal((alpha, width), dtype=np.float32)
    if poison:
        strip[:, tiles * tile + 2 :] = np.nan
    return strip


def transformed_for(rng, tile, tiles, scale=1.0):
    """Transformed tiles of exactly the width a kernel may read, NaN in the lanes past `tiles`."""
    alpha = tile + 2
    data = (rng.standard_normal((alpha * alpha, -(-tiles // GROUP) * GROUP)) * scale).astype(np.float32)
    data[:, tiles:] = np.nan
    return data


@pytest.mark.parametrize("tile", TILES)
def test_reference_input_transform_is_the_matrix_product(tile, rng):
    bt = TESTING.winograd_matrices(tile)["BT"]
    alpha = tile + 2
    for tiles in tile_counts():
        strip = strip_for(rng, tile, tiles)
        got = TESTING.winograd_input_transform(ref_name(INPUT_UKERNELS, tile), tiles, strip)[:, :tiles]
        for t in range(tiles):
            d = strip[:, t * tile : t * tile + alpha].astype(np.float64)
            want = (bt @ d @ bt.T).ravel()
            np.testing.assert_allclose(got[:, t], want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("ukernel", INPUT_UKERNELS, ids=[u["name"] for u in INPUT_UKERNELS])
def test_input_ukernel_matches_reference(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    tile = ukernel["tile"]
    for tiles in tile_counts():
        strip = strip_for(rng, tile, tiles)
        got = TESTING.winograd_input_transform(ukernel["name"], tiles, strip)[:, :tiles]
        want = TESTING.winograd_input_transform(ref_name(INPUT_UKERNELS, tile), tiles, strip)[:, :tiles]
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max(), err_msg=f"{tiles} tiles")


@pytest.mark.parametrize("tile", TILES)
def test_reference_output_transform_is_the_matrix_product(tile, rng):
    at = TESTING.winograd_matrices(tile)["AT"]
    alpha = tile + 2
    for tiles in tile_counts():
        for rows, columns in ((tile, tiles * tile), (1, (tiles - 1) * tile + 1), (tile - 1, tiles * tile - 2)):
            data = transformed_for(rng, tile, tiles)
            residual = rng.standard_normal((rows, columns), dtype=np.float32)
            got = TESTING.winograd_output_transform(ref_name(OUTPUT_UKERNELS, tile), tiles, rows, columns, data,
                                                    0.25, residual, -1.0, 2.0)
            want = np.empty((tile, tiles * tile))
            for t in range(tiles):
                m = data[:, t].astype(np.float64).reshape(alpha, alpha)
                want[:, t * tile : (t + 1) * tile] = at @ m @ at.T
            want = np.clip(want[:rows, :columns] + 0.25 + residual, -1.0, 2.0)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * 64)


def output_cases(tile, tiles):
    """(rows, columns, residual, activation): whole and cut tiles, with and without a residual."""
    cases = []
    for i, rows in enumerate(sorted({1, tile - 1, tile})):
        for j, columns in enumerate(sorted({tiles * tile, tiles * tile - 1, (tiles - 1) * tile + 1})):
            cases.append((rows, columns, (i + j) % 2 == 0, ACTIVATIONS[(i + j) % len(ACTIVATIONS)]))
    return cases


@pytest.mark.parametrize("ukernel", OUTPUT_UKERNELS, ids=[u["name"] for u in OUTPUT_UKERNELS])
def test_output_ukernel_matches_reference(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    tile = ukernel["tile"]
    for tiles in tile_counts():
        for rows, columns, with_residual, act in output_cases(tile, tiles):
            data = transformed_for(rng, tile, tiles)
            residual = rng.standard_normal((rows, columns), dtype=np.float32) if with_residual else None
            args = (tiles, rows, columns, data, 0.5, residual, act.min, act.max)
            got = TESTING.winograd_output_transform(ukernel["name"], *args)
            want = TESTING.winograd_output_transform(ref_name(OUTPUT_UKERNELS, tile), *args)
            assert got.shape == (rows, columns) and np.isfinite(got).all()
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * 64,
                                       err_msg=f"{tiles} tiles, {rows} rows, {columns} columns, {act}")


@pytest.mark.parametrize("ukernel", OUTPUT_UKERNELS, ids=[u["name"] for u in OUTPUT_UKERNELS])
def test_output_ukernel_keeps_nan_and_clamps(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    tile = ukernel["tile"]
    data = transformed_for(rng, tile, 9, scale=100.0)
    data[0, 3] = np.nan  # position (0, 0) of tile 3 reaches its outputs of the first row and column
    got = TESTING.winograd_output_transform(ukernel["name"], 9, tile, 9 * tile, data, 0.0, None, 0.0, 6.0)
    assert np.isnan(got[0, 3 * tile]) and np.isnan(got[:, :3 * tile]).sum() == 0
    finite = got[np.isfinite(got)]
    assert finite.min() == 0.0 and finite.max() == 6.0


# ---- the whole convolution -------------------------------------------------------------------


def pad4(padding):
    """An int, (height, width) or (top, left, bottom, right) as (top, left, bottom, right)."""
    if isinstance(padding, int):
        return (padding,) * 4
    return tuple(padding) * 2 if len(padding) == 2 else tuple(padding)


def direct(x, w, b, padding, act, residual=None):
    """The direct convolution (im2col GEMM) on the explicitly padded input."""
    top, left, bottom, right = pad4(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    y = kernels.PackedConv2d(w, b)(xp)
    if residual is not None:
        y = y + residual
    return np.clip(y, act.min, act.max)


def exact(x, w, b, padding, act=Activation.none(), residual=None):
    """float64 numpy."""
    top, left, bottom, right = pad4(padding)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    y = reference.conv2d(xp, w, b)
    if residual is not None:
        y = y + residual
    return np.clip(y, act.min, act.max)


def tolerance(x, w, padding, tile):
    """The error bound the tests hold Winograd to, per output plane: TOLERANCE[tile] times the
    largest output of the convolution of |x| with |w| (the scale of the terms a transformed
    tile mixes; test_error_against_float64 reports the errors measured on real layers)."""
    scale = exact(np.abs(x), np.abs(w), None, padding).max(axis=(2, 3), keepdims=True)
    return TOLERANCE[tile] * scale + 1e-6


TOLERANCE = {4: 1e-5, 6: 1e-4}


def assert_within(y, want, tol, msg=""):
    err = np.abs(y - want)
    worst = np.unravel_index(np.argmax(err - tol), err.shape)
    assert (err < tol).all(), f"{msg}: error {err[worst]:.3g} at {worst} above {np.broadcast_to(tol, err.shape)[worst]:.3g}"


PADDINGS = (0, 1, 2, (1, 0), (0, 1, 1, 0), (1, 1, 2, 2), (2, 0, 0, 1))
CHANNELS = ((1, 1), (2, 3), (3, 8), (7, 5), (16, 17), (64, 64), (67, 13))
SIZES = ((1, 1), (1, 6), (2, 9), (3, 3), (4, 4), (5, 7), (6, 6), (9, 13), (13, 8), (17, 25), (28, 30))


def conv_cases():
    """(tile, n, cin, cout, h, w, padding): every channel pair, size and padding, in turn."""
    cases = []
    for tile in TILES:
        for i, (h, w) in enumerate(SIZES):
            for j, (cin, cout) in enumerate(CHANNELS):
                if SMALL_SWEEP and (i + j) % 3:
                    continue
                cases.append((tile, 1 + 2 * ((i + j) % 2), cin, cout, h, w, PADDINGS[(i + 2 * j) % len(PADDINGS)]))
    return cases


def fits(h, w, padding):
    top, left, bottom, right = pad4(padding)
    return h + top + bottom >= 3 and w + left + right >= 3


@pytest.mark.parametrize("tile,n,cin,cout,h,w,padding", [c for c in conv_cases() if fits(*c[4:])])
def test_convolution_matches_direct_and_float64(tile, n, cin, cout, h, w, padding, rng):
    x = rng.standard_normal((n, cin, h, w), dtype=np.float32)
    wt = rng.standard_normal((cout, cin, 3, 3), dtype=np.float32)
    with_bias = (h + cin) % 2 == 0
    b = rng.standard_normal(cout, dtype=np.float32) if with_bias else None
    op = kernels.PackedWinogradConv2d(wt, b, padding, tile=tile)
    tol = tolerance(x, wt, padding, tile)
    want, conv = exact(x, wt, b, padding), direct(x, wt, b, padding, Activation.none())
    for act in ACTIVATIONS:
        y = op(x, act)
        assert_within(y, np.clip(want, act.min, act.max), tol, f"{act} against float64")
        assert_within(y, np.clip(conv, act.min, act.max), tol, f"{act} against the direct convolution")


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("padding", [1, (0, 1, 1, 0)])
def test_convolution_matches_torch(tile, padding, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    top, left, bottom, right = pad4(padding)
    x = torch.from_numpy(rng.standard_normal((3, 24, 19, 22), dtype=np.float32))
    w = torch.from_numpy(rng.standard_normal((40, 24, 3, 3), dtype=np.float32) / 15)
    b = torch.from_numpy(rng.standard_normal(40, dtype=np.float32))
    r = torch.randn(3, 40, 19 + top + bottom - 2, 22 + left + right - 2)
    got = kernels.PackedWinogradConv2d(w, b, padding, tile=tile)(x, "relu6", residual=r)
    assert isinstance(got, torch.Tensor)
    want = F.relu6(F.conv2d(F.pad(x, (left, right, top, bottom)), w, b) + r)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@settings(max_examples=10 if SMALL_SWEEP else 60, deadline=None)
@given(
    tile=st.sampled_from(TILES),
    n=st.integers(1, 3),
    cin=st.integers(1, 24),
    cout=st.integers(1, 24),
    h=st.integers(1, 30),
    w=st.integers(1, 30),
    padding=st.tuples(*[st.integers(0, 2)] * 4),
    residual=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_convolution_property(tile, n, cin, cout, h, w, padding, residual, seed):
    if not fits(h, w, padding):
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w), dtype=np.float32)
    wt = rng.standard_normal((cout, cin, 3, 3), dtype=np.float32)
    b = rng.standard_normal(cout, dtype=np.float32)
    op = kernels.PackedWinogradConv2d(wt, b, padding, tile=tile)
    want_shape = (n, cout, h + padding[0] + padding[2] - 2, w + padding[1] + padding[3] - 2)
    r = rng.standard_normal(want_shape, dtype=np.float32) if residual else None
    y = op(x, "relu", residual=r)
    assert y.shape == want_shape
    assert_within(y, exact(x, wt, b, padding, Activation.relu(), r), tolerance(x, wt, padding, tile))


def grouped(x, w, b, groups, padding):
    """The engine's conv2d by Winograd F(4x4, 3x3), ReLU fused."""
    attrs = {"groups": groups, "padding": list(pad4(padding)), "algorithm": "winograd", "activation": "relu"}
    return TESTING.run_operator("conv2d", attrs, [x, None, None], {1: w, 2: b})[0]


@settings(max_examples=8 if SMALL_SWEEP else 30, deadline=None)
@given(n=st.integers(1, 3), groups=st.integers(2, 6), cin_g=st.integers(1, 20), cout_g=st.integers(1, 40),
       h=st.integers(3, 30), w=st.integers(3, 30), padding=st.integers(0, 1), seed=st.integers(0, 2**32 - 1))
def test_grouped_convolution_is_each_groups_dense_one(n, groups, cin_g, cout_g, h, w, padding, seed):
    """A grouped convolution transforms its input once for all groups, and each block of output
    channels multiplies its group's rows: output channels either side of the GEMM's row tile
    (several blocks per group, a ragged last one), bit for bit the dense convolution of each
    group's channels at 1 and 2 threads, and within the tolerance of float64."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, groups * cin_g, h, w), dtype=np.float32)
    wt = rng.standard_normal((groups * cout_g, cin_g, 3, 3), dtype=np.float32)
    b = rng.standard_normal(groups * cout_g, dtype=np.float32)
    parts = zip(np.split(x, groups, axis=1), np.split(wt, groups), np.split(b, groups))
    per_group = np.concatenate([grouped(np.ascontiguousarray(xg), wg, bg, 1, padding) for xg, wg, bg in parts], axis=1)
    before = pyprune.get_num_threads()
    try:
        for threads in (1, 2):
            pyprune.set_num_threads(threads)
            np.testing.assert_array_equal(grouped(x, wt, b, groups, padding), per_group)
    finally:
        pyprune.set_num_threads(before)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    want = reference.conv2d(xp.astype(np.float64), wt, b, groups=groups, lo=0.0)
    scale = reference.conv2d(np.abs(xp), np.abs(wt), groups=groups).max(axis=(2, 3), keepdims=True)
    assert_within(per_group, want, TOLERANCE[4] * scale + 1e-6)


@pytest.mark.parametrize("tile", TILES)
def test_blocks_narrower_than_a_row_of_tiles(tile, rng):
    """Many input channels leave a block of tiles (what fits the transformed input's budget) far
    narrower than a row of tiles of a wide plane: the blocks start and end inside rows, each run
    of a block's tiles in a row is copied and transformed apart, over a batch, with a residual."""
    x = rng.standard_normal((2, 600, 6, 4 * tile * 40 + 3), dtype=np.float32)
    w = rng.standard_normal((5, 600, 3, 3), dtype=np.float32) / np.float32(40)
    b = rng.standard_normal(5, dtype=np.float32)
    op = kernels.PackedWinogradConv2d(w, b, (1, 2, 1, 0), tile=tile)
    r = rng.standard_normal(op(x).shape, dtype=np.float32)
    y = op(x, "relu", residual=r)
    assert_within(y, exact(x, w, b, (1, 2, 1, 0), Activation.relu(), r), tolerance(x, w, (1, 2, 1, 0), tile))


@pytest.mark.parametrize("activation", [Activation.of("silu"), Activation.of("hardswish"), Activation.leaky_relu(0.1),
                                        Activation.of("gelu")], ids=lambda a: a.kind)
def test_every_activation_follows_the_residual(rng, activation):
    """Activations other than a clamp run after the output transform, on each tile it wrote."""
    x = rng.standard_normal((2, 5, 10, 11), dtype=np.float32)
    w = rng.standard_normal((6, 5, 3, 3), dtype=np.float32)
    b = rng.standard_normal(6, dtype=np.float32)
    r = rng.standard_normal((2, 6, 10, 11), dtype=np.float32)
    op = kernels.PackedWinogradConv2d(w, b, 1)
    got = op(x, activation, residual=r)
    linear = exact(x, w, b, 1, Activation.none(), r)
    want = activation_reference.exact(activation.kind, linear, alpha=activation.alpha)
    np.testing.assert_allclose(got, want, atol=float(tolerance(x, w, 1, op.tile).max()) + 1e-5, rtol=1e-5)


def test_default_tile_and_kernels():
    op = kernels.PackedWinogradConv2d(np.ones((2, 3, 3, 3), np.float32))
    assert op.tile in TILES and op.padding == (0, 0, 0, 0)
    names = op.ukernel.split(" + ")
    assert len(names) == 3 and f"{op.tile}x{op.tile}" in names[0] and f"{op.tile}x{op.tile}" in names[2]


def test_results_do_not_depend_on_thread_count(rng):
    # Few tiles and many output channels: tasks split the output channels of one block of tiles.
    # One block of tiles and 64 channels: split at 32 (YOLOv8's 20x20 layers).
    cases = [((2, 24, 30, 33), 40), ((1, 96, 7, 7), 512), ((3, 64, 14, 14), 130), ((1, 64, 20, 20), 64)]
    before = pyprune.get_num_threads()
    try:
        for shape, cout in cases:
            x = rng.standard_normal(shape, dtype=np.float32)
            w = rng.standard_normal((cout, shape[1], 3, 3), dtype=np.float32)
            for tile in TILES:
                op = kernels.PackedWinogradConv2d(w, None, 1, tile=tile)
                results = []
                for threads in (1, 2, 5):
                    pyprune.set_num_threads(threads)
                    results.append(op(x))
                for r in results[1:]:
                    np.testing.assert_array_equal(r, results[0])
    finally:
        pyprune.set_num_threads(before)


def test_concurrent_callers_of_one_operator_get_their_own_results(rng):
    # Different shapes per caller: each run plans its own blocks and may regrow the per-thread
    # scratch another run's transform was left in.
    w = rng.standard_normal((24, 16, 3, 3), dtype=np.float32)
    xs = [rng.standard_normal((1 + i % 2, 16, 9 + 7 * i, 30 - 5 * i), dtype=np.float32) for i in range(4)]
    before = pyprune.get_num_threads()
    errors = []
    try:
        pyprune.set_num_threads(2)
        for tile in TILES:
            op = kernels.PackedWinogradConv2d(w, None, 1, tile=tile)
            want = [op(x) for x in xs]

            def worker(i):
                try:
                    for _ in range(20):
                        np.testing.assert_array_equal(op(xs[i]), want[i])
                except Exception as e:  # reported on the main thread
                    errors.append(e)

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(xs))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert not errors and not any(t.is_alive() for t in threads)
    finally:
        pyprune.set_num_threads(before)


def test_weights_are_copied(rng):
    w = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    op = kernels.PackedWinogradConv2d(w, None, 1)
    x = rng.standard_normal((1, 3, 8, 8), dtype=np.float32)
    want = op(x)
    w[:] = 0
    np.testing.assert_array_equal(op(x), want)


def test_nan_input_reaches_every_output_it_touches(rng):
    x = rng.standard_normal((1, 4, 12, 12), dtype=np.float32)
    x[0, 2, 5, 6] = np.nan
    w = rng.standard_normal((3, 4, 3, 3), dtype=np.float32)
    for tile in TILES:
        y = kernels.PackedWinogradConv2d(w, None, 1, tile=tile)(x)
        # NaN where the direct convolution has it; Winograd may spread it over the rest of its tiles.
        assert np.isnan(y[np.isnan(exact(x, w, None, 1))]).all()


# ---- rounding error against float64 ----------------------------------------------------------


def bn_folded(rng, cout, cin):
    """A ResNet-like weight with a BatchNorm folded into it: He-initialised, each output channel
    scaled by gamma / sqrt(var + eps) (gamma ~ N(1, 0.25), var log-normal around 0.5), its bias
    beta - mean * scale."""
    w = rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2 / (9 * cin))
    scale = rng.normal(1.0, 0.25, cout) / np.sqrt(np.exp(rng.normal(np.log(0.5), 1.0, cout)) + 1e-5)
    bias = rng.normal(0.0, 0.5, cout) - rng.normal(0.0, 0.5, cout) * scale
    return (w * scale[:, None, None, None]).astype(np.float32), bias.astype(np.float32)


def errors(y, want):
    """(max |y - want|, max |y - want| / max |want|, mean |y - want| / mean |want|): the largest
    absolute error and the normwise relative errors (elementwise ones are meaningless where an
    output is near zero)."""
    diff = np.abs(y.astype(np.float64) - want)
    return diff.max(), diff.max() / np.abs(want).max(), diff.mean() / np.abs(want).mean()


ERROR_LAYERS = ((64, 56), (128, 28), (256, 14), (512, 7)) if not SMALL_SWEEP else ((64, 14), (128, 7))
# The bounds tested on the normwise relative errors: 2-4x above the largest measured on x86-64
# (AVX2 and reference) and under QEMU (NEON); docs/winograd.md lists the measurements.
MAX_ERROR = {4: 3e-5, 6: 6e-5}
MEAN_ERROR = {4: 6e-6, 6: 1.5e-5}


@pytest.mark.parametrize("weights", ["he", "bn_folded"])
@pytest.mark.parametrize("tile", TILES)
def test_error_against_float64(tile, weights, rng):
    """ResNet-18's 3x3 stride-1 layers on ReLU-like inputs: the errors of Winograd and of the
    direct convolution against float64, printed (pytest -s), and Winograd's held to MAX_ERROR /
    MEAN_ERROR."""
    for c, s in ERROR_LAYERS:
        x = np.maximum(rng.standard_normal((1, c, s, s)), 0).astype(np.float32)
        if weights == "he":
            w = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2 / (9 * c))).astype(np.float32)
            b = np.zeros(c, np.float32)
        else:
            w, b = bn_folded(rng, c, c)
        want = exact(x, w, b, 1)
        wino = errors(kernels.PackedWinogradConv2d(w, b, 1, tile=tile)(x), want)
        gemm = errors(kernels.PackedConv2d(w, b, padding=1)(x), want)
        print(f"{kernels.isa()} F({tile},3) {weights:9} {c}@{s} (max |y| {np.abs(want).max():.1f}): "
              f"winograd abs {wino[0]:.2e} max {wino[1]:.2e} mean {wino[2]:.2e}; "
              f"direct abs {gemm[0]:.2e} max {gemm[1]:.2e} mean {gemm[2]:.2e}")
        assert wino[1] < MAX_ERROR[tile] and wino[2] < MEAN_ERROR[tile]


# ---- bad input -------------------------------------------------------------------------------

X = np.zeros((1, 4, 8, 8), np.float32)
W = np.zeros((6, 4, 3, 3), np.float32)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(weight=W.astype(np.float64)), TypeError, "weight must have dtype float32"),
        (dict(weight=W[:, :, :2]), ValueError, "weight must have shape \\(Cout, Cin, 3, 3\\)"),
        (dict(weight=np.zeros((6, 4, 5, 5), np.float32)), ValueError, "shape \\(Cout, Cin, 3, 3\\)"),
        (dict(weight=W[0]), ValueError, "weight must have 4 dimensions"),
        (dict(weight=W, padding=3), ValueError, "padding must be in \\[0, 2\\] on every side"),
        (dict(weight=W, padding=(0, -1)), ValueError, "padding must be in \\[0, 2\\]"),
        (dict(weight=W, padding=(1, 1, 1)), ValueError, "padding must have 2 .* or 4"),
        (dict(weight=W, padding="same"), TypeError, "padding must be an int"),
        (dict(weight=W, padding=(1.5, 1)), TypeError, "padding must be an int"),
        (dict(weight=W, tile=5), ValueError, "tile must be 4 or 6"),
        (dict(weight=W, tile=True), TypeError, "tile must be an int"),
        (dict(weight=W, bias=np.zeros(5, np.float32)), ValueError, "bias must have shape \\(6,\\)"),
    ],
)
def test_bad_construction_raises_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        kernels.PackedWinogradConv2d(**kwargs)


@pytest.mark.parametrize(
    "x,kwargs,error,match",
    [
        (X[:, :3], {}, ValueError, "x must have 4 channels"),
        (X[:, :, :2], {}, ValueError, "smaller than the 3x3 kernel"),
        (X.astype(np.float64), {}, TypeError, "x must have dtype float32"),
        (X, dict(out=np.zeros((1, 6, 6, 5), np.float32)), ValueError, "out must have shape \\(1, 6, 6, 6\\)"),
        (X, dict(residual=np.zeros((1, 6, 6, 5), np.float32)), ValueError, "residual must have shape \\(1, 6, 6, 6\\)"),
        (X, dict(residual=np.zeros((1, 6, 6, 6))), TypeError, "residual must have dtype float32"),
        (X, dict(activation="swish"), ValueError, "activation must be one of"),
    ],
)
def test_bad_call_raises_naming_the_argument(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        kernels.PackedWinogradConv2d(W)(x, **kwargs)


def test_output_overlapping_the_residual_is_refused():
    shared = np.zeros(6 * 6 * 6 + 1, np.float32)
    out, residual = shared[1:].reshape(1, 6, 6, 6), shared[:-1].reshape(1, 6, 6, 6)
    with pytest.raises(ValueError, match="out must not share memory with the inputs"):
        kernels.PackedWinogradConv2d(W)(X, out=out, residual=residual)


@pytest.mark.parametrize(
    "kernel,stride,dilation,groups,padding,first_word",
    [(5, 1, 1, 1, 1, "kernel_size"), ((3, 1), 1, 1, 1, 0, "kernel_size"), (3, 2, 1, 1, 1, "stride"), (3, 1, 2, 1, 1, "padding"),
     (3, 1, 1, 2, 1, "groups"), (3, 1, 1, 1, (0, 3), "padding")],
)
def test_capability_rejections_name_the_argument(kernel, stride, dilation, groups, padding, first_word):
    reason = kernels.capabilities().winograd_rejects(kernel, stride, dilation, groups, padding)
    assert reason is not None and reason.split()[0] == first_word
    assert kernels.capabilities().winograd_rejects(3, 1, 1, 1, (0, 1, 1, 0)) is None


def test_transform_kernels_check_their_arrays():
    name = ref_name(INPUT_UKERNELS, TILES[0])
    with pytest.raises(ValueError, match="strip must have"):
        TESTING.winograd_input_transform(name, 9, np.zeros((TILES[0] + 2, 8), np.float32))
    out_name = ref_name(OUTPUT_UKERNELS, TILES[0])
    data = np.zeros(((TILES[0] + 2) ** 2, 8), np.float32)
    with pytest.raises(ValueError, match="columns must be in"):
        TESTING.winograd_output_transform(out_name, 2, 1, 100, data)
    with pytest.raises(ValueError, match="rows must be at most"):
        TESTING.winograd_output_transform(out_name, 2, 100, 2 * TILES[0], data)
