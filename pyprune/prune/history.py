"""What a prune -> fine-tune run did, step by step."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyprune.prune.plotting import metric_label, new_figure

__all__ = ["History", "Step"]


@dataclass(frozen=True)
class Step:
    """The model after one step (step 0: before pruning). sparsity = 1 - non-zero parameters
    / the original's parameters, so removed channels and zeroed weights both count; macs are
    the non-zero weights' multiply-accumulates per example (pyprune.stats nonzero_macs), so
    they fall with sparsity whether channels were removed or weights zeroed."""

    step: int
    target: float
    sparsity: float
    params: int
    nonzero: int
    macs: int
    metric: float


@dataclass
class History:
    steps: list[Step] = field(default_factory=list)
    metric_name: str | None = None  # what eval_fn measures, for the plot

    def __str__(self) -> str:
        lines = [f"{'step':>4} {'target':>7} {'sparsity':>9} {'params':>11} {'non-zero':>11} {'non-zero MACs':>14} "
                 f"{'metric':>9}"]
        lines += [f"{s.step:>4} {s.target:>7.1%} {s.sparsity:>9.1%} {s.params:>11,} {s.nonzero:>11,} {s.macs:>14,} "
                  f"{s.metric:>9.4f}" for s in self.steps]
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """The figure() as a PNG at `path`."""
        path = Path(path)
        self.figure().savefig(path, dpi=100)
        return path

    def figure(self) -> Any:
        """Metric and MACs against sparsity, as a matplotlib Figure (needs matplotlib)."""
        fig = new_figure()
        ax = fig.add_subplot()
        sparsity = [s.sparsity for s in self.steps]
        label = metric_label(self.metric_name)
        ax.plot(sparsity, [s.metric for s in self.steps], "o-", label=label)
        ax.set_xlabel("sparsity (parameters removed or zero)")
        ax.set_ylabel(label)
        macs = ax.twinx()
        macs.plot(sparsity, [s.macs / 1e6 for s in self.steps], "s--", color="tab:orange", label="non-zero MMACs")
        macs.set_ylabel("MMACs of the non-zero weights")
        fig.legend(loc="outside lower center", ncols=2)
        return fig
