"""Capturing and lowering small models for the capture tests, and checking a lowered graph
against the model through the reference executor."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch.utils._pytree import tree_flatten
from zoo import build

from pyprune.capture import reference
from pyprune.capture.export import capture
from pyprune.capture.lower import Lowered, lower


def lowered(model: torch.nn.Module, *inputs: torch.Tensor) -> Lowered:
    return lower(capture(model.eval(), inputs).program, inputs)


def assert_matches(low: Lowered, model: torch.nn.Module, *inputs: torch.Tensor, rtol: float = 1e-5) -> None:
    """The graph is one the engine takes (ir.Graph.validate) and computes what the model does on
    these inputs (relative to the largest output)."""
    low.graph.validate()
    with torch.no_grad():
        want = tree_flatten(model(*inputs))[0]
    got = reference.run(low.graph, list(inputs), low.calls)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        scale = float(w.abs().max()) if w.numel() else 1.0
        assert float((g - w).abs().max()) <= rtol * max(scale, 1e-6), float((g - w).abs().max())


def ops(low: Lowered) -> list[str]:
    return [n.op for n in low.graph.nodes]


def node(low: Lowered, op: str):
    found = [n for n in low.graph.nodes if n.op == op]
    assert len(found) == 1, ops(low)
    return found[0]


@lru_cache(maxsize=None)
def zoo_capture(name: str):
    """(model, input shape without the batch, Captured) of a zoo model, captured once per session
    from a batch-1 example."""
    model, shape = build(name)
    return model, shape, capture(model, (torch.zeros(1, *shape),))


def zoo_lowered(name: str) -> tuple[torch.nn.Module, tuple[int, ...], Lowered]:
    """A fresh lowering of a zoo model's (cached) capture."""
    model, shape, captured = zoo_capture(name)
    return model, shape, lower(captured.program, (torch.zeros(1, *shape),))
