"""concat, split, slice, permute, expand against torch, exactly: random ranks, shapes and axes
(non-negative: the lowering normalises negative ones), empty tensors and slices, Python's
clamping of slice bounds, backward slices, several tasks; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from operator_testing import assert_equal, random, refused, run, run1

torch = pytest.importorskip("torch")

BIG = 2**63 - 1


def shapes(min_dims=1):
    return array_shapes(min_dims=min_dims, max_dims=6, min_side=0, max_side=5)


@settings(max_examples=100, deadline=None)
@given(shape=shapes(), data=st.data())
def test_concat(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=5))
    rng = np.random.default_rng(len(sizes))
    xs = [random(rng, shape[:axis] + (s,) + shape[axis + 1:]) for s in sizes]
    assert_equal(run1("concat", {"axis": axis}, *xs), torch.cat([torch.from_numpy(x) for x in xs], axis))


@settings(max_examples=100, deadline=None)
@given(shape=shapes(), data=st.data())
def test_split(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    cuts = sorted(data.draw(st.lists(st.integers(0, shape[axis]), max_size=4)))
    sizes = [b - a for a, b in zip([0] + cuts, cuts + [shape[axis]])]
    x = random(np.random.default_rng(0), shape)
    got = run("split", {"axis": axis, "sizes": sizes}, x)
    want = torch.split(torch.from_numpy(x), sizes, axis)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_equal(g, w)


@settings(max_examples=150, deadline=None)
@given(shape=shapes(), data=st.data())
def test_slice(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    bound = st.one_of(st.integers(-8, 8), st.sampled_from([-BIG - 1, BIG]))
    start, end = data.draw(bound), data.draw(bound)
    step = data.draw(st.one_of(st.integers(-4, -1), st.integers(1, 4), st.sampled_from([-BIG, BIG])))
    x = random(np.random.default_rng(0), shape)
    index = (slice(None),) * axis + (slice(start, end, step),)
    got = run1("slice", {"axis": axis, "start": start, "end": end, "step": step}, x)
    assert_equal(got, x[index])  # Python's slice rules (torch warns about the widest bounds)


def test_slice_defaults_take_everything(rng):
    x = random(rng, (3, 4))
    assert_equal(run1("slice", {"axis": 1}, x), x)
    assert_equal(run1("slice", {"axis": 1, "start": 1, "step": 2}, x), x[:, 1::2])
    assert_equal(run1("slice", {"axis": 1, "start": 2, "step": BIG}, x), x[:, 2::BIG])
    assert_equal(run1("slice", {"axis": 1, "start": -1, "end": -BIG - 1, "step": -1}, x), x[:, ::-1])


def test_backward_slice_of_a_large_tensor_flips_it(rng):
    x = random(rng, (2, 64, 60, 70))
    assert_equal(run1("slice", {"axis": 3, "start": -1, "end": -BIG - 1, "step": -1}, x), x[..., ::-1])
    assert_equal(run1("slice", {"axis": 1, "start": 50, "end": 3, "step": -7}, x), x[:, 50:3:-7])


@settings(max_examples=100, deadline=None)
@given(shape=shapes(min_dims=0), data=st.data())
def test_permute(shape, data):
    dims = data.draw(st.permutations(range(len(shape))))
    x = random(np.random.default_rng(0), shape)
    assert_equal(run1("permute", {"dims": list(dims)}, x), torch.from_numpy(x).permute(list(dims)).contiguous())


@settings(max_examples=80, deadline=None)
@given(shape=array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=40), data=st.data())
def test_transposes_by_blocks_with_ragged_edges(shape, data):
    """Permutes that read the input down its columns go by 4x4 blocks in tiles of rows: sides
    below, at and past the block and the tile."""
    dims = data.draw(st.permutations(range(len(shape))))
    x = random(np.random.default_rng(1), shape)
    assert_equal(run1("permute", {"dims": list(dims)}, x), torch.from_numpy(x).permute(list(dims)).contiguous())


@pytest.mark.parametrize("shape,dims", [((1, 128, 1024), [0, 2, 1]), ((3, 1031, 13), [0, 2, 1]),
                                        ((2, 37, 9, 64), [0, 3, 1, 2]), ((2, 64, 9, 37), [0, 2, 3, 1]),
                                        ((1027, 6), [1, 0])])
def test_large_transposes(shape, dims, rng):
    x = random(rng, shape)
    assert_equal(run1("permute", {"dims": dims}, x), torch.from_numpy(x).permute(dims).contiguous())


@pytest.mark.parametrize("shape,dims", [((1, 64, 2, 2, 16, 16), [0, 1, 4, 2, 5, 3]),
                                        ((2, 3, 3, 3, 20, 20), [0, 1, 4, 2, 5, 3]),
                                        ((1, 16, 2, 2, 33, 7), [0, 1, 4, 2, 5, 3]),
                                        ((1, 64, 16, 2, 16, 2), [0, 1, 3, 5, 2, 4])])
def test_interleaves_of_short_runs(shape, dims, rng):
    """F.fold's patches and a pixel shuffle's phases put runs of 2 or 3 innermost: a longer dim
    runs innermost instead, the one whose strides are the shortest."""
    x = random(rng, shape)
    assert_equal(run1("permute", {"dims": dims}, x), torch.from_numpy(x).permute(dims).contiguous())


@settings(max_examples=100, deadline=None)
@given(shape=shapes(min_dims=0), data=st.data())
def test_expand(shape, data):
    lead = data.draw(st.lists(st.integers(0, 3), max_size=6 - len(shape)))
    target = list(lead) + [data.draw(st.sampled_from([-1, 0, 2, 3])) if s == 1 else data.draw(st.sampled_from([-1, s]))
                           for s in shape]
    x = random(np.random.default_rng(0), shape)
    assert_equal(run1("expand", {"shape": target}, x), torch.from_numpy(x).expand(list(target)).contiguous())


def test_expand_takes_sizes_from_a_second_input():
    token = random(np.random.default_rng(0), (1, 1, 5))
    activations = random(np.random.default_rng(1), (3, 7, 5))
    want = torch.from_numpy(token).expand(3, 2, 5)
    assert_equal(run1("expand", {"shape": [-2, 2, -1]}, token, activations), want)
    assert_equal(run1("expand", {"shape": [-2, -2, -4]}, token, activations), torch.from_numpy(token).expand(3, 3, 5))
    refused("expand", {"shape": [-2, 2, -1]}, token, says="a second input the node does not have")
    refused("expand", {"shape": [-5, 2, -1]}, token, activations, says="(3, 7, 5)")
    refused("expand", {"shape": [-2, 2, -4]}, token, np.ones((3, 7, 2), np.float32), says="cannot expand")


def test_reshape_takes_sizes_from_a_second_input():
    """like_dims: an attention's (n, c, h * w) back to (n, c, h, w), h and w a feature map's."""
    tokens = random(np.random.default_rng(0), (2, 3, 20))
    feature = random(np.random.default_rng(1), (2, 8, 4, 5))
    attrs = {"shape": [-2, -3, 5, 5], "like_dims": [-1, -1, 2, 3]}
    assert_equal(run1("reshape", attrs, tokens, feature), tokens.reshape(2, 3, 4, 5))
    assert_equal(run1("reshape", {"shape": [-2, -3, 1, 4], "like_dims": [-1, -1, 3, -1]}, tokens, feature),
                 tokens.reshape(2, 3, 5, 4))
    for attrs_, inputs, message in [
        (attrs, (tokens,), "takes 2 inputs, got 1"),
        ({"shape": [-2, -3, 20]}, (tokens, feature), "takes 1 input, got 2"),
        ({"shape": [-2, -3, 5, 5], "like_dims": [-1, -1, 2, 4]}, (tokens, feature),
         r"shape entry 3 is dim 4 of input 1, which has shape \(2, 8, 4, 5\)"),
        (attrs, (tokens, random(np.random.default_rng(2), (2, 8, 4, 4))), r"cannot reshape to \(d0, d1, like.d2, like.d3\)"),
        ({"shape": [-2, -3, 5, 5], "like_dims": [-1, -1, 2]}, (tokens, feature), "like_dims"),
        ({"shape": [-2, -3, 20], "like_dims": [-1, -1, -1]}, (tokens, feature), "names no dim of input 1"),
        ({"shape": [-2, -3, -1, 5], "like_dims": [-1, -1, 2, 3]}, (tokens, feature), "is -1 and a dim of input 1"),
        ({"shape": [-2, -3, 5, 5], "like_dims": [-1, -1, 2, 8]}, (tokens, feature), "like_dims"),
    ]:
        with pytest.raises(ValueError, match=message):
            run("reshape", attrs_, *inputs)


@pytest.mark.parametrize("case", ["concat", "split", "slice", "permute", "expand"])
def test_large_tensors_run_in_tasks(case, rng):
    x = random(rng, (2, 64, 60, 70))
    t = torch.from_numpy(x)
    if case == "concat":
        assert_equal(run1("concat", {"axis": 1}, x, x[:, :5].copy()), torch.cat([t, t[:, :5]], 1))
    elif case == "split":
        for g, w in zip(run("split", {"axis": 3, "sizes": [1, 69]}, x), torch.split(t, [1, 69], 3)):
            assert_equal(g, w)
    elif case == "slice":
        assert_equal(run1("slice", {"axis": 3, "start": 1, "end": -1, "step": 3}, x), t[..., 1:-1:3])
    elif case == "permute":
        assert_equal(run1("permute", {"dims": [0, 2, 3, 1]}, x), t.permute(0, 2, 3, 1))
    else:
        assert_equal(run1("expand", {"shape": [2, 64, 60, 70]}, x[:, :, :1].copy()), t[:, :, :1].expand(2, 64, 60, 70))


def test_concat_of_four_feature_maps(rng):
    xs = [random(rng, (1, 64, 40, 40)) for _ in range(4)]
    assert_equal(run1("concat", {"axis": 1}, *xs), np.concatenate(xs, 1))


@pytest.mark.parametrize("runs", [[1, 1], [1, 1, 1, 1], [2, 3], [64, 1, 65], [200, 7]])
@pytest.mark.parametrize("rows", [3, 20000])
def test_concat_and_split_by_runs_of_every_length(runs, rows, rng):
    """Runs of single elements (a stack along the last dim), short ones copied inline, long ones;
    few rows, and enough for several tasks (long joined rows cut into pieces)."""
    xs = [random(rng, (rows, r)) for r in runs]
    joined = np.concatenate(xs, 1)
    assert_equal(run1("concat", {"axis": 1}, *xs), joined)
    for got, want in zip(run("split", {"axis": 1, "sizes": runs}, joined), xs):
        assert_equal(got, want)
    wide = [x.reshape(1, -1, 1) for x in xs]  # one row, runs of a whole part each
    assert_equal(run1("concat", {"axis": 1}, *wide), np.concatenate(wide, 1))


def test_refusals():
    x = np.ones((2, 3), np.float32)
    refused("concat", {"axis": 2}, x, x, says=["axis", "rank 2"])
    refused("concat", {"axis": 0}, x, np.ones((2, 4), np.float32), says=["input 1", "(2, 4)"])
    refused("concat", {"axis": 0}, x, np.ones((2, 3, 1), np.float32), says="input 1")
    refused("concat", {}, x, says="'axis' is required")
    refused("concat", {"axis": -1}, x, says=["axis", "[0, 7]"])
    refused("concat", {"axis": 0}, says="at least 1 inputs")
    refused("split", {"axis": 1, "sizes": [1, 1]}, x, says=["adds up to 2", "has 3"])
    refused("split", {"axis": 1, "sizes": [1, -1, 3]}, x, says="sizes")
    refused("split", {"axis": 1, "sizes": []}, x, says="sizes")
    refused("slice", {"axis": 0, "step": 0}, x, says="step")
    refused("slice", {"axis": 0, "step": -BIG - 1}, x, says="step")
    refused("slice", {"axis": 3}, x, says="axis")
    refused("permute", {"dims": [0, 0]}, x, says="permutation")
    refused("permute", {"dims": [1, 0, 2]}, x, says="rank 2")
    refused("permute", {"dims": [0, 2]}, x, says="permutation")
    refused("expand", {"shape": [4, 3]}, x, says="cannot expand")
    refused("expand", {"shape": [3]}, x, says="fewer")
    refused("expand", {"shape": [-1, 2, 3]}, x, says="new leading dim")
    refused("expand", {"shape": [-2, 3]}, x, says="second input")
    refused("expand", {"shape": [-9, 3]}, x, says="shape")
    refused("expand", {"shape": [2**40, 2**40, 2, 3]}, x, says="too large")
