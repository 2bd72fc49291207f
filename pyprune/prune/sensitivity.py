"""Sensitivity analysis: how much the metric drops when one layer alone is pruned, per ratio,
and the per-layer ratios that keep every drop within a budget (as PaddleSlim does)."""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from torch import nn

from pyprune.prune.errors import PruningError
from pyprune.prune.filters import as_inputs, prune_filters
from pyprune.prune.graph import trace_channels
from pyprune.prune.importance import Importance
from pyprune.prune.masks import make_permanent, maskable_layers, prune_magnitude
from pyprune.prune.plotting import new_figure

__all__ = ["Granularity", "Sensitivity", "sensitivity"]

DEFAULT_RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class Granularity(enum.Enum):
    """FILTERS: remove that share of the layer's output channels (prune_filters).
    WEIGHTS: zero that share of its weights by magnitude (prune_magnitude)."""

    FILTERS = "filters"
    WEIGHTS = "weights"


@dataclass
class Sensitivity:
    """metrics[layer][ratio]: the metric with only that layer pruned to that ratio."""

    baseline: float
    ratios: list[float]
    metrics: dict[str, dict[float, float]] = field(default_factory=dict)
    higher_is_better: bool = True

    def drop(self, layer: str, ratio: float) -> float:
        """How much worse the metric got (positive = worse)."""
        change = self.baseline - self.metrics[layer][ratio]
        return change if self.higher_is_better else -change

    def ratios_within(self, budget: float) -> dict[str, float]:
        """For each layer, the largest ratio whose drop is at most `budget`; layers with none
        are left out. Usable as prune_filters(..., amount=result)."""
        result = {}
        for layer, by_ratio in self.metrics.items():
            within = [r for r in by_ratio if self.drop(layer, r) <= budget]
            if within:
                result[layer] = max(within)
        return result

    def __str__(self) -> str:
        width = max([len(layer) for layer in self.metrics] + [5])
        lines = [f"baseline metric {self.baseline:.4f}",
                 f"{'layer':<{width}}  " + " ".join(f"{r:>7.0%}" for r in self.ratios)]
        lines += [f"{layer:<{width}}  " + " ".join(f"{by_ratio[r]:>7.4f}" for r in self.ratios)
                  for layer, by_ratio in self.metrics.items()]
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """One curve per layer, metric against ratio, as a PNG at `path` (needs matplotlib)."""
        fig = new_figure(8, 5)
        ax = fig.add_subplot()
        for layer, by_ratio in self.metrics.items():
            ax.plot(self.ratios, [by_ratio[r] for r in self.ratios], marker=".", label=layer)
        ax.axhline(self.baseline, color="black", linewidth=0.8, linestyle=":")
        ax.set_xlabel("ratio pruned")
        ax.set_ylabel("metric")
        ax.set_title("sensitivity: one layer pruned at a time")
        if len(self.metrics) <= 20:
            ax.legend(fontsize="x-small", ncols=2)
        path = Path(path)
        fig.savefig(path, dpi=100)
        return path


def _filter_layers(model: nn.Module, inputs: tuple) -> list[str]:
    """The layers whose output channels can be pruned (one per coupled group is enough, but
    every member is listed, as users think in layers)."""
    graph = trace_channels(copy.deepcopy(model), inputs)
    return [name for group in graph.groups() if len(group.blocked) < len(group.units) for name in group.layers]


def sensitivity(
    model: nn.Module,
    example_inputs: Any,
    eval_fn: Callable[[nn.Module], float],
    *,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    layers: Iterable[str] | None = None,
    granularity: Granularity = Granularity.FILTERS,
    criterion: Importance | Any = None,
    higher_is_better: bool = True,
    progress: bool = True,
) -> Sensitivity:
    """Prune each layer alone at each ratio, evaluate, restore (`model` is never changed).

    >>> s = sensitivity(model, x, accuracy, ratios=(0.25, 0.5, 0.75))
    >>> print(s); s.plot("sensitivity.png")
    >>> small = prune_filters(model, x, amount=s.ratios_within(0.01))
    """
    from tqdm import tqdm

    if not isinstance(granularity, Granularity):
        raise PruningError(f"granularity must be a Granularity, got {granularity!r}")
    ratios = sorted(float(r) for r in ratios)
    if not ratios or not all(0 < r < 1 for r in ratios):
        raise PruningError(f"ratios must be numbers in (0, 1), got {ratios!r}")
    inputs = as_inputs(example_inputs)
    if layers is None:
        layers = _filter_layers(model, inputs) if granularity is Granularity.FILTERS else list(maskable_layers(model))
    layers = list(layers)
    if granularity is Granularity.WEIGHTS:
        unknown = sorted(set(layers) - set(maskable_layers(model)))
        if unknown:
            raise PruningError(f"layers {unknown} are not Conv2d or Linear layers of the model")
    result = Sensitivity(float(eval_fn(copy.deepcopy(model))), ratios, higher_is_better=higher_is_better)
    with tqdm(total=len(layers) * len(ratios), disable=not progress, desc="sensitivity", leave=False) as bar:
        for layer in layers:
            result.metrics[layer] = {}
            for ratio in ratios:
                if granularity is Granularity.FILTERS:
                    pruned = prune_filters(model, inputs, {layer: ratio}, criterion=criterion)
                else:
                    pruned = copy.deepcopy(model)
                    everything_else = [n for n in maskable_layers(pruned) if n != layer]
                    prune_magnitude(pruned, ratio, ignore=everything_else)
                    make_permanent(pruned)
                result.metrics[layer][ratio] = float(eval_fn(pruned))
                bar.update()
    return result
