"""Where and how each node runs: on pyprune's engine (for a convolution or linear layer, with
each algorithm that accepts it) or in torch, decided by measuring on the node's real input on
this machine. The fastest algorithm wins on the engine; torch takes the node where it is faster
by more than leaving the engine costs (torch_takes)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

import numpy as np
import torch

from pyprune import kernels
from pyprune.capture import reference
from pyprune.capture.lower import Lowered
from pyprune.graph import engine, ir
from pyprune.timing import medians_taking_turns

__all__ = ["Choice", "PYPRUNE", "TORCH", "choose", "node_graph", "separable_supported", "settle", "split_separable",
           "time_call", "time_calls", "torch_takes"]

TORCH = "torch"
PYPRUNE = "pyprune"


# What a node run by torch costs the pyprune nodes after it when torch has more than one thread:
# its idle threads spin for several milliseconds (measured: about 7 ms after a 2-thread call),
# taking one core of two from pyprune's threads.
TORCH_SPIN_SECONDS = 2e-3
# Torch takes a node from the engine only if it is faster by more than TORCH_MARGIN of the
# engine's time plus TORCH_BOUNDARY_SECONDS: a layer's timings move by 5-15 % on a shared machine,
# and a node in torch splits the graph (another engine call after it, its output outside the
# planned arena). MobileNetV1 at 1 thread, converted three times with torch taking any node it
# measured faster: 1, 2 and 4 pointwise layers went to torch by 0.5-9 %, and the converted model
# ran 1.04-1.10x the time of the same graph all on the engine.
TORCH_MARGIN = 0.1
TORCH_BOUNDARY_SECONDS = 20e-6
# A fused depthwise -> pointwise node replaces its two convolutions only where it measured faster
# than the two by more than this share of their time. MobileNetV1 converted at 2 threads with any
# margin: 5 of its 13 pairs fused on single measurements of 0.60-0.96x the pair's time (at 1
# thread the fused node measured 1.04-1.57x on every pair), and the model ran 1.06-1.10x the
# time of the same graph unfused.
FUSION_MARGIN = 0.1
# How long a measurement waits after torch's: twice that spin. (A 2-thread pyprune layer timed
# 0, 10 and 50 ms after a 2-thread torch convolution took 577, 551 and 680 us: longer pauses put
# pyprune's own threads to sleep and cost more than they save.)
TORCH_SETTLE_SECONDS = 15e-3


@dataclass
class Choice:
    """Where a node runs (PYPRUNE or TORCH) and why; for a measured node, every candidate's
    median seconds (the algorithm's name, "sparse block N", or "torch")."""

    runs: str
    why: str
    candidates: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        return min(self.candidates.values()) if self.candidates else None


def settle() -> None:
    """With more than one thread, waits until torch's threads, which spin for milliseconds after
    their last work, have gone to sleep: timed at once, pyprune's threads would share their
    cores with them (pyprune's own spin for a fraction of a millisecond)."""
    if kernels.get_num_threads() > 1 or torch.get_num_threads() > 1:
        time.sleep(TORCH_SETTLE_SECONDS)


def torch_takes(torch_seconds: float, engine_seconds: float) -> bool:
    """Whether a node torch runs in torch_seconds and the engine at best in engine_seconds runs
    in torch: faster by more than leaving the engine costs (TORCH_MARGIN, TORCH_BOUNDARY_SECONDS
    and, with several torch threads, TORCH_SPIN_SECONDS)."""
    spin = TORCH_SPIN_SECONDS if torch.get_num_threads() > 1 else 0.0
    return torch_seconds + spin + TORCH_BOUNDARY_SECONDS < (1 - TORCH_MARGIN) * engine_seconds


def _leaving_the_engine() -> str:
    spin = f", and {TORCH_SPIN_SECONDS * 1e3:g} ms for its spinning threads" if torch.get_num_threads() > 1 else ""
    return f"{TORCH_MARGIN:.0%} of the engine's time and {TORCH_BOUNDARY_SECONDS * 1e6:g} us{spin}"


def time_call(fn: Any, repeats: int) -> float:
    """Median seconds of fn() over `repeats` runs, after one untimed run."""
    return time_calls({"fn": fn}, repeats)["fn"]


def time_calls(fns: Mapping[str, Any], repeats: int) -> dict[str, float]:
    """Median seconds of each function over `repeats` rounds in which they take turns."""
    return medians_taking_turns(fns, repeats)


def node_graph(graph: ir.Graph, node: ir.Node, shapes: Mapping[str, tuple[int, ...]]) -> ir.Graph:
    """The node alone as a graph: its constants inside, its other inputs as graph inputs."""
    inputs = [t for t in dict.fromkeys(node.inputs) if t not in graph.constants]
    constants = {t: graph.constants[t] for t in node.inputs if t in graph.constants}
    return ir.Graph([ir.TensorSpec(t, tuple(shapes[t])) for t in inputs], list(node.outputs),
                    [ir.Node(node.op, list(node.inputs), list(node.outputs), dict(node.attrs), node.name)],
                    constants, graph.dynamic_batch)


def _engine_for(graph: ir.Graph, node: ir.Node, env: Mapping[str, Any]) -> tuple[Any, list[Any]]:
    """The node compiled alone, and its inputs; ValueError/TypeError if the engine refuses it."""
    alone = node_graph(graph, node, {t: tuple(env[t].shape) for t in node.inputs if t not in graph.constants})
    compiled = engine.Engine(alone)
    inputs = [env[spec.name].contiguous() for spec in alone.inputs]
    compiled.output_shapes(*[spec.shape for spec in alone.inputs])
    return compiled, inputs


def _candidates(graph: ir.Graph, node: ir.Node, sparse: Any) -> dict[str, dict[str, Any]]:
    """label -> attributes to try, for a convolution or linear layer."""
    if node.op != "conv2d" or node.attrs.get("algorithm") == "separable":
        return {"engine" if node.op != "conv2d" else node.attrs["algorithm"]: {}}
    weight = graph.constants.get(node.inputs[1])
    options = {"gemm": {"algorithm": "gemm"}, "winograd": {"algorithm": "winograd"}}
    groups = node.attrs.get("groups", 1)
    if weight is not None and groups == weight.shape[0] and weight.shape[1] == 1:
        options["depthwise"] = {"algorithm": "depthwise"}
    if weight is not None and groups == 1 and sparse is not None and _sparse_allowed(sparse, node, weight):
        for block in kernels.capabilities().sparse_blocks:
            options[f"sparse block {block}"] = {"algorithm": "sparse", "block": block}
    return options


def _sparse_allowed(policy: Any, node: ir.Node, weight: np.ndarray) -> bool:
    """The SparsePolicy's rule (density thresholds, per-layer forcing) for this convolution."""
    from pyprune.nn.convspec import ConvSpec  # the policy speaks of torch convolutions

    (sh, sw), (top, left, bottom, right) = node.attrs.get("stride", [1, 1]), node.attrs.get("padding", [0, 0, 0, 0])
    kh, kw = weight.shape[2:]
    dilated = node.attrs.get("dilation", [1, 1]) != [1, 1]
    if kh != kw or sh != sw or len({top, left, bottom, right}) != 1 or (dilated and sh != 1):
        return policy.layers.get(node.name) is True
    spec = ConvSpec(torch.from_numpy(weight), None, kh, sh, top, node.attrs.get("groups", 1))
    return policy.choose(node.name, spec) is not None


def _measure(graph: ir.Graph, node: ir.Node, env: Mapping[str, Any], sparse: Any, repeats: int,
             forced_sparse: bool) -> Choice:
    inputs = [env[t] for t in node.inputs]
    calls: dict[str, Any] = {}
    refused: dict[str, str] = {}
    options = _candidates(graph, node, sparse)
    settle()  # after torch's turn on the node before
    for label, attrs in options.items():
        if forced_sparse and not label.startswith("sparse"):
            continue
        trial = ir.Node(node.op, node.inputs, node.outputs, {**node.attrs, **attrs}, node.name)
        try:
            compiled, args = _engine_for(graph, trial, env)
        except Exception as e:  # whatever the engine refuses a candidate with
            refused[label] = str(e)
            continue
        calls[label] = lambda compiled=compiled, args=args: compiled(*args)

    def in_torch() -> Any:
        with torch.inference_mode():
            return reference.run_node(node, inputs)

    with_torch = not forced_sparse or not calls
    # Candidates take turns, so a slow spell of the machine (single timings move by 5-15 %) hits
    # them alike. Torch takes its turns too when it has one thread; with several, its spinning
    # threads would slow the engine's turns after it, so it runs last.
    if with_torch and torch.get_num_threads() == 1:
        calls[TORCH] = in_torch
    times = time_calls(calls, repeats)
    if with_torch and TORCH not in times:
        times[TORCH] = time_call(in_torch, repeats)
    engine_times = {k: v for k, v in times.items() if k != TORCH}
    if not engine_times:
        why = "the engine refuses it: " + "; ".join(f"{k}: {v}" for k, v in refused.items())
        return Choice(TORCH, why, times)
    best = min(engine_times, key=engine_times.__getitem__)
    if TORCH in times and torch_takes(times[TORCH], times[best]):
        return Choice(TORCH, f"torch measured fastest, by more than leaving the engine costs ({_leaving_the_engine()})",
                      times)
    node.attrs.update(options[best])
    why = "fastest measured" if len(times) > 1 else "forced sparse"
    if times.get(TORCH, np.inf) < times[best]:
        why = f"torch measured faster, by less than leaving the engine costs ({_leaving_the_engine()})"
    return Choice(PYPRUNE, why, times)


def split_separable(low: Lowered, node: ir.Node) -> tuple[ir.Node, ir.Node]:
    """A fused depthwise -> pointwise node as its two convolutions (replacing it in the graph)."""
    x, dw_weight, dw_bias, pw_weight, pw_bias, *residual = node.inputs
    middle = f"{node.outputs[0]}.depthwise"
    dw_attrs = {k: v for k, v in node.attrs.items() if k in ("stride", "padding", "dilation", "groups")}
    dw_attrs.update({k[len("depthwise_"):]: v for k, v in node.attrs.items() if k.startswith("depthwise_")})
    pw_attrs = {k: v for k, v in node.attrs.items() if k.startswith("activation")}
    origins = low.origins.get(node.outputs[0], [])
    convs = [i for i, o in enumerate(origins) if "conv" in o.aten]
    cut = convs[1] if len(convs) > 1 else 1  # where the pointwise convolution's own ATen ops start
    dw = ir.Node("conv2d", [x, dw_weight, dw_bias], [middle], dw_attrs, origins[0].module if origins else node.name)
    pw = ir.Node("conv2d", [middle, pw_weight, pw_bias, *residual], list(node.outputs), pw_attrs, node.name)
    nodes = low.graph.nodes
    at = next(i for i, n in enumerate(nodes) if n is node)
    nodes[at:at + 1] = [dw, pw]
    low.origins[middle], low.origins[node.outputs[0]] = origins[:cut], origins[cut:]
    return dw, pw


def _choose_separable(low: Lowered, node: ir.Node, env: dict[str, Any], sparse: Any, repeats: int) -> dict[str, Choice]:
    """The fused node where it measures faster than its two convolutions apart (each with its own
    best algorithm, a sparse pointwise included) by more than FUSION_MARGIN, else the two."""
    fused = _measure(low.graph, node, env, sparse, repeats, False)
    dw, pw = split_separable(low, node)
    with torch.inference_mode():
        env[dw.outputs[0]] = reference.run_node(dw, [env[t] for t in dw.inputs])[0]
    forced = sparse is not None and sparse.layers.get(pw.name) is True
    apart = {dw.outputs[0]: _measure(low.graph, dw, env, sparse, repeats, False),
             pw.outputs[0]: _measure(low.graph, pw, env, sparse, repeats, forced)}
    if not forced and fused.seconds < (1 - FUSION_MARGIN) * sum(c.seconds for c in apart.values()):
        nodes = low.graph.nodes
        at = next(i for i, n in enumerate(nodes) if n is dw)
        nodes[at:at + 2] = [node]
        low.origins[node.outputs[0]] = low.origins.pop(dw.outputs[0]) + low.origins[node.outputs[0]]
        del env[dw.outputs[0]]
        return {node.outputs[0]: fused}
    for choice in apart.values():
        choice.why += f"; apart from its {'pointwise' if choice is apart[dw.outputs[0]] else 'depthwise'} half: " \
                      f"the fused separable node was not {FUSION_MARGIN:.0%} faster ({fused.seconds * 1e3:.3f} ms)"
    return apart


def _identity(graph: ir.Graph, node: ir.Node, env: Mapping[str, Any], forced: bool) -> tuple:
    """What a node's timing depends on: its op and attributes, its inputs' shapes and its
    constants' contents (their sparsity picks the sparse kernels' work), and the policy's
    forcing. An unrolled recurrent net repeats one such node at every step."""
    inputs = tuple(hashlib.blake2b(graph.constants[t].tobytes(), digest_size=16).digest()
                   if t in graph.constants else tuple(env[t].shape) for t in node.inputs)
    return node.op, json.dumps(node.attrs, sort_keys=True), inputs, forced


def choose(low: Lowered, env: dict[str, Any], *, sparse: Any = None, repeats: int = 5) -> dict[str, Choice]:
    """Every node's Choice, by its first output. `env` holds every tensor of the graph on the
    example inputs (reference.evaluate). Convolutions and linear layers are timed (their winning
    algorithm written into the node's attributes), once for nodes that are the same but for their
    input's values (_identity); other nodes run on the engine whenever it takes them. `sparse` is
    the SparsePolicy deciding when sparse candidates are tried (None: never); a layer it forces
    sparse runs sparse."""
    graph = low.graph
    choices: dict[str, Choice] = {}
    measured: dict[tuple, tuple[str, Choice, dict[str, Any]]] = {}  # identity -> (node, its choice, its attributes)
    for node in list(graph.nodes):
        key = node.outputs[0]
        if key in low.calls:
            why = low.calls[key].why or "size arithmetic on run-time sizes"
            choices[key] = Choice(TORCH, why)
            continue
        if any(not isinstance(env.get(t), torch.Tensor) or env[t].dtype != torch.float32 for t in node.inputs):
            choices[key] = Choice(TORCH, "an input is no float32 tensor")
            continue
        if node.op == "conv2d" and node.attrs.get("algorithm") == "separable":
            choices.update(_choose_separable(low, node, env, sparse, repeats))
            continue
        if node.op in ("conv2d", "linear"):
            forced = sparse is not None and sparse.layers.get(node.name) is True and node.op == "conv2d"
            identity = _identity(graph, node, env, forced)
            if identity in measured:
                name, first, attrs = measured[identity]
                node.attrs.update(attrs)
                choices[key] = Choice(first.runs, f"{first.why}; measured as the same node {name!r}",
                                      dict(first.candidates))
                continue
            choices[key] = _measure(graph, node, env, sparse, repeats, forced)
            measured[identity] = (node.name or key, choices[key], dict(node.attrs))
            continue
        try:
            _engine_for(graph, node, env)
            choices[key] = Choice(PYPRUNE, "in the operator set")
        except Exception as e:  # whatever the engine refuses a node with
            choices[key] = Choice(TORCH, f"the engine refuses it: {e}")
    return choices


@lru_cache(maxsize=None)
def separable_supported() -> bool:
    """Whether the engine runs a fused depthwise -> pointwise node."""
    x = ir.TensorSpec("x", (1, 4, 8, 8))
    constants = {"dw": np.ones((4, 1, 3, 3), np.float32), "db": np.zeros(4, np.float32),
                 "pw": np.ones((8, 4, 1, 1), np.float32), "pb": np.zeros(8, np.float32)}
    node = ir.Node("conv2d", ["x", "dw", "db", "pw", "pb"], ["y"],
                   {"stride": [1, 1], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 4, "algorithm": "separable"})
    try:
        engine.Engine(ir.Graph([x], ["y"], [node], constants, True)).output_shapes((1, 4, 8, 8))
    except Exception:  # any refusal means it does not
        return False
    return True
