"""What convert made of a model, node by node: what each node was, what it became, where it
runs and why, its measured time and multiply-accumulates; and the totals."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch
import torch.fx as fx

from pyprune.capture import reference
from pyprune.capture.choose import PYPRUNE, Choice, time_call
from pyprune.capture.lower import Lowered
from pyprune.capture.segments import EngineSegment
from pyprune.graph import ir

__all__ = ["ConversionReport", "NodeReport", "node_reports"]


@dataclass
class NodeReport:
    module: str  # the module path it ran in ("" for the model's own forward)
    was: str  # the ATen ops it replaces, e.g. "conv2d + batch_norm + relu_"
    became: str  # the operator-set node, e.g. "conv2d 3x3 s2 + relu"
    runs: str  # "pyprune" or "torch"
    why: str
    kernel: str = ""  # what runs: the engine's description, or "torch"
    seconds: float | None = None  # median of its runs on the example inputs
    candidates: dict[str, float] = field(default_factory=dict)  # measured alternatives, seconds
    macs: int = 0

    @property
    def detail(self) -> str:
        """What runs (on pyprune) or why it stays torch, and what was measured."""
        text = f"{self.kernel}; {self.why}" if self.runs == PYPRUNE else self.why
        if self.candidates:
            text += " (" + ", ".join(f"{k} {v * 1e3:.3f}" for k, v in self.candidates.items()) + ")"
        return text


@dataclass
class ConversionReport:
    """Printing it gives a table and the totals."""

    nodes: list[NodeReport] = field(default_factory=list)
    capture: str = ""  # how the model was captured
    not_captured: list[tuple[str, str]] = field(default_factory=list)  # (module path, why) left whole in torch
    max_abs_error: float = 0.0
    rounding: str = ""  # why a difference beyond convert's tolerances was accepted
    original_seconds: float | None = None  # the original model in torch, median
    converted_seconds: float | None = None

    def _total(self, runs: str) -> float:
        return sum(n.seconds or 0.0 for n in self.nodes if n.runs == runs)

    @property
    def pyprune_seconds(self) -> float:
        return self._total(PYPRUNE)

    @property
    def torch_seconds(self) -> float:
        return sum(n.seconds or 0.0 for n in self.nodes if n.runs != PYPRUNE)

    @property
    def pyprune_macs(self) -> float:
        """The fraction of the captured multiply-accumulates pyprune runs."""
        total = sum(n.macs for n in self.nodes)
        return sum(n.macs for n in self.nodes if n.runs == PYPRUNE) / total if total else 0.0

    def __str__(self) -> str:
        lines = [f"capture: {self.capture}"] if self.capture else []
        header = ("module", "was", "became", "runs", "ms", "what runs / why; measured candidates in ms")
        rows = [(n.module or "(forward)", n.was, n.became, n.runs, "" if n.seconds is None else f"{n.seconds * 1e3:.3f}",
                 n.detail) for n in self.nodes]
        widths = [min(max([len(r[i]) for r in rows] + [len(header[i])]), 44) for i in range(5)]
        for r in [header, *rows]:
            lines.append("  ".join(f"{r[i]:<{widths[i]}}" for i in range(5)) + "  " + r[5])
        on = [n for n in self.nodes if n.runs == PYPRUNE]
        lines.append(f"pyprune: {len(on)} nodes, {self.pyprune_macs:.1%} of the MACs, {self.pyprune_seconds * 1e3:.3f} ms; "
                     f"torch: {len(self.nodes) - len(on)} nodes, {self.torch_seconds * 1e3:.3f} ms")
        if self.original_seconds and self.converted_seconds:
            lines.append(f"whole model: torch {self.original_seconds * 1e3:.3f} ms, converted "
                         f"{self.converted_seconds * 1e3:.3f} ms ({self.original_seconds / self.converted_seconds:.2f}x)")
        lines += [f"left in torch: {path or '(forward)'}: {why}" for path, why in self.not_captured]
        lines.append(f"max |converted - original| on the example inputs: {self.max_abs_error:.3g}"
                     + (f" ({self.rounding})" if self.rounding else ""))
        return "\n".join(lines)


def _short(aten: str) -> str:
    """aten.conv2d.default -> conv2d"""
    parts = aten.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "aten" else aten


def _activation(attrs: Mapping[str, Any], prefix: str = "") -> str:
    kind = attrs.get(f"{prefix}activation", "none")
    if kind == "clamp":
        return f" + clamp({attrs[prefix + 'activation_min']:g}, {attrs[prefix + 'activation_max']:g})"
    if kind in ("leaky_relu", "elu"):
        return f" + {kind}({attrs.get(prefix + 'activation_alpha', 0.01 if kind == 'leaky_relu' else 1.0):g})"
    return "" if kind == "none" else f" + {kind}"


def _conv(weight: Any, attrs: Mapping[str, Any]) -> str:
    kh, kw = weight.shape[2:]
    groups = attrs.get("groups", 1)
    text = f"conv2d {kh}x{kw}"
    stride = attrs.get("stride", [1, 1])
    if list(stride) != [1, 1]:
        text += f" s{stride[0]}" if stride[0] == stride[1] else f" s{stride[0]}x{stride[1]}"
    if list(attrs.get("dilation", [1, 1])) != [1, 1]:
        text += f" d{attrs['dilation'][0]}"
    if groups > 1:
        text += " depthwise" if groups == weight.shape[0] and weight.shape[1] == 1 else f" g{groups}"
    return text


def became(node: ir.Node, graph: ir.Graph) -> str:
    """The node in a few words: op, shape-defining attributes, what it fused."""
    a, c = node.attrs, graph.constants
    if node.op == "conv2d" and node.inputs[1] in c:
        if a.get("algorithm") == "separable":
            text = _conv(c[node.inputs[1]], a) + _activation(a, "depthwise_") + " -> conv2d 1x1"
            residual = len(node.inputs) > 5
        else:
            text = _conv(c[node.inputs[1]], a)
            residual = len(node.inputs) > 3
        text += (" + residual" if residual else "") + _activation(a)
        if a.get("algorithm") == "sparse":
            weight = c[node.inputs[1]]
            text += f", sparse block {a['block']}, density {np.count_nonzero(weight) / weight.size:.2f}"
        return text
    if node.op == "linear" and node.inputs[1] in c:
        out, inp = c[node.inputs[1]].shape
        return f"linear {inp}->{out}" + _activation(a)
    if node.op in ("unary", "reduce"):
        return f"{node.op} {a['kind']}"
    return node.op + _activation(a)


def macs(node: ir.Node, graph: ir.Graph, env: Mapping[str, Any]) -> int:
    """Multiply-accumulates of a convolution, linear layer, matmul or attention on the example
    inputs."""
    out = env.get(node.outputs[0])
    if not isinstance(out, torch.Tensor):
        return 0
    w = graph.constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
    if node.op == "conv2d" and w is not None:
        if node.attrs.get("algorithm") == "separable":
            pw = graph.constants[node.inputs[3]]
            pixels = out.numel() // out.shape[1]
            return pixels * (w.shape[0] * math.prod(w.shape[1:]) + pw.shape[0] * pw.shape[1])
        return out.numel() * math.prod(w.shape[1:])
    if node.op == "linear" and w is not None:
        return out.numel() * w.shape[1]
    if node.op == "matmul":
        return out.numel() * env[node.inputs[0]].shape[-1]
    if node.op == "attention":  # (batch, L, Ev) rows of S scores over E features, then of Ev values
        keys, features = (env[t] if t in env else graph.constants[t] for t in node.inputs[1::-1])
        keys, features = keys.shape[-1], features.shape[-1]
        return out.numel() // max(1, out.shape[-1]) * keys * (features + out.shape[-1])
    return 0


def node_reports(low: Lowered, choices: Mapping[str, Choice], module: fx.GraphModule, env: Mapping[str, Any],
                 *, repeats: int = 5, prefix: str = "") -> list[NodeReport]:
    """One NodeReport per node of `low` (in the order they run in `module`), timed on `env`."""
    timed: dict[str, tuple[str, float]] = {}  # first output -> (kernel, seconds) on the engine
    for segment in module.modules():
        if isinstance(segment, EngineSegment):
            inputs = [env[spec.name].contiguous() for spec in segment.graph.inputs]
            described = segment.engine.describe()
            profiled = segment.engine.profile(*inputs, repeats=repeats)
            for node, info, t in zip(segment.graph.nodes, described, profiled):
                timed[node.outputs[0]] = (info.kernel, t.seconds)
    reports = []
    for node in low.graph.nodes:
        key = node.outputs[0]
        choice = choices[key]
        origins = low.origins.get(key, [])
        path = origins[0].module if origins else node.name
        if key in timed:
            kernel, seconds = timed[key]
        else:
            inputs = [env[t] for t in node.inputs]
            with torch.inference_mode():
                seconds = time_call(lambda: reference.run_node(node, inputs, low.calls), repeats)
            kernel = "torch"
        reports.append(NodeReport(
            module=f"{prefix}{path}" if path else prefix.rstrip("."),
            was=" + ".join(_short(o.aten) for o in origins),
            became=became(node, low.graph) if key not in low.calls else _short(node.op),
            runs=choice.runs, why=choice.why, kernel=kernel, seconds=seconds, candidates=dict(choice.candidates),
            macs=macs(node, low.graph, env)))
    return reports
