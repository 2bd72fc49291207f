"""A model's outputs on example inputs, and how far another set is from them: what pack.save
measures of the packed model and of its graph. Needs torch."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pyprune._optional import require

torch = require("torch", "torch", __name__)
from torch import nn

from pyprune.modes import evaluating
from pyprune.pack.report import OutputError

__all__ = ["difference", "leaves", "model_outputs"]


def leaves(output: Any) -> list[torch.Tensor]:
    """The tensors of a model's output (a tensor, or lists, tuples and dicts of them and of
    None), in order."""
    if isinstance(output, torch.Tensor):
        return [output]
    if output is None:  # a head switched off
        return []
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in leaves(item)]
    raise TypeError(f"cannot measure the output error of a model returning {type(output).__name__}")


def model_outputs(model: nn.Module, inputs: tuple) -> list[torch.Tensor]:
    """The model's output tensors on `inputs`, in eval mode (its modes restored after)."""
    # not inference_mode: what the model caches on the call (detection anchors) would be inference
    # tensors, which neither its capture nor its training can use afterwards
    with torch.no_grad(), evaluating(model):
        outputs = leaves(model(*inputs))
    if not outputs:
        raise TypeError("cannot measure the output error of a model returning no tensor")
    return [y.detach() for y in outputs]


def difference(want: list[torch.Tensor], got: list[torch.Tensor]) -> OutputError:
    """How far `got` is from `want` (every element of every output), and the range of `want`:
    its largest magnitude where it is one value throughout (a model returning a scalar)."""
    want_all = torch.cat([w.double().flatten() for w in want])
    got_all = torch.cat([g.double().flatten() for g in got])
    max_abs = float((got_all - want_all).abs().max()) if want_all.numel() else 0.0
    output_range = float(want_all.max() - want_all.min()) if want_all.numel() else 0.0
    if output_range == 0 and want_all.numel():
        output_range = float(want_all.abs().max())
    if not (math.isfinite(max_abs) and math.isfinite(output_range)):
        raise ValueError("cannot measure the output error: the model's outputs on the example inputs are not finite")
    return OutputError(max_abs, output_range)
