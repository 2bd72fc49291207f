"""attention against torch (softmax(q kt scale) v in float64): batches that broadcast, ragged
sizes around the GEMM tile, query blocks past the first, no keys, no features, threads;
refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from operator_testing import assert_close, random, refused, run1

import pyprune

torch = pytest.importorskip("torch")


def want(q, kt, v, scale=1.0):
    t = lambda a: torch.from_numpy(a).double()  # noqa: E731
    return (torch.softmax(t(q) @ t(kt) * scale, -1) @ t(v)).float()


@st.composite
def operands(draw):
    length, features, keys, values = (draw(st.integers(lo, hi)) for lo, hi in ((1, 20), (0, 20), (0, 40), (1, 20)))
    batch = draw(st.lists(st.integers(1, 3), max_size=3))
    shapes = []
    for last in ((length, features), (features, keys), (keys, values)):
        own = [draw(st.sampled_from([1, s])) for s in batch][draw(st.integers(0, len(batch))):]
        shapes.append(tuple(own) + last)
    return shapes


@settings(max_examples=200, deadline=None)
@given(shapes=operands(), scale=st.sampled_from([1.0, 0.125, -0.5, 3.0]), seed=st.integers(0, 2**16))
def test_attention_matches_torch(shapes, scale, seed):
    rng = np.random.default_rng(seed)
    q, kt, v = (random(rng, s) for s in shapes)
    attrs = {} if scale == 1.0 else {"scale": scale}
    assert_close(run1("attention", attrs, q, kt, v), want(q, kt, v, scale), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("heads,length,keys,features", [(4, 1024, 1024, 16), (2, 1031, 256, 16), (1, 97, 5000, 8)])
def test_many_blocks_of_queries(heads, length, keys, features, rng):
    """Scores larger than a block's buffer: several blocks of query rows, the last one ragged."""
    q, kt, v = (random(rng, s) for s in ((1, heads, length, features), (1, heads, features, keys),
                                            (1, heads, keys, features)))
    assert_close(run1("attention", {"scale": 0.25}, q, kt, v), want(q, kt, v, 0.25), rtol=1e-5, atol=1e-5)


def test_no_keys_give_zeros_and_no_features_the_mean(rng):
    q, v = random(rng, (2, 5, 3)), random(rng, (2, 4, 6))
    np.testing.assert_array_equal(run1("attention", {}, q, np.zeros((2, 3, 0), np.float32), v[:, :0]),
                                  np.zeros((2, 5, 6), np.float32))
    got = run1("attention", {}, q[..., :0].copy(), np.zeros((2, 0, 4), np.float32), v)
    assert_close(got, np.broadcast_to(v.mean(1, keepdims=True), (2, 5, 6)), rtol=1e-6, atol=1e-6)


def test_results_do_not_depend_on_threads(rng):
    q, kt, v = random(rng, (3, 300, 16)), random(rng, (3, 16, 700)), random(rng, (3, 700, 24))
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(1)
        one = run1("attention", {"scale": 0.5}, q, kt, v)
        pyprune.set_num_threads(2)
        two = run1("attention", {"scale": 0.5}, q, kt, v)
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_refusals():
    x = np.ones((2, 3, 4), np.float32)
    refused("attention", {}, x, x, says="takes 3 inputs")
    refused("attention", {}, np.ones(4, np.float32), x, x, says="rank 2 or more")
    refused("attention", {}, x, np.ones((2, 3, 5), np.float32), np.ones((2, 5, 2), np.float32), says="4 features")
    refused("attention", {}, x, np.ones((2, 4, 5), np.float32), x, says="5 keys")
    refused("attention", {}, x, np.ones((3, 4, 5), np.float32), np.ones((3, 5, 2), np.float32), says="broadcast")
    refused("attention", {"scale": float("inf")}, x, np.ones((2, 4, 5), np.float32), np.ones((2, 5, 2), np.float32),
            says="scale")
    refused("attention", {"axis": 1}, x, np.ones((2, 4, 5), np.float32), np.ones((2, 5, 2), np.float32),
            says="unknown attribute 'axis'")
