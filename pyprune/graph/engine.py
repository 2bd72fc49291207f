"""An ir.Graph on pyprune's kernels: ``compile`` numbers its tensors into a kernels.Graph, and
``Engine`` is the callable form, arrays in and arrays out. Torch-free.

The thread count is the kernels' own (``kernels.set_num_threads``): results do not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pyprune import kernels
from pyprune.graph import ir

__all__ = ["Engine", "NodeTime", "check_inputs", "compile", "float_inputs"]

# The engine holds integers as float32, exact up to this magnitude: wider inputs are checked.
EXACT_INTEGERS = 2**24


def compile(graph: ir.Graph) -> kernels.Graph:  # noqa: A001 - the design's name for it
    """The graph ready to run (validated here, then by the operator set: ValueError naming the
    node at fault)."""
    graph.validate()
    ids: dict[str, int] = {}
    for name in [s.name for s in graph.inputs] + list(graph.constants) + [t for n in graph.nodes for t in n.outputs]:
        ids[name] = len(ids)
    nodes = [(n.op, n.name, [ids[t] for t in n.inputs], [ids[t] for t in n.outputs], n.attrs) for n in graph.nodes]
    constants = {ids[name]: (c.weights, c.shape) if isinstance(c, ir.CodedConstant) else c
                 for name, c in graph.constants.items()}
    return kernels.Graph(nodes, len(ids), [ids[s.name] for s in graph.inputs], [ids[t] for t in graph.outputs],
                         constants)


def check_inputs(specs: list[ir.TensorSpec], dynamic_batch: bool, fixed_sizes: bool, shapes: Any) -> None:
    """TypeError/ValueError unless these input shapes (None for an input that is not an array:
    kernels.Graph says what it must be) fit the graph's inputs: as many, of their ranks, of
    their batch unless the graph has a dynamic one, and of their other sizes if it fixed them."""
    if len(shapes) != len(specs):
        raise TypeError(f"the graph takes {len(specs)} inputs ({', '.join(s.name for s in specs)}), "
                        f"got {len(shapes)}")
    for spec, shape in zip(specs, shapes):
        if shape is None:
            continue
        shape = tuple(shape)
        if len(shape) != len(spec.shape):
            raise ValueError(f"input {spec.name!r} must have {len(spec.shape)} dims (like {spec.shape}), "
                             f"got shape {shape}")
        if not dynamic_batch and shape and shape[0] != spec.shape[0]:
            raise ValueError(f"input {spec.name!r} must have batch {spec.shape[0]}: the graph was captured "
                             f"with a static batch, got shape {shape}")
        if fixed_sizes and shape[1:] != spec.shape[1:]:
            raise ValueError(f"input {spec.name!r} must have the sizes {spec.shape[1:]} past the batch: the graph "
                             f"holds at its example's sizes only (a size the model read from its input is a constant "
                             f"of it, or the model takes no other), got shape {shape}; save the model with example "
                             f"inputs of the size to run")


def float_inputs(graph: ir.Graph, inputs: list[Any]) -> list[Any]:
    """The inputs as the engine takes them: those of an integer dtype in the graph (its
    input_dtypes) as float32 of the same integers (a torch tensor stays one), after TypeError
    unless they have that dtype (or are float32 already, as the engine holds them), or
    ValueError if an int32 or int64 input holds a value past 2^24 (float32's exact integers);
    the others as they are."""
    if graph.input_dtypes is None:
        return inputs
    converted = []
    for spec, dtype, x in zip(graph.inputs, graph.input_dtypes, inputs):
        if dtype != "float32" and str(getattr(x, "dtype", "")).removeprefix("torch.") != "float32":
            tensor = hasattr(x, "__dlpack__") and hasattr(x, "detach")  # torch's, without importing it
            array = np.from_dlpack(x.detach()) if tensor else np.asarray(x)
            if array.dtype != np.dtype(dtype):
                raise TypeError(f"input {spec.name!r} must have dtype {dtype}, got {array.dtype}")
            if array.dtype.itemsize >= 4 and array.size and int(np.abs(array).max()) > EXACT_INTEGERS:
                raise ValueError(f"input {spec.name!r} holds integers past 2^24, which the engine's float32 does "
                                 f"not hold exactly (largest magnitude {int(np.abs(array).max())})")
            x = x.detach().float() if tensor else array.astype(np.float32)
        converted.append(x)
    return converted


@dataclass(frozen=True)
class NodeTime:
    node: ir.Node
    seconds: float  # median of the profile's runs


class Engine:
    """``engine(*inputs)`` runs the graph: its output, or a tuple when it has several. Inputs have
    the ranks of the graph's; a graph captured with a dynamic batch takes any batch size, one
    captured with a static batch only its own. Other sizes run where every operator's shape rule
    allows them (planned once per input-shape signature)."""

    def __init__(self, graph: ir.Graph) -> None:
        self.graph = graph
        self._compiled = compile(graph)

    def __call__(self, *inputs: Any) -> Any:
        self._check([getattr(x, "shape", None) for x in inputs])
        outputs = self._compiled.run(float_inputs(self.graph, list(inputs)))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def output_shapes(self, *input_shapes: tuple[int, ...]) -> list[tuple[int, ...]]:
        self._check(input_shapes)
        return self._compiled.output_shapes(list(input_shapes))

    def arena_bytes(self, *input_shapes: tuple[int, ...]) -> int:
        """Bytes of intermediate tensors a run with these input shapes needs (by default the
        example's)."""
        shapes = list(input_shapes) or self._example_shapes()
        self._check(shapes)
        return self._compiled.arena_bytes(shapes)

    def profile(self, *inputs: Any, repeats: int = 10) -> list[NodeTime]:
        """Every node's median time over ``repeats`` runs on these inputs."""
        self._check([getattr(x, "shape", None) for x in inputs])
        seconds = self._compiled.profile(float_inputs(self.graph, list(inputs)), repeats)
        return [NodeTime(node, s) for node, s in zip(self.graph.nodes, seconds)]

    def describe(self, *input_shapes: tuple[int, ...]) -> list[kernels.GraphNode]:
        """Every node as it runs with these input shapes (by default the example's): what runs,
        its output shapes and multiply-accumulates."""
        shapes = list(input_shapes) or self._example_shapes()
        self._check(shapes)
        return self._compiled.describe(shapes)

    def _example_shapes(self) -> list[tuple[int, ...]]:
        return [spec.shape for spec in self.graph.inputs]

    def _check(self, shapes: Any) -> None:
        check_inputs(self.graph.inputs, self.graph.dynamic_batch, self.graph.fixed_sizes, shapes)
