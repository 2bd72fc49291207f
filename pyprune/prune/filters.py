"""Structured filter pruning: remove whole output channels and fix every layer that
depends on them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Union

import numpy as np
import torch
from torch import nn

from pyprune.prune.errors import PruningError
from pyprune.prune.graph import INPUT, OUTPUT, ChannelGraph, PruningGroup, trace_channels
from pyprune.prune.importance import L1, Importance, as_importance
from pyprune.prune.report import BlockedGroup, LayerChange, PruningReport, attach
from pyprune.prune.target import Costs, Target, allocate
from pyprune.modes import copy_model, evaluating
from pyprune.prune.plan import record_attribute, record_kept_channels, record_parameter_cut
from pyprune.prune.pruners import slice_parameter

__all__ = ["Amount", "PrunableModel", "as_inputs", "check_amount", "ignored_names", "prune_filters"]

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
            blocked = {why for i in found for why in groups[i].blocked.values()}  # its own channels' reasons first
            reasons = "; ".join(sorted(blocked) or graph.layer_reasons(name)) or "no output channel can go"
            raise PruningError(f"layer {name!r} cannot be pruned: {reasons}")
        for i in prunable:
            # Coupled layers named with different amounts: the smallest wins, never over-pruning one.
            amounts[i] = min(amounts[i], a) if asked[i] else a
            asked[i] = True
    return amounts


def _units_to_remove(group: PruningGroup, amount: float, scores: torch.Tensor, round_to: int) -> list[int]:
    """Roots of the lowest-scoring units, `amount` of the group's units that may go (kept count
    rounded up to a multiple of round_to), sparing each layer's best unit so no layer loses
    every channel. Blocked units are not counted: a group half of whose units are blocked
    (zeros padded onto a shortcut) would otherwise lose twice the amount of the others."""
    n = len(group.units)
    kept = n - math.floor(amount * (n - len(group.blocked)) + 1e-9)
    kept = min(n, math.ceil(kept / round_to) * round_to)
    return [group.unit_roots[i] for i in _candidates(group, scores)[: n - kept]]


def _candidates(group: PruningGroup, scores: torch.Tensor) -> list[int]:
    """The units that may go, least important first: neither blocked nor a layer's best."""
    protected = _protected(group, scores)
    return sorted((i for i in range(len(group.units)) if i not in group.blocked and i not in protected),
                  key=lambda i: (float(scores[i]), i))


def _protected(group: PruningGroup, scores: torch.Tensor) -> set[int]:
    """Each layer's best unit, and the best of the units each layer reads where neither one of
    those nor a blocked one is among them: no layer loses every output or input channel."""
    def best(units: list[int]) -> int:
        return max(units, key=lambda i: float(scores[i]))

    protected = {best([i for i, unit in enumerate(group.units) if any(l == layer for l, _ in unit)])
                 for layer in group.layers}
    for units in group.inputs:
        if protected.isdisjoint(units) and not any(i in group.blocked for i in units):
            protected.add(best(units))
    return protected


def _to_target(costs: Costs, groups: list[PruningGroup], scores: list[torch.Tensor]) -> set[int]:
    units = [[(group.unit_roots[i], float(s[i])) for i in _candidates(group, s)] for group, s in zip(groups, scores)]
    return allocate(costs, units, [len(g.units) for g in groups])


def _cut(model: nn.Module, graph: ChannelGraph, removed: set[int]) -> None:
    """Slice every traced layer of `model` (a copy of the model traced), and every other
    parameter the channels meet, to the channels whose units survive; rewrite the attributes
    that follow them; record the plan."""
    def kept(ids: np.ndarray) -> list[int]:
        return [i for i, root in enumerate(graph.roots(ids).tolist()) if root not in removed]

    for use in graph.layers.values():
        keep_out, keep_in = kept(use.out_ids), kept(use.in_ids)
        out_cut = keep_out if len(keep_out) < len(use.out_ids) else None
        in_cut = keep_in if len(keep_in) < len(use.in_ids) and not use.follows_input else None
        if out_cut is None and in_cut is None:
            continue
        module = model.get_submodule(use.name)
        out_size, in_size = use.pruner.out_channels(module), use.pruner.in_channels(module)
        use.pruner.prune(module, out_cut, in_cut)
        record_kept_channels(model, use.name, out_cut, out_size, in_cut, in_size)
    for name, dims in graph.params.items():
        owner, _, attribute = name.rpartition(".")
        if owner in graph.layers:
            continue  # its pruner cut it
        module = model.get_submodule(owner)
        old_shape = tuple(getattr(module, attribute).shape)
        for dim, ids in sorted(dims.items()):
            keep = kept(ids)
            if len(keep) < len(ids):
                slice_parameter(module, attribute, dim, keep)
                record_parameter_cut(model, owner, attribute, dim, keep, len(ids))
        new_shape = tuple(getattr(module, attribute).shape)
        if new_shape != old_shape:  # shape attributes (a LayerNorm's normalized_shape) follow
            for key, value in list(vars(module).items()):
                if isinstance(value, tuple) and value == old_shape:
                    setattr(module, key, new_shape)
                    record_attribute(model, owner, key, new_shape)
    for bound in graph.bounds:
        value = len(kept(bound.ids))
        if value != len(bound.ids):
            value = -value if bound.negative else value
            module = model.get_submodule(bound.module)
            if bound.index is not None:  # one entry of a list of sizes
                held = getattr(module, bound.attribute)
                value = type(held)(value if i == bound.index else v for i, v in enumerate(held))
            setattr(module, bound.attribute, value)
            record_attribute(model, bound.module, bound.attribute, value)


def _shapes(value: Any) -> list[Any]:
    if isinstance(value, torch.Tensor):
        return [tuple(value.shape)]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in _shapes(v)]
    if isinstance(value, dict):
        return [s for k in sorted(value) for s in _shapes(value[k])]
    return []


def _failure(original: nn.Module, pruned: nn.Module, inputs: tuple) -> str | None:
    """Why the pruned model does not run like the original on the example inputs, or None."""
    with torch.no_grad(), evaluating(original), evaluating(pruned):
        want = _shapes(original(*inputs))
        try:
            got = _shapes(pruned(*inputs))
        except Exception as e:
            return f"{type(e).__name__}: {e}"
    return None if got == want else f"the outputs have shapes {got}, the original's {want}"


def _report(graph: ChannelGraph, groups: list[PruningGroup], removed: set[int], requested: str) -> PruningReport:
    changes, total, gone = [], 0, 0
    fixed = {root for root, reason in graph.blocked_roots().items() if reason in (OUTPUT, INPUT)}
    for use in graph.layers.values():
        out_roots = graph.roots(use.out_ids).tolist()
        out_after = sum(root not in removed for root in out_roots)
        in_after = out_after if use.follows_input else sum(graph.find(e) not in removed for e in use.in_ids.tolist())
        changes.append(LayerChange(use.name, type(use.module).__name__, len(use.out_ids), out_after, len(use.in_ids),
                                   in_after))
        if not use.follows_input:  # the model's own outputs are not counted: they never go
            total += sum(root not in fixed for root in out_roots)
            gone += sum(root in removed for root in out_roots)
    blocked = [BlockedGroup(g.layers, len(g.units), len(g.blocked), dict(Counter(g.blocked.values())))
               for g in groups if g.blocked]
    blocked += [BlockedGroup([layer], n, n, {reason: n}) for layer, (n, reason) in graph.left_whole.items()]
    return PruningReport(requested, gone / total if total else 0.0, changes, blocked)


def _requested(amount: float | dict[str, float], target: Target | None) -> str:
    if target is not None:
        return f"target: keep at most {target}"
    if isinstance(amount, dict):
        return "amounts " + ", ".join(f"{name} {a:.0%}" for name, a in amount.items())
    return f"amount {amount:.0%} of every group of coupled channels"


def _check_request(amount: Amount, model: nn.Module, round_to: int, target: Target | None) -> float | dict[str, float]:
    if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
        raise PruningError(f"round_to must be a positive integer, got {round_to!r}")
    if target is not None and not isinstance(target, Target):
        raise PruningError(f"target must be a Target (Target.macs, Target.params, Target.latency), got {target!r}")
    if target is not None and round_to != 1:
        raise PruningError("round_to applies to amounts; a target chooses every group's size itself")
    return check_amount(amount, model)


class PrunableModel:
    """A model captured once for filter pruning, pruned as often as asked (sensitivity
    analysis prunes one layer at a time at many ratios): its channel graph, and the scores
    of its channels, are found once; every prune() returns a new pruned copy and the model
    itself is never modified. See prune_filters for the arguments."""

    def __init__(self, model: nn.Module, example_inputs: Any, *, criterion: Importance | Any = None,
                 ignore: Iterable[str | nn.Module] = ()) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        self.model = model
        self.inputs = as_inputs(example_inputs)
        ignored = ignored_names(model, ignore)
        self.importance = as_importance(criterion if criterion is not None else L1())
        self._captured = copy_model(model)  # traced and scored, never cut
        self.graph = trace_channels(self._captured, self.inputs)
        for name in ignored:
            self.graph.block_module(name, f"its channels belong to ignored layer {name!r}")
        self.groups = self.graph.groups()
        self._scores: dict[int, torch.Tensor] = {}  # id of a group of self.groups -> its units' scores
        self._prepared = False

    def prunable_groups(self) -> list[PruningGroup]:
        """The groups with at least one unit that can go."""
        return [g for g in self.groups if len(g.blocked) < len(g.units)]

    def _unit_scores(self, groups: list[PruningGroup]) -> list[torch.Tensor]:
        """The scores of the groups' units, computed on first demand (a group's do not depend
        on the other groups asked for)."""
        missing = [g for g in groups if id(g) not in self._scores]
        if missing:
            if not self._prepared:  # data-based criteria run the model once, on every layer
                layers = {name: use.module for name, use in self.graph.layers.items()}
                with evaluating(self._captured):
                    self.importance.prepare(self._captured, layers)
                self._prepared = True
            for g, s in zip(missing, self.importance.score_units(self._captured, self.graph, missing)):
                self._scores[id(g)] = s
        return [self._scores[id(g)] for g in groups]

    def prune(self, amount: Amount = 0.5, *, round_to: int = 1, target: Target | None = None) -> nn.Module:
        amounts = _check_request(amount, self.model, round_to, target)
        graph, groups = self.graph, self.groups
        if target is None:
            group_amounts = _group_amounts(graph, groups, amounts)
            active = [(g, a) for g, a in zip(groups, group_amounts) if a > 0 and len(g.blocked) < len(g.units)]
        else:
            active = [(g, 1.0) for g in self.prunable_groups()]
        costs = Costs(self._captured, graph, target) if target is not None else None
        removed: set[int] = set()
        if active:
            scores = self._unit_scores([g for g, _ in active])
            if costs is None:
                removed = {root for (g, a), s in zip(active, scores) for root in _units_to_remove(g, a, s, round_to)}
            else:
                removed = _to_target(costs, [g for g, _ in active], scores)
        report = _report(graph, groups, removed, _requested(amounts, target))
        if costs is not None:
            report.target_kept = costs.cost(removed) / costs.total if costs.total else 1.0
            if report.target_kept > target.keep * 1.05:
                report.warning = (f"asked to keep at most {target}, kept {report.target_kept:.1%}: the other channels "
                                  "are blocked or are each layer's last (see pruning_report(model))")
        elif isinstance(amounts, float) and amounts > 0 and report.reached < 0.9 * amounts:
            blocked = sum(n for b in report.blocked for reason, n in b.reasons.items() if reason not in (INPUT, OUTPUT))
            if blocked:
                report.warning = (f"asked to remove {amounts:.0%} of the channels, removed {report.reached:.1%}: "
                                  f"{blocked} units are blocked (see pruning_report(model))")
        pruned = copy_model(self.model)
        if removed:
            _cut(pruned, graph, removed)
            why = _failure(self.model, pruned, self.inputs)
            if why is not None:
                # Code that depends on a channel count pruning cannot see (x.view(-1, 160) with
                # the count written out): the groups whose cut breaks the forward stay whole.
                self._block_breaking([g for g, _ in active if removed.intersection(g.unit_roots)], removed, why)
                return self.prune(amount, round_to=round_to, target=target)
        attach(pruned, report)
        return pruned

    def _block_breaking(self, groups: list[PruningGroup], removed: set[int], why: str) -> None:
        """Block every unit of the groups among `groups` whose cut alone breaks the forward,
        found by bisection; all of `groups` (their cuts together failing for `why`) when only
        their cuts together do."""
        def failure(part: list[PruningGroup]) -> str | None:
            pruned = copy_model(self.model)
            _cut(pruned, self.graph, removed.intersection(root for g in part for root in g.unit_roots))
            return _failure(self.model, pruned, self.inputs)

        def breaking(part: list[PruningGroup], why: str) -> list[tuple[PruningGroup, str]]:
            if len(part) == 1:
                return [(part[0], why)]
            found = []
            for half in (part[:len(part) // 2], part[len(part) // 2:]):
                reason = failure(half)
                if reason is not None:
                    found += breaking(half, reason)
            return found or [(g, why) for g in part]

        for group, reason in breaking(groups, why):
            for i in range(len(group.units)):
                group.blocked.setdefault(i, f"removing them breaks the forward ({reason}): it depends on their count "
                                            "in a way pruning does not follow")


def prune_filters(
    model: nn.Module,
    example_inputs: Any,
    amount: Amount = 0.5,
    *,
    criterion: Importance | Any = None,
    ignore: Iterable[str | nn.Module] = (),
    round_to: int = 1,
    target: Target | None = None,
) -> nn.Module:
    """A copy of `model` with `amount` of the output channels of its layers physically
    removed (the model itself is never modified).

    The model is captured with torch.export (as convert captures it) and run once on
    `example_inputs` to find which channels depend on each other (pyprune.prune.graph): a
    convolution's filters, its BatchNorm, depthwise convolutions after it, the next layers'
    inputs, residual additions and squeeze-excitation products (coupled layers lose the same
    channels, scored jointly), concatenations, splits, slices (bounds counted from the front
    or the end), indexing, channel shuffles, permutes to channels-last, layer norms, group
    norms (a group's channels go together, so the groups kept are normalised as before),
    parameters scaling channels, transposed convolutions (grouped and depthwise too), gated
    linear units, zero channels padded to a shortcut, and the linear head after flatten.
    `amount` is a fraction in [0, 1) of every group of coupled channels, or {layer name:
    fraction} for chosen layers (coupled layers named with different fractions get the
    smallest). `target` (a Target) replaces `amount` with a budget of MACs, parameters or
    latency, every group keeping the same fraction of its channels (allocation "uniform",
    the default) or the channels of least importance per unit of cost going first across
    the model (allocation "global"; see pyprune.prune.target). `criterion` scores the
    channels (default L1 over every weight of a coupled group). `ignore` lists layers (names
    or modules) whose shapes must not change. The kept channel count of each group is
    rounded up to a multiple of `round_to`. Every layer keeps at least one channel. Channels
    that reach the model's input or output, or pass through an operator pruning does not
    understand, are left alone, and so are those whose removal breaks the forward on the
    example inputs (a channel count written out in the code: x.view(-1, 320)).
    pruning_report(result) says what changed and what was left whole and why (a
    PruningWarning says when the request was not reached); channel_plan(result) tells which
    channels were kept.

    >>> small = prune_filters(MobileNetV1(num_classes=10), torch.randn(1, 3, 224, 224), 0.5)
    >>> print(pruning_report(small))
    >>> fast = prune_filters(model, x, target=Target.macs(0.4))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    _check_request(amount, model, round_to, target)  # before the capture, which takes a while
    return PrunableModel(model, example_inputs, criterion=criterion, ignore=ignore).prune(
        amount, round_to=round_to, target=target)
