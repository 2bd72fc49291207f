"""DepthwiseConv2d: an inference module on pyprune's depthwise kernels."""

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

__all__ = ["DepthwiseConv2d"]


class DepthwiseConv2d(PackedModule, ConvModule):
    """Depthwise convolution (the kernel sizes, strides and paddings of
    pyprune.kernels.capabilities().depthwise), fused bias and activation.

    For inference: weights are buffers, not parameters. Inputs that need a gradient, or that
    the kernels do not take (not float32, not on the CPU), go through torch instead, with the
    same result.
    """

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
        stride: int = 1,
        padding: int = 0,
        activation: Activation | str | None = None,
    ) -> None:
        check_weight(weight, "(C, 1, k, k)", "DepthwiseConv2d")
        super().__init__(weight, bias, stride, padding, weight.shape[0], activation)
        self._keep_packed()  # the kernels check what they take

    def _pack(self) -> None:
        self._packed = kernels.PackedDepthwiseConv2d(self.weight, self.bias, self.stride, self.padding)

    @classmethod
    def from_torch(
        cls,
        conv: nn.Conv2d,
        bn: nn.BatchNorm2d | None = None,
        activation: Any = None,
    ) -> DepthwiseConv2d:
        """From a depthwise nn.Conv2d (groups == in_channels == out_channels), folding an
        optional following BatchNorm2d (its running statistics) and fusing ReLU / ReLU6."""
        spec = ConvSpec.from_torch(conv, bn)
        if not (spec.is_depthwise and conv.in_channels == conv.out_channels):
            raise ValueError(
                "conv must be depthwise (groups == in_channels == out_channels), got "
                f"groups={conv.groups}, in_channels={conv.in_channels}, out_channels={conv.out_channels}"
            )
        return cls(spec.weight, spec.bias, stride=spec.stride, padding=spec.padding, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not kernels_take(x):
            return self.torch_forward(x)
        return self._packed(x, self.activation)

    def extra_repr(self) -> str:
        c, _, k, _ = self.weight.shape
        return f"{c}, kernel_size={k}, stride={self.stride}, padding={self.padding}{self.activation_repr()}"
