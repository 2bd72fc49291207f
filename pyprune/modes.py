"""Running a model in eval mode for a moment without losing its own training flags (needs torch)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyprune._optional import require

torch = require("torch", "torch", __name__)

__all__ = ["evaluating"]


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """`model` in eval mode inside the block; every submodule's flag restored after it."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes.items():
            m.training = training
