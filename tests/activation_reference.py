"""The activations in float64, the judge of the kernels' accuracy (numpy and the standard library
only: the emulated aarch64 run has no torch and no scipy)."""

import math

import numpy as np


def gelu_tanh_argument(x):
    """2u, u the tanh argument of gelu_tanh, in float64."""
    return 2 * 0.7978845608028654 * (x + 0.044715 * x**3)


def exact(kind, x, lo=-math.inf, hi=math.inf, alpha=0.01):
    """The activation `kind` in float64 of the float32 inputs x, with its limits at +-inf; lo and
    hi bound a clamp, alpha is leaky_relu's slope or elu's alpha (as float32, as the kernels take
    them)."""
    lo, hi, alpha = (float(np.float32(p)) for p in (lo, hi, alpha))
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if kind == "clamp":
            return np.where(np.isnan(x), x, np.minimum(np.maximum(x, lo), hi))
        if kind == "leaky_relu":
            return np.where(x >= 0, x, alpha * x)
        if kind == "elu":
            return np.where(x > 0, x, alpha * np.expm1(x))
        if kind == "hardsigmoid":
            return np.where(np.isnan(x), x, np.clip(x + 3, 0, 6) / 6)
        if kind == "hardswish":
            return np.where(x <= -3, -0.0, x * np.clip(x + 3, 0, 6) / 6)
        if kind == "sigmoid":
            return 1 / (1 + np.exp(-x))
        if kind == "tanh":
            return np.tanh(x)
        if kind == "silu":
            return np.where(np.isneginf(x), -0.0, x / (1 + np.exp(-x)))
        if kind == "gelu_tanh":
            return np.where(np.isneginf(x), -0.0, x / (1 + np.exp(-gelu_tanh_argument(x))))
        if kind == "mish":
            softplus = np.where(x > 700, x, np.log1p(np.exp(np.minimum(x, 700))))
            return np.where(np.isneginf(x), -0.0, x * np.tanh(softplus))
        if kind == "gelu":
            erfc = np.vectorize(math.erfc, otypes=[np.float64])
            return np.where(np.isneginf(x), -0.0, 0.5 * x * erfc(-x / math.sqrt(2)))
    raise AssertionError(kind)


def ulps(got, want):
    """|got - want| in units of the float32 spacing at want (2^-149 at the least)."""
    _, e = np.frexp(want)
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf
        diff = np.where(got == want, 0.0, np.abs(got.astype(np.float64) - want))
    return diff / np.ldexp(1.0, np.maximum(e - 24, -149))
