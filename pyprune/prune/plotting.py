"""matplotlib, imported only when a plot is asked for (it is an optional dependency)."""

from __future__ import annotations

from typing import Any

__all__ = ["new_figure"]


def new_figure(width: float = 7.0, height: float = 4.5) -> Any:
    """A matplotlib Figure not tied to any GUI backend (saved with fig.savefig)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install matplotlib (or 'pyprune[prune]')") from None
    return Figure(figsize=(width, height), layout="constrained")
