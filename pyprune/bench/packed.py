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
from pyprune.timing import medians_taking_turns

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

    @property
    def macs(self) -> int | None:
        return None if self.layers is None else sum(layer.macs for layer in self.layers)

    @property
    def outside_ms(self) -> float | None:
        """The median forward's time outside the nodes' kernels (binding, planning lookup,
        output allocation), as the per-node medians leave it."""
        return None if self.layers is None else self.median_ms - sum(layer.ms for layer in self.layers)


def random_inputs(net: Net, seed: int) -> list[np.ndarray]:
    """Inputs of the net's example shapes: normal floats, or 0s and 1s for an input it takes as
    integers (pixels, or token ids that any embedding table has rows for)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32) if dtype == "float32" else
            rng.integers(0, 2, shape).astype(dtype) for shape, dtype in zip(net.input_shapes, net.input_dtypes)]


def time_net(net: Net, threads: int, runs: int, layers: bool, seed: int = 0) -> FileTiming:
    """Times `runs` forwards of `net` (after one untimed run) on random inputs of its example
    shapes with `threads` threads; with `layers`, also each node's median over `runs` runs."""
    kernels.set_num_threads(threads)
    inputs = random_inputs(net, seed)
    net.run(*inputs)  # plans the shapes, sizes the arena, warms the caches
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        net.run(*inputs)
        seconds.append(time.perf_counter() - start)
    per_node = None
    if layers:
        per_node = [LayerTiming(t.node.name, t.node.op, t.node.kernel, t.node.output_shapes[0], t.node.macs,
                                t.seconds * 1e3) for t in net.profile(*inputs, repeats=runs)]
    return FileTiming(threads, kernels.isa(), net.input_shapes, min(seconds) * 1e3, statistics.median(seconds) * 1e3,
                      max(seconds) * 1e3, runs, per_node)


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
    return json.dumps({key: {**asdict(t), "macs": t.macs, "outside_ms": t.outside_ms} for key, t in results.items()},
                      indent=1)


@dataclass(frozen=True)
class Overhead:
    """Where one forward of a net goes, 1 thread, in the CPU time of the calling thread (which
    runs the kernels itself at 1 thread; other processes' work does not count)."""

    input_shapes: list[tuple[int, ...]]
    rounds: int
    forward_ms: float  # net.run, median
    kernels_ms: float  # the sum of the per-node medians of net.profile: inside the nodes' kernels
    call_ms: float  # net.run less one run of the graph in C++: Python, binding, planning lookup, outputs

    @property
    def outside_ms(self) -> float:
        return self.forward_ms - self.kernels_ms


def runtime_overhead(net: Net, rounds: int = 30, seed: int = 0) -> Overhead:
    """The share of a forward of `net` (1 thread, random inputs of its example shapes) spent
    outside its kernels: the forward's median CPU time less the sum of the per-node medians,
    and of that the time around the single C++ call (the forward less a run of the graph
    alone, the increment of net.profile's CPU time per repeat). Rounds take turns."""
    kernels.set_num_threads(1)
    inputs = random_inputs(net, seed)
    calls = {"forward": lambda: net.run(*inputs), "profile 1": lambda: net.profile(*inputs, repeats=1),
             "profile 3": lambda: net.profile(*inputs, repeats=3)}
    median = medians_taking_turns(calls, rounds, clock=time.thread_time)
    graph_run = (median["profile 3"] - median["profile 1"]) / 2
    in_kernels = sum(t.seconds for t in net.profile(*inputs, repeats=rounds))
    return Overhead(net.input_shapes, rounds, median["forward"] * 1e3, in_kernels * 1e3,
                    (median["forward"] - graph_run) * 1e3)


def format_overhead(title: str, o: Overhead) -> str:
    shapes = ", ".join("x".join(map(str, s)) for s in o.input_shapes)
    rows = [("forward (net.run)", o.forward_ms),
            ("inside the kernels (sum of the per-node medians)", o.kernels_ms),
            ("outside the kernels (the difference)", o.outside_ms),
            ("  of which around the C++ call (Python, binding, planning lookup, outputs)", o.call_ms)]
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join([f"{title}: where a forward goes, input {shapes}, isa {kernels.isa()}, 1 thread, CPU time of the "
                      f"calling thread, medians of {o.rounds} rounds"]
                     + [f"{name:<{width}}{ms:9.3f} ms {100 * ms / o.forward_ms:6.2f} %" for name, ms in rows])
