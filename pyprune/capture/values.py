"""What the lowering's builders return or raise: a Ref to a value computed at run time, a
Condition (a comparison, or two joined by and / or) not computed yet, a PoolArgmax for the indices only
max_unpool2d reads, MISSING for an output nothing uses, Unsupported for a node the
operator set does not take; and the readings of ATen calls they share: an op's name, the value
a filled tensor holds, a (height, width) pair of integers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


# A slice's bounds past either end of any dim (Python's None).
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
# The ATen ops that make a tensor of one value.
FILLED = ("zeros", "ones", "full", "new_zeros", "new_ones", "new_full", "empty", "new_empty")


@dataclass(frozen=True)
class Ref:
    """A value computed at run time: the tensor (or size) named `name`; `size` is a size's
    symbolic expression."""

    name: str
    size: Any = None


@dataclass(frozen=True, eq=False)
class Condition:
    """A boolean tensor kept as the condition it tests (negated: its logical not), not computed:
    the operator set has float tensors only, so the op reading it takes the condition in (where,
    masked_fill) or turns it into 1.0 and 0.0. `call` is the ATen call (fx node, target, args,
    kwargs) that computes it in torch, for a torch call that reads it."""

    negated: bool
    call: tuple


@dataclass(frozen=True, eq=False)
class Comparison(Condition):
    """`a compare b`, compare one of gt, ge, lt, le, eq, ne."""

    a: Any
    b: Any
    compare: str


@dataclass(frozen=True, eq=False)
class Junction(Condition):
    """`left and right` (kind "and") or `left or right` (kind "or")."""

    kind: str
    left: Condition
    right: Condition


@dataclass(frozen=True, eq=False)
class Broadcast:
    """A constant repeated along a dim 0 of run-time size: `value` (dim 0 of 1) stands for
    itself over `batch` (that size's expression) items. torch.zeros(B, H, W) is one, and what the
    forward computes from such values and constants alone, item by item (DETR's, XCiT's and
    EdgeNeXt's sine position encodings): folded at capture like other constants. An op that
    reads one beside run-time tensors reads it expanded to the batch. `example`: the traced
    value."""

    value: Any
    example: Any
    batch: Any


@dataclass(frozen=True)
class PoolArgmax:
    """The indices of a max_pool2d over non-overlapping kernel x kernel windows, which only
    max_unpool2d reads: kept as the pooling's input `x` and output `pooled`, from which the
    unpooling finds each window's maximum again."""

    x: Ref
    pooled: Ref
    kernel: int


class Unsupported(Exception):
    """A node the operator set does not take: the message says why."""


class _Missing:
    """An output of a lowered op that nothing uses (e.g. max_pool2d's indices)."""


MISSING = _Missing()


def norm_axis(axis: int, rank: int) -> int:
    """torch's dim (negative: from the end) as a non-negative axis of a tensor of `rank` dims."""
    if not -rank <= axis < max(rank, 1):
        raise Unsupported(f"axis {axis} out of range for rank {rank}")
    return axis % rank if rank else 0


def without_axes(rank: int, axes: list[int]) -> list[int]:
    """reshape entries (-(2 + i): dim i of the input) for every dim of a tensor of `rank` dims
    but `axes`: what drops size-1 dims left by a slice or a kept reduction."""
    return [-(2 + i) for i in range(rank) if i not in axes]


def op_name(target: Any) -> str:
    """An ATen op's name without its namespace (relu_, conv2d), or a callable's name."""
    if isinstance(target, torch._ops.OpOverload):
        return target._schema.name.split("::")[1]
    return getattr(target, "__name__", str(target))


def functional(target: Any) -> Any:
    """The out-of-place op of an in-place ATen op (relu_ -> relu), else the op itself."""
    if isinstance(target, torch._ops.OpOverload) and target._schema.is_mutable:
        name = target._schema.name.split("::")[1]
        if name.endswith("_") and not name.endswith("__"):
            packet = getattr(torch.ops.aten, name[:-1], None)
            overload = getattr(packet, target._overloadname, None) if packet is not None else None
            if overload is not None:
                return overload
    return target


def resize_attrs(target: Any, a: dict) -> dict[str, Any]:
    """The upsample node's mode for an ATen upsample op (trilinear resizes as bilinear, one axis
    pair at a time) and, for the interpolating modes, its align_corners."""
    name = op_name(target)
    mode = next(m for m in ("nearest_exact", "nearest", "bilinear", "trilinear", "bicubic") if m in name)
    attrs: dict[str, Any] = {"mode": "bilinear" if mode == "trilinear" else mode}
    if attrs["mode"] in ("bilinear", "bicubic"):
        attrs["align_corners"] = int(bool(a["align_corners"]))
    return attrs


def fill_value(name: str, a: dict) -> float:
    """The value a FILLED op `name` (zeros, new_full, ...) with arguments `a` fills with."""
    if "full" not in name:
        return 1.0 if "ones" in name else 0.0
    if not isinstance(a["fill_value"], (int, float)):
        raise Unsupported("a fill value computed at run time")
    return float(a["fill_value"])


def int_pair(v: Any, name: str) -> list[int]:
    """torch's int-or-pair arguments (stride, padding...) as [height, width]."""
    v = [v] if isinstance(v, int) else list(v)
    if len(v) == 1:
        v = v * 2
    if len(v) != 2 or not all(isinstance(i, int) for i in v):
        raise Unsupported(f"{name} {v} is not two integers")
    return v


def string_padding(padding: str, extents: list[int]) -> tuple[list[int], list[int]]:
    """torch's padding "valid", or "same" (stride 1), for kernels of these extents (dilation
    included): the padding before and after each dim, the odd pixel after, as torch puts it."""
    total = [0 if padding == "valid" else e - 1 for e in extents]
    return [t // 2 for t in total], [t - t // 2 for t in total]


def conv_padding(padding: Any, kernel: list[int]) -> list[int]:
    """A 2-d convolution's padding (ints, or "same" / "valid" for dilated kernel extents
    `kernel`) as [top, left, bottom, right]."""
    if isinstance(padding, str):
        before, after = string_padding(padding, kernel)
        return before + after
    ph, pw = int_pair(padding, "padding")
    return [ph, pw, ph, pw]
