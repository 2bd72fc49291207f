"""Pruning to a budget: keep at most a fraction of the model's MACs, parameters or latency.

prune_filters(model, x, target=Target.macs(0.5)) removes units (coupled channels) until the
cost is within the budget; the target's `allocation` decides where the cuts fall:

- "uniform" (the default): every group of coupled channels keeps the same fraction k of its
  units, its least important going first, k the largest fraction within the budget (found by
  bisection; the units the last step would remove are then kept back, one by one, while the
  budget allows). The budget sets how deep the cut is, not where it falls. A latency target
  tilts the fractions where time goes beyond what the MACs say: a group whose time per MAC
  is t times the model's keeps k ** t of its units.
- "global" (as NetAdapt and HALP allocate): the units of the whole model ranked against each
  other, least importance per unit of cost first: a unit's score (normalised per group, so
  that groups compare) over the square root of what removing it saves (the square root: cost
  matters, but not so much that every cut lands on the layers with the largest feature
  maps), the savings recomputed as units go.

"uniform" is the default because it keeps more accuracy at equal MACs: pruned to the MACs
Torch-Pruning keeps at ratio 0.5 and fine-tuned alike (benchmarks/bench_prune.py --zoo), it
kept Torch-Pruning's widths and accuracy on MobileNetV3, EfficientNet and ResNet-18, while
"global", which cuts the narrow early layers (the largest feature maps) to their floor, lost
5.9, 0.5 and 0.3 points (one seed; a second on MobileNetV3 agreed for uniform).

In both, no group keeps less than sqrt(keep) / 2 of its units (half the width a uniform cut
would keep), so that no layer collapses to a few channels.

Costs come from the channel graph: each convolution or linear layer costs
out x (in / groups) x uses MACs (uses: output positions times the kernel area, per example,
the formula of pyprune.stats.count); parameters are counted on every parameter the channels
meet. Latency comes from a per-layer cost table (layer name -> time of the unpruned layer,
measured on the board), each layer's time scaling with its MACs: a JSON file or dict

    {"format": "pyprune.layer_costs", "unit": "ms", "layers": {"features.0.0": 0.121, ...}}

(or a plain {layer: time} mapping). Without a table, a built-in model of the kernels stands in:
a dense MAC costs 1, a depthwise MAC 4 (those kernels are bound by memory), and each output
element written and read back 2.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from pyprune.prune.errors import PruningError
from pyprune.prune.graph import ChannelGraph, LayerUse
from pyprune.prune.weight_norm import named_weights

__all__ = ["Costs", "Target", "load_cost_table"]

TABLE_FORMAT = "pyprune.layer_costs"
_DEPTHWISE_MAC = 4.0  # built-in latency model: relative cost of a depthwise MAC
_ACTIVATION = 2.0  # and of writing and reading back one output element
ALLOCATIONS = ("uniform", "global")
DEFAULT_ALLOCATION = "uniform"  # measured: see the module's documentation


@dataclass(frozen=True)
class Target:
    """Keep at most `keep` (a fraction in (0, 1]) of the model's `metric`: "macs", "params"
    or "latency" (per-layer times in `table`, else the built-in model of the kernels), the
    cuts placed by `allocation`: "uniform" (the same fraction of every group) or "global"
    (the least importance per unit of cost across the model)."""

    metric: str
    keep: float
    table: Mapping[str, float] | None = None
    allocation: str = DEFAULT_ALLOCATION

    def __post_init__(self) -> None:
        if self.metric not in ("macs", "params", "latency"):
            raise PruningError(f"target metric must be 'macs', 'params' or 'latency', got {self.metric!r}")
        if self.allocation not in ALLOCATIONS:
            raise PruningError(f"target allocation must be 'uniform' or 'global', got {self.allocation!r}")
        if isinstance(self.keep, bool) or not isinstance(self.keep, (int, float)) or not 0 < self.keep <= 1:
            raise PruningError(f"target keep must be a fraction in (0, 1], got {self.keep!r}")
        if self.table is not None and self.metric != "latency":
            raise PruningError("a cost table only serves a latency target")

    @classmethod
    def macs(cls, keep: float, allocation: str = DEFAULT_ALLOCATION) -> Target:
        return cls("macs", keep, allocation=allocation)

    @classmethod
    def params(cls, keep: float, allocation: str = DEFAULT_ALLOCATION) -> Target:
        return cls("params", keep, allocation=allocation)

    @classmethod
    def latency(cls, keep: float, table: Mapping[str, float] | str | Path | None = None,
                allocation: str = DEFAULT_ALLOCATION) -> Target:
        """`table`: per-layer times (a mapping, or the path of a JSON cost table)."""
        return cls("latency", keep, load_cost_table(table) if isinstance(table, (str, Path)) else table, allocation)

    def __str__(self) -> str:
        return f"{self.keep:.0%} of the {'MACs' if self.metric == 'macs' else self.metric}"


def load_cost_table(path: str | Path) -> dict[str, float]:
    """A per-layer cost table from JSON (see the module's documentation)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise PruningError(f"cannot read cost table {str(path)!r}: {e}") from e
    if isinstance(data, dict) and data.get("format") == TABLE_FORMAT:
        data = data.get("layers")
    if not isinstance(data, dict) or not all(isinstance(v, (int, float)) and v >= 0 for v in data.values()):
        raise PruningError(f"cost table {str(path)!r} is not a mapping of layer names to non-negative times")
    return {str(k): float(v) for k, v in data.items()}


class Costs:
    """The cost of the model with some units removed, and each unit's marginal saving."""

    def __init__(self, model: nn.Module, graph: ChannelGraph, target: Target) -> None:
        self.model = model
        self.graph = graph
        self.target = target
        self.layers = [use for use in graph.layers.values() if use.uses > 0]
        self.roots = {use.name: (graph.roots(use.out_ids), graph.roots(use.in_ids)) for use in self.layers}
        self.size = len(graph.parent)
        table = target.table
        if table is not None:
            unknown = sorted(set(table) - set(graph.layers))
            if unknown:
                raise PruningError(f"cost table names layers the model does not run: {unknown[:5]}")
        full = {use.name: self._macs(use, len(use.out_ids), len(use.in_ids)) for use in self.layers}
        # Latency per MAC of each layer: measured (table) or modelled.
        self.weight = {use.name: (table.get(use.name, 0.0) / full[use.name] if table is not None and full[use.name]
                                  else _DEPTHWISE_MAC if use.depthwise else 1.0) for use in self.layers}
        weights = named_weights(model)
        self.params = {name: (dims, tuple(weights[name].shape)) for name, dims in graph.params.items() if name in weights}
        self.param_roots = {name: {d: graph.roots(ids) for d, ids in dims.items()} for name, (dims, _) in self.params.items()}
        self.fixed_params = sum(p.numel() for p in model.parameters()) - sum(
            math.prod(shape) for _, shape in self.params.values())
        self.total = self.cost(set())

    @staticmethod
    def _macs(use: LayerUse, out: int, inputs: int) -> float:
        if use.depthwise:
            return out * use.uses
        groups = getattr(use.module, "groups", 1) if not use.follows_input else 1
        return out * inputs / groups * use.uses

    def _mask(self, removed: set[int]) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        if removed:
            mask[list(removed)] = True
        return mask

    def cost(self, removed: set[int]) -> float:
        gone = self._mask(removed)
        if self.target.metric == "params":
            total = float(self.fixed_params)
            for name, (dims, shape) in self.params.items():
                kept = [int((~gone[self.param_roots[name][d]]).sum()) if d in dims else s for d, s in enumerate(shape)]
                total += math.prod(kept)
            return total
        total = 0.0
        for use in self.layers:
            out_roots, in_roots = self.roots[use.name]
            out, inputs = int((~gone[out_roots]).sum()), int((~gone[in_roots]).sum())
            macs = self._macs(use, out, inputs)
            if self.target.metric == "macs":
                total += macs
            elif self.target.table is not None:
                total += macs * self.weight[use.name]
            else:
                total += macs * self.weight[use.name] + _ACTIVATION * out * use.uses / max(1, _kernel_area(use))
        return total

    def savings(self, removed: set[int], candidates: list[int]) -> np.ndarray:
        """How much the cost drops when each candidate unit (a root) goes alone."""
        base = self.cost(removed)
        return np.array([base - self.cost(removed | {root}) for root in candidates]) if len(candidates) <= 64 \
            else self._linear_savings(removed, candidates)

    def _linear_savings(self, removed: set[int], candidates: list[int]) -> np.ndarray:
        """The same by a first-order estimate, for many candidates at once."""
        gone = self._mask(removed)
        index = {root: i for i, root in enumerate(candidates)}
        saving = np.zeros(len(candidates))

        def add(roots: np.ndarray, amount: float) -> None:
            for root in roots[~gone[roots]].tolist():
                i = index.get(root)
                if i is not None:
                    saving[i] += amount

        if self.target.metric == "params":
            for name, (dims, shape) in self.params.items():
                kept = [int((~gone[self.param_roots[name][d]]).sum()) if d in dims else s for d, s in enumerate(shape)]
                for d in dims:
                    add(self.param_roots[name][d], math.prod(kept) / max(1, kept[d]))
            return saving
        for use in self.layers:
            out_roots, in_roots = self.roots[use.name]
            out, inputs = int((~gone[out_roots]).sum()), int((~gone[in_roots]).sum())
            weight = 1.0 if self.target.metric == "macs" else self.weight[use.name]
            per_out = self._macs(use, 1, inputs) * weight
            if self.target.metric == "latency" and self.target.table is None:
                per_out += _ACTIVATION * use.uses / max(1, _kernel_area(use))
            add(out_roots, per_out)
            if not use.depthwise:
                add(in_roots, self._macs(use, out, 1) * weight)
        return saving


def _kernel_area(use: LayerUse) -> int:
    weight = getattr(use.module, "weight", None)
    return int(np.prod(weight.shape[2:])) if weight is not None and weight.dim() > 2 else 1


def allocate(costs: Costs, units: list[list[tuple[int, float]]], sizes: list[int]) -> set[int]:
    """Roots to remove so that the cost is at most the budget, by the target's allocation (see
    the module's documentation). units[g]: the (root, score) pairs group g may lose, least
    important first; sizes[g]: its number of units."""
    floor = math.sqrt(costs.target.keep) / 2
    caps = [max(0, min(len(group), n - math.ceil(floor * n - 1e-9))) for group, n in zip(units, sizes)]
    if costs.target.allocation == "global":
        return _global(costs, units, caps)
    return _uniform(costs, [[root for root, _ in group] for group in units], sizes, caps)


def _uniform(costs: Costs, units: list[list[int]], sizes: list[int], caps: list[int]) -> set[int]:
    """Every group keeps the same fraction k (k ** tilt with a latency target) of its units,
    k the largest within the budget."""
    budget = costs.target.keep * costs.total
    tilt = _tilts(costs, units) if costs.target.metric == "latency" else [1.0] * len(units)

    def removed(k: float) -> list[int]:
        """Roots removed when group g keeps k ** tilt[g] of its units, least important last."""
        roots = []
        for group, n, cap, t in zip(units, sizes, caps, tilt):
            roots += group[: max(0, min(cap, n - math.ceil(k ** t * n - 1e-9)))]
        return roots

    deepest = removed(0.0)
    if costs.cost(set(deepest)) > budget:
        return set(deepest)  # the budget cannot be reached: as deep as allowed
    within, over = 0.0, 1.0
    for _ in range(40):
        k = (within + over) / 2
        if costs.cost(set(removed(k))) <= budget:
            within = k
        else:
            over = k
    chosen, step = set(removed(within)), set(removed(over))
    # The units the last step removes: keep back as many as the budget allows.
    for root in reversed([root for root in removed(within) if root not in step]):
        if costs.cost(chosen - {root}) <= budget:
            chosen.discard(root)
    return chosen


def _global(costs: Costs, units: list[list[tuple[int, float]]], caps: list[int], tolerance: float = 0.05) -> set[int]:
    """The units with the least score per (square root of) saving first, across the model,
    recomputing the savings as units go (each round removes half the units the estimate says
    are still needed, so the budget is approached from above). Group g loses at most caps[g]
    units."""
    budget = costs.target.keep * costs.total
    scores = {root: score for group in units for root, score in group}
    group_of = {root: g for g, group in enumerate(units) for root, _ in group}
    removed: set[int] = set()
    left = sorted(scores)
    current = costs.total
    taken = [0] * len(caps)
    while current > budget and left:
        left = [root for root in left if taken[group_of[root]] < caps[group_of[root]]]
        saving = costs.savings(removed, left)
        # Importance per square root of the saving: cost matters, but not so much that every cut
        # lands on the largest feature maps.
        ratio = [scores[root] / math.sqrt(s) if s > 0 else math.inf for root, s in zip(left, saving)]
        room = list(taken)
        order = []
        for i in sorted(range(len(left)), key=lambda i: (ratio[i], i)):
            g = group_of[left[i]]
            if room[g] < caps[g]:
                room[g] += 1
                order.append(i)
        needed, total = 0, 0.0
        for i in order:
            if math.isinf(ratio[i]):
                break
            needed += 1
            total += saving[i]
            if current - total <= budget:
                break
        if needed == 0:
            break
        step = needed if current - budget <= tolerance * budget or needed <= 2 else max(1, needed // 2)
        chosen = {left[i] for i in order[:step]}
        for root in chosen:
            taken[group_of[root]] += 1
        removed |= chosen
        left = [root for root in left if root not in chosen]
        current = costs.cost(removed)
    return removed


def _tilts(costs: Costs, units: list[list[int]]) -> list[float]:
    """Each group's time per MAC (removing all its units) over the model's."""
    macs = Costs(costs.model, costs.graph, Target.macs(1.0))
    average = costs.total / macs.total if macs.total else 1.0
    tilts = []
    for group in units:
        saved_macs = macs.total - macs.cost(set(group))
        saved = costs.total - costs.cost(set(group))
        tilts.append(saved / saved_macs / average if saved_macs > 0 and average > 0 else 1.0)
    return tilts
