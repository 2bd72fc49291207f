"""Complex tensors and the Fourier transforms (torch.fft, torch.stft): a complex tensor is held as
its real and imaginary parts, two float32 tensors (Complex). A transform along a dim is one
constant `linear` layer over that dim (its cosines and sines, the normalisation folded in), the
dim moved last around it; a transform over several dims is one such layer per dim. Real inputs
(rfft), Hermitian outputs (irfft) and a length other than the input's (zero padding, trimming)
are the layer's shape. The complex arithmetic (mul, add, sub, div, conj, abs, angle, exp, polar)
is its real formulas on the parts; ops that move entries, sums, means and negation take each
part. The STFT is one `conv2d` of the signal by the windowed cosines and sines of every
frequency, its stride the hop. Each builder takes the lowering, the fx node and its bound
arguments, as the lowering's own do."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.fx as fx

from pyprune.capture.composites import _node, _unary
from pyprune.capture.values import Ref, Unsupported

__all__ = ["BUILDERS", "PARTWISE", "Complex", "involves_complex", "mixes_real_tensors", "part_example", "part_of"]


@dataclass(frozen=True, eq=False)
class Complex:
    """A complex tensor as the names of its real and imaginary parts; `example` is its value at
    capture (a fake tensor: its shape, and its type for a torch call that reads it)."""

    re: str
    im: str
    example: Any

    @property
    def shape(self) -> list[Any]:
        """Ints, or expressions for sizes known at run time."""
        return [d.node.expr if isinstance(d, torch.SymInt) else int(d) for d in self.example.shape]


# Ops that move or pick entries, and the linear ones (sums, means, negation): on a complex
# tensor, the same op on either part (lower.py).
PARTWISE = frozenset({"slice", "select", "view", "reshape", "_unsafe_view", "permute", "transpose", "t", "unsqueeze",
                      "squeeze", "flatten", "unflatten", "expand", "narrow", "cat", "concat", "stack", "flip", "roll",
                      "clone", "contiguous", "alias", "split", "split_with_sizes", "chunk", "tensor_split", "hsplit",
                      "vsplit", "dsplit", "unbind", "repeat",
                      "sum", "mean", "neg"})


def part_example(example: Any, part: str) -> Any:
    """The real or the imaginary part of a complex tensor's value at capture ("re", "im")."""
    with example.fake_mode if hasattr(example, "fake_mode") else contextlib.nullcontext():
        return (torch.real if part == "re" else torch.imag)(example).contiguous()


def part_of(v: Any, part: str) -> Any:
    """An argument with its complex tensors replaced by their real or imaginary part."""
    if isinstance(v, Complex):
        return Ref(v.re if part == "re" else v.im)
    if isinstance(v, torch.Tensor) and v.is_complex():
        return (v.real if part == "re" else v.imag).float().contiguous()
    if isinstance(v, (list, tuple)):
        return type(v)(part_of(x, part) for x in v)
    if isinstance(v, dict):
        return {k: part_of(x, part) for k, x in v.items()}
    return v


def mixes_real_tensors(args: dict) -> bool:
    """Whether an op's arguments hold a real tensor beside complex ones (torch.cat of both): a
    part-by-part op would take the real one as the imaginary part too."""
    items = [v for a in args.values() for v in (a if isinstance(a, (list, tuple)) else [a])]
    return any((isinstance(v, Ref) and v.size is None) or (isinstance(v, torch.Tensor) and not v.is_complex())
               for v in items)


def involves_complex(val: Any, args: dict) -> bool:
    """Whether a node makes or reads a complex tensor: the spectral builders lower it."""
    if isinstance(val, torch.Tensor) and val.is_complex():
        return True
    items = [v for a in args.values() for v in (a if isinstance(a, (list, tuple)) else [a])]
    return any(isinstance(v, Complex) or (isinstance(v, torch.Tensor) and v.is_complex()) for v in items)


def _parts(low: Any, v: Any) -> tuple[str, str | None]:
    """(real part, imaginary part or None for a real operand) of an operand."""
    if isinstance(v, Complex):
        return v.re, v.im
    if isinstance(v, torch.Tensor) and v.is_complex():
        return low.tensor(v.real.float().contiguous(), "a complex constant"), \
            low.tensor(v.imag.float().contiguous(), "a complex constant")
    return low.tensor(v, "an operand"), None


def _parts_shape(low: Any, v: Any) -> list[Any]:
    if isinstance(v, Complex):
        return v.shape
    return list(v.shape) if isinstance(v, torch.Tensor) else list(low.shape(v))


def _axes(dims: Any, rank: int, default: Sequence[int]) -> list[int]:
    dims = list(default) if dims is None else [dims] if isinstance(dims, int) else list(dims)
    return [d % rank for d in dims]


# ---- the transforms along one dim ----------------------------------------------------------

def _scale(norm: str | None, n: int, inverse: bool) -> float:
    """The factor of a transform of length n: torch.fft's norm ("backward" scales the inverse by
    1/n, "forward" the forward one, "ortho" both by 1/sqrt(n))."""
    norm = norm or "backward"
    if norm not in ("backward", "forward", "ortho"):
        raise Unsupported(f"an FFT normalisation {norm!r}")
    if norm == "ortho":
        return 1.0 / math.sqrt(n)
    return 1.0 / n if (norm == "backward") == inverse else 1.0


def _angles(rows: int, columns: int, n: int) -> np.ndarray:
    """2 pi k t / n for output k (rows) and input t (columns), in double."""
    return 2.0 * np.pi * np.outer(np.arange(rows), np.arange(columns)) / n


def _along(low: Any, x: str, axis: int, rank: int, weight: np.ndarray) -> str:
    """A constant linear layer over dim `axis` of x: the dim moved last around it."""
    order = [d for d in range(rank) if d != axis] + [axis]
    if axis != rank - 1:
        x = _node(low, "permute", [x], {"dims": order})
    y = _node(low, "linear", [x, low.tensor(torch.from_numpy(weight.astype(np.float32)), "the transform")])
    if axis != rank - 1:
        y = _node(low, "permute", [y], {"dims": [order.index(d) for d in range(rank)]})
    return y


def _halves(low: Any, y: str, axis: int, m: int) -> tuple[str, str]:
    """The first and the second m entries of y along axis."""
    return tuple(low.slice_node(Ref(y), axis, start, start + m, 1).name for start in (0, m))


def _dft(low: Any, x: tuple[str, str | None], axis: int, shape: list[Any], n: int, m: int, inverse: bool,
         scale: float) -> tuple[str, str]:
    """The first m bins of the length-n DFT (the inverse's when `inverse`) along axis of x (real
    and imaginary parts; None: real), the input zero-padded or trimmed to n: one linear layer
    from [re, im] to [re, im] along the dim."""
    length = shape[axis]
    if not isinstance(length, int):
        raise Unsupported("an FFT along a dim known only at run time")
    theta = _angles(m, min(length, n), n)
    cos, sin = np.zeros((m, length)), np.zeros((m, length))
    cos[:, :theta.shape[1]], sin[:, :theta.shape[1]] = np.cos(theta), np.sin(theta)
    sign = 1.0 if inverse else -1.0  # e^{sign i theta}
    re, im = x
    if im is None:  # a real input: re cos, sign re sin
        weight = np.concatenate([cos, sign * sin]) * scale
        y = _along(low, re, axis, len(shape), weight)
    else:  # (re + i im)(cos + sign i sin)
        weight = np.block([[cos, -sign * sin], [sign * sin, cos]]) * scale
        both = _node(low, "concat", [re, im], {"axis": axis})
        y = _along(low, both, axis, len(shape), weight)
    return _halves(low, y, axis, m)


def _hermitian(low: Any, x: tuple[str, str | None], axis: int, shape: list[Any], n: int, scale: float) -> str:
    """irfft along axis: the n real samples whose DFT's first bins are x's (the others their
    conjugates; the imaginary parts of bin 0 and, for even n, bin n/2 are not read)."""
    bins = shape[axis]
    if not isinstance(bins, int):
        raise Unsupported("an inverse FFT along a dim known only at run time")
    used = min(bins, n // 2 + 1)
    theta = _angles(used, n, n).T  # (samples, bins)
    weight = np.full(used, 2.0)
    weight[0] = 1.0
    if n % 2 == 0 and used == n // 2 + 1:
        weight[-1] = 1.0
    cos, sin = np.zeros((n, bins)), np.zeros((n, bins))
    cos[:, :used], sin[:, :used] = np.cos(theta) * weight, np.sin(theta) * weight
    re, im = x
    if im is None:
        return _along(low, re, axis, len(shape), cos * scale)
    both = _node(low, "concat", [re, im], {"axis": axis})
    return _along(low, both, axis, len(shape), np.concatenate([cos, -sin], axis=1) * scale)


# ---- torch.fft ---------------------------------------------------------------------------

def _signal(low: Any, a: dict) -> tuple[tuple[str, str | None], list[Any]]:
    x = a["self"]
    parts = _parts(low, x)
    return parts, list(x.shape if isinstance(x, Complex) else low.shape(x))


def _sizes(a: dict, axes: list[int], shape: list[Any], key: str, hermitian: bool) -> list[int]:
    """The transform lengths: `n` / `s` where given (-1: the default), else the input's, except
    an irfft's last, 2 (m - 1) for its m bins."""
    given = a.get(key)
    if given is None:
        given = [-1] * len(axes)
    elif isinstance(given, int):
        given = [given]
    if len(given) != len(axes):
        raise Unsupported(f"FFT sizes {given} for dims {axes}")
    sizes = []
    for i, (n, d) in enumerate(zip(given, axes)):
        if n == -1:
            n = shape[d]
            if hermitian and i == len(axes) - 1 and isinstance(n, int):
                n = 2 * (n - 1)
        if not isinstance(n, int) or n < 1:
            raise Unsupported("an FFT length known only at run time")
        sizes.append(n)
    return sizes


def _transform(kind: str, default_dims: Sequence[int] | None, key: str) -> Callable[[Any, fx.Node, dict], Any]:
    """A builder of torch.fft's `kind` transforms (fft, ifft, rfft, irfft) over the dims `dim`
    names (one dim for the 1-d forms, default the last; `default_dims` for the others, None: all)."""
    inverse = kind in ("ifft", "irfft")

    def build(low: Any, node: fx.Node, a: dict) -> Any:
        x, shape = _signal(low, a)
        rank = len(shape)
        dims = a.get("dim")
        axes = _axes(dims, rank, default_dims if default_dims is not None else range(rank))
        sizes = _sizes(a, axes, shape, key, kind == "irfft")
        norm = a.get("norm")
        if kind == "irfft":  # complex transforms first, the Hermitian one on the last dim
            for d, n in zip(axes[:-1], sizes[:-1]):
                x = _dft(low, x, d, shape, n, n, True, _scale(norm, n, True))
                shape[d] = n
            return Ref(_hermitian(low, x, axes[-1], shape, sizes[-1], _scale(norm, sizes[-1], True)))
        if kind == "rfft":
            if x[1] is not None:
                raise Unsupported("rfft of a complex tensor")
            order = [(axes[-1], sizes[-1], sizes[-1] // 2 + 1)] + [(d, n, n) for d, n in zip(axes[:-1], sizes[:-1])]
        else:
            order = [(d, n, n) for d, n in zip(axes, sizes)]
        for d, n, m in order:
            x = _dft(low, x, d, shape, n, m, inverse, _scale(norm, n, inverse))
            shape[d] = m
        return Complex(x[0], x[1], node.meta["val"])

    return build


def b_stft(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.stft of a (N, L) or (L,) signal (its centre padding comes before, as a pad): one
    conv2d by the windowed cosines and sines of the frequencies, stride the hop, as (N, 1, 1, L)."""
    x, n_fft = a["self"], a["n_fft"]
    hop = a.get("hop_length") or n_fft // 4
    win = a.get("win_length") or n_fft
    window = a.get("window")
    if window is None:
        window = torch.ones(win)
    if not isinstance(window, torch.Tensor) or window.dim() != 1 or window.numel() != win or win > n_fft:
        raise Unsupported("an STFT window computed at run time or of another length")
    rank = low.rank(x)
    length = low.shape(x)[-1]
    if rank not in (1, 2) or not isinstance(length, int) or length < n_fft:
        raise Unsupported("an STFT of other than a (N, L) or (L,) signal at least n_fft long")
    if a.get("return_complex") is False:
        raise Unsupported("an STFT returning real pairs")
    left = (n_fft - win) // 2
    taps = np.zeros(n_fft)
    taps[left:left + win] = window.double().numpy()
    onesided = a.get("onesided")
    bins = n_fft // 2 + 1 if onesided is None or onesided else n_fft
    theta = _angles(bins, n_fft, n_fft)
    scale = 1.0 / math.sqrt(n_fft) if a.get("normalized") else 1.0
    kernels = np.concatenate([np.cos(theta), -np.sin(theta)]) * taps * scale
    weight = torch.from_numpy(kernels.astype(np.float32).reshape(2 * bins, 1, 1, n_fft))
    frames = (length - n_fft) // hop + 1
    signal = _node(low, "reshape", [low.tensor(x)], {"shape": ([-2] if rank == 2 else [1]) + [1, 1, length]})
    y = _node(low, "conv2d", [signal, low.tensor(weight, "the STFT's kernels")], {"stride": [1, hop]})
    y = _node(low, "reshape", [y], {"shape": ([-2] if rank == 2 else []) + [2 * bins, frames]})
    re, im = _halves(low, y, rank - 1, bins)
    return Complex(re, im, node.meta["val"])


# ---- complex values and arithmetic ----------------------------------------------------------

def b_view_as_complex(low: Any, node: fx.Node, a: dict) -> Any:
    """(..., 2) real pairs as a complex tensor of (...)."""
    x = a["self"]
    shape = list(low.shape(x))
    rank = len(shape)
    keep = [-(2 + i) for i in range(rank - 1)]
    re, im = (_node(low, "reshape", [low.slice_node(x, rank - 1, i, i + 1, 1).name], {"shape": keep}) for i in (0, 1))
    return Complex(re, im, node.meta["val"])


def b_complex(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.complex(real, imag), both of the result's shape."""
    result = Complex("", "", node.meta["val"])
    re, im = a["real"], a["imag"]
    if any(list(low.shape(v)) != result.shape for v in (re, im)):
        raise Unsupported("torch.complex of parts of other shapes than the result's")
    return Complex(low.tensor(re), low.tensor(im), node.meta["val"])


def _complex_input(a: dict) -> Complex:
    x = a["self"]
    if not isinstance(x, Complex):
        raise Unsupported("a complex op of other than a complex tensor computed in the graph")
    return x


def b_view_as_real(low: Any, node: fx.Node, a: dict) -> Any:
    """A complex tensor as (..., 2) real pairs."""
    x = _complex_input(a)
    keep = [-(2 + i) for i in range(len(x.shape))] + [1]
    parts = [_node(low, "reshape", [p], {"shape": keep}) for p in (x.re, x.im)]
    return low.emit_one("concat", parts, {"axis": len(x.shape)})


def b_real(low: Any, node: fx.Node, a: dict) -> Any:
    return Ref(_complex_input(a).re)


def b_imag(low: Any, node: fx.Node, a: dict) -> Any:
    return Ref(_complex_input(a).im)


def b_conj(low: Any, node: fx.Node, a: dict) -> Any:
    x = _complex_input(a)
    return Complex(x.re, _node(low, "mul", [x.im, -1.0]), node.meta["val"])


def b_abs(low: Any, node: fx.Node, a: dict) -> Any:
    x = _complex_input(a)
    return low.emit_one("hypot", [x.re, x.im])


def b_angle(low: Any, node: fx.Node, a: dict) -> Any:
    x = _complex_input(a)
    return low.emit_one("atan2", [x.im, x.re])


def b_polar(low: Any, node: fx.Node, a: dict) -> Any:
    """torch.polar(abs, angle): abs cos(angle) + i abs sin(angle) (rotary position embeddings)."""
    r, theta = low.tensor(a["abs"], "the magnitude"), low.tensor(a["angle"], "the angle")
    return Complex(_node(low, "mul", [r, _unary(low, "cos", theta)]), _node(low, "mul", [r, _unary(low, "sin", theta)]),
                   node.meta["val"])


def b_exp(low: Any, node: fx.Node, a: dict) -> Any:
    """exp of a complex tensor: e^re (cos im + i sin im)."""
    x = _complex_input(a)
    scale = _unary(low, "exp", x.re)
    return Complex(_node(low, "mul", [scale, _unary(low, "cos", x.im)]), _node(low, "mul", [scale, _unary(low, "sin", x.im)]),
                   node.meta["val"])


def _arithmetic(op: str) -> Callable[[Any, fx.Node, dict], Any]:
    """add, sub, mul, div with a complex operand: the formulas on the parts, broadcasting."""

    def build(low: Any, node: fx.Node, a: dict) -> Any:
        if a.get("alpha", 1) != 1:
            raise Unsupported(f"complex {op} with alpha")
        (ar, ai), (br, bi) = _parts(low, a["self"]), _parts(low, a["other"])
        zero = low.tensor(0.0)

        def f(kind: str, x: str, y: str) -> str:
            return _node(low, kind, [x, y])

        if op in ("add", "sub"):
            re = f(op, ar, br)
            if ai is not None and bi is not None:
                im = f(op, ai, bi)
            else:  # the complex operand's imaginary part, which must have the result's shape
                one = a["self"] if ai is not None else a["other"]
                if _parts_shape(low, one) != Complex("", "", node.meta["val"]).shape:
                    raise Unsupported(f"complex {op} of a real operand broadcasting the complex one")
                im = ai if ai is not None else bi if op == "add" else f("sub", zero, bi)
        elif op == "mul":
            if ai is None or bi is None:
                (cr, ci), s = ((br, bi), ar) if ai is None else ((ar, ai), br)
                re, im = f("mul", cr, s), f("mul", ci, s)
            else:
                re = f("sub", f("mul", ar, br), f("mul", ai, bi))
                im = f("add", f("mul", ar, bi), f("mul", ai, br))
        else:  # div
            if bi is None:
                re, im = f("div", ar, br), f("div", ai, br)
            else:
                size = f("add", f("mul", br, br), f("mul", bi, bi))
                if ai is None:
                    re, im = f("div", f("mul", ar, br), size), f("div", f("mul", f("sub", zero, ar), bi), size)
                else:
                    re = f("div", f("add", f("mul", ar, br), f("mul", ai, bi)), size)
                    im = f("div", f("sub", f("mul", ai, br), f("mul", ar, bi)), size)
        return Complex(re, im, node.meta["val"])

    return build


BUILDERS: dict[str, Callable[[Any, fx.Node, dict], Any]] = {
    "fft_fft": _transform("fft", [-1], "n"), "fft_ifft": _transform("ifft", [-1], "n"),
    "fft_rfft": _transform("rfft", [-1], "n"), "fft_irfft": _transform("irfft", [-1], "n"),
    "fft_fft2": _transform("fft", [-2, -1], "s"), "fft_ifft2": _transform("ifft", [-2, -1], "s"),
    "fft_rfft2": _transform("rfft", [-2, -1], "s"), "fft_irfft2": _transform("irfft", [-2, -1], "s"),
    "fft_fftn": _transform("fft", None, "s"), "fft_ifftn": _transform("ifft", None, "s"),
    "fft_rfftn": _transform("rfft", None, "s"), "fft_irfftn": _transform("irfft", None, "s"),
    "stft": b_stft,
    "view_as_complex": b_view_as_complex, "view_as_real": b_view_as_real, "complex": b_complex,
    "real": b_real, "imag": b_imag, "conj": b_conj, "_conj": b_conj, "conj_physical": b_conj,
    "resolve_conj": lambda low, node, a: _complex_input(a), "abs": b_abs, "angle": b_angle, "polar": b_polar,
    "exp": b_exp,
    **{op: _arithmetic(op) for op in ("add", "sub", "mul", "div")},
}
