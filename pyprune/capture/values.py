"""What the lowering's builders return or raise: a Ref to a value computed at run time, MISSING
for an output nothing uses, Unsupported for a node the operator set does not take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ref:
    """A value computed at run time: the tensor (or size) named `name`; `size` is a size's
    symbolic expression."""

    name: str
    size: Any = None


class Unsupported(Exception):
    """A node the operator set does not take: the message says why."""


class _Missing:
    """An output of a lowered op that nothing uses (e.g. max_pool2d's indices)."""


MISSING = _Missing()
