"""A lowered graph as a torch.fx module: maximal runs of nodes placed on pyprune become one
EngineSegment each (a compiled graph), the other nodes torch calls, the outputs the model's
structure; a model taking lists or dicts of tensors keeps its signature (StructuredInputs)."""

from __future__ import annotations

import heapq
import operator
from typing import Any, Iterable, Mapping, Sequence

import torch
import torch.fx as fx
from torch import nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from pyprune.capture import reference
from pyprune.capture.lower import Input, Lowered
from pyprune.graph import engine, ir
from pyprune.graph.structure import describe, flatten

__all__ = ["EngineSegment", "InputCheck", "StructuredInputs", "TorchOp", "build", "flat_inputs", "schedule"]


class EngineSegment(nn.Module):
    """Nodes running whole on pyprune's engine: tensors in, a tuple of tensors out."""

    def __init__(self, graph: ir.Graph) -> None:
        super().__init__()
        self.graph = graph
        self.engine = engine.Engine(graph)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.engine(*[x.contiguous() for x in inputs])
        return out if isinstance(out, tuple) else (out,)

    def extra_repr(self) -> str:
        ops: dict[str, int] = {}
        for node in self.graph.nodes:
            ops[node.op] = ops.get(node.op, 0) + 1
        return f"{len(self.graph.nodes)} nodes: " + ", ".join(f"{op} x{n}" for op, n in ops.items())

    def __getstate__(self) -> dict[str, Any]:  # the compiled graph is rebuilt from the IR
        state = dict(self.__dict__)
        state.pop("engine")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.engine = engine.Engine(self.graph)


class TorchOp(nn.Module):
    """A node of the operator set run in torch (reference.OPS): when torch runs it faster or the
    engine does not take it."""

    def __init__(self, node: ir.Node) -> None:
        super().__init__()
        self.op, self.attrs = node.op, dict(node.attrs)

    def forward(self, *inputs: torch.Tensor) -> Any:
        out = reference.OPS[self.op](self.attrs, *inputs)
        return tuple(out) if isinstance(out, list) else out

    def extra_repr(self) -> str:
        return f"{self.op} {self.attrs}" if self.attrs else self.op


class InputCheck(nn.Module):
    """Refuses inputs of other shapes than the capture's (any batch with a dynamic batch): the
    model may have taken other paths for them."""

    def __init__(self, shapes: Sequence[tuple[int, ...]], dynamic_batch: bool) -> None:
        super().__init__()
        self.shapes, self.dynamic_batch = [tuple(s) for s in shapes], dynamic_batch

    def forward(self, *inputs: Any) -> None:
        for k, (x, want) in enumerate(zip(inputs, self.shapes)):
            got = tuple(getattr(x, "shape", ()))
            fits = len(got) == len(want) and (got[1:] == want[1:] if self.dynamic_batch else got == want)
            if not fits:
                wanted = ("(any batch, " + ", ".join(map(str, want[1:])) + ")") if self.dynamic_batch else str(want)
                raise ValueError(f"input {k} has shape {tuple(got)}, but the model was converted for shape {wanted}")

    def extra_repr(self) -> str:
        return f"shapes={self.shapes}, dynamic_batch={self.dynamic_batch}"


def flat_inputs(inputs: tuple) -> list[torch.Tensor]:
    """The tensors of a model's arguments in the order the graph takes them (lists, tuples and
    dicts flattened, as torch.export flattens them; the other leaves are constants of the
    capture)."""
    return [x for x in tree_flatten(inputs)[0] if isinstance(x, torch.Tensor)]


class StructuredInputs(nn.Module):
    """The converted graph, which takes the tensors of the arguments flattened, behind the
    model's own arguments (a list of frames, a dict of images, a number), as `structure`
    (capture/structures.py) says. Arguments of another structure, or other numbers than the
    capture's (which it fixed), are refused."""

    def __init__(self, converted: nn.Module, structure: Any) -> None:
        super().__init__()
        self.converted = converted
        self.structure = structure

    def forward(self, *inputs: Any) -> Any:
        return self.converted(*flatten(self.structure, inputs))

    def extra_repr(self) -> str:
        return f"arguments={describe(self.structure)}"


def schedule(nodes: Sequence[ir.Node], on_engine: Mapping[str, bool]) -> list[ir.Node]:
    """The nodes in an order that respects their dependencies and runs every engine node that
    is ready before any torch node: engine runs come out as long as they can be."""
    producer = {t: i for i, n in enumerate(nodes) for t in n.outputs}
    waiting = [len({producer[t] for t in n.inputs if t in producer}) for n in nodes]
    readers: dict[int, set[int]] = {}
    for i, n in enumerate(nodes):
        for t in n.inputs:
            if t in producer:
                readers.setdefault(producer[t], set()).add(i)
    ready: dict[bool, list[int]] = {True: [], False: []}
    for i, n in enumerate(nodes):
        if waiting[i] == 0:
            heapq.heappush(ready[on_engine[n.outputs[0]]], i)
    order = []
    while ready[True] or ready[False]:
        i = heapq.heappop(ready[True] or ready[False])
        order.append(nodes[i])
        for j in readers.get(i, ()):
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready[on_engine[nodes[j].outputs[0]]], j)
    return order


def _runs(order: Sequence[ir.Node], on_engine: Mapping[str, bool]) -> Iterable[tuple[bool, list[ir.Node]]]:
    """(on the engine, nodes): consecutive engine nodes together, torch nodes one by one."""
    run: list[ir.Node] = []
    for node in order:
        if on_engine[node.outputs[0]]:
            run.append(node)
            continue
        if run:
            yield True, run
            run = []
        yield False, [node]
    if run:
        yield True, run


class _Builder:
    def __init__(self, low: Lowered, shapes: Mapping[str, tuple[int, ...]]) -> None:
        self.low, self.shapes = low, shapes
        self.root = nn.Module()
        self.graph = fx.Graph()
        self.env: dict[str, fx.Node] = {}
        self.attributes = 0

    def attribute(self, value: Any, prefix: str) -> fx.Node:
        """A get_attr of `value` (a tensor becomes a buffer, anything else a plain attribute)."""
        name = f"{prefix}_{self.attributes}"
        self.attributes += 1
        if isinstance(value, torch.Tensor):
            self.root.register_buffer(name, value)
        else:
            setattr(self.root, name, value)
        return self.graph.get_attr(name)

    def value(self, name: str) -> fx.Node:
        if name not in self.env:
            constant = self.low.graph.constants[name]  # the only tensors nothing computes
            self.env[name] = self.attribute(torch.from_numpy(constant), "constant")
        return self.env[name]

    def literal(self, v: Any) -> Any:
        """A torch call's fixed argument, as fx can hold it."""
        if isinstance(v, torch.Tensor) or isinstance(v, nn.Module):
            return self.attribute(v, "tensor" if isinstance(v, torch.Tensor) else "module")
        if isinstance(v, (list, tuple)):
            return type(v)(self.literal(x) for x in v)
        return v

    def segment(self, nodes: list[ir.Node], later: set[str], index: int) -> None:
        g = self.low.graph
        defined = {t for n in nodes for t in n.outputs}
        inputs = [t for t in dict.fromkeys(t for n in nodes for t in n.inputs) if t not in defined and t not in g.constants]
        outputs = [t for n in nodes for t in n.outputs if t in later]
        constants = {t: g.constants[t] for n in nodes for t in n.inputs if t in g.constants}
        sub = ir.Graph([ir.TensorSpec(t, tuple(self.shapes[t])) for t in inputs], outputs, list(nodes), constants,
                       g.dynamic_batch)
        # The model's integer inputs come as they are (engine.float_inputs); the others as float32.
        given = dict(zip((spec.name for spec in g.inputs), g.input_dtypes or []))
        dtypes = [given.get(t, "float32") for t in inputs]
        sub.input_dtypes = None if all(d == "float32" for d in dtypes) else dtypes
        name = f"segment_{index}"
        self.root.add_module(name, EngineSegment(sub))
        call = self.graph.call_module(name, tuple(self.value(t) for t in inputs))
        for k, t in enumerate(outputs):
            self.env[t] = self.graph.call_function(operator.getitem, (call, k))

    def torch_node(self, node: ir.Node, index: int) -> None:
        call = self.low.calls.get(node.outputs[0])
        if call is not None:
            def fill(a: Any) -> Any:
                if isinstance(a, Input):
                    return self.value(node.inputs[a.index])
                if isinstance(a, (list, tuple)):
                    return type(a)(fill(x) for x in a)
                return self.literal(a)

            result = self.graph.call_function(call.target, fill(call.args), {k: fill(v) for k, v in call.kwargs.items()})
        else:
            name = f"torch_{index}_{node.op}"
            self.root.add_module(name, TorchOp(node))
            result = self.graph.call_module(name, tuple(self.value(t) for t in node.inputs))
        if len(node.outputs) == 1:
            self.env[node.outputs[0]] = result
        else:
            for k, t in enumerate(node.outputs):
                self.env[t] = self.graph.call_function(operator.getitem, (result, k))


def build(low: Lowered, on_engine: Mapping[str, bool], shapes: Mapping[str, tuple[int, ...]]) -> fx.GraphModule:
    """The fx module running `low`: nodes with on_engine[first output] in EngineSegments, the
    others in torch. `shapes` gives every tensor's shape on the example inputs."""
    b = _Builder(low, shapes)
    g = low.graph
    placeholders = [b.graph.placeholder(spec.name) for spec in g.inputs]
    b.root.add_module("check_inputs", InputCheck([spec.shape for spec in g.inputs], g.dynamic_batch))
    b.graph.call_module("check_inputs", tuple(placeholders))
    b.env.update(zip((spec.name for spec in g.inputs), placeholders))
    order = schedule(g.nodes, on_engine)
    runs = list(_runs(order, on_engine))
    segments = 0
    for k, (engine_run, nodes) in enumerate(runs):
        if engine_run:
            later = set(g.outputs) | {t for _, rest in runs[k + 1:] for n in rest for t in n.inputs}
            b.segment(nodes, later, segments)
            segments += 1
        else:
            b.torch_node(nodes[0], k)
    outputs = [b.value(t) for t in g.outputs]
    b.graph.output(tree_unflatten(outputs, low.out_spec) if low.out_spec is not None else tuple(outputs))
    module = fx.GraphModule(b.root, b.graph, class_name="Converted")
    module.eval()
    return module
