"""Benchmark cases: for one layer or model, the pyprune call and the torch call on the same
inputs, checked to agree before anything is timed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from pyprune import kernels
from pyprune.bench.layers import DepthwiseLayer, PointwiseLayer

__all__ = [
    "Case",
    "depthwise_case",
    "model_case",
    "pointwise_case",
    "random_prune",
    "reference_model",
    "separable_case",
    "sparse_pointwise_case",
]


@dataclass
class Case:
    name: str
    macs: int
    pyprune: Callable[[], object]
    torch: Callable[[], object]
    extra: dict[str, Callable[[], object]]  # other pyprune variants timed alongside

    def check(self, rtol: float = 1e-3, atol: float = 1e-3) -> None:
        want = np.asarray(self.torch())
        for fn in (self.pyprune, *self.extra.values()):
            np.testing.assert_allclose(np.asarray(fn()), want, rtol=rtol, atol=atol)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def depthwise_case(layer: DepthwiseLayer) -> Case:
    import torch
    import torch.nn.functional as F

    rng = _rng()
    c, k = layer.channels, layer.kernel
    x = rng.standard_normal((1, c, layer.size, layer.size), dtype=np.float32)
    w = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    b = rng.standard_normal(c, dtype=np.float32)
    out = np.empty((1, c, layer.output_size, layer.output_size), np.float32)
    tx, tw, tb = map(torch.from_numpy, (x, w, b))
    return Case(
        str(layer),
        layer.macs,
        lambda: kernels.depthwise_conv2d(x, w, b, stride=layer.stride, padding=layer.padding, out=out),
        lambda: F.conv2d(tx, tw, tb, layer.stride, layer.padding, groups=c),
        {},
    )


def pointwise_case(layer: PointwiseLayer) -> Case:
    import torch
    import torch.nn.functional as F

    rng = _rng()
    x = rng.standard_normal((1, layer.in_channels, layer.size, layer.size), dtype=np.float32)
    w = rng.standard_normal((layer.out_channels, layer.in_channels, 1, 1), dtype=np.float32) * (1 / layer.in_channels**0.5)
    b = rng.standard_normal(layer.out_channels, dtype=np.float32)
    packed = kernels.PackedConv2d(w, b)  # packed once, as a module does
    out = np.empty((1, layer.out_channels, layer.size, layer.size), np.float32)
    tx, tw, tb = map(torch.from_numpy, (x, w, b))
    return Case(str(layer), layer.macs, lambda: packed(x, out=out), lambda: F.conv2d(tx, tw, tb), {})


def random_prune(w: np.ndarray, sparsity: float, block: int = 1, seed: int = 0) -> np.ndarray:
    """w with a random `sparsity` of its (block x 1) groups of output channels zeroed."""
    rng = _rng(seed)
    groups = -(-w.shape[0] // block)
    keep = rng.random((groups, *w.shape[1:])) >= sparsity
    return w * np.repeat(keep, block, axis=0)[: w.shape[0]]


def sparse_pointwise_case(layer: PointwiseLayer, sparsity: float, block: int = 1) -> Case:
    """A pointwise layer pruned at random to `sparsity` in (block x 1) blocks: pyprune's sparse
    kernel (blocks of `block`) against dense torch on the same weights, with pyprune's dense
    GEMM, torch's CSR sparse matmul and, for blocks, the unstructured sparse kernel alongside."""
    import warnings

    import torch
    import torch.nn.functional as F

    rng = _rng()
    cin, cout, size = layer.in_channels, layer.out_channels, layer.size
    x = rng.standard_normal((1, cin, size, size), dtype=np.float32)
    w = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32) * (1 / (cin * (1 - sparsity) + 1) ** 0.5)
    w = random_prune(w, sparsity, block).astype(np.float32)
    out = np.empty((1, cout, size, size), np.float32)
    sparse = kernels.PackedSparseConv2d(w, block=block)
    dense = kernels.PackedConv2d(w)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    with warnings.catch_warnings():  # torch calls its CSR support beta
        warnings.simplefilter("ignore", UserWarning)
        csr = tw.reshape(cout, cin).to_sparse_csr()
    x2 = tx.reshape(cin, size * size)
    extra = {
        "pyprune dense": lambda: dense(x, out=out),
        "torch csr": lambda: (csr @ x2).reshape(1, cout, size, size),
    }
    if block > 1:
        unstructured = kernels.PackedSparseConv2d(w)
        extra["unstructured"] = lambda: unstructured(x, out=out)
    name = f"{layer} {sparsity:.0%}" + (f" {block}x1" if block > 1 else "")
    return Case(name, layer.macs, lambda: sparse(x, out=out), lambda: F.conv2d(tx, tw), extra)


def separable_case(dw: DepthwiseLayer, pw: PointwiseLayer) -> Case:
    """Depthwise -> ReLU -> pointwise -> ReLU: fused, against the two pyprune calls (the
    `unfused` variant) and against torch."""
    import torch
    import torch.nn.functional as F

    rng = _rng()
    c, k = dw.channels, dw.kernel
    x = rng.standard_normal((1, c, dw.size, dw.size), dtype=np.float32)
    dw_w = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    pw_w = rng.standard_normal((pw.out_channels, c, 1, 1), dtype=np.float32) * (1 / c**0.5)
    fused = kernels.PackedSeparableConv2d(dw_w, pw_w, stride=dw.stride, padding=dw.padding, dw_activation="relu")
    pointwise = kernels.PackedConv2d(pw_w)
    mid = np.empty((1, c, dw.output_size, dw.output_size), np.float32)
    out = np.empty((1, pw.out_channels, dw.output_size, dw.output_size), np.float32)
    tx, tdw, tpw = map(torch.from_numpy, (x, dw_w, pw_w))

    def unfused():
        kernels.depthwise_conv2d(x, dw_w, stride=dw.stride, padding=dw.padding, activation="relu", out=mid)
        return pointwise(mid, "relu", out)

    return Case(
        f"{dw} -> {pw.out_channels}",
        dw.macs + pw.macs,
        lambda: fused(x, "relu", out),
        lambda: F.relu(F.conv2d(F.relu(F.conv2d(tx, tdw, None, dw.stride, dw.padding, groups=c)), tpw)),
        {"unfused": unfused},
    )


def reference_model(name: str, pointwise_sparsity: float = 0.0, **kwargs: Any) -> Any:
    """The network `name` of pyprune.models (built with `kwargs`) in eval mode: seeded random
    weights, randomized BatchNorm statistics, its 1x1 convolutions pruned at random to
    `pointwise_sparsity`."""
    import torch

    from pyprune import models

    torch.manual_seed(0)
    model = getattr(models, name)(**kwargs).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2.0)
                m.running_mean.normal_(0, 0.1)
            if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and pointwise_sparsity:
                m.weight.copy_(torch.from_numpy(random_prune(m.weight.numpy(), pointwise_sparsity)))
    return model


def model_case(name: str, pointwise_sparsity: float = 0.0) -> Case:
    """A reference network (reference_model) in torch eager mode against its pyprune.convert
    copy, batch 1, 224x224."""
    import torch

    from pyprune.nn import convert
    from pyprune.stats import count

    model = reference_model(name, pointwise_sparsity)
    x = torch.randn(1, 3, 224, 224)
    fast = convert(model, x)
    macs = count(model, x).macs  # dense: every weight, as the layer cases count them

    def run(m):
        with torch.inference_mode():
            return m(x)

    label = name + (f" {pointwise_sparsity:.0%} sparse 1x1" if pointwise_sparsity else "")
    return Case(label, macs, lambda: run(fast), lambda: run(model), {})

