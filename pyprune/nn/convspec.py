"""What pyprune's modules need to know of a torch convolution, checked once."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pyprune.nn.fold import fold_batchnorm

__all__ = ["ConvSpec"]


@dataclass(frozen=True)
class ConvSpec:
    """A square, symmetric-padded, zero-padded, undilated nn.Conv2d, with an optional
    BatchNorm2d folded into its weight and bias."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    kernel_size: int
    stride: int
    padding: int
    groups: int

    @classmethod
    def from_torch(cls, conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None) -> ConvSpec:
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
        (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
        if kh != kw or sh != sw or (dh, dw) != (1, 1):
            raise ValueError(
                f"conv must have a square kernel, equal strides and dilation 1, got "
                f"kernel_size={conv.kernel_size}, stride={conv.stride}, dilation={conv.dilation}"
            )
        if isinstance(conv.padding, str) or conv.padding[0] != conv.padding[1]:
            raise ValueError(f"conv must have symmetric numeric padding, got padding={conv.padding!r}")
        if conv.padding_mode != "zeros":
            raise ValueError(f"conv must pad with zeros, got padding_mode={conv.padding_mode!r}")
        weight, bias = conv.weight, conv.bias
        if bn is not None:
            weight, bias = fold_batchnorm(weight, bias, bn)
        return cls(
            weight.detach().float().contiguous(),
            None if bias is None else bias.detach().float().contiguous(),
            kh,
            sh,
            conv.padding[0],
            conv.groups,
        )

    @property
    def is_depthwise(self) -> bool:
        return self.groups == self.weight.shape[0] and self.weight.shape[1] == 1

    @property
    def is_pointwise(self) -> bool:
        return self.kernel_size == 1 and self.stride == 1 and self.padding == 0 and self.groups == 1
