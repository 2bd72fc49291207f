"""A model's whole inference graph in the operator set, for files and runtimes without torch."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pyprune.capture.export import capture
from pyprune.capture.indices import INTEGER_DTYPES
from pyprune.capture.lower import Lowered, lower
from pyprune.capture.optimize import optimize
from pyprune.capture.segments import flat_inputs
from pyprune.capture.structures import arguments_structure, outputs_structure, value_leaf
from pyprune.graph import ir
from pyprune.graph.structure import TENSOR

__all__ = ["inference_graph"]


def inference_graph(model: nn.Module, example_inputs: tuple[Any, ...], *, separable: bool = False) -> ir.Graph:
    """The optimised graph of `model` (captured with torch.export, lowered, optimised; the
    depthwise -> pointwise fusion only with `separable`). Every node must be in the operator set:
    ValueError naming the first op and node that is not (CaptureError, a ValueError, when the
    model cannot be captured at all). Arguments and outputs nested in lists, tuples and dicts
    give the graph their structures, outputs of integer tensors their dtypes (output_dtypes). Convolutions
    keep algorithm "auto": the engine that runs the graph picks its kernels."""
    low = optimize(lower(capture(model.eval(), tuple(example_inputs)).program, flat_inputs(tuple(example_inputs))),
                   separable=separable)
    output_leaves = _fixed_outputs(low)
    low.graph.output_dtypes = _integer_outputs(low)
    for node in low.graph.nodes:
        key = node.outputs[0]
        if key in low.calls:
            why = low.calls[key].why or f"{node.op} computes sizes at run time"
            raise ValueError(f"the graph needs torch to run node {key!r} (module {node.name!r}): {why}")
    low.graph.input_structure = arguments_structure(tuple(example_inputs))
    low.graph.output_structure = outputs_structure(low.out_spec, output_leaves)
    return low.graph


def _fixed_outputs(low: Lowered) -> list[Any]:
    """Per output of the model, "tensor", or the value it always is (None for a head switched
    off, a number), which leaves the graph's outputs for its output structure."""
    literals = {n.outputs[0] for n in low.graph.nodes if n.op == "literal"}
    leaves = [value_leaf(low.values[name]) if name in literals else TENSOR for name in low.graph.outputs]
    low.graph.outputs = [name for name in low.graph.outputs if name not in literals]
    _drop_unread(low, literals)
    return leaves


def _integer_outputs(low: Lowered) -> list[str] | None:
    """The outputs' dtypes where the model gives integer tensors (argmax's indices), else None.
    The engine holds them as float32 integers, which torch casts back by a call of its own
    (lower.py's for_torch): a graph for the runtime gives the float32 tensor instead, and its
    dtype, for the runtime to cast."""
    producers = {n.outputs[0]: n for n in low.graph.nodes}
    dtypes, casts = [], set()
    for k, name in enumerate(low.graph.outputs):
        call = low.calls.get(name)
        cast = call is not None and call.target is torch.Tensor.to and len(call.args) == 2
        if cast and call.args[1] in INTEGER_DTYPES:
            dtypes.append(str(call.args[1]).removeprefix("torch."))
            low.graph.outputs[k] = producers[name].inputs[0]
            casts.add(name)
        else:
            dtypes.append("float32")
    _drop_unread(low, casts)
    return None if not casts else dtypes


def _drop_unread(low: Lowered, names: set[str]) -> None:
    """The nodes giving `names` dropped where no node reads them (they left the outputs)."""
    read = {t for n in low.graph.nodes for t in n.inputs}
    low.graph.nodes = [n for n in low.graph.nodes if n.outputs[0] not in names or n.outputs[0] in read]
