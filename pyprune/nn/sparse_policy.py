"""SparsePolicy: when pyprune.convert tries a convolution on the sparse kernels."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import torch

from pyprune import kernels
from pyprune.nn.convspec import ConvSpec

__all__ = ["SparsePolicy"]


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


def _rule() -> kernels.SparseRule:
    return kernels.capabilities().sparse_rule


@dataclass(frozen=True)
class SparsePolicy:
    """The rule convert() follows to try the sparse kernels for a convolution (it then times
    them against the dense kernels and torch, and keeps the fastest).

    A convolution (groups 1) is tried sparse when its *effective density* — the weights the
    sparse kernel would multiply in the best block size, times that block size's relative cost
    per weight — is at most the threshold of its kind. The defaults are the kernels' own rule
    (``kernels.capabilities().sparse_rule``, which the engine follows where nothing decided):
    crossovers measured on an x86-64 AVX2 core, 1 thread, batch 1 (``pyprune bench --suite
    sparse``): 1x1 stride-1 below about 42 % density on the 13 MobileNetV1 pointwise layers,
    KxK below about 45 %; block costs per stored weight relative to single rows measured on
    90 % block-pruned pointwise layers. A KxK convolution of at most `few_outputs` output
    channels is tried whatever its density, dense weights too (a model's last layer to a few
    channels, a heatmap head): the sparse kernels read its input where it is, where the GEMM
    gathers an im2col row per tap for a tile it fills with few rows (the measurements are the
    rule's; the engine's "auto" leaves calls Winograd runs to it, convert times both).

    `layers` forces a choice by layer name: True = sparse (the fastest block), False = dense.

    Example::

        policy = SparsePolicy(pointwise_max_density=0.3, layers={"features.0.0": False})
        fast = pyprune.convert(model, x, sparse=policy)
    """

    pointwise_max_density: float = field(default_factory=lambda: _rule().pointwise_max_density)
    conv_max_density: float = field(default_factory=lambda: _rule().conv_max_density)
    few_outputs: int = field(default_factory=lambda: _rule().few_outputs)
    block_cost: Mapping[int, float] = field(default_factory=lambda: _rule().block_costs)
    layers: Mapping[str, bool] = field(default_factory=lambda: _frozen({}))

    def __post_init__(self) -> None:
        for name in ("pointwise_max_density", "conv_max_density"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if not isinstance(self.few_outputs, int) or self.few_outputs < 0:
            raise ValueError(f"few_outputs must be an int >= 0, got {self.few_outputs!r}")
        blocks = kernels.capabilities().sparse_blocks
        if not self.block_cost or any(b not in blocks or c <= 0 for b, c in self.block_cost.items()):
            raise ValueError(f"block_cost must map blocks of {blocks} to positive costs, got {dict(self.block_cost)}")
        object.__setattr__(self, "block_cost", _frozen(self.block_cost))
        object.__setattr__(self, "layers", _frozen(self.layers))

    def best_block(self, weight: torch.Tensor) -> tuple[int, float]:
        """(block, effective density) of the cheapest block size for this weight."""
        return kernels.cheapest_block(weight, self.block_cost)

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
        few_outputs = spec.kernel_size > 1 and spec.weight.shape[0] <= self.few_outputs
        return block if density <= limit or few_outputs else None
