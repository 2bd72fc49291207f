"""The one exception pyprune.prune raises for models and arguments it cannot prune."""

from __future__ import annotations

__all__ = ["PruningError"]


class PruningError(ValueError):
    """A model, layer or argument that cannot be pruned as asked; the message names it."""
