"""The operator set in torch terms: every op of pyprune.graph.ir as torch functional calls.

This is the specification the C++ operators are held to, the oracle of the lowering and
optimisation tests (independent of the engine), and how a single node runs in torch inside a
converted model when torch is faster for it or the engine lacks its op.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pyprune.graph import ir

__all__ = ["OPS", "activation", "evaluate", "run", "run_node", "same_upper_padding"]


def activation(x: torch.Tensor, attrs: Mapping[str, Any]) -> torch.Tensor:
    """The fused activation a node's attributes describe, applied to x."""
    kind = attrs.get("activation", "none")
    if kind == "none":
        return x
    if kind == "relu":
        return torch.relu(x)
    if kind == "relu6":
        return torch.clamp(x, 0.0, 6.0)
    if kind == "clamp":
        return torch.clamp(x, attrs.get("activation_min", -math.inf), attrs.get("activation_max", math.inf))
    if kind == "leaky_relu":
        return F.leaky_relu(x, attrs.get("activation_alpha", 0.01))
    if kind == "elu":
        return F.elu(x, attrs.get("activation_alpha", 1.0))
    if kind == "gelu":
        return F.gelu(x)
    if kind == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    return {"hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "silu": F.silu, "sigmoid": torch.sigmoid,
            "tanh": torch.tanh, "mish": F.mish}[kind](x)


def _pads_to_torch(pads: Sequence[int]) -> list[int]:
    """pads (begin, end per dim, in dim order) in F.pad's order (last dim first)."""
    pairs = [(pads[2 * d], pads[2 * d + 1]) for d in range(len(pads) // 2)]
    return [p for pair in reversed(pairs) for p in pair]


def same_upper_padding(size: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                       dilation: Sequence[int]) -> list[int]:
    """conv2d's padding (top, left, bottom, right) under auto_pad "same_upper" (TensorFlow's
    "SAME") for an input of `size` (height, width): each dim padded to ceil(size / stride)
    outputs, the odd one after."""
    totals = [max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0) if n else 0
              for n, k, s, d in zip(size, kernel, stride, dilation)]
    return [totals[0] // 2, totals[1] // 2, totals[0] - totals[0] // 2, totals[1] - totals[1] // 2]


def _conv2d(attrs: Mapping[str, Any], x: torch.Tensor, weight: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
    """act(conv2d(x) + bias + residual); algorithm "separable" is a depthwise convolution (with
    depthwise_activation) then a pointwise one: x, dw weight, dw bias, pw weight, pw bias [, residual]."""
    if attrs.get("algorithm") == "separable":
        dw_bias, pw_weight, pw_bias, *residual = rest
        depthwise = {k[len("depthwise_"):]: v for k, v in attrs.items() if k.startswith("depthwise_")}
        dw_attrs = {k: v for k, v in attrs.items() if k in ("stride", "padding", "dilation", "groups", "auto_pad")}
        y = _conv2d({**dw_attrs, **depthwise}, x, weight, dw_bias)
        return _conv2d({k: v for k, v in attrs.items() if k.startswith("activation")}, y, pw_weight, pw_bias, *residual)
    bias, residual = (list(rest) + [None, None])[:2]
    top, left, bottom, right = attrs.get("padding", [0, 0, 0, 0])
    if attrs.get("auto_pad") == "same_upper":
        top, left, bottom, right = same_upper_padding(x.shape[2:], weight.shape[2:], attrs.get("stride", [1, 1]),
                                                      attrs.get("dilation", [1, 1]))
    if (top, left) != (bottom, right):
        x, padding = F.pad(x, [left, right, top, bottom]), 0
    else:
        padding = (top, left)
    y = F.conv2d(x, weight, bias, attrs.get("stride", [1, 1]), padding, attrs.get("dilation", [1, 1]),
                 attrs.get("groups", 1))
    if residual is not None:
        y = y + residual
    return activation(y, attrs)


def _linear(attrs: Mapping[str, Any], x: torch.Tensor, weight: torch.Tensor,
            bias: torch.Tensor | None = None) -> torch.Tensor:
    return activation(F.linear(x, weight, bias), attrs)


def _channel_view(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-channel vector (dim 1) broadcastable against x."""
    return v.reshape(1, -1, *([1] * (x.dim() - 2)))


def _batch_norm(attrs: Mapping[str, Any], x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    return activation(x * _channel_view(scale, x) + _channel_view(shift, x), attrs)


def _binary(fn: Callable) -> Callable:
    return lambda attrs, a, b: activation(fn(a, b), attrs)


def _unary(attrs: Mapping[str, Any], x: torch.Tensor) -> torch.Tensor:
    kind = attrs["kind"]
    if kind == "pow":
        return torch.pow(x, attrs["exponent"])
    return getattr(torch, kind)(x)  # every other kind is the torch function of its name


def _slice(attrs: Mapping[str, Any], x: torch.Tensor) -> torch.Tensor:
    """Python's slice of the dim, backward too (torch's indexing takes steps >= 1 only)."""
    axis = attrs["axis"]
    picked = range(*slice(attrs.get("start", 0), attrs.get("end"), attrs.get("step", 1)).indices(x.shape[axis]))
    return x.index_select(axis, torch.tensor(picked, dtype=torch.long))


def _reshape(attrs: Mapping[str, Any], x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    like_dims = attrs.get("like_dims", [-1] * len(attrs["shape"]))
    return x.reshape([like.shape[j] if j >= 0 else x.shape[-e - 2] if e <= -2 else e
                      for e, j in zip(attrs["shape"], like_dims)])


def _pixel_grid(attrs: Mapping[str, Any], *maps: torch.Tensor) -> torch.Tensor:
    """a x + b y + c of each map's pixels, concatenated along the shape's -1 entry, or of one
    map along its -2 and -3 entries (the op's docs); row r of the other dims, map i take
    coefficients (r, i)."""
    shape = list(attrs["shape"])
    if -2 in shape:  # one map's pixels as its height and width
        axis = shape.index(-2)
        flat = _pixel_grid({**attrs, "shape": shape[:axis] + [-1] + shape[axis + 2:]}, *maps)
        return flat.reshape(*shape[:axis], *maps[0].shape[-2:], *shape[axis + 2:])
    axis = shape.index(-1)
    abc = torch.tensor(attrs["coefficients"], dtype=torch.float64).reshape(-1, len(maps), 3)
    segments = []
    for i, m in enumerate(maps):
        h, w = m.shape[-2:]
        p = torch.arange(h * w, dtype=torch.float64)
        segments.append(abc[:, i, :1] * (p % w) + abc[:, i, 1:2] * torch.div(p, w, rounding_mode="floor") + abc[:, i, 2:])
    rows = torch.cat(segments, 1).float()  # (rows, pixels): the other dims row-major
    return rows.reshape(*shape[:axis], *shape[axis + 1:], -1).movedim(-1, axis).contiguous()


def _expand(attrs: Mapping[str, Any], x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    return x.expand([like.shape[-e - 2] if e <= -2 else e for e in attrs["shape"]]).contiguous()


def _pool_padding(attrs: Mapping[str, Any]) -> tuple[int, int]:
    top, left, bottom, right = attrs.get("padding", [0, 0, 0, 0])
    if (top, left) != (bottom, right):
        raise ValueError(f"pooling padding must be symmetric in torch, got {attrs['padding']}")
    return top, left


def _max_pool2d(attrs: Mapping[str, Any], x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, attrs["kernel"], attrs.get("stride", attrs["kernel"]), _pool_padding(attrs),
                        attrs.get("dilation", [1, 1]), bool(attrs.get("ceil_mode", 0)))


def _avg_pool2d(attrs: Mapping[str, Any], x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, attrs["kernel"], attrs.get("stride", attrs["kernel"]), _pool_padding(attrs),
                        bool(attrs.get("ceil_mode", 0)), bool(attrs.get("count_include_pad", 1)),
                        attrs.get("divisor", 0) or None)


def _upsample(attrs: Mapping[str, Any], x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    mode = attrs["mode"].replace("_", "-")  # nearest_exact is torch's nearest-exact
    align = bool(attrs.get("align_corners", 0)) if mode in ("bilinear", "bicubic") else None
    if "scale" in attrs:
        return F.interpolate(x, scale_factor=list(attrs["scale"]), mode=mode, align_corners=align)
    size = list(like.shape[-2:]) if attrs.get("size_like") else list(attrs["size"])
    return F.interpolate(x, size=size, mode=mode, align_corners=align)


def _pad(attrs: Mapping[str, Any], x: torch.Tensor) -> torch.Tensor:
    mode = attrs.get("mode", "constant")
    pads = _pads_to_torch(attrs["pads"])
    if mode == "constant":
        return F.pad(x, pads, value=attrs.get("value", 0.0))
    # torch pads only the trailing dims in these modes: drop the leading zero pairs
    while len(pads) > 2 and pads[-2:] == [0, 0]:
        pads = pads[:-2]
    return F.pad(x, pads, mode=mode)


def _reduce(attrs: Mapping[str, Any], x: torch.Tensor) -> torch.Tensor:
    axes, keep = list(attrs["axes"]), bool(attrs.get("keepdim", 0))
    kind = attrs["kind"]
    if kind == "mean":
        return x.mean(axes, keepdim=keep)
    if kind == "sum":
        return x.sum(axes, keepdim=keep)
    if kind == "prod":
        for axis in sorted(axes, reverse=True):
            x = x.prod(axis, keepdim=keep)
        return x
    return (torch.amax if kind == "max" else torch.amin)(x, axes, keepdim=keep)


def _softmax(attrs: Mapping[str, Any], x: torch.Tensor) -> torch.Tensor:
    return (F.log_softmax if attrs.get("log", 0) else F.softmax)(x, attrs["axis"])


def _topk(attrs: Mapping[str, Any], x: torch.Tensor) -> list[torch.Tensor]:
    k, axis, largest = attrs["k"], attrs["axis"], bool(attrs.get("largest", 1))
    if attrs.get("stable", 0):
        values, indices = (t.narrow(axis, 0, k) for t in torch.sort(x, dim=axis, descending=largest, stable=True))
    else:
        values, indices = torch.topk(x, k, axis, largest)
    return [values, indices.float()]  # an index is a float32 holding an integer in the operator set


def _layer_norm(attrs: Mapping[str, Any], x: torch.Tensor, weight: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
    return F.layer_norm(x, x.shape[x.dim() - attrs["axes"]:], weight, bias, attrs.get("eps", 1e-5))


def _channel_norm(attrs: Mapping[str, Any], x: torch.Tensor, weight: torch.Tensor | None = None,
                  bias: torch.Tensor | None = None) -> torch.Tensor:
    mean = x.mean(1, keepdim=True)
    var = (x - mean).pow(2).mean(1, keepdim=True)
    y = (x - mean) / torch.sqrt(var + attrs.get("eps", 1e-6))
    if weight is not None:
        y = y * _channel_view(weight, y)
    if bias is not None:
        y = y + _channel_view(bias, y)
    return y


# op -> fn(attrs, *inputs) -> output or list of outputs
OPS: dict[str, Callable[..., Any]] = {
    "conv2d": _conv2d,
    # the groups: the input's channels over the weight's dim 1
    "dynamic_conv2d": lambda attrs, x, weight, bias=None: _conv2d({**attrs, "groups": x.shape[1] // weight.shape[1]},
                                                                  x, weight, bias),
    "linear": _linear,
    "matmul": lambda attrs, a, b: torch.matmul(a, b),
    "attention": lambda attrs, q, kt, v: torch.softmax(torch.matmul(q * attrs.get("scale", 1.0), kt), -1) @ v,
    "batch_norm": _batch_norm,
    "activation": lambda attrs, x: activation(x, attrs),
    "add": _binary(torch.add),
    "sub": _binary(torch.sub),
    "mul": _binary(torch.mul),
    "div": _binary(torch.div),
    "maximum": _binary(torch.maximum),
    "minimum": _binary(torch.minimum),
    "where": lambda attrs, a, b, x, z: torch.where(getattr(torch, attrs["compare"])(a, b), x, z),
    "floor_divide": lambda attrs, a, b: torch.floor_divide(a, b),
    "remainder": lambda attrs, a, b: torch.remainder(a, b),
    "atan2": lambda attrs, a, b: torch.atan2(a, b),
    "pow": lambda attrs, a, b: torch.pow(a, b),
    "fmod": lambda attrs, a, b: torch.fmod(a, b),
    "hypot": lambda attrs, a, b: torch.hypot(a, b),
    "unary": _unary,
    "concat": lambda attrs, *xs: torch.cat(xs, attrs["axis"]),
    "split": lambda attrs, x: list(torch.split(x, list(attrs["sizes"]), attrs["axis"])),
    "slice": _slice,
    "reshape": _reshape,
    "permute": lambda attrs, x: x.permute(list(attrs["dims"])).contiguous(),
    "expand": _expand,
    "pixel_grid": _pixel_grid,
    "gather": lambda attrs, x, index: torch.gather(x, attrs["axis"], index.long()),
    "take": lambda attrs, x, index: x.index_select(attrs["axis"], index.long().flatten()).reshape(
        (*x.shape[:attrs["axis"]], *index.shape, *x.shape[attrs["axis"] + 1:])),
    "scatter": lambda attrs, x, index, src: x.scatter_reduce(
        attrs.get("axis", 0), index.long(), src, {"add": "sum", "max": "amax", "min": "amin"}[attrs["reduce"]])
    if attrs.get("reduce", "none") != "none" else x.scatter(attrs.get("axis", 0), index.long(), src),
    "topk": _topk,
    "max_pool2d": _max_pool2d,
    "avg_pool2d": _avg_pool2d,
    "adaptive_avg_pool2d": lambda attrs, x: F.adaptive_avg_pool2d(x, list(attrs["output_size"])),
    "adaptive_max_pool2d": lambda attrs, x: F.adaptive_max_pool2d(x, list(attrs["output_size"])),
    "upsample": _upsample,
    "grid_sample": lambda attrs, x, grid: F.grid_sample(x, grid, attrs.get("mode", "bilinear"),
                                                        attrs.get("padding", "zeros"), bool(attrs.get("align_corners", 0))),
    "pad": _pad,
    "reduce": _reduce,
    "softmax": _softmax,
    "cumsum": lambda attrs, x: torch.cumsum(x, attrs["axis"]),
    "cumprod": lambda attrs, x: torch.cumprod(x, attrs["axis"]),
    "logcumsumexp": lambda attrs, x: torch.logcumsumexp(x, attrs["axis"]),
    "layer_norm": _layer_norm,
    "channel_norm": _channel_norm,
}


def run_node(node: ir.Node, inputs: Sequence[Any], calls: Mapping[str, Callable] | None = None) -> list[Any]:
    """A node's outputs in torch: its op from OPS, or its torch call (opaque nodes)."""
    call = (calls or {}).get(node.outputs[0])
    if call is not None:
        return [call(inputs)]
    fn = OPS.get(node.op)
    if fn is None:
        raise ValueError(f"node {node.name or node.outputs[0]!r}: op {node.op!r} is not in the operator set")
    out = fn(node.attrs, *inputs)
    return out if isinstance(out, list) else [out]


def evaluate(graph: ir.Graph, inputs: Sequence[Any], calls: Mapping[str, Callable] | None = None) -> dict[str, Any]:
    """Every tensor of the graph for these inputs (torch tensors or arrays), by name."""
    if len(inputs) != len(graph.inputs):
        raise ValueError(f"the graph takes {len(graph.inputs)} inputs, got {len(inputs)}")
    env: dict[str, Any] = {name: torch.from_numpy(np.asarray(c)) for name, c in graph.constants.items()}
    integers = {spec.name for spec, dtype in zip(graph.inputs, graph.input_dtypes or []) if dtype != "float32"}
    for spec, x in zip(graph.inputs, inputs):
        x = torch.as_tensor(x) if isinstance(x, np.ndarray) else x
        env[spec.name] = x.to(torch.float32) if spec.name in integers else x  # as the engine holds them
    with torch.no_grad():
        for node in graph.nodes:
            outputs = run_node(node, [env[t] for t in node.inputs], calls)
            env.update(zip(node.outputs, outputs))
    return env


def run(graph: ir.Graph, inputs: Sequence[Any], calls: Mapping[str, Callable] | None = None) -> list[Any]:
    """The graph's outputs for these inputs, computed in torch."""
    env = evaluate(graph, inputs, calls)
    return [env[t] for t in graph.outputs]
