"""Fused activations: a clamp every kernel applies to its output (none, ReLU, ReLU6, Hardtanh)
or one of the activation microkernels the kernels run on each output tile (leaky ReLU,
hardswish, hardsigmoid, SiLU, sigmoid, tanh, GELU and its tanh approximation, Mish, ELU)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "Activation", "as_activation"]

# The kinds the kernels run (pyprune._core.activation_names() without the clamp aliases).
KINDS = ("clamp", "leaky_relu", "hardswish", "hardsigmoid", "silu", "sigmoid", "tanh", "gelu", "gelu_tanh", "mish",
         "elu")
_WITH_ALPHA = {"leaky_relu": "LeakyReLU", "elu": "ELU"}  # alpha: leaky_relu's slope, elu's negative limit
_CLASS_NAMES = {"hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid", "silu": "SiLU", "sigmoid": "Sigmoid",
                "tanh": "Tanh", "gelu": "GELU", "gelu_tanh": "GELU(tanh)", "mish": "Mish"}


@dataclass(frozen=True)
class Activation:
    """An activation: `kind` (one of KINDS), the clamp's bounds [min, max] (kind 'clamp': none,
    ReLU and ReLU6 are special cases), the negative slope `alpha` (kind 'leaky_relu') or ELU's
    `alpha` (kind 'elu': x if x > 0 else alpha * (exp(x) - 1))."""

    min: float = -math.inf
    max: float = math.inf
    kind: str = "clamp"
    alpha: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"activation kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.min <= self.max:
            raise ValueError(f"activation min ({self.min}) must not exceed max ({self.max})")
        if self.kind != "clamp" and (self.min, self.max) != (-math.inf, math.inf):
            raise ValueError(f"only a clamp has bounds, not {self.kind}")
        if self.kind in _WITH_ALPHA and not math.isfinite(self.alpha):
            raise ValueError(f"{self.kind} {'slope' if self.kind == 'leaky_relu' else 'alpha'} must be finite, "
                             f"got {self.alpha}")
        if self.kind not in _WITH_ALPHA and self.alpha != 0.0:
            raise ValueError(f"only leaky_relu and elu have an alpha, not {self.kind}")

    def __str__(self) -> str:
        if self.kind in _WITH_ALPHA:
            return f"{_WITH_ALPHA[self.kind]}({self.alpha:g})"
        if self.kind != "clamp":
            return _CLASS_NAMES[self.kind]
        for name, act in _BY_NAME.items():
            if act == self and name in ("none", "relu", "relu6"):
                return {"none": "none", "relu": "ReLU", "relu6": "ReLU6"}[name]
        return f"clamp({self.min:g}, {self.max:g})"

    @property
    def is_clamp(self) -> bool:
        """A clamp (none included): what every kernel applies itself, without an epilogue."""
        return self.kind == "clamp"

    @classmethod
    def none(cls) -> Activation:
        return cls()

    @classmethod
    def relu(cls) -> Activation:
        return cls(0.0, math.inf)

    @classmethod
    def relu6(cls) -> Activation:
        return cls(0.0, 6.0)

    @classmethod
    def clamp(cls, min: float, max: float) -> Activation:
        return cls(float(min), float(max))

    @classmethod
    def leaky_relu(cls, alpha: float = 0.01) -> Activation:
        return cls(kind="leaky_relu", alpha=float(alpha))

    @classmethod
    def elu(cls, alpha: float = 1.0) -> Activation:
        return cls(kind="elu", alpha=float(alpha))

    @classmethod
    def of(cls, kind: str) -> Activation:
        """A kind without parameters: 'hardswish', 'hardsigmoid', 'silu', 'sigmoid', 'tanh',
        'gelu', 'gelu_tanh', 'mish'."""
        if kind not in _CLASS_NAMES:
            raise ValueError(f"activation kind must be one of {', '.join(_CLASS_NAMES)}, got {kind!r}")
        return cls(kind=kind)


_BY_NAME = {
    "none": Activation.none(),
    "relu": Activation.relu(),
    "relu6": Activation.relu6(),
    "leaky_relu": Activation.leaky_relu(),
    "elu": Activation.elu(),
    **{kind: Activation.of(kind) for kind in _CLASS_NAMES},
}
# torch.nn activation modules by class name (instances are read for their parameters).
_MODULES = {"ReLU": "relu", "ReLU6": "relu6", "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid",
            "SiLU": "silu", "Sigmoid": "sigmoid", "Tanh": "tanh", "GELU": "gelu", "LeakyReLU": "leaky_relu",
            "Mish": "mish", "ELU": "elu"}


def as_activation(spec: Any) -> Activation:
    """Accepts None, an Activation, a name ('relu', 'relu6', 'none', 'leaky_relu' (slope 0.01),
    'elu' (alpha 1), 'hardswish', 'hardsigmoid', 'silu', 'sigmoid', 'tanh', 'gelu', 'gelu_tanh',
    'mish'), or a torch activation module (or class): ReLU, ReLU6, Hardtanh, LeakyReLU, ELU,
    Hardswish, Hardsigmoid, SiLU, Sigmoid, Tanh, GELU (approximate 'none' or 'tanh'), Mish."""
    if spec is None:
        return Activation.none()
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        try:
            return _BY_NAME[spec.lower()]
        except KeyError:
            raise ValueError(
                f"activation must be one of {sorted(_BY_NAME)} or an Activation, got {spec!r}"
            ) from None
    instance = not isinstance(spec, type)
    name = (type(spec) if instance else spec).__name__
    if name == "Hardtanh" and instance:
        return Activation.clamp(spec.min_val, spec.max_val)
    if name == "LeakyReLU" and instance:
        return Activation.leaky_relu(spec.negative_slope)
    if name == "ELU" and instance:
        return Activation.elu(spec.alpha)
    if name == "GELU" and instance and spec.approximate == "tanh":
        return _BY_NAME["gelu_tanh"]
    if name in _MODULES:
        return _BY_NAME[_MODULES[name]]
    raise ValueError(
        f"unsupported activation {spec!r}: use ReLU, ReLU6, Hardtanh, LeakyReLU, ELU, Hardswish, Hardsigmoid, "
        "SiLU, Sigmoid, Tanh, GELU, Mish or an Activation"
    )
