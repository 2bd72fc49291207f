"""convert(model, example_inputs): an inference copy of a model on pyprune's graph engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pyprune.capture import reference, segments
from pyprune.capture.choose import PYPRUNE, choose, separable_supported, settle, time_call
from pyprune.capture.export import CaptureError, capture
from pyprune.capture.lower import lower
from pyprune.capture.optimize import optimize
from pyprune.capture.report import ConversionReport, node_reports
from pyprune.capture.rounding import ROUNDING_FACTOR, float64_outputs, times_float32_rounding
from pyprune.capture.structures import arguments_structure
from pyprune.modes import copy_model
from pyprune.nn.generated_source import released_with_result
from pyprune.nn.sparse_policy import SparsePolicy

__all__ = ["CaptureError", "ConversionError", "ConversionReport", "convert"]


# Ops whose result depends on which entries are the largest (beside those that lower to topk).
_SELECTING = {"max_unpool2d", "max_unpool3d", "argmax", "argmin", "sort", "argsort"}

class ConversionError(RuntimeError):
    """The converted model's output differs from the original's."""


@dataclass(frozen=True)
class _Options:
    fuse_separable: bool
    sparse: SparsePolicy | None
    repeats: int = 5


def _as_tuple(example_inputs: Any) -> tuple:
    return example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)


def _convert_whole(model: nn.Module, inputs: tuple, options: _Options, prefix: str = "") -> tuple[nn.Module, ConversionReport]:
    """The model captured whole (CaptureError if torch.export cannot), lowered, optimised, its
    nodes placed by measurement, as an fx module of engine segments and torch calls."""
    captured = capture(model, inputs)
    tensors = segments.flat_inputs(inputs)
    low = lower(captured.program, tensors)
    optimize(low, separable=options.fuse_separable and separable_supported())
    env = reference.evaluate(low.graph, tensors, low.calls)
    choices = choose(low, env, sparse=options.sparse, repeats=options.repeats)
    shapes = {name: tuple(v.shape) for name, v in env.items() if isinstance(v, torch.Tensor)}
    module = segments.build(low, {k: c.runs == PYPRUNE for k, c in choices.items()}, shapes)
    batch = "a dynamic batch" if captured.dynamic_batch else f"a static batch ({captured.dynamic_failure})"
    report = ConversionReport(node_reports(low, choices, module, env, repeats=options.repeats, prefix=prefix),
                              capture=f"{type(model).__name__} whole, {batch}, in {captured.seconds:.2f} s")
    nested = arguments_structure(inputs)  # lists, dicts or numbers among the arguments
    if nested is not None:
        module = segments.StructuredInputs(module, nested)
    return module, report


class _Inputs:
    """The inputs each submodule saw in one eager run: usable when every call passed the same
    shapes of tensors, positionally."""

    def __init__(self, model: nn.Module, inputs: tuple) -> None:
        self.seen: dict[int, tuple | None] = {}
        hooks = [m.register_forward_pre_hook(self._hook(m), with_kwargs=True) for m in model.modules()]
        try:
            with torch.no_grad():  # the recorded inputs may be captured: no inference tensors
                model(*inputs)
        finally:
            for h in hooks:
                h.remove()

    def _hook(self, module: nn.Module) -> Any:
        def record(_: nn.Module, args: tuple, kwargs: dict) -> None:
            usable = not kwargs and args and all(isinstance(a, torch.Tensor) for a in args)
            args = tuple(a.clone() for a in args) if usable else None
            before = self.seen.get(id(module), args)
            same = before is not None and args is not None and [a.shape for a in before] == [a.shape for a in args]
            self.seen[id(module)] = before if same else None

        return record

    def called(self, module: nn.Module) -> bool:
        return id(module) in self.seen

    def of(self, module: nn.Module) -> tuple | None:
        return self.seen.get(id(module))


def _convert_parts(model: nn.Module, inputs: tuple, failure: CaptureError, options: _Options) -> tuple[nn.Module, ConversionReport]:
    """The largest submodules torch.export captures (tried from the top down, each on the inputs
    it saw in one eager run) are converted in place; the rest of the model stays torch."""
    seen = _Inputs(model, inputs)
    report = ConversionReport(capture=f"in parts: {failure}")
    converted = []

    def visit(parent: nn.Module, prefix: str) -> None:
        for name, child in list(parent.named_children()):
            path = prefix + name
            args = seen.of(child)
            if args is not None:
                try:
                    fast, part = _convert_whole(child, args, options, prefix=path + ".")
                except CaptureError as e:
                    report.not_captured.append((path, str(e)))
                else:
                    setattr(parent, name, fast)
                    try:
                        with torch.no_grad():
                            model(*inputs)
                    except Exception as e:  # the model reads something of the submodule beyond calling it
                        setattr(parent, name, child)
                        report.not_captured.append((path, f"the converted submodule does not fit its parent: {e}"))
                    else:
                        report.nodes += part.nodes
                        converted.append(path)
                        continue
            elif seen.called(child):
                report.not_captured.append((path, "called with other than the same tensor shapes each time"))
            visit(child, path + ".")  # containers (ModuleList, ...) are never called themselves

    visit(model, "")
    if not converted:
        raise CaptureError(f"{failure}; and no submodule could be captured either")
    report.capture += f"; converted {', '.join(converted)}"
    report.not_captured = [(p, why) for p, why in report.not_captured
                           if not any(p == c or p.startswith(c + ".") for c in converted)]
    return model, report


def convert(
    model: nn.Module,
    example_inputs: Any,
    *,
    fuse_separable: bool = True,
    sparse: SparsePolicy | None = SparsePolicy(),
    rtol: float = 1e-3,
    atol: float = 1e-4,
    verbose: bool = False,
) -> nn.Module:
    """An inference copy of `model` (left untouched) on pyprune's graph engine.

    The model is captured with torch.export (any batch size when it allows, else the example's),
    lowered to pyprune's operator set, optimised (BatchNorm folded, activations, residual adds
    and TensorFlow-style padding fused into the convolutions, adjacent depthwise -> pointwise
    pairs fused when `fuse_separable`) and each convolution and linear layer put on its fastest
    candidate measured on this machine: pyprune's dense, depthwise or sparse kernels (sparse
    ones when the `sparse` SparsePolicy allows; None never) or torch itself. The result is a
    torch.fx module in which runs of engine nodes are EngineSegments and the rest torch calls.
    If torch.export cannot capture the whole model, its largest capturable submodules are
    converted in place and the rest stays torch.

    The result's output is checked against the original's on `example_inputs`: ConversionError
    if they differ beyond rtol/atol, unless the difference is within 10x the original's own
    float32 rounding, measured against the model run in float64 (where outputs cancel, as in
    deep random-init nets; the report's `rounding` says so). Inputs must keep the example's
    shapes (the batch may vary when the capture allowed it); arguments may be lists, tuples and
    dicts of tensors, and numbers or flags, which keep the example's values. The report is the result's
    `conversion_report` (printed with verbose=True). CaptureError (a ValueError) when nothing
    of the model can be captured; TypeError for a model or input of floats other than float32;
    ValueError for a `sparse` policy whose layers name a module the model does not have.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(model, torch.jit.ScriptModule):  # neither torch.export nor the parts' hooks take one
        raise CaptureError(f"torch.export cannot capture a TorchScript {type(model).__name__}: convert the module it "
                           "was scripted or traced from")
    _check_float32(model, _as_tuple(example_inputs))
    unknown = sorted(set(sparse.layers if sparse is not None else ()) - dict(model.named_modules()).keys())
    if unknown:  # a misspelt layer would keep the measured choice silently
        raise ValueError(f"the sparse policy's layers name {unknown[:5]}, which the model does not have")
    return released_with_result(lambda: _convert(model, _as_tuple(example_inputs), _Options(fuse_separable, sparse),
                                                 rtol, atol, verbose))


def _check_float32(model: nn.Module, inputs: tuple) -> None:
    """pyprune's kernels compute in float32: a model or input of other floats is refused, naming it."""
    tensors = [(f"example input {k}", x) for k, x in enumerate(segments.flat_inputs(inputs))]
    for what, t in [*tensors, *model.named_parameters()]:
        if t.is_floating_point() and t.dtype != torch.float32:
            raise TypeError(f"convert runs float32 models and inputs on pyprune's kernels: {what} is {t.dtype} "
                            "(convert model.float() on float32 inputs)")


def _convert(model: nn.Module, inputs: tuple, options: _Options, rtol: float, atol: float, verbose: bool) -> nn.Module:
    original = copy_model(model).eval()
    work = copy_model(model).eval()
    with torch.no_grad():
        try:
            fast, report = _convert_whole(work, inputs, options)
        except CaptureError as failure:
            fast, report = _convert_parts(work, inputs, failure, options)
    with torch.inference_mode():
        want, got = original(*inputs), fast(*inputs)
        try:
            report.max_abs_error = _max_difference(got, want, rtol, atol)
        except ConversionError as e:
            exact = float64_outputs(original, inputs)
            times = None if exact is None else times_float32_rounding(got, want, exact, atol)
            if times is not None and times <= ROUNDING_FACTOR:
                report.max_abs_error = _max_difference(got, want, rtol, atol, check=False)
                report.rounding = (f"beyond rtol/atol where the output cancels, within {times:.2g}x the original's "
                                   "own float32 rounding (against the model run in float64)")
            else:
                raise _mismatch(e, times, report) from None
        report.original_seconds = time_call(lambda: original(*inputs), 3)
        settle()
        report.converted_seconds = time_call(lambda: fast(*inputs), 3)
    fast.conversion_report = report
    if verbose:
        print(report)
    return fast


def _mismatch(error: ConversionError, times: float | None, report: ConversionReport) -> ConversionError:
    """The error, saying how it compares with the original's rounding and whether selected
    entries can explain it."""
    text = str(error)
    if times is not None:
        text += f", {times:.3g}x the original's own float32 rounding (against the model run in float64)"
    if any(n.became.split()[0] == "topk" or n.was.split()[0] in _SELECTING for n in report.nodes):
        text += ("; it selects entries (topk, sort, argmax, max_unpool2d's positions), and values that differ by "
                 "rounding alone can be chosen differently where they (nearly) tie")
    return ConversionError(text)


def _max_difference(got: Any, want: Any, rtol: float, atol: float, check: bool = True) -> float:
    """Largest absolute difference over (nested) tensor outputs; raises ConversionError for
    another structure or shape, and (when `check`) beyond the tolerances."""
    if isinstance(want, torch.Tensor):
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            raise ConversionError("the converted model's output has another shape than the original's")
        diff = (got - want).abs()
        allowed = atol + rtol * want.abs()
        if check and bool((diff > allowed).any()):
            raise ConversionError(
                f"the converted model's output differs from the original's by up to {diff.max().item():.3g}"
            )
        return float(diff.max()) if diff.numel() else 0.0
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            raise ConversionError("the converted model's output has another structure than the original's")
        return max([_max_difference(g, w, rtol, atol, check) for g, w in zip(got, want)] + [0.0])
    if isinstance(want, dict):
        return max([_max_difference(got[k], want[k], rtol, atol, check) for k in want] + [0.0])
    return 0.0
