"""SeparableConv2d: depthwise -> activation -> pointwise -> activation, fused in one kernel."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pyprune import kernels
from pyprune.activation import Activation
from pyprune.nn.conv import PointwiseConv2d
from pyprune.nn.depthwise import DepthwiseConv2d
from pyprune.nn.inputs import kernels_take
from pyprune.nn.packed import PackedModule

__all__ = ["SeparableConv2d"]


class SeparableConv2d(PackedModule):
    """A depthwise convolution and the 1x1 convolution after it, computed strip by
    strip so the depthwise result never leaves the cache. Inputs the kernels do not take run
    the two halves through torch."""

    def __init__(self, depthwise: DepthwiseConv2d, pointwise: PointwiseConv2d) -> None:
        super().__init__()
        if not isinstance(depthwise, DepthwiseConv2d) or not isinstance(pointwise, PointwiseConv2d):
            raise TypeError("SeparableConv2d takes a pyprune DepthwiseConv2d and a pyprune PointwiseConv2d")
        if pointwise.weight.shape[1] != depthwise.weight.shape[0]:
            raise ValueError(
                f"pointwise takes {pointwise.weight.shape[1]} channels but depthwise gives {depthwise.weight.shape[0]}"
            )
        self.depthwise, self.pointwise = depthwise, pointwise
        self._keep_packed()

    def _pack(self) -> None:
        dw, pw = self.depthwise, self.pointwise
        self._packed = kernels.PackedSeparableConv2d(dw.weight, pw.weight, dw.bias, pw.bias, dw.stride, dw.padding,
                                                     dw.activation)

    @classmethod
    def from_torch(
        cls,
        dw_conv: nn.Conv2d,
        pw_conv: nn.Conv2d,
        dw_bn: nn.BatchNorm2d | None = None,
        pw_bn: nn.BatchNorm2d | None = None,
        dw_activation: Any = None,
        activation: Any = None,
    ) -> SeparableConv2d:
        return cls(
            DepthwiseConv2d.from_torch(dw_conv, dw_bn, dw_activation),
            PointwiseConv2d.from_torch(pw_conv, pw_bn, activation),
        )

    @property
    def activation(self) -> Activation:
        return self.pointwise.activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not kernels_take(x):
            return self.pointwise(self.depthwise(x))
        return self._packed(x, self.pointwise.activation)
