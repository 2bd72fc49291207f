"""The channel dependency graph of a model, found on the graph torch.export captures.

The model is captured as convert captures it (pyprune.capture.export) and its ATen graph is
run once on the example inputs; beside every tensor runs a tensor of channel ids (see
pyprune.prune.rules, one rule per operator). A convolution or linear layer gives its outputs the
ids of its weight's rows; BatchNorm, depthwise convolutions, activations and pooling carry their
input's ids through; concatenation, split, slicing, views and permutes move them as they move
the data. Wherever channels meet (a residual addition, a squeeze-excitation product, a grouped
convolution's groups, a parameter scaling them), ids are merged (union-find). A merged set of
ids is one pruning unit: those channels go together or not at all. Ids that reach the model's
input or output, or an operator no rule understands, are blocked, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.fx as fx
from torch import nn
from torch.export.graph_signature import InputKind
from torch.utils._pytree import tree_flatten

from pyprune.capture.export import CaptureError, capture
from pyprune.modes import evaluating
from pyprune.prune.errors import PruningError
from pyprune.prune.pruners import ModulePruner, pruner_for
from pyprune.prune.rules import OpCall, blocking, rule_for

# Why the channels of the model's own inputs and outputs are never pruned.
INPUT = "its channels come from the model input"
OUTPUT = "its channels reach the model output"
# torch.nn modules whose forward checks their parameters' sizes against attributes pruning does
# not change (nn.MultiheadAttention's embed_dim, a recurrent layer's input and hidden sizes):
# every channel they touch stays.
_SIZED_MODULES = (nn.MultiheadAttention, nn.RNNBase)

__all__ = ["INPUT", "OUTPUT", "Bound", "ChannelGraph", "LayerUse", "PruningGroup", "capture_for_pruning", "placeholder_values",
           "trace_channels"]


@dataclass
class LayerUse:
    """A layer with a registered pruner as the trace saw it: ids of its input channels and of
    its output channels (a follower's outputs are its inputs). `uses`: multiply-accumulates of
    each weight per example (output positions times the kernel area, per input/output pair)."""

    name: str
    module: nn.Module
    pruner: ModulePruner
    in_ids: np.ndarray
    out_ids: np.ndarray
    uses: int = 0
    depthwise: bool = False

    @property
    def follows_input(self) -> bool:
        return self.pruner.follows_input


@dataclass
class Bound:
    """An int attribute of a module, or entry `index` of a list or tuple attribute, that must
    become the number of kept channels among `ids` (a slice bound or split size written in the
    model's code), negated when `negative` (a bound counted from the end, written as a negative
    number)."""

    module: str
    attribute: str
    ids: np.ndarray
    negative: bool = False
    index: int | None = None


@dataclass
class PruningGroup:
    """Layers whose output channels are coupled, and their pruning units: each unit lists the
    (layer, output channel) pairs removed together. `inputs`: for each layer reading some of the
    units, the units it reads (indices), so that none loses every input channel (a layer
    reading a split's part may read units no layer's best output is among)."""

    layers: list[str]
    units: list[list[tuple[str, int]]]
    unit_roots: list[int]
    blocked: dict[int, str] = field(default_factory=dict)  # unit index -> why it cannot go
    inputs: list[list[int]] = field(default_factory=list)


class ChannelGraph:
    """Channel ids, their merges and blocks, the layers and parameters that use them."""

    def __init__(self, modules: dict[str, nn.Module] | None = None) -> None:
        self.parent: list[int] = []
        self.blocks: list[tuple[int, str]] = []
        self.layers: dict[str, LayerUse] = {}
        self.params: dict[str, dict[int, np.ndarray]] = {}  # state_dict name -> dim -> ids
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.scales: set[str] = set()  # parameters used as a BatchNorm's scale
        self.biases: set[str] = set()  # parameters added to the channels of a layer's output
        self.depthwise: set[str] = set()  # weights of depthwise convolutions (a filter per channel)
        self.bounds: list[Bound] = []
        self.left_whole: dict[str, tuple[int, str]] = {}  # layer -> (output channels, why it is not pruned)
        self.modules = modules or {}

    # union-find over ids
    def new_ids(self, n: int, blocked: str | None = None) -> np.ndarray:
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        ids = np.arange(start, start + n, dtype=np.int64)
        if blocked is not None:
            self.block(ids, blocked)
        return ids

    def find(self, e: int) -> int:
        root = e
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[e] != root:
            self.parent[e], e = root, self.parent[e]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(int(a)), self.find(int(b))
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def union_all(self, a: np.ndarray, b: np.ndarray) -> None:
        for x, y in zip(a.tolist(), b.tolist()):
            self.union(x, y)

    def block(self, ids: Iterable[int], reason: str) -> None:
        self.blocks.extend((int(e), reason) for e in ids)

    def blocked_roots(self) -> dict[int, str]:
        roots: dict[int, str] = {}
        for e, reason in self.blocks:
            roots.setdefault(self.find(e), reason)
        return roots

    def roots(self, ids: np.ndarray) -> np.ndarray:
        return np.fromiter((self.find(e) for e in ids.tolist()), np.int64, len(ids))

    # what the rules record
    def parameter_ids(self, name: str, dim: int, size: int) -> np.ndarray:
        """The ids of dimension `dim` of parameter (or buffer) `name`, made on first use."""
        dims = self.params.setdefault(name, {})
        if dim not in dims:
            dims[dim] = self.new_ids(size)
        return dims[dim]

    def use_layer(self, weight: str, in_ids: np.ndarray, out_ids: np.ndarray, uses: int, groups: int) -> None:
        """A convolution or linear layer ran with parameter `weight`."""
        depthwise = groups > 1 and groups == len(in_ids)
        if depthwise:
            self.depthwise.add(weight)
        self._use(weight, in_ids, out_ids, uses, depthwise)

    def use_norm(self, name: str, ids: np.ndarray, scale: str | None) -> None:
        """A BatchNorm ran with parameter or buffer `name` on channels `ids`."""
        if scale is not None:
            self.scales.add(scale)
        self._use(name, ids, ids, 0, False)

    def _use(self, parameter: str, in_ids: np.ndarray, out_ids: np.ndarray, uses: int, depthwise: bool) -> None:
        owner = parameter.rpartition(".")[0]
        module = self.modules.get(owner)
        pruner = pruner_for(module) if module is not None else None
        # Its outputs cannot be cut, its inputs can (a depthwise one's outputs are its inputs).
        if module is not None and pruner is None and uses and not depthwise:
            self.leave_whole(owner, len(out_ids), f"{type(module).__name__} has no pruner (register_pruner teaches one)")
        if pruner is None or pruner.in_channels(module) != len(in_ids) or pruner.out_channels(module) != len(out_ids):
            return  # its parameters are cut one by one
        previous = self.layers.get(owner)
        if previous is not None:  # a layer called twice sees the same channels both times
            self.union_all(previous.in_ids, in_ids)
            return
        self.layers[owner] = LayerUse(owner, module, pruner, in_ids, out_ids, uses, depthwise)

    def leave_whole(self, layer: str, channels: int, reason: str) -> None:
        """A layer pruning cannot cut (no pruning unit of its own): the report lists it."""
        self.left_whole.setdefault(layer, (channels, reason))

    def add_bound(self, module: str, attribute: str, ids: np.ndarray, negative: bool = False,
                  index: int | None = None) -> None:
        """Record a bound; an attribute that bounds several tensors' channels (IMDN's split
        sizes, one pair for three splits) holds one count for all, so they lose the same
        positions."""
        for other in self.bounds:
            if (other.module, other.attribute, other.index) == (module, attribute, index) and len(other.ids) == len(ids):
                self.union_all(other.ids, ids)
        self.bounds.append(Bound(module, attribute, ids, negative, index))

    def block_module(self, name: str, reason: str) -> None:
        """Block every channel a module (and its submodules) touches."""
        inside = (name + ".") if name else ""
        for use in self.layers.values():
            if use.name == name or use.name.startswith(inside):
                self.block(np.concatenate([use.in_ids, use.out_ids]), reason)
        for param, dims in self.params.items():
            if param.startswith(inside):
                for ids in dims.values():
                    self.block(ids, reason)

    # reading the result
    def groups(self) -> list[PruningGroup]:
        """Coupled layers and their pruning units, in the order the layers were traced."""
        members: dict[int, list[tuple[str, int]]] = {}
        for use in self.layers.values():
            if not use.follows_input:
                for position, e in enumerate(use.out_ids.tolist()):
                    members.setdefault(self.find(e), []).append((use.name, position))
        owner: dict[str, str] = {}

        def top(name: str) -> str:
            while owner.get(name, name) != name:
                name = owner[name]
            return name

        for unit in members.values():
            first = top(unit[0][0])
            for layer, _ in unit[1:]:
                other = top(layer)
                if other != first:
                    owner[other] = first
        blocked = self.blocked_roots()
        by_top: dict[str, PruningGroup] = {}
        order = {name: i for i, name in enumerate(self.layers)}
        for root, unit in members.items():
            group = by_top.setdefault(top(unit[0][0]), PruningGroup([], [], []))
            if root in blocked:
                group.blocked[len(group.units)] = blocked[root]
            group.units.append(unit)
            group.unit_roots.append(root)
            for layer, _ in unit:
                if layer not in group.layers:
                    group.layers.append(layer)
        for group in by_top.values():
            group.layers.sort(key=order.__getitem__)
        unit_of = {root: (group, i) for group in by_top.values() for i, root in enumerate(group.unit_roots)}
        for use in self.layers.values():  # a follower's (a norm's) inputs are its outputs
            read: dict[int, tuple[PruningGroup, set[int]]] = {}
            for root in self.roots(use.in_ids).tolist():
                if root in unit_of:
                    group, i = unit_of[root]
                    read.setdefault(id(group), (group, set()))[1].add(i)
            for group, units in read.values():
                group.inputs.append(sorted(units))
        return sorted(by_top.values(), key=lambda g: order[g.layers[0]])

    def layer_reasons(self, name: str) -> list[str]:
        """Why the channels a layer touches are blocked (empty if none is)."""
        use = self.layers[name]
        blocked = self.blocked_roots()
        roots = {self.find(e) for e in np.concatenate([use.in_ids, use.out_ids]).tolist()}
        return sorted({blocked[r] for r in roots if r in blocked})


def _flat(value: Any) -> list[Any]:
    return tree_flatten(value)[0] if isinstance(value, (list, tuple, dict)) else [value]


def placeholder_values(program: torch.export.ExportedProgram, example_inputs: Sequence[Any]) -> list[tuple]:
    """(placeholder, value, kind, state_dict name or None) of every input of the captured
    graph, in order: parameters, buffers and constants, then the user inputs."""
    leaves = iter(tree_flatten(tuple(example_inputs))[0])
    kinds = {spec.arg.name: spec for spec in program.graph_signature.input_specs if hasattr(spec.arg, "name")}
    result = []
    for node in program.graph_module.graph.nodes:
        if node.op != "placeholder":
            continue
        spec = kinds[node.name]
        if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER):
            value = program.state_dict.get(spec.target)
            result.append((node, value if value is not None else program.constants[spec.target], spec.kind,
                           spec.target))
        elif spec.kind == InputKind.CONSTANT_TENSOR:
            result.append((node, program.constants[spec.target], spec.kind, None))
        elif spec.kind == InputKind.USER_INPUT:
            result.append((node, next(leaves), spec.kind, None))
        else:
            raise PruningError(f"the captured model has an input of kind {spec.kind.name}, which pruning does not take")
    return result


def capture_for_pruning(model: nn.Module, example_inputs: Sequence[Any]) -> torch.export.ExportedProgram:
    """The model's graph as convert captures it (call in eval mode); PruningError if it cannot."""
    try:
        return capture(model, tuple(example_inputs)).program
    except CaptureError as e:
        raise PruningError(f"pruning needs a model torch.export can capture: {e}") from e


class _Tracer(fx.Interpreter):
    """Runs the captured graph on real inputs and, node by node, the channel ids of its tensors."""

    def __init__(self, model: nn.Module, program: torch.export.ExportedProgram, graph: ChannelGraph) -> None:
        super().__init__(program.graph_module)
        self.model = model
        self.channels = graph
        self.ids: dict[fx.Node, Any] = {}
        self.origins: dict[fx.Node, str] = {}
        self.parameters: dict[fx.Node, str] = {}  # placeholder -> state_dict name
        self.program = program

    def inputs(self, example_inputs: Sequence[Any]) -> list[Any]:
        """The placeholders' values: parameters, buffers and constants, then the user inputs."""
        values = []
        for node, value, kind, name in placeholder_values(self.program, example_inputs):
            values.append(value)
            if kind in (InputKind.PARAMETER, InputKind.BUFFER):
                self.parameters[node] = name
            else:
                self.origins[node] = "the model input" if kind == InputKind.USER_INPUT else "a constant tensor"
        return values

    # for the rules
    def ids_of(self, node: Any) -> Any:
        return self.ids.get(node) if isinstance(node, fx.Node) else None

    def module_of(self, node: fx.Node) -> str | None:
        stack = node.meta.get("nn_module_stack")
        if not stack:
            return ""
        path = list(stack.values())[-1][0]
        return path if isinstance(path, str) and path in self.channels.modules else None

    def describe(self, node: fx.Node) -> str:
        target = node.target
        label = str(target) if isinstance(target, torch._ops.OpOverload) else getattr(target, "__name__", str(target))
        path = self.module_of(node)
        where = f" in layer {path!r} ({type(self.channels.modules[path]).__name__})" if path else ""
        return f"{label} (node {node.name!r}){where}"

    def describe_value(self, node: fx.Node) -> str:
        return self.origins.get(node) or f"the output of {self.describe(node)}"

    # the walk
    def run_node(self, n: fx.Node) -> Any:
        value = super().run_node(n)
        if n.op == "placeholder":
            name = self.parameters.get(n)
            if name is not None and isinstance(value, torch.Tensor):
                self.channels.shapes[name] = tuple(value.shape)
                tracked = [d for d, s in enumerate(value.shape) if s > 1]
                if len(tracked) == 1:  # a vector of per-channel values (a scale, a bias)
                    d = tracked[0]
                    ids = self.channels.parameter_ids(name, d, value.shape[d])
                    self.ids[n] = torch.from_numpy(ids).reshape([-1 if i == d else 1 for i in range(value.dim())])
        elif n.op == "call_function":
            self._call(n, value)
        elif n.op == "output":
            for node in _flat(n.args[0]):
                ids = self.ids_of(node)
                for part in ids if isinstance(ids, list) else [ids]:
                    if part is not None:
                        self.channels.block(part.flatten().tolist(), OUTPUT)
        return value

    def _call(self, n: fx.Node, value: Any) -> None:
        op = OpCall(self, n, value)
        rule = rule_for(n.target)
        if rule is None:
            if not any(isinstance(v, torch.Tensor) for v in _flat(value)):
                return  # shape arithmetic and checks
            rule = blocking
        ids = rule(op)
        for _, node in op.tensor_args():  # parameters used in ways the rule did not follow
            name = self.parameters.get(node)
            if name is not None and name not in op.bound and node not in self.ids:
                for d, size in enumerate(self.env[node].shape):
                    self.channels.block(self.channels.parameter_ids(name, d, size),
                                     f"parameter {name!r} is used by {op.describe()} in a way pruning does not follow")
        if ids is not None:
            self.ids[n] = ids
        elif rule is blocking:
            self.origins[n] = f"the output of {op.describe()}, which pruning does not understand"


def trace_channels(model: nn.Module, example_inputs: Sequence[Any]) -> ChannelGraph:
    """The channel graph of `model` on `example_inputs` (a tuple of inputs). The model is
    captured with torch.export and run once in eval mode under no_grad; its training flags
    are restored."""
    graph = ChannelGraph(dict(model.named_modules()))
    with evaluating(model), torch.no_grad():
        tracer = _Tracer(model, capture_for_pruning(model, example_inputs), graph)
        try:
            tracer.run(*tracer.inputs(example_inputs))
        except PruningError:
            raise
        except Exception as e:
            raise PruningError(f"the model failed on the example inputs while tracing channels: {e}") from e
    for name, module in graph.modules.items():
        if isinstance(module, _SIZED_MODULES):
            graph.block_module(name, f"{type(module).__name__} {name!r} checks its sizes against attributes "
                               "pruning does not change")
    return graph
