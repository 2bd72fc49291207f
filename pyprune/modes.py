"""What pyprune does to a user's model without changing it: eval mode for a moment, without losing
its own training flags, and deep copies (needs torch)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

from pyprune._optional import require

torch = require("torch", "torch", __name__)

__all__ = ["copy_model", "evaluating"]


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


def copy_model(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of `model`. A tensor a module's hook computes and keeps as an attribute (the
    weight of the older torch.nn.utils.weight_norm) is no graph leaf, which copy.deepcopy refuses;
    it is copied detached, and the hook computes it again on the copy's next forward."""
    memo: dict[int, object] = {}
    for module in model.modules():
        for value in vars(module).values():
            if isinstance(value, torch.Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()
    return copy.deepcopy(model, memo)
