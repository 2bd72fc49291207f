"""Unstructured and block magnitude pruning with masks that persist through fine-tuning.

A masked layer's weight is a parametrization: weight = original * mask. Gradients of the
masked entries are therefore zero, and whatever an optimizer (momentum, weight decay) does to
the stored original, the weight the layer uses stays zero where the mask is. The original
Parameter object stays the one optimizers hold. `make_permanent` ends it: plain modules whose
pruned weights are exact zeros.

Blocks match pyprune's sparse kernels: `block` consecutive output channels at one input
position (input channel and kernel tap) are kept or zeroed together, scored by their L2 norm.

These functions change the model in place (pruning is followed by fine-tuning of that same
model); they check every argument before touching it, so a bad call leaves it unchanged.

    >>> prune_magnitude(model, 0.9, scope=Scope.GLOBAL, block=4)
    >>> train(model)                      # masked weights stay zero
    >>> make_permanent(model)
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.utils import parametrize

from pyprune import kernels
from pyprune.prune.errors import PruningError
from pyprune.prune.filters import ignored_names

__all__ = [
    "BLOCK_SIZES",
    "WeightMask",
    "Scope",
    "block_scores",
    "make_permanent",
    "mask_of",
    "maskable_layers",
    "prune_magnitude",
    "sparsity",
]

# The block sizes of the sparse kernels (pyprune.kernels.capabilities().sparse_blocks).
BLOCK_SIZES = kernels.capabilities().sparse_blocks


class Scope(enum.Enum):
    """LAYER: every layer reaches the target sparsity. GLOBAL: one magnitude threshold across
    all layers, so layers with many small weights lose more."""

    LAYER = "layer"
    GLOBAL = "global"


class WeightMask(nn.Module):
    """Parametrization: the weight times a fixed 0/1 mask (a buffer, saved with the model)."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask


def _is_depthwise(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) and module.groups > 1 and module.groups == module.in_channels


def maskable_layers(model: nn.Module, *, include_depthwise: bool = True,
                    ignore: Iterable[str | nn.Module] = ()) -> dict[str, nn.Module]:
    """The Conv2d and Linear layers magnitude pruning applies to, by qualified name."""
    ignored = ignored_names(model, ignore)
    return {name: m for name, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear)) and name not in ignored
            and (include_depthwise or not _is_depthwise(m))}


def mask_of(module: nn.Module) -> torch.Tensor | None:
    """The mask on a layer's weight, or None if it has none."""
    if not parametrize.is_parametrized(module, "weight"):
        return None
    masks = [p.mask for p in module.parametrizations.weight if isinstance(p, WeightMask)]
    return masks[0] if masks else None


def block_scores(weight: torch.Tensor, block: int) -> torch.Tensor:
    """L2 norm of each block of `block` consecutive output channels at one input position:
    shape (ceil(out / block), in * kh * kw). A last, shorter block is scored as it is."""
    rows = weight.detach().flatten(1).float()
    padding = (-rows.shape[0]) % block
    rows = torch.cat([rows, rows.new_zeros(padding, rows.shape[1])]) if padding else rows
    return rows.reshape(-1, block, rows.shape[1]).norm(dim=1)


def _expand(block_mask: torch.Tensor, weight: torch.Tensor, block: int) -> torch.Tensor:
    full = block_mask.repeat_interleave(block, dim=0)[: weight.shape[0]]
    return full.reshape(weight.shape).to(weight.dtype)


def _keep_largest(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """1 for the largest scores, 0 for the round(sparsity * n) smallest (exact count; ties by
    position)."""
    flat = scores.flatten()
    drop = round(sparsity * flat.numel())
    keep = torch.ones_like(flat)
    if drop:
        keep[torch.argsort(flat, stable=True)[:drop]] = 0
    return keep.reshape(scores.shape)


def _set_mask(module: nn.Module, mask: torch.Tensor) -> None:
    existing = mask_of(module)
    if existing is not None:
        existing.copy_(mask)
    else:
        parametrize.register_parametrization(module, "weight", WeightMask(mask))
    with torch.no_grad():  # the stored weights agree with the mask from the start
        module.parametrizations.weight.original.mul_(mask)


def prune_magnitude(
    model: nn.Module,
    sparsity: float,
    *,
    scope: Scope = Scope.LAYER,
    block: int = 1,
    include_depthwise: bool = True,
    ignore: Iterable[str | nn.Module] = (),
) -> dict[str, float]:
    """Mask the smallest-magnitude weights (or blocks) of `model`'s Conv2d and Linear layers,
    in place, so that `sparsity` of them are zero; returns each layer's resulting sparsity.

    Already masked weights score zero, so calling again with a higher target prunes further
    (schedules do this). `block` in BLOCK_SIZES: blocks of that many output channels.
    """
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity < 1:
        raise PruningError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    if block not in BLOCK_SIZES:
        raise PruningError(f"block must be one of {BLOCK_SIZES}, got {block!r}")
    if not isinstance(scope, Scope):
        raise PruningError(f"scope must be a Scope, got {scope!r}")
    layers = maskable_layers(model, include_depthwise=include_depthwise, ignore=ignore)
    if not layers:
        raise PruningError("the model has no Conv2d or Linear layer left to prune")
    scores = {name: block_scores(m.weight, block) for name, m in layers.items()}
    if scope is Scope.GLOBAL:
        everything = torch.cat([s.flatten() for s in scores.values()])
        keep_all = _keep_largest(everything, sparsity)
        keeps, start = {}, 0
        for name, s in scores.items():
            keeps[name] = keep_all[start: start + s.numel()].reshape(s.shape)
            start += s.numel()
    else:
        keeps = {name: _keep_largest(s, sparsity) for name, s in scores.items()}
    result = {}
    for name, m in layers.items():
        mask = _expand(keeps[name], m.weight, block)
        _set_mask(m, mask)
        result[name] = 1.0 - float(mask.mean())
    return result


def sparsity(model: nn.Module) -> float:
    """Fraction of zero weights over the Conv2d and Linear layers (masks applied)."""
    total = zeros = 0
    for m in maskable_layers(model).values():
        total += m.weight.numel()
        zeros += int((m.weight == 0).sum())
    return zeros / total if total else math.nan


def make_permanent(model: nn.Module) -> nn.Module:
    """Remove every mask of `model` (in place), leaving plain layers whose pruned weights are
    zeros; returns the model."""
    for m in model.modules():
        if mask_of(m) is not None:
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return model
