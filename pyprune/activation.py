"""Fused activations, expressed as the clamp every kernel applies to its output."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Activation", "as_activation"]


@dataclass(frozen=True)
class Activation:
    """Clamp the output to [min, max]: none, ReLU and ReLU6 are special cases."""

    min: float = -math.inf
    max: float = math.inf

    def __post_init__(self) -> None:
        if not self.min <= self.max:
            raise ValueError(f"activation min ({self.min}) must not exceed max ({self.max})")

    def __str__(self) -> str:
        for name, act in _BY_NAME.items():
            if act == self:
                return {"none": "none", "relu": "ReLU", "relu6": "ReLU6"}[name]
        return f"clamp({self.min:g}, {self.max:g})"

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


_BY_NAME = {"none": Activation.none(), "relu": Activation.relu(), "relu6": Activation.relu6()}


def as_activation(spec: Any) -> Activation:
    """Accepts None, an Activation, 'relu' / 'relu6' / 'none', or a torch ReLU, ReLU6 or
    Hardtanh module (or class)."""
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
    kind = spec if isinstance(spec, type) else type(spec)
    name = kind.__name__
    if name in ("ReLU", "ReLU6"):
        return _BY_NAME[name.lower()]
    if name == "Hardtanh" and not isinstance(spec, type):
        return Activation.clamp(spec.min_val, spec.max_val)
    raise ValueError(f"unsupported activation {spec!r}: use ReLU, ReLU6, Hardtanh or an Activation")
