"""Index tensors: the integer tensors of torch.topk, argmax, sort, kthvalue and what detection
heads compute from them (YOLOv10's `index // nc`, `index % nc`, `gather`), lowered to the
operator set's topk, gather, floor_divide and remainder; medians by topk too; and the writes by
index (scatter and its reductions, index_add, index_put) to its scatter.

The operator set holds float32 tensors only, so the engine holds an integer tensor as float32,
which is exact up to 2^24 in magnitude. The lowering therefore knows a bound on every integer
tensor the engine holds (`result_bound`, from its operands' bounds) and leaves an op whose
result could pass 2^24, or whose integer operand it does not hold, to torch. An integer tensor a
torch call or the caller reads is cast back to its dtype there (lower.py's `for_torch`).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.fx as fx

from pyprune.capture.values import (FILLED, MISSING, Broadcast, Comparison, Condition, Junction, Ref, Unsupported,
                                    fill_value, functional, norm_axis, op_name, without_axes)

__all__ = ["BUILDERS", "INTEGER_DTYPES", "MAX_EXACT", "cast_from_float", "result_bound", "result_signed", "take"]

MAX_EXACT = 2**24  # float32 holds every integer up to this magnitude exactly
# The bound of integers cast from float32 data: float32 holds each exactly (trunc of a float32 is
# one), but nothing bounds them, so no arithmetic may follow until a clamp bounds them.
UNBOUNDED = math.inf
INTEGER_DTYPES = {torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8}
# Casts of float32 data to these keep torch's values where torch defines them (in range): toward
# zero. Narrower types wrap around in torch.
_CAST_FROM_FLOAT = {torch.int64, torch.int32}

# Ops whose integer result is some of their operands' entries, moved or picked: bounded by them.
_MOVES = {"alias", "clone", "contiguous", "detach", "lift_fresh_copy", "lift_fresh", "to", "_to_copy", "type_as",
          "view", "reshape", "_unsafe_view", "flatten", "unflatten", "unsqueeze", "squeeze", "permute", "transpose",
          "t", "numpy_T", "expand", "expand_as", "repeat", "tile", "cat", "stack", "split",
          "split_with_sizes", "chunk", "tensor_split", "hsplit", "vsplit", "dsplit", "unbind", "slice", "select",
          "narrow", "gather", "index_select", "index", "maximum", "minimum", "where", "masked_fill", "neg", "abs",
          "copy", "select_scatter", "slice_scatter"}


def _sum(b: Callable, a: dict) -> int:
    return b(a["self"]) + b(a["other"]) * abs(a.get("alpha", 1) or 1)


# op -> the bound of its integer result from the bound b(v) of each operand.
_ARITHMETIC: dict[str, Callable[[Callable, dict], int]] = {
    "add": _sum,
    "sub": _sum,
    "rsub": _sum,
    "mul": lambda b, a: b(a["self"]) * b(a["other"]),
    "remainder": lambda b, a: b(a["other"]),  # |a % b| < |b|
    "floor_divide": lambda b, a: b(a["self"]),  # |a // b| <= |a| for integers b != 0
    "div": lambda b, a: b(a["self"]),  # rounding_mode "floor" on integers
}
# Ops whose builders below bound their integer results themselves (the indices they make).
_INDEXING = {"topk", "sort", "argsort", "argmax", "argmin", "max", "min", "arange", "cummax", "cummin", "index_put",
             "_index_put_impl"}
_CLAMPS = {"clamp", "clamp_min", "clamp_max"}
# Ops without arithmetic: exact on float32 integers of any size.
_EXACT_AT_ANY_SIZE = _MOVES | _CLAMPS


def input_bound(dtype: torch.dtype) -> int:
    """A bound on a model input's integers: its dtype's, or for int32 and int64 float32's exact
    range, which engine.float_inputs checks the inputs against."""
    return min(int(torch.iinfo(dtype).max) + 1, 2**24)


def bound(low: Any, v: Any) -> float:
    """A bound on the magnitude of the integer value `v` (a tensor the engine holds, a constant,
    a number, a condition), UNBOUNDED for a cast of float32 data; Unsupported when the engine
    does not hold it."""
    if isinstance(v, Condition) or isinstance(v, bool):
        return 1
    if isinstance(v, int):
        return abs(v)
    if isinstance(v, torch.Tensor) and v.dtype == torch.bool:
        return 1
    if isinstance(v, torch.Tensor) and v.dtype in INTEGER_DTYPES:
        return int(v.abs().max()) if v.numel() else 0
    if isinstance(v, Broadcast):  # a constant repeated over the batch (an edge index expanded to it)
        return bound(low, v.value)
    if isinstance(v, Ref) and v.size is None and v.name in low.integers:
        return low.integers[v.name]
    if isinstance(v, Ref) and getattr(low.example(v), "dtype", None) == torch.float32:
        raise Unsupported("integers made from float32 data other than by a cast to int64 or int32")
    raise Unsupported("an integer operand is computed in torch")


def cast_from_float(low: Any, name: str, a: dict, dtype: torch.dtype) -> bool:
    """Whether op `name` casts float32 data the engine holds to integers of `dtype`."""
    x = a.get("self")
    return (name in ("to", "_to_copy") and dtype in _CAST_FROM_FLOAT and isinstance(x, Ref) and x.size is None
            and x.name not in low.integers and getattr(low.example(x), "dtype", None) == torch.float32)


def _operands(a: dict, keys: tuple[str, ...]) -> list[Any]:
    """An op's integer operands: its tensor list (cat, stack) or the arguments `keys` given."""
    operands = a["tensors"] if "tensors" in a else [a[k] for k in keys if a.get(k) is not None]
    return [v for v in operands if not isinstance(v, (list, tuple))]


def _clamp_bound(b: Callable, a: dict) -> float:
    limits = [a[k] for k in ("min", "max") if a.get(k) is not None]
    if len(limits) == 2:  # the result is between them, whatever the operand
        return max(b(v) for v in limits)
    return max(b(v) for v in [a["self"], *limits])


def result_bound(low: Any, name: str, a: dict, several: bool, dtype: torch.dtype | None = None) -> float | None:
    """The bound on the integer results (of `dtype`) of ATen op `name` with arguments `a`, checked
    to be exact in float32; None where the op's builder bounds them (the indices it makes, or the
    indices beside the values of an op with `several` results, which it refuses to give).
    Unsupported for any other op."""
    b = lambda v: bound(low, v)  # noqa: E731
    if name in _INDEXING or (several and name not in _MOVES):
        return None
    if cast_from_float(low, name, a, dtype):
        return UNBOUNDED
    if name in _CLAMPS:
        result = _clamp_bound(b, a)
    elif name in _MOVES:
        # masked_fill's value, the writes' sources
        result = max((b(v) for v in _operands(a, ("self", "other", "value", "src"))), default=0)
    elif name in _ARITHMETIC:
        result = _ARITHMETIC[name](b, a)
    elif name in ("bucketize", "searchsorted"):  # a place among the sorted values: 0 to their count
        result = low.static_dim(a["boundaries"] if name == "bucketize" else a["sorted_sequence"], -1, name)
    elif name == "one_hot":
        result = 1
    elif name in FILLED:  # of the batch: a Broadcast (composites.b_filled)
        result = abs(fill_value(name, a))
    elif name == "count_nonzero":
        x, dims = a["self"], a.get("dim")
        result = math.prod(low.static_dim(x, d, name) for d in low.axes(x, [dims] if isinstance(dims, int) else dims))
    elif name in ("sum", "cumsum"):  # counts of a condition, sums of integers: the bound times how many
        x = a["self"]
        axes = low.axes(x, a.get("dim") if name == "sum" else [a["dim"]]) if low.rank(x) else []
        result = b(x) * math.prod(low.static_dim(x, d, f"a {name} of integers") for d in axes)
    else:
        raise Unsupported(f"{name} of integer tensors is not in the operator set")
    if result <= MAX_EXACT or (result == UNBOUNDED and name in _EXACT_AT_ANY_SIZE):
        return result
    if result == UNBOUNDED or math.isnan(result):  # nan: an unbounded operand times 0
        raise Unsupported(f"{name} of integers cast from float32 data, which nothing bounds (a clamp would)")
    raise Unsupported(f"its integers may pass 2^24 (up to {result}), beyond float32's exact integers")


def _negative(low: Any, v: Any) -> bool:
    """Whether the integer value v may hold a negative entry."""
    if isinstance(v, Ref):
        return v.name in low.signed
    if isinstance(v, torch.Tensor):
        return v.dtype != torch.bool and v.numel() > 0 and bool((v < 0).any())
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0


def result_signed(low: Any, name: str, a: dict, dtype: torch.dtype | None) -> bool:
    """Whether the integer result of op `name` may be negative: then indexing by it counts from
    the end, as torch's does. The indices the builders make are never negative."""
    if cast_from_float(low, name, a, dtype) or name in ("sub", "rsub", "neg"):
        return True
    if name == "abs" or (name in ("clamp", "clamp_min") and a.get("min") is not None and not _negative(low, a["min"])):
        return False
    return any(_negative(low, v) for v in _operands(a, ("self", "other", "value", "min", "max")))


def _indices(low: Any, x: Any, axis: int, k: int, largest: bool, stable: bool,
             n: int | None = None) -> tuple[str, str]:
    """topk's values and indices (held as float32), the indices bounded by the length n of the
    dim (x's dim axis unless given); `stable`: equal entries in index order."""
    n = low.static_dim(x, axis, "topk") if n is None else n
    if n > MAX_EXACT:
        raise Unsupported(f"indices along a dim of {n}, beyond float32's exact integers")
    attrs = {"axis": axis, "k": k, "largest": int(largest), **({"stable": 1} if stable else {})}
    values, indices = low.emit("topk", [low.tensor(x)], attrs, outputs=2)
    low.integers[indices] = max(n - 1, 0)
    return values, indices


def _first_extreme(low: Any, x: Any, axis: int, largest: bool, n: int | None = None) -> tuple[str, str]:
    """The largest (smallest) entry along axis and its first index, NaN counting as both, as
    torch's argmax, argmin, max and min have it: the smallest is the largest of -x."""
    if largest:
        return _indices(low, x, axis, 1, True, True, n)
    values, indices = _indices(low, Ref(low.emit_one("unary", [low.tensor(x)], {"kind": "neg"}).name), axis, 1, True,
                               True, low.static_dim(x, axis, "topk") if n is None else n)
    return low.emit_one("unary", [values], {"kind": "neg"}).name, indices


def b_topk(low: Any, node: fx.Node, a: dict) -> list[Ref]:
    x = a["self"]
    axis = norm_axis(a.get("dim", -1), low.rank(x))
    values, indices = _indices(low, x, axis, low.integer(a["k"], "k"), a.get("largest", True), False)
    return [Ref(values), Ref(indices)]


def b_sort(low: Any, node: fx.Node, a: dict) -> Any:
    """sort and argsort: every entry in order, equal entries in the order of their indices (a
    stable sort; torch's unstable one leaves their order to the platform's sorting code)."""
    x = a["self"]
    axis = norm_axis(a.get("dim", -1), low.rank(x))
    values, indices = _indices(low, x, axis, low.static_dim(x, axis, "sort"), a.get("descending", False), True)
    if node.target.__name__.startswith("argsort"):
        return Ref(indices)
    if isinstance(x, Ref) and x.name in low.integers:  # integers sorted (PointNet++'s ball query)
        _bounded(low, Ref(values), x.name)
        if x.name in low.signed:
            low.signed.add(values)
    return [Ref(values), Ref(indices)]


def b_argmax(low: Any, node: fx.Node, a: dict) -> Ref:
    """argmax and argmin: the first index of the largest (smallest) entry, over a dim or all."""
    x, dim = a["self"], a.get("dim")
    rank, n = low.rank(x), None
    if dim is None:  # over all entries: of a tensor of static shape
        shape = low.shape(x)
        if not all(isinstance(d, int) for d in shape):
            raise Unsupported(f"{node.target.__name__} over all entries of a tensor with dims known only at run time")
        x, axis, n = low.reshape(x, [-1]), 0, math.prod(shape)
    else:
        axis = norm_axis(dim, rank)
    _, indices = _first_extreme(low, x, axis, node.target.__name__.startswith("argmax"), n)
    if dim is None:
        shape = [1] * rank if a.get("keepdim") else []
    elif a.get("keepdim"):
        return Ref(indices)
    else:
        shape = without_axes(rank, [axis])
    return _bounded(low, low.emit_one("reshape", [indices], {"shape": shape}), indices)


def arg_reduce(low: Any, node: fx.Node, a: dict, largest: bool) -> list[Ref]:
    """torch.max(x, dim) and torch.min(x, dim) where their indices are read: both from topk."""
    x = a["self"]
    rank = low.rank(x)
    axis = norm_axis(a["dim"], rank)
    values, indices = _first_extreme(low, x, axis, largest)
    if a.get("keepdim"):
        return [Ref(values), Ref(indices)]
    shape = {"shape": without_axes(rank, [axis])}
    return [low.emit_one("reshape", [values], shape), _bounded(low, low.emit_one("reshape", [indices], shape), indices)]


def _bounded(low: Any, ref: Ref, source: str) -> Ref:
    low.integers[ref.name] = low.integers[source]
    return ref


def b_gather(low: Any, node: fx.Node, a: dict) -> Ref:
    x, index = a["self"], a["index"]
    if a.get("sparse_grad"):
        raise Unsupported("gather with sparse gradients")
    bound(low, index)  # an index the engine holds (or a constant)
    axis = norm_axis(a["dim"], low.rank(x))
    return low.emit_one("gather", [low.tensor(x), low.tensor(index, "the index")], {"axis": axis})


def take(low: Any, x: Any, axes: list[int], indices: list[Any], from_the_end: bool = False) -> Ref:
    """x[..., i0, i1, ...]: x's entries at run-time (or constant) integer indices along adjacent
    axes, the indices' broadcast shape in place of those axes (x.index_select(axis, index),
    x[:, index], x[batch, anchor]). Along one axis, one take (whole slices of x per index entry).
    Along several, one gather per axis, the indices flattened to k entries: along the last axis,
    each index expanded over x's other dims, which gives the k picks there; then along each
    earlier axis, the k-th pick of that axis taken at the k-th position (the axis shrinking to 1).
    `from_the_end`: a negative index counts from the end of its axis (x[index]), else it is out of
    range (index_select, embedding); take and gather refuse any index out of range when they run.
    No other arithmetic on the indices, so none can pass float32's exact integers."""
    for index in indices:
        bound(low, index)
    if len(axes) == 1:
        name = low.tensor(indices[0], "the index")
        if from_the_end:
            name = _counted_from_the_end(low, x, axes[0], indices[0], name)
        return low.emit_one("take", [low.tensor(x), name], {"axis": axes[0]})
    rank, shape = low.rank(x), _broadcast_shape([low.shape(i) for i in indices])
    if sum(not isinstance(d, int) for d in shape) > 1:
        raise Unsupported("indices with several dims known only at run time")
    last = axes[-1]
    flat = [_flattened(low, i, shape, indices, rank, last) for i in indices]
    if from_the_end:
        flat = [_counted_from_the_end(low, x, axis, index, name) for name, index, axis in zip(flat, indices, axes)]
    # x's dims, but the k picks along the last axis
    spread = low.emit_one("expand", [flat[-1], low.tensor(x)], {"shape": [-1 if i == last else -(2 + i)
                                                                           for i in range(rank)]})
    picked = low.emit_one("gather", [low.tensor(x), spread.name], {"axis": last})
    for axis, index in zip(reversed(axes[:-1]), reversed(flat[:-1])):
        entries = [1 if i == axis else -1 if i == last else -(2 + i) for i in range(rank)]
        spread = low.emit_one("expand", [index, picked.name], {"shape": entries})
        picked = low.emit_one("gather", [picked.name, spread.name], {"axis": axis})
    sizes = [d if isinstance(d, int) else -1 for d in shape]
    return low.emit_one("reshape", [picked.name], {"shape": [*(-(2 + i) for i in range(axes[0])), *sizes,
                                                             *(-(2 + i) for i in range(last + 1, rank))]})


def _counted_from_the_end(low: Any, x: Any, axis: int, index: Any, name: str) -> str:
    """The index `name` (the engine's copy of `index`) with negative entries counted from the end
    of x's `axis`, where it may hold some."""
    if not _negative(low, index):
        return name
    return _from_the_end(low, name, low.static_dim(x, axis, "negative indices"))


def _from_the_end(low: Any, index: str, n: int) -> str:
    """index + n where index < 0: torch's count from the end of a dim of n."""
    shifted = low.emit_one("add", [index, low.tensor(float(n))])
    return low.emit_one("where", [index, low.tensor(0.0), shifted.name, index], {"compare": "lt"}).name


def _broadcast_shape(shapes: list[list[Any]]) -> list[Any]:
    """The shape the index tensors broadcast to (torch checked they do)."""
    out: list[Any] = [1] * max(len(s) for s in shapes)
    for s in shapes:
        for i, d in enumerate(s, len(out) - len(s)):
            if d != 1:
                out[i] = d
    return out


def _flattened(low: Any, index: Any, shape: list[Any], indices: list[Any], rank: int, axis: int) -> str:
    """The index broadcast to `shape`, its entries along `axis` of a rank-`rank` tensor, 1 along
    the others. A dim it broadcasts to that is known only at run time is read from another index
    that has it."""
    own = low.shape(index)
    name = low.tensor(index, "the index")
    offset = len(shape) - len(own)
    if own != shape:
        entries, like = [], None
        for i, d in enumerate(shape):
            if i >= offset and own[i - offset] == d:
                entries.append(-1)
            elif isinstance(d, int):
                entries.append(d)
            else:
                other = next((o for o in indices if len(low.shape(o)) == len(shape) and low.shape(o)[i] == d), None)
                if other is None:
                    raise Unsupported("indices broadcast to a size known only at run time")
                like = low.tensor(other, "the index")
                entries.append(-(2 + i))
        name = low.emit_one("expand", [name] + ([like] if like else []), {"shape": entries}).name
    return low.emit_one("reshape", [name], {"shape": [-1 if i == axis else 1 for i in range(rank)]}).name


def b_arange(low: Any, node: fx.Node, a: dict) -> Ref:
    """torch.arange(n) for a size n known only at run time (a batch's indices): ones along a dim
    of that size, summed up, less one. Exact for n up to 2^24."""
    start, step, end = a.get("start", 0), a.get("step", 1), a["end"]
    if start != 0 or step != 1:
        raise Unsupported("arange from a start or by a step to a size known only at run time")
    source = low.size_source(end)
    if source is None:
        raise Unsupported(f"arange to {end.size if isinstance(end, Ref) else end}, which no tensor has as a dim")
    ones = low.emit_one("expand", [low.tensor(torch.ones(1)), source[0]], {"shape": [-(2 + source[1])]})
    counts = low.emit_one("cumsum", [ones.name], {"axis": 0})
    result = low.emit_one("sub", [counts.name, low.tensor(1.0)])
    if node.meta["val"].dtype in INTEGER_DTYPES:
        low.integers[result.name] = MAX_EXACT - 1
    return result


def _kth_smallest(low: Any, x: Any, axis: int, k: int, keepdim: bool, n: int, rank: int) -> tuple[Ref, Ref]:
    """The k-th smallest of the n entries along axis of x, of rank `rank` (NaN above every
    number, as torch's kthvalue has it), and its index: the k smallest by topk, the last of them
    sliced out."""
    if not 1 <= k <= n:
        raise Unsupported(f"the {k}-th smallest of {n} entries")
    values, indices = _indices(low, x, axis, k, False, True, n)
    picked = [low.slice_node(Ref(t), axis, k - 1, k, 1) for t in (values, indices)]
    if not keepdim:
        shape = {"shape": without_axes(rank, [axis])}
        picked = [low.emit_one("reshape", [p.name], shape) for p in picked]
    return picked[0], _bounded(low, picked[1], indices)


def b_kthvalue(low: Any, node: fx.Node, a: dict) -> list[Ref]:
    x = a["self"]
    rank = low.rank(x)
    axis = norm_axis(a.get("dim", -1), rank)
    n = low.static_dim(x, axis, "kthvalue")
    return list(_kth_smallest(low, x, axis, low.integer(a["k"], "k"), bool(a.get("keepdim", False)), n, rank))


def b_median(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.median: the lower of the two middle entries, over a dim or all of them, NaN where
    the entries hold one. Its index (median over a dim) stays a torch call: torch gives the
    first NaN's where there is one."""
    x, dim = a["self"], a.get("dim")
    keepdim = bool(a.get("keepdim", False))
    if dim is None:
        shape = low.shape(x)
        if not all(isinstance(d, int) for d in shape):
            raise Unsupported("median over all entries of a tensor with dims known only at run time")
        x, axis, n, rank = low.reshape(x, [-1]), 0, math.prod(shape), 1
    else:
        rank = low.rank(x)
        axis = norm_axis(dim, rank)
        n = low.static_dim(x, axis, "median")
    value, _ = _kth_smallest(low, x, axis, (n - 1) // 2 + 1, keepdim, n, rank)
    name = low.tensor(x)
    nan = low.emit_one("where", [name, name, low.tensor(1.0), low.tensor(0.0)], {"compare": "ne"})
    any_nan = low.emit_one("reduce", [nan.name], {"kind": "max", "axes": [axis], "keepdim": int(keepdim)})
    value = low.emit_one("where", [any_nan.name, low.tensor(0.5), low.tensor(math.nan), value.name], {"compare": "gt"})
    if dim is None:
        return value
    low.only_first_output_used(node)
    return [value, MISSING]


def b_floor_division(low: Any, node: fx.Node, a: dict) -> Ref:
    """floor_divide and remainder (Python's // and %), of floats or of integers."""
    op = "remainder" if node.target.__name__.startswith("remainder") else "floor_divide"
    return low.emit_one(op, [low.tensor(a["self"], "first operand"), low.tensor(a["other"], "second operand")])


def b_cummax(low: Any, node: fx.Node, a: dict) -> list[Ref]:
    """torch.cummax (cummin: of -x, negated back): the running largest entry along dim and the
    last index holding it, NaN once one is met (its index then the last NaN's), as torch has
    them. A scan in log2(n) steps: each entry takes the pair (value, index) s places before it
    unless its own value is at least as large or NaN, or it has none s places before it, for
    s = 1, 2, 4, ... (what is shifted in is never taken: graphs hold finite numbers only)."""
    x, name = a["self"], "cummin" if node.target.__name__.startswith("cummin") else "cummax"
    rank = low.rank(x)
    axis = norm_axis(a["dim"], rank)
    n = low.static_dim(x, axis, name) if rank else 1
    if n > MAX_EXACT:
        raise Unsupported(f"indices along a dim of {n}, beyond float32's exact integers")
    value = Ref(low.tensor(x))
    if name == "cummin":
        value = low.emit_one("unary", [value.name], {"kind": "neg"})
    position = Ref(low.tensor(torch.arange(n, dtype=torch.float32).reshape([n if d == axis else 1 for d in range(rank)])))
    index = position
    if rank:  # x's shape: the batch's too
        index = low.emit_one("expand", [index.name, value.name], {"shape": [-(2 + d) for d in range(rank)]})
    shift = 1
    while shift < n:
        pads = [0] * (2 * rank)
        pads[2 * axis], pads[2 * axis + 1] = shift, -shift
        earlier = [low.emit_one("pad", [t.name], {"pads": pads, "mode": "constant", "value": 0.0})
                   for t in (value, index)]
        later_wins = Junction(False, (), "or", Comparison(False, (), position, float(shift), "lt"),
                              Junction(False, (), "or", Comparison(False, (), value, earlier[0], "ge"),
                                       Comparison(False, (), value, value, "ne")))
        value, index = (low.select(later_wins, t, e) for t, e in zip((value, index), earlier))
        shift *= 2
    if name == "cummin":
        value = low.emit_one("unary", [value.name], {"kind": "neg"})
    low.integers[index.name] = max(n - 1, 0)
    return [value, index]


def _line_index(low: Any, index: Any, size: Any) -> str:
    """A 1-d index (entries along a dim of `size`), counted from the end where it may be
    negative."""
    if low.rank(index) != 1:
        raise Unsupported("an index of other than one dim")
    name = low.tensor(index, "the index")
    if not _negative(low, index):
        return name
    if not isinstance(size, int):
        raise Unsupported("a negative index along a dim known only at run time")
    return _from_the_end(low, name, size)


def _spread(low: Any, index: str, axis: int, like: str, rank: int) -> str:
    """A 1-d index laid along `axis` of a rank-`rank` tensor and expanded to `like`'s dims
    elsewhere (its own length along the axis)."""
    line = low.emit_one("reshape", [index], {"shape": [-1 if d == axis else 1 for d in range(rank)]})
    return low.emit_one("expand", [line.name, like], {"shape": [-1 if d == axis else -(2 + d) for d in range(rank)]}).name


def _scatter(low: Any, x: Any, axis: int, index: str, src: str, reduce: str) -> Ref:
    return low.emit_one("scatter", [low.tensor(x), index, src], {"axis": axis, "reduce": reduce})


def b_scatter(low: Any, node: fx.Node, a: dict) -> Ref:
    """x.scatter(dim, index, src or value[, reduce="add"]), scatter_add and scatter_reduce (sum,
    amax, amin, the input's entries included): one scatter node."""
    x, index = a["self"], a["index"]
    bound(low, index)
    rank = low.rank(x)
    axis = norm_axis(a["dim"], rank)
    reduce = a.get("reduce")
    op = op_name(functional(node.target))  # scatter_add_ adds like scatter_add
    if op.endswith("scatter_add"):
        reduce = "add"
    elif op.endswith("scatter_reduce"):
        if not a.get("include_self", True) or reduce not in ("sum", "amax", "amin"):
            raise Unsupported(f"scatter_reduce {reduce!r} without the input's entries or of another reduction")
        reduce = {"sum": "add", "amax": "max", "amin": "min"}[reduce]
    elif reduce not in (None, "add"):
        raise Unsupported(f"scatter with reduce {reduce!r}")
    index_name = low.tensor(index, "the index")
    if a.get("src") is not None:
        src = low.tensor(a["src"], "the source")
    else:  # a value: a constant of ones' shape, expanded to the index's
        value = low.tensor(torch.full([1] * rank, float(a["value"])), "the value")
        src = low.emit_one("expand", [value, index_name], {"shape": [-(2 + d) for d in range(rank)]}).name
    return _scatter(low, x, axis, index_name, src, reduce or "none")


def b_index_add(low: Any, node: fx.Node, a: dict) -> Ref:
    """x.index_add(dim, index, source, alpha): the source (times alpha) scattered and added along
    the dim, its index spread over the source's other dims; equal indices sum in index order."""
    x, index, source = a["self"], a["index"], a["source"]
    bound(low, index)
    rank = low.rank(x)
    axis = norm_axis(a["dim"], max(rank, 1))
    src = low.tensor(source, "the source")
    if a.get("alpha", 1) != 1:
        src = low.emit_one("mul", [src, low.tensor(float(a["alpha"]))]).name
    index = _line_index(low, index, low.shape(x)[axis])
    return _scatter(low, x, axis, _spread(low, index, axis, src, rank), src, "add")


def b_index_put(low: Any, node: fx.Node, a: dict) -> Ref:
    """x[..., index, ...] = values (or += with accumulate): one 1-d index on one dim, the others
    whole: the values broadcast to the picked entries' shape, scattered along that dim (a
    PointPillars canvas filled at its pillars' cells)."""
    x, values = a["self"], a["values"]
    rank = low.rank(x)
    picked = [(d, i) for d, i in enumerate(a["indices"]) if i is not None]
    accumulate = bool(a.get("accumulate"))
    if len(picked) == 1 and picked[0][0] == 0 and _is_mask(low, picked[0][1]):
        y, written = _masked_put(low, node, x, low.as_condition(picked[0][1]), values, accumulate)
    elif len(picked) != 1 or _is_mask(low, picked[0][1]):
        raise Unsupported("index_put by other than one integer index on one dim or one boolean mask")
    else:
        axis, index = picked[0]
        bound(low, index)
        spread = _spread(low, _line_index(low, index, low.shape(x)[axis]), axis, low.tensor(x), rank)
        src = low.emit_one("expand", [low.tensor(values, "the values"), spread],
                           {"shape": [-(2 + d) for d in range(rank)]}).name
        y, written = _scatter(low, x, axis, spread, src, "add" if accumulate else "none"), values
    if node.meta["val"].dtype in INTEGER_DTYPES:  # integers written into integers (PointNet++'s ball query)
        if accumulate:
            raise Unsupported("index_put with accumulate of integer tensors is not in the operator set")
        low.integers[y.name] = max(bound(low, x), bound(low, written))
    return y


def _is_mask(low: Any, index: Any) -> bool:
    """Whether an index is boolean: a condition, or a boolean tensor or Broadcast."""
    return isinstance(index, Condition) or getattr(low.example(index), "dtype", None) == torch.bool


def _masked_put(low: Any, node: fx.Node, x: Any, mask: Condition, values: Any, accumulate: bool) -> tuple[Ref, Any]:
    """x[mask] = values (or += with accumulate), the mask over x's leading dims: where it holds,
    one value (`x[x < 0] = 0`), the same mask's entries of a tensor (`x[m] = y[m]`, which the
    graph then reads whole), or arithmetic of those (`x[m] += 1`, `x[m] *= y[m]`); x elsewhere.
    With what it writes."""
    rank, shape = low.rank(x), low.shape(mask)
    if list(shape) != list(low.shape(x)[:len(shape)]):
        raise Unsupported(f"index_put by a boolean mask of shape {shape} over other than the leading dims")
    source = node.args[2] if len(node.args) > 2 else node.kwargs.get("values")
    chosen = _unmasked(low, source, mask, low.shape(x), len(shape))
    if chosen is None:
        raise Unsupported("index_put by a boolean mask of values other than one, the same mask's entries or "
                          "arithmetic of those")
    made = op_name(functional(source.target)) if isinstance(source, fx.Node) else None  # `x[m] += 1`: add_
    if made in _MASKED_ARITHMETIC and node.meta["val"].dtype in INTEGER_DTYPES:
        raise Unsupported("index_put by a boolean mask of integer arithmetic")
    written = chosen if made in (None, "index", *_MASKED_ARITHMETIC) else values
    if accumulate:
        chosen = low.emit_one("add", [low.tensor(x), low.tensor(chosen)])
    if len(shape) == rank:
        return low.select(mask, chosen, x), written
    spread = low.emit_one("reshape", [low.mask(mask).name],
                          {"shape": [-(2 + d) for d in range(len(shape))] + [1] * (rank - len(shape))})
    return low.emit_one("where", [spread.name, low.tensor(0.5), low.tensor(chosen), low.tensor(x)],
                        {"compare": "gt"}), written


# Elementwise arithmetic of a boolean mask's entries that _unmasked carries over to whole tensors.
_MASKED_ARITHMETIC = {"add", "sub", "mul", "div"}


def _unmasked(low: Any, source: Any, mask: Condition, shape: list, masked_dims: int) -> Any:
    """The whole tensor (x's `shape`) or number whose entries where `mask` holds (over the
    leading `masked_dims`) are `source`: y for y[mask], a number, one value as a scalar, a tensor
    broadcast along the unmasked dims as it is, add/sub/mul/div of those; None for anything
    else (an entry's value would depend on which entries the mask picks)."""
    if isinstance(source, (int, float)) and not isinstance(source, bool):
        return source
    if not isinstance(source, fx.Node):
        return None
    name = op_name(functional(source.target))
    if name == "index" and len(source.args[1]) == 1 and _same_test(low.value(source.args[1][0]), mask):
        y = low.value(source.args[0])
        return y if list(low.shape(y)) == list(shape) else None
    if name in _MASKED_ARITHMETIC and len(source.args) == 2 and not source.kwargs:
        a, b = (_unmasked(low, arg, mask, shape, masked_dims) for arg in source.args)
        if a is None or b is None:
            return None
        return low.emit_one(name, [low.tensor(a), low.tensor(b)])
    if name in ("index", *_MASKED_ARITHMETIC):
        return None
    value = low.value(source)
    if isinstance(value, (int, float)):  # a size
        return value
    dims = low.shape(value)
    if not all(type(d) is int for d in dims):
        return None
    if math.prod(dims) == 1:
        return low.emit_one("reshape", [low.tensor(value)], {"shape": []})
    return value if len(dims) <= len(shape) - masked_dims else None


def _same_test(a: Any, b: Any) -> bool:
    """Whether two conditions test the same (two comparisons of the same operands: `x[x > 1] =
    y[x > 1]` writes the comparison twice)."""
    if a is b:
        return True
    if not (isinstance(a, Comparison) and isinstance(b, Comparison)):
        return False
    if (a.negated, a.compare) != (b.negated, b.compare):
        return False
    same = lambda u, v: u is v or (isinstance(u, Ref) and isinstance(v, Ref) and u.name == v.name) or \
        (isinstance(u, (int, float)) and isinstance(v, (int, float)) and u == v)  # noqa: E731
    return same(a.a, b.a) and same(a.b, b.b)


BUILDERS: dict[str, Callable[[Any, fx.Node, dict], Any]] = {
    "topk": b_topk, "sort": b_sort, "argsort": b_sort, "argmax": b_argmax, "argmin": b_argmax,
    "gather": b_gather, "floor_divide": b_floor_division, "arange": b_arange,
    "remainder": b_floor_division, "kthvalue": b_kthvalue, "median": b_median, "cummax": b_cummax,
    "cummin": b_cummax, "scatter": b_scatter, "scatter_add": b_scatter, "scatter_reduce": b_scatter,
    "index_add": b_index_add, "index_put": b_index_put, "_index_put_impl": b_index_put,
}
