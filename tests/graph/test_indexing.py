"""topk, gather and take, the operators of index tensors (held as float32 integers): against
torch.topk, torch.gather and index_select over shape sweeps, with NaN, ties (in torch's order, or
in index order when stable), k = 0 and k = n; bad indices are errors, never stray reads; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from operator_testing import assert_equal, random, refused, run

torch = pytest.importorskip("torch")


def coarse(rng, shape, nan=False):
    """Values on a coarse grid, so that equal ones are common (and NaN, if asked)."""
    x = np.round(random(rng, shape) * 2).astype(np.float32)
    if nan:
        x[rng.random(shape) < 0.1] = np.nan
    return x


@settings(max_examples=100, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=6, min_side=1, max_side=6), data=st.data(),
       largest=st.booleans(), nan=st.booleans(), seed=st.integers(0, 2**16))
def test_topk_matches_torch_equal_values_included(shape, data, largest, nan, seed):
    x = coarse(np.random.default_rng(seed), shape, nan)
    axis = data.draw(st.integers(0, len(shape) - 1))
    k = data.draw(st.integers(0, shape[axis]))
    values, indices = run("topk", {"axis": axis, "k": k, "largest": int(largest)}, x)
    want_values, want_indices = torch.topk(torch.from_numpy(x), k, axis, largest)
    assert_equal(values, want_values)
    assert_equal(indices, want_indices.float())


@pytest.mark.parametrize("shape, axis, k", [((1, 8400), 1, 300), ((2, 300 * 80), 1, 300), ((3, 1000, 4), 1, 1),
                                            ((1, 64, 17), 2, 17), ((1, 525), 1, 300), ((2, 130), 1, 2)])
@pytest.mark.parametrize("values", ["random", "coarse", "equal"])
def test_topk_of_detection_sizes(shape, axis, k, values, rng):
    """Scores of an untrained detector are often all equal: torch's order of equal ones is kept."""
    x = {"random": random, "coarse": coarse, "equal": lambda rng, s: np.full(s, 0.25, np.float32)}[values](rng, shape)
    got_values, got_indices = run("topk", {"axis": axis, "k": k}, x)
    want_values, want_indices = torch.topk(torch.from_numpy(x), k, axis)
    assert_equal(got_values, want_values)
    assert_equal(got_indices, want_indices.float())


@pytest.mark.parametrize("shape, axis", [((2, 17, 1024), 2), ((1, 80, 60, 60), 1), ((3, 1000, 4), 1), ((5, 70), 1),
                                         ((64, 3), 0), ((3, 3136, 64), 2)])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("values", ["random", "coarse", "nan"])
def test_top_1_is_the_first_extreme(shape, axis, largest, values, rng):
    """k = 1 (max(dim), argmax: a keypoint heatmap's peak, a segmentation's class per pixel) in
    one pass: torch.topk's value and index, stable or not, across long lines and strided ones."""
    x = coarse(rng, shape, nan=values == "nan") if values != "random" else random(rng, shape)
    want_values, want_indices = torch.topk(torch.from_numpy(x), 1, axis, largest)
    for stable in (0, 1):
        got_values, got_indices = run("topk", {"axis": axis, "k": 1, "largest": int(largest), "stable": stable}, x)
        assert_equal(got_values, want_values)
        assert_equal(got_indices, want_indices.float())
    if values != "nan":
        want = (torch.max if largest else torch.min)(torch.from_numpy(x), axis, keepdim=True).indices
        assert_equal(got_indices, want.float())


@settings(max_examples=60, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=8), data=st.data(), largest=st.booleans(),
       seed=st.integers(0, 2**16))
def test_stable_topk_keeps_equal_values_in_index_order(shape, data, largest, seed):
    x = coarse(np.random.default_rng(seed), shape)
    axis = data.draw(st.integers(0, len(shape) - 1))
    k = data.draw(st.integers(0, shape[axis]))
    values, indices = run("topk", {"axis": axis, "k": k, "largest": int(largest), "stable": 1}, x)
    order = np.argsort(-x if largest else x, axis=axis, kind="stable")  # numpy's stable sort
    want = np.take(order, np.arange(k), axis=axis)
    assert_equal(indices, want.astype(np.float32))
    assert_equal(values, np.take_along_axis(x, want, axis))


@pytest.mark.parametrize("n", [1, 5, 15, 16, 17, 33, 63])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("values", ["random", "coarse", "nan"])
def test_stable_top_1_of_short_lines_is_the_first_extreme(n, largest, values, rng):
    """Lines shorter than topk's selection threshold, stable (argmax, argmin): the first extreme,
    as torch.max / torch.min give it (NaN above every number)."""
    x = coarse(rng, (40, n), nan=values == "nan") if values != "random" else random(rng, (40, n))
    got_values, got_indices = run("topk", {"axis": 1, "k": 1, "largest": int(largest), "stable": 1}, x)
    want = (torch.max if largest else torch.min)(torch.from_numpy(x), 1, keepdim=True)
    if values == "nan" and not largest:  # torch.min takes NaN; topk's smallest passes over it
        want_values, want_indices = torch.topk(torch.from_numpy(x), 1, 1, largest=False, sorted=True)
        nan_free = ~np.isnan(x).all(axis=1)
        assert_equal(got_values[nan_free], want_values.numpy()[nan_free])
        return
    assert_equal(got_values, want.values)
    assert_equal(got_indices, want.indices.float())


def test_top_1_of_zeros_of_both_signs_is_the_first_with_its_sign():
    x = np.array([[-0.0, 0.0] * 20, [0.0, -0.0] * 20], np.float32)
    for largest in (0, 1):
        values, indices = run("topk", {"axis": 1, "k": 1, "largest": largest, "stable": 1}, x)
        np.testing.assert_array_equal(indices, [[0.0], [0.0]])
        np.testing.assert_array_equal(np.signbit(values), [[True], [False]])


def test_topk_puts_nan_above_every_number_and_stable_keeps_ties_in_index_order():
    x = np.array([[1.0, np.nan, 3.0, 3.0, -np.inf, np.inf, 1.0, np.nan]], np.float32)
    values, indices = run("topk", {"axis": 1, "k": 8, "stable": 1}, x)
    np.testing.assert_array_equal(values, [[np.nan, np.nan, np.inf, 3.0, 3.0, 1.0, 1.0, -np.inf]])
    np.testing.assert_array_equal(indices, [[1, 7, 5, 2, 3, 0, 6, 4]])
    values, indices = run("topk", {"axis": 1, "k": 8, "largest": 0, "stable": 1}, x)
    np.testing.assert_array_equal(values, [[-np.inf, 1.0, 1.0, 3.0, 3.0, np.inf, np.nan, np.nan]])
    np.testing.assert_array_equal(indices, [[4, 0, 6, 2, 3, 5, 1, 7]])
    # k = 1 is argmax: the first of equal entries
    ties = np.array([[2.0, 5.0, 5.0, -1.0, 5.0]], np.float32)
    assert run("topk", {"axis": 1, "k": 1, "stable": 1}, ties)[1][0, 0] == torch.argmax(torch.from_numpy(ties)).item()


@settings(max_examples=80, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=6, min_side=0, max_side=5), data=st.data(), seed=st.integers(0, 2**16))
def test_gather_matches_torch(shape, data, seed):
    rng = np.random.default_rng(seed)
    x = random(rng, shape)
    axis = data.draw(st.integers(0, len(shape) - 1))
    # an index of x's rank, at most x's size along the other dims, any length along axis
    index_shape = tuple(data.draw(st.integers(0, 6 if d == axis else n)) for d, n in enumerate(shape))
    if shape[axis] == 0:
        index_shape = index_shape[:axis] + (0,) + index_shape[axis + 1:]
    index = rng.integers(0, max(shape[axis], 1), size=index_shape)
    (y,) = run("gather", {"axis": axis}, x, index.astype(np.float32))
    assert_equal(y, torch.gather(torch.from_numpy(x), axis, torch.from_numpy(index)))


@pytest.mark.parametrize("op, index_shape", [("gather", (2, 4, 3)), ("take", (2, 4))])
@pytest.mark.parametrize("bad", [6.0, -1.0, 2.5, np.nan, np.inf, 2.0**40])
def test_an_index_out_of_range_or_not_an_integer_is_refused(op, index_shape, bad, rng):
    x = random(rng, (2, 6, 3))
    index = np.zeros(index_shape, np.float32)
    index[(1, 3, 2)[:len(index_shape)]] = bad
    with pytest.raises(IndexError, match="is out of bounds for axis 1 of size 6"):
        run(op, {"axis": 1}, x, index)


@settings(max_examples=80, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5), data=st.data(), seed=st.integers(0, 2**16))
def test_take_matches_index_select(shape, data, seed):
    """Any index shape (rank 0 to 2) in place of the axis; entries repeated and in any order."""
    rng = np.random.default_rng(seed)
    x = random(rng, shape)
    axis = data.draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(data.draw(st.lists(st.integers(0 if shape[axis] == 0 else 1, 4), max_size=2)))
    if shape[axis] == 0:
        index_shape = (0,)
    index = rng.integers(0, max(shape[axis], 1), size=index_shape)
    (y,) = run("take", {"axis": axis}, x, index.astype(np.float32))
    want = torch.from_numpy(x).index_select(axis, torch.from_numpy(index).flatten().long())
    assert_equal(y, want.reshape((*shape[:axis], *index_shape, *shape[axis + 1:])))


def test_take_copies_long_slices_in_parallel_pieces(rng):
    """Rows past a task's worth of floats, cut into pieces across threads: embedding rows of
    20000 floats and a table's rows at 3000 ids."""
    for x, axis, index in ((random(rng, (7, 20000)), 0, np.array([6, 0, 6, 3], np.float32)),
                           (random(rng, (2, 50, 64)), 1, rng.integers(0, 50, 3000).astype(np.float32))):
        (y,) = run("take", {"axis": axis}, x, index)
        assert_equal(y, torch.from_numpy(x).index_select(axis, torch.from_numpy(index).long()))


def test_refusals():
    x = np.ones((2, 3), np.float32)
    refused("topk", {"axis": 1, "k": 4}, x, says=["'k' is 4", "(2, 3)", "3 along axis 1"])
    refused("topk", {"axis": 2, "k": 1}, x, says=["'axis' is 2", "rank 2"])
    refused("topk", {"axis": 0}, x, says="k")
    refused("topk", {"axis": 0, "k": 1, "largest": 2}, x, says="largest")
    refused("topk", {"axis": 0, "k": 1, "stable": -1}, x, says="stable")
    refused("topk", {"axis": 0, "k": 1, "sorted": 1}, x, says="unknown attribute 'sorted'")
    refused("topk", {"axis": 0, "k": 1}, x, x, says="takes 1 input, got 2")
    refused("gather", {"axis": 0}, x, np.zeros((2, 4), np.float32), says=["index (2, 4)", "input (2, 3)"])
    refused("gather", {"axis": 0}, x, np.zeros(3, np.float32), says=["index (3,)", "rank"])
    refused("gather", {"axis": 2}, x, x, says=["'axis' is 2", "rank 2"])
    refused("gather", {"axis": 0}, x, says="takes 2 inputs, got 1")
    refused("take", {"axis": 2}, x, np.zeros(2, np.float32), says=["'axis' is 2", "rank 2"])
    refused("take", {}, x, np.zeros(2, np.float32), says="axis")
    refused("take", {"axis": 0, "dim": 0}, x, np.zeros(2, np.float32), says="unknown attribute 'dim'")
    refused("take", {"axis": 0}, x, says="takes 2 inputs, got 1")
    refused("take", {"axis": 1}, x, np.zeros((1,) * 8, np.float32), says=["rank 9", "more than 8"])


def test_topk_refuses_dims_whose_indices_float32_cannot_hold():
    x = np.zeros(2**24 + 1, np.float32)
    refused("topk", {"axis": 0, "k": 1}, x, says="longer than 2^24")


@settings(max_examples=100, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6), data=st.data(),
       reduce=st.sampled_from(["none", "add", "max", "min"]), nan=st.booleans(), seed=st.integers(0, 2**16))
def test_scatter_matches_torch(shape, data, reduce, nan, seed):
    """An index and a source smaller than the input along some dims, the source larger than the
    index; equal indices (in index order) with every reduction but plain writes, whose torch
    order is not defined."""
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(data.draw(st.integers(1, n)) if d != axis else data.draw(st.integers(1, 6))
                        for d, n in enumerate(shape))
    if reduce == "none":  # distinct indices along each line: each a permutation's first entries
        index_shape = tuple(min(n, shape[axis]) if d == axis else n for d, n in enumerate(index_shape))
        keys = rng.random(index_shape[:axis] + (shape[axis],) + index_shape[axis + 1:])
        index = np.take(np.argsort(keys, axis=axis), np.arange(index_shape[axis]), axis=axis).astype(np.float32)
    else:
        index = rng.integers(0, shape[axis], index_shape).astype(np.float32)
    src_shape = tuple(n + data.draw(st.integers(0, 2)) for n in index_shape)
    x, src = coarse(rng, shape, nan), coarse(rng, src_shape, nan)
    got = run("scatter", {"axis": axis, "reduce": reduce}, x, index, src)[0]
    t, i, s = torch.from_numpy(x), torch.from_numpy(index).long(), torch.from_numpy(src)
    want = t.scatter(axis, i, s) if reduce == "none" else \
        t.scatter_reduce(axis, i, s, {"add": "sum", "max": "amax", "min": "amin"}[reduce])
    assert_equal(got, want)


def test_scatter_refuses_an_index_out_of_range_or_not_an_integer():
    x = np.zeros((2, 3), np.float32)
    for bad, shown in ((3.0, "3"), (-1.0, "-1"), (1.5, "1.5"), (np.nan, "nan")):
        with pytest.raises(IndexError, match=f"scatter: index {shown} is out of bounds for axis 1 of size 3"):
            run("scatter", {"axis": 1}, x, np.array([[0.0], [bad]], np.float32), np.ones((2, 1), np.float32))
    refused("scatter", {"axis": 1}, x, np.zeros((3, 1), np.float32), np.ones((3, 1), np.float32),
            says=["index (3, 1)", "input (2, 3)"])
    refused("scatter", {"axis": 0}, x, np.zeros((2, 3), np.float32), np.ones((2, 2), np.float32),
            says="source (2, 2)")
    refused("scatter", {"axis": 0, "reduce": "mean"}, x, x, x, says="reduce")
