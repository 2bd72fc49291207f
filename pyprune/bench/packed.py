"""A packed file's model timed on pyprune.runtime, torch-free (as ncnn's benchncnn times its
models): whole forwards (min, median, max), per node the median time inside its kernels, and
the share of a forward spent outside them."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pyprune import kernels
from pyprune.runtime import Net

__all__ = ["FileTiming", "LayerTiming", "Overhead", "format_overhead", "format_timing", "runtime_overhead", "time_net",
           "to_json"]


@dataclass(frozen=True)
class LayerTiming:
    name: str
    op: str
    kernel: str
    output_shape: tuple[int, ...]
    macs: int
    ms: float  # median inside the node's kernels


@dataclass(frozen=True)
class FileTiming:
    threads: int
    isa: str
    input_shapes: list[tuple[int, ...]]
    min_ms: float
    median_ms: float
    max_ms: float
    runs: int
    layers: list[LayerTiming] | None  # per node, when asked for
    # With the layers: the median of each forward less its nodes' times (Python, binding, planning
    # lookup, dispatch, copies).
    outside_ms: float | None = None

    @property
    def macs(self) -> int | None:
        return None if self.layers is None else sum(layer.macs for layer in self.layers)


def random_inputs(net: Net, seed: int) -> list[np.ndarray]:
    """Inputs of the net's example shapes: normal floats, or 0s and 1s for an input it takes as
    integers (pixels, or token ids that any embedding table has rows for)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32) if dtype == "float32" else
            rng.integers(0, 2, shape).astype(dtype) for shape, dtype in zip(net.input_shapes, net.input_dtypes)]


def time_net(net: Net, threads: int, runs: int, layers: bool, seed: int = 0) -> FileTiming:
    """Times `runs` forwards of `net` (after one untimed run) on random inputs of its example
    shapes with `threads` threads; with `layers`, each of those forwards times its nodes too
    (a clock read per node, some nanoseconds): each node's median, and the median of each
    forward's time outside them."""
    kernels.set_num_threads(threads)
    inputs = random_inputs(net, seed)
    net.run(*inputs)  # plans the shapes, sizes the arena, warms the caches
    forwards = _forwards(net, inputs, runs, layers)
    seconds = [f.seconds for f in forwards]
    per_node = outside = None
    if layers:
        nodes = np.median([f.node_seconds for f in forwards], axis=0)
        per_node = [LayerTiming(n.name, n.op, n.kernel, n.output_shapes[0], n.macs, t * 1e3)
                    for n, t in zip(net.describe(), nodes)]
        outside = statistics.median(f.seconds - f.node_seconds.sum() for f in forwards) * 1e3
    return FileTiming(threads, kernels.isa(), net.input_shapes, min(seconds) * 1e3, statistics.median(seconds) * 1e3,
                      max(seconds) * 1e3, runs, per_node, outside)


@dataclass(frozen=True)
class _Forward:
    seconds: float  # net.run
    node_seconds: np.ndarray | None  # each node's, in this forward
    run_seconds: float | None  # the graph's C++ run within it


class _TimedGraph:
    """A compiled graph whose runs time themselves and each of their nodes."""

    def __init__(self, graph: Any, nodes: int) -> None:
        self._graph = graph
        self.node_seconds = np.zeros(nodes)
        self.run_seconds = 0.0

    def run(self, inputs: Any) -> list[Any]:
        start = time.perf_counter()
        outputs = self._graph.run(inputs, node_seconds=self.node_seconds)
        self.run_seconds = time.perf_counter() - start
        return outputs


def _forwards(net: Net, inputs: list[np.ndarray], runs: int, nodes_timed: bool) -> list[_Forward]:
    """`runs` forwards of `net` on `inputs`, each timed (wall time), and where `nodes_timed` its
    nodes and its graph's C++ run too."""
    compiled = net._compiled
    timed = _TimedGraph(compiled, len(net.describe())) if nodes_timed else None
    forwards = []
    try:
        if timed is not None:
            net._compiled = timed
        for _ in range(runs):
            start = time.perf_counter()
            net.run(*inputs)
            seconds = time.perf_counter() - start
            forwards.append(_Forward(seconds, None, None) if timed is None else
                            _Forward(seconds, timed.node_seconds.copy(), timed.run_seconds))
    finally:
        net._compiled = compiled
    return forwards


def format_timing(title: str, timing: FileTiming) -> str:
    shapes = ", ".join("x".join(map(str, s)) for s in timing.input_shapes)
    lines = [f"{title}: input {shapes}, isa {timing.isa}, {timing.threads} thread{'s' * (timing.threads > 1)}",
             f"forward  min {timing.min_ms:.3f} ms  median {timing.median_ms:.3f} ms  max {timing.max_ms:.3f} ms  "
             f"({timing.runs} runs)"]
    if timing.layers is None:
        return "\n".join(lines)
    width = max([len(layer.name) for layer in timing.layers] + [4])
    kernel = max([len(layer.kernel) for layer in timing.layers] + [6])
    lines += ["", f"{'#':>3}  {'node':<{width}}  {'kernel':<{kernel}}  {'output':<16} {'MMACs':>9} {'ms':>9} "
                  f"{'%':>6} {'GMAC/s':>7}"]
    total = timing.median_ms
    for k, layer in enumerate(timing.layers):
        rate = f"{layer.macs / layer.ms / 1e6:7.1f}" if layer.macs and layer.ms > 0 else ""
        lines.append(f"{k:>3}  {layer.name:<{width}}  {layer.kernel:<{kernel}}  "
                     f"{'x'.join(map(str, layer.output_shape)):<16} {layer.macs / 1e6:9.2f} {layer.ms:9.3f} "
                     f"{100 * layer.ms / total:5.1f}% {rate:>7}")
    lines.append(f"{'':>3}  {'outside the kernels':<{width}}  {'':<{kernel}}  {'':<16} {'':>9} "
                 f"{timing.outside_ms:9.3f} {100 * timing.outside_ms / total:5.1f}%")
    return "\n".join(lines)


def to_json(results: dict[str, Any]) -> str:
    """{key: FileTiming} as JSON (MACs and the time outside the kernels included)."""
    return json.dumps({key: {**asdict(t), "macs": t.macs} for key, t in results.items()}, indent=1)


@dataclass(frozen=True)
class Overhead:
    """Where one forward of a net goes, 1 thread, wall time (the kernels run on the calling
    thread): medians over forwards, each forward's time outside its kernels taken from that
    forward itself (no difference of medians of other runs, which the machine's noise swamps)."""

    input_shapes: list[tuple[int, ...]]
    rounds: int
    forward_ms: float  # net.run
    kernels_ms: float  # the sum of the nodes' times in the forward: inside the nodes' kernels
    outside_ms: float  # the forward less its nodes' times: Python, binding, planning lookup, dispatch, copies
    call_ms: float  # of which around the graph's C++ run: net.run's own Python (checks, inputs, casts)


def runtime_overhead(net: Net, rounds: int = 30, seed: int = 0) -> Overhead:
    """Where `rounds` forwards of `net` (1 thread, random inputs of its example shapes) go: each
    timed whole, its graph's C++ run and that run's nodes timed within it (a clock read per node,
    some nanoseconds, counted outside the kernels)."""
    kernels.set_num_threads(1)
    inputs = random_inputs(net, seed)
    net.run(*inputs)
    forwards = _forwards(net, inputs, rounds, nodes_timed=True)
    median = statistics.median
    return Overhead(net.input_shapes, rounds, median(f.seconds for f in forwards) * 1e3,
                    median(f.node_seconds.sum() for f in forwards) * 1e3,
                    median(f.seconds - f.node_seconds.sum() for f in forwards) * 1e3,
                    median(f.seconds - f.run_seconds for f in forwards) * 1e3)


def format_overhead(title: str, o: Overhead) -> str:
    shapes = ", ".join("x".join(map(str, s)) for s in o.input_shapes)
    rows = [("forward (net.run)", o.forward_ms),
            ("inside the kernels (the sum of its nodes' times)", o.kernels_ms),
            ("outside the kernels (the forward less its nodes' times)", o.outside_ms),
            ("  of which around the graph's C++ run (net.run's Python)", o.call_ms)]
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join([f"{title}: where a forward goes, input {shapes}, isa {kernels.isa()}, 1 thread, medians over "
                      f"{o.rounds} forwards, each split by its own times"]
                     + [f"{name:<{width}}{ms:9.3f} ms {100 * ms / o.forward_ms:6.2f} %" for name, ms in rows])
