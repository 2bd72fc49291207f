"""SparsePolicy: when pyprune.convert tries a convolution on the sparse kernels."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import torch

from pyprune import kernels
from pyprune.nn.convspec import ConvSpec

__all__ = ["SparsePolicy", "stored_weights"]


def stored_weights(weight: torch.Tensor, block: int) -> int:
    """Weights the sparse kernels multiply for `weight` (Cout, ...) in blocks of `block`
    output channels: a block stores a column where any of its rows is non-zero."""
    w = weight.reshape(weight.shape[0], -1) != 0
    full = w.shape[0] // block * block if block > 1 else 0
    blocked = w[:full].reshape(-1, block, w.shape[1]).any(dim=1).sum().item() * block if full else 0
    return int(blocked + w[full:].sum().item())


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


# Cost per stored weight relative to single rows, measured on 90 % block-pruned pointwise layers
# (see SparsePolicy); a block size without a measurement counts as single rows.
_MEASURED_BLOCK_COST = {1: 1.0, 2: 0.8, 4: 0.68, 8: 0.9}


def _default_block_cost() -> Mapping[int, float]:
    return _frozen({b: _MEASURED_BLOCK_COST.get(b, 1.0) for b in kernels.capabilities().sparse_blocks})


@dataclass(frozen=True)
class SparsePolicy:
    """The rule convert() follows to try the sparse kernels for a convolution (it then times
    them against the dense kernels and torch, and keeps the fastest).

    A convolution (groups 1) is tried sparse when its *effective density* — the weights the
    sparse kernel would multiply in the best block size, times that block size's relative cost
    per weight — is at most the threshold of its kind. Defaults are the crossovers measured on
    an x86-64 AVX2 core, 1 thread, batch 1 (``pyprune bench --suite sparse``):

    - 1x1 stride-1: sparse beats the dense GEMM below about 42 % density on the 13 MobileNetV1
      pointwise layers (50 %: 0.85x, 60 %: 1.09x, 70 %: 1.59x, 90 %: 4.5x the dense speed);
    - KxK: sparse beats the im2col GEMM below about 45 % density at stride 2, at any density
      at stride 1 (the phase-split input replaces im2col);
    - block costs per stored weight, relative to single rows (90 % block-pruned pointwise
      layers): blocks of 2 0.8, of 4 0.68, of 8 0.9 (its 8-pixel tile loads more per FMA).

    `layers` forces a choice by layer name: True = sparse (the fastest block), False = dense.

    Example::

        policy = SparsePolicy(pointwise_max_density=0.3, layers={"features.0.0": False})
        fast = pyprune.convert(model, x, sparse=policy)
    """

    pointwise_max_density: float = 0.40
    conv_max_density: float = 0.45
    block_cost: Mapping[int, float] = field(default_factory=_default_block_cost)
    layers: Mapping[str, bool] = field(default_factory=lambda: _frozen({}))

    def __post_init__(self) -> None:
        for name in ("pointwise_max_density", "conv_max_density"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        blocks = kernels.capabilities().sparse_blocks
        if not self.block_cost or any(b not in blocks or c <= 0 for b, c in self.block_cost.items()):
            raise ValueError(f"block_cost must map blocks of {blocks} to positive costs, got {dict(self.block_cost)}")
        object.__setattr__(self, "block_cost", _frozen(self.block_cost))
        object.__setattr__(self, "layers", _frozen(self.layers))

    def best_block(self, weight: torch.Tensor) -> tuple[int, float]:
        """(block, effective density) of the cheapest block size for this weight."""
        total = weight.numel()
        costs = {b: stored_weights(weight, b) * c / total for b, c in self.block_cost.items()}
        block = min(costs, key=lambda b: (costs[b], b))
        return block, costs[block]

    def choose(self, name: str, spec: ConvSpec) -> int | None:
        """The block size to run this convolution sparse with, or None for dense."""
        if spec.groups != 1 or kernels.capabilities().conv2d_rejects(spec.kernel_size, spec.stride, spec.padding):
            return None
        forced = self.layers.get(name)
        if forced is False:
            return None
        block, density = self.best_block(spec.weight)
        if forced:
            return block
        limit = self.pointwise_max_density if spec.is_pointwise else self.conv_max_density
        return block if density <= limit else None
