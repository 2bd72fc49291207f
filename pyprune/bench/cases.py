"""Benchmark cases: for one layer or model, the pyprune call and the torch call on the same
inputs, checked to agree before anything is timed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pyprune import kernels
from pyprune.bench.layers import DepthwiseLayer, PointwiseLayer

__all__ = ["Case", "depthwise_case", "model_case", "pointwise_case", "separable_case"]


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

    from pyprune import _core

    rng = _rng()
    x = rng.standard_normal((1, layer.in_channels, layer.size, layer.size), dtype=np.float32)
    w = rng.standard_normal((layer.out_channels, layer.in_channels, 1, 1), dtype=np.float32) * (1 / layer.in_channels**0.5)
    b = rng.standard_normal(layer.out_channels, dtype=np.float32)
    packed = _core.Conv2d(w, b)  # packed once, as a module does
    out = np.empty((1, layer.out_channels, layer.size, layer.size), np.float32)
    tx, tw, tb = map(torch.from_numpy, (x, w, b))
    inf = float("inf")
    return Case(str(layer), layer.macs, lambda: packed.forward(x, -inf, inf, out), lambda: F.conv2d(tx, tw, tb), {})


def separable_case(dw: DepthwiseLayer, pw: PointwiseLayer) -> Case:
    """Depthwise -> ReLU -> pointwise -> ReLU: fused, against the two pyprune calls (the
    `unfused` variant) and against torch."""
    import torch
    import torch.nn.functional as F

    from pyprune import _core

    rng = _rng()
    c, k = dw.channels, dw.kernel
    x = rng.standard_normal((1, c, dw.size, dw.size), dtype=np.float32)
    dw_w = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    pw_w = rng.standard_normal((pw.out_channels, c, 1, 1), dtype=np.float32) * (1 / c**0.5)
    inf = float("inf")
    fused = _core.SeparableConv2d(dw_w, None, dw.stride, dw.padding, 0.0, inf, pw_w, None)
    pointwise = _core.Conv2d(pw_w)
    mid = np.empty((1, c, dw.output_size, dw.output_size), np.float32)
    out = np.empty((1, pw.out_channels, dw.output_size, dw.output_size), np.float32)
    tx, tdw, tpw = map(torch.from_numpy, (x, dw_w, pw_w))

    def unfused():
        kernels.depthwise_conv2d(x, dw_w, stride=dw.stride, padding=dw.padding, activation="relu", out=mid)
        return pointwise.forward(mid, 0.0, inf, out)

    return Case(
        f"{dw} -> {pw.out_channels}",
        dw.macs + pw.macs,
        lambda: fused.forward(x, 0.0, inf, out),
        lambda: F.relu(F.conv2d(F.relu(F.conv2d(tx, tdw, None, dw.stride, dw.padding, groups=c)), tpw)),
        {"unfused": unfused},
    )


def model_case(name: str) -> Case:
    """A reference network (random weights, randomized BatchNorm statistics) in torch eager
    mode against its pyprune.convert copy, batch 1, 224x224."""
    import torch

    from pyprune import models
    from pyprune.nn import convert

    torch.manual_seed(0)
    model = getattr(models, name)().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2.0)
                m.running_mean.normal_(0, 0.1)
    x = torch.randn(1, 3, 224, 224)
    fast = convert(model, x)
    macs = _count_macs(model, x)

    def run(m):
        with torch.inference_mode():
            return m(x)

    return Case(name, macs, lambda: run(fast), lambda: run(model), {})


def _count_macs(model, x) -> int:
    import torch

    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            cout, cin_g, kh, kw = module.weight.shape
            total += output.numel() // output.shape[0] * cin_g * kh * kw
        elif isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.inference_mode():
        model(x)
    for h in handles:
        h.remove()
    return total
