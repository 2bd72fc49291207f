"""pyprune against the engines CNNs are deployed with, on this machine, in one process:
onnxruntime and ncnn, and torch (eager, and the copy pyprune.convert makes of it). Whole models
(MobileNetV1, MobileNetV2, ResNet-18, a YOLOv8-style detector) on pyprune.runtime, and the 13
depthwise and 13 pointwise layers of MobileNetV1 on pyprune's modules; batch 1, fp32. Every
implementation is checked against torch before it is timed; times are medians of interleaved
rounds (at 1 thread CPU times, which other work on a shared machine does not inflate). Then the peak memory of a process running MobileNetV1 on each (pyprune.bench.memory),
and the share of a pyprune.runtime forward spent outside its kernels (pyprune.bench.packed).

    pip install 'pyprune[peers]'
    python -m pyprune.bench.peers                     # everything, 1 and 2 threads
    python -m pyprune.bench.peers --sections models --threads 1 --rounds 31

onnxruntime runs the torch.onnx.export of the model (intra_op_num_threads set), ncnn the pnnx
conversion of its TorchScript trace (fp16 and bf16 storage off: fp32 throughout, num_threads
set). A peer that is not installed is left out with the pip command that brings it. Minutes of
work: the conversions and the tables go to stdout as they are done.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import shutil
import subprocess
import tempfile
import time
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from pyprune import kernels
from pyprune._optional import MissingDependencyError, require
from pyprune.bench.cases import reference_model
from pyprune.bench.layers import MOBILENET_V1, MOBILENET_V1_POINTWISE, DepthwiseLayer, PointwiseLayer
from pyprune.timing import median_seconds

__all__ = [
    "LAYER_SUITES",
    "MODELS",
    "NCNN_REDUCED_PRECISION",
    "PEERS",
    "PeerCase",
    "PeerTiming",
    "check",
    "compare_peers",
    "export_ncnn",
    "export_onnx",
    "format_peers",
    "layer_peers",
    "main",
    "model_peers",
    "ncnn_net",
    "not_installed",
    "outputs",
    "on_runtime",
    "relative_error",
    "title",
]

# Each peer and the packages it needs (pip names, which are their import names too).
PEERS = {"onnxruntime": ("onnxruntime", "onnx", "onnxscript"), "ncnn": ("ncnn", "pnnx")}

# Model -> input size: the standard 224x224, a detector's 320x320.
MODELS = {"MobileNetV1": 224, "MobileNetV2": 224, "ResNet18": 224, "YOLOv8": 320}

LAYER_SUITES: dict[str, Sequence[DepthwiseLayer | PointwiseLayer]] = {
    "depthwise": MOBILENET_V1,
    "pointwise": MOBILENET_V1_POINTWISE,
}

# Largest difference from torch's output allowed, as a fraction of that output's largest
# magnitude: fp32 with other orders of summation (and Winograd) stays well within it.
TOLERANCE = 1e-3

Call = Callable[[], Any]


@dataclass
class PeerCase:
    """One model or layer on the same inputs in every implementation. `implementations` maps
    a name to a function of the thread count giving the call to time (the first one is the
    subject the others are compared with); `missing` maps each peer left out to why;
    `reference` is torch's output (eager, as a list of arrays)."""

    name: str
    macs: int
    reference: list[np.ndarray]
    implementations: dict[str, Callable[[int], Call]]
    missing: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None  # the peers' converted files, removed with the case


@dataclass(frozen=True)
class PeerTiming:
    name: str
    threads: int
    macs: int
    ms: dict[str, float]  # implementation -> median milliseconds per call, the subject first


def outputs(result: Any) -> list[np.ndarray]:
    """A call's result (a tensor, an array, or a list or tuple of them) as a list of arrays."""
    if isinstance(result, (list, tuple)):
        return [a for r in result for a in outputs(r)]
    return [result.numpy() if hasattr(result, "numpy") else np.asarray(result)]


def relative_error(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """The largest difference between `got` and `want`, output by output, as a fraction of the
    largest magnitude in that output of `want`; ValueError if their numbers or shapes differ."""
    if len(got) != len(want):
        raise ValueError(f"{len(got)} outputs, expected {len(want)}")
    worst = 0.0
    for k, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            raise ValueError(f"output {k} has shape {g.shape}, expected {w.shape}")
        scale = float(np.abs(w).max()) if w.size else 0.0
        difference = float(np.abs(g.astype(np.float64) - w).max()) if w.size else 0.0
        worst = max(worst, difference / scale if scale > 0 else (0.0 if difference == 0 else float("inf")))
    return worst


def _use_threads(threads: int) -> None:
    import torch

    kernels.set_num_threads(threads)
    torch.set_num_threads(threads)


def check(case: PeerCase, threads: int, names: Sequence[str] | None = None, tolerance: float = TOLERANCE) -> None:
    """AssertionError unless every implementation (or those `names`) gives torch's output
    within `tolerance` (relative_error) with `threads` threads."""
    import torch

    _use_threads(threads)
    for name in names or list(case.implementations):
        with torch.inference_mode():
            got = outputs(case.implementations[name](threads)())
        try:
            error = relative_error(got, case.reference)
        except ValueError as e:
            raise AssertionError(f"{case.name}: {name}: {e}") from None
        if not error <= tolerance:
            raise AssertionError(f"{case.name}: {name} differs from torch by {error:.2e} of the output's largest "
                                 f"magnitude, more than {tolerance:.0e}")


def compare_peers(case: PeerCase, threads: int, rounds: int = 15, min_batch_seconds: float = 2e-3) -> PeerTiming:
    """Checks every implementation of `case`, then times them all with `threads` threads:
    medians of `rounds` rounds in which they take turns. One thread is timed by the CPU time
    of the process (each implementation computes on the calling thread then), which other work
    on the machine does not inflate; more by the wall clock."""
    import torch

    check(case, threads)
    with torch.inference_mode():
        calls = {name: make(threads) for name, make in case.implementations.items()}
        seconds = median_seconds(calls, rounds, min_batch_seconds, threaded=threads > 1, interleaved=True,
                                 clock=time.process_time if threads == 1 else time.perf_counter)
    return PeerTiming(case.name, threads, case.macs, {name: s * 1e3 for name, s in seconds.items()})


# ---- the peers -------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keeps the converters' deprecation warnings and log lines (torchvision's operators
    skipped, and the like) off the output."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def export_onnx(module: Any, inputs: tuple[Any, ...], path: Path) -> Path:
    """`module` exported to ONNX by torch.onnx.export (the torch.export-based exporter), one
    file."""
    import torch

    require("onnxscript", "peers", "torch.onnx.export")
    with _quiet():
        torch.onnx.export(module, inputs, str(path), dynamo=True, external_data=False, verbose=False)
    return path


def export_ncnn(module: Any, inputs: tuple[Any, ...], folder: Path) -> tuple[Path, Path]:
    """`module` traced to TorchScript and converted by pnnx to ncnn's files (param, bin), fp32
    weights; RuntimeError with pnnx's last words if it fails."""
    import torch

    pnnx = require("pnnx", "peers", "the ncnn peer")
    folder.mkdir(parents=True, exist_ok=True)
    traced = folder / "model.pt"
    with _quiet(), torch.no_grad():
        torch.jit.trace(module, inputs).save(str(traced))
    shapes = ",".join("[" + ",".join(map(str, x.shape)) + "]f32" for x in inputs)
    param, weights = folder / "model.ncnn.param", folder / "model.ncnn.bin"
    done = subprocess.run([pnnx.EXEC_PATH, str(traced), f"inputshape={shapes}", "fp16=0", f"ncnnparam={param}",
                           f"ncnnbin={weights}"], cwd=folder, capture_output=True, text=True)
    if done.returncode != 0 or not param.exists():
        raise RuntimeError(f"pnnx could not convert the model (exit code {done.returncode}): "
                           f"{(done.stderr or done.stdout)[-2000:]}")
    return param, weights


def _onnxruntime(module: Any, inputs: tuple[Any, ...], folder: Path, shapes: list[tuple[int, ...]]) -> Callable[[int], Call]:
    ort = require("onnxruntime", "peers", "the onnxruntime peer")
    path = export_onnx(module, inputs, folder.with_suffix(".onnx"))
    arrays = [x.numpy() for x in inputs]

    @functools.lru_cache(maxsize=None)
    def session(threads: int) -> Call:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {spec.name: x for spec, x in zip(s.get_inputs(), arrays)}
        return lambda: s.run(None, feeds)

    return session


# ncnn's options turned off so that it computes in fp32 throughout, as the others do.
NCNN_REDUCED_PRECISION = ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage")


def ncnn_net(param: Path, weights: Path, threads: int) -> Any:
    """An ncnn.Net of these files running fp32 with `threads` threads."""
    ncnn = require("ncnn", "peers", "the ncnn peer")
    net = ncnn.Net()
    net.opt.num_threads = threads
    for option in NCNN_REDUCED_PRECISION:
        setattr(net.opt, option, False)
    net.load_param(str(param))
    net.load_model(str(weights))
    return net


def _ncnn(module: Any, inputs: tuple[Any, ...], folder: Path, shapes: list[tuple[int, ...]]) -> Callable[[int], Call]:
    ncnn = require("ncnn", "peers", "the ncnn peer")
    param, weights = export_ncnn(module, inputs, folder)
    arrays = [x.numpy()[0] for x in inputs]  # ncnn's blobs have no batch dimension

    @functools.lru_cache(maxsize=None)
    def extractor(threads: int) -> Call:
        net = ncnn_net(param, weights, threads)
        feeds = list(zip(net.input_names(), [ncnn.Mat(a) for a in arrays]))  # the Mats read the arrays
        fetches = list(zip(net.output_names(), shapes))

        def run() -> list[np.ndarray]:
            with net.create_extractor() as ex:
                for name, mat in feeds:
                    ex.input(name, mat)
                return [np.array(ex.extract(name)[1]).reshape(shape) for name, shape in fetches]

        return run

    return extractor


_PEER_FACTORIES = {"onnxruntime": _onnxruntime, "ncnn": _ncnn}


def not_installed(peer: str) -> str | None:
    """None if `peer` can run here, else what to install (pyprune._optional's message)."""
    try:
        for package in PEERS[peer]:
            require(package, "peers", f"the {peer} peer")
    except MissingDependencyError as e:
        return str(e)
    return None


def _case(name: str, macs: int, module: Any, inputs: tuple[Any, ...], pyprune: dict[str, Call],
          peers: Sequence[str]) -> PeerCase:
    """pyprune's calls (`pyprune`, thread count set process-wide), torch eager and each of
    `peers` installed here on `module` and `inputs`."""
    import torch

    with torch.inference_mode():
        reference = outputs(module(*inputs))
    implementations: dict[str, Callable[[int], Call]] = {k: (lambda threads, f=f: f) for k, f in pyprune.items()}
    implementations["torch"] = lambda threads: (lambda: module(*inputs))
    case = PeerCase(name, macs, reference, implementations)
    for peer in peers:
        why = not_installed(peer)
        if why is not None:
            case.missing[peer] = why
            continue
        if case.workdir is None:
            case.workdir = Path(tempfile.mkdtemp(prefix="pyprune-peers-"))
            weakref.finalize(case, shutil.rmtree, case.workdir, ignore_errors=True)
        implementations[peer] = _PEER_FACTORIES[peer](module, inputs, case.workdir / peer, [r.shape for r in reference])
    return case


def on_runtime(model: Any, x: Any) -> Any:
    """`model` on pyprune.runtime: its packed file (weights stored bit for bit, the graph
    captured on `x`), loaded."""
    from pyprune import pack, runtime

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pyprune"
        pack.save(model, path, example_inputs=x, lossless=True, graph=True)
        return runtime.load(path)


def model_peers(name: str, size: int | None = None, peers: Sequence[str] = tuple(PEERS), **kwargs: Any) -> PeerCase:
    """The reference model `name` (pyprune.bench.cases.reference_model, built with `kwargs`) at
    batch 1, size x size (MODELS' size by default): pyprune.runtime on its packed file (weights
    stored bit for bit), its pyprune.convert copy, torch eager and the peers."""
    import torch

    from pyprune.nn import convert
    from pyprune.stats import count

    size = size or MODELS[name]
    model = reference_model(name, **kwargs)
    x = torch.randn(1, 3, size, size)
    net = on_runtime(model, x)
    fast = convert(model, x)
    array = x.numpy()
    pyprune = {"runtime": lambda: net.run(array), "convert": lambda: fast(x)}
    return _case(f"{name} {size}x{size}", count(model, x).macs, model, (x,), pyprune, peers)


def _conv(layer: DepthwiseLayer | PointwiseLayer, seed: int) -> tuple[Any, Any]:
    """The layer as an nn.Conv2d with random weights of unit gain and a bias, and its pyprune
    module."""
    import torch

    from pyprune import nn as pnn

    if isinstance(layer, DepthwiseLayer):
        c = layer.channels
        conv = torch.nn.Conv2d(c, c, layer.kernel, layer.stride, layer.padding, groups=c)
    else:
        conv = torch.nn.Conv2d(layer.in_channels, layer.out_channels, 1)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        conv.weight.normal_(0, conv.weight[0].numel() ** -0.5, generator=generator)
        conv.bias.normal_(0, 1, generator=generator)
    conv.eval()
    module = pnn.DepthwiseConv2d if isinstance(layer, DepthwiseLayer) else pnn.PointwiseConv2d
    return conv, module.from_torch(conv)


def layer_peers(layer: DepthwiseLayer | PointwiseLayer, peers: Sequence[str] = tuple(PEERS), seed: int = 0) -> PeerCase:
    """One layer on a random input: pyprune's module (DepthwiseConv2d, PointwiseConv2d), torch
    and the peers."""
    import torch

    conv, module = _conv(layer, seed)
    size = layer.size
    channels = layer.channels if isinstance(layer, DepthwiseLayer) else layer.in_channels
    x = torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(seed))
    return _case(str(layer), layer.macs, conv, (x,), {"pyprune": lambda: module(x)}, peers)


# ---- tables ----------------------------------------------------------------------------------


def format_peers(title: str, rows: list[PeerTiming], missing: dict[str, str] | None = None,
                 total: bool = False) -> str:
    """Each row's times and how many times faster the subject (the first implementation) is
    than each other one; with `total`, a row of sums; the peers left out, and why, below."""
    impls = list(rows[0].ms) if rows else []
    subject, others = (impls[0], impls[1:]) if impls else ("", [])
    label = max([len(r.name) for r in rows] + [12])
    width = {name: max(10, len(name) + 4) for name in impls}
    lines = [title, f"{'':<{label}}{'MMACs':>9}" + "".join(f"{name + ' ms':>{width[name] + 3}}" for name in impls)
             + "".join(f"{'vs ' + name:>{width[name] + 3}}" for name in others)]
    if total and rows:
        rows = [*rows, PeerTiming("sum", rows[0].threads, sum(r.macs for r in rows),
                                  {name: sum(r.ms[name] for r in rows) for name in impls})]
    for r in rows:
        lines.append(f"{r.name:<{label}}{r.macs / 1e6:>9.1f}"
                     + "".join(f"{r.ms[name]:>{width[name] + 3}.3f}" for name in impls)
                     + "".join(f"{r.ms[name] / r.ms[subject]:>{width[name] + 2}.2f}x" for name in others))
    if others:
        lines.append(f"(vs X: X's time over {subject}'s, how many times faster {subject} is)")
    lines += [f"{peer} left out: {why}" for peer, why in (missing or {}).items()]
    return "\n".join(lines)


def title(what: str, threads: int, rounds: int) -> str:
    """A table's title: what it times, how."""
    clock = "CPU time" if threads == 1 else "wall time"
    return (f"{what}, batch 1, fp32, {threads} thread{'s' * (threads > 1)}, isa {kernels.isa()}: "
            f"{clock}, medians of {rounds} interleaved rounds")


def main(argv: list[str] | None = None) -> None:
    from pyprune.bench.memory import format_memory, peak_memory
    from pyprune.bench.packed import format_overhead, runtime_overhead

    sections = ("models", "layers", "memory", "overhead")
    parser = argparse.ArgumentParser(prog="python -m pyprune.bench.peers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", choices=sections, default=list(sections),
                        help="what to measure (default: all)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                        help="the models of the models section (default: all)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    parser.add_argument("--rounds", type=int, default=15, help="timing rounds; medians are reported (default: 15)")
    args = parser.parse_args(argv)
    if any(t < 1 for t in args.threads) or args.rounds < 1:
        parser.error("--threads and --rounds must be at least 1")
    torch = require("torch", "torch", "python -m pyprune.bench.peers")
    if "models" in args.sections:
        cases = [model_peers(name) for name in args.models]
        for threads in args.threads:
            rows = [compare_peers(case, threads, args.rounds) for case in cases]
            print(format_peers(title("whole models", threads, args.rounds), rows, cases[0].missing), end="\n\n",
                  flush=True)
    if "layers" in args.sections:
        for suite, layers in LAYER_SUITES.items():
            cases = [layer_peers(layer) for layer in layers]
            for threads in args.threads:
                rows = [compare_peers(case, threads, args.rounds) for case in cases]
                print(format_peers(title(f"MobileNetV1's {suite} layers", threads, args.rounds), rows,
                                   cases[0].missing, total=True), end="\n\n", flush=True)
    if "memory" in args.sections:
        print(format_memory(peak_memory()), end="\n\n", flush=True)
    if "overhead" in args.sections:
        net = on_runtime(reference_model("MobileNetV1"), torch.randn(1, 3, 224, 224))
        print(format_overhead("MobileNetV1 on pyprune.runtime", runtime_overhead(net, 4 * args.rounds)), flush=True)


if __name__ == "__main__":
    main()
