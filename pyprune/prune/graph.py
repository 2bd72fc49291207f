"""The channel dependency graph of a model, found by running it under torch.fx.

Every channel of every intermediate tensor carries an element id. A convolution or linear
layer creates fresh ids for its outputs; BatchNorm, depthwise convolutions, activations and
pooling carry their input's ids through; torch.cat concatenates them; reshapes (flatten,
the view/transpose/reshape of a channel shuffle) move them exactly as they move the data,
found by applying the same operation to a tensor of ids. Wherever two tensors meet
element-wise (a residual addition), or a grouped convolution needs the same positions of
every group, ids are merged (union-find). A merged set of ids is one pruning unit: those
channels are removed together or not at all. Ids that reach the model's input or output, or
an operation this module does not understand, are blocked, with the reason.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from pyprune.prune.errors import PruningError
from pyprune.modes import evaluating
from pyprune.prune.pruners import ModulePruner, pruner_for

__all__ = ["ChannelGraph", "LayerUse", "PruningGroup", "symbolic_trace", "trace_channels"]

# Layers and functions that act on each channel on its own: ids pass through.
_CHANNELWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish, nn.Hardsigmoid,
    nn.Sigmoid, nn.Tanh, nn.Identity, nn.Dropout, nn.Dropout2d, nn.AlphaDropout,
    nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Upsample, nn.ZeroPad2d,
)
_CHANNELWISE_FUNCTIONS = {
    torch.relu, F.relu, F.relu6, F.hardtanh, F.leaky_relu, F.elu, F.gelu, F.silu, F.hardswish, F.hardsigmoid,
    torch.sigmoid, torch.tanh, F.sigmoid, F.tanh, F.dropout, F.max_pool2d, F.avg_pool2d,
    F.adaptive_avg_pool2d, F.adaptive_max_pool2d, F.interpolate, torch.clamp, F.pad,
}
_CHANNELWISE_METHODS = {
    "relu", "relu_", "sigmoid", "tanh", "clamp", "clamp_", "contiguous", "clone", "detach", "float", "to",
}
_ELEMENTWISE_FUNCTIONS = {
    operator.add, operator.iadd, operator.sub, operator.mul, operator.imul, operator.truediv,
    torch.add, torch.sub, torch.mul, torch.div, torch.maximum, torch.minimum,
}
_ELEMENTWISE_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_"}
_CONCATENATIONS = {torch.cat, torch.concat}
_RESHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.transpose, torch.permute, torch.squeeze, torch.unsqueeze}
_RESHAPE_METHODS = {"view", "reshape", "flatten", "transpose", "permute", "squeeze", "unsqueeze"}
_REDUCTION_METHODS = {"mean", "sum", "amax", "amin"}
_REDUCTION_FUNCTIONS = {torch.mean, torch.sum, torch.amax, torch.amin}


@dataclass
class LayerUse:
    """A registered layer as the trace saw it: element ids of its input channels and, for a
    layer that starts a channel space, of its outputs (a follower's outputs are its inputs)."""

    name: str
    module: nn.Module
    pruner: ModulePruner
    in_ids: np.ndarray
    out_ids: np.ndarray

    @property
    def follows_input(self) -> bool:
        return self.pruner.follows_input


@dataclass
class PruningGroup:
    """Layers whose output channels are coupled, and their pruning units: each unit lists the
    (layer, output channel) pairs removed together."""

    layers: list[str]
    units: list[list[tuple[str, int]]]
    unit_roots: list[int]
    blocked: dict[int, str] = field(default_factory=dict)  # unit index -> why it cannot go


@dataclass
class _Compact:
    """Ids along dimension 1 (the channel dimension), the same at every other position."""

    ids: np.ndarray


@dataclass
class _Full:
    """Ids at every position of a tensor whose channels are spread over several dimensions
    (the middle of a channel shuffle)."""

    ids: torch.Tensor


class ChannelGraph:
    """Element ids, their merges and blocks, and the layers that use them."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.blocks: list[tuple[int, str]] = []
        self.layers: dict[str, LayerUse] = {}

    # union-find over element ids
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

    def union_groups(self, ids: np.ndarray, groups: int) -> None:
        """Tie the same position of every group together (grouped convolutions)."""
        if groups > 1:
            per_group = ids.reshape(groups, -1)
            for g in range(1, groups):
                self.union_all(per_group[0], per_group[g])

    def block(self, ids: Iterable[int], reason: str) -> None:
        self.blocks.extend((int(e), reason) for e in ids)

    def blocked_roots(self) -> dict[int, str]:
        roots: dict[int, str] = {}
        for e, reason in self.blocks:
            roots.setdefault(self.find(e), reason)
        return roots

    def groups(self) -> list[PruningGroup]:
        """Coupled layers and their pruning units, in the order the layers were traced."""
        members: dict[int, list[tuple[str, int]]] = {}
        for use in self.layers.values():
            if not use.follows_input:
                for position, e in enumerate(use.out_ids.tolist()):
                    members.setdefault(self.find(e), []).append((use.name, position))
        # Layers sharing any unit form one group.
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
        return sorted(by_top.values(), key=lambda g: order[g.layers[0]])

    def layer_reasons(self, name: str) -> list[str]:
        """Why the channels a layer touches are blocked (empty if none is)."""
        use = self.layers[name]
        blocked = self.blocked_roots()
        roots = {self.find(e) for e in np.concatenate([use.in_ids, use.out_ids]).tolist()}
        return sorted({blocked[r] for r in roots if r in blocked})


def _flat_tensors(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat_tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flat_tensors(v)]
    return [value]


class _ChannelInterpreter(fx.Interpreter):
    """Runs the model on real inputs and, node by node, the element ids of its channels."""

    def __init__(self, gm: fx.GraphModule, graph: ChannelGraph) -> None:
        super().__init__(gm, garbage_collect_values=False)
        self.channels = graph
        self.ids: dict[fx.Node, _Compact | _Full] = {}
        self.modules = dict(gm.named_modules())

    def run_node(self, n: fx.Node) -> Any:
        value = super().run_node(n)
        state = self._propagate(n, value)
        if state is not None:
            self.ids[n] = state
        elif isinstance(value, torch.Tensor) and value.dim() >= 1 and n.op != "output":
            reason = f"its channels are made by {_describe(n)}"
            self.ids[n] = _Compact(self.channels.new_ids(_channels(value), blocked=reason))
        return value

    # helpers
    def _inputs(self, n: fx.Node) -> list[fx.Node]:
        return [a for a in n.all_input_nodes if a in self.ids]

    def _block_inputs(self, n: fx.Node, reason: str) -> None:
        for a in self._inputs(n):
            self.channels.block(self._all_ids(a), reason)

    def _all_ids(self, node: fx.Node) -> np.ndarray:
        state = self.ids[node]
        return state.ids if isinstance(state, _Compact) else np.unique(state.ids.numpy())

    def _compact(self, node: Any) -> np.ndarray | None:
        state = self.ids.get(node) if isinstance(node, fx.Node) else None
        return state.ids if isinstance(state, _Compact) else None

    def _full(self, node: fx.Node) -> torch.Tensor:
        state = self.ids[node]
        if isinstance(state, _Full):
            return state.ids
        shape = self.env[node].shape
        ids = torch.from_numpy(state.ids)
        return ids.reshape(1, -1, *([1] * (len(shape) - 2))).expand(shape).contiguous() if len(shape) >= 2 \
            else ids.reshape(shape)

    def _unknown(self, n: fx.Node) -> None:
        self._block_inputs(n, f"its channels pass through {_describe(n)}, which pruning does not understand")

    # the rules
    def _propagate(self, n: fx.Node, value: Any) -> _Compact | _Full | None:
        if n.op == "placeholder":
            if not isinstance(value, torch.Tensor) or value.dim() < 1:
                return None
            return _Compact(self.channels.new_ids(_channels(value), "its channels come from the model input"))
        if n.op == "get_attr":
            return None  # a tensor attribute: fresh blocked ids (run_node)
        if n.op == "output":
            self._block_inputs(n, "its channels reach the model output")
            return None
        if not isinstance(value, torch.Tensor):
            if any(isinstance(v, torch.Tensor) for v in _flat_tensors(value)):
                self._unknown(n)
            return None  # shape queries and the like
        if n.op == "call_module":
            return self._module(n, self.modules[n.target], value)
        target = n.target
        is_method = n.op == "call_method"
        if (target in _CHANNELWISE_METHODS) if is_method else (target in _CHANNELWISE_FUNCTIONS):
            return self._channelwise(n, value)
        if (target in _ELEMENTWISE_METHODS) if is_method else (target in _ELEMENTWISE_FUNCTIONS):
            return self._elementwise(n, value)
        if not is_method and target in _CONCATENATIONS:
            return self._concatenate(n, value)
        if (target in _RESHAPE_METHODS) if is_method else (target in _RESHAPE_FUNCTIONS):
            return self._reshape(n, value)
        if (target in _REDUCTION_METHODS) if is_method else (target in _REDUCTION_FUNCTIONS):
            return self._reduction(n, value)
        self._unknown(n)
        return None

    def _module(self, n: fx.Node, module: nn.Module, value: torch.Tensor) -> _Compact | _Full | None:
        if isinstance(module, nn.Flatten):
            return self._reshape(n, value)
        pruner = pruner_for(module)
        if pruner is None:
            if isinstance(module, _CHANNELWISE_MODULES):
                return self._channelwise(n, value)
            self._block_inputs(n, f"its channels pass through layer {n.target!r} ({type(module).__name__}), "
                                  "which pruning does not understand; register_pruner teaches it")
            return None
        source = n.args[0] if n.args else None
        in_ids = self._compact(source)
        x = self.env.get(source) if isinstance(source, fx.Node) else None
        channel_dim = pruner.channel_dim_of_input(module) % x.dim() if isinstance(x, torch.Tensor) and x.dim() else -1
        if len(n.all_input_nodes) != 1 or in_ids is None or channel_dim != 1 or \
                len(in_ids) != pruner.in_channels(module) or _channels(value) != pruner.out_channels(module):
            self._block_inputs(n, f"its channels reach layer {n.target!r} ({type(module).__name__}) used in a way "
                                  "pruning does not follow (channels not in dimension 1, or extra inputs)")
            return None
        graph = self.channels
        previous = graph.layers.get(n.target)
        if previous is not None:  # a shared layer: both calls see the same channels
            graph.union_all(previous.in_ids, in_ids)
            return _Compact(previous.out_ids)
        if pruner.follows_input:
            out_ids = in_ids
        else:
            graph.union_groups(in_ids, pruner.groups(module))
            out_ids = graph.new_ids(pruner.out_channels(module))
            graph.union_groups(out_ids, pruner.groups(module))
        graph.layers[n.target] = LayerUse(n.target, module, pruner, in_ids, out_ids)
        return _Compact(out_ids)

    def _channelwise(self, n: fx.Node, value: torch.Tensor) -> _Compact | None:
        source = n.args[0] if n.args else None
        ids = self._compact(source)
        if ids is None or value.dim() < 2 or len(ids) != value.shape[1]:
            self._unknown(n)
            return None
        return _Compact(ids)

    def _elementwise(self, n: fx.Node, value: torch.Tensor) -> _Compact | None:
        if value.dim() < 2:
            self._unknown(n)
            return None
        channels = value.shape[1]
        aligned: list[np.ndarray] = []
        for a in n.args:
            x = self.env.get(a) if isinstance(a, fx.Node) else a
            if not isinstance(x, torch.Tensor) or x.dim() <= value.dim() - 2 or \
                    (x.dim() == value.dim() and x.shape[1] == 1 and channels != 1):
                continue  # a scalar, or broadcast along other dimensions than the channels
            ids = self._compact(a)
            if ids is None or x.dim() != value.dim() or len(ids) != channels:
                self._unknown(n)
                return None
            aligned.append(ids)
        if not aligned:
            self._unknown(n)
            return None
        for other in aligned[1:]:
            self.channels.union_all(aligned[0], other)
        return _Compact(aligned[0])

    def _concatenate(self, n: fx.Node, value: torch.Tensor) -> _Compact | None:
        tensors = n.args[0] if n.args else n.kwargs.get("tensors")
        dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
        parts = [self._compact(t) for t in tensors] if isinstance(tensors, (list, tuple)) else [None]
        if any(p is None for p in parts) or value.dim() < 2:
            self._unknown(n)
            return None
        if dim % value.dim() == 1:
            return _Compact(np.concatenate(parts))
        for p in parts[1:]:
            self.channels.union_all(parts[0], p)
        return _Compact(parts[0])

    def _reshape(self, n: fx.Node, value: torch.Tensor) -> _Compact | _Full | None:
        source = n.args[0] if n.args else None
        if not isinstance(source, fx.Node) or source not in self.ids:
            self._unknown(n)
            return None
        ids = self._full(source)
        args = fx.node.map_arg(n.args[1:], lambda a: self.env[a])
        kwargs = fx.node.map_arg(n.kwargs, lambda a: self.env[a])
        if n.op == "call_module":
            moved = self.modules[n.target](ids)
        elif n.op == "call_method":
            moved = getattr(ids, n.target)(*args, **kwargs)
        else:
            moved = n.target(ids, *args, **kwargs)
        if moved.dim() >= 2:
            rows = moved.transpose(0, 1).reshape(moved.shape[1], -1)
            if bool((rows == rows[:, :1]).all()):
                return _Compact(rows[:, 0].numpy().copy())
        return _Full(moved)

    def _reduction(self, n: fx.Node, value: torch.Tensor) -> _Compact | None:
        source = n.args[0] if n.args else None
        x = self.env.get(source) if isinstance(source, fx.Node) else None
        dims = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
        dims = (dims,) if isinstance(dims, int) else dims
        if not isinstance(x, torch.Tensor) or dims is None or {d % x.dim() for d in dims} & {0, 1} \
                or value.dim() < 2 or value.shape[1] != x.shape[1]:
            self._unknown(n)
            return None
        return self._channelwise(n, value)


def _channels(value: torch.Tensor) -> int:
    return value.shape[1] if value.dim() >= 2 else value.shape[0]


def _describe(n: fx.Node) -> str:
    if n.op == "call_module":
        return f"layer {n.target!r}"
    name = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))
    return f"{'method' if n.op == 'call_method' else 'function'} {name!r} (node {n.name!r})"


class _Tracer(fx.Tracer):
    """torch.fx's tracer, keeping every layer with a registered pruner whole (a leaf), as it
    does torch.nn's own layers."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return pruner_for(m) is not None or super().is_leaf_module(m, module_qualified_name)


def symbolic_trace(model: nn.Module) -> fx.GraphModule:
    """`model` as a torch.fx graph whose leaves include registered layer types."""
    try:
        return fx.GraphModule(model, _Tracer().trace(model))
    except Exception as e:  # torch.fx raises many kinds on untraceable code
        raise PruningError(f"pruning needs a model torch.fx can trace; tracing failed: {e}") from e


def trace_channels(model: nn.Module, example_inputs: Sequence[Any]) -> ChannelGraph:
    """The channel graph of `model` on `example_inputs` (a tuple of inputs). The model runs
    once in eval mode under no_grad; its training flags are restored."""
    gm = symbolic_trace(model)
    graph = ChannelGraph()
    try:
        with evaluating(model), torch.no_grad():
            _ChannelInterpreter(gm, graph).run(*example_inputs)
    except PruningError:
        raise
    except Exception as e:
        raise PruningError(f"the model failed on the example inputs while tracing channels: {e}") from e
    return graph
