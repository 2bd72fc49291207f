"""A model's whole inference graph in the operator set, for files and runtimes without torch."""

from __future__ import annotations

from typing import Any

from torch import nn

from pyprune.capture.export import capture
from pyprune.capture.lower import lower
from pyprune.capture.optimize import optimize
from pyprune.graph import ir

__all__ = ["inference_graph"]


def inference_graph(model: nn.Module, example_inputs: tuple[Any, ...], *, separable: bool = False) -> ir.Graph:
    """The optimised graph of `model` (captured with torch.export, lowered, optimised; the
    depthwise -> pointwise fusion only with `separable`). Every node must be in the operator set:
    ValueError naming the first op and node that is not (CaptureError, a ValueError, when the
    model cannot be captured at all). A model returning a dict of tensors gives the graph its
    keys (output_keys). Convolutions keep algorithm "auto": the engine that runs
    the graph picks its kernels."""
    low = optimize(lower(capture(model.eval(), tuple(example_inputs)).program, tuple(example_inputs)),
                   separable=separable)
    reasons = {node.name: why for node, why in low.unsupported}
    for node in low.graph.nodes:
        key = node.outputs[0]
        if key in low.calls:
            why = reasons.get(key, f"{node.op} computes sizes at run time")
            raise ValueError(f"the graph needs torch to run node {key!r} (module {node.name!r}): {why}")
    low.graph.output_keys = _dict_keys(low.out_spec)
    return low.graph


def _dict_keys(spec: Any) -> list[str] | None:
    """The keys of the dict of tensors a model returns (a segmentation model's "out" and "aux",
    an FPN's levels), from the captured output structure; None for any other output."""
    if spec is None or not (isinstance(spec.type, type) and issubclass(spec.type, dict)):
        return None
    keys = list(spec.context)
    if all(isinstance(k, str) for k in keys) and all(child.is_leaf() for child in spec.children()):
        return keys
    return None
