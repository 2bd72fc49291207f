"""Channel rules: how each operator of a captured graph moves, merges or consumes channels.

Every tensor in the graph carries channel ids: an int64 tensor broadcastable to the tensor
(size 1 along the dimensions that carry no channels), giving the id of the channel each element
belongs to; None when its channels are nobody's (the model input, constants, the output of an
operator pruning does not understand). A rule receives an OpCall (the node, its argument
values and ids, the graph being built) and returns the output's ids (a list for operators with
several outputs). Rules merge ids that must be removed together (`union`), bind parameters to
the ids of the dimension they meet (`bind`), and block ids they cannot follow (`block`).

Teach pruning a custom operator in one line when it acts on each element or channel on its own:

    >>> register_channel_rule("mylib::scaled_relu", elementwise)

or write a rule (a function of an OpCall) for anything else; an operator without a rule blocks
the channels of its inputs, and the report says which node did.
"""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING, Any, Callable, Union

import numpy as np
import torch
import torch.fx as fx
from torch import nn

from pyprune.capture.lower import bind_schema
from pyprune.prune.pruners import pruner_for
from pyprune.prune.weight_norm import is_weight_normalised

if TYPE_CHECKING:
    from pyprune.prune.graph import ChannelGraph

__all__ = [
    "ChannelRule",
    "OpCall",
    "blocking",
    "elementwise",
    "moves",
    "register_channel_rule",
    "rule_for",
]

Ids = Union[torch.Tensor, None]


class OpCall:
    """One node of the captured graph as its rule sees it."""

    def __init__(self, tracer: Any, node: fx.Node, value: Any) -> None:
        self.node = node
        self.value = value  # the node's real output
        self.graph: ChannelGraph = tracer.channels
        self._tracer = tracer
        target = node.target
        args = fx.node.map_arg(node.args, tracer.env.__getitem__)
        kwargs = fx.node.map_arg(node.kwargs, tracer.env.__getitem__)
        # Arguments by schema name (defaults filled in) for ATen ops; by position otherwise.
        self.args: dict[Any, Any] = bind_schema(target, tuple(args), dict(kwargs)) \
            if isinstance(target, torch._ops.OpOverload) else dict(enumerate(args))
        self._nodes: dict[Any, Any] = bind_schema(target, tuple(node.args), dict(node.kwargs)) \
            if isinstance(target, torch._ops.OpOverload) else dict(enumerate(node.args))
        self.bound: set[str] = set()  # parameters a rule has bound (the others get blocked)

    # ---- reading the inputs --------------------------------------------------------------

    def ids(self, key: Any) -> Ids:
        """The ids of argument `key` (schema name or position), None if it carries none."""
        arg = self._nodes.get(key)
        return self._tracer.ids_of(arg) if isinstance(arg, fx.Node) else None

    def tensor_args(self) -> list[tuple[Any, Any]]:
        """(key, fx node) of every tensor argument, lists flattened."""
        found = []
        for key, arg in self._nodes.items():
            for a in (arg if isinstance(arg, (list, tuple)) else [arg]):
                if isinstance(a, fx.Node) and isinstance(self._tracer.env.get(a), torch.Tensor):
                    found.append((key, a))
        return found

    def parameter(self, key: Any) -> str | None:
        """The state_dict name of argument `key` when it is a parameter or buffer itself, or a
        cast of one to its own dtype (Whisper's F.linear(x, self.weight.to(x.dtype)))."""
        arg = self._nodes.get(key)
        while isinstance(arg, fx.Node) and _same_dtype_cast(arg):
            arg = arg.args[0]
        return self._tracer.parameters.get(arg) if isinstance(arg, fx.Node) else None

    def layer_weight(self, key: Any) -> str | None:
        """The name of a layer's weight argument `key`: the parameter's, or "layer.weight" when
        the running layer's weight is weight-normalised (pruning cuts it through g and v)."""
        name = self.parameter(key)
        arg = self._nodes.get(key)
        if name is not None or not isinstance(arg, fx.Node) or arg.target is not aten._weight_norm.default:
            return name
        found = _running_module(self)
        v = self._tracer.parameters.get(arg.args[0])
        if found is None or not found[0] or not is_weight_normalised(found[1], "weight") \
                or v is None or not v.startswith(found[0] + "."):
            return None
        return f"{found[0]}.weight"

    def origin(self, key: Any) -> str:
        """What made argument `key`, for messages."""
        arg = self._nodes.get(key)
        return self._tracer.describe_value(arg) if isinstance(arg, fx.Node) else "a constant"

    def along(self, key: Any, axis: int, why: str) -> np.ndarray:
        """The ids of argument `key` along `axis`, one per position. Ids the argument carries
        along other dimensions are blocked with `why` (the operator mixes them); an argument
        without ids gets fresh blocked ones."""
        x = self.args[key]
        axis %= x.dim()
        ids = self.ids(key)
        if ids is not None and any(ids.shape[d] > 1 for d in range(ids.dim()) if d != axis):
            self.graph.block(ids.flatten().tolist(), why)
            ids = None
        if ids is None:
            origin = self.origin(key)
            return self.graph.new_ids(x.shape[axis], blocked="its channels come from the model input"
                                      if origin == "the model input" else f"its channels come from {origin}")
        return ids.reshape(-1).expand(x.shape[axis]).numpy().copy()

    # ---- acting on the graph ----------------------------------------------------------------

    def describe(self) -> str:
        return self._tracer.describe(self.node)

    def block(self, ids: Ids, reason: str) -> None:
        if ids is not None:
            self.graph.block(ids.flatten().tolist(), reason)

    def union(self, a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> None:
        """Merge the ids of `a` and `b` position by position (broadcasting)."""
        a, b = torch.broadcast_tensors(torch.as_tensor(a), torch.as_tensor(b))
        pairs = torch.unique(torch.stack([a.reshape(-1), b.reshape(-1)], 1), dim=0)
        for x, y in pairs.tolist():
            self.graph.union(x, y)

    def bind(self, key: Any, dim: int, ids: np.ndarray | torch.Tensor) -> bool:
        """Merge dimension `dim` of parameter argument `key` with `ids`; False if the argument
        is no parameter. A parameter bound as an operator's "bias" is recorded as one."""
        name = self.parameter(key)
        if name is None:
            return False
        size = self.args[key].shape[dim]
        self.union(self.graph.parameter_ids(name, dim % self.args[key].dim(), size), torch.as_tensor(ids))
        self.bound.add(name)
        if key == "bias":
            self.graph.biases.add(name)
        return True



ChannelRule = Callable[[OpCall], Any]

# ---- helpers on ids tensors --------------------------------------------------------------------


def compress(ids: torch.Tensor) -> torch.Tensor:
    """The same ids with every dimension along which they do not change cut to size 1."""
    for d in range(ids.dim()):
        if ids.shape[d] > 1:
            first = ids.narrow(d, 0, 1)
            if torch.equal(ids, first.expand_as(ids)):
                ids = first
    return ids.contiguous()


def _aligned(ids: torch.Tensor, rank: int) -> torch.Tensor:
    return ids.reshape([1] * (rank - ids.dim()) + list(ids.shape))


def _tracked(ids: Ids) -> list[int]:
    return [] if ids is None else [d for d in range(ids.dim()) if ids.shape[d] > 1]


# ---- rules ---------------------------------------------------------------------------------------


def elementwise(op: OpCall) -> Ids:
    """Operators applied element by element with broadcasting (activations, arithmetic,
    comparisons, where): the output's element takes the ids of every input element it is made
    of, so channels meeting in an addition or multiplication are merged. A parameter input is
    bound to the channels it meets; a tensor whose channels pruning cannot follow blocks the
    channels it meets. A tensor with one channel that is broadcast over many (a spatial
    attention map) keeps it: it scales every channel of the other."""
    out = op.value
    rank = out.dim()
    result: Ids = None
    others = []
    tracked = {}
    for key, _ in op.tensor_args():
        x = op.args[key] if not isinstance(op.args[key], (list, tuple)) else None
        if x is None or x.dim() == 0:
            continue
        ids = op.ids(key)
        if ids is None:
            others.append(key)
        else:
            tracked[key] = _aligned(ids, rank)
    for key, ids in tracked.items():
        sizes = [1] * (rank - op.args[key].dim()) + list(op.args[key].shape)
        if any(sizes[d] == 1 and any(o.shape[d] > 1 for o in tracked.values()) for d in range(rank)):
            op.block(ids, f"its single channel is broadcast over the channels of another operand of {op.describe()}")
            continue
        if result is None:
            result = ids
        else:
            op.union(result, ids)
            result = compress(torch.broadcast_tensors(result, ids)[0])
    if result is None:
        return None
    for key in others:
        x, shape = op.args[key], _unexpanded_shape(op, key)
        met = [d for d in _tracked(result) if d - (rank - len(shape)) >= 0 and shape[d - (rank - len(shape))] > 1]
        if not met:
            continue
        if len(_tracked(result)) == 1 and op.bind(key, met[0] - (rank - x.dim()), result.reshape(-1)):
            continue
        op.block(result, f"its channels meet {op.origin(key)} in {op.describe()}, which pruning cannot follow")
    return result


def _unexpanded_shape(op: OpCall, key: str) -> tuple[int, ...]:
    """The shape of argument `key` before any expand made it: F.normalize's norm over the
    channels, expanded back over them, is one value per position, as if broadcast."""
    node = op._nodes.get(key)
    while isinstance(node, fx.Node) and _key(node.target) in ("aten::expand", "aten::expand_as") \
            and isinstance(node.args[0], fx.Node):
        node = node.args[0]
    value = node.meta.get("val") if isinstance(node, fx.Node) else None  # (the tracer has freed it)
    return tuple(value.shape) if isinstance(value, torch.Tensor) else tuple(op.args[key].shape)


def moves(op: OpCall) -> Ids:
    """Operators that only move elements (view, reshape, flatten, permute, transpose, squeeze,
    unsqueeze, expand, repeat, clone, contiguous): the same operator applied to the ids moves
    them exactly as it moves the data."""
    key = next(iter(op.args))
    ids = op.ids(key)
    if ids is None:
        return None
    x = op.args[key]
    full = ids.expand(x.shape)
    if op.node.target in _NEEDS_CONTIGUOUS:
        full = full.contiguous()
    rest = {k: v for k, v in op.args.items() if k != key}
    moved = compress(op.node.target(full, **rest) if isinstance(op.node.target, torch._ops.OpOverload)
                     else op.node.target(full, *rest.values()))
    tracked = _tracked(moved)
    if op.node.target in _RESHAPES and len(tracked) == 1:
        _follow_size(op, moved, tracked[0])
    if op.node.target in _RESHAPES and len(tracked) > 1:
        # Channels split over several dims (the middle of a channel shuffle): after pruning the
        # same code splits fewer channels into the same grid, so a channel goes with the ones
        # at the same inner position of every outer row.
        for d in tracked[:-1]:
            op.union(moved.narrow(d, 0, 1), moved)
    return moved


def _follow_size(op: OpCall, moved: torch.Tensor, dim: int) -> None:
    """A reshape to a size written for the channels (x.view(-1, self.features), or an entry of
    a list of widths: ShakeShake's view(-1, self.in_chs[3])): the attribute holding it is
    rewritten after pruning. A number written in the code makes the cut forward fail instead,
    which keeps the channels (PrunableModel.prune)."""
    sizes = next((v for k, v in op.args.items() if k in ("size", "shape")), None)
    if not isinstance(sizes, (list, tuple)) or len(sizes) != moved.dim() or type(sizes[dim]) is not int \
            or sizes[dim] != moved.shape[dim] or sizes[dim] < 2:
        return
    running = _running_module(op)
    if running is None:
        return
    path, module = running
    # The one int attribute, or entry of a list or tuple of ints, equal to the size.
    found = [(k, None) for k, v in vars(module).items() if type(v) is int and v == sizes[dim]]
    found += [(k, i) for k, v in vars(module).items() if isinstance(v, (list, tuple)) and v
              and all(type(e) is int for e in v) for i, e in enumerate(v) if e == sizes[dim]]
    found = _spelled_in_code(op, found)
    if len(found) == 1:
        op.graph.add_bound(path, found[0][0], moved.reshape(-1).numpy(), index=found[0][1])  # the tracked dim's ids


def _channel_shuffle(op: OpCall) -> Ids:
    """aten.channel_shuffle (nn.ChannelShuffle): the permutation of a view -> transpose -> reshape
    shuffle, which after pruning the same groups apply to fewer channels: a channel goes with
    the ones at its place in every other group, as moves() ties a spelled-out shuffle's."""
    ids = op.ids("self")
    groups = int(op.args["groups"])
    if ids is not None and ids.shape[1] > 1 and groups > 1:
        grid = ids.unflatten(1, (groups, ids.shape[1] // groups))
        op.union(grid.narrow(1, 0, 1), grid)
    return moves(op)


def _pixel_shuffle(op: OpCall) -> Ids:
    """pixel_shuffle (sub-pixel upsampling: ESPCN, EDSR, SRResNet): the r * r channels that
    become one channel's pixels are one unit, which the output channel carries; moved as data
    they would land along the spatial dims, where the next convolution mixes them."""
    x, ids = op.args["self"], op.ids("self")
    r = int(op.args["upscale_factor"])
    aligned = None if ids is None else _aligned(ids, x.dim())
    if aligned is None or _tracked(aligned) != [x.dim() - 3] or r < 2:
        return moves(op)
    grid = aligned.unflatten(x.dim() - 3, (-1, r * r))
    op.union(grid.narrow(x.dim() - 2, 0, 1), grid)
    return grid.narrow(x.dim() - 2, 0, 1).squeeze(x.dim() - 2)


def blocking(op: OpCall) -> Ids:
    """Operators pruning does not understand: the channels of every input are blocked."""
    reason = f"its channels pass through {op.describe()}, which pruning does not understand"
    for key, _ in op.tensor_args():
        arg = op.args[key]
        if isinstance(arg, (list, tuple)):
            for i, a in enumerate(op._nodes[key]):
                if isinstance(a, fx.Node):
                    op.block(op._tracer.ids_of(a), reason)
        else:
            op.block(op.ids(key), reason)
    return None


def _conv(op: OpCall) -> Ids:
    x, weight = op.args["input"], op.args["weight"]
    if op.args.get("transposed"):
        return _conv_transpose(op)
    groups = int(op.args.get("groups") or 1)
    why = f"they are mixed spatially by {op.describe()}"
    in_ids = op.along("input", 1, why)
    out = op.value
    name = op.layer_weight("weight")
    if name is None:
        _computed_weight(op, in_ids, out.shape[1])
        return _blocked_output(op, _COMPUTED)
    out_ids = op.graph.parameter_ids(name, 0, weight.shape[0])
    op.bound.add(name)
    if groups == 1:
        op.union(op.graph.parameter_ids(name, 1, weight.shape[1]), in_ids)
    elif groups == x.shape[1]:  # depthwise (times a multiplier): output group c is input channel c
        op.union(out_ids, np.repeat(in_ids, weight.shape[0] // groups))
        _follow_groups(op, name, groups, in_ids)
    else:  # grouped: the same position of every group goes or stays together
        op.union(op.graph.parameter_ids(name, 1, weight.shape[1]), in_ids.reshape(groups, -1))
        op.union(out_ids.reshape(groups, -1)[:1], out_ids.reshape(groups, -1))
    if op.args.get("bias") is not None and not op.bind("bias", 0, out_ids):
        op.block(torch.from_numpy(out_ids), f"{op.describe()} adds a bias computed in the forward")
    spatial = out[0].numel() // out.shape[1]
    op.graph.use_layer(name, in_ids, out_ids, weight.numel() // weight.shape[0] * spatial // max(1, weight.shape[1]),
                       groups)
    return torch.from_numpy(out_ids).reshape([1, -1] + [1] * (out.dim() - 2))


def _follow_groups(op: OpCall, weight: str, groups: int, in_ids: np.ndarray) -> None:
    """A depthwise F.conv2d of a module pruning has no pruner for (VanillaNet's activation:
    F.conv2d(x, self.weight, groups=self.dim)) has one group per channel: the attribute holding
    the count is rewritten to the channels kept (a layer's pruner sets its own groups)."""
    owner = op.graph.modules.get(weight.rpartition(".")[0])
    attribute = _module_attribute(op, groups) if owner is not None and pruner_for(owner) is None else None
    if attribute is not None:
        op.graph.add_bound(*attribute, in_ids)


def _conv_transpose(op: OpCall) -> Ids:
    """A transposed convolution's weight is (in, out / groups, kh, kw): its inputs are weight
    dim 0, its outputs dim 1 within each group."""
    weight, out = op.args["weight"], op.value
    groups = int(op.args.get("groups") or 1)
    in_ids = op.along("input", 1, f"they are mixed spatially by {op.describe()}")
    name = op.layer_weight("weight")
    if name is None:
        _computed_weight(op, in_ids, op.value.shape[1])
        return _blocked_output(op, _COMPUTED)
    op.bound.add(name)
    op.union(op.graph.parameter_ids(name, 0, weight.shape[0]), in_ids)
    if 1 < groups == weight.shape[0]:  # depthwise (times a multiplier): output group c is input channel c
        out_ids = np.repeat(in_ids, weight.shape[1])
    else:  # the same position of every group goes or stays together
        out_ids = np.tile(op.graph.parameter_ids(name, 1, weight.shape[1]), groups)
        op.union(in_ids.reshape(groups, -1)[:1], in_ids.reshape(groups, -1))
    if op.args.get("bias") is not None and not op.bind("bias", 0, out_ids):
        op.block(torch.from_numpy(out_ids), f"{op.describe()} adds a bias computed in the forward")
    # every input position meets every kernel tap: MACs per (input, output) pair
    op.graph.use_layer(name, in_ids, out_ids, op.args["input"][0, 0].numel() * weight[0, 0].numel(), groups)
    return torch.from_numpy(out_ids).reshape([1, -1] + [1] * (out.dim() - 2))


_COMPUTED = "its weight is computed in the forward"


def _computed_weight(op: OpCall, in_ids: np.ndarray, out_channels: int) -> None:
    """A layer whose weight the forward computes (weight standardisation: BiT's StdConv2d,
    NFNet's ScaledStdConv2d) is left whole, its input channels blocked; the report lists it."""
    op.graph.block(in_ids.tolist(), f"they reach {op.describe()}, whose weight is computed in the forward")
    path, _ = _running_module(op) or ("", None)
    op.graph.leave_whole(path or op.describe(), out_channels, f"{op.describe()}: {_COMPUTED}")


def _weight_norm(op: OpCall) -> Ids:
    """A weight-normalised layer's weight made of its g and v: the layer's rule takes it as the
    layer's own (OpCall.layer_weight), and cutting it sets g and v."""
    op.bound.update(name for name in (op.parameter("v"), op.parameter("g")) if name is not None)
    return None


def _blocked_output(op: OpCall, why: str) -> Ids:
    out = op.value
    return torch.from_numpy(op.graph.new_ids(out.shape[1], blocked=f"{op.describe()}: {why}")).reshape(
        [1, -1] + [1] * (out.dim() - 2))


def _linear(op: OpCall) -> Ids:
    x_ids = op.ids("input")
    if x_ids is not None and x_ids.dim() > 1 and x_ids.shape[-1] == 1 and x_ids.numel() > 1:
        # Channels along another dim than the one it mixes (MLP-Mixer's, gMLP's and ResMLP's
        # token mixing over (N, C, tokens)): a linear layer maps each row alone, so they pass
        # through; its own features (tokens) are no channels and stay whole.
        return x_ids
    weight = op.args["weight"]
    in_ids = op.along("input", -1, f"they are mixed by {op.describe()}")
    if weight.dim() == 1:  # F.linear(x, v): a dot product per row (GFL's integral over its bins)
        if not op.bind("weight", 0, in_ids):
            op.block(torch.from_numpy(in_ids), f"they are contracted with {op.origin('weight')} by {op.describe()}")
        return None
    name = op.layer_weight("weight")
    out = op.value
    if name is None:
        _computed_weight(op, in_ids, out.shape[-1])
        return None
    out_ids = op.graph.parameter_ids(name, 0, weight.shape[0])
    op.bound.add(name)
    op.union(op.graph.parameter_ids(name, 1, weight.shape[1]), in_ids)
    if op.args.get("bias") is not None and not op.bind("bias", 0, out_ids):
        op.block(torch.from_numpy(out_ids), f"{op.describe()} adds a bias computed in the forward")
    rows = out[0].numel() // out.shape[-1] if out.dim() > 1 else 1
    op.graph.use_layer(name, in_ids, out_ids, rows, 1)
    return torch.from_numpy(out_ids).reshape([1] * (out.dim() - 1) + [-1])


def _matmul(op: OpCall) -> Ids:
    """Matrix products (matmul, bmm, mm) of operands of rank 2 and up: a's rows and b's columns
    carry their channels to the output's, batch dims as in elementwise operators, and channels
    along the contracted dim are merged across the two (a channel's terms leave every sum
    together; a parameter operand is bound there, any other blocks them). GCNet's attention
    pooling (the features as (B, 1, C, HW) times a (B, 1, HW, 1) map) and DANet's channel
    attention pass their channels so. An operand with channels along several dims is blocked."""
    (ka, a), (kb, b) = list(op.args.items())[:2]
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.dim() < 2 or b.dim() < 2:
        return blocking(op)
    rank = op.value.dim()

    def single(key: Any, x: torch.Tensor) -> tuple[Ids, int]:
        ids = op.ids(key)
        dims = _tracked(None if ids is None else _aligned(ids, x.dim()))
        if len(dims) > 1:
            op.block(ids, f"their channels lie along several dims of {op.describe()}")
        return (_aligned(ids, x.dim()).reshape(-1), dims[0]) if len(dims) == 1 else (None, -1)

    (ia, da), (ib, db) = single(ka, a), single(kb, b)
    ca, cb = a.dim() - 1, b.dim() - 2
    if da == ca and db == cb:
        op.union(ia, ib)
    elif da == ca or db == cb:
        known, other, dim = (ia, kb, cb) if da == ca else (ib, ka, ca)
        if not op.bind(other, dim, known):
            op.block(known, f"they are contracted with {op.origin(other)} by {op.describe()}, which pruning cannot follow")
    placed = {}  # output dim -> ids
    # a's rows go to the output's rows, b's columns to its columns, batch dims to theirs
    for ids, d, x, contracted, own, to in ((ia, da, a, ca, ca - 1, rank - 2), (ib, db, b, cb, cb + 1, rank - 1)):
        if ids is None or d == contracted:
            continue
        at = to if d == own else d + rank - x.dim()
        if at in placed:
            op.union(placed[at], ids)
        elif placed:
            op.block(ids, f"they would lie beside other channels in the output of {op.describe()}")
        else:
            placed[at] = ids
    if not placed:
        return None
    ((at, ids),) = placed.items()
    return ids.reshape([-1 if d == at else 1 for d in range(rank)])


def _batch_norm(op: OpCall) -> Any:
    x = op.args["input"]
    ids = op.along("input", 1, f"they are mixed by {op.describe()}")
    for key in ("weight", "bias", "running_mean", "running_var"):
        if op.args.get(key) is None:
            continue
        if not op.bind(key, 0, ids):
            if op.ids(key) is not None:
                op.union(op.ids(key).reshape(-1), ids)
            else:
                op.block(torch.from_numpy(ids), f"{op.describe()} takes a {key} computed in the forward")
    name = op.parameter("weight") or op.parameter("running_mean")
    if name is not None:
        op.graph.use_norm(name, ids, scale=op.parameter("weight"))
    out = torch.from_numpy(ids).reshape([1, -1] + [1] * (x.dim() - 2))
    return out if isinstance(op.value, torch.Tensor) else [out] + [None] * (len(op.value) - 1)


def _instance_norm(op: OpCall) -> Any:
    """Each channel is normalised over its own positions, as batch norm scales it: the same
    rule. An InstanceNorm module without affine parameters or running statistics is registered
    all the same, so that its num_features follows."""
    ids = _batch_norm(op)
    path, module = _running_module(op) or ("", None)
    if op.parameter("weight") is None and op.parameter("running_mean") is None \
            and isinstance(module, nn.modules.instancenorm._InstanceNorm):
        op.graph.use_norm(f"{path}.weight", ids.reshape(-1).numpy(), scale=None)
    return ids


def _layer_norm(op: OpCall) -> Any:
    """Normalising over the channels (ConvNeXt) is kept: fewer channels are normalised
    together after pruning. The weight and bias are bound to the channels they scale."""
    x = op.args["input"]
    ids = op.ids("input")
    count = len(op.args["normalized_shape"])
    if ids is not None:
        for key in ("weight", "bias"):
            if op.args.get(key) is None:
                continue
            aligned = ids.reshape(list(ids.shape)[x.dim() - count:]) if all(
                s == 1 for s in ids.shape[: x.dim() - count]) else None
            tracked = _tracked(aligned)
            if aligned is None or len(tracked) > 1:
                op.block(ids, f"{op.describe()} normalises over channels spread over several dimensions")
            elif tracked and not op.bind(key, tracked[0], aligned.reshape(-1)):
                op.block(ids, f"{op.describe()} takes a {key} computed in the forward")
    return ids if isinstance(op.value, torch.Tensor) else [ids] + [None] * (len(op.value) - 1)


def _running_module(op: OpCall) -> tuple[str, nn.Module] | None:
    """(name, module) of the module whose forward runs the node, if pruning knows it."""
    path = op._tracer.module_of(op.node)
    if path is None:
        return None
    return path, op._tracer.model.get_submodule(path) if path else op._tracer.model


def _group_norm(op: OpCall) -> Any:
    """A group's channels are normalised together, so they go or stay together: the other
    groups, their statistics and outputs, do not change; nn.GroupNorm's num_groups and
    num_channels follow. One group (a layer norm over channels and space) keeps its channels
    apart, as layer_norm does: fewer are normalised together after pruning. Weight and bias
    are bound to the channels they scale. A group count written in the model's code (not an
    nn.GroupNorm's) cannot follow: the channels stay."""
    ids = op.along("input", 1, f"they are mixed by {op.describe()}")
    groups = int(op.args["num_groups"])
    path, module = _running_module(op) or (None, None)
    if not isinstance(module, nn.GroupNorm):
        op.block(torch.from_numpy(ids), f"{op.describe()} takes a group count written in the code")
    else:
        if groups > 1:
            per_group = ids.reshape(groups, -1)
            op.union(np.repeat(per_group[:, :1], per_group.shape[1], axis=1).reshape(-1), ids)
            op.graph.add_bound(path, "num_groups", per_group[:, 0].copy())
        op.graph.add_bound(path, "num_channels", ids)
    for key in ("weight", "bias"):
        if op.args.get(key) is not None and not op.bind(key, 0, ids):
            op.block(torch.from_numpy(ids), f"{op.describe()} takes a {key} computed in the forward")
    return torch.from_numpy(ids).reshape([1, -1] + [1] * (op.args["input"].dim() - 2))


def _reduction(op: OpCall) -> Any:
    """mean, sum, amax...: dims that carry channels are merged into one value (removing a
    channel removes its contribution). Where other dims carry channels too (ResNeSt's sum over
    the radix of (N, radix, C, H, W)), each output channel is the merge of its partners along the
    reduced dims: they go together, and the output carries their ids."""
    key = next(iter(op.args))
    x, ids = op.args[key], op.ids(key)
    dims = op.args.get("dim")
    dims = range(x.dim()) if dims is None or dims == [] else [dims] if isinstance(dims, int) else dims
    dims = sorted({d % max(x.dim(), 1) for d in dims})
    keepdim = bool(op.args.get("keepdim", False))
    out: Ids = None
    if ids is not None and (any(ids.shape[d] > 1 for d in range(ids.dim()) if d not in dims)
                            or not any(ids.shape[d] > 1 for d in dims)):
        merged = ids
        for d in dims:
            merged = merged.narrow(d, 0, 1)
        if any(ids.shape[d] > 1 for d in dims):
            op.union(merged, ids)  # partners along the reduced dims go together
        out = merged if keepdim else merged.reshape([s for d, s in enumerate(merged.shape) if d not in dims])
    return out if isinstance(op.value, torch.Tensor) else [out] + [None] * (len(op.value) - 1)


def _spatial(op: OpCall) -> Any:
    """Pooling, resizing: the last one, two or three dims change (1-d, 2-d or 3-d ops: a 3-d
    pooling of an unsqueezed tensor mixes what was its channel dim), channels pass through; a max
    pool's indices carry the channels of its values."""
    key = next(iter(op.args))
    ids = op.ids(key)
    name = _key(op.node.target)
    spatial = 3 if name.endswith("3d") else 1 if name.endswith("1d") else 2
    parameter, x = op.parameter(key), op.args[key]
    if ids is None and parameter is not None and x.dim() == spatial + 2:
        # A table resized itself (SeaFormer's positional embeddings): its dim 1 holds channels.
        ids = torch.from_numpy(op.graph.parameter_ids(parameter, 1, x.shape[1])).reshape([1, -1] + [1] * spatial)
        op.bound.add(parameter)
    if ids is not None and any(ids.shape[d] > 1 for d in range(max(0, ids.dim() - spatial), ids.dim())):
        op.block(ids, f"they are mixed spatially by {op.describe()}")
        ids = None
    if isinstance(op.value, torch.Tensor):
        return ids
    return [ids] * len(op.value) if name.endswith("with_indices") else [ids] + [None] * (len(op.value) - 1)


def _copy(op: OpCall) -> Ids:
    """x[:, :c] = conv(x[:, :c]) (FasterNet's partial convolution, in place on a clone): the
    values written take the positions they are written to, so the source's channels and the
    view's are one; one side pruning cannot follow blocks the other."""
    return _one_set(op, "self", "src", f"{op.describe()} copies values pruning cannot follow")


def _one_set(op: OpCall, key: str, other: str, why: str) -> Ids:
    """Arguments `key` and `other` hold one set of channels: their ids joined, `key`'s returned;
    one pruning cannot follow blocks the other's for `why`."""
    ids, others = op.ids(key), op.ids(other)
    if ids is not None and others is not None:
        op.union(ids, others)
    elif ids is not None or others is not None:
        op.block(ids if ids is not None else others, why)
    return ids


def _unpool(op: OpCall) -> Ids:
    """max_unpool2d (ENet's, SegNet's decoders): each channel's values go back to the positions
    its indices hold, so the values' channels and the indices' (the pooled tensor's) are one."""
    return _one_set(op, "self", "indices", f"{op.describe()} unpools them with positions pruning cannot follow")


def _grid_sample(op: OpCall) -> Any:
    """grid_sampler: the input's channels pass through, each plane sampled alone; the grid holds
    coordinates."""
    grid = op.ids("grid")
    if grid is not None:
        op.block(grid, f"they are sampling coordinates of {op.describe()}")
    return _spatial(op)


def _scan(op: OpCall) -> Ids:
    """cumsum, cumprod: each output mixes the inputs before it along `dim`; channels along the
    other dims pass through."""
    x, ids = op.args["self"], op.ids("self")
    if ids is not None and x.dim() > 0 and ids.shape[op.args["dim"] % x.dim()] > 1:
        op.block(ids, f"they are mixed by {op.describe()}")
        return None
    return ids


def _pad(op: OpCall) -> Ids:
    """Constant padding along the channels (a residual that widens: BlazeFace's F.pad(x, (0, 0,
    0, 0, 0, self.pad))) appends new channels, which go with whatever they meet. A pad count
    that is an int attribute of the module whose code pads is rewritten after pruning to the
    number of its channels kept; any other count is fixed, and its channels stay."""
    key = next(iter(op.args))
    x, ids = op.args[key], op.ids(key)
    pad = list(op.args.get("pad") or [])
    if ids is None:
        return None
    ids = _aligned(ids, x.dim())
    for i in range(0, len(pad), 2):
        dim = x.dim() - 1 - i // 2
        if not (pad[i] or pad[i + 1]) or ids.shape[dim] == 1:
            continue
        if min(pad[i], pad[i + 1]) < 0 or op.args.get("mode", "constant") != "constant" or len(_tracked(ids)) > 1:
            op.block(ids, f"{op.describe()} pads along the channels")
            return None
        front, back = (_padded_channels(op, count) for count in pad[i:i + 2])
        if pad[i] == pad[i + 1] and _module_attribute(op, pad[i]) is not None:
            op.union(front, back)  # one attribute sets both sides: they keep the same count
        shape = [-1 if d == dim else 1 for d in range(x.dim())]
        ids = torch.cat([torch.from_numpy(front).reshape(shape), ids, torch.from_numpy(back).reshape(shape)], dim)
    return ids


def _padded_channels(op: OpCall, count: int) -> np.ndarray:
    """Ids of `count` channels a pad adds, their count followed as an attribute or fixed."""
    ids = op.graph.new_ids(count)
    attribute = _module_attribute(op, count) if count else None
    if attribute is not None:
        op.graph.add_bound(*attribute, ids)
    else:
        op.graph.block(ids.tolist(), f"{op.describe()} pads the channels by {count}, a count fixed in the code")
    return ids


def _concat(op: OpCall) -> Ids:
    """Parts' ids side by side. Zeros concatenated to widen a shortcut (ENet's downsampling
    bottleneck: torch.zeros(n, ext - main, h, w), the count read from the tensors' sizes) are
    channels of their own, which pruning may cut: a count the code writes as a number makes the
    cut forward fail, which keeps them (PrunableModel.prune). Other parts without ids block
    theirs."""
    out = op.value
    dim = op.args.get("dim", 0) % out.dim()
    joined = _joined_along_other_dim(op, dim)
    if joined is not None:
        return joined
    parts = []
    for part in op._nodes["tensors"]:
        value = op._tracer.env[part]
        ids = op._tracer.ids_of(part)
        if ids is None:
            ids = torch.from_numpy(op.graph.new_ids(value.shape[dim], blocked=None if _zeros(part) else (
                f"they are concatenated with {op._tracer.describe_value(part)}, which pruning cannot follow")))
            ids = ids.reshape([-1 if d == dim else 1 for d in range(out.dim())])
        size = list(ids.shape)
        size[dim] = value.shape[dim]
        parts.append(ids.expand(size))
    shape = torch.broadcast_shapes(*[tuple(1 if d == dim else s for d, s in enumerate(p.shape)) for p in parts])
    return compress(torch.cat([p.expand([p.shape[dim] if d == dim else shape[d] for d in range(out.dim())])
                               for p in parts], dim))


def _zeros(node: Any) -> bool:
    return isinstance(node, fx.Node) and _key(node.target) in ("aten::zeros", "aten::new_zeros", "aten::zeros_like")


def _joined_along_other_dim(op: OpCall, dim: int) -> Ids:
    """Parts whose channels lie along other dims than the one they are joined along (a ViT's
    class token before its patch tokens, feature maps joined along space): each part's channel
    i is the result's channel i, so they go together; a part pruning cannot follow blocks them.
    None if some part carries channels along `dim` (a channel concatenation: _concat's own)."""
    rank = op.value.dim()
    result: Ids = None
    unfollowed = []
    for part in op._nodes["tensors"]:
        ids = op._tracer.ids_of(part)
        if ids is None:
            unfollowed.append(part)
            continue
        ids = _aligned(ids, rank)
        if ids.shape[dim] > 1 or not _tracked(ids):
            return None
        if result is not None:
            op.union(result, ids)
            ids = compress(torch.broadcast_tensors(result, ids)[0])
        result = ids
    for part in unfollowed:
        op.block(result, f"they are concatenated with {op._tracer.describe_value(part)}, which pruning cannot follow")
    return result


def _stack(op: OpCall) -> Ids:
    out = op.value
    dim = op.args.get("dim", 0) % out.dim()
    parts = [op._tracer.ids_of(p) for p in op._nodes["tensors"]]
    if all(p is None for p in parts):
        return None
    value = op._tracer.env[op._nodes["tensors"][0]]
    parts = [p.expand(value.shape) if p is not None else torch.from_numpy(
        op.graph.new_ids(1, blocked=f"they are stacked in {op.describe()} with a tensor pruning cannot follow"))
        .reshape([1] * value.dim()).expand(value.shape) for p in parts]
    return compress(torch.stack(parts, dim))


def _module_attribute(op: OpCall, value: int | list[int]) -> tuple[str, str] | None:
    """(module name, attribute) of the one attribute of the module running the node that equals
    `value`, an int or a list of ints (held as a list or tuple): where a slice bound or split
    sizes written in the model's code live."""
    running = _running_module(op)
    if running is None:
        return None
    path, module = running

    def equal(v: Any) -> bool:
        if isinstance(value, int):
            return type(v) is int and v == value
        return isinstance(v, (list, tuple)) and all(type(e) is int for e in v) and list(v) == value

    found = _spelled_in_code(op, [k for k, v in vars(module).items() if equal(v)])
    return (path, found[0]) if len(found) == 1 else None


def _spelled_in_code(op: OpCall, names: list[Any]) -> list[Any]:
    """Of several attributes (names, or (name, index) pairs) holding the value the node used,
    those its line of code reads (`.name`), when that line is known: MODNet's IBNorm holds
    bnorm_channels and inorm_channels, both half the channels, and slices by the first."""
    if len(names) < 2:
        return names
    trace = op.node.meta.get("stack_trace") or ""
    frames = trace.rsplit('File "', 1)
    line = frames[-1].split("\n", 1)[1] if len(frames) > 1 and "\n" in frames[-1] else ""
    read = [n for n in names if re.search(r"\.\s*" + re.escape(n if isinstance(n, str) else n[0]) + r"\b", line)]
    return read or names


def _slice(op: OpCall) -> Ids:
    """x[..., start:end] along the channels: the output keeps the ids in range. A bound that
    cuts depends on the channels it counts: those in front of it, or those behind it when
    it is negative (x[:, -c:] counts from the end). It is rewritten after pruning (to the
    number of those channels kept, negated if the attribute is) when it is an int attribute
    of the module whose code slices, written as is or negated; otherwise the channels it
    counts must stay."""
    x, ids = op.args["self"], op.ids("self")
    dim = op.args["dim"] % x.dim()
    size = x.shape[dim]
    start, end, step = slice(op.args.get("start"), op.args.get("end"), op.args.get("step") or 1).indices(size)
    if ids is None or ids.shape[dim] == 1 or (start, end, step) == (0, size, 1):
        return ids
    along = ids.expand([size if d == dim else s for d, s in enumerate(ids.shape)])
    if step != 1:
        op.block(along, f"{op.describe()} slices {_sliced(dim)} with step {step}")
    else:
        for raw, bound in ((op.args.get("start"), start), (op.args.get("end"), end)):
            if bound not in (0, size):
                _follow_bound(op, along, dim, raw, bound)
    return compress(along[tuple(slice(start, end, step) if d == dim else slice(None) for d in range(x.dim()))])


def _sliced(dim: int) -> str:
    """What a slice along `dim` cuts, for messages (channels moved to another dim by a reshape or
    pixel_shuffle are sliced there)."""
    return "the channels" if dim == 1 else f"dim {dim} (holding channels a reshape moved there)"


def _follow_bound(op: OpCall, along: torch.Tensor, dim: int, raw: int, bound: int) -> None:
    """Record slice bound `raw` (at position `bound` of the channels `along` dim) as an
    attribute to rewrite, or block the channels it counts."""
    size = along.shape[dim]
    from_end = raw < 0
    counted = along.narrow(dim, bound, size - bound) if from_end else along.narrow(dim, 0, bound)
    attribute, negative = _module_attribute(op, raw), from_end
    if attribute is None and from_end:  # the code negates it: x[:, -self.c:]
        attribute, negative = _module_attribute(op, -raw), False
    if attribute is None:
        side = f"{size - bound} from the end" if from_end else f"{bound}"
        op.block(counted, f"{op.describe()} slices {_sliced(dim)} at {side}, a bound fixed in the code")
        return
    if from_end:  # with none of them left the bound would be -0, which counts from the front
        op.block(counted.narrow(dim, size - bound - 1, 1), f"{op.describe()} slices {_sliced(dim)} at a bound "
                 "counted from the end: the last channel stays so that the bound never becomes -0")
    op.graph.add_bound(*attribute, counted.reshape(-1).numpy(), negative)


def _select(op: OpCall) -> Ids:
    """x[:, i]: along a dim without channels, the ids lose that dim, and along one of slices of
    the same units (_same_units_along) they are slice i's; picking channel i blocks the channels
    that fix which one it is (those up to it, or from it to the end when i is negative), and the
    picked values belong to no channel of the output's."""
    x, ids = op.args["self"], op.ids("self")
    dim = op.args["dim"] % x.dim()
    raw = op.args["index"]
    index = raw % x.shape[dim]
    if ids is None:
        return None
    if ids.shape[dim] == 1:
        return ids.select(dim, 0)
    if _same_units_along(op, ids, dim):
        return ids.select(dim, index)
    counted = ids.narrow(dim, index, x.shape[dim] - index) if raw < 0 else ids.narrow(dim, 0, index + 1)
    op.block(counted, f"{op.describe()} picks channel {raw}, an index fixed in the code")
    return None


def _same_units_along(op: OpCall, ids: torch.Tensor, dim: int) -> bool:
    """Whether the slices of `ids` along `dim` hold the same units position by position, their
    channels along another dim (a stack of the parts of a chunk, the groups of a channel grid):
    pruning cuts every slice alike and leaves `dim`'s size alone, so picking or splitting along
    it picks slices, not channels."""
    if len(_tracked(ids)) < 2:
        return False
    roots = torch.from_numpy(op.graph.roots(ids.reshape(-1).numpy())).reshape(ids.shape)
    return bool((roots == roots.narrow(dim, 0, 1)).all())


def _index(op: OpCall) -> Ids:
    """x[:, :, idx] with index tensors: the ids move as the data does; indices along the
    channels pick channels fixed in the code, which are blocked (as are the channels of the
    index tensors, whose values are positions, not data pruning can follow)."""
    x, ids = op.args["self"], op.ids("self")
    indices = list(op.args["indices"])
    for node in op._nodes["indices"]:
        op.block(op._tracer.ids_of(node), f"they are used as indices by {op.describe()}")
    if ids is None:
        return None
    if any(i is not None and ids.shape[d] > 1 for d, i in enumerate(indices)):
        op.block(ids, f"{op.describe()} picks channels by indices fixed in the code")
    return compress(ids.expand(x.shape)[tuple(slice(None) if i is None else i for i in indices)])


def _split(op: OpCall) -> list[Ids]:
    """split, chunk, unbind along the channels. Parts of equal size (chunk(n), WaveNet's gate
    split(x.size(1) // 2)) lose the same positions, so the call stays valid; an int attribute of
    the module that holds the size follows it, and a size written in the code as a number makes
    the cut forward fail, which keeps the channels (PrunableModel.prune). split(x, [sizes]) of
    unequal parts: each part loses its own channels where a list attribute of the module holds
    the sizes (each entry follows), or int attributes hold them one by one
    (_split_by_attributes); sizes written in the code as numbers block their channels. Along a
    stack of one channel set (_same_units_along) parts are slices."""
    key = next(iter(op.args))
    x, ids = op.args[key], op.ids(key)
    dim = op.args.get("dim", 0) % x.dim()
    sizes = [p.shape[dim] for p in op.value] if op.node.target is not torch.ops.aten.unbind.int else [1] * x.shape[dim]
    if ids is None or ids.shape[dim] == 1:
        if ids is not None and op.node.target is torch.ops.aten.unbind.int:
            return [ids.squeeze(dim)] * len(sizes)
        return [ids] * len(sizes)
    along = ids.expand([x.shape[dim] if d == dim else s for d, s in enumerate(ids.shape)])
    parts = list(torch.split(along, sizes, dim))
    target = op.node.target
    if _same_units_along(op, along, dim):
        return [p.squeeze(dim) for p in parts] if target is torch.ops.aten.unbind.int else [compress(p) for p in parts]
    equal = len(set(sizes)) == 1 and sizes[0] > 1
    listed = _module_attribute(op, sizes) if target is torch.ops.aten.split_with_sizes.default else None
    sized = _module_attribute(op, sizes[0]) if equal else None
    if listed is not None:
        for i, part in enumerate(parts):
            op.graph.add_bound(*listed, part.reshape(-1).numpy(), index=i)
    elif equal:
        for part in parts[1:]:
            op.union(parts[0], part)
        if sized is not None:
            op.graph.add_bound(*sized, parts[0].reshape(-1).numpy())
    elif target is torch.ops.aten.split_with_sizes.default and any(_module_attribute(op, s) for s in sizes if s > 1):
        _split_by_attributes(op, parts, sizes)
    else:
        op.block(along, f"{op.describe()} splits the channels into sizes {sizes} fixed in the code")
    if target is torch.ops.aten.unbind.int:
        return [p.squeeze(dim) for p in parts]
    return [compress(p) for p in parts]


def _split_by_attributes(op: OpCall, parts: list[torch.Tensor], sizes: list[int]) -> None:
    """split(x, [sizes]) with sizes that are int attributes of the module one by one (MobileViTv2's
    [1, self.embed_dim, self.embed_dim]): a part follows its attribute, and parts of the same
    attribute lose the same positions; a part of a size written as a number, or of one channel,
    keeps its channels."""
    first: dict[tuple[str, str], torch.Tensor] = {}
    for part, size in zip(parts, sizes):
        attribute = _module_attribute(op, size) if size > 1 else None
        if attribute is None:
            op.block(part, f"{op.describe()} splits off {size} channels, a count fixed in the code")
        elif attribute in first:
            op.union(first[attribute], part)
        else:
            first[attribute] = part
            op.graph.add_bound(*attribute, part.reshape(-1).numpy())


def _getitem(op: OpCall) -> Ids:
    container, index = op._nodes[0], op.args[1]
    ids = op._tracer.ids_of(container)
    return ids[index] if isinstance(ids, list) else None


def _prelu(op: OpCall) -> Ids:
    """PReLU: one slope per channel of dim 1 (bound to those channels), or one for all."""
    x, ids = op.args["self"], op.ids("self")
    if ids is None or op.args["weight"].numel() == 1 or x.dim() < 2:
        return ids
    aligned = _aligned(ids, x.dim())
    if _tracked(aligned) == [1]:
        op.bind("weight", 0, aligned.reshape(-1))
    elif _tracked(aligned):
        op.block(ids, f"{op.describe()} has one slope per channel of dim 1, and they are elsewhere")
    return ids


def _glu(op: OpCall) -> Ids:
    """aten.glu: the first half of `dim` times the sigmoid of the second, so a channel goes with
    its partner at the same place in the other half."""
    ids = op.ids("self")
    if ids is None:
        return None
    ids = _aligned(ids, op.args["self"].dim())
    dim = int(op.args["dim"]) % ids.dim()
    if ids.shape[dim] == 1:
        return ids
    first, second = ids.tensor_split(2, dim)
    op.union(first, second)
    return compress(first)


def _channelwise(op: OpCall) -> Ids:
    """Operators returning their first input's values, or values computed per element from it
    alone with other arguments that are not tensors (dropout in inference, dtype casts). A
    parameter cast to its own dtype is the parameter where it is read (OpCall.parameter)."""
    key = next(iter(op.args))
    parameter = op.parameter(key) if _same_dtype_cast(op.node) else None
    if parameter is not None:
        op.bound.add(parameter)
    return op.ids(key)


_CASTS = {"aten::to", "aten::_to_copy", "aten::type_as"}


def _same_dtype_cast(node: fx.Node) -> bool:
    """A dtype cast that changes nothing: its value has its input's dtype."""
    if node.op != "call_function" or _key(node.target) not in _CASTS or not node.args \
            or not isinstance(node.args[0], fx.Node):
        return False
    out, x = node.meta.get("val"), node.args[0].meta.get("val")
    return isinstance(out, torch.Tensor) and isinstance(x, torch.Tensor) and out.dtype == x.dtype


def _factory(op: OpCall) -> Ids:
    """Tensors made from sizes alone (zeros, arange...): no channels, nothing blocked."""
    return None


aten = torch.ops.aten
_NEEDS_CONTIGUOUS = {aten.view.default, aten._unsafe_view.default}
_RESHAPES = {aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.unflatten.int}

_ELEMENTWISE = (
    "relu", "relu6", "hardtanh", "hardswish", "hardsigmoid", "silu", "sigmoid", "tanh", "gelu", "leaky_relu", "elu",
    "selu", "celu", "mish", "softplus", "clamp", "clamp_min", "clamp_max", "sqrt", "rsqrt", "exp", "log",
    "abs", "neg", "reciprocal", "erf", "pow", "square", "sign", "add", "sub", "rsub", "mul", "div", "maximum",
    "minimum", "where", "masked_fill", "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and",
    "bitwise_not", "floor", "ceil", "round", "trunc", "frac", "floor_divide", "remainder", "sin", "cos", "tan",
    "atan", "atan2", "threshold", "expm1", "log1p", "exp2", "log2", "log10", "sinh", "cosh", "asin", "acos",
    "asinh", "acosh", "atanh", "erfc", "sgn", "fmod", "hypot", "lerp", "logit", "nan_to_num", "rrelu",
    "fill", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like", "bernoulli",
    "log_sigmoid", "copysign",  # pointwise, though torch does not tag them so
)
_CHANNELWISE = ("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "native_dropout", "to",
                "_to_copy", "type_as", "softmax", "_softmax", "log_softmax", "_log_softmax", "detach", "alias",
                "lift_fresh_copy", "lift_fresh", "clone", "contiguous")
_MOVES = ("view", "_unsafe_view", "reshape", "flatten", "unflatten", "unsqueeze", "squeeze", "permute", "transpose",
          "t", "numpy_T", "movedim", "expand", "expand_as", "view_as", "reshape_as", "repeat", "repeat_interleave",
          "unfold", "pixel_unshuffle")
_REDUCTIONS = ("mean", "sum", "amax", "amin", "max", "min", "var", "std", "var_mean", "std_mean", "norm",
               "linalg_vector_norm", "logsumexp", "prod", "argmax", "argmin", "any", "all", "median", "kthvalue")
_SPATIAL = ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d",
            "adaptive_max_pool2d", "upsample_nearest2d", "upsample_bilinear2d", "upsample_bicubic2d", "_upsample_nearest_exact2d",
            "upsample_linear1d", "upsample_nearest1d", "_upsample_nearest_exact1d", "upsample_trilinear3d",
            "upsample_nearest3d", "_upsample_nearest_exact3d", "_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa",
            "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d", "max_pool3d",
            "max_pool3d_with_indices", "avg_pool3d", "adaptive_avg_pool3d", "_adaptive_avg_pool3d", "adaptive_max_pool3d")
_FACTORIES = ("zeros", "ones", "full", "empty", "arange", "rand", "randn", "scalar_tensor", "tensor", "new_zeros",
              "new_ones", "new_full", "new_empty", "empty_strided", "linspace")

_RULES: dict[Any, ChannelRule] = {
    **{f"aten::{name}": elementwise for name in _ELEMENTWISE},
    **{f"aten::{name}": _channelwise for name in _CHANNELWISE},
    **{f"aten::{name}": moves for name in _MOVES},
    **{f"aten::{name}": _reduction for name in _REDUCTIONS},
    **{f"aten::{name}": _spatial for name in _SPATIAL},
    "aten::channel_shuffle": _channel_shuffle, "aten::native_channel_shuffle": _channel_shuffle,
    "aten::pixel_shuffle": _pixel_shuffle,
    "aten::cumsum": _scan, "aten::cumprod": _scan,
    "aten::max_unpool2d": _unpool, "aten::max_unpool3d": _unpool, "aten::copy": _copy,
    "aten::grid_sampler": _grid_sample, "aten::grid_sampler_2d": _grid_sample,
    **{f"aten::{name}": _factory for name in _FACTORIES},
    "aten::conv2d": _conv, "aten::conv1d": _conv, "aten::conv3d": _conv, "aten::convolution": _conv, "aten::_convolution": _conv,
    "aten::conv_transpose1d": _conv_transpose, "aten::conv_transpose2d": _conv_transpose,
    "aten::conv_transpose3d": _conv_transpose,
    "aten::linear": _linear, "aten::matmul": _matmul, "aten::bmm": _matmul, "aten::mm": _matmul,
    "aten::_weight_norm": _weight_norm,
    "aten::prelu": _prelu, "aten::glu": _glu, "aten::_prelu_kernel": _prelu,
    "aten::batch_norm": _batch_norm, "aten::_native_batch_norm_legit_no_training": _batch_norm,
    "aten::native_batch_norm": _batch_norm, "aten::_native_batch_norm_legit": _batch_norm,
    "aten::layer_norm": _layer_norm, "aten::native_layer_norm": _layer_norm,
    "aten::group_norm": _group_norm, "aten::instance_norm": _instance_norm,
    "aten::cat": _concat, "aten::stack": _stack,
    "aten::split": _split, "aten::split_with_sizes": _split, "aten::chunk": _split, "aten::unbind": _split,
    "aten::tensor_split": _split,
    "aten::slice": _slice, "aten::select": _select, "aten::index": _index, "aten::narrow": blocking,
    "aten::pad": _pad, "aten::constant_pad_nd": _pad,
    operator.getitem: _getitem,
}


def _key(op: Any) -> Any:
    """An operator's key in the table: "namespace::name" (in-place variants as their
    out-of-place op), or the callable itself for Python functions."""
    if isinstance(op, str):
        return op
    if isinstance(op, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        name = op._schema.name if isinstance(op, torch._ops.OpOverload) else op._qualified_op_name
        namespace, _, base = name.partition("::")
        if namespace == "aten" and base.endswith("_") and not base.endswith("__"):
            base = base[:-1]
        return f"{namespace}::{base}"
    return op


def register_channel_rule(op: Any, rule: ChannelRule) -> None:
    """Teach pruning how `op` (an operator such as torch.ops.mylib.scale, or its name
    "mylib::scale") treats channels: `rule` is elementwise, moves, blocking, or a function of
    an OpCall returning the output's ids."""
    if not callable(rule):
        raise TypeError(f"rule must be callable, got {type(rule).__name__}")
    if not isinstance(op, str) and not callable(op):
        raise TypeError(f"op must be an operator or its name, got {op!r}")
    _RULES[_key(op)] = rule


def rule_for(op: Any) -> ChannelRule | None:
    """The rule of `op`: its own, else `elementwise` for an operator of one output that torch
    tags pointwise (softshrink, xlogy, lgamma, ...); None if pruning does not know it."""
    rule = _RULES.get(_key(op))
    if rule is None and isinstance(op, torch._ops.OpOverload) and torch.Tag.pointwise in op.tags \
            and len(op._schema.returns) == 1:
        return elementwise
    return rule
