"""ATen ops the operator set has no node for, lowered to several of its nodes: 1-d, 3-d and
transposed convolution, 1-d and 3-d pooling, attention, einsum, indexing by constant index
lists, flip, roll, writes into views (slice/select scatter, copy, fill), tensors made in the
forward, group and instance norm, vector norms, variance, pixel (un)shuffle, channel shuffle,
repeat (and interleaved), sliding windows (unfold), PReLU, GLU, the exponential activations
(ELU, SELU, CELU, softplus, log-sigmoid), threshold and RReLU, lerp, quantiles (by a sort),
logit, nan_to_num, triangles (triu, tril), movedim, diff, cosine similarity and pairwise
distance. Each builder takes the lowering (pyprune.capture.lower), the fx node and its bound
arguments, as the lowering's own builders do, and returns the output's Ref."""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np
import torch
import torch.fx as fx

from pyprune.capture.indices import _indices, take
from pyprune.capture.values import (FILLED, INT64_MAX, INT64_MIN, MISSING, Broadcast, Comparison, PoolArgmax, Ref,
                                    Unsupported, conv_padding, fill_value, int_pair, norm_axis, op_name, resize_attrs,
                                    string_padding, without_axes)
from pyprune.graph import ir

# SELU's constants (torch.nn.SELU).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _node(low: Any, op: str, inputs: list[Any], attrs: dict[str, Any] | None = None) -> str:
    """One node; tensors are names, numbers become scalar constants."""
    return low.emit_one(op, [low.tensor(v) if isinstance(v, float) else v for v in inputs], attrs).name


def _relu(low: Any, x: str) -> str:
    return _node(low, "activation", [x], {"activation": "relu"})


def _unary(low: Any, kind: str, x: str) -> str:
    return _node(low, "unary", [x], {"kind": kind})


def _softplus(low: Any, x: str) -> str:
    """log(1 + exp(x)) as relu(x) + log1p(exp(-|x|)): exp never overflows, and far left, where
    the result is exp(x) itself, 1 + exp(x) does not round it away."""
    tail = _unary(low, "exp", _unary(low, "neg", _unary(low, "abs", x)))
    return _node(low, "add", [_relu(low, x), _unary(low, "log1p", tail)])


def _elu(low: Any, x: str, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> str:
    """scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1)): with u = input_scale * x,
    (scale / input_scale) * elu(u, alpha * input_scale), the elu activation between the two
    multiplications SELU's scale and CELU's input scale need."""
    if not input_scale > 0:
        raise Unsupported(f"ELU with input scale {input_scale} (CELU with a negative alpha)")
    if input_scale != 1.0:
        x = _node(low, "mul", [x, float(input_scale)])
    y = _node(low, "activation", [x], {"activation": "elu", "activation_alpha": float(alpha) * input_scale})
    outer = float(scale) / input_scale
    return y if outer == 1.0 else _node(low, "mul", [y, outer])


def b_elu(low: Any, node: fx.Node, a: dict) -> Any:
    return Ref(_elu(low, low.tensor(a["self"]), a.get("alpha", 1.0), a.get("scale", 1.0), a.get("input_scale", 1.0)))


def b_selu(low: Any, node: fx.Node, a: dict) -> Any:
    return Ref(_elu(low, low.tensor(a["self"]), SELU_ALPHA, SELU_SCALE))


def b_celu(low: Any, node: fx.Node, a: dict) -> Any:
    alpha = float(a.get("alpha", 1.0))
    if alpha == 0.0:
        raise Unsupported("CELU with alpha 0")
    return Ref(_elu(low, low.tensor(a["self"]), alpha, 1.0, 1.0 / alpha))


# Where beta * x > threshold torch returns x itself, from which the stable form differs by less
# than exp(-threshold) / beta: below half an ulp of x from this threshold on.
_SOFTPLUS_LINEAR_UNSEEN = 15.0


def b_softplus(low: Any, node: fx.Node, a: dict) -> Any:
    beta, threshold = float(a.get("beta", 1.0)), float(a.get("threshold", 20.0))
    x = low.tensor(a["self"])
    bx = x if beta == 1.0 else _node(low, "mul", [x, beta])
    y = _softplus(low, bx) if beta == 1.0 else _node(low, "div", [_softplus(low, bx), beta])
    if threshold >= _SOFTPLUS_LINEAR_UNSEEN:
        return Ref(y)
    return Ref(_node(low, "where", [bx, threshold, x, y], {"compare": "gt"}))


def b_hardshrink(low: Any, node: fx.Node, a: dict) -> Any:
    """0 where |x| <= lambd, else x (NaN stays)."""
    x = low.tensor(a["self"])
    return Ref(_node(low, "where", [_unary(low, "abs", x), float(a.get("lambd", 0.5)), 0.0, x], {"compare": "le"}))


def b_softshrink(low: Any, node: fx.Node, a: dict) -> Any:
    """x moved towards 0 by lambd, 0 within lambd of it: x - clamp(x, -lambd, lambd)."""
    x, lambd = low.tensor(a["self"]), float(a.get("lambd", 0.5))
    inside = _node(low, "activation", [x], {"activation": "clamp", "activation_min": -lambd, "activation_max": lambd})
    return Ref(_node(low, "sub", [x, inside]))


def b_pointwise_loss(low: Any, node: fx.Node, a: dict) -> Any:
    """mse_loss, l1_loss, smooth_l1_loss and huber_loss of two tensors (an autoencoder's
    reconstruction error as its anomaly score), elementwise, then reduced as asked (ATen's
    reduction: 0 none, 1 mean, 2 sum)."""
    name = op_name(node.target)
    d = _node(low, "sub", [low.tensor(a["self"]), low.tensor(a["target"])])
    size = float(a.get("beta", a.get("delta", 1.0)))  # where the quadratic part ends
    if name == "mse_loss":
        loss = _node(low, "mul", [d, d])
    elif name == "l1_loss" or size == 0.0:
        loss = _unary(low, "abs", d)
    else:  # quadratic inside |d| < size, linear outside, meeting there
        magnitude = _unary(low, "abs", d)
        half_square = _node(low, "mul", [_node(low, "mul", [d, d]), 0.5])
        linear = _node(low, "sub", [magnitude, 0.5 * size])
        if name == "smooth_l1_loss":
            half_square = _node(low, "mul", [half_square, 1.0 / size])
        else:
            linear = _node(low, "mul", [linear, size])
        loss = _node(low, "where", [magnitude, size, half_square, linear], {"compare": "lt"})
    reduction = a.get("reduction", 1)
    if reduction == 0:
        return Ref(loss)
    rank = max(low.rank(a["self"]), low.rank(a["target"]))
    return Ref(_reduce(low, loss, "mean" if reduction == 1 else "sum", list(range(rank)), False))


def b_threshold(low: Any, node: fx.Node, a: dict) -> Any:
    """value where x <= threshold, else x (NaN stays)."""
    x = low.tensor(a["self"])
    return Ref(_node(low, "where", [x, float(a["threshold"]), float(a["value"]), x], {"compare": "le"}))


def b_rrelu(low: Any, node: fx.Node, a: dict) -> Any:
    """In inference a leaky ReLU of the mean slope (lower + upper) / 2."""
    if a.get("training"):
        raise Unsupported("RReLU in training mode (random slopes)")
    slope = (float(a.get("lower", 1.0 / 8.0)) + float(a.get("upper", 1.0 / 3.0))) / 2
    return low.emit_one("activation", [low.tensor(a["self"])], {"activation": "leaky_relu", "activation_alpha": slope})


def b_lerp(low: Any, node: fx.Node, a: dict) -> Any:
    return Ref(_lerp(low, low.tensor(a["self"]), low.tensor(a["end"]), a["weight"]))


def _lerp(low: Any, start: str, end: str, weight: Any) -> str:
    """start + weight (end - start) for |weight| < 0.5, else end - (end - start)(1 - weight), as
    torch.lerp computes it (exact at both ends); weight a number or a tensor."""
    step = _node(low, "sub", [end, start])

    def near_start(w: Any) -> str:
        return _node(low, "add", [start, _node(low, "mul", [w, step])])

    def near_end(w: Any) -> str:
        return _node(low, "sub", [end, _node(low, "mul", [step, _node(low, "sub", [1.0, w])])])

    if isinstance(weight, (int, float)):
        w = float(weight)
        return near_start(w) if abs(w) < 0.5 else near_end(w)
    w = low.tensor(weight, "the weight")
    return _node(low, "where", [_unary(low, "abs", w), 0.5, near_start(w), near_end(w)], {"compare": "lt"})


def b_quantile(low: Any, node: fx.Node, a: dict) -> Ref:
    """torch.quantile at constant q (a number or a 1-d tensor, its dim first in the result): the
    sorted entries (topk of all, NaN last), the two around q (n - 1) (computed in float32 as
    torch does) and torch's interpolation between them (torch.lerp's for linear);
    NaN where the entries hold one (the last sorted)."""
    x, q, dim = a["self"], a["q"], a.get("dim")
    keepdim, mode = bool(a.get("keepdim", False)), a.get("interpolation", "linear")
    if isinstance(q, torch.Tensor) and q.dim() <= 1:
        qs, several = [float(v) for v in q.reshape(-1).tolist()], q.dim() == 1
    elif isinstance(q, (int, float)) and not isinstance(q, bool):
        qs, several = [float(q)], False
    else:
        raise Unsupported("quantile at q computed at run time")
    if not all(0.0 <= v <= 1.0 for v in qs) or mode not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise Unsupported(f"quantile at {qs} with interpolation {mode!r}")
    rank = low.rank(x)
    if dim is None:
        shape = low.shape(x)
        if not all(isinstance(d, int) for d in shape):
            raise Unsupported("quantile over all entries of a tensor with dims known only at run time")
        x, axis, n, kept = low.reshape(x, [-1]), 0, math.prod(shape), [1] * rank
    else:
        axis = norm_axis(dim, rank)
        n = low.static_dim(x, axis, "quantile")
        kept = [-(2 + d) if d != axis else 1 for d in range(rank)]
    if n == 0:
        raise Unsupported("quantile of no entries")
    shape = kept if keepdim else [e for d, e in enumerate(kept) if dim is not None and d != axis]
    values, _ = _indices(low, x, axis, n, False, True, n)

    def entry(k: int) -> str:
        return low.slice_node(Ref(values), axis, k, k + 1, 1).name

    last = entry(n - 1)
    results = []
    for v in qs:
        rank_q = float(np.float32(v) * np.float32(n - 1))
        lo, hi = math.floor(rank_q), math.ceil(rank_q)
        if mode == "nearest":
            lo = hi = int(np.round(np.float32(rank_q)))  # half to even, as torch.round
        below, above = entry(lo), entry(hi)
        weight = {"lower": 0.0, "higher": 1.0, "midpoint": 0.5}.get(mode, float(np.float32(rank_q - lo)))
        if lo == hi or weight == 0.0:
            value = below
        elif weight == 1.0:
            value = above
        else:
            value = _lerp(low, below, above, weight)
        value = low.emit_one("where", [last, last, last, value], {"compare": "ne"}).name  # NaN sorts last
        results.append(low.emit_one("reshape", [value], {"shape": ([1] if several else []) + shape}).name)
    return low.emit_one("concat", results, {"axis": 0}) if several else Ref(results[0])


def b_logit(low: Any, node: fx.Node, a: dict) -> Any:
    """log(z / (1 - z)), z = x clamped to [eps, 1 - eps] when eps is given."""
    z = low.tensor(a["self"])
    eps = a.get("eps")
    if eps is not None:
        z = _node(low, "activation", [z], {"activation": "clamp", "activation_min": float(eps),
                                           "activation_max": 1.0 - float(eps)})
    return Ref(_unary(low, "log", _node(low, "div", [z, _node(low, "sub", [1.0, z])])))


def b_logaddexp(low: Any, node: fx.Node, a: dict) -> Any:
    """log(exp(x) + exp(y)) as max(x, y) + log1p(exp(-|x - y|)), which overflows nowhere; equal
    infinities (whose difference is NaN) give that infinity."""
    x, y = low.tensor(a["self"]), low.tensor(a["other"])
    larger = _node(low, "maximum", [x, y])
    gap = _unary(low, "abs", _node(low, "sub", [x, y]))
    total = _node(low, "add", [larger, _unary(low, "log1p", _unary(low, "exp", _unary(low, "neg", gap)))])
    return Ref(_node(low, "where", [gap, gap, total, larger], {"compare": "eq"}))


def b_heaviside(low: Any, node: fx.Node, a: dict) -> Any:
    """0 below zero (NaN too, as torch), `values` at zero, 1 above."""
    x = low.tensor(a["self"])
    step = _node(low, "where", [x, 0.0, 1.0, 0.0], {"compare": "gt"})
    return Ref(_node(low, "where", [x, 0.0, low.tensor(a["values"]), step], {"compare": "eq"}))


def b_nan_to_num(low: Any, node: fx.Node, a: dict) -> Any:
    """NaN, +inf and -inf replaced (by 0 and float32's extremes unless given)."""
    big = float(torch.finfo(torch.float32).max)
    x = low.tensor(a["self"])
    nan, posinf, neginf = a.get("nan"), a.get("posinf"), a.get("neginf")
    y = _node(low, "where", [x, x, 0.0 if nan is None else float(nan), x], {"compare": "ne"})
    high, low_value = big if posinf is None else float(posinf), -big if neginf is None else float(neginf)
    y = _node(low, "where", [y, math.inf, high, y], {"compare": "eq"})
    return Ref(_node(low, "where", [y, -math.inf, low_value, y], {"compare": "eq"}))


def _triangle(low: Any, a: dict, upper: bool) -> Any:
    """x where the constant mask of its last two dims keeps it (on or above / below the
    diagonal), 0 elsewhere."""
    x = a["self"]
    rank = low.rank(x)
    if rank < 2:
        raise Unsupported("a triangle of a tensor of rank below 2")
    rows, cols = (low.static_dim(x, rank - k, "the triangle") for k in (2, 1))
    ones = torch.ones(rows, cols)
    mask = ones.triu(a.get("diagonal", 0)) if upper else ones.tril(a.get("diagonal", 0))
    return Ref(_node(low, "where", [low.tensor(mask, "the triangle's mask"), 0.5, low.tensor(x), 0.0],
                     {"compare": "gt"}))


def b_triu(low: Any, node: fx.Node, a: dict) -> Any:
    return _triangle(low, a, upper=True)


def b_tril(low: Any, node: fx.Node, a: dict) -> Any:
    return _triangle(low, a, upper=False)


def b_movedim(low: Any, node: fx.Node, a: dict) -> Any:
    x = a["self"]
    rank = low.rank(x)
    sources, destinations = a["source"], a["destination"]
    sources = [sources] if isinstance(sources, int) else list(sources)
    destinations = [destinations] if isinstance(destinations, int) else list(destinations)
    sources, destinations = [d % rank for d in sources], [d % rank for d in destinations]
    rest = iter(d for d in range(rank) if d not in sources)
    at = dict(zip(destinations, sources))
    dims = [at[i] if i in at else next(rest) for i in range(rank)]
    return Ref(low.tensor(x)) if dims == list(range(rank)) else low.emit_one("permute", [low.tensor(x)], {"dims": dims})


def b_diff(low: Any, node: fx.Node, a: dict) -> Any:
    """x[1:] - x[:-1] along dim, n times."""
    if a.get("prepend") is not None or a.get("append") is not None:
        raise Unsupported("diff with prepend or append")
    x = a["self"]
    axis = a.get("dim", -1) % low.rank(x)
    size = low.static_dim(x, axis, "diff")
    y = Ref(low.tensor(x))
    for _ in range(int(a.get("n", 1))):
        if size == 0:
            break
        later, earlier = (low.slice_node(y, axis, start, start + size - 1, 1).name for start in (1, 0))
        y = low.emit_one("sub", [later, earlier])
        size -= 1
    return y


def b_cosine_similarity(low: Any, node: fx.Node, a: dict) -> Any:
    """The sum over dim of x1 / max(|x1|, eps) times x2 / max(|x2|, eps), norms over dim."""
    x1, x2 = a["x1"], a["x2"]
    rank = low.rank(x1)
    if low.rank(x2) != rank:
        raise Unsupported("cosine similarity of tensors of different ranks")
    axis, eps = a.get("dim", 1) % rank, float(a.get("eps", 1e-8))

    def unit(x: Any) -> str:
        name = low.tensor(x)
        return _node(low, "div", [name, _node(low, "maximum", [_vector_norm(low, name, 2.0, [axis], True), eps])])

    return Ref(_reduce(low, _node(low, "mul", [unit(x1), unit(x2)]), "sum", [axis], False))


def b_pairwise_distance(low: Any, node: fx.Node, a: dict) -> Any:
    """The 2-norm (or 1-, infinity-norm) of x1 - x2 + eps over the last dim."""
    x1, x2 = a["x1"], a["x2"]
    order, eps, keepdim = float(a.get("p", 2.0)), float(a.get("eps", 1e-6)), bool(a.get("keepdim", False))
    rank = max(low.rank(x1), low.rank(x2))
    if rank == 0:
        raise Unsupported("pairwise distance of scalars")
    d = _node(low, "add", [_node(low, "sub", [low.tensor(x1), low.tensor(x2)]), eps])
    return Ref(_vector_norm(low, d, order, [rank - 1], keepdim))


# cdist's compute_mode as aten numbers it: matrix products for the 2-norm where either set has
# more than this many points (torch's default), always, or never.
_MM_IF_NECESSARY, _MM_ALWAYS, _MM_NEVER = 0, 1, 2
_MM_POINTS = 25


def b_cdist(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.cdist: the distances between each point of x1 (..., P, M) and each of x2 (..., R,
    M), as torch computes them. The 2-norm of more than 25 points per set (or as compute_mode
    asks) through one matrix product, torch's: [-2 x1, |x1|^2, 1] times [x2, 1, |x2|^2]^T,
    clamped at 0, its square root; otherwise (and the 1- and infinity-norms) each difference's
    norm over M, x1 viewed as (..., P, 1, M) against x2 as (..., 1, R, M)."""
    x1, x2 = a["x1"], a["x2"]
    order, mode = float(a.get("p", 2.0)), a.get("compute_mode")
    rank = low.rank(x1)
    if rank < 2 or low.rank(x2) != rank:
        raise Unsupported("cdist of other than two sets of points of one rank")
    points = (low.static_dim(x1, rank - 2, "cdist"), low.static_dim(x2, rank - 2, "cdist"))
    lead = [-(2 + i) for i in range(rank - 2)]
    if order == 2.0 and (mode == _MM_ALWAYS or (mode in (None, _MM_IF_NECESSARY) and max(points) > _MM_POINTS)):
        def padded(x: Any, first: bool) -> str:
            name = low.tensor(x)
            norm = _reduce(low, _node(low, "mul", [name, name]), "sum", [rank - 1], True)
            ones = _broadcast_to(low, Ref(norm), 1.0)
            parts = [_node(low, "mul", [name, -2.0]), norm, ones] if first else [name, ones, norm]
            return _node(low, "concat", parts, {"axis": rank - 1})
        swap = list(range(rank - 2)) + [rank - 1, rank - 2]
        squares = _node(low, "matmul", [padded(x1, True), _node(low, "permute", [padded(x2, False)], {"dims": swap})])
        return Ref(_unary(low, "sqrt", _relu(low, squares)))
    rows = _node(low, "reshape", [low.tensor(x1)], {"shape": lead + [-(2 + rank - 2), 1, -(2 + rank - 1)]})
    columns = _node(low, "reshape", [low.tensor(x2)], {"shape": lead + [1, -(2 + rank - 2), -(2 + rank - 1)]})
    return Ref(_vector_norm(low, _node(low, "sub", [rows, columns]), order, [rank], False))


def _with_last_dim_of_1(low: Any, x: Any) -> str:
    """x viewed with a last dim of size 1, to broadcast against a row of values."""
    return _node(low, "reshape", [low.tensor(x)], {"shape": [-(2 + i) for i in range(low.rank(x))] + [1]})


def _sorted_positions(low: Any, x: Any, sorted_values: Any, right: bool) -> Ref:
    """For each entry of x, how many of the sorted constant values lie below it (with `right`, at
    or below it): x viewed with a last dim of 1 against the values, a `where` of 1s and 0s summed
    over them. NaN counts past every value, as torch sorts it."""
    values = low.constant(sorted_values, "the sorted values")
    if values.dim() != 1:
        raise Unsupported("searching sorted values of more than one dim")
    rank = low.rank(x)
    column = _with_last_dim_of_1(low, x)
    # not (x <= v): 1 where v < x, and where x is NaN (not (x < v) with `right`)
    below = _node(low, "where", [column, low.tensor(values, "the sorted values"), 0.0, 1.0],
                  {"compare": "lt" if right else "le"})
    return Ref(_reduce(low, below, "sum", [rank], False))


def b_bucketize(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.bucketize by constant boundaries: the index of each entry's bucket."""
    return _sorted_positions(low, a["self"], a["boundaries"], bool(a.get("right", False)))


def b_searchsorted(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.searchsorted in a constant 1-d sequence: where each value would go."""
    if a.get("sorter") is not None:
        raise Unsupported("searchsorted with a sorter")
    right = bool(a.get("right", False)) or a.get("side") == "right"
    return _sorted_positions(low, a["self"], a["sorted_sequence"], right)


def b_count_nonzero(low: Any, node: fx.Node, a: dict) -> Any:
    """The entries other than 0 (NaN counted) over dims: a `where` of 1s and 0s, summed."""
    x = a["self"]
    dims = a.get("dim")
    nonzero = _node(low, "where", [low.tensor(x), 0.0, 0.0, 1.0], {"compare": "eq"})
    return Ref(_reduce(low, nonzero, "sum", low.axes(x, [dims] if isinstance(dims, int) else dims), False))


def b_one_hot(low: Any, node: fx.Node, a: dict) -> Any:
    """F.one_hot(index, C) of a known C: each index viewed with a last dim of 1 against 0 .. C - 1,
    a `where` of 1s and 0s (an index past C is all zeros, where torch refuses it)."""
    x, classes = a["self"], a.get("num_classes", -1)
    if not isinstance(classes, int) or classes < 1:
        raise Unsupported("one_hot whose class count comes from the data")
    column = _with_last_dim_of_1(low, x)
    return Ref(_node(low, "where", [column, low.tensor(torch.arange(classes, dtype=torch.float32), "the classes"),
                                    1.0, 0.0], {"compare": "eq"}))


def b_diagonal(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.diagonal of two adjacent dims (any offset): the pair flattened, every (m + 1)-th entry
    of it from the offset's first, as a slice."""
    x, offset = a["self"], int(a.get("offset", 0))
    rank = low.rank(x)
    d1, d2 = (a.get("dim1", 0) % rank, a.get("dim2", 1) % rank)
    if d2 != d1 + 1:
        raise Unsupported("diagonal of other than two adjacent dims, in order")
    n, m = low.static_dim(x, d1, "diagonal"), low.static_dim(x, d2, "diagonal")
    count = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    first = offset if offset >= 0 else -offset * m
    keep = [-(2 + i) for i in range(d1)]
    flat = _node(low, "reshape", [low.tensor(x)], {"shape": keep + [n * m] + [-(2 + i) for i in range(d2 + 1, rank)]})
    picked = low.slice_node(Ref(flat), d1, first, first + max(count - 1, 0) * (m + 1) + 1 if count else first, m + 1)
    if d2 == rank - 1:
        return picked
    order = list(range(d1)) + list(range(d1 + 1, rank - 1)) + [d1]  # torch puts the diagonal last
    return low.emit_one("permute", [picked.name], {"dims": order})


def b_diag_embed(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.diag_embed of the last dim into the last two (offset 0): x[..., None] times the identity."""
    x = a["self"]
    if a.get("offset", 0) != 0 or a.get("dim1", -2) not in (-2, low.rank(x) - 1) or a.get("dim2", -1) not in (-1, low.rank(x)):
        raise Unsupported("diag_embed with an offset or other dims")
    n = low.static_dim(x, low.rank(x) - 1, "diag_embed")
    column = _with_last_dim_of_1(low, x)
    return Ref(_node(low, "mul", [column, low.tensor(torch.eye(n), "the identity")]))


def b_volume_interpolation(low: Any, node: fx.Node, a: dict) -> Any:
    """F.interpolate of (N, C, D, H, W), "trilinear", "nearest" or "nearest-exact", separable as
    torch's is: the 2-d interpolation over (H, W) with the depth planes as channels, then over
    (D, H'W') with the depth alone resized (the other axis kept: its coordinates land on the
    inputs themselves)."""
    base = resize_attrs(node.target, a)
    what = f"{'trilinear' if base['mode'] == 'bilinear' else base['mode']} interpolation"
    x = a["input"] if "input" in a else a["self"]
    if low.rank(x) != 5:
        raise Unsupported(f"{what} of a rank-{low.rank(x)} tensor")
    c, d, h, w = (low.static_dim(x, i, what) for i in range(1, 5))
    scales = a.get("scale_factors")
    if scales is None and a.get("scales_d") is not None:
        scales = [a["scales_d"], a["scales_h"], a["scales_w"]]
    if scales is not None:
        scales = [float(f) for f in (scales if len(scales) == 3 else list(scales) * 3)]
        sizes = [math.floor(n * f) for n, f in zip((d, h, w), scales)]
    else:
        sizes = [low.integer(s, "output size") for s in a["output_size"]]
    if min(sizes) < 1:
        raise Unsupported(f"{what} to {sizes}")

    def resize(y: str, size: list[int], scale: list[float] | None) -> str:
        return _node(low, "upsample", [y], {**base, **({"scale": scale} if scale is not None else {"size": size})})

    planes = _node(low, "reshape", [low.tensor(x)], {"shape": [-2, c * d, -5, -6]})
    planes = resize(planes, sizes[1:], None if scales is None else scales[1:])
    depth = _node(low, "reshape", [planes], {"shape": [-2, c, d, sizes[1] * sizes[2]]})
    depth = resize(depth, [sizes[0], sizes[1] * sizes[2]], None if scales is None else [scales[0], 1.0])
    return Ref(_node(low, "reshape", [depth], {"shape": [-2, c, *sizes]}))


def b_antialiased(low: Any, node: fx.Node, a: dict) -> Any:
    """Antialiased bilinear or bicubic interpolation (F.interpolate(..., antialias=True)) of
    known sizes: separable and linear, so each pass is a linear layer over the last dim whose
    weights are torch's own, read off the same op run on the basis vectors at capture; W's pass,
    a transpose, H's pass, the transpose back."""
    x, corners = a["input"] if "input" in a else a["self"], bool(a["align_corners"])
    if low.rank(x) != 4:
        raise Unsupported(f"antialiased interpolation of a rank-{low.rank(x)} tensor")
    h, w = (low.static_dim(x, i, "antialiased interpolation") for i in (2, 3))
    scales = a.get("scale_factors")
    if scales is None and a.get("scales_h") is not None:
        scales = [a["scales_h"], a["scales_w"]]
    scales = None if scales is None else [float(f) for f in scales]
    sizes = [math.floor(n * f) for n, f in zip((h, w), scales)] if scales is not None else \
        [low.integer(s, "output size") for s in a["output_size"]]
    op = node.target.overloadpacket.vec

    def weights(n: int, out: int, scale: float | None) -> torch.Tensor:
        """(out, n): the pass over a dim of n, as torch interpolates each basis vector along it."""
        basis = torch.eye(n).reshape(1, 1, n, n)  # row j: the j-th basis vector
        with torch.no_grad():
            y = op(basis, None if scale is not None else [n, out], corners, None if scale is None else [1.0, scale])
        return y[0, 0].t().contiguous()

    y = low.tensor(x)
    for k, (n, out) in enumerate(zip((w, h), reversed(sizes))):
        scale = None if scales is None else scales[1 - k]
        y = _node(low, "linear", [y, low.tensor(weights(n, out, scale), "the interpolation weights")])
        y = _node(low, "permute", [y], {"dims": [0, 1, 3, 2]})
    return Ref(y)


def b_outer(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.outer of two vectors: a column times a row."""
    x, y = a["self"], a["vec2"]
    if low.rank(x) != 1 or low.rank(y) != 1:
        raise Unsupported("outer of other than two vectors")
    column = _node(low, "reshape", [low.tensor(x)], {"shape": [-2, 1]})
    return Ref(_node(low, "mul", [column, _node(low, "reshape", [low.tensor(y)], {"shape": [1, -2]})]))


def b_aminmax(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.aminmax: (min, max) over a dim, or over all."""
    x, dim, keepdim = a["self"], a.get("dim"), bool(a.get("keepdim", False))
    axes = low.axes(x, None if dim is None else [dim])
    return [Ref(_reduce(low, low.tensor(x), kind, axes, keepdim)) for kind in ("min", "max")]


def b_bilinear(low: Any, node: fx.Node, a: dict) -> Any:
    """nn.Bilinear: y[..., k] = x1[..., :] W[k] x2[..., :] + b[k], as one linear layer of x1 by
    W's (k, j) rows, (..., K * J) viewed as (..., K, J), times x2 and summed over J."""
    x1, x2 = a["input1"], a["input2"]
    weight = low.constant(a["weight"], "the weight")
    rank = low.rank(x1)
    if weight.dim() != 3 or rank < 1 or low.rank(x2) != rank:
        raise Unsupported("bilinear of other than a 3-d weight and two inputs of one rank")
    outputs, _, width = weight.shape
    rows = weight.permute(0, 2, 1).reshape(outputs * width, -1).contiguous()
    lead = [-(2 + i) for i in range(rank - 1)]
    products = _node(low, "reshape", [_node(low, "linear", [low.tensor(x1), low.tensor(rows, "the weight")])],
                     {"shape": lead + [outputs, width]})
    x2 = _node(low, "reshape", [low.tensor(x2)], {"shape": lead + [1, width]})
    y = _reduce(low, _node(low, "mul", [products, x2]), "sum", [rank], False)
    if a.get("bias") is not None:
        y = _node(low, "add", [y, low.tensor(low.constant(a["bias"], "the bias"), "the bias")])
    return Ref(y)


def unpool_rejects(height: Any, width: Any, kernel: int, output_size: Any) -> str:
    """Why max_unpool2d cannot place the maxima of k x k windows of an input of that size (its
    indices are flat, so the output must be as wide and cover the windows' rows), or ""."""
    if not all(isinstance(v, int) for v in (height, width, *output_size)):
        return "max_unpool2d of sizes known only at run time"
    if output_size[1] != width or output_size[0] < height // kernel * kernel:
        return "max_unpool2d to another width than the pooling's input"
    return ""


def b_max_unpool2d(low: Any, node: fx.Node, a: dict) -> Any:
    """max_unpool2d by the indices of a max_pool2d over non-overlapping k x k windows: each value
    goes where its window's maximum was, as torch's pooling indexed it (the first maximum in
    row-major order, or the last NaN), zeros elsewhere. Per window position (a, b): that phase
    of the pooling's input, whether it holds the maximum and no earlier position does (or is the
    last NaN), the values there; the k^2 phases interleaved back and padded (or cropped) to the
    output's height."""
    argmax = a["indices"]
    if not isinstance(argmax, PoolArgmax):
        raise Unsupported("max_unpool2d by indices other than a max_pool2d's of non-overlapping windows, "
                          "or to another width than its input")
    k, x, pooled = argmax.kernel, argmax.x, argmax.pooled
    height, width = a["output_size"]  # checked by the pooling's builder (unpool_rejects)
    ph, pw = (low.static_dim(pooled, d, "max_unpool2d") for d in (2, 3))
    values = low.tensor(a["self"])
    phases = [[low.slice_node(low.slice_node(x, 2, r, r + ph * k, k), 3, c, c + pw * k, k).name for c in range(k)]
              for r in range(k)]
    order = [(r, c) for r in range(k) for c in range(k)]
    chosen: dict[tuple[int, int], str] = {}
    for positions, test in ((order, lambda p: Comparison(False, (), Ref(p), pooled, "eq")),  # the first maximum
                            (order[::-1], lambda p: Comparison(False, (), Ref(p), Ref(p), "ne"))):  # the last NaN
        seen = None
        for r, c in positions:
            hit = low.mask(test(phases[r][c])).name
            fresh = hit if seen is None else _node(low, "mul", [hit, _node(low, "sub", [1.0, seen])])
            chosen[r, c] = fresh if (r, c) not in chosen else _node(low, "add", [chosen[r, c], fresh])
            seen = hit if seen is None else _node(low, "maximum", [seen, hit])
    rows = []
    for r in range(k):
        cells = [_node(low, "reshape", [low.select(Comparison(False, (), Ref(chosen[r, c]), 0.5, "gt"), Ref(values),
                                                   0.0).name], {"shape": [-2, -3, -4, 1, -5, 1]}) for c in range(k)]
        rows.append(_node(low, "concat", cells, {"axis": 5}))
    grid = _node(low, "reshape", [_node(low, "concat", rows, {"axis": 3})], {"shape": [-2, -3, ph * k, pw * k]})
    return low.emit_one("pad", [grid], {"pads": [0, 0, 0, 0, 0, height - ph * k, 0, width - pw * k], "mode": "constant",
                                        "value": 0.0})


def b_log_sigmoid(low: Any, node: fx.Node, a: dict) -> Any:
    """-softplus(-x); log_sigmoid_forward also returns a buffer nothing may use."""
    out = Ref(_unary(low, "neg", _softplus(low, _unary(low, "neg", low.tensor(a["self"])))))
    if not isinstance(node.meta.get("val"), (list, tuple)):
        return out
    low.only_first_output_used(node)
    return [out, MISSING]


def b_prelu(low: Any, node: fx.Node, a: dict) -> Any:
    """One slope is a leaky ReLU; one per channel (dim 1) is relu(x) + slope * (x - relu(x))."""
    x = low.tensor(a["self"])
    weight = low.constant(a["weight"], "the slope")
    if weight.numel() == 1:
        return low.emit_one("activation", [x], {"activation": "leaky_relu", "activation_alpha": float(weight)})
    rank = low.rank(a["self"])
    if rank < 2 or weight.dim() != 1:
        raise Unsupported("PReLU slopes on an input of rank < 2")
    slopes = low.tensor(weight.reshape([-1] + [1] * (rank - 2)).contiguous(), "the slope")
    positive = _relu(low, x)
    negative = _node(low, "mul", [_node(low, "sub", [x, positive]), slopes])
    return low.emit_one("add", [positive, negative])


def _reduce(low: Any, x: str, kind: str, axes: list[int], keepdim: bool) -> str:
    return _node(low, "reduce", [x], {"kind": kind, "axes": axes, "keepdim": int(keepdim)})


def _count(low: Any, x: Any, axes: list[int], what: str) -> int:
    return math.prod(low.static_dim(x, d, what) for d in axes)


def _vector_norm(low: Any, x: str, order: float, axes: list[int], keepdim: bool) -> str:
    """The 1-, 2- and infinity-norms of x over axes: sum |x|, sqrt(sum x * x), max |x|."""
    if order == 2.0:
        return _unary(low, "sqrt", _reduce(low, _node(low, "mul", [x, x]), "sum", axes, keepdim))
    if order in (1.0, math.inf):
        return _reduce(low, _unary(low, "abs", x), "sum" if order == 1.0 else "max", axes, keepdim)
    raise Unsupported(f"the {order:g}-norm")


def b_vector_norm(low: Any, node: fx.Node, a: dict) -> Any:
    x = a["self"]
    if a.get("dtype") not in (None, torch.float32):
        raise Unsupported("vector norm with a dtype")
    return Ref(_vector_norm(low, low.tensor(x), float(a.get("ord", 2)), low.axes(x, a.get("dim")),
                            bool(a.get("keepdim", False))))


def _variance(low: Any, a: dict) -> str:
    """The mean of (x - mean)^2 over dims, times n / (n - correction) (var's, std's arguments);
    n counted at run time where the dims include one only the run knows (a dynamic batch)."""
    x = a["self"]
    axes, keepdim, name = low.axes(x, a.get("dim")), bool(a.get("keepdim", False)), low.tensor(x)
    correction = a.get("correction")
    correction = (1 if a.get("unbiased", True) else 0) if correction is None else float(correction)
    deviation = _node(low, "sub", [name, _reduce(low, name, "mean", axes, True)])
    y = _reduce(low, _node(low, "mul", [deviation, deviation]), "mean", axes, keepdim)
    if not correction:
        return y
    if any(not isinstance(low.shape(x)[d], int) for d in axes):  # over the batch: n counted as it runs
        n = _reduce(low, _broadcast_to(low, x, 1.0), "sum", axes, keepdim)
        return _node(low, "mul", [y, _node(low, "div", [n, _node(low, "sub", [n, float(correction)])])])
    count = _count(low, x, axes, "variance")
    if count <= correction:
        raise Unsupported(f"variance of {count} values with correction {correction}")
    return _node(low, "mul", [y, count / (count - correction)])


def b_var(low: Any, node: fx.Node, a: dict) -> Any:
    return Ref(_variance(low, a))


def b_std(low: Any, node: fx.Node, a: dict) -> Any:
    return Ref(_unary(low, "sqrt", _variance(low, a)))


def b_var_mean(low: Any, node: fx.Node, a: dict) -> Any:
    """var_mean and std_mean: the variance (its sqrt) and the mean, both over the same dims."""
    spread = _variance(low, a)
    if node.target.__name__.startswith("std"):
        spread = _unary(low, "sqrt", spread)
    x = a["self"]
    mean = _reduce(low, low.tensor(x), "mean", low.axes(x, a.get("dim")), bool(a.get("keepdim", False)))
    return [Ref(spread), Ref(mean)]


def b_logsumexp(low: Any, node: fx.Node, a: dict) -> Any:
    """log(sum(exp(x - m))) + m with m the largest entry, as torch computes it (an infinite m
    taken as 0, so that all -inf gives -inf and an inf gives inf)."""
    x = a["self"]
    axes, keepdim, name = low.axes(x, a.get("dim")), bool(a.get("keepdim", False)), low.tensor(x)
    largest = _reduce(low, name, "max", axes, True)
    shift = _node(low, "where", [_unary(low, "abs", largest), math.inf, 0.0, largest], {"compare": "eq"})
    total = _reduce(low, _unary(low, "exp", _node(low, "sub", [name, shift])), "sum", axes, keepdim)
    if not keepdim:
        shift = low.emit_one("reshape", [shift], {"shape": without_axes(low.rank(x), axes)}).name
    return low.emit_one("add", [_unary(low, "log", total), shift])


def b_frac(low: Any, node: fx.Node, a: dict) -> Any:
    """x - trunc(x), torch's definition."""
    name = low.tensor(a["self"])
    return low.emit_one("sub", [name, _unary(low, "trunc", name)])


def b_affine_grid(low: Any, node: fx.Node, a: dict) -> Any:
    """F.affine_grid of (N, 2, 3) matrices for a 2-d output: torch's base grid, a constant
    (H * W, 3) of the pixels' (x, y, 1) in [-1, 1], times each matrix transposed (matmul),
    reshaped to (N, H, W, 2)."""
    theta, size = a["theta"], list(a["size"])
    if len(size) != 4 or low.rank(theta) != 3:
        raise Unsupported(f"affine grid of size {len(size)}-d")
    h, w = (low.integer(d, "affine grid size") for d in size[2:])
    align = bool(a["align_corners"])

    def steps(n: int) -> torch.Tensor:  # torch's linspace_from_neg_one
        if n <= 1:
            return torch.zeros(n)
        line = torch.linspace(-1, 1, n)
        return line if align else line * (n - 1) / n

    base = torch.stack([steps(w).expand(h, w), steps(h)[:, None].expand(h, w), torch.ones(h, w)], -1)
    swapped = _node(low, "permute", [low.tensor(theta)], {"dims": [0, 2, 1]})
    grid = _node(low, "matmul", [low.tensor(base.reshape(1, h * w, 3).contiguous(), "the base grid"), swapped])
    return low.emit_one("reshape", [grid], {"shape": [-2, h, w, 2]})


def grid_sample_3d(low: Any, x: Any, grid: Any, mode: str, padding: str, align: bool) -> Ref:
    """F.grid_sample of a volume (N, C, D, H, W) at a grid (N, D', H', W', 3) of (x, y, z) points,
    `bilinear` (trilinear) or `nearest`, any padding: the 2-d grid_sample of the volume's depth
    slices stacked along the height, a row of zeros after each, (N, C, D * (H + 1), W). A point
    is read there once per depth it weighs (the two around it, or its nearest), its height moved
    down by that depth's place, and weighted by the depth's linear weight. With zeros, a depth
    outside the volume lands where only zeros are read (past the stack, or on its rows of
    zeros), and a height outside (-1, H) pixels, which reads nothing, is moved far off first so
    that it reads no other depth's rows; with border (and reflection, after reflecting them as
    torch does) the height and depth are clamped into the volume first (the width by the 2-d
    op)."""
    c, d, h, w = _volume(low, x, "grid sampling")
    if low.rank(grid) != 5 or low.static_dim(grid, 4, "grid sampling") != 3:
        raise Unsupported(f"3-d grid sampling with a grid of shape {low.shape(grid)}")
    out = [low.static_dim(grid, axis, "grid sampling") for axis in (1, 2, 3)]
    rows = d * (h + 1)
    gap = _node(low, "pad", [low.tensor(x)], {"pads": [0, 0, 0, 0, 0, 0, 0, 1, 0, 0], "mode": "constant", "value": 0.0})
    stacked = _node(low, "reshape", [gap], {"shape": [-2, c, rows, w]})
    gx, gy, gz = (low.slice_node(grid, 4, i, i + 1, 1).name for i in range(3))

    def pixels(g: str, size: int) -> str:  # torch's unnormalisation of a coordinate
        if align:
            return _node(low, "mul", [_node(low, "add", [g, 1.0]), (size - 1) / 2])
        scaled = _node(low, "mul", [_node(low, "add", [g, 1.0]), float(size)])
        return _node(low, "div", [_node(low, "sub", [scaled, 1.0]), 2.0])

    def normalised(p: str, size: int) -> str:  # and back, for the stacked image's height
        if align:
            return _node(low, "sub", [_node(low, "mul", [p, 2 / (size - 1)]), 1.0])
        doubled = _node(low, "add", [_node(low, "mul", [p, 2.0]), 1.0])
        return _node(low, "sub", [_node(low, "div", [doubled, float(size)]), 1.0])

    def reflected(p: str, size: int) -> str:  # about the first and last pixels' centres or outer edges
        first, twice = (0.0, 2 * (size - 1)) if align else (-0.5, 2 * size)
        if twice == 0:
            return p  # one pixel: the clamp below makes it 0
        extra = _node(low, "fmod", [_unary(low, "abs", _node(low, "sub", [p, first])), float(twice)])
        return _node(low, "add", [_node(low, "minimum", [extra, _node(low, "sub", [float(twice), extra])]), first])

    y, z = pixels(gy, h), pixels(gz, d)
    if padding != "zeros":
        if padding == "reflection":
            y, z = reflected(y, h), reflected(z, d)
        y, z = (_node(low, "minimum", [_node(low, "maximum", [p, 0.0]), float(n - 1)]) for p, n in ((y, h), (z, d)))
    else:
        # Inside (-1, h): closer than (h + 1) / 2 to its middle (h - 1) / 2.
        inside = _node(low, "sub", [(h + 1) / 2, _unary(low, "abs", _node(low, "sub", [y, (h - 1) / 2]))])
        y = _node(low, "where", [inside, 0.0, y, -4.0 * (rows + 2)], {"compare": "gt"})
    if mode == "nearest":
        depths = [(_unary(low, "round", z), None)]
    else:
        below = _unary(low, "floor", z)
        above_weight = _node(low, "sub", [z, below])
        depths = [(below, _node(low, "sub", [1.0, above_weight])), (_node(low, "add", [below, 1.0]), above_weight)]
    total = None
    for depth, weight in depths:
        height = normalised(_node(low, "add", [y, _node(low, "mul", [depth, float(h + 1)])]), rows)
        points = _node(low, "reshape", [_node(low, "concat", [gx, height], {"axis": 4})],
                       {"shape": [-2, out[0] * out[1], out[2], 2]})
        read = _node(low, "grid_sample", [stacked, points],
                     {"mode": mode, "padding": padding, "align_corners": int(align)})
        read = _node(low, "reshape", [read], {"shape": [-2, c] + out})
        if weight is not None:
            read = _node(low, "mul", [read, _node(low, "permute", [weight], {"dims": [0, 4, 1, 2, 3]})])
        total = read if total is None else _node(low, "add", [total, read])
    return Ref(total)


def _im2col_taps(low: Any, x: Any, kernel: list[int], dilation: list[int], padding: list[int],
                 stride: list[int]) -> tuple[str, int, int]:
    """(N, C, kh * kw, L) of (N, C, H, W), entry (c, tap (i, j), pixel) the input padded
    ([top, left, bottom, right]) at the tap's place in the pixel's window: one strided slice
    per tap, stacked after the channels. Returns it with the output's height and width."""
    (kh, kw), (dh, dw), (sh, sw) = kernel, dilation, stride
    top, left, bottom, right = padding
    h, w = (low.static_dim(x, 2, "im2col") + top + bottom, low.static_dim(x, 3, "im2col") + left + right)
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise Unsupported("im2col with a window larger than the padded input")
    padded = low.tensor(x)
    if any(padding):
        padded = _node(low, "pad", [padded], {"pads": [0, 0, 0, 0, top, bottom, left, right], "mode": "constant", "value": 0.0})
    taps = []
    for i in range(kh):
        for j in range(kw):
            rows = low.slice_node(Ref(padded), 2, i * dh, i * dh + sh * (oh - 1) + 1, sh)
            tap = low.slice_node(rows, 3, j * dw, j * dw + sw * (ow - 1) + 1, sw)
            taps.append(_node(low, "reshape", [tap.name], {"shape": [-2, -3, 1, oh * ow]}))
    return (_node(low, "concat", taps, {"axis": 2}) if len(taps) > 1 else taps[0]), oh, ow


def _tiles(kernel: tuple[int, int], dilation: tuple[int, int], stride: tuple[int, int]) -> bool:
    """Whether the windows tile the plane, side by side without overlap (a stride of the
    kernel's size, no dilation: MobileViT's patches), so that im2col and col2im only move
    entries."""
    return dilation == (1, 1) and stride == kernel


def b_im2col(low: Any, node: fx.Node, a: dict) -> Any:
    """F.unfold (im2col) of (N, C, H, W): (N, C * kh * kw, L), row (c, i, j) holding input
    channel c at kernel tap (i, j) for each of the L output pixels. Windows that tile the plane
    are a `reshape` to (N, C, oh, kh, ow, kw), a `permute` and a `reshape`, where other windows
    take a slice per tap."""
    x = a["self"]
    if low.rank(x) != 4:
        raise Unsupported(f"im2col of a rank-{low.rank(x)} tensor")
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = (int_pair(a[k], k) for k in ("kernel_size", "dilation", "padding", "stride"))
    if not _tiles((kh, kw), (dh, dw), (sh, sw)):
        taps, oh, ow = _im2col_taps(low, x, [kh, kw], [dh, dw], [ph, pw, ph, pw], [sh, sw])
        return low.emit_one("reshape", [taps], {"shape": [-2, -1, oh * ow]})
    channels = low.static_dim(x, 1, "im2col")
    h, w = low.static_dim(x, 2, "im2col") + 2 * ph, low.static_dim(x, 3, "im2col") + 2 * pw
    oh, ow = h // kh, w // kw
    if oh < 1 or ow < 1:
        raise Unsupported("im2col with a window larger than the padded input")
    y = low.tensor(x)
    if ph or pw or oh * kh < h or ow * kw < w:  # the padding, less the rows and columns no window reads
        y = _node(low, "pad", [y], {"pads": [0, 0, 0, 0, ph, oh * kh - h + ph, pw, ow * kw - w + pw],
                                     "mode": "constant", "value": 0.0})
    y = _node(low, "reshape", [y], {"shape": [-2, channels, oh, kh, ow, kw]})
    y = _node(low, "permute", [y], {"dims": [0, 1, 3, 5, 2, 4]})
    return low.emit_one("reshape", [y], {"shape": [-2, channels * kh * kw, oh * ow]})


def b_conv2d_computed_weight(low: Any, node: fx.Node, a: dict) -> Any:
    """F.conv2d of a weight computed at run time (CondConv, dynamic convolution, ODConv mix each
    sample's kernels from experts and run the batch as one convolution grouped by sample; a
    tracker's template is the kernel of its search features): a dynamic_conv2d node, whose
    groups are the input's channels over the weight's dim 1, so the group count may be a
    run-time size (the batch)."""
    x, weight = a["input"], a["weight"]
    if low.rank(x) != 4 or low.rank(weight) != 4:
        raise Unsupported("a convolution of a computed weight other than 2-d")
    kh, kw = low.shape(weight)[2:]
    if not all(isinstance(d, int) for d in (kh, kw)):
        raise Unsupported("a convolution of a computed weight whose kernel size is only known at run time")
    stride, dilation = int_pair(a["stride"], "stride"), int_pair(a["dilation"], "dilation")
    padding = conv_padding(a["padding"], [(k - 1) * d + 1 for k, d in ((kh, dilation[0]), (kw, dilation[1]))])
    inputs = [low.tensor(x), low.tensor(weight, "the weight")]
    if a.get("bias") is not None:
        inputs.append(low.tensor(a["bias"], "the bias"))
    return low.emit_one("dynamic_conv2d", inputs, {"stride": stride, "padding": padding, "dilation": dilation})


def b_col2im(low: Any, node: fx.Node, a: dict) -> Any:
    """F.fold (col2im) of (N, C * kh * kw, L) to (N, C, H, W), summing the taps that overlap:
    per tap, its (N, C, oh, ow) plane spread to the stride (zeros `pad`ded between its pixels
    through a 6-d `reshape`) and `pad`ded to its place in the padded output; the taps `add`ed,
    the padding cropped."""
    x = a["self"]
    if low.rank(x) != 3:
        raise Unsupported(f"col2im of a rank-{low.rank(x)} tensor")
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = (
        int_pair([low.integer(v, "col2im size") for v in a[k]], k)
        for k in ("output_size", "kernel_size", "dilation", "padding", "stride"))
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    rows, length = low.static_dim(x, 1, "col2im"), low.static_dim(x, 2, "col2im")
    if oh < 1 or ow < 1 or length != oh * ow or rows % (kh * kw):
        raise Unsupported(f"col2im of {rows} x {length} columns to {h} x {w}")
    channels = rows // (kh * kw)
    if _tiles((kh, kw), (dh, dw), (sh, sw)):  # each output entry from one tap: entries only move
        y = _node(low, "reshape", [low.tensor(x)], {"shape": [-2, channels, kh, kw, oh, ow]})
        y = _node(low, "permute", [y], {"dims": [0, 1, 4, 2, 5, 3]})
        y = _node(low, "reshape", [y], {"shape": [-2, channels, oh * kh, ow * kw]})
        if not (ph or pw or oh * kh != h + 2 * ph or ow * kw != w + 2 * pw):
            return Ref(y)
        return low.emit_one("pad", [y], {"pads": [0, 0, 0, 0, -ph, h + ph - oh * kh, -pw, w + pw - ow * kw],
                                         "mode": "constant", "value": 0.0})
    taps = _node(low, "reshape", [low.tensor(x)], {"shape": [-2, channels, kh * kw, oh, ow]})
    total = None
    for i in range(kh):
        for j in range(kw):
            t = i * kw + j
            tap = _node(low, "reshape", [low.slice_node(Ref(taps), 2, t, t + 1, 1).name],
                        {"shape": [-2, channels, oh, ow]})
            if sh > 1 or sw > 1:
                cells = _node(low, "reshape", [tap], {"shape": [-2, channels, oh, 1, ow, 1]})
                cells = _node(low, "pad", [cells], {"pads": [0, 0, 0, 0, 0, 0, 0, sh - 1, 0, 0, 0, sw - 1],
                                                    "mode": "constant", "value": 0.0})
                tap = _node(low, "reshape", [cells], {"shape": [-2, channels, oh * sh, ow * sw]})
            top, left = i * dh, j * dw
            placed = _node(low, "pad", [tap], {"pads": [0, 0, 0, 0, top, h + 2 * ph - top - oh * sh,
                                                        left, w + 2 * pw - left - ow * sw],
                                               "mode": "constant", "value": 0.0})
            total = placed if total is None else _node(low, "add", [total, placed])
    if not (ph or pw):
        return Ref(total)
    return low.emit_one("pad", [total], {"pads": [0, 0, 0, 0, -ph, -ph, -pw, -pw], "mode": "constant", "value": 0.0})


def b_channel_shuffle(low: Any, node: fx.Node, a: dict) -> Any:
    """(N, G * C', ...) -> (N, G, C', ...) -> (N, C', G, ...) -> (N, C, ...)."""
    x, groups = a["self"], int(a["groups"])
    rank = low.rank(x)
    channels = low.static_dim(x, 1, "channel shuffle")
    if rank < 2 or rank > 5 or groups <= 0 or channels % groups:
        raise Unsupported(f"channel shuffle of {channels} channels in {groups} groups")
    rest = [-(2 + i) for i in range(2, rank)]
    grouped = low.reshape(x, [-2, groups, channels // groups] + rest)
    swapped = _node(low, "permute", [grouped.name], {"dims": [0, 2, 1] + list(range(3, rank + 1))})
    return low.emit_one("reshape", [swapped], {"shape": [-2, channels] + [e - 1 for e in rest]})


def _repeat_count(low: Any, r: Any) -> int | None:
    """A repeat count known at capture, or None for one computed at run time."""
    try:
        return low.integer(r, "repeats")
    except Unsupported:
        return None


def b_repeat(low: Any, node: fx.Node, a: dict) -> Any:
    """repeat and tile: new leading dims and repeats of dims of size 1 (a table repeated over the
    batch, an index over the box coordinates) by expand, other dims by copies concatenated along
    each."""
    x = a["self"]
    repeats = list(a.get("repeats", a.get("dims", [])))
    rank = low.rank(x)
    if len(repeats) < rank:  # tile: fewer than the dims, the leading ones are 1
        repeats = [1] * (rank - len(repeats)) + repeats
    if len(repeats) > ir.MAX_RANK:
        raise Unsupported(f"repeat to {len(repeats)} dims")
    counts, shape, offset = [_repeat_count(low, r) for r in repeats], low.shape(x), len(repeats) - rank
    if any(c is not None and c < 1 for c in counts):
        raise Unsupported(f"repeat {counts} of a rank-{rank} tensor")
    if any(c is None and shape[i - offset] != 1 for i, c in enumerate(counts) if i >= offset):
        raise Unsupported("a repeat computed at run time of a dim larger than 1")
    spread = [i < offset or c is None or (c > 1 and shape[i - offset] == 1) for i, c in enumerate(counts)]
    y = low.b_expand(node, {"self": x, "size": [r if s else -1 for r, s in zip(repeats, spread)]}) if any(spread) else x
    name = low.tensor(y)
    for axis, c in enumerate(counts):
        if not spread[axis] and c > 1:
            name = _node(low, "concat", [name] * c, {"axis": axis})
    return Ref(name)


def b_repeat_interleave(low: Any, node: fx.Node, a: dict) -> Any:
    """Each entry along a dim repeated r times in place: a unit dim after it, expanded to r,
    merged back (without a dim: of the flattened tensor)."""
    x, r = a["self"], a.get("repeats")
    if isinstance(r, torch.Tensor):
        raise Unsupported("repeat_interleave by a tensor of counts")
    r = low.integer(r, "repeats")
    if a.get("dim") is None:
        size = math.prod(low.shape(x))
        if not isinstance(size, int):
            raise Unsupported("repeat_interleave of a flattened tensor of run-time size")
        wide = _node(low, "expand", [low.reshape(x, [size, 1]).name], {"shape": [-1, r]})
        return low.emit_one("reshape", [wide], {"shape": [size * r]})
    rank = low.rank(x)
    axis = a["dim"] % rank
    if rank >= 6:
        raise Unsupported(f"repeat_interleave of a rank-{rank} tensor")
    size = low.shape(x)[axis]
    before, after = [-(2 + i) for i in range(axis)], [-(3 + i) for i in range(axis + 1, rank)]
    spread = low.reshape(x, before + [-(2 + axis), 1] + [e + 1 for e in after])
    wide = _node(low, "expand", [spread.name], {"shape": [-1] * (axis + 1) + [r] + [-1] * (rank - axis - 1)})
    return low.emit_one("reshape", [wide], {"shape": before + [size * r if isinstance(size, int) else -1] + after})


def b_unfold(low: Any, node: fx.Node, a: dict) -> Any:
    """Tensor.unfold, the sliding windows of a dim (HaloNet's blocks with their halo): per place j
    of a window, the strided slice of entries j, j + step, ... with a unit last dim, concatenated
    along it."""
    x = a["self"]
    rank = low.rank(x)
    if not 1 <= rank <= 5:
        raise Unsupported(f"unfold of a rank-{rank} tensor")
    axis, size, step = a["dimension"] % rank, int(a["size"]), int(a["step"])
    windows = (low.static_dim(x, axis, "unfold") - size) // step + 1
    if size < 1 or step < 1 or windows < 1:
        raise Unsupported(f"unfold into windows of {size} every {step}")
    keep = [-(2 + i) for i in range(rank)]
    parts = [_node(low, "reshape", [low.slice_node(x, axis, j, j + (windows - 1) * step + 1, step).name],
                   {"shape": keep + [1]}) for j in range(size)]
    return Ref(parts[0]) if size == 1 else low.emit_one("concat", parts, {"axis": rank})


def b_glu(low: Any, node: fx.Node, a: dict) -> Any:
    """a * sigmoid(b) for the halves a, b of dim."""
    x = a["self"]
    axis = a.get("dim", -1) % low.rank(x)
    size = low.static_dim(x, axis, "GLU")
    if size % 2:
        raise Unsupported(f"GLU of an odd size {size}")
    first, second = low.emit("split", [low.tensor(x)], {"axis": axis, "sizes": [size // 2] * 2}, 2)
    return low.emit_one("mul", [first, _node(low, "activation", [second], {"activation": "sigmoid"})])


def b_baddbmm(low: Any, node: fx.Node, a: dict) -> Any:
    """beta * input + alpha * (batch1 @ batch2)."""
    product = _node(low, "matmul", [low.tensor(a["batch1"]), low.tensor(a["batch2"])])
    if a.get("alpha", 1) != 1:
        product = _node(low, "mul", [product, float(a["alpha"])])
    bias = low.tensor(a["self"])
    if a.get("beta", 1) != 1:
        bias = _node(low, "mul", [bias, float(a["beta"])])
    return low.emit_one("add", [bias, product])


def b_addcmul(low: Any, node: fx.Node, a: dict) -> Any:
    """input + value * tensor1 * tensor2 (ConvNeXt-V2's global response normalisation);
    addcdiv: input + value * tensor1 / tensor2."""
    combined = _node(low, "mul" if node.target._schema.name.startswith("aten::addcmul") else "div",
                     [low.tensor(a["tensor1"]), low.tensor(a["tensor2"])])
    if a.get("value", 1) != 1:
        combined = _node(low, "mul", [combined, float(a["value"])])
    return low.emit_one("add", [low.tensor(a["self"]), combined])


def b_reshape_as(low: Any, node: fx.Node, a: dict) -> Any:
    """reshape to the other tensor's shape: its run-time sizes as size entries."""
    return low.reshape(a["self"], [d if isinstance(d, int) else Ref("", d) for d in low.shape(a["other"])])


def b_broadcast_tensors(low: Any, node: fx.Node, a: dict) -> list[Any]:
    """Each tensor expanded to the shape they broadcast to (an anchor grid's
    broadcast_tensors(xs[:, None], ys[None]), a loss's operands): its run-time sizes as entries."""
    shape = [d if isinstance(d, int) else Ref("", d) for d in low.shape(node.meta["val"][0])]
    return [low.expand_to(t, shape) for t in a["tensors"]]


def b_square(low: Any, node: fx.Node, a: dict) -> Any:
    x = low.tensor(a["self"])
    return low.emit_one("mul", [x, x])


def _group_norm(low: Any, x: Any, groups: int, weight: Any, bias: Any, eps: float) -> Any:
    """x (N, C, ...) as (N, G, C/G, ...), layer_norm over all but its first two dims, back to
    (N, C, ...), then weight[c] and bias[c]."""
    rank = low.rank(x)
    if rank < 2 or rank > 5:
        raise Unsupported(f"group norm of a rank-{rank} input")
    channels = low.static_dim(x, 1, "group norm's channels")
    if groups <= 0 or channels % groups:
        raise Unsupported(f"{channels} channels in {groups} groups")
    spatial = [-(2 + i) for i in range(2, rank)]  # reshape entries: "dim i of the input"
    grouped = low.reshape(x, [-2, groups, channels // groups] + spatial)
    normed = _node(low, "layer_norm", [grouped.name], {"axes": rank - 1, "eps": float(eps)})
    y = _node(low, "reshape", [normed], {"shape": [-2, channels] + [e - 1 for e in spatial]})
    return _channel_affine(low, y, rank, weight, bias)


def _channel_affine(low: Any, y: str, rank: int, weight: Any, bias: Any) -> Ref:
    """y (N, C, ...) times weight[c], plus bias[c] (either may be None): the (C,) parameters
    themselves, reshaped in the graph, so that a packed file stores them once, as the
    state_dict's tensors."""
    per_channel = {"shape": [-1] + [1] * (rank - 2)}
    if weight is not None:
        scale = _node(low, "reshape", [low.tensor(low.constant(weight, "the weight"), "the weight")], per_channel)
        y = _node(low, "mul", [y, scale])
    if bias is not None:
        shift = _node(low, "reshape", [low.tensor(low.constant(bias, "the bias"), "the bias")], per_channel)
        y = _node(low, "add", [y, shift])
    return Ref(y)


def batch_statistics_norm(low: Any, x: Any, weight: Any, bias: Any, eps: float) -> Ref:
    """A batch norm over the batch's own statistics (a BatchNorm without running statistics,
    which uses them in eval mode too): each channel normalised over the batch and the other
    dims, as a layer norm of x with dims 0 and 1 swapped, swapped back."""
    rank = low.rank(x)
    if rank < 2 or rank > 5:
        raise Unsupported(f"batch norm of a rank-{rank} input")
    swap = {"dims": [1, 0] + list(range(2, rank))}
    moved = _node(low, "permute", [low.tensor(x)], swap)
    normed = _node(low, "layer_norm", [moved], {"axes": rank - 1, "eps": float(eps)})
    return _channel_affine(low, _node(low, "permute", [normed], swap), rank, weight, bias)


def b_group_norm(low: Any, node: fx.Node, a: dict) -> Any:
    if "N" in a:  # native_group_norm: (y, mean, rstd)
        low.only_first_output_used(node)
        out = _group_norm(low, a["input"], a["group"], a.get("weight"), a.get("bias"), a["eps"])
        return [out, MISSING, MISSING]
    return _group_norm(low, a["input"], a["num_groups"], a.get("weight"), a.get("bias"), a.get("eps", 1e-5))


def b_instance_norm(low: Any, node: fx.Node, a: dict) -> Any:
    if not a.get("use_input_stats", True):
        raise Unsupported("instance norm with running statistics")
    channels = low.static_dim(a["input"], 1, "instance norm's channels")
    return _group_norm(low, a["input"], channels, a.get("weight"), a.get("bias"), a.get("eps", 1e-5))


def _interleave(low: Any, x: str, lead: int, channels: int, factor: tuple[int, int], phase_major: bool = False) -> str:
    """(..., C * rh * rw, H, W) -> (..., C, H * rh, W * rw): channel c * rh * rw + i * rw + j
    becomes pixel (h * rh + i, w * rw + j) of channel c (pixel_shuffle); phase_major, channel
    (i * rw + j) * C + c does (phases concatenated). `lead` dims come first. H and W are read
    at run time, so other image sizes run too."""
    rh, rw = factor
    keep = [-(2 + i) for i in range(lead)]
    split, order = ([rh, rw, channels], (2, 3, 0, 4, 1)) if phase_major else ([channels, rh, rw], (0, 3, 1, 4, 2))
    six = _node(low, "reshape", [x], {"shape": keep + split + [-(3 + lead), -(4 + lead)]})
    moved = _node(low, "permute", [six], {"dims": list(range(lead)) + [lead + d for d in order]})
    # (..., C, H, rh, W, rw): W and rw merged, then H and rh (one -1 per reshape).
    wide = _node(low, "reshape", [moved], {"shape": keep + [-(2 + lead), -(3 + lead), -(4 + lead), -1]})
    return _node(low, "reshape", [wide], {"shape": keep + [-(2 + lead), -1, -(5 + lead)]})


def _shuffle(low: Any, x: Any, factor: int, up: bool) -> Any:
    """pixel_shuffle (up) and pixel_unshuffle through a 6-D view and a permute."""
    rank = low.rank(x)
    if rank < 3 or rank > 5:
        raise Unsupported(f"pixel shuffle of a rank-{rank} input")
    c, r = low.static_dim(x, rank - 3, "pixel shuffle"), int(factor)
    if up:
        if r <= 0 or c % (r * r):
            raise Unsupported(f"pixel shuffle of {c} channels by {r}")
        return Ref(_interleave(low, low.tensor(x), rank - 3, c // (r * r), (r, r)))
    h, w = (low.static_dim(x, rank - i, "pixel unshuffle") for i in (2, 1))
    if r <= 0 or h % r or w % r:
        raise Unsupported(f"pixel unshuffle of {h}x{w} by {r}")
    keep = [-(2 + i) for i in range(rank - 3)]
    n = len(keep)
    six = low.reshape(x, keep + [c, h // r, r, w // r, r])
    moved = _node(low, "permute", [six.name], {"dims": list(range(n)) + [n + d for d in (0, 2, 4, 1, 3)]})
    return low.emit_one("reshape", [moved], {"shape": keep + [c * r * r, h // r, w // r]})


def b_pixel_shuffle(low: Any, node: fx.Node, a: dict) -> Any:
    return _shuffle(low, a["self"], a["upscale_factor"], True)


def b_pixel_unshuffle(low: Any, node: fx.Node, a: dict) -> Any:
    return _shuffle(low, a["self"], a["downscale_factor"], False)


def b_conv1d(low: Any, node: fx.Node, a: dict) -> Any:
    """A 1-d convolution (ECA's channel attention) as a 2-d one on (N, C, 1, L); of a weight
    computed at run time (a dynamic 1-d convolution), a dynamic_conv2d."""
    x, weight = a["input"], a["weight"]
    if low.rank(x) != 3 or low.rank(weight) != 3:
        raise Unsupported(f"a 1-d convolution of a rank-{low.rank(x)} input")
    computed = not isinstance(weight, torch.Tensor)
    taps = low.shape(weight)[2]
    if not isinstance(taps, int):
        raise Unsupported("a 1-d convolution whose kernel size is only known at run time")
    (stride,), (dilation,) = (int_pair(a[k], k)[:1] for k in ("stride", "dilation"))
    padding = a["padding"]
    if isinstance(padding, str):
        (before,), (after,) = string_padding(padding, [(taps - 1) * dilation + 1])
    else:
        before = after = int_pair(padding, "padding")[0]
    if computed:
        kernel = _node(low, "reshape", [low.tensor(weight, "the weight")], {"shape": [-2, -3, 1, taps]})
    else:
        kernel = low.tensor(low.constant(weight, "the weight").unsqueeze(2).contiguous(), "the weight")
    inputs = [low.reshape(x, [-2, -3, 1, -4]).name, kernel]
    if a.get("bias") is not None:
        bias = a["bias"]
        inputs.append(low.tensor(bias if computed else low.constant(bias, "the bias"), "the bias"))
    attrs = {"stride": [1, stride], "padding": [0, before, 0, after], "dilation": [1, dilation]}
    y = _node(low, "dynamic_conv2d", inputs, attrs) if computed else \
        _node(low, "conv2d", inputs, {**attrs, "groups": int(a["groups"])})
    return low.emit_one("reshape", [y], {"shape": [-2, -3, -5]})


def _triple(v: Any, name: str) -> list[int]:
    """torch's int-or-triple arguments of 3-d ops as [depth, height, width]."""
    v = [v] if isinstance(v, int) else list(v)
    if len(v) == 1:
        v = v * 3
    if len(v) != 3 or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        raise Unsupported(f"{name} {v} is not three integers")
    return v


def _volume(low: Any, x: Any, what: str) -> list[int]:
    """C, D, H and W of a 5-D input, known at capture (the batch may vary)."""
    if low.rank(x) != 5:
        raise Unsupported(f"{what} of a rank-{low.rank(x)} input")
    return [low.static_dim(x, axis, what) for axis in range(1, 5)]


def b_conv3d(low: Any, node: fx.Node, a: dict) -> Any:
    """A 3-d convolution (video models, LambdaNet's position lambdas) as 2-d ones over (H, W)
    whose batch holds the output depths: its depth taps stacked as input channels
    (_stacked_taps), or for a depthwise one a depthwise conv2d per tap, summed
    (_depthwise_taps). Same multiply-adds, on the conv2d kernels."""
    x, weight = a["input"], low.constant(a["weight"], "the weight")
    bias = None if a.get("bias") is None else low.constant(a["bias"], "the bias")
    c, d, h, w = _volume(low, x, "a 3-d convolution")
    if weight.dim() != 5:
        raise Unsupported(f"a 3-d convolution with a rank-{weight.dim()} weight")
    if any(t is not None and t.dtype != torch.float32 for t in (weight, bias)):
        raise Unsupported("a 3-d convolution with weights of other than float32")
    groups = int(a["groups"])
    cout, per_group, kd, kh, kw = weight.shape
    stride, dilation = _triple(a["stride"], "stride"), _triple(a["dilation"], "dilation")
    kernel = [(k - 1) * dl + 1 for k, dl in zip(weight.shape[2:], dilation)]
    padding = a["padding"]
    if isinstance(padding, str):
        before, after = string_padding(padding, kernel)
    else:
        before = after = _triple(padding, "padding")
    padded = [n + b + e for n, b, e in zip((d, h, w), before, after)]
    out = [(p - k) // s + 1 for p, k, s in zip(padded, kernel, stride)]
    if min(out) < 1:
        raise Unsupported(f"a 3-d convolution of a {d}x{h}x{w} input with an empty output")
    # The batch norm after it (video models follow every 3-d convolution with one) goes into the
    # weights here, as the optimiser folds one into a conv2d: past the layout nodes below, the
    # optimiser would not find it. Nothing below can fail: a norm counted as folded stays so.
    norm = low.following_norm(node)
    if norm is not None:
        scale, shift = norm[0].float(), norm[1].float()
        weight = (weight.double() * scale.double().reshape(-1, 1, 1, 1, 1)).float()
        bias = shift if bias is None else (bias.double() * scale.double() + shift.double()).float()
    attrs = {"stride": stride[1:], "padding": before[1:] + after[1:], "dilation": dilation[1:], "groups": groups}
    if groups == c == cout and kd > 1:
        planes = _depthwise_taps(low, x, weight, bias, before[0], after[0], stride[0], dilation[0], out[0], attrs)
    else:
        planes = _stacked_taps(low, x, weight, bias, before[0], after[0], stride[0], dilation[0], out[0], attrs)
    back = _node(low, "permute", [_node(low, "reshape", [planes], {"shape": [-1, out[0], cout, out[1] * out[2]]})],
                 {"dims": [0, 2, 1, 3]})
    return low.emit_one("reshape", [back], {"shape": [-2, cout] + out})


def _depth_taps(low: Any, x: str, rank: int, axis: int, length: int, taps: int, before: int, after: int,
                stride: int, dilation: int, depth: int) -> list[str]:
    """x (`length` long along `axis`: a 3-d convolution's depth) padded there and sliced once per
    tap: the depths each tap reads for the `depth` outputs (x as it is for one tap reading all)."""
    if before or after:
        pads = [0] * (2 * rank)
        pads[2 * axis], pads[2 * axis + 1] = before, after
        x = _node(low, "pad", [x], {"pads": pads, "mode": "constant", "value": 0.0})
    if taps == 1 and depth == length + before + after:
        return [x]
    return [low.slice_node(Ref(x), axis, t * dilation, t * dilation + (depth - 1) * stride + 1, stride).name
            for t in range(taps)]


def _stacked_taps(low: Any, x: Any, weight: torch.Tensor, bias: torch.Tensor | None, before: int, after: int,
                  stride: int, dilation: int, depth: int, attrs: dict) -> str:
    """A conv2d over the output depths' images whose input channel c * kd + t is channel c's depth
    slice for tap t (a slice per tap, none for a 1-deep kernel over every depth): the weight is
    the 3-d one viewed as (Cout, C/G * kd, kh, kw), which a file shares with the state_dict."""
    cout, per_group, kd, kh, kw = weight.shape
    groups = attrs["groups"]
    _, c, d, h, w = low.shape(x)
    stacked = low.reshape(x, [-2, groups, c // groups, 1, d, h * w]).name  # (N, G, C/G, 1, D, H*W)
    taps = _depth_taps(low, stacked, 6, 4, d, kd, before, after, stride, dilation, depth)
    stacked = taps[0] if kd == 1 else _node(low, "concat", taps, {"axis": 3})
    moved = _node(low, "permute", [stacked], {"dims": [0, 4, 1, 2, 3, 5]})  # (N, D', G, C/G, kd, H*W)
    images = _node(low, "reshape", [moved], {"shape": [-1, c * kd, h, w]})
    inputs = [images, low.tensor(weight.reshape(cout, per_group * kd, kh, kw).contiguous(), "the weight")]
    if bias is not None:
        inputs.append(low.tensor(bias, "the bias"))
    return _node(low, "conv2d", inputs, attrs)


def _depthwise_taps(low: Any, x: Any, weight: torch.Tensor, bias: torch.Tensor | None, before: int, after: int,
                    stride: int, dilation: int, depth: int, attrs: dict) -> str:
    """A depthwise 3-d convolution (X3D's, MoViNet's) as a depthwise conv2d per depth tap over the
    output depths' images, summed: stacked as input channels, the taps made each group a tiny
    GEMM of kd inputs and one output."""
    _, c, d, h, w = low.shape(x)
    moved = _node(low, "permute", [low.tensor(x)], {"dims": [0, 2, 1, 3, 4]})  # (N, D, C, H, W)
    total = None
    for t, part in enumerate(_depth_taps(low, moved, 5, 1, d, weight.shape[2], before, after, stride, dilation, depth)):
        inputs = [_node(low, "reshape", [part], {"shape": [-1, c, h, w]}),
                  low.tensor(weight[:, :, t].contiguous(), "the weight")]
        if bias is not None and t == 0:
            inputs.append(low.tensor(bias, "the bias"))
        tap = _node(low, "conv2d", inputs, attrs)
        total = tap if total is None else _node(low, "add", [total, tap])
    return total


def sub_pixel_weight(weight: torch.Tensor, groups: int, stride: tuple[int, int]) -> torch.Tensor:
    """The conv2d weight whose output phases are a transposed convolution's. weight (Cin, Cout/g,
    kh, kw); output channel (c * sh + i) * sw + j holds the taps of output pixels (q * sh + i,
    r * sw + j): ky = i + (th - 1 - y) * sh at row y of a th = ceil(kh / sh) tall kernel (zero
    past kh), and likewise across; padding th - 1 makes the correlation reach back."""
    cin, per_group, kh, kw = weight.shape
    (sh, sw), th, tw = stride, -(-kh // stride[0]), -(-kw // stride[1])
    taps = weight.new_zeros(groups, cin // groups, per_group, th * sh, tw * sw)
    taps[..., :kh, :kw] = weight.reshape(groups, cin // groups, per_group, kh, kw)
    taps = taps.reshape(groups, cin // groups, per_group, th, sh, tw, sw).flip(3, 5)
    return taps.permute(0, 2, 4, 6, 1, 3, 5).reshape(groups * per_group * sh * sw, cin // groups, th, tw).contiguous()


def dilated_weight(weight: torch.Tensor, dilation: list[int]) -> torch.Tensor:
    """weight (..., kh, kw) with dh - 1 rows and dw - 1 columns of zeros between its taps: the
    undilated kernel a dilated convolution acts as."""
    (dh, dw), (kh, kw) = dilation, weight.shape[-2:]
    spread = weight.new_zeros(*weight.shape[:-2], (kh - 1) * dh + 1, (kw - 1) * dw + 1)
    spread[..., ::dh, ::dw] = weight
    return spread


def b_conv_transpose(low: Any, node: fx.Node, a: dict) -> Any:
    """A transposed convolution as a sub-pixel convolution (_transposed)."""
    x = a["input"]
    weight = low.constant(a["weight"], "the weight")
    if low.rank(x) == 5:
        return b_conv_transpose3d(low, node, a)
    if low.rank(x) != 4 or weight.dim() != 4:
        raise Unsupported("only 1-d and 2-d transposed convolutions are in the operator set")
    return Ref(_transposed(low, low.tensor(x), low.shape(x)[2:], weight, a))


def b_conv_transpose3d(low: Any, node: fx.Node, a: dict) -> Any:
    """A 3-d transposed convolution. Of a kernel equal to its stride, unpadded, undilated and of
    one group (a 3-d U-Net's upsampling, ConvTranspose3d(c, c', 2, stride=2)): each input voxel's
    block of outputs is its own, so one 1x1 conv2d over the volume as one plane gives every block
    position's channels, which a rank-8 reshape, a permute and a reshape put in place. Any other
    one: per output depth phase, one 2-d transposed convolution of its taps' depth slices
    stacked as channels (_depth_phase_transposed)."""
    x, weight = a["input"], low.constant(a["weight"], "the weight")
    _, d, h, w = _volume(low, x, "a 3-d transposed convolution")
    if weight.dim() != 5 or weight.dtype != torch.float32:
        raise Unsupported(f"a 3-d transposed convolution with a {weight.dtype} weight of rank {weight.dim()}")
    stride, kernel = _triple(a["stride"], "stride"), list(weight.shape[2:])
    if kernel != stride or any(_triple(a["padding"], "padding")) or any(_triple(a["output_padding"], "output padding")) \
            or _triple(a["dilation"], "dilation") != [1, 1, 1] or int(a["groups"]) != 1:
        return _depth_phase_transposed(low, x, [d, h, w], weight, a)
    cin, cout = weight.shape[:2]
    blocks = math.prod(stride)
    rows = weight.permute(1, 2, 3, 4, 0).reshape(cout * blocks, cin, 1, 1).contiguous()
    inputs = [_node(low, "reshape", [low.tensor(x)], {"shape": [-2, -3, -1, -6]}), low.tensor(rows, "the weight")]
    if a.get("bias") is not None:
        inputs.append(low.tensor(low.constant(a["bias"], "the bias").repeat_interleave(blocks).contiguous(), "the bias"))
    products = _node(low, "conv2d", inputs, {"stride": [1, 1], "padding": [0, 0, 0, 0], "dilation": [1, 1],
                                             "groups": 1})
    positions = _node(low, "reshape", [products], {"shape": [-2, cout, *stride, d, h, w]})
    placed = _node(low, "permute", [positions], {"dims": [0, 1, 5, 2, 6, 3, 7, 4]})
    return low.emit_one("reshape", [placed], {"shape": [-2, cout] + [n * s for n, s in zip((d, h, w), stride)]})


def _depth_phase_transposed(low: Any, x: Any, volume: list[int], weight: torch.Tensor, a: dict) -> Ref:
    """A 3-d transposed convolution by output depth phase: output depth q * s + r takes, from
    each depth tap t with t * dl - p = o * s + r, input depth q - o. Per phase, its taps' input
    volumes shifted by o along depth (a `pad` that crops where negative) are stacked as input
    channels, as _stacked_taps stacks a 3-d convolution's, and one 2-d transposed convolution
    (_transposed) over the phase's depths as batch gives it, bias included; the phases are
    interleaved along depth. A phase no tap reaches (a kernel shorter than the stride) gets one
    tap of zeros: its bias. The multiply-adds of the transposed convolution itself."""
    d, h, w = volume
    stride, padding = _triple(a["stride"], "stride"), _triple(a["padding"], "padding")
    extra, dilation = _triple(a["output_padding"], "output padding"), _triple(a["dilation"], "dilation")
    groups = int(a["groups"])
    if min(stride) < 1 or min(dilation) < 1 or groups < 1 or weight.shape[0] % groups:
        raise Unsupported(f"3-d transposed convolution of stride {stride}, dilation {dilation}, {groups} groups")
    cin, per_group, taps, kh, kw = weight.shape
    cout = per_group * groups
    out = [(n - 1) * s - 2 * p + dl * (k - 1) + e + 1
           for n, s, p, dl, k, e in zip(volume, stride, padding, dilation, weight.shape[2:], extra)]
    if min(out) < 1:
        raise Unsupported(f"a 3-d transposed convolution of a {d}x{h}x{w} input with an empty output")
    s = stride[0]
    grouped = low.reshape(x, [-2, groups, cin // groups, 1, d, h * w]).name  # (N, G, C/G, 1, D, H*W)
    plane = {"stride": stride[1:], "padding": padding[1:], "output_padding": extra[1:], "dilation": dilation[1:],
             "groups": groups, "bias": a.get("bias")}
    length = -(-out[0] // s)  # depths of phase 0, the longest
    phases = []
    for r in range(s):
        depths = -(-(out[0] - r) // s)
        shifts = {t: (t * dilation[0] - padding[0] - r) // s for t in range(taps)
                  if (t * dilation[0] - padding[0] - r) % s == 0}
        kernels = weight[:, :, list(shifts)] if shifts else weight.new_zeros(cin, per_group, 1, kh, kw)
        shifted = [grouped if o == 0 and depths == d else
                   _node(low, "pad", [grouped], {"pads": [0, 0] * 4 + [o, depths - o - d, 0, 0], "mode": "constant",
                                                 "value": 0.0}) for o in (shifts.values() or [0])]
        stacked = shifted[0] if len(shifted) == 1 else _node(low, "concat", shifted, {"axis": 3})
        moved = _node(low, "permute", [stacked], {"dims": [0, 4, 1, 2, 3, 5]})  # (N, depths, G, C/G, taps, H*W)
        images = _node(low, "reshape", [moved], {"shape": [-1, cin * kernels.shape[2], h, w]})
        rows = kernels.reshape(groups, cin // groups, per_group, -1, kh, kw).permute(0, 1, 3, 2, 4, 5)
        y = _transposed(low, images, [h, w], rows.reshape(-1, per_group, kh, kw).contiguous(), plane)
        y = _node(low, "reshape", [y], {"shape": [-1, depths, 1, cout * out[1] * out[2]]})
        if depths < length:
            y = _node(low, "pad", [y], {"pads": [0, 0, 0, length - depths, 0, 0, 0, 0], "mode": "constant",
                                        "value": 0.0})
        phases.append(y)
    y = phases[0] if s == 1 else _node(low, "concat", phases, {"axis": 2})  # (N, length, s, Cout * H' * W')
    y = _node(low, "reshape", [y], {"shape": [-1, length * s, cout, out[1], out[2]]})
    if length * s > out[0]:
        y = _node(low, "pad", [y], {"pads": [0, 0, 0, out[0] - length * s] + [0, 0] * 3, "mode": "constant",
                                    "value": 0.0})
    return low.emit_one("permute", [y], {"dims": [0, 2, 1, 3, 4]})


def b_conv_transpose1d(low: Any, node: fx.Node, a: dict) -> Any:
    """A 1-d transposed convolution (a vocoder's upsampling) as a 2-d one on (N, C, 1, L)."""
    x, weight = a["input"], low.constant(a["weight"], "the weight")
    if low.rank(x) != 3 or weight.dim() != 3:
        raise Unsupported(f"a 1-d transposed convolution of a rank-{low.rank(x)} input")
    pairs = {k: [0 if k.endswith("padding") else 1, int_pair(a[k], k)[0]]
             for k in ("stride", "padding", "output_padding", "dilation")}
    y = _transposed(low, low.reshape(x, [-2, -3, 1, -4]).name, [1, low.shape(x)[2]], weight.unsqueeze(2), {**a, **pairs})
    return low.emit_one("reshape", [y], {"shape": [-2, -3, -5]})


def _phase_rows(kernel: int, stride: int, padding: int, phase: int) -> tuple[int, list[int]]:
    """Output row m * stride + phase of a transposed convolution reads input rows m + first + r,
    r < len(taps), with kernel row taps[r]: (first, taps)."""
    first = -((kernel - 1 - phase - padding) // stride)  # ceil((phase + padding - kernel + 1) / stride)
    last = (phase + padding) // stride
    return first, [phase + padding - d * stride for d in range(first, last + 1)]


def _phase_weight(weight: torch.Tensor, groups: int, rows: list[int], cols: list[int]) -> torch.Tensor:
    """The conv2d weight (Cout, Cin / g, len(rows), len(cols)) of one output phase of a
    transposed convolution's weight (Cin, Cout / g, kh, kw)."""
    cin, per_group = weight.shape[:2]
    taps = weight[:, :, rows][:, :, :, cols].reshape(groups, cin // groups, per_group, len(rows), len(cols))
    return taps.transpose(1, 2).reshape(groups * per_group, cin // groups, len(rows), len(cols)).contiguous()


def _phase_convolutions(low: Any, x: str, dims: list[Any], weight: torch.Tensor, groups: int, stride: list[int],
                        padding: list[int], extra: list[int], bias: torch.Tensor | None) -> str | None:
    """The transposed convolution as one convolution per output phase, each with only its own
    taps on the output's grid, concatenated and interleaved, the rows past the output cut. None
    where that does not save 40 % of the sub-pixel convolution's multiply-adds (its phases share
    one window on a grid one window larger: k3 s2 reads 16 taps per 4 outputs where 9 are the
    phases' own; k4 s2 on a 4x4 map 1.56x, where four smaller convolutions measured no faster
    than one), or where a phase reads no input (a kernel narrower than the stride)."""
    if not all(isinstance(d, int) for d in dims):
        return None
    kernel, out = weight.shape[2:], []
    for d, k, s, p, e in zip(dims, kernel, stride, padding, extra):
        size = (d - 1) * s - 2 * p + k + e
        out.append((size, -(-size // s)))  # the output's size, and its phases' (the longest)
    axes = [[_phase_rows(k, s, p, j) for j in range(s)] for k, s, p in zip(kernel, stride, padding)]
    pads = [[(-first, n - d + first + len(taps) - 1) for first, taps in phases]
            for phases, d, (_, n) in zip(axes, dims, out)]  # (before, after) of each phase's convolution
    if any(not taps for phases in axes for _, taps in phases) or any(b < 0 or a < 0 for ps in pads for b, a in ps):
        return None
    own = sum(len(r) * len(c) for _, r in axes[0] for _, c in axes[1]) * out[0][1] * out[1][1]
    th, tw = (-(-k // s) for k, s in zip(kernel, stride))
    shared = th * tw * stride[0] * stride[1] * (dims[0] + th - 1) * (dims[1] + tw - 1)
    if 10 * shared < 17 * own:
        return None
    phases = []
    biases = [] if bias is None else [low.tensor(bias, "the bias")]
    for (_, rows), (top, bottom) in zip(axes[0], pads[0]):
        for (_, cols), (left, right) in zip(axes[1], pads[1]):
            inputs = [x, low.tensor(_phase_weight(weight, groups, rows, cols), "the weight")] + biases
            phases.append(_node(low, "conv2d", inputs, {"stride": [1, 1], "padding": [top, left, bottom, right],
                                                        "dilation": [1, 1], "groups": groups}))
    joined = _node(low, "concat", phases, {"axis": 1})
    y = _interleave(low, joined, 1, weight.shape[1] * groups, tuple(stride), phase_major=True)
    cut = [n * s - size for (size, n), s in zip(out, stride)]
    if any(cut):
        y = _node(low, "pad", [y], {"pads": [0, 0, 0, 0, 0, -cut[0], 0, -cut[1]], "mode": "constant", "value": 0.0})
    return y


# _scattered_taps takes maps whose sub-pixel grid has at least this many times their pixels.
SCATTERED_TAPS_GRID = 1.2


def _scattered_taps(low: Any, x: str, dims: list[Any], sub: torch.Tensor, groups: int,
                    bias: torch.Tensor | None) -> str | None:
    """The sub-pixel convolution's output on a small map as one 1x1 convolution to every tap's
    products, each tap's block then padded to its place on the grid and the blocks added: the
    grid, one window larger than the map, is computed for the taps' own products only (a 4x4
    map's 5x5 grid is 1.56x its multiply-adds). None for larger maps, where the products'
    copies cost more than the saved multiply-adds, or grouped ones."""
    if groups != 1 or not all(isinstance(d, int) for d in dims):
        return None
    phases, cin, th, tw = sub.shape
    if th * tw == 1 or (dims[0] + th - 1) * (dims[1] + tw - 1) < SCATTERED_TAPS_GRID * dims[0] * dims[1]:
        return None
    rows = sub.permute(2, 3, 0, 1).reshape(th * tw * phases, cin, 1, 1).contiguous()
    products = _node(low, "conv2d", [x, low.tensor(rows, "the weight")],
                     {"stride": [1, 1], "padding": [0, 0, 0, 0], "dilation": [1, 1], "groups": 1})
    blocks = low.emit("split", [products], {"axis": 1, "sizes": [phases] * (th * tw)}, th * tw)
    total = None
    for t, block in enumerate(blocks):
        a, b = divmod(t, tw)
        placed = _node(low, "pad", [block], {"pads": [0, 0, 0, 0, th - 1 - a, a, tw - 1 - b, b],
                                             "mode": "constant", "value": 0.0})
        total = placed if total is None else _node(low, "add", [total, placed])
    if bias is not None:
        total = _node(low, "add", [total, low.tensor(bias.reshape(-1, 1, 1), "the bias")])
    return total



def _unit_stride_transposed(low: Any, x: str, weight: torch.Tensor, groups: int, padding: list[int],
                            extra: list[int], dilation: list[int], bias: torch.Tensor | None) -> str:
    """A transposed convolution of stride 1 is a convolution of the kernel turned round (each
    group's input and output channels swapped), dilation kept, padded by the kernel's extent
    less the padding (plus output_padding after); a negative padding crops after it. A dilated
    kernel spread out with zeros would multiply by the zeros too (a 3x3 of dilation 2: 25 taps
    for 9)."""
    cin, per_group, kh, kw = weight.shape
    turned = (weight.reshape(groups, cin // groups, per_group, kh, kw).transpose(1, 2)
              .reshape(groups * per_group, cin // groups, kh, kw).flip(2, 3).contiguous())
    before = [d * (k - 1) - p for d, k, p in zip(dilation, (kh, kw), padding)]
    after = [b + e for b, e in zip(before, extra)]
    inputs = [x, low.tensor(turned, "the weight")] + ([] if bias is None else [low.tensor(bias, "the bias")])
    y = _node(low, "conv2d", inputs, {"stride": [1, 1], "padding": [max(0, v) for v in before + after],
                                      "dilation": list(dilation), "groups": groups})
    if min(before + after) < 0:
        crop = [min(0, v) for v in before + after]
        y = _node(low, "pad", [y], {"pads": [0, 0, 0, 0, crop[0], crop[2], crop[1], crop[3]],
                                    "mode": "constant", "value": 0.0})
    return y


def _transposed(low: Any, x: str, dims: list[Any], weight: torch.Tensor, a: dict) -> str:
    """The transposed convolution of x (rank 4, its image `dims`): one convolution per output
    phase where that saves enough multiply-adds (_phase_convolutions), else a sub-pixel
    convolution: one conv2d whose sh * sw output phases are the transposed convolution's
    (sub_pixel_weight), interleaved like pixel_shuffle, then cropped by the padding or
    zero-padded by output_padding, with the bias. A dilated one of a stride above 1 is the
    undilated one of its kernel spread out with zeros (dilated_weight); one of stride 1 is a
    convolution (_unit_stride_transposed)."""
    stride, padding = int_pair(a["stride"], "stride"), int_pair(a["padding"], "padding")
    extra, dilation = int_pair(a["output_padding"], "output padding"), int_pair(a["dilation"], "dilation")
    groups = int(a["groups"])
    if min(stride) < 1 or min(dilation) < 1 or groups < 1 or weight.shape[0] % groups:
        raise Unsupported(f"transposed convolution of stride {stride}, dilation {dilation}, {groups} groups")
    bias = a.get("bias")
    bias = None if bias is None else low.constant(bias, "the bias")
    if stride == [1, 1]:
        return _unit_stride_transposed(low, x, weight, groups, padding, extra, dilation, bias)
    if dilation != [1, 1]:
        weight = dilated_weight(weight, dilation)
    by_phase = _phase_convolutions(low, x, dims, weight, groups, stride, padding, extra, bias)
    if by_phase is not None:
        return by_phase
    channels = weight.shape[1] * groups
    sub = sub_pixel_weight(weight, groups, stride)
    taps = sub.shape[2:]
    # The interleaved output, (h + t - 1) * s long, starts `padding` before the wanted one,
    # (h - 1) * s - 2 * padding + k + extra long: cut or zero-pad after, the same for any h.
    after = [k + e - p - t * s for k, e, p, t, s in zip(weight.shape[2:], extra, padding, taps, stride)]
    in_bias = None
    if bias is not None and max(after) <= 0:  # every output pixel is a phase's: the bias goes in
        in_bias = bias.repeat_interleave(stride[0] * stride[1]).contiguous()
        bias = None
    phases = _scattered_taps(low, x, dims, sub, groups, in_bias)
    if phases is None:
        attrs = {"stride": [1, 1], "padding": conv_padding([taps[0] - 1, taps[1] - 1], list(taps)),
                 "dilation": [1, 1], "groups": groups}
        inputs = [x, low.tensor(sub, "the weight")] + ([] if in_bias is None else [low.tensor(in_bias, "the bias")])
        phases = _node(low, "conv2d", inputs, attrs)
    y = _interleave(low, phases, 1, channels, tuple(stride))
    if any(padding) or any(after):
        y = _node(low, "pad", [y], {"pads": [0, 0, 0, 0, -padding[0], after[0], -padding[1], after[1]],
                                    "mode": "constant", "value": 0.0})
    if bias is not None:
        y = _node(low, "add", [y, low.tensor(bias.reshape(-1, 1, 1).contiguous(), "the bias")])
    return y


def _einsum_operand(low: Any, x: Any, letters: str, keep: set[str]) -> tuple[str, str]:
    """An einsum operand with the letters nothing else needs summed out: (name, its letters)."""
    if len(set(letters)) != len(letters):
        raise Unsupported(f"einsum with a repeated index in {letters!r}")
    name, gone = low.tensor(x), [i for i, c in enumerate(letters) if c not in keep]
    if gone:
        name = _reduce(low, name, "sum", gone, False)
        letters = "".join(c for c in letters if c in keep)
    return name, letters


def _permuted(low: Any, name: str, letters: str, order: str) -> str:
    if letters == order:
        return name
    return _node(low, "permute", [name], {"dims": [letters.index(c) for c in order]})


def _einsum_pair(low: Any, equation: str, sizes: dict[str, Any], a: tuple[str, str], b: tuple[str, str],
                 out: str) -> str:
    """Two operands (name, letters), each without letters nothing else needs, contracted into
    `out`'s letters in its order. Letters in both and in `out` are the batch, those in one only
    are its rows or columns, those in both and not in `out` the depth: a batched matmul, or a
    broadcast multiply where nothing is contracted."""
    (a_name, a_letters), (b_name, b_letters) = a, b
    batch = "".join(c for c in out if c in a_letters and c in b_letters)
    rows = "".join(c for c in a_letters if c not in b_letters)
    cols = "".join(c for c in b_letters if c not in a_letters)
    depth = "".join(c for c in a_letters if c in b_letters and c not in out)
    if not depth:
        def spread(name: str, letters: str) -> str:
            """name with out's letters in out's order, 1 for those it lacks."""
            order = "".join(c for c in out if c in letters)
            return _node(low, "reshape", [_permuted(low, name, letters, order)],
                         {"shape": [-(2 + order.index(c)) if c in order else 1 for c in out]})
        return _node(low, "mul", [spread(a_name, a_letters), spread(b_name, b_letters)])

    keep = [-(2 + i) for i in range(len(batch))]  # the batch dims stay as they are (run-time sizes too)

    def reshaped(name: str, groups: list[str]) -> str:
        """name's dims after the batch merged into one per group of letters; a group with a
        run-time size is -1 (one at most)."""
        entries = [-1 if any(not isinstance(sizes[c], int) for c in g) else math.prod(sizes[c] for c in g)
                   for g in groups]
        if entries.count(-1) > 1 or any(e == -1 and sum(not isinstance(sizes[c], int) for c in g) > 1
                                        for e, g in zip(entries, groups)):
            raise Unsupported(f"einsum {equation!r} merges dims known only at run time")
        return _node(low, "reshape", [name], {"shape": keep + entries})

    left = _permuted(low, a_name, a_letters, batch + rows + depth)
    right = _permuted(low, b_name, b_letters, batch + depth + cols)
    if len(rows) != 1 or len(depth) != 1:
        left = reshaped(left, [rows, depth])
    if len(depth) != 1 or len(cols) != 1:
        right = reshaped(right, [depth, cols])
    y = _node(low, "matmul", [left, right])
    if len(rows) != 1 or len(cols) != 1:
        y = reshaped(y, list(rows + cols))
    return _permuted(low, y, batch + rows + cols, out)


def _explicit_einsum(equation: str, ranks: list[int]) -> str:
    """`equation` with its ellipses and an implicit output written in letters, as torch reads
    them: an ellipsis stands for an operand's dims its letters leave, aligned from the last (the
    output's holds the most of them, first); an implicit output is those dims, then the letters
    of one appearance in alphabetical order."""
    inputs, arrow, out = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ranks) or any(t.replace("...", "").count(".") for t in [*terms, out]):
        raise Unsupported(f"einsum {equation!r} of {len(ranks)} operands")
    widths = [rank - len(t.replace("...", "")) if "..." in t else 0 for t, rank in zip(terms, ranks)]
    spare = [c for c in string.ascii_letters if c not in equation]
    if min(widths, default=0) < 0 or max(widths, default=0) > len(spare):
        raise Unsupported(f"einsum {equation!r} for operands of ranks {ranks}")
    fill = "".join(spare[: max(widths, default=0)])
    terms = [t.replace("...", fill[len(fill) - w:]) for t, w in zip(terms, widths)]
    if not arrow:
        letters = "".join(terms)
        out = "..." + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in fill))
    return ",".join(terms) + "->" + out.replace("...", fill)


def b_tensordot(low: Any, node: fx.Node, a: dict) -> Any:
    """The einsum that contracts the paired dims: the first operand's other dims, then the
    second's."""
    x, y = a["self"], a["other"]
    pairs = list(zip((norm_axis(d, low.rank(x)) for d in a["dims_self"]),
                     (norm_axis(d, low.rank(y)) for d in a["dims_other"])))
    left = string.ascii_letters[: low.rank(x)]
    fresh = iter(string.ascii_letters[low.rank(x):])
    right = "".join(next((left[i] for i, j in pairs if j == k), None) or next(fresh) for k in range(low.rank(y)))
    paired = {left[i] for i, _ in pairs}
    out = "".join(c for c in left if c not in paired) + "".join(c for c in right if c not in paired)
    return b_einsum(low, node, {"equation": f"{left},{right}->{out}", "tensors": [x, y]})


def b_einsum(low: Any, node: fx.Node, a: dict) -> Any:
    """Letters of one operand alone are summed out; the operands are then contracted left to
    right, each pair into the letters the output or a later operand still needs (_einsum_pair),
    as torch.einsum does without a path optimiser."""
    operands = list(a["tensors"])
    equation = _explicit_einsum(a["equation"].replace(" ", ""), [low.rank(x) for x in operands])
    inputs, out = equation.split("->")
    terms = inputs.split(",")
    if len(set(out)) != len(out):
        raise Unsupported(f"einsum {equation!r} repeating an output letter")
    sizes = {}
    for term, x in zip(terms, operands):
        if len(term) != low.rank(x):
            raise Unsupported(f"einsum term {term!r} for a rank-{low.rank(x)} operand")
        for c, dim in zip(term, low.shape(x)):
            known = sizes.setdefault(c, dim)
            if isinstance(known, int) and isinstance(dim, int) and known != dim:  # run-time sizes agree at capture
                raise Unsupported(f"einsum {equation!r} broadcasting its dim {c!r}")
    named = [_einsum_operand(low, x, t, set(out).union(*(u for j, u in enumerate(terms) if j != i)))
             for i, (x, t) in enumerate(zip(operands, terms))]
    if len(named) == 1:
        name, letters = named[0]
        return Ref(_permuted(low, name, letters, out))
    y = named[0]
    for i, b in enumerate(named[1:], 2):
        later = set(out).union(*terms[i:])
        letters = out if i == len(named) else "".join(dict.fromkeys(c for c in y[1] + b[1] if c in later))
        y = (_einsum_pair(low, equation, sizes, y, b, letters), letters)
    return Ref(y[0])


def _joined(low: Any, entries: list[tuple[Any, int]], axis: int, sizes: dict[int, int]) -> Any:
    """The tensor whose entries along axis are `entries`, (source, index) pairs: a slice per run
    of consecutive indices of one source (the source itself for all of it; sizes: its dim by
    id), concatenated."""
    runs: list[list[Any]] = []  # [source, start, end]
    for source, at in entries:
        if runs and runs[-1][0] is source and runs[-1][2] == at:
            runs[-1][2] = at + 1
        else:
            runs.append([source, at, at + 1])
    parts = [low.tensor(source) if (start, end) == (0, sizes[id(source)]) else
             low.slice_node(source, axis, start, end, 1).name for source, start, end in runs]
    return Ref(parts[0]) if len(parts) == 1 else low.emit_one("concat", parts, {"axis": axis})


def _take(low: Any, x: Any, axis: int, index: Any, from_the_end: bool) -> Any:
    """x's entries at a list of indices along axis: constant, or computed at run time (take)."""
    if isinstance(index, Ref):
        return take(low, x, [axis], [index], from_the_end)
    if not isinstance(index, torch.Tensor) or index.dim() != 1 or index.dtype not in (torch.int64, torch.int32):
        raise Unsupported("indexing by a tensor computed at run time or not a list of integers")
    size = low.static_dim(x, axis, "indexing")
    picks = index.tolist()
    if any(not -size <= i < size for i in picks):
        raise Unsupported(f"index out of range for a dim of {size}")
    return _joined(low, [(x, i % size) for i in picks], axis, {id(x): size})


def b_index(low: Any, node: fx.Node, a: dict) -> Any:
    """x[:, [2, 1, 0]], x[:, index]: one index list (a constant or computed at run time), the dims
    before it taken whole; x[batch, anchor]: integer index tensors at adjacent dims (take)."""
    indices = list(a["indices"])
    used = [i for i, t in enumerate(indices) if t is not None]
    if len(used) == 1:
        return _take(low, a["self"], used[0], indices[used[0]], True)
    if used != list(range(used[0], used[-1] + 1)):
        raise Unsupported("indexing by index tensors at dims that are not adjacent")
    picks = [indices[i] for i in used]
    for index in picks:
        if isinstance(index, torch.Tensor) and (index.dtype == torch.bool or bool((index < 0).any())):
            raise Unsupported("indexing by several index tensors, one a mask or with negative entries")
    return take(low, a["self"], used, picks, True)


def b_index_select(low: Any, node: fx.Node, a: dict) -> Any:
    """x.index_select(dim, index): a 0-d index picks one entry, keeping the dim (of size 1)."""
    x, index = a["self"], a["index"]
    rank = low.rank(x)
    axis = a["dim"] % rank
    picked = _take(low, x, axis, index, False)
    if not isinstance(index, Ref) or low.rank(index) > 0:
        return picked
    shape = [*(-(2 + i) for i in range(axis)), 1, *(-(2 + i) for i in range(axis, rank - 1))]
    return low.emit_one("reshape", [picked.name], {"shape": shape})


def b_embedding(low: Any, node: fx.Node, a: dict) -> Any:
    """nn.Embedding's lookup: the weight's rows at the indices, in the indices' shape."""
    return _take(low, a["weight"], 0, a["indices"], False)


def b_flip(low: Any, node: fx.Node, a: dict) -> Any:
    """A backward slice of each flipped dim."""
    x = Ref(low.tensor(a["self"]))
    for axis in sorted({d % low.rank(a["self"]) for d in a["dims"]}):
        x = low.slice_node(x, axis, -1, INT64_MIN, -1)
    return x


def b_rot90(low: Any, node: fx.Node, a: dict) -> Any:
    """A quarter turn k times in the plane of two dims, as torch computes it: a flip of one of
    them and the two swapped (a half turn flips both); test-time augmentation's rotations."""
    rank = low.rank(a["self"])
    dims = [norm_axis(d, rank) for d in a.get("dims", [0, 1])]
    if len(dims) != 2 or dims[0] == dims[1]:
        raise Unsupported(f"rot90 in the dims {dims}")
    turns = a.get("k", 1) % 4
    x = Ref(low.tensor(a["self"]))
    flipped = {0: [], 1: [dims[1]], 2: sorted(dims), 3: [dims[0]]}[turns]
    for axis in flipped:
        x = low.slice_node(x, axis, -1, INT64_MIN, -1)
    if turns % 2 == 0:
        return x
    order = list(range(rank))
    order[dims[0]], order[dims[1]] = dims[1], dims[0]
    return low.emit_one("permute", [low.tensor(x)], {"dims": order})


def b_roll(low: Any, node: fx.Node, a: dict) -> Any:
    """Each rolled dim's last `shift` entries moved to its front: two slices, concatenated (the
    shifted windows of Swin)."""
    shifts, dims = list(a["shifts"]), list(a["dims"])
    if not dims or len(dims) != len(shifts):
        raise Unsupported("a roll of the flattened tensor")
    x = Ref(low.tensor(a["self"]))
    for shift, d in zip(shifts, dims):
        axis = d % low.rank(a["self"])
        size = low.static_dim(a["self"], axis, "roll")
        cut = size - low.integer(shift, "roll shift") % size if size else size
        if cut != size:
            parts = [low.slice_node(x, axis, start, end, 1).name for start, end in ((cut, size), (0, cut))]
            x = low.emit_one("concat", parts, {"axis": axis})
    return x


def _broadcast_to(low: Any, like: Any, value: Any) -> str:
    """`value` broadcast to the shape of `like`, which it broadcasts to: a where node whose
    choices are both `value` (exact whatever `like` holds, NaN included)."""
    like_name = low.tensor(like)
    return _node(low, "where", [like_name, like_name, low.tensor(value), low.tensor(value)], {"compare": "eq"})


def b_copy(low: Any, node: fx.Node, a: dict) -> Any:
    """The functional form of x.copy_(src) (a write into a view): src, broadcast to x's shape."""
    x, src = a["self"], a["src"]
    if isinstance(src, (Ref, torch.Tensor)) and low.shape(src) == low.shape(x):
        return Ref(low.tensor(src))
    return Ref(_broadcast_to(low, x, src))


def b_fill(low: Any, node: fx.Node, a: dict) -> Any:
    """x.fill_(value), x[...] = value: value in x's shape."""
    return Ref(_broadcast_to(low, a["self"], a["value"]))


def b_filled_like(low: Any, node: fx.Node, a: dict) -> Any:
    """zeros_like(x), ones_like(x), full_like(x, v) of a tensor computed at run time; empty_like
    as zeros_like (its values are any, and code writes them all: ultralytics' xywh2xyxy)."""
    return Ref(_broadcast_to(low, a["self"], fill_value(op_name(node.target), a)))


def b_filled(low: Any, node: fx.Node, a: dict) -> Any:
    """zeros(size), x.new_zeros(size) and the like (empty as zeros), of sizes known at run time
    (the batch): the value expanded (those of sizes known at capture are folded to constants).
    Integers and booleans of the batch (DETR's padding mask, an index per item) are Broadcasts:
    constants of one item, which the ops on them fold or read as conditions and integers."""
    dtype = node.meta["val"].dtype
    value = torch.tensor(fill_value(op_name(node.target), a), dtype=dtype)
    y = low.b_expand(node, {"self": value, "size": list(a["size"])})
    if dtype != torch.float32 and not isinstance(y, Broadcast):
        raise Unsupported(f"a {dtype} tensor of one value and a size known at run time other than the batch")
    return y


def _scatter(low: Any, x: Any, src: Ref, axis: int, picked: range) -> Any:
    """x with its entries `picked` along axis replaced by src's, in order."""
    size = low.static_dim(x, axis, "a write into a slice")
    taken = {i: j for j, i in enumerate(picked)}
    entries = [(src, taken[i]) if i in taken else (x, i) for i in range(size)]
    return _joined(low, entries, axis, {id(x): size, id(src): len(picked)})


def b_slice_scatter(low: Any, node: fx.Node, a: dict) -> Any:
    """x[..., start:end:step] = src as x's and src's pieces, concatenated."""
    x = a["self"]
    axis = a["dim"] % low.rank(x)
    start = 0 if a["start"] is None else low.integer(a["start"], "slice start")
    end = INT64_MAX if a["end"] is None else low.integer(a["end"], "slice end")
    step = low.integer(a["step"], "slice step")
    if (start, end, step) == (0, INT64_MAX, 1):  # all of a dim (the batch's, say): src is the result
        return Ref(low.tensor(a["src"]))
    size = low.static_dim(x, axis, "a write into a slice")
    return _scatter(low, x, Ref(low.tensor(a["src"])), axis, range(*slice(start, end, step).indices(size)))


def b_select_scatter(low: Any, node: fx.Node, a: dict) -> Any:
    """x[..., i] = src: src given the dim back, then as a write into a slice of one."""
    x = a["self"]
    axis = a["dim"] % low.rank(x)
    size = low.static_dim(x, axis, "a write into a slice")
    index = low.integer(a["index"], "index")
    if not -size <= index < size:
        raise Unsupported(f"index {index} out of range")
    entries = [-(2 + i) for i in range(low.rank(a["src"]))]
    src = low.reshape(a["src"], entries[:axis] + [1] + entries[axis:])
    return _scatter(low, x, src, axis, range(index % size, index % size + 1))


def _pool1d(low: Any, node: fx.Node, a: dict, op: str, attrs: dict[str, Any]) -> Any:
    """A 1-d pooling as the 2-d one of (N, C, 1, L); adaptive max pooling's indices unused."""
    x = a["self"]
    if low.rank(x) != 3:
        raise Unsupported(f"a 1-d pooling of a rank-{low.rank(x)} input")
    pooled = _node(low, op, [low.reshape(x, [-2, -3, 1, -4]).name], attrs)
    out = low.emit_one("reshape", [pooled], {"shape": [-2, -3, -5]})
    if op != "adaptive_max_pool2d":
        return out
    low.only_first_output_used(node)
    return [out, MISSING]


def _pool1d_window(a: dict) -> dict[str, Any]:
    (kernel,), (padding,) = (int_pair(a[k], k)[:1] for k in ("kernel_size", "padding"))
    stride = int_pair(a["stride"], "stride")[0] if a["stride"] else kernel
    return {"kernel": [1, kernel], "stride": [1, stride], "padding": [0, padding, 0, padding],
            "ceil_mode": int(bool(a["ceil_mode"]))}


def b_max_pool1d(low: Any, node: fx.Node, a: dict) -> Any:
    attrs = {**_pool1d_window(a), "dilation": [1, int_pair(a["dilation"], "dilation")[0]]}
    return _pool1d(low, node, a, "max_pool2d", attrs)


def b_avg_pool1d(low: Any, node: fx.Node, a: dict) -> Any:
    attrs = {**_pool1d_window(a), "count_include_pad": int(bool(a["count_include_pad"])), "divisor": 0}
    return _pool1d(low, node, a, "avg_pool2d", attrs)


def _output_size1d(low: Any, a: dict) -> dict[str, Any]:
    (size,) = (low.integer(s, "output size") for s in a["output_size"])
    return {"output_size": [1, size]}


def b_adaptive_avg_pool1d(low: Any, node: fx.Node, a: dict) -> Any:
    return _pool1d(low, node, a, "adaptive_avg_pool2d", _output_size1d(low, a))


def b_adaptive_max_pool1d(low: Any, node: fx.Node, a: dict) -> Any:
    return _pool1d(low, node, a, "adaptive_max_pool2d", _output_size1d(low, a))


def _pool3d(low: Any, node: fx.Node, a: dict, op: str, over_hw: dict[str, Any], over_d: dict[str, Any]) -> Ref:
    """A 3-d pooling as two 2-d ones, exactly: over (H, W) of (N, C * D, H, W), then over D of
    (N, C, D, H' * W'). Max, average (its divisor is a product of per-axis counts, ceil mode and
    padding included) and adaptive windows are boxes, so pooling a box is pooling its rows of
    pooled rows."""
    x = a["self"]
    # A rank-4 input is one unbatched (C, D, H, W) volume, pooled as (N, 1, D, H, W) with its
    # channels the batch (LPRNet pools its features' channels so).
    unbatched = low.rank(x) == 4
    if unbatched:
        c, d, h, w = [1] + [low.static_dim(x, axis, "a 3-d pooling") for axis in (1, 2, 3)]
    else:
        c, d, h, w = _volume(low, x, "a 3-d pooling")
    val = node.meta["val"]
    out = [int(s) for s in (val[0] if isinstance(val, (tuple, list)) else val).shape[-3:]]
    flat = _node(low, op, [low.reshape(x, [-2, c * d, h, w]).name], over_hw)
    columns = _node(low, "reshape", [flat], {"shape": [-2, c, d, out[1] * out[2]]})
    return low.emit_one("reshape", [_node(low, op, [columns], over_d)], {"shape": [-2] + [c] * (not unbatched) + out})


def _pool3d_windows(a: dict, dilation: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (H, W) and the D windows of a 3-d max or average pooling."""
    kernel = _triple(a["kernel_size"], "kernel size")
    stride = _triple(a["stride"], "stride") if a["stride"] else kernel
    padding = _triple(a["padding"], "padding")
    ceil = int(bool(a["ceil_mode"]))
    over_hw = {"kernel": kernel[1:], "stride": stride[1:], "padding": padding[1:] * 2, "ceil_mode": ceil}
    over_d = {"kernel": [kernel[0], 1], "stride": [stride[0], 1], "padding": [padding[0], 0] * 2, "ceil_mode": ceil}
    if dilation:
        dilations = _triple(a["dilation"], "dilation")
        over_hw["dilation"], over_d["dilation"] = dilations[1:], [dilations[0], 1]
    return over_hw, over_d


def b_max_pool3d(low: Any, node: fx.Node, a: dict) -> Any:
    return _pool3d(low, node, a, "max_pool2d", *_pool3d_windows(a, True))


def b_max_pool3d_with_indices(low: Any, node: fx.Node, a: dict) -> Any:
    low.only_first_output_used(node)
    return [b_max_pool3d(low, node, a), MISSING]


def b_avg_pool3d(low: Any, node: fx.Node, a: dict) -> Any:
    over_hw, over_d = _pool3d_windows(a, False)
    include = int(bool(a["count_include_pad"]))
    divisor = int(a["divisor_override"] or 0)
    # divisor_override: the window's sum (a divisor of 1) over (H, W), divided once over D
    over_hw.update(count_include_pad=include, divisor=1 if divisor else 0)
    over_d.update(count_include_pad=include, divisor=divisor)
    return _pool3d(low, node, a, "avg_pool2d", over_hw, over_d)


def _adaptive3d(low: Any, node: fx.Node, a: dict, op: str) -> Ref:
    size = _triple([low.integer(s, "output size") for s in a["output_size"]], "output size")
    return _pool3d(low, node, a, op, {"output_size": size[1:]}, {"output_size": [size[0], size[1] * size[2]]})


def b_adaptive_avg_pool3d(low: Any, node: fx.Node, a: dict) -> Any:
    return _adaptive3d(low, node, a, "adaptive_avg_pool2d")


def b_adaptive_max_pool3d(low: Any, node: fx.Node, a: dict) -> Any:
    low.only_first_output_used(node)
    return [_adaptive3d(low, node, a, "adaptive_max_pool2d"), MISSING]


def b_attention(low: Any, node: fx.Node, a: dict) -> Any:
    """scaled_dot_product_attention as torch's math defines it: softmax(q k^T * scale + mask) v."""
    q, k, v = a["query"], a["key"], a["value"]
    if a.get("dropout_p"):
        raise Unsupported("attention with dropout (training mode)")
    if a.get("enable_gqa"):
        raise Unsupported("grouped-query attention")
    rank = low.rank(q)
    if rank < 2 or low.rank(k) != rank or low.rank(v) != rank:
        raise Unsupported("attention operands of different ranks or below 2")
    scale = a.get("scale")
    scale = 1.0 / math.sqrt(low.static_dim(q, rank - 1, "the query's embedding")) if scale is None else scale
    swap = list(range(rank - 2)) + [rank - 1, rank - 2]
    key_t = _node(low, "permute", [low.tensor(k)], {"dims": swap})
    scores = _node(low, "mul", [_node(low, "matmul", [low.tensor(q), key_t]), float(scale)])
    mask = a.get("attn_mask")
    if a.get("is_causal"):
        if mask is not None:
            raise Unsupported("attention with both a mask and is_causal")
        rows, cols = low.static_dim(q, rank - 2, "the query's length"), low.static_dim(k, rank - 2, "the key's length")
        mask = torch.ones(rows, cols, dtype=torch.bool).tril()
    if isinstance(mask, torch.Tensor) and mask.dtype == torch.bool:  # True: attend
        mask = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    if mask is not None:
        scores = _node(low, "add", [scores, low.tensor(mask, "the attention mask")])
    weights = _node(low, "softmax", [scores], {"axis": rank - 1, "log": 0})
    return low.emit_one("matmul", [weights, low.tensor(v)])


BUILDERS = {
    "conv1d": b_conv1d, "conv_transpose2d": b_conv_transpose, "conv_transpose1d": b_conv_transpose1d,
    "conv_transpose3d": b_conv_transpose3d,
    "bilinear": b_bilinear, "max_unpool2d": b_max_unpool2d,
    "linalg_vector_norm": b_vector_norm, "var": b_var, "std": b_std, "var_mean": b_var_mean, "std_mean": b_var_mean,
    "logsumexp": b_logsumexp, "frac": b_frac, "affine_grid_generator": b_affine_grid, "im2col": b_im2col,
    "col2im": b_col2im,
    "channel_shuffle": b_channel_shuffle, "native_channel_shuffle": b_channel_shuffle,
    "repeat": b_repeat, "tile": b_repeat, "repeat_interleave": b_repeat_interleave, "unfold": b_unfold,
    "glu": b_glu, "baddbmm": b_baddbmm, "square": b_square,
    "addcmul": b_addcmul, "addcdiv": b_addcmul, "reshape_as": b_reshape_as,
    "scaled_dot_product_attention": b_attention, "einsum": b_einsum, "index": b_index,
    "index_select": b_index_select, "embedding": b_embedding, "flip": b_flip,
    "roll": b_roll, "rot90": b_rot90,
    "broadcast_tensors": b_broadcast_tensors, "tensordot": b_tensordot,
    **{name: b_pointwise_loss for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")},
    "copy": b_copy, "fill": b_fill, "slice_scatter": b_slice_scatter, "select_scatter": b_select_scatter,
    **{name: b_filled for name in FILLED},
    **{name: b_filled_like for name in ("zeros_like", "ones_like", "full_like", "empty_like")},
    "max_pool1d": b_max_pool1d, "avg_pool1d": b_avg_pool1d,
    "adaptive_avg_pool1d": b_adaptive_avg_pool1d, "adaptive_max_pool1d": b_adaptive_max_pool1d,
    "conv3d": b_conv3d, "max_pool3d": b_max_pool3d, "max_pool3d_with_indices": b_max_pool3d_with_indices,
    "avg_pool3d": b_avg_pool3d, "adaptive_avg_pool3d": b_adaptive_avg_pool3d,
    "_adaptive_avg_pool3d": b_adaptive_avg_pool3d, "adaptive_max_pool3d": b_adaptive_max_pool3d,
    "group_norm": b_group_norm, "native_group_norm": b_group_norm, "instance_norm": b_instance_norm,
    "pixel_shuffle": b_pixel_shuffle, "pixel_unshuffle": b_pixel_unshuffle,
    "prelu": b_prelu, "_prelu_kernel": b_prelu, "elu": b_elu, "selu": b_selu, "celu": b_celu,
    "softplus": b_softplus, "hardshrink": b_hardshrink, "softshrink": b_softshrink,
    "log_sigmoid": b_log_sigmoid, "log_sigmoid_forward": b_log_sigmoid,
    "threshold": b_threshold, "rrelu": b_rrelu, "lerp": b_lerp, "quantile": b_quantile, "logit": b_logit, "nan_to_num": b_nan_to_num,
    "logaddexp": b_logaddexp, "heaviside": b_heaviside,
    "triu": b_triu, "tril": b_tril, "movedim": b_movedim, "diff": b_diff,
    "cosine_similarity": b_cosine_similarity, "pairwise_distance": b_pairwise_distance,
    "cdist": b_cdist, "_cdist_forward": b_cdist, "bucketize": b_bucketize, "searchsorted": b_searchsorted,
    "count_nonzero": b_count_nonzero, "outer": b_outer, "ger": b_outer, "aminmax": b_aminmax,
    "one_hot": b_one_hot, "diagonal": b_diagonal, "diag_embed": b_diag_embed,
    "upsample_trilinear3d": b_volume_interpolation, "upsample_nearest3d": b_volume_interpolation,
    "_upsample_nearest_exact3d": b_volume_interpolation,
    "_upsample_bilinear2d_aa": b_antialiased, "_upsample_bicubic2d_aa": b_antialiased,
}
