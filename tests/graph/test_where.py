"""where: (a compare b) ? x : z with the four inputs broadcast together up to rank 8, against
torch.where over every comparison; NaN, constants, threads; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from operator_testing import assert_close, random, refused, run1

import pyprune

torch = pytest.importorskip("torch")

COMPARES = ("gt", "ge", "lt", "le", "eq", "ne")


def want(compare, a, b, x, z):
    t = [torch.from_numpy(v) for v in (a, b, x, z)]
    return torch.where(getattr(torch, compare)(t[0], t[1]), t[2], t[3])


def ties(rng, shape):
    """Values on a coarse grid, so that equal pairs are common."""
    return np.asarray(np.round(random(rng, shape) * 2) / 2, np.float32)


@settings(max_examples=80, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=4, min_dims=0, max_dims=8, min_side=0, max_side=4),
       compare=st.sampled_from(COMPARES), seed=st.integers(0, 2**16))
def test_broadcasting_matches_torch(shapes, compare, seed):
    rng = np.random.default_rng(seed)
    a, b = (ties(rng, s) for s in shapes.input_shapes[:2])
    x, z = (random(rng, s) for s in shapes.input_shapes[2:])
    assert_close(run1("where", {"compare": compare}, a, b, x, z), want(compare, a, b, x, z), rtol=0, atol=0)


@pytest.mark.parametrize("compare", COMPARES)
@pytest.mark.parametrize("shapes", [
    ((2, 8, 5, 5), (), (2, 8, 5, 5), ()),              # where(x > 0, x, 0)
    ((2, 8, 5, 5), (8, 1, 1), (), (2, 8, 5, 5)),       # a per-channel threshold
    ((1, 1, 9, 9), (), (), (3, 4, 9, 9)),              # an attention mask over heads
    ((3, 300, 300), (3, 300, 300), (1,), (300,)),      # long rows cut into tasks
])
def test_network_shapes(compare, shapes, rng):
    a, b = ties(rng, shapes[0]), ties(rng, shapes[1])
    x, z = random(rng, shapes[2]), random(rng, shapes[3])
    assert_close(run1("where", {"compare": compare}, a, b, x, z), want(compare, a, b, x, z), rtol=0, atol=0)


def test_nan_compares_false_but_not_equal(rng):
    a = np.array([np.nan, 1.0, np.inf, -np.inf, 0.0, -0.0], np.float32)
    b = np.array([0.0, np.nan, np.inf, 0.0, -0.0, np.nan], np.float32)
    x, z = np.ones(6, np.float32), np.zeros(6, np.float32)
    for compare in COMPARES:
        assert_close(run1("where", {"compare": compare}, a, b, x, z), want(compare, a, b, x, z), rtol=0, atol=0)


@pytest.mark.parametrize("position", range(4))
def test_a_constant_at_any_position(position, rng):
    inputs = [ties(rng, (2, 3, 4)) for _ in range(4)]
    args = [None if i == position else v for i, v in enumerate(inputs)]
    got = run1("where", {"compare": "ge"}, *args, constants={position: inputs[position]})
    assert_close(got, want("ge", *inputs), rtol=0, atol=0)


def test_results_do_not_depend_on_threads(rng):
    inputs = [random(rng, (2, 64, 100, 100)), random(rng, (64, 1, 1)), random(rng, (2, 64, 100, 100)), random(rng, ())]
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(1)
        one = run1("where", {"compare": "lt"}, *inputs)
        pyprune.set_num_threads(2)
        two = run1("where", {"compare": "lt"}, *inputs)
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_refusals():
    x = np.ones((2, 3), np.float32)
    refused("where", {"compare": "gt"}, x, x, x, np.ones(4, np.float32), says=["cannot broadcast", "(2, 3)", "(4,)"])
    refused("where", {"compare": "gt"}, x, x, x, says="takes 4 inputs, got 3")
    refused("where", {}, x, x, x, x, says="compare")
    refused("where", {"compare": "greater"}, x, x, x, x, says=["compare", "greater"])
    refused("where", {"compare": "gt", "value": 1.0}, x, x, x, x, says="unknown attribute 'value'")
    refused("where", {"compare": "gt"}, np.ones((1,) * 9, np.float32), x, x, x, says="rank 9")
