"""The graph IR (minimal stand-in with the design's fields, replaced by the full module)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

__all__ = ["Graph", "Node", "TensorSpec", "VERSION"]

VERSION = 1
AttrValue = Union[int, float, str, "list[int]", "list[float]"]


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]


@dataclass
class Node:
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    name: str = ""


@dataclass
class Graph:
    inputs: list[TensorSpec]
    outputs: list[str]
    nodes: list[Node]
    constants: dict[str, Any] = field(default_factory=dict)
    dynamic_batch: bool = False
    version: int = VERSION

    def validate(self) -> None:
        for c in self.constants.values():
            assert isinstance(c, np.ndarray) and c.dtype == np.float32
