"""Thin, checked wrappers over the C++ kernels.

Inputs may be numpy arrays, torch CPU tensors (shared without a copy) or anything exporting
DLPack or the buffer protocol; results come back as the same kind as the input. Non-contiguous
inputs are copied to contiguous ones; dtypes are never converted: anything but float32 is
refused with a TypeError. ``out`` must already be contiguous float32 of the right shape,
because the result is written into it.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from pyprune import _core
from pyprune.activation import Activation, as_activation

__all__ = [
    "available_isas",
    "conv2d",
    "depthwise_conv2d",
    "pointwise_conv2d",
    "separable_conv2d",
    "sparse_conv2d",
    "get_num_threads",
    "isa",
    "set_num_threads",
]


def isa() -> str:
    """The instruction set the kernels run with: 'neon', 'avx2' or 'scalar'.

    Set PYPRUNE_ISA=scalar (before the first call) to force the reference kernels."""
    return _core.isa()


def available_isas() -> list[str]:
    """Every instruction set this build and CPU can run, 'scalar' first."""
    return _core.available_isas()


def set_num_threads(n: int) -> None:
    """Threads used by the kernels (the calling thread included). Results do not depend on it."""
    _core.set_num_threads(_as_int("num_threads", n))


def get_num_threads() -> int:
    return _core.get_num_threads()


def _is_torch_tensor(x: Any) -> bool:
    # torch is optional: a tensor can only exist if torch was imported already.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _tensor_as_array(t: Any, name: str) -> np.ndarray:
    torch = sys.modules["torch"]
    if t.device.type != "cpu":
        raise ValueError(f"{name} must be a CPU tensor, got device {t.device}")
    if t.dtype != torch.float32:
        raise TypeError(f"{name} must have dtype float32, got {t.dtype}")
    return t.detach().numpy()


def _as_array(x: Any, name: str) -> np.ndarray:
    """A C-contiguous ndarray viewing x's memory where possible, without changing dtype."""
    if _is_torch_tensor(x):
        x = _tensor_as_array(x, name)
    elif not isinstance(x, np.ndarray):
        x = np.from_dlpack(x) if hasattr(x, "__dlpack__") else np.asarray(x)
    if x.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32, got {x.dtype}")
    return np.require(x, requirements=["C_CONTIGUOUS", "ALIGNED"])


def _as_out(out: Any) -> np.ndarray:
    """out is written in place, so it is never copied."""
    if _is_torch_tensor(out):
        out = _tensor_as_array(out, "out")
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array or torch tensor, got {type(out).__name__}")
    if out.dtype != np.float32:
        raise TypeError(f"out must have dtype float32, got {out.dtype}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    return out


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def _like(result: np.ndarray, x: Any, out: Any) -> Any:
    if out is not None:
        return out
    if _is_torch_tensor(x):
        import torch

        return torch.from_numpy(result)
    return result


def _forward(module: Any, x: Any, act: Activation, out: Any) -> Any:
    """module.forward (a _core convolution holding its weights) on x, clamped by act."""
    result = module.forward(_as_array(x, "x"), act.min, act.max, None if out is None else _as_out(out))
    return _like(result, x, out)


def depthwise_conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: int = 1,
    padding: int = 0,
    activation: Activation | str | None = None,
    out: Any = None,
) -> Any:
    """Depthwise 2-D convolution of NCHW float32 input, fused with bias and activation.

    x: (N, C, H, W); weight: (C, 1, k, k) with k in {3, 5}; bias: (C,) or None;
    stride 1 or 2; symmetric zero padding in [0, k // 2]; activation None, 'relu', 'relu6' or
    an Activation (clamp). Same result as
    ``clamp(torch.nn.functional.conv2d(x, weight, bias, stride, padding, groups=C))``.
    """
    act = as_activation(activation)
    result = _core.depthwise_conv2d(
        _as_array(x, "x"),
        _as_array(weight, "weight"),
        None if bias is None else _as_array(bias, "bias"),
        stride=_as_int("stride", stride),
        padding=_as_int("padding", padding),
        min=act.min,
        max=act.max,
        out=None if out is None else _as_out(out),
    )
    return _like(result, x, out)


def conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
    activation: Activation | str | None = None,
    out: Any = None,
) -> Any:
    """2-D convolution of NCHW float32 input (dense or grouped, square kernel), fused with bias
    and activation; 1x1 convolutions run as a GEMM straight on the input, others through a
    cache-sized im2col panel.

    x: (N, Cin, H, W); weight: (Cout, Cin / groups, k, k); bias: (Cout,) or None. Same result
    as ``clamp(torch.nn.functional.conv2d(x, weight, bias, stride, padding, groups=groups))``.
    Packs the weights on every call: modules (pyprune.nn) pack them once.
    """
    act = as_activation(activation)
    packed = _core.Conv2d(
        _as_array(weight, "weight"),
        None if bias is None else _as_array(bias, "bias"),
        stride=_as_int("stride", stride),
        padding=_as_int("padding", padding),
        groups=_as_int("groups", groups),
    )
    return _forward(packed, x, act, out)


def pointwise_conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    activation: Activation | str | None = None,
    out: Any = None,
) -> Any:
    """1x1 convolution of NCHW float32 input: out[n] = W @ x[n] (+ bias, activation), with
    weight (Cout, Cin, 1, 1) or (Cout, Cin)."""
    w = _as_array(weight, "weight")
    if w.ndim == 2:
        w = w.reshape(*w.shape, 1, 1)
    if w.ndim != 4 or w.shape[2:] != (1, 1):
        raise ValueError(f"weight must have shape (Cout, Cin, 1, 1) or (Cout, Cin), got {w.shape}")
    return conv2d(x, w, bias, activation=activation, out=out)


def separable_conv2d(
    x: Any,
    dw_weight: Any,
    pw_weight: Any,
    dw_bias: Any = None,
    pw_bias: Any = None,
    stride: int = 1,
    padding: int = 0,
    dw_activation: Activation | str | None = None,
    activation: Activation | str | None = None,
    out: Any = None,
) -> Any:
    """Fused depthwise-separable block: depthwise (dw_weight (C, 1, k, k), k 3 or 5) ->
    dw_activation -> pointwise (pw_weight (Cout, C, 1, 1)) -> activation, computed strip by
    strip so the depthwise result stays in cache. Same result as the two separate calls."""
    dw_act, act = as_activation(dw_activation), as_activation(activation)
    fused = _core.SeparableConv2d(
        _as_array(dw_weight, "dw_weight"),
        None if dw_bias is None else _as_array(dw_bias, "dw_bias"),
        _as_int("stride", stride),
        _as_int("padding", padding),
        dw_act.min,
        dw_act.max,
        _as_array(pw_weight, "pw_weight"),
        None if pw_bias is None else _as_array(pw_bias, "pw_bias"),
    )
    return _forward(fused, x, act, out)


def sparse_conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: int = 1,
    padding: int = 0,
    activation: Activation | str | None = None,
    block: int = 1,
    out: Any = None,
) -> Any:
    """2-D convolution of NCHW float32 input with a sparse (pruned) weight: only its non-zeros
    are stored and multiplied, output channels grouped in blocks of `block` (1, 2, 4 or 8;
    blocks pay off when whole blocks were pruned together).

    x: (N, Cin, H, W); weight: (Cout, Cin, k, k), mostly zeros; bias: (Cout,) or None. Same
    result as ``clamp(torch.nn.functional.conv2d(x, weight, bias, stride, padding))``.
    Converts the weights on every call: pyprune.nn.SparseConv2d converts them once.
    """
    act = as_activation(activation)
    sparse = _core.SparseConv2d(
        _as_array(weight, "weight"),
        None if bias is None else _as_array(bias, "bias"),
        stride=_as_int("stride", stride),
        padding=_as_int("padding", padding),
        block=_as_int("block", block),
    )
    return _forward(sparse, x, act, out)
