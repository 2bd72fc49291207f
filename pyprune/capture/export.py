"""Capturing a model's inference graph with torch.export: with a dynamic batch when the model
allows it, else for the example's shapes."""

from __future__ import annotations

import builtins
import contextlib
import copy
import inspect
import io
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.fx as fx
from torch import nn
from torch.export import Dim, ExportedProgram
from torch.export.graph_signature import OutputKind
from torch.utils._pytree import tree_flatten, tree_map

from pyprune.capture.aliases import use_canonical_ops
from pyprune.capture.eager_types import EagerTypes
from pyprune.capture.size_values import SizeValues

__all__ = ["CaptureError", "Captured", "capture", "python_state_kept"]

# torch logs a traced program and its failing frame at ERROR level before raising; the
# CaptureError says why in one line instead.
_NOISY_LOGGERS = ("torch._subclasses.fake_tensor", "torch.fx.experimental.symbolic_shapes", "torch._dynamo",
                  "torch.export", "torch._export", "torch.fx.experimental.recording")


class CaptureError(ValueError):
    """torch.export could not capture the model: the message says why."""


@dataclass(frozen=True)
class Captured:
    """An exported program, whether any batch size runs it, and what capture cost."""

    program: ExportedProgram
    dynamic_batch: bool
    seconds: float
    # Why the dynamic-batch capture failed (None when it succeeded).
    dynamic_failure: str | None = None


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """torch's tracing without its log records and warnings."""
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        # torch.export prints the partial graph to stderr when tracing fails on data
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")  # tracing internals' deprecation notices
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def _batch_len() -> Iterator[None]:
    """len() of a tensor as its dim 0 itself while a dynamic batch is traced: Python's len() must
    return an int, so the batch it read (TinyViT's and MatchboxNet's B = len(x)) was fixed at the
    example's; the symbol keeps it free. Everything else gets the built-in len()."""
    original = builtins.len

    def length(obj: Any) -> Any:
        if isinstance(obj, torch.Tensor) and obj.dim() > 0:
            return obj.shape[0]
        return original(obj)

    builtins.len = length
    try:
        yield
    finally:
        builtins.len = original


def _why(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return f"{type(e).__name__}: {first}"[:500]


def _first_items(args: tuple) -> tuple:
    return tree_map(lambda a: a[:1] if isinstance(a, torch.Tensor) and a.dim() else a, args)


# What nn.Module keeps in a module's __dict__ itself; the rest is the model's own Python state.
_MODULE_INTERNALS = frozenset(vars(nn.Module()))


def _python_state(model: nn.Module) -> list[tuple[nn.Module, dict[str, Any]]]:
    """Every module's own attributes, lists, dicts and sets copied one level: what a forward
    that caches values computed from the input's size (detection anchors, grids) changes."""
    return [(m, {k: copy.copy(v) if isinstance(v, (list, dict, set)) else v
                 for k, v in vars(m).items() if k not in _MODULE_INTERNALS}) for m in model.modules()]


def _restore(state: list[tuple[nn.Module, dict[str, Any]]]) -> None:
    """Puts back the attributes _python_state saw, dropping those added since (a trace leaves
    its fake tensors in the caches it fills)."""
    for m, attrs in state:
        for k in [k for k in vars(m) if k not in _MODULE_INTERNALS and k not in attrs]:
            del m.__dict__[k]
        m.__dict__.update(attrs)


@contextlib.contextmanager
def python_state_kept(model: nn.Module) -> Iterator[None]:
    """The model's own Python state (what _python_state copies) as it was before, after the
    block: forwards run to probe the model leave no caches of their sizes in it."""
    state = _python_state(model)
    try:
        yield
    finally:
        _restore(state)


def _warm(model: nn.Module, args: tuple) -> None:
    """One eager forward, on the example's first items where the model takes them: a model that
    caches what it computes from the input's size on its first call (ultralytics' anchors) then
    holds a batch of one, which no trace below matches (a dynamic batch is traced as at least
    2), so the traces compute it rather than compare a cached batch with theirs and fix it."""
    try:
        model(*_first_items(args))
    except Exception:
        model(*args)


def _batched(args: tuple) -> tuple:
    """The example with a batch of 2 where it has 1: torch.export specialises dims of size 1."""
    return tree_map(lambda a: a.expand(2, *a.shape[1:]).clone()
                    if isinstance(a, torch.Tensor) and a.dim() and a.shape[0] == 1 else a, args)


def _batch_one_differs(model: nn.Module, program: ExportedProgram, args: tuple) -> str | None:
    """Why the dynamic capture is wrong for a batch of one, or None. Tracing assumes a dynamic
    batch is not 1, so a model that branches on a batch of one is captured for the other branch
    silently: run both on the example's first item to see. The program's module runs each op
    again, so a squeeze() that drops a batch of one matches there; the graph's own output
    shapes, its batch set to 1, keep that dim."""
    one = _first_items(args)
    with torch.no_grad():
        want, got = tree_flatten(model(*one))[0], tree_flatten(program.module()(*one))[0]
    same = len(want) == len(got) and all(_close(g, w) for g, w in zip(got, want))
    if not same:
        return "the model computes differently for a batch of one"
    traced = _output_shapes_at_one(program)
    if len(traced) == len(want) and any(isinstance(w, torch.Tensor) and t is not None and t != tuple(w.shape)
                                        for t, w in zip(traced, want)):
        return "the model's outputs have other shapes for a batch of one (a squeeze() of the batch)"
    return None


def _output_shapes_at_one(program: ExportedProgram) -> list[tuple[int, ...] | None]:
    """The shapes of the graph's user outputs with its batch symbol set to 1 (None: no tensor)."""
    outputs = tree_flatten(program.graph_module.graph.output_node().args[0])[0]
    kinds = [spec.kind for spec in program.graph_signature.output_specs]
    shapes = []
    for node, kind in zip(outputs, kinds):
        if kind != OutputKind.USER_OUTPUT:
            continue
        val = node.meta.get("val") if isinstance(node, fx.Node) else None
        shapes.append(tuple(_at_one(d) for d in val.shape) if isinstance(val, torch.Tensor) else None)
    return shapes


def _at_one(size: Any) -> int:
    if not isinstance(size, torch.SymInt):
        return int(size)
    expr = size.node.expr
    return int(expr.subs({symbol: 1 for symbol in expr.free_symbols}))


def _close(got: Any, want: Any) -> bool:
    if not isinstance(want, torch.Tensor) or not want.is_floating_point():
        return bool(torch.equal(got, want)) if isinstance(want, torch.Tensor) else bool(got == want)
    finite = want.nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
    scale = float(finite.abs().max()) if want.numel() else 0.0
    return got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-4, atol=1e-5 * scale, equal_nan=True))


def _batch_dims(model: nn.Module, args: tuple) -> dict[str, Any]:
    """torch.export's dynamic_shapes: dim 0 of every tensor argument, or tensor in a list, tuple
    or dict argument, is the one batch symbol, by forward's parameter names (a *args parameter
    takes a tuple)."""
    batch = Dim("batch", min=1)
    bound = inspect.signature(model.forward).bind(*args)
    return {name: tree_map(lambda a: {0: batch} if isinstance(a, torch.Tensor) else None, v)
            for name, v in bound.arguments.items()}


def capture(model: nn.Module, example_inputs: tuple) -> Captured:
    """torch.export.export(model, example_inputs, strict=False), first with dimension 0 of every
    tensor input dynamic (one batch symbol shared by all), then for the example's shapes; numbers
    read from tensors made of sizes are the example's (SizeValues), a cast to the type of a
    tensor's data is eager code's (EagerTypes), and ATen's aliases are the ops they name
    (use_canonical_ops).

    `model` must already be in eval mode (it is traced as it is). CaptureError when neither
    capture succeeds, with the reason of the static attempt."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    args = tuple(example_inputs)
    tensors = [a for a in tree_flatten(args)[0] if isinstance(a, torch.Tensor)]
    start = time.perf_counter()
    failure = None
    # Without autograd: a model whose caches were filled under torch.inference_mode (detection
    # anchors) cannot be traced with it.
    with quiet(), torch.no_grad():
        _warm(model, args)
        if tensors and all(t.dim() > 0 for t in tensors):
            try:
                shapes = _batch_dims(model, args)
                with python_state_kept(model), SizeValues(), EagerTypes(), _batch_len():
                    program = torch.export.export(model, _batched(args), dynamic_shapes=shapes, strict=False)
                with python_state_kept(model):
                    failure = _batch_one_differs(model, program, args)
                if failure is None:
                    return Captured(use_canonical_ops(program), True, time.perf_counter() - start)
            except Exception as e:  # torch.export raises many kinds
                failure = _why(e)
        else:
            failure = "an input has no batch dimension"
        try:
            with python_state_kept(model), SizeValues(), EagerTypes():
                program = torch.export.export(model, args, strict=False)
        except Exception as e:
            raise CaptureError(f"torch.export could not capture {type(model).__name__}: {_why(e)}") from e
    return Captured(use_canonical_ops(program), False, time.perf_counter() - start, failure)
