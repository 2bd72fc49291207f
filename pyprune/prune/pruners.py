"""Per-module-type pruners: how a layer's channels relate and how to cut them.

Each registered module type has one small pruner. It tells the dependency tracer whether the
layer starts a new channel space (a convolution's or linear layer's outputs) or carries its
input's channels through (BatchNorm, depthwise convolution), how many channel groups it
splits its input and output into, and how to keep only some channels. Users add their own
layer types with `register_pruner`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pyprune.prune.errors import PruningError
from pyprune.prune.weight_norm import is_weight_normalised, set_weight

__all__ = [
    "BatchNormPruner",
    "ConvPruner",
    "ConvTransposePruner",
    "DepthwiseConvPruner",
    "LinearPruner",
    "ModulePruner",
    "pruner_for",
    "register_pruner",
    "slice_parameter",
]


def slice_parameter(module: nn.Module, name: str, dim: int, keep: Sequence[int]) -> None:
    """Keep only indices `keep` of dimension `dim` of the module's tensor `name` (a parameter
    stays a parameter, a weight-normalised weight stays weight-normalised)."""
    tensor = getattr(module, name, None)
    if tensor is None:
        return
    index = torch.as_tensor(list(keep), dtype=torch.long, device=tensor.device)
    with torch.no_grad():
        kept = tensor.detach().index_select(dim, index).clone()
    if is_weight_normalised(module, name):
        set_weight(module, name, kept)
    elif isinstance(tensor, nn.Parameter):
        setattr(module, name, nn.Parameter(kept, requires_grad=tensor.requires_grad))
    else:
        setattr(module, name, kept)


def _check_range(module: nn.Module, keep: Sequence[int], size: int, what: str) -> None:
    if not keep:
        raise PruningError(f"{type(module).__name__}: pruning would remove every {what} channel")
    if not all(type(k) is int for k in keep):  # also from plans read from files: no floats, no bools
        raise PruningError(f"{type(module).__name__}: kept {what} channels must be integers, got {list(keep)[:8]}")
    if len(set(keep)) != len(keep) or min(keep) < 0 or max(keep) >= size:
        raise PruningError(f"{type(module).__name__}: kept {what} channels {list(keep)[:8]}... are not distinct "
                           f"indices below {size}")


class ModulePruner:
    """How one layer type relates to channels. `follows_input`: output channel i is input
    channel i (BatchNorm, depthwise); otherwise the layer consumes its input channels and
    produces a new channel space. Channel groups: with g groups, channels at the same
    position of every group must be kept or removed together."""

    follows_input = False

    def in_channels(self, module: nn.Module) -> int:
        raise NotImplementedError

    def out_channels(self, module: nn.Module) -> int:
        raise NotImplementedError

    def groups(self, module: nn.Module) -> int:
        return 1

    def channel_dim_of_input(self, module: nn.Module) -> int:
        """Which dimension of the layer's input holds its channels."""
        return 1

    def filters(self, module: nn.Module) -> torch.Tensor:
        """The weight with one slice per output channel along dim 0 (what criteria score)."""
        return module.weight

    def prune(self, module: nn.Module, keep_out: Sequence[int] | None, keep_in: Sequence[int] | None) -> None:
        """Keep only output channels `keep_out` and input channels `keep_in` (positions in the
        current layer; None keeps all). A follower takes only keep_out."""
        raise NotImplementedError

    def specialise(self, module: nn.Module) -> ModulePruner:
        """The pruner for this particular instance (e.g. a depthwise Conv2d)."""
        return self


class ConvPruner(ModulePruner):
    """nn.Conv1d, nn.Conv2d and nn.Conv3d, grouped or not: output channels are filters (weight
    dim 0), input channels weight dim 1 within each group."""

    def in_channels(self, module: nn.Conv2d) -> int:
        return module.in_channels

    def out_channels(self, module: nn.Conv2d) -> int:
        return module.out_channels

    def groups(self, module: nn.Conv2d) -> int:
        return module.groups

    def specialise(self, module: nn.Module) -> ModulePruner:
        if module.groups > 1 and module.groups == module.in_channels == module.out_channels:
            return DEPTHWISE_CONV
        return self

    def prune(self, module: nn.Conv2d, keep_out: Sequence[int] | None, keep_in: Sequence[int] | None) -> None:
        g = module.groups
        if g > 1 and g == module.in_channels:  # depthwise with a channel multiplier: whole groups go
            self._prune_depthwise(module, keep_out, keep_in)
            return
        if keep_out is not None:
            _check_range(module, keep_out, module.out_channels, "output")
            _check_equal_per_group(module, keep_out, module.out_channels, g, "output")
            slice_parameter(module, "weight", 0, keep_out)
            slice_parameter(module, "bias", 0, keep_out)
            module.out_channels = len(keep_out)
        if keep_in is not None:
            _check_range(module, keep_in, module.in_channels, "input")
            in_group = _check_equal_per_group(module, keep_in, module.in_channels, g, "input")
            slice_parameter(module, "weight", 1, in_group)
            module.in_channels = len(keep_in)


    @staticmethod
    def _prune_depthwise(module: nn.Conv2d, keep_out: Sequence[int] | None, keep_in: Sequence[int] | None) -> None:
        if keep_out is not None:
            _check_range(module, keep_out, module.out_channels, "output")
            slice_parameter(module, "weight", 0, keep_out)
            slice_parameter(module, "bias", 0, keep_out)
            module.out_channels = len(keep_out)
        if keep_in is not None:
            _check_range(module, keep_in, module.in_channels, "input")
            module.in_channels = module.groups = len(keep_in)


def _check_equal_per_group(module: nn.Module, keep: Sequence[int], size: int, groups: int, what: str) -> list[int]:
    """The kept positions within a group, which must be the same in every group."""
    per_group = size // groups
    positions = [sorted(k - g * per_group for k in keep if g * per_group <= k < (g + 1) * per_group)
                 for g in range(groups)]
    if any(p != positions[0] for p in positions):
        raise PruningError(f"{type(module).__name__} with {groups} groups: kept {what} channels differ between "
                           "groups")
    return positions[0]


class DepthwiseConvPruner(ConvPruner):
    """Depthwise nn.Conv2d (groups == in == out channels): channel i in is channel i out."""

    follows_input = True

    def groups(self, module: nn.Conv2d) -> int:
        return 1  # channel i depends on input channel i only: no coupling between channels

    def prune(self, module: nn.Conv2d, keep_out: Sequence[int] | None, keep_in: Sequence[int] | None) -> None:
        if keep_out is None:
            return
        _check_range(module, keep_out, module.out_channels, "output")
        slice_parameter(module, "weight", 0, keep_out)
        slice_parameter(module, "bias", 0, keep_out)
        module.in_channels = module.out_channels = module.groups = len(keep_out)


class BatchNormPruner(ModulePruner):
    """nn.BatchNorm1d/2d/3d and nn.InstanceNorm1d/2d/3d: one feature per channel (each
    normalised on its own), carried through."""

    follows_input = True

    def in_channels(self, module: nn.modules.batchnorm._BatchNorm) -> int:
        return module.num_features

    out_channels = in_channels

    def prune(self, module: nn.modules.batchnorm._BatchNorm, keep_out: Sequence[int] | None,
              keep_in: Sequence[int] | None) -> None:
        if keep_out is None:
            return
        _check_range(module, keep_out, module.num_features, "output")
        for name in ("weight", "bias", "running_mean", "running_var"):
            slice_parameter(module, name, 0, keep_out)
        module.num_features = len(keep_out)


class LinearPruner(ModulePruner):
    """nn.Linear: input features are weight dim 1, output features weight dim 0."""

    def in_channels(self, module: nn.Linear) -> int:
        return module.in_features

    def out_channels(self, module: nn.Linear) -> int:
        return module.out_features

    def channel_dim_of_input(self, module: nn.Module) -> int:
        return -1

    def prune(self, module: nn.Linear, keep_out: Sequence[int] | None, keep_in: Sequence[int] | None) -> None:
        if keep_out is not None:
            _check_range(module, keep_out, module.out_features, "output")
            slice_parameter(module, "weight", 0, keep_out)
            slice_parameter(module, "bias", 0, keep_out)
            module.out_features = len(keep_out)
        if keep_in is not None:
            _check_range(module, keep_in, module.in_features, "input")
            slice_parameter(module, "weight", 1, keep_in)
            module.in_features = len(keep_in)


class ConvTransposePruner(ModulePruner):
    """nn.ConvTranspose1d, 2d and 3d: the weight is (in, out / groups, ...kernel), so input
    channels are weight dim 0 and output channels weight dim 1 within each group. A depthwise one (groups == in ==
    out, a learned per-channel upsampling) carries its input's channels through."""

    def in_channels(self, module: nn.ConvTranspose2d) -> int:
        return module.in_channels

    def out_channels(self, module: nn.ConvTranspose2d) -> int:
        return module.out_channels

    def filters(self, module: nn.ConvTranspose2d) -> torch.Tensor:
        return module.weight.unflatten(0, (module.groups, -1)).transpose(1, 2).flatten(0, 1)

    def specialise(self, module: nn.Module) -> ModulePruner:
        if module.groups > 1 and module.groups == module.in_channels == module.out_channels:
            return DEPTHWISE_CONV  # its weight (channels, 1, kh, kw) is a depthwise convolution's
        return self

    def prune(self, module: nn.ConvTranspose2d, keep_out: Sequence[int] | None,
              keep_in: Sequence[int] | None) -> None:
        g = module.groups
        if keep_out is not None:
            _check_range(module, keep_out, module.out_channels, "output")
            if g < module.in_channels:  # with one input channel per group, whole groups go
                slice_parameter(module, "weight", 1, _check_equal_per_group(module, keep_out, module.out_channels, g,
                                                                            "output"))
            slice_parameter(module, "bias", 0, keep_out)
            module.out_channels = len(keep_out)
        if keep_in is not None:
            _check_range(module, keep_in, module.in_channels, "input")
            if g < module.in_channels:
                _check_equal_per_group(module, keep_in, module.in_channels, g, "input")
            else:
                module.groups = len(keep_in)
            slice_parameter(module, "weight", 0, keep_in)
            module.in_channels = len(keep_in)


DEPTHWISE_CONV = DepthwiseConvPruner()

_REGISTRY: dict[type, ModulePruner] = {
    nn.Conv1d: ConvPruner(),
    nn.Conv2d: ConvPruner(),
    nn.Conv3d: ConvPruner(),
    nn.ConvTranspose1d: ConvTransposePruner(),
    nn.ConvTranspose2d: ConvTransposePruner(),
    nn.ConvTranspose3d: ConvTransposePruner(),
    nn.BatchNorm1d: BatchNormPruner(),
    nn.BatchNorm2d: BatchNormPruner(),
    nn.BatchNorm3d: BatchNormPruner(),
    nn.modules.instancenorm._InstanceNorm: BatchNormPruner(),
    nn.Linear: LinearPruner(),
}


def register_pruner(module_type: type, pruner: ModulePruner) -> None:
    """Teach structured pruning a layer type (subclasses of `module_type` included)."""
    if not (isinstance(module_type, type) and issubclass(module_type, nn.Module)):
        raise TypeError(f"module_type must be an nn.Module subclass, got {module_type!r}")
    if not isinstance(pruner, ModulePruner):
        raise TypeError(f"pruner must be a ModulePruner, got {type(pruner).__name__}")
    _REGISTRY[module_type] = pruner


def pruner_for(module: nn.Module) -> ModulePruner | None:
    """The pruner of `module`'s type (or nearest registered base type); None if unknown."""
    for cls in type(module).__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls].specialise(module)
    return None
