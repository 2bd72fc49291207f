"""Conv2d and PointwiseConv2d: inference modules on pyprune's GEMM kernels."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pyprune import kernels
from pyprune.activation import Activation
from pyprune.nn.convmodule import ConvModule, check_weight
from pyprune.nn.convspec import ConvSpec
from pyprune.nn.inputs import kernels_take
from pyprune.nn.packed import PackedModule

__all__ = ["Conv2d", "PointwiseConv2d"]


class Conv2d(PackedModule, ConvModule):
    """Dense or grouped square convolution with fused bias and activation; weights packed once
    for the GEMM kernel. For inference: weights are buffers; inputs needing a gradient, or not
    float32 on the CPU, go through torch with the same result."""

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        activation: Activation | str | None = None,
    ) -> None:
        check_weight(weight, "(Cout, Cin / groups, k, k)", type(self).__name__)
        super().__init__(weight, bias, stride, padding, groups, activation)
        self._keep_packed()

    def _pack(self) -> None:
        self._packed = kernels.PackedConv2d(self.weight, self.bias, self.stride, self.padding, self.groups)

    @classmethod
    def from_torch(cls, conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None, activation: Any = None) -> Conv2d:
        """From an nn.Conv2d (square kernel, symmetric zero padding, dilation 1), folding an
        optional following BatchNorm2d (running statistics) and fusing ReLU / ReLU6."""
        spec = ConvSpec.from_torch(conv, bn)
        return cls(spec.weight, spec.bias, spec.stride, spec.padding, spec.groups, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not kernels_take(x):
            return self.torch_forward(x)
        return self._packed(x, self.activation)

    def extra_repr(self) -> str:
        cout, cin_g, k, _ = self.weight.shape
        groups = "" if self.groups == 1 else f", groups={self.groups}"
        return (f"{cin_g * self.groups}, {cout}, kernel_size={k}, stride={self.stride}, padding={self.padding}"
                f"{groups}{self.activation_repr()}")


class PointwiseConv2d(Conv2d):
    """1x1 convolution (stride 1, no padding, groups 1): a GEMM straight on the input."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None, activation: Any = None) -> None:
        check_weight(weight, "(Cout, Cin, 1, 1)", "PointwiseConv2d")
        if tuple(weight.shape[2:]) != (1, 1):
            raise ValueError(f"weight must have shape (Cout, Cin, 1, 1), got {tuple(weight.shape)}")
        super().__init__(weight, bias, activation=activation)

    @classmethod
    def from_torch(cls, conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None, activation: Any = None) -> PointwiseConv2d:
        spec = ConvSpec.from_torch(conv, bn)
        if not spec.is_pointwise:
            raise ValueError(
                "conv must be pointwise (1x1, stride 1, padding 0, groups 1), got "
                f"kernel_size={conv.kernel_size}, stride={conv.stride}, padding={conv.padding}, groups={conv.groups}"
            )
        return cls(spec.weight, spec.bias, activation)
