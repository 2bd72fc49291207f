"""Structured filter pruning: remove whole output channels and fix every layer that
depends on them."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any, Union

import torch
from torch import nn

from pyprune.prune.errors import PruningError
from pyprune.prune.graph import ChannelGraph, PruningGroup, trace_channels
from pyprune.prune.importance import L1, Importance, as_importance, normalised
from pyprune.modes import evaluating
from pyprune.prune.plan import record_kept_channels

__all__ = ["Amount", "as_inputs", "check_amount", "ignored_names", "prune_filters"]

Amount = Union[float, Mapping[str, float]]


def as_inputs(example_inputs: Any) -> tuple:
    return example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)


def _check_fraction(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise PruningError(f"{what} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_amount(amount: Amount, model: nn.Module) -> float | dict[str, float]:
    """A fraction in [0, 1), or a {layer name: fraction} mapping naming layers of `model`."""
    if isinstance(amount, Mapping):
        names = dict(model.named_modules())
        for name in amount:
            if name not in names:
                raise PruningError(f"amount names layer {name!r}, which the model does not have")
        return {name: _check_fraction(a, f"amount for layer {name!r}") for name, a in amount.items()}
    return _check_fraction(amount, "amount")


def ignored_names(model: nn.Module, ignore: Iterable[str | nn.Module]) -> set[str]:
    """Qualified names of the layers in `ignore` (names or module objects of `model`)."""
    if isinstance(ignore, (str, nn.Module)):
        ignore = [ignore]
    by_object = {id(m): n for n, m in model.named_modules()}
    names = set(by_object.values())
    result = set()
    for item in ignore:
        name = by_object.get(id(item)) if isinstance(item, nn.Module) else item
        if name is None or name not in names:
            raise PruningError(f"ignore names layer {item if isinstance(item, str) else type(item).__name__!r}, "
                               "which the model does not have")
        result.add(name)
    return result


def _group_amounts(graph: ChannelGraph, groups: list[PruningGroup], amount: float | dict[str, float]) -> list[float]:
    if not isinstance(amount, dict):
        return [amount] * len(groups)
    group_of_root = {root: i for i, g in enumerate(groups) for root in g.unit_roots}
    amounts = [0.0] * len(groups)
    asked = [False] * len(groups)
    for name, a in amount.items():
        use = graph.layers.get(name)
        if use is None:
            raise PruningError(f"layer {name!r} has no channels pyprune can prune (not a registered layer type, or "
                               "not used by the model's forward)")
        found = {group_of_root[graph.find(e)] for e in use.out_ids.tolist() if graph.find(e) in group_of_root}
        prunable = [i for i in found if len(groups[i].blocked) < len(groups[i].units)]
        if not prunable:
            reasons = "; ".join(graph.layer_reasons(name)) or "no output channel can go"
            raise PruningError(f"layer {name!r} cannot be pruned: {reasons}")
        for i in prunable:
            # Coupled layers named with different amounts: the smallest wins, never over-pruning one.
            amounts[i] = min(amounts[i], a) if asked[i] else a
            asked[i] = True
    return amounts


def _layer_scores(criterion: Importance, graph: ChannelGraph, names: Iterable[str]) -> dict[str, torch.Tensor]:
    scores = {}
    for name in names:
        use = graph.layers[name]
        s = torch.as_tensor(criterion(use.module, name))
        if s.dim() != 1 or s.numel() != len(use.out_ids):
            raise PruningError(f"criterion {type(criterion).__name__} gave {tuple(s.shape)} scores for layer {name!r}, "
                               f"which has {len(use.out_ids)} output channels")
        if not bool(torch.isfinite(s).all()):
            raise PruningError(f"criterion {type(criterion).__name__} gave non-finite scores for layer {name!r}")
        scores[name] = normalised(s)
    return scores


def _units_to_remove(group: PruningGroup, amount: float, scores: dict[str, torch.Tensor], round_to: int) -> list[int]:
    """Roots of the lowest-scoring units, `amount` of the group's units (kept count rounded up
    to a multiple of round_to), sparing each layer's best unit so no layer loses every channel."""
    n = len(group.units)
    kept = n - math.floor(amount * n + 1e-9)
    kept = min(n, math.ceil(kept / round_to) * round_to)
    unit_scores = [sum(float(scores[layer][pos]) for layer, pos in unit) for unit in group.units]
    protected = {max((i for i, unit in enumerate(group.units) if any(l == layer for l, _ in unit)),
                     key=unit_scores.__getitem__) for layer in group.layers}
    candidates = sorted((i for i in range(n) if i not in group.blocked and i not in protected),
                        key=lambda i: (unit_scores[i], i))
    return [group.unit_roots[i] for i in candidates[: n - kept]]


def _cut(model: nn.Module, graph: ChannelGraph, removed: set[int]) -> None:
    """Slice every traced layer to the channels whose units survive, recording the plan."""
    for use in graph.layers.values():
        keep_out = [i for i, e in enumerate(use.out_ids.tolist()) if graph.find(e) not in removed]
        keep_in = [i for i, e in enumerate(use.in_ids.tolist()) if graph.find(e) not in removed]
        out_cut = keep_out if len(keep_out) < len(use.out_ids) else None
        in_cut = keep_in if len(keep_in) < len(use.in_ids) and not use.follows_input else None
        if out_cut is None and in_cut is None:
            continue
        out_size, in_size = use.pruner.out_channels(use.module), use.pruner.in_channels(use.module)
        use.pruner.prune(use.module, out_cut, in_cut)
        record_kept_channels(model, use.name, out_cut, out_size, in_cut, in_size)


def _shapes(value: Any) -> list[Any]:
    if isinstance(value, torch.Tensor):
        return [tuple(value.shape)]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in _shapes(v)]
    if isinstance(value, dict):
        return [s for k in sorted(value) for s in _shapes(value[k])]
    return []


def _verify(original: nn.Module, pruned: nn.Module, inputs: tuple) -> None:
    with torch.no_grad(), evaluating(original), evaluating(pruned):
        want = _shapes(original(*inputs))
        try:
            got = _shapes(pruned(*inputs))
        except Exception as e:
            raise PruningError(f"the pruned model fails on the example inputs ({e}): an operation in its forward "
                               "depends on channel counts in a way pruning does not follow; ignore the layers "
                               "around it") from e
    if got != want:
        raise PruningError(f"the pruned model's outputs have shapes {got}, the original's {want}")


def prune_filters(
    model: nn.Module,
    example_inputs: Any,
    amount: Amount = 0.5,
    *,
    criterion: Importance | Any = None,
    ignore: Iterable[str | nn.Module] = (),
    round_to: int = 1,
) -> nn.Module:
    """A copy of `model` with `amount` of the output channels of its layers physically
    removed (the model itself is never modified).

    The model is traced with torch.fx and run once on `example_inputs` to find which channels
    depend on each other: a convolution's filters, its BatchNorm, depthwise convolutions
    after it, the next layers' inputs, residual additions (coupled layers lose the same
    channels, scored jointly), concatenations, channel shuffles, and the linear head after
    flatten. `amount` is a fraction in [0, 1) of every group of coupled channels, or
    {layer name: fraction} for chosen layers (coupled layers named with different fractions
    get the smallest). `criterion` scores the filters (default L1). `ignore` lists layers
    (names or modules) whose shapes must not change. The kept channel count of each group is
    rounded up to a multiple of `round_to`. Every layer keeps at least one channel.
    Channels that reach the model's input or output, or pass through a layer pyprune does not
    know, are left alone. channel_plan(result) tells which channels were kept.

    >>> small = prune_filters(MobileNetV1(num_classes=10), torch.randn(1, 3, 224, 224), 0.5)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
        raise PruningError(f"round_to must be a positive integer, got {round_to!r}")
    inputs = as_inputs(example_inputs)
    amounts = check_amount(amount, model)
    ignored = ignored_names(model, ignore)
    importance = as_importance(criterion if criterion is not None else L1())

    pruned = copy.deepcopy(model)
    graph = trace_channels(pruned, inputs)
    for name in ignored & set(graph.layers):
        use = graph.layers[name]
        graph.block(list(use.in_ids) + list(use.out_ids), f"its channels belong to ignored layer {name!r}")
    groups = graph.groups()
    group_amounts = _group_amounts(graph, groups, amounts)
    active = [(g, a) for g, a in zip(groups, group_amounts) if a > 0 and len(g.blocked) < len(g.units)]
    if not active:
        return pruned
    layers = {name: graph.layers[name].module for g, _ in active for name in g.layers}
    with evaluating(pruned):
        importance.prepare(pruned, layers)
    scores = _layer_scores(importance, graph, layers)
    removed = {root for g, a in active for root in _units_to_remove(g, a, scores, round_to)}
    _cut(pruned, graph, removed)
    _verify(model, pruned, inputs)
    return pruned
