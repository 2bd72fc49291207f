"""matplotlib, imported only when a plot is asked for (it is an optional dependency), and the
labels the plots share."""

from __future__ import annotations

from typing import Any

from pyprune._optional import require

__all__ = ["metric_label", "new_figure"]


def new_figure(width: float = 7.0, height: float = 4.5) -> Any:
    """A matplotlib Figure not tied to any GUI backend (saved with fig.savefig)."""
    figure = require("matplotlib.figure", "prune", "plotting")
    return figure.Figure(figsize=(width, height), layout="constrained")


def metric_label(name: str | None) -> str:
    """The axis label of the user's metric: its name, if they gave one."""
    return name if name else "eval_fn(model)"
