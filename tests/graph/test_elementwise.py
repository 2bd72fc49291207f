"""add, sub, mul, div, maximum, minimum: numpy broadcasting up to rank 8 with the fused activations, against torch;
constants at either position; thread counts; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from operator_testing import ACTIVATIONS, activation_attrs, assert_close, random, refused, run, run1, torch_activation

import pyprune

torch = pytest.importorskip("torch")

OPS = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "maximum": torch.maximum,
       "minimum": torch.minimum}


def want(op, a, b, activation="none"):
    return torch_activation(activation, OPS[op](torch.from_numpy(a), torch.from_numpy(b)))


@settings(max_examples=150, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=8, min_side=0, max_side=4),
       op=st.sampled_from(sorted(OPS)), activation=st.sampled_from(sorted(ACTIVATIONS)), seed=st.integers(0, 2**16))
def test_broadcasting_matches_torch(shapes, op, activation, seed):
    rng = np.random.default_rng(seed)
    a, b = (random(rng, s) for s in shapes.input_shapes)
    if op == "div":
        b = np.where(np.abs(b) < 0.1, np.float32(0.5), b)
    got = run1(op, activation_attrs(activation), a, b)
    assert_close(got, want(op, a, b, activation), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("a_shape,b_shape", [
    ((1, 96, 56, 56), (1, 96, 1, 1)),   # squeeze-excitation
    ((3, 24, 28, 28), (3, 24, 28, 28)),  # residual
    ((2, 16, 7, 7), (16, 1, 1)),         # per-channel constant
    ((2, 1, 5, 5), (2, 8, 1, 1)),        # both broadcast
    ((3, 1), (1, 1000)),                 # outer product
    ((5, 1, 7), (5, 7)),
    ((), (4, 3)),                        # scalar first
    ((1, 3, 300, 300), ()),              # long rows cut into several tasks
])
def test_network_shapes(op, a_shape, b_shape, rng):
    a, b = random(rng, a_shape), random(rng, b_shape, 0.5, 2.0)
    assert_close(run1(op, {"activation": "relu"}, a, b), want(op, a, b, "relu"), rtol=1e-6, atol=0)


@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("op", sorted(OPS))
def test_constant_at_either_position(op, position, rng):
    x, c = random(rng, (2, 3, 4, 5)), np.array(3.0, np.float32)
    inputs = [x, c] if position == 1 else [c, x]
    args = [None if i == position else v for i, v in enumerate(inputs)]
    got = run1(op, {}, *args, constants={position: inputs[position]})
    assert_close(got, want(op, *inputs), rtol=1e-6, atol=0)


def test_results_do_not_depend_on_threads(rng):
    a, b = random(rng, (2, 64, 100, 100)), random(rng, (2, 64, 1, 1))
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(1)
        one = run1("mul", {"activation": "hardswish"}, a, b)
        pyprune.set_num_threads(2)
        two = run1("mul", {"activation": "hardswish"}, a, b)
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_nan_and_infinities_follow_torch():
    a = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0, -1.0], np.float32)
    b = np.array([1.0, np.inf, 2.0, 0.0, 0.0, -0.0], np.float32)
    for op in OPS:
        for activation in ("none", "relu", "relu6"):
            with np.errstate(all="ignore"):
                assert_close(run1(op, {"activation": activation}, a, b), want(op, a, b, activation), rtol=0, atol=0)


def test_refusals():
    x = np.ones((2, 3), np.float32)
    refused("add", {}, x, np.ones((4,), np.float32), says=["cannot broadcast", "(2, 3)", "(4,)"])
    refused("add", {}, x, says="takes 2 inputs, got 1")
    refused("mul", {}, np.ones((1,) * 9, np.float32), x, says="rank 9")
    refused("add", {"alpha": 2}, x, x, says="unknown attribute 'alpha'")
    refused("sub", {"activation": "swish"}, x, x, says=["activation", "swish"])
    refused("div", {"activation": "relu", "activation_min": 0.0}, x, x, says="activation_min")
    refused("div", {"activation": "relu6", "activation_alpha": 0.1}, x, x, says="activation_alpha")
    refused("add", {"activation": "clamp", "activation_min": 2.0, "activation_max": 1.0}, x, x, says="must not exceed")
    refused("add", {"activation": 1}, x, x, says=["activation", "string"])


def test_outputs_written_into_given_arrays(rng):
    a, b = random(rng, (2, 3)), random(rng, (3,))
    out = np.full((2, 3), np.nan, np.float32)
    (y,) = run("add", {}, a, b, out=[out])
    assert y is out
    np.testing.assert_array_equal(out, a + b)
    with pytest.raises(ValueError, match=r"out\[0\] must be a writeable array of shape \(2, 3\)"):
        run("add", {}, a, b, out=[np.empty((3, 2), np.float32)])
    with pytest.raises(ValueError, match="out must hold 1 arrays"):
        run("add", {}, a, b, out=[])
