"""A packed model on pyprune's kernels with numpy alone: ``load(path)`` reads the file's graph,
checks it and compiles it; ``Net`` runs it, one C++ call per forward (the graph runs whole in
C++, its activations in an arena planned once per input-shape signature and reused).
Torch-free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyprune import kernels
from pyprune.graph import engine, ir, structure
from pyprune.pack.reading import graph as file_graph
from pyprune.pack.reading import read
from pyprune.pack.schema import PackError

__all__ = ["Net", "NodeInfo", "NodeTime", "load"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class NodeInfo:
    """A node as it runs with some input shapes."""

    name: str  # where it comes from (a module path)
    op: str
    kernel: str  # what runs, e.g. "conv2d 3x3 s2 depthwise 4x8 avx2 + relu6"
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    macs: int
    one_thread: bool  # too little work to share among threads: runs on the calling thread alone


@dataclass(frozen=True)
class NodeTime:
    node: NodeInfo
    seconds: float  # median of the profile's runs


def _check_threads(num_threads: Any) -> int | None:
    if num_threads is None:
        return None
    most = kernels.capabilities().max_threads
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or not 1 <= num_threads <= most:
        raise ValueError(f"num_threads must be an int in 1..{most} or None, got {num_threads!r}")
    return num_threads


def _resident_bytes(constant: ir.Constant) -> int:
    return constant.weights.coded_bytes if isinstance(constant, ir.CodedConstant) else constant.nbytes


class Net:
    """A graph compiled for pyprune's kernels. ``net(x)`` (or ``net(x, y)`` for several inputs)
    takes the model's arguments with arrays for its tensors and gives its output with arrays:
    one, a tuple of several, or nested as the model returned them (a dict of arrays under its
    keys, a detector's (predictions, [feature maps])). A model that took lists or dicts of
    tensors takes them here too (a list and a tuple stand for each other); numbers and flags it
    took are fixed by the capture and must be the same. ``run`` takes the arrays alone, in the
    order of ``input_names``, and gives every output in a flat tuple. An input the model took
    as integers (an image of uint8 pixels, token ids) is given in that dtype (``input_dtypes``).
    Outputs are float32 but those the model gave as integer tensors (argmax's indices), which
    come in its dtype. A graph with a dynamic batch runs any batch size; other sizes
    run where every operator's shape rule allows them. Results do not depend on the thread count.

    num_threads: the kernels' threads while this net runs (None: the process's setting,
    ``pyprune.set_num_threads``). ValueError naming the node at fault if the operators refuse
    the graph or its example input shapes (``load`` makes it a PackError)."""

    def __init__(self, graph: ir.Graph, *, num_threads: int | None = None) -> None:
        self.num_threads = _check_threads(num_threads)
        self._compiled = engine.compile(graph)
        self._inputs = list(graph.inputs)
        self._graph = graph  # its inputs' dtypes (engine.float_inputs)
        self._nodes = [(n.name, list(n.inputs), list(n.outputs)) for n in graph.nodes]
        self._constant_shapes = {name: tuple(c.shape) for name, c in graph.constants.items()}
        self.dynamic_batch, self.fixed_sizes = graph.dynamic_batch, graph.fixed_sizes
        self.output_names = list(graph.outputs)
        # How the model's arguments and outputs nest the graph's (graph/structure.py); None: flat.
        self.input_structure, self.output_structure = graph.input_structure, graph.output_structure
        # The outputs the engine holds as float32 integers and the model gave as integers: cast back.
        self._casts = [(k, np.dtype(t)) for k, t in enumerate(graph.output_dtypes or []) if t != "float32"]
        # Held by the compiled graph: dense floats, or the coded streams kept compressed.
        self.weight_bytes = sum(_resident_bytes(c) for c in graph.constants.values())
        # Planned now: a graph whose shapes or memory do not work out is refused before any run.
        self.output_shapes = [tuple(s) for s in self._compiled.output_shapes(self.input_shapes)]

    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self._inputs]

    @property
    def input_dtypes(self) -> list[str]:
        return list(self._graph.input_dtypes or ["float32"] * len(self._inputs))

    @property
    def input_shapes(self) -> list[Shape]:
        """The shapes of the example inputs the graph was captured with."""
        return [spec.shape for spec in self._inputs]

    def __call__(self, *arguments: Any) -> Any:
        inputs = arguments if self.input_structure is None else structure.flatten(self.input_structure, arguments)
        outputs = self.run(*inputs)
        if self.output_structure is not None:
            return structure.unflatten(self.output_structure, outputs)
        return outputs[0] if len(outputs) == 1 else outputs

    def run(self, *inputs: Any) -> tuple[np.ndarray, ...]:
        """Every output of the graph for these inputs (C-contiguous float32 arrays, or of the
        integer dtype the model gave; the inputs are never converted), as new arrays."""
        self._check([getattr(x, "shape", None) for x in inputs])
        self._use_threads()
        outputs = list(self._compiled.run(engine.float_inputs(self._graph, list(inputs))))
        for k, dtype in self._casts:
            outputs[k] = outputs[k].astype(dtype)
        return tuple(outputs)

    def output_shapes_for(self, *input_shapes: Shape) -> list[Shape]:
        """The output shapes for inputs of these shapes."""
        self._check(input_shapes)
        return [tuple(s) for s in self._compiled.output_shapes(list(input_shapes))]

    def arena_bytes(self, *input_shapes: Shape) -> int:
        """Bytes of intermediate tensors one run needs with inputs of these shapes (by default
        the example's): the activations' peak besides inputs and outputs."""
        shapes = list(input_shapes) or self.input_shapes
        self._check(shapes)
        return self._compiled.arena_bytes(shapes)

    def describe(self, *input_shapes: Shape) -> list[NodeInfo]:
        """Every node as it runs with inputs of these shapes (by default the example's): op,
        kernel, input and output shapes, multiply-accumulates, whether it runs on one thread."""
        shapes = [tuple(s) for s in input_shapes] or self.input_shapes
        self._check(shapes)
        known: dict[str, Shape] = {**self._constant_shapes, **dict(zip(self.input_names, shapes))}
        infos = []
        for (name, inputs, outputs), d in zip(self._nodes, self._compiled.describe(shapes)):
            infos.append(NodeInfo(name, d.op, d.kernel, tuple(known[t] for t in inputs), d.output_shapes, d.macs,
                                  d.one_thread))
            known.update(zip(outputs, d.output_shapes))
        return infos

    def profile(self, *inputs: Any, repeats: int = 10) -> list[NodeTime]:
        """Every node with its median time over `repeats` runs on these inputs (after one
        untimed run): the time inside the kernels, per node."""
        self._check([getattr(x, "shape", None) for x in inputs])
        self._use_threads()
        seconds = self._compiled.profile(engine.float_inputs(self._graph, list(inputs)), repeats)
        return [NodeTime(info, s) for info, s in zip(self.describe(*(x.shape for x in inputs)), seconds)]

    def _check(self, shapes: Any) -> None:
        engine.check_inputs(self._inputs, self.dynamic_batch, self.fixed_sizes, shapes)

    def _use_threads(self) -> None:
        if self.num_threads is not None and kernels.get_num_threads() != self.num_threads:
            kernels.set_num_threads(self.num_threads)


def _graph(path: str | os.PathLike, keep_compressed: bool) -> ir.Graph:
    """The file's graph; the file's streams are released on return (constants are copies)."""
    graph = file_graph(read(path), keep_compressed=keep_compressed)
    if graph is None:
        raise PackError("the file holds no graph: it was saved without example inputs, or its model could not be "
                        "captured whole on pyprune's operators (pack.load runs it with torch)")
    return graph


def load(path: str | os.PathLike, *, num_threads: int | None = None, keep_compressed: bool = False) -> Net:
    """The packed file's model, ready to run without torch or the model's code.

    Everything is checked before anything runs: the file (its grammar, checksums, every coded
    stream), the graph (operators, references, attributes) and its plan for the example input
    shapes (shapes that overflow, activations beyond the memory limit): PackError naming what is
    wrong. keep_compressed=True keeps weight-shared weights Huffman-coded in memory, each decoded
    just before the node reading it runs (less memory, a little more time per run); the outputs
    are those of the decoded weights."""
    num_threads = _check_threads(num_threads)
    graph = _graph(path, keep_compressed)
    try:
        return Net(graph, num_threads=num_threads)
    except (ValueError, TypeError, OverflowError, IndexError) as e:  # the operator set's word on the graph
        raise PackError(f"graph: {e}") from None
