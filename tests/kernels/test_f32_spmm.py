"""Sparse convolution on the SpMM kernels: the format and its checks, every microkernel against
the reference kernel over shapes derived from its tile, the reference against numpy (1x1 and
KxK, both strides, paddings, sparsity 0 to 100 %, every block size), bad input."""

import numpy as np
import pytest
from conftest import SMALL_SWEEP
from hypothesis import given, settings
from hypothesis import strategies as st

import pyprune
import reference
from pyprune import _core, kernels
from pyprune.activation import Activation

UKERNELS = _core.testing.spmm_ukernels()
AVAILABLE = kernels.available_isas()
REF = {u["nr"]: u["name"] for u in UKERNELS if u["isa"] == "scalar"}
ACTIVATIONS = (Activation.none(), Activation.relu(), Activation.relu6(), Activation.clamp(-0.5, 0.75))
SPARSITIES = (0.0, 0.5, 0.9, 0.99, 1.0)
BLOCKS = (1, 2, 4, 8)


def pruned(rng, shape, sparsity, block=1):
    """A random weight with `sparsity` of its (block x 1) groups of output channels zeroed."""
    w = rng.standard_normal(shape, dtype=np.float32)
    groups = -(-shape[0] // block)
    keep = rng.random((groups, *shape[1:])) >= sparsity
    return w * np.repeat(keep, block, axis=0)[: shape[0]]


def run(x, weight, bias, act, stride=1, padding=0, block=1, ukernel=None):
    conv = _core.SparseConv2d(weight, bias, stride=stride, padding=padding, block=block, ukernel=ukernel)
    return conv.forward(x, act.min, act.max)


def spmm_shapes(mr, nr):
    """(cout, cin, pixels): output channels around the block (single rows after full blocks
    included), pixel counts around the tile and every narrower tail, depths around the
    non-zero unrolling."""
    couts = sorted({1, nr - 1, nr, nr + 1, 2 * nr + nr - 1, 3 * nr} - {0})
    pixels = sorted({1, 2, 3, 5, 7, mr - 1, mr, mr + 1, 2 * mr + mr // 2 + 3, 3 * mr + mr - 1} - {0})
    cins = (1, 5, 17) if SMALL_SWEEP else (1, 2, 3, 5, 8, 17, 33)
    return [(co, ci, p) for co in couts for ci in cins for p in pixels]


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_reference(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    nr = ukernel["nr"]
    for i, (cout, cin, pixels) in enumerate(spmm_shapes(ukernel["mr"], nr)):
        act = ACTIVATIONS[i % 4]
        sparsity = SPARSITIES[i % len(SPARSITIES)]
        x = rng.standard_normal((1 + 2 * (i % 2), cin, 1, pixels), dtype=np.float32)
        weight = pruned(rng, (cout, cin, 1, 1), sparsity, block=nr if i % 2 else 1)
        bias = rng.standard_normal(cout, dtype=np.float32) if i % 3 else None
        got = run(x, weight, bias, act, block=nr, ukernel=ukernel["name"])
        want = run(x, weight, bias, act, block=nr, ukernel=REF[nr])
        tol = reference.tolerance(cin)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{(cout, cin, pixels)} {act}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_kxk_large_and_nan(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    x = rng.standard_normal((1, 19, 23, 29), dtype=np.float32)
    x[0, 3, 5, 7] = np.nan
    weight = pruned(rng, (37, 19, 3, 3), 0.8, ukernel["nr"])
    weight[:, 3] = 1.0  # every output reads channel 3, so NaN reaches every channel's outputs
    got = run(x, weight, None, Activation.relu(), padding=1, block=ukernel["nr"], ukernel=ukernel["name"])
    want = reference.conv2d(x, weight, padding=1, lo=0.0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-4, atol=1e-4)


CONV_CASES = [
    # (cin, cout, k, stride, padding, h, w)
    (3, 8, 3, 2, 1, 17, 13),
    (3, 16, 3, 1, 1, 9, 9),
    (8, 8, 3, 1, 0, 5, 7),
    (6, 9, 5, 2, 2, 11, 10),
    (5, 11, 5, 1, 1, 8, 12),
    (12, 24, 1, 2, 0, 9, 9),
    (7, 5, 1, 1, 0, 1, 1),
    (4, 6, 3, 2, 0, 3, 4),
    (5, 7, 7, 3, 3, 15, 16),
    (2, 3, 2, 1, 1, 4, 4),
    (16, 32, 1, 1, 0, 14, 14),
]


@pytest.mark.parametrize("cin,cout,k,stride,padding,h,w", CONV_CASES)
@pytest.mark.parametrize("block", BLOCKS)
def test_sparse_conv2d_matches_numpy(cin, cout, k, stride, padding, h, w, block, rng):
    for i, sparsity in enumerate(SPARSITIES):
        x = rng.standard_normal((1 + i % 2, cin, h, w), dtype=np.float32)
        weight = pruned(rng, (cout, cin, k, k), sparsity, block if i % 2 else 1)
        bias = rng.standard_normal(cout, dtype=np.float32)
        act = ACTIVATIONS[i % 4]
        got = kernels.sparse_conv2d(x, weight, bias, stride, padding, act, block=block)
        want = reference.conv2d(x, weight, bias, stride, padding, 1, act.min, act.max)
        tol = reference.tolerance(cin * k * k)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"sparsity {sparsity}")


@settings(max_examples=20 if SMALL_SWEEP else 80, deadline=None)
@given(
    cin=st.integers(1, 12),
    cout=st.integers(1, 20),
    k=st.sampled_from([1, 3, 5]),
    stride=st.integers(1, 2),
    h=st.integers(1, 20),
    w=st.integers(1, 40),
    block=st.sampled_from(BLOCKS),
    sparsity=st.sampled_from(SPARSITIES),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_sparse_conv2d_property(cin, cout, k, stride, h, w, block, sparsity, seed, data):
    padding = data.draw(st.integers(max(0, (k - min(h, w) + 1) // 2), k - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, cin, h, w), dtype=np.float32)
    weight = pruned(rng, (cout, cin, k, k), sparsity, block)
    got = kernels.sparse_conv2d(x, weight, stride=stride, padding=padding, block=block)
    want = reference.conv2d(x, weight, stride=stride, padding=padding)
    tol = reference.tolerance(cin * k * k)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@settings(max_examples=50 if SMALL_SWEEP else 200, deadline=None)
@given(
    cout=st.integers(1, 19),
    columns=st.integers(1, 30),
    block=st.sampled_from(BLOCKS),
    sparsity=st.sampled_from(SPARSITIES),
    seed=st.integers(0, 2**32 - 1),
)
def test_format_round_trip(cout, columns, block, sparsity, seed):
    rng = np.random.default_rng(seed)
    weight = pruned(rng, (cout, columns, 1, 1), sparsity, block)
    bias = rng.standard_normal(cout, dtype=np.float32)
    conv = _core.SparseConv2d(weight, bias, block=block)
    dense, dense_bias = conv.to_dense()
    np.testing.assert_array_equal(dense, weight)
    np.testing.assert_array_equal(dense_bias, bias)
    again = _core.SparseConv2d.from_arrays(cout, columns, 1, 1, 0, block, conv.values, conv.deltas, conv.counts)
    np.testing.assert_array_equal(again.to_dense()[0], weight)
    stored_columns = conv.counts.sum()
    assert len(conv.deltas) == stored_columns
    assert conv.stored_values == len(conv.values) - cout
    if block == 1:
        assert conv.stored_values == np.count_nonzero(weight)


def test_format_layout_by_hand():
    # 3 rows in blocks of 2: one block of rows 0-1, then row 2 alone.
    weight = np.array([[0, 1, 0, 2], [0, 3, 0, 0], [4, 0, 0, 5]], np.float32).reshape(3, 4, 1, 1)
    conv = _core.SparseConv2d(weight, np.array([7, 8, 9], np.float32), block=2)
    np.testing.assert_array_equal(conv.values, [7, 8, 1, 3, 2, 0, 9, 4, 5])
    np.testing.assert_array_equal(conv.deltas, [1, 2, -3, 3])
    np.testing.assert_array_equal(conv.counts, [2, 2])
    assert conv.stored_values == 6


def test_all_zero_weight_gives_bias_and_activation(rng):
    x = rng.standard_normal((2, 6, 5, 7), dtype=np.float32)
    bias = np.array([-1, 0.5, 7, -3, 2], np.float32)
    for block in BLOCKS:
        got = kernels.sparse_conv2d(x, np.zeros((5, 6, 3, 3), np.float32), bias, padding=1, activation="relu6", block=block)
        np.testing.assert_array_equal(got, np.broadcast_to(np.clip(bias, 0, 6)[None, :, None, None], got.shape))


def test_results_do_not_depend_on_thread_count(rng):
    x = rng.standard_normal((2, 24, 31, 33), dtype=np.float32)
    w1 = pruned(rng, (40, 24, 1, 1), 0.7)
    w3 = pruned(rng, (16, 24, 3, 3), 0.7, 4)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 5):
            pyprune.set_num_threads(threads)
            results.append((kernels.sparse_conv2d(x, w1), kernels.sparse_conv2d(x, w3, stride=2, padding=1, block=4)))
    finally:
        pyprune.set_num_threads(before)
    for a, b in results[1:]:
        np.testing.assert_array_equal(a, results[0][0])
        np.testing.assert_array_equal(b, results[0][1])


# (cin, cout, k, stride, padding, h, w): SpMM input planes a multiple of 4 KiB, which it reads
# from a copy with its planes further apart: 1x1 (otherwise read in place), and 3x3 whose padded
# phase planes come out at 64x64 (stride 1) and 32x32 (stride 2).
ALIASED_PLANES = [
    (24, 40, 1, 1, 0, 32, 32),
    (9, 17, 1, 1, 0, 16, 64),
    (6, 8, 3, 1, 1, 62, 62),
    (5, 12, 3, 2, 1, 62, 62),
]


@pytest.mark.parametrize("cin,cout,k,stride,padding,h,w", ALIASED_PLANES)
@pytest.mark.parametrize("block", (1, 4))
def test_planes_whose_rows_alias(cin, cout, k, stride, padding, h, w, block, rng):
    x = rng.standard_normal((2, cin, h, w), dtype=np.float32)
    weight = pruned(rng, (cout, cin, k, k), 0.7, block)
    bias = rng.standard_normal(cout, dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            pyprune.set_num_threads(threads)
            results.append(kernels.sparse_conv2d(x, weight, bias, stride, padding, "relu", block=block))
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(results[1], results[0])
    want = reference.conv2d(x, weight, bias, stride, padding, 1, lo=0.0)
    tol = reference.tolerance(cin * k * k)
    np.testing.assert_allclose(results[0], want, rtol=tol, atol=tol)


def test_offsets_follow_the_input_size(rng):
    weight = pruned(rng, (8, 4, 3, 3), 0.5)
    conv = _core.SparseConv2d(weight, padding=1)
    for h, w in ((5, 5), (9, 4), (5, 5), (1, 1)):
        x = rng.standard_normal((1, 4, h, w), dtype=np.float32)
        np.testing.assert_allclose(conv.forward(x), reference.conv2d(x, weight, padding=1), rtol=1e-5, atol=1e-5)


W = np.ones((4, 3, 1, 1), np.float32)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: _core.SparseConv2d(W, block=3), ValueError, "block must be 1, 2, 4 or 8"),
        (lambda: _core.SparseConv2d(W, block=0), ValueError, "block"),
        (lambda: _core.SparseConv2d(W.astype(np.float64)), TypeError, "weight must have dtype float32"),
        (lambda: _core.SparseConv2d(W[0]), ValueError, "weight must have 4 dimensions"),
        (lambda: _core.SparseConv2d(np.ones((4, 3, 3, 1), np.float32)), ValueError, "square kernel"),
        (lambda: _core.SparseConv2d(W, np.ones(3, np.float32)), ValueError, "bias must have shape"),
        (lambda: _core.SparseConv2d(W, stride=0), ValueError, "stride"),
        (lambda: _core.SparseConv2d(W, padding=1), ValueError, "padding"),
        (lambda: _core.SparseConv2d(W, block=4, ukernel=REF[1]), ValueError, "blocks of 1"),
        (lambda: _core.SparseConv2d(W, ukernel="nope"), ValueError, "unknown ukernel"),
    ],
)
def test_bad_construction(make, error, message):
    with pytest.raises(error, match=message):
        make()


def arrays(values, deltas, counts):
    return (np.asarray(values, np.float32), np.asarray(deltas, np.int32), np.asarray(counts, np.uint32))


@pytest.mark.parametrize(
    "rows, columns, block, values, deltas, counts, message",
    [
        (2, 3, 1, [0, 0], [], [0], "counts must have one entry per block"),
        (2, 3, 1, [0, 0, 1], [1], [0, 0], "deltas must have one entry per stored column"),
        (2, 3, 1, [0, 1, 0, 5], [1], [1, 0], "values must hold 3 floats"),
        (2, 3, 1, [0, 1, 0, 2], [1, 2], [1, 1], "outside \\[0, 3\\)"),
        (2, 3, 1, [0, 1, 0, 2], [-1, 1], [1, 1], "outside \\[0, 3\\)"),
        (1, 3, 1, [0, 1, 2], [1, 0], [2], "must be positive"),
        (1, 3, 1, [0, 1, 2], [2, -1], [2], "must be positive"),
        (1, 3, 1, [0] + [1] * 4, [0, 1, 1, 1], [4], "exceeds the 3 columns"),
        (3, 2, 2, [0, 0, 0], [], [0], "one entry per block \\(2 for 3 rows in blocks of 2\\)"),
        (10**15, 2, 1, [0], [], [0], "one entry per block"),
    ],
)
def test_inconsistent_arrays_are_rejected(rows, columns, block, values, deltas, counts, message):
    with pytest.raises(ValueError, match=message):
        _core.SparseConv2d.from_arrays(rows, columns, 1, 1, 0, block, *arrays(values, deltas, counts))


def test_from_arrays_checks_dtypes():
    v, d, c = arrays([0, 1], [0], [1])
    with pytest.raises(TypeError, match="deltas must have dtype int32"):
        _core.SparseConv2d.from_arrays(1, 1, 1, 1, 0, 1, v, d.astype(np.int64), c)
    with pytest.raises(TypeError, match="counts must have dtype uint32"):
        _core.SparseConv2d.from_arrays(1, 1, 1, 1, 0, 1, v, d, c.astype(np.int32))
    with pytest.raises(ValueError, match="32 bits"):
        _core.SparseConv2d.from_arrays(1, 2**30, 3, 1, 0, 1, v, d, c)


def test_bad_forward_input(rng):
    conv = _core.SparseConv2d(np.ones((4, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="x must have 3 channels"):
        conv.forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match="smaller than the 3x3 kernel"):
        conv.forward(np.zeros((1, 3, 2, 5), np.float32))
    with pytest.raises(ValueError, match="minimum must not exceed"):
        conv.forward(np.zeros((1, 3, 5, 5), np.float32), 1.0, 0.0)
    with pytest.raises(ValueError, match="out must have shape"):
        conv.forward(np.zeros((1, 3, 5, 5), np.float32), out=np.zeros((1, 4, 5, 5), np.float32))


def stored_by_numpy(w, block):
    """The sparse format's stored weights, counted as SparseMatrix lays them out."""
    w = w.reshape(len(w), -1) != 0
    full = len(w) // block * block if block > 1 else 0
    return int(w[:full].reshape(-1, block, w.shape[1]).any(axis=1).sum()) * block + int(w[full:].sum())


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 21), columns=st.integers(1, 19), density=st.floats(0, 1), seed=st.integers(0, 2**16),
       costs=st.dictionaries(st.sampled_from(kernels.capabilities().sparse_blocks), st.floats(0.1, 2.0), min_size=1))
def test_stored_weights_and_the_cheapest_block_match_numpy(rows, columns, density, seed, costs):
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((rows, columns, 1, 1)) * (rng.random((rows, columns, 1, 1)) < density)).astype(np.float32)
    for block in kernels.capabilities().sparse_blocks:
        assert kernels.stored_weights(w, block) == stored_by_numpy(w, block)
    densities = {b: stored_by_numpy(w, b) * c / w.size for b, c in costs.items()}
    best = min(densities, key=lambda b: (densities[b], b))
    assert kernels.cheapest_block(w, costs) == (best, pytest.approx(densities[best], rel=1e-12))


def test_the_default_block_costs_cover_every_block_size():
    rule = kernels.capabilities().sparse_rule
    assert sorted(rule.block_costs) == list(kernels.capabilities().sparse_blocks)
    assert all(c > 0 for c in rule.block_costs.values())
    assert 0 < rule.pointwise_max_density <= 1 and 0 < rule.conv_max_density <= 1 and rule.few_outputs >= 1


@pytest.mark.parametrize("costs,match", [({}, "at least one block"), ({3: 1.0}, "block"), ({1: 0.0}, "positive"),
                                         ({1: float("nan")}, "positive")])
def test_cheapest_block_refuses_bad_costs(costs, match):
    with pytest.raises(ValueError, match=match):
        kernels.cheapest_block(np.ones((2, 2), np.float32), costs)
