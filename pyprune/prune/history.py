"""What a prune -> fine-tune run did, step by step."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pyprune.prune.plotting import new_figure

__all__ = ["History", "Step"]


@dataclass(frozen=True)
class Step:
    """The model after one step (step 0: before pruning). sparsity = 1 - non-zero parameters
    / the original's parameters, so removed channels and zeroed weights both count."""

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

    def __str__(self) -> str:
        lines = [f"{'step':>4} {'target':>7} {'sparsity':>9} {'params':>11} {'non-zero':>11} {'MACs':>14} "
                 f"{'metric':>9}"]
        lines += [f"{s.step:>4} {s.target:>7.1%} {s.sparsity:>9.1%} {s.params:>11,} {s.nonzero:>11,} {s.macs:>14,} "
                  f"{s.metric:>9.4f}" for s in self.steps]
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Metric and MACs against sparsity, as a PNG at `path` (needs matplotlib)."""
        fig = new_figure()
        ax = fig.add_subplot()
        sparsity = [s.sparsity for s in self.steps]
        ax.plot(sparsity, [s.metric for s in self.steps], "o-", label="metric")
        ax.set_xlabel("sparsity (parameters removed or zero)")
        ax.set_ylabel("metric")
        macs = ax.twinx()
        macs.plot(sparsity, [s.macs / 1e6 for s in self.steps], "s--", color="tab:orange", label="MMACs")
        macs.set_ylabel("MMACs")
        fig.legend(loc="outside lower center", ncols=2)
        path = Path(path)
        fig.savefig(path, dpi=100)
        return path
