"""Rounding told from a fault where a model's outputs cancel or select among near-ties: how
much further converted or captured outputs are from the model run in float64 than the model's
own float32 outputs are. Needs torch."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_leaves, tree_map

from pyprune.modes import copy_model

__all__ = ["ROUNDING_FACTOR", "float64_outputs", "times_float32_rounding"]

# Where the outputs cancel (sums of large terms of both signs, as in deep random-init nets) or
# select among values that nearly tie (a detector's top queries), no per-entry tolerance tells
# rounding from a fault: there a result may be this many times further from a float64 run than
# the model's float32 one is (Winograd's F(6x6, 3x3) rounds about 10x more than a direct
# convolution, docs/winograd.md).
ROUNDING_FACTOR = 10.0


def float64_outputs(model: nn.Module, inputs: tuple) -> list[torch.Tensor] | None:
    """The output tensors of (a copy of) `model` run in float64 on `inputs` (their floats made
    float64), or None when it cannot run so."""
    as_float64 = tree_map(lambda a: a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a, inputs)
    try:
        with torch.no_grad():
            exact = copy_model(model).eval().double()(*as_float64)
    except Exception:  # whatever a model that computes in float32 itself raises
        return None
    return _tensors(exact)


def times_float32_rounding(got: Any, want: Any, exact: list[torch.Tensor], atol: float = 0.0) -> float | None:
    """How many times further `got` is from the model's float64 outputs `exact`
    (float64_outputs) than the model's own float32 ones (`want`) are, atol forgiven; None where
    `got` does not match their structure. `got` and `want`: the outputs, or lists of their
    tensors."""
    leaves = [_tensors(got), _tensors(want), exact]
    if len({len(x) for x in leaves}) != 1:
        return None
    times = 0.0
    for g, w, e in zip(*leaves):
        if not e.is_floating_point() or e.numel() == 0:
            continue
        if e.dtype != torch.float64 or g.shape != e.shape:
            return None
        ours = float((g.double() - e).abs().max()) - atol
        original = float((w.double() - e).abs().max())
        if ours > 0:
            times = max(times, ours / original if original else float("inf"))
    return times


def _tensors(output: Any) -> list[torch.Tensor]:
    return [t for t in tree_leaves(output) if isinstance(t, torch.Tensor)]
