"""matmul against torch.matmul: 1-D operands, batches that broadcast, ragged sizes around the GEMM
kernel's tile, K = 0, a constant operand, threads; refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from operator_testing import assert_close, random, refused, run1

import pyprune

torch = pytest.importorskip("torch")


def want(a, b):
    return torch.matmul(torch.from_numpy(a).double(), torch.from_numpy(b).double()).float()


def tolerance(k):
    return 1e-5 * np.sqrt(max(k, 1))


@st.composite
def operands(draw):
    m, k, n = draw(st.integers(1, 20)), draw(st.integers(0, 20)), draw(st.integers(1, 40))
    batch = draw(st.lists(st.integers(1, 3), max_size=3))
    a_batch = [draw(st.sampled_from([1, s])) for s in batch][draw(st.integers(0, len(batch))):]
    b_batch = [draw(st.sampled_from([1, s])) for s in batch][draw(st.integers(0, len(batch))):]
    a = [k] if draw(st.booleans()) and not a_batch else a_batch + [m, k]
    b = [k] if draw(st.booleans()) and not b_batch else b_batch + [k, n]
    return tuple(a), tuple(b)


@settings(max_examples=200, deadline=None)
@given(shapes=operands(), seed=st.integers(0, 2**16))
def test_matmul_matches_torch(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = random(rng, shapes[0]), random(rng, shapes[1])
    k = shapes[0][-1]
    assert_close(run1("matmul", {}, a, b), want(a, b), rtol=tolerance(k), atol=tolerance(k))


@pytest.mark.parametrize("a_shape,b_shape", [((1, 197, 768), (768, 768)), ((2, 12, 197, 64), (2, 12, 64, 197)),
                                             ((300, 37), (37, 301)), ((1, 1000), (1000,)), ((5, 64, 3), (3, 4))])
def test_network_products(a_shape, b_shape, rng):
    a, b = random(rng, a_shape), random(rng, b_shape)
    k = a_shape[-1]
    assert_close(run1("matmul", {}, a, b), want(a, b), rtol=tolerance(k), atol=tolerance(k))
    got = run1("matmul", {}, a, None, constants={1: b})
    assert_close(got, want(a, b), rtol=tolerance(k), atol=tolerance(k))


def test_results_do_not_depend_on_threads(rng):
    a, b = random(rng, (3, 130, 70)), random(rng, (70, 300))
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(1)
        one = run1("matmul", {}, a, b)
        pyprune.set_num_threads(2)
        two = run1("matmul", {}, a, b)
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_refusals():
    refused("matmul", {}, np.ones((2, 3), np.float32), np.ones((4, 5), np.float32), says=["3 columns", "4 rows"])
    refused("matmul", {}, np.ones((2, 2, 3), np.float32), np.ones((3, 3, 5), np.float32), says="batch dims")
    refused("matmul", {}, np.ones((), np.float32), np.ones((3,), np.float32), says="rank 1 or more")
    refused("matmul", {"transpose": 1}, np.ones((3,), np.float32), np.ones((3,), np.float32), says="unknown attribute")
