"""SparseConv2d: a pruned convolution that multiplies only its non-zero weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from pyprune import kernels
from pyprune.activation import Activation
from pyprune.nn.convmodule import ConvModule, check_weight
from pyprune.nn.convspec import ConvSpec
from pyprune.nn.inputs import kernels_take
from pyprune.nn.packed import PackedModule

__all__ = ["SparseConv2d"]


class SparseConv2d(PackedModule, ConvModule):
    """Square convolution (groups 1) with sparse weights, fused bias and activation, on the
    SpMM kernels: the zeros of the weight are dropped once, output channels grouped in blocks
    of `block` (pyprune.kernels.capabilities().sparse_blocks; larger blocks run faster when
    whole blocks are zero, as after block pruning). Only stored weights are multiplied, so an
    inf or NaN input reaching an output only through zero weights leaves it finite. For inference: inputs needing a gradient, or not float32 on the CPU, go
    through torch with the same result.

    Example::

        sparse = pyprune.nn.SparseConv2d.from_torch(pruned_conv, bn, activation="relu")
        y = sparse(x)
    """

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
        stride: int = 1,
        padding: int = 0,
        activation: Activation | str | None = None,
        block: int = 1,
    ) -> None:
        blocks = kernels.capabilities().sparse_blocks
        if block not in blocks:
            raise ValueError(f"block must be one of {blocks}, got {block!r}")
        check_weight(weight, "(Cout, Cin, k, k)", "SparseConv2d")
        # The dense weight stays a buffer (state_dict, torch path); the kernels use its sparse
        # form, built by _pack.
        super().__init__(weight, bias, stride, padding, 1, activation)
        self.block = block
        self._keep_packed()

    def _pack(self) -> None:
        self._packed = kernels.PackedSparseConv2d(self.weight, self.bias, self.stride, self.padding, self.block)

    @classmethod
    def from_torch(
        cls, conv: nn.Conv2d, bn: nn.BatchNorm2d | None = None, activation: Any = None, block: int = 1
    ) -> SparseConv2d:
        """From a (pruned) nn.Conv2d with groups 1, square kernel, symmetric zero padding and
        dilation 1, folding an optional following BatchNorm2d and fusing ReLU / ReLU6."""
        spec = ConvSpec.from_torch(conv, bn)
        if spec.groups != 1:
            raise ValueError(f"conv must have groups=1 for a sparse convolution, got groups={spec.groups}")
        return cls(spec.weight, spec.bias, spec.stride, spec.padding, activation, block)

    @property
    def density(self) -> float:
        """Fraction of the weights the kernels multiply (zeros inside stored blocks count)."""
        return self._packed.stored_values / self.weight.numel()

    def sparse_arrays(self) -> dict[str, np.ndarray]:
        """The sparse format the kernels stream: `values` (per block, its biases then one value
        per row for each stored column), `deltas` (column index steps between stored columns),
        `counts` (stored columns per block)."""
        return self._packed.arrays()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not kernels_take(x):
            return self.torch_forward(x)
        return self._packed(x, self.activation)

    def extra_repr(self) -> str:
        cout, cin, k, _ = self.weight.shape
        return (
            f"{cin}, {cout}, kernel_size={k}, stride={self.stride}, padding={self.padding}, "
            f"block={self.block}, density={self.density:.3f}{self.activation_repr()}"
        )
