"""How a model's arguments and outputs are nested around the graph's flat tensors: a list of
frames, a dict of images, a detector's (predictions, [feature maps]). Plain JSON, torch-free:

    "tensor"                       the graph's next input or output, in order
    null                           None
    {"value": 2.0}                 a number, flag or string the model took (fixed by the capture)
    {"list": [...]}, {"tuple": [...]}
    {"dict": [[key, ...], ...]}    keys are strings or ints, in the model's order

ir.py validates a graph's structures (bounds, keys, one "tensor" per input or output).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["TENSOR", "describe", "flatten", "unflatten"]

TENSOR = "tensor"
_SEQUENCES = {"list": list, "tuple": tuple}


def unflatten(tree: Any, leaves: Sequence[Any]) -> Any:
    """The nested value of `tree` holding `leaves` (as many as its tensors) in order."""
    items = iter(leaves)

    def build(node: Any) -> Any:
        if node == TENSOR:
            return next(items)
        if node is None:
            return None
        [(kind, contents)] = node.items()
        if kind == "value":
            return contents
        if kind == "dict":
            return {key: build(child) for key, child in contents}
        return _SEQUENCES[kind](build(child) for child in contents)

    return build(tree)


def flatten(tree: Any, value: Any) -> list[Any]:
    """The tensors (arrays) of `value`, given as `tree` says, in the graph's order. A list and a
    tuple stand for each other; a dict's keys may come in any order. ValueError naming both
    structures when `value` has another, or another number or flag than the capture's."""
    leaves: list[Any] = []

    def walk(node: Any, given: Any) -> bool:
        if node == TENSOR:
            leaves.append(given)
            return hasattr(given, "shape")
        if node is None:
            return given is None
        [(kind, contents)] = node.items()
        if kind == "value":
            return type(given) is type(contents) and given == contents
        if kind == "dict":
            return isinstance(given, Mapping) and set(given) == {k for k, _ in contents} \
                and all(walk(child, given[k]) for k, child in contents)
        return isinstance(given, (list, tuple)) and len(given) == len(contents) \
            and all(walk(child, g) for child, g in zip(contents, given))

    if not walk(tree, value):
        raise ValueError(f"the arguments are {describe(_structure_of(value))}, but the model was captured for "
                         f"{describe(tree)}")
    return leaves


def describe(tree: Any) -> str:
    """A short text of a structure: (tensor, {rgb: tensor, aux: [tensor, tensor]}, 2)."""
    if tree == TENSOR:
        return TENSOR
    if tree is None:
        return "None"
    [(kind, contents)] = tree.items()
    if kind == "value":
        return repr(contents)
    if kind == "dict":
        return "{" + ", ".join(f"{k}: {describe(child)}" for k, child in contents) + "}"
    inside = ", ".join(describe(child) for child in contents)
    return f"[{inside}]" if kind == "list" else f"({inside}{',' if len(contents) == 1 else ''})"


def _structure_of(value: Any) -> Any:
    """The structure a given value has (arrays as tensors), to describe it."""
    if hasattr(value, "shape"):
        return TENSOR
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {"dict": [[k, _structure_of(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [_structure_of(v) for v in value]}
    return {"value": value}
