"""Optimisation passes over a lowered graph: each rewrites ``Lowered.graph`` in place, keeps the
side tables (what each node was, its torch call) in step, and returns how many rewrites it made.

Every pass keeps the graph's outputs what they were for every batch size (the reference
executor checks it); ``optimize`` runs them all in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from pyprune import kernels
from pyprune.capture.lower import Lowered
from pyprune.graph import ir

__all__ = [
    "ACTIVATION_ATTRS",
    "broadcast_expands",
    "channels_first",
    "common_subexpressions",
    "dead_nodes",
    "fold_affine",
    "fold_padding",
    "fuse_activations",
    "fuse_channel_norms",
    "fuse_residuals",
    "fuse_separable",
    "merge_branches",
    "optimize",
    "remove_identities",
]

ACTIVATION_ATTRS = ("activation", "activation_min", "activation_max", "activation_alpha")
_FUSES_ACTIVATION = {"conv2d", "linear", "batch_norm", "add", "sub", "mul", "div", "maximum", "minimum"}
_BROADCASTING = {"add", "sub", "mul", "div", "maximum", "minimum", "floor_divide", "remainder", "atan2", "pow", "fmod",
                 "hypot"}


# ---- the graph's structure -------------------------------------------------------------------


def _users(graph: ir.Graph) -> dict[str, list[ir.Node]]:
    users: dict[str, list[ir.Node]] = {}
    for node in graph.nodes:
        for t in node.inputs:
            users.setdefault(t, []).append(node)
    return users


def _producers(graph: ir.Graph) -> dict[str, ir.Node]:
    return {t: node for node in graph.nodes for t in node.outputs}


def _only_user(low: Lowered, users: dict[str, list[ir.Node]], name: str) -> ir.Node | None:
    """The one node reading `name` (once), if nothing else reads it and it is no graph output."""
    readers = users.get(name, [])
    if len(readers) != 1 or readers[0].inputs.count(name) != 1 or name in low.graph.outputs:
        return None
    return readers[0]


def _rename(graph: ir.Graph, old: str, new: str) -> None:
    """Every read of tensor `old` reads `new` instead."""
    for node in graph.nodes:
        node.inputs = [new if t == old else t for t in node.inputs]
    graph.outputs = [new if t == old else t for t in graph.outputs]


def _absorb(low: Lowered, keep: ir.Node, gone: ir.Node) -> None:
    """`keep` now computes what `gone` did (and takes its outputs); `gone` leaves the graph."""
    low.origins[gone.outputs[0]] = low.origins.pop(keep.outputs[0], []) + low.origins.get(gone.outputs[0], [])
    keep.outputs = list(gone.outputs)
    low.graph.nodes.remove(gone)


def _shape(low: Lowered, name: str) -> tuple | None:
    """A tensor's dims (ints or size expressions), None when unknown."""
    value = low.values.get(name)
    shape = getattr(value, "shape", None)
    if shape is None:
        constant = low.graph.constants.get(name)
        return None if constant is None else tuple(constant.shape)
    return tuple(d.node.expr if hasattr(d, "node") else int(d) for d in shape)


def _new_constant(graph: ir.Graph, base: str, value: np.ndarray) -> str:
    taken = set(graph.constants) | {t for n in graph.nodes for t in n.outputs} | {s.name for s in graph.inputs}
    name, k = base, 1
    while name in taken:
        name, k = f"{base}.{k}", k + 1
    graph.constants[name] = np.require(value, np.float32, "C")
    return name


def _activation(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k in ACTIVATION_ATTRS and attrs.get("activation", "none") != "none"}


def _has_activation(node: ir.Node) -> bool:
    return node.attrs.get("activation", "none") != "none"


# ---- passes ----------------------------------------------------------------------------------


def remove_identities(low: Lowered) -> int:
    """Reshapes to the shape they had, reshape-of-reshape and permute-of-permute chains,
    concatenations and splits of one tensor."""
    graph, changed = low.graph, 0
    producers = _producers(graph)
    users = _users(graph)
    for node in list(graph.nodes):
        before = changed
        source = producers.get(node.inputs[0]) if node.inputs else None
        if node.op == "reshape" and source is not None and source.op == "reshape" \
                and _only_user(low, users, source.outputs[0]) is node:
            entries = _compose_reshapes(low, source, node)
            if entries is not None:
                node.inputs = list(source.inputs)
                node.attrs = {"shape": entries}
                low.origins[node.outputs[0]] = low.origins.pop(source.outputs[0], []) + low.origins[node.outputs[0]]
                graph.nodes.remove(source)
                changed += 1
        if node.op == "permute" and source is not None and source.op == "permute" \
                and _only_user(low, users, source.outputs[0]) is node:
            node.inputs = list(source.inputs)
            node.attrs = {"dims": [source.attrs["dims"][d] for d in node.attrs["dims"]]}
            low.origins[node.outputs[0]] = low.origins.pop(source.outputs[0], []) + low.origins[node.outputs[0]]
            graph.nodes.remove(source)
            changed += 1
        if _is_identity(low, node):
            _rename(graph, node.outputs[0], node.inputs[0])
            graph.nodes.remove(node)
            low.origins.pop(node.outputs[0], None)
            changed += 1
        if changed != before:  # rebuilt after a change only: a recurrent net unrolls to 10,000s of nodes
            producers = _producers(graph)
            users = _users(graph)
    return changed


def common_subexpressions(low: Lowered) -> int:
    """A node computing what an earlier one computes (same op, inputs and attributes) goes; its
    readers read the earlier one's outputs. Torch calls are left alone."""
    graph, seen, changed = low.graph, {}, 0
    for node in list(graph.nodes):
        if node.outputs[0] in low.calls:
            continue
        key = (node.op, tuple(node.inputs), repr(sorted(node.attrs.items())))
        first = seen.setdefault(key, node)
        if first is node:
            continue
        for old, new in zip(node.outputs, first.outputs):
            _rename(graph, old, new)
        graph.nodes.remove(node)
        low.origins[first.outputs[0]] += low.origins.pop(node.outputs[0], [])
        changed += 1
    return changed


def _is_identity(low: Lowered, node: ir.Node) -> bool:
    if node.op == "permute":
        return list(node.attrs["dims"]) == list(range(len(node.attrs["dims"])))
    if node.op in ("concat", "split") and len(node.inputs) == 1 and len(node.outputs) == 1:
        return True
    if node.op == "reshape":
        before, after = _shape(low, node.inputs[0]), _shape(low, node.outputs[0])
        return before is not None and before == after
    return False


def _compose_reshapes(low: Lowered, first: ir.Node, second: ir.Node) -> list[int] | None:
    """The second reshape's entries in terms of the first one's input, or None."""
    middle, source = _shape(low, first.outputs[0]), _shape(low, first.inputs[0])
    if middle is None or source is None:
        return None
    entries = []
    for e in second.attrs["shape"]:
        if e >= -1:
            entries.append(e)
            continue
        d = middle[-e - 2]
        if isinstance(d, int):
            entries.append(d)
        elif d in source:
            entries.append(-(2 + source.index(d)))
        else:
            return None
    return entries


def fold_padding(low: Lowered) -> int:
    """A zero constant padding of the two image dims before a convolution (TensorFlow's "SAME"
    written out) becomes the convolution's own padding, where each side stays below the dilated
    kernel's extent, as the convolutions take it (a 1x1 convolution of a padded input, VainF's
    DeepLabV3+ MobileNetV2 blocks, keeps its pad: its border is the bias)."""
    graph, changed = low.graph, 0
    users = _users(graph)
    for pad in list(graph.nodes):
        if pad.op != "pad" or pad.attrs.get("mode", "constant") != "constant" or pad.attrs.get("value", 0.0) != 0.0:
            continue
        pads = pad.attrs["pads"]
        conv = _only_user(low, users, pad.outputs[0])
        if conv is None or conv.op != "conv2d" or conv.inputs[0] != pad.outputs[0] or len(pads) != 8 or any(pads[:4]) \
                or min(pads) < 0:
            continue
        top, left, bottom, right = conv.attrs.get("padding", [0, 0, 0, 0])
        padding = [top + pads[4], left + pads[6], bottom + pads[5], right + pads[7]]
        kernel, dilation = _shape(low, conv.inputs[1]), conv.attrs.get("dilation", [1, 1])
        if kernel is None or len(kernel) != 4:
            continue
        extent = [(k - 1) * d + 1 for k, d in zip(kernel[2:], dilation)]  # height, width
        if any(p >= extent[i % 2] for i, p in enumerate(padding)):  # padding is top, left, bottom, right
            continue
        conv.attrs["padding"] = padding
        conv.inputs[0] = pad.inputs[0]
        low.origins[conv.outputs[0]] = low.origins.pop(pad.outputs[0], []) + low.origins[conv.outputs[0]]
        graph.nodes.remove(pad)
        changed += 1
    return changed


def _channel_vector(low: Lowered, producer: ir.Node, name: str) -> np.ndarray | None:
    """A constant as one value per output channel of `producer` (conv2d: dim 1, linear: the last
    dim), when it broadcasts along that dim only; None otherwise."""
    c = low.graph.constants.get(name)
    out = _shape(low, producer.outputs[0])
    if c is None or out is None:
        return None
    channels = low.graph.constants[producer.inputs[1]].shape[0]
    axis = 1 if producer.op == "conv2d" else len(out) - 1
    if c.ndim > len(out):
        return None
    if c.size == 1:
        return np.full(channels, float(c.reshape(())), dtype=np.float64)
    dims = (1,) * (len(out) - c.ndim) + c.shape  # aligned from the right, as broadcasting does
    if dims[axis] != channels or any(d != 1 for i, d in enumerate(dims) if i != axis):
        return None
    return c.reshape(channels).astype(np.float64)


def _affine(low: Lowered, producer: ir.Node, node: ir.Node, out: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, shift) per output channel when `node` computes `out` (producer's output, or a
    view of it) times scale plus shift, else None."""
    channels = low.graph.constants[producer.inputs[1]].shape[0]
    ones, zeros = np.ones(channels), np.zeros(channels)
    if _has_activation(node):
        return None
    if node.op == "batch_norm" and node.inputs[0] == out:
        if producer.op == "linear" and len(_shape(low, out) or ()) != 2:
            return None  # batch norm reads dim 1, a linear writes the last one
        scale, shift = (low.graph.constants.get(t) for t in node.inputs[1:])
        if scale is None or shift is None:
            return None
        return scale.astype(np.float64), shift.astype(np.float64)
    if node.op not in ("mul", "div", "add", "sub"):
        return None
    other = node.inputs[1] if node.inputs[0] == out else node.inputs[0]
    if node.op in ("div", "sub") and node.inputs[0] != out:
        return None  # c / y and c - y are not affine in y's weights with a positive form
    v = _channel_vector(low, producer, other)
    if v is None:
        return None
    if node.op == "mul":
        return v, zeros
    if node.op == "div":
        return (1.0 / v, zeros) if np.all(v != 0) else None
    return ones, (v if node.op == "add" else -v)


def fold_affine(low: Lowered) -> int:
    """Batch norm (any module that lowered to it: subclasses included), and multiplications,
    divisions, additions and subtractions by per-channel constants, folded into the weights and
    bias of the convolution or linear layer before them."""
    graph, changed = low.graph, 0
    users = _users(graph)
    for producer in list(graph.nodes):
        while producer.op in ("conv2d", "linear") and not _has_activation(producer) \
                and len(producer.inputs) <= 3 and all(t in graph.constants for t in producer.inputs[1:]):
            node = _only_user(low, users, producer.outputs[0])
            view = _rows_view(low, users, producer, node)
            if view is not None:
                node = _only_user(low, users, view.outputs[0])
            out = producer.outputs[0] if view is None else view.outputs[0]
            fold = _affine(low, producer, node, out) if node is not None else None
            if fold is None:
                break
            scale, shift = fold
            weight = graph.constants[producer.inputs[1]].astype(np.float64)
            bias = graph.constants[producer.inputs[2]].astype(np.float64) if len(producer.inputs) == 3 \
                else np.zeros(weight.shape[0])
            weight = weight * scale.reshape(-1, *([1] * (weight.ndim - 1)))
            base = node.outputs[0]
            producer.inputs[1:] = [_new_constant(graph, f"{base}.weight", weight),
                                   _new_constant(graph, f"{base}.bias", bias * scale + shift)]
            if view is None:
                _absorb(low, producer, node)
            else:  # the batch norm goes: what read it reads the view
                graph.nodes.remove(node)
                _rename(graph, node.outputs[0], view.outputs[0])
                low.origins[producer.outputs[0]] = low.origins.get(producer.outputs[0], []) + low.origins.pop(node.outputs[0], [])
            users = _users(graph)
            changed += 1
    return changed


def _channel_view(low: Lowered, producer: ir.Node, node: ir.Node) -> bool:
    """Whether `node` takes the producer's output (or a view of it such as this) channel by
    channel to where a batch norm reads them, dim 1: a linear layer's reshaped to (rows,
    features); a convolution's reshaped keeping (N, C) in front, or sliced along a spatial dim."""
    shape = _shape(low, node.outputs[0])
    channels = low.graph.constants[producer.inputs[1]].shape[0]
    if shape is None:
        return False
    if producer.op == "linear":
        return node.op == "reshape" and len(shape) == 2 and shape[1] == channels
    if node.op == "slice":
        return node.attrs["axis"] >= 2
    dims = node.attrs.get("shape", [])  # -2 - i: "dim i of the input"
    return node.op == "reshape" and len(dims) >= 2 and dims[0] == -2 and dims[1] in (-3, channels)


def _rows_view(low: Lowered, users: dict[str, list[ir.Node]], producer: ir.Node, node: ir.Node | None) -> ir.Node | None:
    """The last of the views from the producer's output that lead it, channel by channel, to a
    batch norm (_channel_view): LeViT's Linear + BatchNorm1d over every token
    (bn(x.flatten(0, 1)).reshape_as(x)); a Conv1d + BatchNorm1d (a conv2d of one row viewed back
    to (N, C, L)), a TCN's chomp between them (x[:, :, :-k])."""
    if producer.op not in ("linear", "conv2d"):
        return None
    view = None
    while node is not None and node.op in ("reshape", "slice") and _channel_view(low, producer, node):
        view, node = node, _only_user(low, users, node.outputs[0])
    return view if node is not None and node.op == "batch_norm" else None


def broadcast_expands(low: Lowered) -> int:
    """An elementwise op whose other operand has its output's shape broadcasts an expanded
    operand itself: it reads what was expanded (x * s.expand_as(x) is x * s), and the expand,
    read by nothing else, is not written out."""
    graph, changed = low.graph, 0
    producers = _producers(graph)
    for node in graph.nodes:
        if node.op not in _BROADCASTING or len(node.inputs) != 2 or node.inputs[0] == node.inputs[1]:
            continue
        shape = _shape(low, node.outputs[0])
        for k in (0, 1):
            expand = producers.get(node.inputs[k])
            if expand is not None and expand.op == "expand" and shape is not None \
                    and _shape(low, node.inputs[1 - k]) == shape:
                node.inputs[k] = expand.inputs[0]
                changed += 1
                break
    return changed


@dataclass
class _Term:
    """One operand of an add as a function of `source`: a convolution (`node` conv2d), a
    per-channel affine map (`node` batch_norm, or None for `source` itself: scale 1, shift 0)."""

    source: str
    node: ir.Node | None
    scale: np.ndarray | float = 1.0
    shift: np.ndarray | float = 0.0


_PLAIN_CONV_ATTRS = {"stride", "padding", "dilation", "groups"}


def _term(low: Lowered, producers: dict[str, ir.Node], users: dict[str, list[ir.Node]], add: ir.Node,
          name: str) -> _Term:
    graph, node = low.graph, producers.get(name)
    owned = node is not None and _only_user(low, users, name) is add
    if owned and node.op == "conv2d" and len(node.inputs) <= 3 and all(t in graph.constants for t in node.inputs[1:]) \
            and set(node.attrs) <= _PLAIN_CONV_ATTRS:
        return _Term(node.inputs[0], node)
    if owned and node.op == "batch_norm" and all(t in graph.constants for t in node.inputs[1:]) and len(node.inputs) == 3 \
            and not _has_activation(node):
        scale, shift = (graph.constants[t].astype(np.float64).reshape(-1) for t in node.inputs[1:])
        return _Term(node.inputs[0], node, scale, shift)
    return _Term(name, None)


def _merged_kernel(graph: ir.Graph, terms: list[_Term]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
    """(weight, bias, attrs) of the one convolution computing the terms' sum, or None when their
    windows do not line up for every input size, or the merged kernel would have more taps than
    the convolutions it replaces."""
    convs = [t.node for t in terms if t.node is not None and t.node.op == "conv2d"]
    weights = [graph.constants[c.inputs[1]].astype(np.float64) for c in convs]
    groups, stride = convs[0].attrs.get("groups", 1), list(convs[0].attrs.get("stride", [1, 1]))
    if any(c.attrs.get("groups", 1) != groups or list(c.attrs.get("stride", [1, 1])) != stride for c in convs) \
            or any(w.shape[:2] != weights[0].shape[:2] for w in weights):
        return None
    out_channels, per_group = weights[0].shape[:2]
    pads = [c.attrs.get("padding", [0, 0, 0, 0]) for c in convs]
    sizes, shifts, dilation, begin, end = [], [], [], [], []
    for axis in (0, 1):
        taps = [w.shape[2 + axis] for w in weights]
        dilations = {c.attrs.get("dilation", [1, 1])[axis] for c, k in zip(convs, taps) if k > 1}
        if len(dilations) > 1:
            return None
        d = dilations.pop() if dilations else 1
        first, last = max(p[axis] for p in pads), max(p[axis + 2] for p in pads)
        if any((first - p[axis]) % d for p in pads):
            return None
        shift = [(first - p[axis]) // d for p in pads]
        size = max(s + k for s, k in zip(shift, taps))
        # The same output size for every input size: padding minus window extent agree.
        if any(first + last - (size - 1) * d != p[axis] + p[axis + 2] - (k - 1) * d for p, k in zip(pads, taps)):
            return None
        sizes.append(size), shifts.append(shift), dilation.append(d), begin.append(first), end.append(last)
    if sizes[0] * sizes[1] > sum(w.shape[2] * w.shape[3] for w in weights):
        return None
    weight = np.zeros((out_channels, per_group, *sizes))
    bias = np.zeros(out_channels)
    for conv, w, sh, sw in zip(convs, weights, shifts[0], shifts[1]):
        weight[:, :, sh:sh + w.shape[2], sw:sw + w.shape[3]] += w
        if len(conv.inputs) == 3:
            bias += graph.constants[conv.inputs[2]].astype(np.float64)
    for term in terms:
        if term.node is not None and term.node.op == "conv2d":
            continue
        # x itself or a batch norm of x: the tap that reads the output's own position.
        tap = [begin[a] // dilation[a] for a in (0, 1)]
        if stride != [1, 1] or per_group * groups != out_channels \
                or any(begin[a] % dilation[a] or begin[a] + end[a] != (sizes[a] - 1) * dilation[a] for a in (0, 1)):
            return None
        channels = np.arange(out_channels)
        weight[channels, channels % per_group, tap[0], tap[1]] += term.scale
        bias += term.shift
    attrs = {"stride": stride, "padding": [begin[0], begin[1], end[0], end[1]], "dilation": dilation, "groups": groups}
    return weight, bias, attrs


def merge_branches(low: Lowered) -> int:
    """Convolutions of one input added together become one convolution (the re-parameterisation
    of RepVGG, ACNet, MobileOne, RepViT, PP-LCNetV2, done at inference): conv_a(x) + conv_b(x),
    conv(x) + bn(x) and conv(x) + x, their kernels summed into the largest window (a 1x1 branch
    into the centre of a 3x3, a batch norm or x itself into the tap on each output's position).
    Chained adds merge one by one; batch norms of the branches are folded before."""
    graph, changed = low.graph, 0
    producers, users = _producers(graph), _users(graph)
    for add in list(graph.nodes):
        if add.op != "add" or len(add.inputs) != 2 or add.inputs[0] == add.inputs[1] or _has_activation(add):
            continue
        terms = [_term(low, producers, users, add, name) for name in add.inputs]
        shape = _shape(low, add.outputs[0])
        if terms[0].source != terms[1].source or not any(t.node is not None and t.node.op == "conv2d" for t in terms) \
                or shape is None or any(_shape(low, name) != shape for name in add.inputs):
            continue
        merged = _merged_kernel(graph, terms)
        if merged is None:
            continue
        weight, bias, attrs = merged
        keep = next(t.node for t in terms if t.node is not None and t.node.op == "conv2d")
        for term in terms:
            if term.node is not None and term.node is not keep:
                graph.nodes.remove(term.node)
                low.origins[keep.outputs[0]] = low.origins.get(keep.outputs[0], []) + low.origins.pop(term.node.outputs[0], [])
        base = add.outputs[0]
        keep.inputs = [terms[0].source, _new_constant(graph, f"{base}.weight", weight),
                       _new_constant(graph, f"{base}.bias", bias)]
        keep.attrs = attrs
        _absorb(low, keep, add)
        producers, users = _producers(graph), _users(graph)
        changed += 1
    return changed


def fuse_residuals(low: Lowered) -> int:
    """add(conv(x), r) becomes conv(x) with residual r when the convolution's output goes only
    there and r has the output's shape (no broadcasting). The fused node takes the add's place:
    every input is computed by then."""
    graph, changed = low.graph, 0
    producers, users = _producers(graph), _users(graph)
    for add in list(graph.nodes):
        if add.op != "add" or len(add.inputs) != 2 or add.inputs[0] == add.inputs[1]:
            continue
        shape = _shape(low, add.outputs[0])
        candidates = []
        for k in (0, 1):
            conv = producers.get(add.inputs[k])
            other = add.inputs[1 - k]
            if conv is None or conv.op != "conv2d" or len(conv.inputs) > 3 or _has_activation(conv) \
                    or _only_user(low, users, conv.outputs[0]) is not add or shape is None \
                    or _shape(low, conv.outputs[0]) != shape or _shape(low, other) != shape:
                continue
            candidates.append((conv, other))
        if not candidates:
            continue
        # the later one, closer to the add (positions looked up only then: 10,000s of nodes)
        conv, other = max(candidates, key=lambda c: graph.nodes.index(c[0])) if len(candidates) > 1 else candidates[0]
        if len(conv.inputs) == 2:
            channels = graph.constants[conv.inputs[1]].shape[0]
            conv.inputs.append(_new_constant(graph, f"{conv.outputs[0]}.bias", np.zeros(channels)))
        conv.inputs.append(other)
        conv.attrs.update(_activation(add.attrs))
        graph.nodes.remove(conv)
        graph.nodes.insert(graph.nodes.index(add), conv)
        _absorb(low, conv, add)
        producers, users = _producers(graph), _users(graph)
        changed += 1
    return changed


def fuse_activations(low: Lowered) -> int:
    """An activation becomes part of the convolution, linear layer, batch norm or elementwise op before it,
    also across reshapes, permutes and slices between them (elementwise, it commutes with them:
    a depthwise convolution of SegFormer's Mix-FFN, flattened and transposed, then GELU; a TCN's
    convolution, its padding's outputs sliced off, then ReLU)."""
    graph, changed = low.graph, 0
    producers, users = _producers(graph), _users(graph)
    for act in list(graph.nodes):
        if act.op != "activation":
            continue
        last, producer = act, producers.get(act.inputs[0])
        while producer is not None and producer.op in ("reshape", "permute", "slice") \
                and _only_user(low, users, producer.outputs[0]) is last:
            last, producer = producer, producers.get(producer.inputs[0])
        if producer is None or producer.op not in _FUSES_ACTIVATION or _has_activation(producer) \
                or _only_user(low, users, producer.outputs[0]) is not last:
            continue
        producer.attrs.update(_activation(act.attrs))
        keep = producers.pop(act.inputs[0])
        _absorb(low, keep, act)
        # the maps follow (rebuilding them is quadratic in 10,000s of nodes): the activation's only
        # reader of its input is gone, and its output is the node before's now
        users.pop(act.inputs[0])
        producers[act.outputs[0]] = keep
        changed += 1
    return changed


def _has_strips(weight: ir.Constant, attrs: dict[str, Any]) -> bool:
    """Whether a depthwise strip kernel (what the fused separable driver runs) takes the window:
    a square kernel, one stride, no dilation, each side's padding within the kernel's case."""
    kh, kw = weight.shape[2:]
    stride = list(attrs.get("stride", [1, 1]))
    return kh == kw and stride[0] == stride[1] and list(attrs.get("dilation", [1, 1])) == [1, 1] \
        and kernels.capabilities().depthwise_rejects(kh, stride[0], max(attrs.get("padding", [0]))) is None


def _is_depthwise(graph: ir.Graph, node: ir.Node) -> bool:
    weight = graph.constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
    return node.op == "conv2d" and weight is not None and weight.shape[1] == 1 \
        and node.attrs.get("groups", 1) == weight.shape[0] > 1 and len(node.inputs) <= 3 \
        and "algorithm" not in node.attrs and _has_strips(weight, node.attrs)


def _is_pointwise(graph: ir.Graph, node: ir.Node) -> bool:
    weight = graph.constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
    return node.op == "conv2d" and weight is not None and weight.shape[2:] == (1, 1) \
        and node.attrs.get("groups", 1) == 1 and list(node.attrs.get("stride", [1, 1])) == [1, 1] \
        and list(node.attrs.get("padding", [0, 0, 0, 0])) == [0, 0, 0, 0] \
        and list(node.attrs.get("dilation", [1, 1])) == [1, 1] and "algorithm" not in node.attrs


def fuse_separable(low: Lowered) -> int:
    """A depthwise convolution feeding only a pointwise one becomes one conv2d node with
    algorithm "separable": inputs x, depthwise weight, depthwise bias, pointwise weight,
    pointwise bias [, residual]; the depthwise activation as depthwise_activation*, the
    pointwise one as activation*."""
    graph, changed = low.graph, 0
    users = _users(graph)
    for dw in list(graph.nodes):
        if not _is_depthwise(graph, dw):
            continue
        pw = _only_user(low, users, dw.outputs[0])
        if pw is None or not _is_pointwise(graph, pw) or pw.inputs[0] != dw.outputs[0]:
            continue
        biases = []
        for node in (dw, pw):
            weight = graph.constants[node.inputs[1]]
            biases.append(node.inputs[2] if len(node.inputs) > 2 else
                          _new_constant(graph, f"{node.outputs[0]}.bias", np.zeros(weight.shape[0])))
        attrs = {k: v for k, v in dw.attrs.items() if k not in ACTIVATION_ATTRS}
        attrs.update({f"depthwise_{k}": v for k, v in _activation(dw.attrs).items()})
        attrs.update(_activation(pw.attrs))
        attrs["algorithm"] = "separable"
        pw.inputs = [dw.inputs[0], dw.inputs[1], biases[0], pw.inputs[1], biases[1], *pw.inputs[3:]]
        pw.attrs = attrs
        low.origins[pw.outputs[0]] = low.origins.pop(dw.outputs[0], []) + low.origins[pw.outputs[0]]
        graph.nodes.remove(dw)
        users = _users(graph)
        changed += 1
    return changed


def _reads(node: ir.Node | None, op: str, **attrs: Any) -> bool:
    return node is not None and node.op == op and all(node.attrs.get(k) == v for k, v in attrs.items())


def _channel_constant(low: Lowered, name: str, channels: int) -> np.ndarray | None:
    """A constant of shape (C, 1, 1) or (1, C, 1, 1) as a (C,) vector."""
    c = low.graph.constants.get(name)
    if c is None or c.shape not in ((channels, 1, 1), (1, channels, 1, 1)):
        return None
    return c.reshape(channels)


def fuse_channel_norms(low: Lowered) -> int:
    """Layer norm over the channels of an NCHW tensor written out (ConvNeXt's channels_first
    LayerNorm: mean, subtract, square, mean, add eps, sqrt, divide, then an optional per-channel
    scale and shift) becomes one channel_norm node."""
    graph, changed = low.graph, 0
    for div in [n for n in graph.nodes if n.op == "div" and not _has_activation(n)]:
        producers, users = _producers(graph), _users(graph)
        centred, root = div.inputs
        sqrt, sub = producers.get(root), producers.get(centred)
        if not _reads(sqrt, "unary", kind="sqrt") or _only_user(low, users, root) is not div:
            continue
        add = producers.get(sqrt.inputs[0])
        if not _reads(add, "add") or _has_activation(add) or _only_user(low, users, add.outputs[0]) is not sqrt:
            continue
        variance, eps = add.inputs if add.inputs[1] in graph.constants else add.inputs[::-1]
        if graph.constants.get(eps) is None or graph.constants[eps].size != 1:
            continue
        mean2, square = producers.get(variance), None
        if _reads(mean2, "reduce", kind="mean", axes=[1], keepdim=1) and _only_user(low, users, variance) is add:
            square = producers.get(mean2.inputs[0])
        if not (_reads(square, "unary", kind="pow", exponent=2.0) and square.inputs == [centred]) \
                or _only_user(low, users, square.outputs[0]) is not mean2:
            continue
        if not _reads(sub, "sub") or _has_activation(sub) or {id(u) for u in users.get(centred, [])} != {id(square), id(div)}:
            continue
        x, mean_out = sub.inputs
        mean1 = producers.get(mean_out)
        shape = _shape(low, x)
        if not _reads(mean1, "reduce", kind="mean", axes=[1], keepdim=1) or mean1.inputs != [x] \
                or _only_user(low, users, mean_out) is not sub or shape is None or len(shape) != 4 \
                or not isinstance(shape[1], int):
            continue
        chain, last, inputs = [mean1, sub, square, mean2, add, sqrt, div], div, [x]
        weight = bias = None
        for op in ("mul", "add"):
            follower = _only_user(low, users, last.outputs[0])
            if follower is None or follower.op != op or _has_activation(follower):
                break
            other = follower.inputs[1] if follower.inputs[0] == last.outputs[0] else follower.inputs[0]
            vector = _channel_constant(low, other, shape[1])
            if vector is None:
                break
            if op == "mul":
                weight = vector
            else:
                bias = vector
            chain.append(follower)
            last = follower
        if weight is not None or bias is not None:
            inputs.append(_new_constant(graph, f"{last.outputs[0]}.weight", np.ones(shape[1]) if weight is None else weight))
        if bias is not None:
            inputs.append(_new_constant(graph, f"{last.outputs[0]}.bias", bias))
        norm = ir.Node("channel_norm", inputs, list(last.outputs), {"eps": float(graph.constants[eps].reshape(()))},
                       div.name)
        graph.nodes[next(i for i, n in enumerate(graph.nodes) if n is last)] = norm
        low.origins[last.outputs[0]] = [o for n in chain for o in low.origins.pop(n.outputs[0], [])]
        graph.nodes = [n for n in graph.nodes if not any(n is c for c in chain)]
        changed += 1
    return changed


_TO_CHANNELS_LAST, _TO_CHANNELS_FIRST = [0, 2, 3, 1], [0, 3, 1, 2]
_ELEMENTWISE = {"add", "sub", "mul", "div", "maximum", "minimum"}


def _last_dim_constant(c: np.ndarray) -> bool:
    """Whether a constant broadcasts over a channels-last tensor along its last dim only."""
    return c.ndim <= 4 and all(d == 1 for d in c.shape[:-1])


def _per_position(low: Lowered, node: ir.Node) -> str | None:
    """The tensor input of a node that maps each position's last-dim vector of a rank-4 tensor on
    its own (a linear layer, a layer norm over the last dim, an activation, an elementwise op
    with a constant along the last dim), else None."""
    constants = low.graph.constants
    tensors = [t for t in node.inputs if t not in constants]
    if len(tensors) != 1 or len(node.outputs) != 1 or node.inputs[0] != tensors[0] and node.op not in _ELEMENTWISE:
        return None
    if node.op == "linear" and len(node.inputs) <= 3 and constants[node.inputs[1]].ndim == 2:
        return tensors[0]
    if node.op == "layer_norm" and node.attrs.get("axes") == 1 or node.op == "activation":
        return tensors[0]
    if node.op in _ELEMENTWISE and len(node.inputs) == 2:
        other = node.inputs[1] if node.inputs[0] == tensors[0] else node.inputs[0]
        return tensors[0] if _last_dim_constant(constants[other]) else None
    return None


def _to_channels_first(low: Lowered, node: ir.Node) -> None:
    """A per-position node (_per_position) rewritten for the NCHW tensor of the same values."""
    graph = low.graph
    base = node.outputs[0]
    if node.op == "linear":
        weight = graph.constants[node.inputs[1]]
        node.inputs[1] = _new_constant(graph, f"{base}.weight", weight.reshape(*weight.shape, 1, 1))
        node.op = "conv2d"
        node.attrs = {"stride": [1, 1], "padding": [0, 0, 0, 0], "dilation": [1, 1], "groups": 1,
                      **_activation(node.attrs)}
    elif node.op == "layer_norm":
        node.op = "channel_norm"
        node.attrs = {"eps": node.attrs.get("eps", 1e-5)}
    elif node.op in _ELEMENTWISE:
        k = 0 if node.inputs[0] in graph.constants else 1
        c = graph.constants[node.inputs[k]]
        if c.size > 1:
            node.inputs[k] = _new_constant(graph, f"{base}.channels", c.reshape(-1, 1, 1))


def channels_first(low: Lowered) -> int:
    """permute(0, 2, 3, 1), then nodes that map each pixel's channel vector on its own, then
    permute(0, 3, 1, 2) (ConvNeXt's block: a layer norm and an MLP of linear layers on the pixels
    of a channels-last tensor) run on the NCHW tensor instead, and both permutes go: a layer norm
    over the last dim becomes a channel_norm, a linear layer a 1x1 convolution (the NCHW GEMM,
    split between threads by pixels), a constant along the last dim a (C, 1, 1) one. It runs before
    fold_affine, so a scale after the second permute (torchvision's and timm's layer scale) folds
    into the last convolution, and the residual add then fuses into it."""
    graph, changed = low.graph, 0
    producers, users = _producers(graph), _users(graph)
    for last in list(graph.nodes):
        if last.op != "permute" or last.attrs.get("dims") != _TO_CHANNELS_FIRST:
            continue
        chain: list[ir.Node] = []  # from the node before `last` back
        node, reader = producers.get(last.inputs[0]), last
        while node is not None and node.op != "permute" and _only_user(low, users, node.outputs[0]) is reader:
            source = _per_position(low, node)
            if source is None:
                break
            chain.append(node)
            node, reader = producers.get(source), node
        first = node
        if not chain or first is None or first.op != "permute" or first.attrs.get("dims") != _TO_CHANNELS_LAST \
                or _only_user(low, users, first.outputs[0]) is not reader:
            continue
        for node in chain:
            _to_channels_first(low, node)
            value = low.values.get(node.outputs[0])
            if value is not None:  # later passes read its shape
                low.values[node.outputs[0]] = value.permute(_TO_CHANNELS_FIRST)
        chain[-1].inputs = [first.inputs[0] if t == first.outputs[0] else t for t in chain[-1].inputs]
        low.origins[chain[-1].outputs[0]] = low.origins.pop(first.outputs[0], []) + low.origins.get(chain[-1].outputs[0], [])
        graph.nodes.remove(first)
        _absorb(low, chain[0], last)
        producers, users = _producers(graph), _users(graph)
        changed += 1
    return changed


def _scalar(low: Lowered, node: ir.Node, other: str) -> float | None:
    """The one value of `node`'s input beside `other` when it is a constant of one element."""
    rest = [t for t in node.inputs if t != other]
    c = low.graph.constants.get(rest[0]) if len(rest) == 1 else None
    return float(c.reshape(-1)[0]) if c is not None and c.size == 1 else None


def fuse_attention(low: Lowered) -> int:
    """matmul(q, kt), optionally times or divided by a scalar, softmax over the last dim, matmul
    with v, each read by the next only, becomes one attention node (scaled_dot_product_attention
    and attention written out alike): the scores are made and used by blocks of query rows, never
    written out whole."""
    graph, changed = low.graph, 0
    producers, users = _producers(graph), _users(graph)
    for second in list(graph.nodes):
        softmax = producers.get(second.inputs[0]) if second.op == "matmul" else None
        shape = _shape(low, second.outputs[0])  # (..., L, Ev); a builder's inner tensors have none
        if softmax is None or softmax.op != "softmax" or softmax.attrs.get("log", 0) or shape is None \
                or softmax.attrs["axis"] != len(shape) - 1 or _only_user(low, users, softmax.outputs[0]) is not second:
            continue
        chain, scale = [softmax], 1.0
        first = producers.get(softmax.inputs[0])
        if first is not None and first.op in ("mul", "div") and not _has_activation(first):
            product = next((t for t in first.inputs[:1 if first.op == "div" else 2] if producers.get(t) is not None
                            and producers[t].op == "matmul"), None)
            value = _scalar(low, first, product) if product is not None else None
            if value and _only_user(low, users, first.outputs[0]) is softmax:
                chain, scale = [first, softmax], value if first.op == "mul" else 1.0 / value
                first = producers[product]
        if first is None or first.op != "matmul" or _only_user(low, users, first.outputs[0]) is not chain[0]:
            continue
        shapes = [_shape(low, t) for t in [*first.inputs, second.inputs[1]]]
        if any(s is not None and len(s) < 2 for s in shapes):  # a vector operand: not attention
            continue
        second.inputs = [*first.inputs, second.inputs[1]]
        second.op, second.attrs = "attention", ({"scale": scale} if scale != 1.0 else {})
        for node in [first, *chain]:
            low.origins[second.outputs[0]] = low.origins.pop(node.outputs[0], []) + low.origins.get(second.outputs[0], [])
            graph.nodes.remove(node)
        producers, users = _producers(graph), _users(graph)
        changed += 1
    return changed


def dead_nodes(low: Lowered) -> int:
    """Nodes nothing reads, and constants no node reads, leave the graph."""
    graph = low.graph
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        if any(t in live for t in node.outputs):
            kept.append(node)
            live.update(node.inputs)
        else:
            low.calls.pop(node.outputs[0], None)
            low.origins.pop(node.outputs[0], None)
    removed = len(graph.nodes) - len(kept)
    graph.nodes = kept[::-1]
    for name in [c for c in graph.constants if c not in live]:
        del graph.constants[name]
    return removed


# fold_affine twice: the branches' batch norms before merge_branches, a batch norm of their sum after.
PASSES: tuple[Callable[[Lowered], int], ...] = (dead_nodes, remove_identities, common_subexpressions,
                                               broadcast_expands, dead_nodes, fuse_channel_norms, fold_padding,
                                               channels_first, fold_affine, merge_branches, fold_affine,
                                               fuse_residuals, fuse_attention, fuse_activations)


def optimize(low: Lowered, *, separable: bool = True) -> Lowered:
    """All passes in order (the depthwise -> pointwise fusion only with `separable`), then dead
    nodes out; `low` is rewritten and returned."""
    for p in PASSES:
        p(low)
    if separable:
        fuse_separable(low)
    dead_nodes(low)
    return low
