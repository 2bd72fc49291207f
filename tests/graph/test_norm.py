"""layer_norm (trailing dims) and channel_norm (dim 1 of NCHW) against torch, with and without
weight and bias (given as inputs or as constants), large means, eps; refusals."""

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from operator_testing import assert_close, random, refused, run1

torch = pytest.importorskip("torch")


def channels_first_layer_norm(x, weight, bias, eps):
    """ConvNeXt's LayerNorm for channels_first tensors, as its code writes it."""
    u = x.mean(1, keepdim=True)
    s = (x - u).pow(2).mean(1, keepdim=True)
    x = (x - u) / torch.sqrt(s + eps)
    shape = (-1,) + (1,) * (x.dim() - 2)
    if weight is not None:
        x = weight.view(shape) * x
    if bias is not None:
        x = x + bias.view(shape)
    return x


@settings(max_examples=120, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=7), affine=st.integers(0, 2),
       eps=st.sampled_from([1e-5, 1e-6, 0.1]), constants=st.booleans(), data=st.data())
def test_layer_norm(shape, affine, eps, constants, data):
    axes = data.draw(st.integers(1, len(shape)))
    rng = np.random.default_rng(axes)
    x = random(rng, shape, -3.0, 5.0)
    extra = [random(rng, shape[-axes:]) for _ in range(affine)]
    inputs = [x] + ([None] * affine if constants else extra)
    got = run1("layer_norm", {"axes": axes, "eps": eps}, *inputs,
               constants={i + 1: e for i, e in enumerate(extra)} if constants else None)
    t = [torch.from_numpy(e).double() for e in extra] + [None, None]
    want = F.layer_norm(torch.from_numpy(x).double(), shape[-axes:], t[0], t[1], eps).float()
    assert_norm_close(got, want, x, tuple(range(x.ndim - axes, x.ndim)), eps, extra[:1])


def assert_norm_close(got, want, x, dims, eps, weight):
    """Within float32's rounding, which any float32 norm pays: x - mean rounds at the rows'
    magnitude, and dividing by a small deviation (nearly constant rows) magnifies it."""
    want = want.detach().numpy() if hasattr(want, "detach") else want
    x64 = x.astype(np.float64)
    scale = np.abs(x64).max(axis=dims, keepdims=True) / np.sqrt(x64.var(axis=dims, keepdims=True) + eps)
    if weight:
        scale = scale * np.abs(weight[0]).reshape([x.shape[d] if d in dims else 1 for d in range(x.ndim)])
    bound = 2e-5 + 1e-5 * np.abs(want) + 8 * np.finfo(np.float32).eps * scale
    worst = np.unravel_index(np.argmax(np.abs(got - want) - bound), want.shape) if want.size else ()
    assert got.shape == want.shape and np.all(np.abs(got - want) <= bound), (worst, got[worst], want[worst])


@settings(max_examples=120, deadline=None)
@given(shape=array_shapes(min_dims=2, max_dims=5, min_side=1, max_side=7), affine=st.integers(0, 2),
       eps=st.sampled_from([1e-5, 1e-6, 0.1]), seed=st.integers(0, 2**16))
def test_channel_norm(shape, affine, eps, seed):
    rng = np.random.default_rng(seed)
    x = random(rng, shape, -3.0, 5.0)
    extra = [random(rng, (shape[1],)) for _ in range(affine)]
    got = run1("channel_norm", {"eps": eps}, x, *extra)
    t = [torch.from_numpy(e) for e in extra] + [None, None]
    want = channels_first_layer_norm(torch.from_numpy(x).double(), *(None if v is None else v.double() for v in t[:2]), eps)
    assert_norm_close(got, want.float(), x, (1,), eps, extra[:1])


@pytest.mark.parametrize("shape", [(1, 96, 56, 56), (3, 192, 7, 7), (2, 768, 1, 1)])
def test_network_norms(shape, rng):
    x = random(rng, shape, -3.0, 3.0) + np.float32(100.0)  # a large mean
    w, b = random(rng, (shape[1],)), random(rng, (shape[1],))
    t = torch.from_numpy(x).double()
    want = channels_first_layer_norm(t, torch.from_numpy(w).double(), torch.from_numpy(b).double(), 1e-6)
    assert_close(run1("channel_norm", {"eps": 1e-6}, x, w, b), want.float(), rtol=1e-5, atol=1e-4)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    want = F.layer_norm(torch.from_numpy(nhwc).double(), (shape[1],), torch.from_numpy(w).double(),
                        torch.from_numpy(b).double(), 1e-6)
    assert_close(run1("layer_norm", {"axes": 1, "eps": 1e-6}, nhwc, w, b), want.float(), rtol=1e-5, atol=1e-4)


def test_refusals():
    x = np.ones((2, 3, 4), np.float32)
    refused("layer_norm", {}, x, says="'axes' is required")
    refused("layer_norm", {"axes": 4}, x, says="rank 3")
    refused("layer_norm", {"axes": 0}, x, says="axes")
    refused("layer_norm", {"axes": 1, "eps": -1.0}, x, says="eps")
    refused("layer_norm", {"axes": 2}, x, np.ones((4,), np.float32), says=["weight", "(3, 4)"])
    refused("layer_norm", {"axes": 1}, x, np.ones((4,), np.float32), np.ones((3,), np.float32), says="bias")
    refused("layer_norm", {"axes": 1}, x, x, x, x, says="takes 1 to 3 inputs")
    refused("channel_norm", {}, np.ones((3,), np.float32), says="(N, C, ...)")
    refused("channel_norm", {}, x, np.ones((4,), np.float32), says=["weight", "(3,)"])
    refused("channel_norm", {"axes": 1}, x, says="unknown attribute 'axes'")
