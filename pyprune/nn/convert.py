"""convert(model, example_inputs): an inference copy of a model on pyprune's kernels."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from pyprune.activation import Activation
from pyprune.nn.conv import Conv2d, PointwiseConv2d
from pyprune.nn.convspec import ConvSpec
from pyprune.nn.depthwise import DepthwiseConv2d
from pyprune.nn.kernel_choice import DenseKernel, dense_kernel
from pyprune.nn.separable import SeparableConv2d
from pyprune.nn.sparse import SparseConv2d
from pyprune.nn.sparse_policy import SparsePolicy

__all__ = ["ConversionError", "ConversionReport", "convert"]


class ConversionError(RuntimeError):
    """The converted model's output differs from the original's."""


@dataclass
class ConversionReport:
    """Per convolution: what it became, or why it stayed torch."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (layer, original, result)
    max_abs_error: float = 0.0

    def add(self, name: str, original: str, result: str) -> None:
        self.rows.append((name, original, result))

    def __str__(self) -> str:
        width = max([len(r[0]) for r in self.rows] + [5])
        lines = [f"{'layer':<{width}}  {'was':<28}  became"]
        lines += [f"{name:<{width}}  {was:<28}  {became}" for name, was, became in self.rows]
        lines.append(f"max |converted - original| on the example inputs: {self.max_abs_error:.3g}")
        return "\n".join(lines)


_RELU_FUNCTIONS = {F.relu, torch.relu}
_RELU6_FUNCTIONS = {F.relu6}


def _activation_of(node: fx.Node, modules: dict[str, nn.Module]) -> Activation | None:
    """The clamp a node applies to its single input, if it is a ReLU, ReLU6 or Hardtanh."""
    if node.op == "call_module":
        m = modules[node.target]
        if isinstance(m, (nn.ReLU, nn.ReLU6)):
            return Activation.relu() if isinstance(m, nn.ReLU) else Activation.relu6()
        if isinstance(m, nn.Hardtanh):
            return Activation.clamp(m.min_val, m.max_val)
    elif node.op == "call_function" and len(node.args) == 1:
        if node.target in _RELU_FUNCTIONS:
            return Activation.relu()
        if node.target in _RELU6_FUNCTIONS:
            return Activation.relu6()
    elif node.op == "call_method" and node.target == "relu" and len(node.args) == 1:
        return Activation.relu()
    return None


def _only_user(node: fx.Node) -> fx.Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _describe(conv: nn.Conv2d) -> str:
    k, s, g = conv.kernel_size[0], conv.stride[0], conv.groups
    return f"Conv2d {conv.in_channels}->{conv.out_channels} k{k} s{s}" + (f" g{g}" if g > 1 else "")


def _fast_module(name: str, spec: ConvSpec, activation: Activation, sparse: SparsePolicy | None) -> nn.Module:
    """The fastest pyprune module for this convolution (ValueError if none takes it)."""
    block = sparse.choose(name, spec) if sparse is not None else None
    if block is not None:
        return SparseConv2d(spec.weight, spec.bias, spec.stride, spec.padding, activation, block)
    kind = dense_kernel(spec)
    if kind is DenseKernel.DEPTHWISE:
        return DepthwiseConv2d(spec.weight, spec.bias, spec.stride, spec.padding, activation)
    if kind is DenseKernel.POINTWISE:
        return PointwiseConv2d(spec.weight, spec.bias, activation)
    return Conv2d(spec.weight, spec.bias, spec.stride, spec.padding, spec.groups, activation)


def _swap_convolutions(gm: fx.GraphModule, report: ConversionReport, sparse: SparsePolicy | None) -> None:
    """conv [-> BatchNorm2d] [-> ReLU/ReLU6/Hardtanh] chains become one pyprune module."""
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], nn.Conv2d):
            continue
        conv = modules[node.target]
        chain = [node]
        bn = None
        user = _only_user(node)
        if user is not None and user.op == "call_module" and isinstance(modules[user.target], nn.BatchNorm2d) \
                and modules[user.target].track_running_stats:
            bn = modules[user.target]
            chain.append(user)
            user = _only_user(user)
        activation = _activation_of(user, modules) if user is not None else None
        if activation is not None:
            chain.append(user)
        try:
            fast = _fast_module(node.target, ConvSpec.from_torch(conv, bn), activation or Activation.none(), sparse)
        except ValueError as e:
            report.add(node.target, _describe(conv), f"kept (torch): {e}")
            continue
        gm.add_submodule(node.target, fast)
        modules[node.target] = fast
        chain[-1].replace_all_uses_with(node)
        for folded in reversed(chain[1:]):
            gm.graph.erase_node(folded)
        fused = "".join([" + BatchNorm2d" if bn else "", f" + {activation}" if activation else ""])
        became = type(fast).__name__
        if isinstance(fast, SparseConv2d):
            became += f" block {fast.block}, density {fast.density:.2f}"
        report.add(node.target, _describe(conv), became + (f" (folded{fused})" if fused else ""))


def _fuse_separable(gm: fx.GraphModule, report: ConversionReport) -> None:
    """A depthwise module whose only consumer is a pointwise module becomes SeparableConv2d."""
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or type(modules[node.target]) is not DepthwiseConv2d:
            continue
        user = _only_user(node)
        if user is None or user.op != "call_module" or type(modules[user.target]) is not PointwiseConv2d:
            continue
        gm.add_submodule(node.target, SeparableConv2d(modules[node.target], modules[user.target]))
        user.replace_all_uses_with(node)
        gm.graph.erase_node(user)
        report.add(node.target, "DepthwiseConv2d + PointwiseConv2d", f"SeparableConv2d (with {user.target})")


def _as_tuple(example_inputs: Any) -> tuple:
    return example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)


def convert(
    model: nn.Module,
    example_inputs: Any,
    *,
    fuse_separable: bool = True,
    sparse: SparsePolicy | None = SparsePolicy(),
    rtol: float = 1e-3,
    atol: float = 1e-4,
    verbose: bool = False,
) -> fx.GraphModule:
    """An inference copy of `model` (left untouched) on pyprune's kernels.

    BatchNorm2d is folded into the convolution before it, ReLU/ReLU6 are fused, and every
    convolution pyprune takes becomes its fastest module (depthwise, pointwise, adjacent
    depthwise -> pointwise pairs as one fused SeparableConv2d, dense or grouped otherwise);
    pruned convolutions sparse enough for the `sparse` policy become SparseConv2d (see
    SparsePolicy; None keeps every convolution dense); everything else stays torch. The result's output is checked against the original's on
    `example_inputs`: ConversionError if they differ beyond rtol/atol. The per-layer report is
    the result's `conversion_report` (printed with verbose=True).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    inputs = _as_tuple(example_inputs)
    reference = copy.deepcopy(model).eval()
    try:
        gm = fx.symbolic_trace(copy.deepcopy(model).eval())
    except Exception as e:  # torch.fx raises many kinds on untraceable code
        raise ValueError(f"convert needs a model torch.fx can trace; tracing failed: {e}") from e
    report = ConversionReport()
    with torch.no_grad():
        _swap_convolutions(gm, report, sparse)
        if fuse_separable:
            _fuse_separable(gm, report)
        gm.graph.lint()
        gm.recompile()
        gm.delete_all_unused_submodules()
        with torch.inference_mode():
            want, got = reference(*inputs), gm(*inputs)
    error = _max_difference(got, want, rtol, atol)
    report.max_abs_error = error
    gm.conversion_report = report
    if verbose:
        print(report)
    return gm


def _max_difference(got: Any, want: Any, rtol: float, atol: float) -> float:
    """Largest absolute difference over (nested) tensor outputs; raises ConversionError beyond
    the tolerances."""
    if isinstance(want, torch.Tensor):
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            raise ConversionError("the converted model's output has another shape than the original's")
        diff = (got - want).abs()
        allowed = atol + rtol * want.abs()
        if bool((diff > allowed).any()):
            raise ConversionError(
                f"the converted model's output differs from the original's by up to {diff.max().item():.3g}"
            )
        return float(diff.max()) if diff.numel() else 0.0
    if isinstance(want, (tuple, list)):
        return max([_max_difference(g, w, rtol, atol) for g, w in zip(got, want)] + [0.0])
    if isinstance(want, dict):
        return max([_max_difference(got[k], want[k], rtol, atol) for k in want] + [0.0])
    return 0.0
