"""Sensitivity analysis: how much the metric drops when one layer alone is pruned, per ratio,
and the per-layer ratios that keep every drop within a budget (as PaddleSlim does)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from torch import nn

from pyprune.modes import copy_model
from pyprune.prune.errors import PruningError
from pyprune.prune.filters import PrunableModel, as_inputs
from pyprune.prune.importance import Importance
from pyprune.prune.masks import make_permanent, maskable_layers, prune_magnitude
from pyprune.prune.plotting import metric_label, new_figure
from pyprune.progress import progress_bar

__all__ = ["Granularity", "Sensitivity", "sensitivity"]

DEFAULT_RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class Granularity(enum.Enum):
    """FILTERS: remove that share of the layer's output channels (prune_filters).
    WEIGHTS: zero that share of its weights by magnitude (prune_magnitude)."""

    FILTERS = "filters"
    WEIGHTS = "weights"


@dataclass
class Sensitivity:
    """metrics[layer][ratio]: the metric with only that layer pruned to that ratio;
    metric_name says what the metric is (plots label their axis with it). skipped: the layers
    found prunable whose cut then broke the forward (a channel count written in the code), and
    why."""

    baseline: float
    ratios: list[float]
    metrics: dict[str, dict[float, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    higher_is_better: bool = True
    metric_name: str | None = None

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
        width = max([len(layer) for layer in [*self.metrics, *self.skipped]] + [5])
        lines = [f"baseline metric {self.baseline:.4f}",
                 f"{'layer':<{width}}  " + " ".join(f"{r:>7.0%}" for r in self.ratios)]
        lines += [f"{layer:<{width}}  " + " ".join(f"{by_ratio[r]:>7.4f}" for r in self.ratios)
                  for layer, by_ratio in self.metrics.items()]
        lines += [f"{layer:<{width}}  left out: {why}" for layer, why in self.skipped.items()]
        return "\n".join(lines)

    def plot(self, path: str | Path, chosen: Mapping[str, float] | None = None) -> Path:
        """The figure() as a PNG at `path`."""
        path = Path(path)
        self.figure(chosen).savefig(path, dpi=100)
        return path

    def figure(self, chosen: Mapping[str, float] | None = None) -> Any:
        """One curve per layer, metric against ratio from 0 (the unpruned baseline) on, as a
        matplotlib Figure (needs matplotlib). `chosen` (e.g. ratios_within(budget)) marks the
        ratio picked for each layer it names."""
        chosen = dict(chosen or {})
        for layer, ratio in chosen.items():
            if ratio not in self.metrics.get(layer, {}):
                raise PruningError(f"chosen ratio {ratio!r} of layer {layer!r} was not measured: layers "
                                   f"{sorted(self.metrics)}, ratios {self.ratios}")
        fig = new_figure(8, 5)
        ax = fig.add_subplot()
        named = len(self.metrics) <= 20  # more would bury the plot under its legend
        circle = dict(marker="o", markersize=11, linestyle="none", markerfacecolor="none", markeredgewidth=1.5)
        for layer, by_ratio in self.metrics.items():  # each curve starts unpruned, at the baseline
            (line,) = ax.plot([0.0, *self.ratios], [self.baseline, *[by_ratio[r] for r in self.ratios]], marker=".",
                              label=layer if named else None)
            if layer in chosen:
                ax.plot([chosen[layer]], [by_ratio[chosen[layer]]], color=line.get_color(), **circle)
        ax.axhline(self.baseline, color="black", linewidth=0.8, linestyle=":",
                   label=f"baseline, unpruned ({self.baseline:.4g})")
        if chosen:  # one legend entry for all the circles
            ax.plot([], [], color="gray", label="chosen ratio", **circle)
        better = "higher" if self.higher_is_better else "lower"
        ax.set_xlabel("ratio pruned")
        ax.set_xlim(0, 1)
        ax.set_ylabel(f"{metric_label(self.metric_name)}, {better} is better")
        ax.set_title("sensitivity: one layer pruned at a time")
        ax.legend(fontsize="x-small", ncols=2)
        return fig


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
    metric_name: str | None = None,
) -> Sensitivity:
    """Prune each layer alone at each ratio, evaluate, restore (`model` is never changed;
    for filters it is captured once, and every pruned copy is cut from that capture).
    `metric_name` says what eval_fn measures (for the plot).

    >>> s = sensitivity(model, x, accuracy, ratios=(0.25, 0.5, 0.75))
    >>> amounts = s.ratios_within(0.01)
    >>> print(s); s.plot("sensitivity.png", chosen=amounts)
    >>> small = prune_filters(model, x, amount=amounts)
    """
    if not isinstance(granularity, Granularity):
        raise PruningError(f"granularity must be a Granularity, got {granularity!r}")
    ratios = sorted(float(r) for r in ratios)
    if not ratios or not all(0 < r < 1 for r in ratios):
        raise PruningError(f"ratios must be numbers in (0, 1), got {ratios!r}")
    inputs = as_inputs(example_inputs)
    # Filters: the model is captured once, and pruned from that capture at every layer and ratio.
    prunable = PrunableModel(model, inputs, criterion=criterion) if granularity is Granularity.FILTERS else None
    chosen = layers is None
    if chosen:  # every member of a prunable group is listed, as users think in layers
        layers = [name for group in prunable.prunable_groups() for name in group.layers] if prunable is not None \
            else list(maskable_layers(model))
    layers = list(layers)
    if granularity is Granularity.WEIGHTS:
        unknown = sorted(set(layers) - set(maskable_layers(model)))
        if unknown:
            raise PruningError(f"layers {unknown} are not Conv2d or Linear layers of the model")
    result = Sensitivity(float(eval_fn(copy_model(model))), ratios, higher_is_better=higher_is_better,
                         metric_name=metric_name)
    with progress_bar(len(layers) * len(ratios), "sensitivity", "eval", progress) as bar:
        for layer in layers:
            result.metrics[layer] = {}
            for ratio in ratios:
                if prunable is not None:
                    try:
                        pruned = prunable.prune({layer: ratio})
                    except PruningError as e:
                        if not chosen:
                            raise
                        # Its cut broke the forward: the layer is blocked now, at any ratio.
                        bar.update(len(ratios) - len(result.metrics.pop(layer)))
                        result.skipped[layer] = str(e)
                        break
                else:
                    pruned = copy_model(model)
                    everything_else = [n for n in maskable_layers(pruned) if n != layer]
                    prune_magnitude(pruned, ratio, ignore=everything_else)
                    make_permanent(pruned)
                result.metrics[layer][ratio] = float(eval_fn(pruned))
                bar.update()
    return result
