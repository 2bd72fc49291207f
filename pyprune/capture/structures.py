"""A model's arguments and outputs as structures of the graph (graph/structure.py's JSON), from
the pytree specs torch.export flattens them by."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils._pytree import TreeSpec, tree_flatten

from pyprune.graph.structure import TENSOR

__all__ = ["arguments_structure", "outputs_structure", "value_leaf"]


def value_leaf(value: Any) -> Any:
    """The structure of one leaf: a tensor, None, or a number, flag or string."""
    if isinstance(value, torch.Tensor):
        return TENSOR
    if value is None:
        return None
    if isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise ValueError(f"a value of type {type(value).__name__} cannot be stored in a graph")


def _tree(spec: TreeSpec, leaves: Iterator[Any]) -> Any:
    """The structure of `spec` whose leaves (already structures) come from `leaves`."""
    if spec.is_leaf():
        return next(leaves)
    children = [_tree(child, leaves) for child in spec.children()]
    kind = spec.type if isinstance(spec.type, type) else None  # a named tuple's is collections.namedtuple
    if kind is not None and issubclass(kind, dict):
        keys = list(spec.context)
        if not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in keys):
            raise ValueError(f"a dict with keys {keys[:5]} cannot be stored in a graph (only strings and ints)")
        return {"dict": [[k, child] for k, child in zip(keys, children)]}
    # a named tuple, or another type torch flattens (a dataclass of outputs), by its entries
    return {"list" if kind is not None and issubclass(kind, list) else "tuple": children}


def arguments_structure(arguments: tuple) -> Any:
    """The structure of a model's arguments, or None when they are tensors alone (the graph's
    inputs as they are)."""
    leaves, spec = tree_flatten(arguments)
    if all(isinstance(x, torch.Tensor) for x in leaves) and all(child.is_leaf() for child in spec.children()):
        return None
    return _tree(spec, map(value_leaf, leaves))


def outputs_structure(spec: TreeSpec, leaves: list[Any]) -> Any:
    """The structure of a model's outputs (torch.export's out_spec) whose leaves are `leaves`
    (structures: "tensor" for each of the graph's outputs, or a fixed value), or None when it is
    one tensor or a tuple of two or more (the graph's outputs as they are)."""
    flat = all(leaf == TENSOR for leaf in leaves)
    if flat and (spec.is_leaf() or (spec.type is tuple and len(spec.children()) > 1
                                    and all(child.is_leaf() for child in spec.children()))):
        return None
    return _tree(spec, iter(leaves))
