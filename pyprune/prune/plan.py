"""A pruned architecture as plain data: which channels of the original model each layer kept.

The plan is JSON (no pickle), so a pruned model can be rebuilt from the original model's
class plus the plan, and then loaded with the pruned weights:

    >>> pruned = prune_filters(MobileNetV1(num_classes=10), x, amount=0.5)
    >>> text = json.dumps(channel_plan(pruned))
    >>> rebuilt = apply_channel_plan(MobileNetV1(num_classes=10), json.loads(text))
    >>> rebuilt.load_state_dict(pruned.state_dict())
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from pyprune.modes import copy_model
from pyprune.prune.errors import PruningError
from pyprune.prune.pruners import pruner_for, slice_parameter

__all__ = ["PLAN_FORMAT", "PLAN_VERSION", "apply_channel_plan", "channel_plan", "record_attribute", "record_kept_channels",
           "record_parameter_cut"]

PLAN_FORMAT = "pyprune.channel_plan"
PLAN_VERSION = 1
# Where a pruned model keeps its plan: an ordinary attribute, so it survives deepcopy.
_ATTRIBUTE = "_pyprune_channel_plan"


def _empty_plan() -> dict[str, Any]:
    return {"format": PLAN_FORMAT, "version": PLAN_VERSION, "layers": {}}


def channel_plan(model: nn.Module) -> dict[str, Any]:
    """The channels of the original model each pruned layer kept, as JSON-ready data:
    {"format", "version", "layers": {name: {"type", "out": {"size", "kept"}, "in": {...}}}},
    sizes and indices relative to the original (unpruned) layer. Modules without a registered
    pruner list the cut parameters instead ("params": {attribute: {dim: {"size", "kept"}}}),
    and the int or shape attributes that follow them ("attributes": {name: value}). An
    unpruned model has no layers in its plan."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return copy.deepcopy(getattr(model, _ATTRIBUTE, None) or _empty_plan())


def record_kept_channels(model: nn.Module, layer: str, keep_out: Sequence[int] | None, out_size: int,
                         keep_in: Sequence[int] | None, in_size: int) -> None:
    """Add one layer's cut (positions in its current shape) to the model's plan, composing
    with earlier cuts so that the plan stays relative to the original model."""
    plan = getattr(model, _ATTRIBUTE, None) or _empty_plan()
    entry = plan["layers"].setdefault(layer, {"type": type(model.get_submodule(layer)).__name__})
    for side, keep, size in (("out", keep_out, out_size), ("in", keep_in, in_size)):
        if keep is None:
            continue
        previous = entry.get(side, {"size": size, "kept": list(range(size))})
        entry[side] = {"size": previous["size"], "kept": [previous["kept"][i] for i in keep]}
    setattr(model, _ATTRIBUTE, plan)


def _entry(model: nn.Module, layer: str) -> dict[str, Any]:
    plan = getattr(model, _ATTRIBUTE, None) or _empty_plan()
    setattr(model, _ATTRIBUTE, plan)
    return plan["layers"].setdefault(layer, {"type": type(model.get_submodule(layer)).__name__})


def record_parameter_cut(model: nn.Module, layer: str, attribute: str, dim: int, keep: Sequence[int], size: int) -> None:
    """Add the cut of one dimension of a parameter without a registered pruner to the plan."""
    cuts = _entry(model, layer).setdefault("params", {}).setdefault(attribute, {})
    previous = cuts.get(str(dim), {"size": size, "kept": list(range(size))})
    cuts[str(dim)] = {"size": previous["size"], "kept": [previous["kept"][i] for i in keep]}


def record_attribute(model: nn.Module, layer: str, attribute: str, value: Any) -> None:
    """Add a module attribute set by pruning (a slice bound, a shape) to the plan."""
    _entry(model, layer).setdefault("attributes", {})[attribute] = list(value) if isinstance(value, tuple) else value


def _check_plan(plan: Any) -> dict[str, Any]:
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise PruningError(f"not a channel plan (expected format {PLAN_FORMAT!r})")
    if plan.get("version") != PLAN_VERSION:
        raise PruningError(f"channel plan version {plan.get('version')!r} is not supported (expected {PLAN_VERSION})")
    if not isinstance(plan.get("layers"), dict):
        raise PruningError("channel plan has no 'layers' mapping")
    return plan["layers"]


def apply_channel_plan(model: nn.Module, plan: dict[str, Any]) -> nn.Module:
    """A copy of `model` (freshly built, unpruned, left untouched) cut to the plan's channels.
    Its weights are the kept slices of `model`'s; load the pruned model's state_dict into it."""
    layers = _check_plan(plan)
    if getattr(model, _ATTRIBUTE, None):
        raise PruningError("apply_channel_plan needs the original, unpruned model; this one is already pruned")
    result = copy_model(model)
    for name, entry in layers.items():
        try:
            module = result.get_submodule(name)
        except AttributeError:
            raise PruningError(f"channel plan names layer {name!r}, which the model does not have") from None
        if type(module).__name__ != entry.get("type"):
            raise PruningError(f"channel plan says layer {name!r} is a {entry.get('type')}, the model's is a "
                               f"{type(module).__name__}")
        _apply_parameter_cuts(module, name, entry)
        if "out" not in entry and "in" not in entry:
            continue
        pruner = pruner_for(module)
        if pruner is None:
            raise PruningError(f"layer {name!r} ({type(module).__name__}) has no registered pruner")
        sizes = {"out": pruner.out_channels(module), "in": pruner.in_channels(module)}
        for side, size in sizes.items():
            if side in entry and entry[side]["size"] != size:
                raise PruningError(f"channel plan has {entry[side]['size']} {side}put channels for layer {name!r}, "
                                   f"the model {size}: is it the same architecture?")
        keep = {side: entry[side]["kept"] if side in entry else None for side in sizes}
        pruner.prune(module, keep["out"], keep["in"])
    setattr(result, _ATTRIBUTE, copy.deepcopy(plan))
    return result


def _apply_parameter_cuts(module: nn.Module, name: str, entry: dict[str, Any]) -> None:
    for attribute, cuts in entry.get("params", {}).items():
        tensor = getattr(module, attribute, None)
        if not isinstance(tensor, torch.Tensor):
            raise PruningError(f"channel plan cuts {name}.{attribute}, which is not a tensor of the model")
        for dim, cut in cuts.items():
            if int(dim) >= tensor.dim() or tensor.shape[int(dim)] != cut["size"]:
                raise PruningError(f"channel plan cuts dimension {dim} of {name}.{attribute} from {cut['size']}, the "
                                   f"model's has shape {tuple(tensor.shape)}: is it the same architecture?")
            slice_parameter(module, attribute, int(dim), cut["kept"])
    for attribute, value in entry.get("attributes", {}).items():
        held = getattr(module, attribute, None)
        shape = isinstance(held, (tuple, list))
        sizes = held if shape else [held]
        if not sizes or not all(type(v) is int for v in sizes) or shape != isinstance(value, list):
            raise PruningError(f"channel plan sets {name}.{attribute}, which is not a size attribute of the model "
                               f"of the plan's kind (it holds {held!r})")
        setattr(module, attribute, type(held)(value) if isinstance(value, list) else value)
