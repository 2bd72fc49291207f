"""Layers whose weights stay Huffman-coded in memory (pack.load(..., keep_compressed=True)), for
boards with little RAM: each decodes its weight into one scratch buffer, shared by all of them,
just before it runs. Resident weight memory is the coded streams (and each code's decoding
tables, built once) plus the largest layer."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pyprune import kernels
from pyprune.nn.convspec import ConvSpec
from pyprune.nn.inputs import kernels_take
from pyprune.nn.kernel_choice import DenseKernel, dense_kernel

__all__ = ["CompressedConv2d", "CompressedLinear", "Scratch"]


class Scratch:
    """One float32 buffer, grown to the largest weight that asks for it."""

    def __init__(self) -> None:
        self.buffer = np.empty(0, np.float32)

    def reserve(self, size: int) -> None:
        if size > self.buffer.size:
            self.buffer = np.empty(size, np.float32)

    @property
    def nbytes(self) -> int:
        return self.buffer.nbytes


class _Compressed(nn.Module):
    def __init__(self, shape: tuple[int, ...], weights: kernels.SharedWeights, bias: torch.Tensor | None,
                 scratch: Scratch) -> None:
        super().__init__()
        self.shape, self.scratch, self._weights = shape, scratch, weights
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        scratch.reserve(weights.size)

    @property
    def coded_bytes(self) -> int:
        return self._weights.coded_bytes

    def weight(self) -> torch.Tensor:
        """The decoded weight, valid until the next layer decodes into the scratch buffer."""
        return torch.from_numpy(self._weights.decode(self.scratch.buffer[: self._weights.size])).view(self.shape)


class CompressedConv2d(_Compressed):
    """nn.Conv2d with a Huffman-coded weight (zero padding mode); with fast=True on pyprune's
    dense kernel for it (the choice convert makes), where one takes it."""

    def __init__(self, conv: nn.Conv2d, weights: kernels.SharedWeights, scratch: Scratch, fast: bool) -> None:
        super().__init__(tuple(conv.weight.shape), weights, conv.bias, scratch)
        self.stride, self.padding, self.dilation, self.groups = conv.stride, conv.padding, conv.dilation, conv.groups
        self.kernel = self._kernel(conv) if fast else None

    @staticmethod
    def _kernel(conv: nn.Conv2d) -> DenseKernel | None:
        try:
            return dense_kernel(ConvSpec.from_torch(conv))
        except ValueError:  # no pyprune kernel takes it: torch runs it
            return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight()
        if self.kernel is not None and kernels_take(x):
            stride, padding = self.stride[0], self.padding[0]
            if self.kernel is DenseKernel.DEPTHWISE:
                return kernels.depthwise_conv2d(x, w, self.bias, stride, padding)
            return kernels.conv2d(x, w, self.bias, stride, padding, self.groups)
        return F.conv2d(x, w.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype),
                        self.stride, self.padding, self.dilation, self.groups)


class CompressedLinear(_Compressed):
    """nn.Linear with a Huffman-coded weight."""

    def __init__(self, linear: nn.Linear, weights: kernels.SharedWeights, scratch: Scratch, fast: bool) -> None:
        super().__init__(tuple(linear.weight.shape), weights, linear.bias, scratch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight().to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))
