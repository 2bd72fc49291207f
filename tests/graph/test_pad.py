"""pad: constant (negative pads crop), reflect (up to the size limit) and replicate over any
dims, against torch (F.pad) and numpy (np.pad for dims torch does not pad); refusals."""

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from operator_testing import assert_equal, random, refused, run1

torch = pytest.importorskip("torch")


def torch_order(pads):
    """[b0, e0, b1, e1, ...] in dim order -> F.pad's list, last dim first, without the leading dims
    that are not padded (F.pad's reflect and replicate take only the last one to three)."""
    pairs = [pads[i:i + 2] for i in range(0, len(pads), 2)]
    while len(pairs) > 1 and pairs[0] == [0, 0]:
        pairs.pop(0)
    return [p for pair in reversed(pairs) for p in pair]


@settings(max_examples=150, deadline=None)
@given(shape=array_shapes(min_dims=0, max_dims=6, min_side=0, max_side=5), data=st.data())
def test_constant(shape, data):
    pads = [data.draw(st.integers(-s, 3)) for s in shape for _ in range(2)]
    value = data.draw(st.sampled_from([0.0, 1.5, -np.inf]))
    x = random(np.random.default_rng(0), shape)
    if any(s + b + e < 0 for s, b, e in zip(shape, pads[::2], pads[1::2])):
        refused("pad", {"pads": pads, "value": value}, x, says="below size 0")
        return
    got = run1("pad", {"pads": pads, "mode": "constant", "value": value}, x)
    assert_equal(got, F.pad(torch.from_numpy(x), torch_order(pads), value=value))


@settings(max_examples=150, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=6, min_side=1, max_side=6), mode=st.sampled_from(["reflect", "replicate"]),
       data=st.data())
def test_reflect_and_replicate_any_dim(shape, mode, data):
    limit = (lambda s: s - 1) if mode == "reflect" else (lambda s: 4)
    pads = [data.draw(st.integers(0, limit(s))) for s in shape for _ in range(2)]
    x = random(np.random.default_rng(0), shape)
    want = np.pad(x, list(zip(pads[::2], pads[1::2])), mode="reflect" if mode == "reflect" else "edge")
    assert_equal(run1("pad", {"pads": pads, "mode": mode}, x), want)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "constant"])
@pytest.mark.parametrize("shape,pads", [((1, 3, 32, 32), [0, 0, 0, 0, 3, 3, 3, 3]),
                                        ((3, 8, 10, 9), [0, 0, 0, 0, 1, 2, 8, 0]),
                                        ((2, 5, 7), [0, 0, 0, 0, 6, 6]),
                                        ((1, 2, 200, 300), [0, 0, 0, 0, 2, 1, 1, 2])])
def test_network_padding(mode, shape, pads, rng):
    x = random(rng, shape)
    assert_equal(run1("pad", {"pads": pads, "mode": mode}, x), F.pad(torch.from_numpy(x), torch_order(pads), mode=mode))


def test_reflect_limits(rng):
    x = random(rng, (1, 1, 4, 5))
    assert_equal(run1("pad", {"pads": [0, 0, 0, 0, 3, 3, 4, 4], "mode": "reflect"}, x),
                 F.pad(torch.from_numpy(x), (4, 4, 3, 3), mode="reflect"))
    refused("pad", {"pads": [0, 0, 0, 0, 4, 0, 0, 0], "mode": "reflect"}, x, says=["reflect", "below its size 4"])
    refused("pad", {"pads": [0, 0, 0, 0, 0, 0, 0, 5], "mode": "reflect"}, x, says="below its size 5")


def test_refusals():
    x = np.ones((2, 3), np.float32)
    refused("pad", {}, x, says="'pads' is required")
    refused("pad", {"pads": [1, 1]}, x, says=["needs 4"])
    refused("pad", {"pads": [1, 1, 1]}, x, says="two entries")
    refused("pad", {"pads": [0, 0, -1, 0], "mode": "reflect"}, x, says="pads")
    refused("pad", {"pads": [0, 0, 1, 0], "mode": "replicate", "value": 1.0}, x, says="applies only to mode 'constant'")
    refused("pad", {"pads": [0, 0, 1, 0], "mode": "wrap"}, x, says=["mode", "wrap"])
    refused("pad", {"pads": [0, 0, 1, 0], "mode": "replicate"}, np.ones((2, 0), np.float32), says="empty dim 1")
    refused("pad", {"pads": [2**40] * 4}, np.ones((1, 1), np.float32), says="too large")
