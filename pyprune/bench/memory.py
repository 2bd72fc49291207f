"""Peak resident memory of a process that loads MobileNetV1 and runs it: on pyprune.runtime, on
torch, and on the peers installed here (onnxruntime, ncnn). Each runs in a fresh Python process
of its own, one thread, and reports its peak resident set size when done; a process that only
imports numpy is the baseline.

    python -m pyprune.bench.peers --sections memory
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MemoryReport", "PeakMemory", "format_memory", "peak_memory"]

BASELINE, RUNTIME, TORCH = "python + numpy (nothing loaded)", "pyprune.runtime (packed file)", "torch (eager, state_dict)"
PEER_PROCESSES = {"onnxruntime": "onnxruntime (ONNX file)", "ncnn": "ncnn (param + bin)"}

# What each process does before its forwards: `run()` is one forward. sys.argv holds the model's
# files, then the input size; imports are the process's own (pyprune only where it is used).
_LOADS = {
    BASELINE: """
import numpy
run = lambda: None
""",
    RUNTIME: """
import numpy as np, pyprune.runtime
net = pyprune.runtime.load(sys.argv[1], num_threads=1)
x = np.random.default_rng(0).standard_normal(net.input_shapes[0], dtype=np.float32)
run = lambda: net(x)
""",
    TORCH: """
import torch
from pyprune.models import MobileNetV1
torch.set_num_threads(1)
model = MobileNetV1().eval()
model.load_state_dict(torch.load(sys.argv[1], weights_only=True))
x = torch.randn(1, 3, int(sys.argv[-1]), int(sys.argv[-1]))
def run():
    with torch.inference_mode():
        model(x)
""",
    PEER_PROCESSES["onnxruntime"]: """
import numpy as np, onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = options.inter_op_num_threads = 1
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
size = int(sys.argv[-1])
feeds = {session.get_inputs()[0].name: np.random.default_rng(0).standard_normal((1, 3, size, size), dtype=np.float32)}
run = lambda: session.run(None, feeds)
""",
    PEER_PROCESSES["ncnn"]: """
import numpy as np, ncnn
net = ncnn.Net()
net.opt.num_threads = 1
for option in {ncnn_reduced_precision}:
    setattr(net.opt, option, False)
net.load_param(sys.argv[1])
net.load_model(sys.argv[2])
size = int(sys.argv[-1])
image = np.random.default_rng(0).standard_normal((3, size, size), dtype=np.float32)
x = ncnn.Mat(image)
def run():
    with net.create_extractor() as ex:
        ex.input(net.input_names()[0], x)
        ex.extract(net.output_names()[0])
""",
}

# The peak is VmHWM, the high-water mark of this process's own memory map (getrusage's ru_maxrss
# would count the parent's too: it survives the exec after a fork); VmRSS what is resident at
# the end.
_PROCESS = """
import re, sys
{load}
for _ in range({forwards}):
    run()
with open("/proc/self/status") as status:
    text = status.read()
print(*(re.search(key + r":\\s*(\\d+) kB", text).group(1) for key in ("VmHWM", "VmRSS")), "torch" in sys.modules)
"""


@dataclass(frozen=True)
class PeakMemory:
    process: str  # what it loads and runs
    megabytes: float | None  # peak resident set size; None when left out
    final_megabytes: float | None  # resident after the forwards
    imports_torch: bool = False
    left_out: str = ""  # why, when it was


@dataclass(frozen=True)
class MemoryReport:
    forwards: int
    size: int
    rows: list[PeakMemory]


def _peak(process: str, files: list[Path], size: int, forwards: int) -> PeakMemory:
    from pyprune.bench.peers import NCNN_REDUCED_PRECISION

    load = _LOADS[process].replace("{ncnn_reduced_precision}", repr(NCNN_REDUCED_PRECISION))
    done = subprocess.run([sys.executable, "-c", _PROCESS.format(load=load, forwards=forwards), *map(str, files),
                           str(size)], capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"the process measuring {process} failed: {done.stderr[-2000:]}")
    peak, final, imports_torch = done.stdout.split()[-3:]
    return PeakMemory(process, int(peak) / 1024, int(final) / 1024, imports_torch == "True")


def peak_memory(forwards: int = 10, size: int = 224) -> MemoryReport:
    """Each process's peak memory after loading MobileNetV1 (random weights; its packed file
    stores them bit for bit) and running `forwards` forwards at batch 1, size x size."""
    import torch

    from pyprune import pack
    from pyprune.bench.cases import reference_model
    from pyprune.bench.peers import export_ncnn, export_onnx, not_installed

    model = reference_model("MobileNetV1")
    x = torch.randn(1, 3, size, size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pack.save(model, folder / "m.pyprune", example_inputs=x, lossless=True, graph=True)
        torch.save(model.state_dict(), folder / "m.pt")
        files = {BASELINE: [], RUNTIME: [folder / "m.pyprune"], TORCH: [folder / "m.pt"]}
        rows = []
        for peer, process in PEER_PROCESSES.items():
            why = not_installed(peer)
            if why is not None:
                rows.append(PeakMemory(process, None, None, left_out=why))
            elif peer == "onnxruntime":
                files[process] = [export_onnx(model, (x,), folder / "m.onnx")]
            else:
                files[process] = list(export_ncnn(model, (x,), folder / "ncnn"))
        measured = [_peak(process, paths, size, forwards) for process, paths in files.items()]
    return MemoryReport(forwards, size, measured + rows)


def format_memory(report: MemoryReport) -> str:
    runtime = next(r.megabytes for r in report.rows if r.process == RUNTIME)
    width = max(len(r.process) for r in report.rows) + 2
    lines = [f"peak resident memory of a process that loads MobileNetV1 and runs {report.forwards} forwards "
             f"(batch 1, {report.size}x{report.size}, 1 thread; each a process of its own)",
             f"{'process':<{width}}{'peak MB':>9}{'vs pyprune.runtime':>20}{'at the end MB':>15}"]
    for r in report.rows:
        if r.megabytes is None:
            lines.append(f"{r.process:<{width}}  left out: {r.left_out}")
            continue
        ratio = f"{r.megabytes / runtime:.2f}x" if r.process not in (BASELINE, RUNTIME) else ""
        lines.append(f"{r.process:<{width}}{r.megabytes:>9.1f}{ratio:>20}{r.final_megabytes:>15.1f}"
                     + ("  (imports torch)" * r.imports_torch))
    return "\n".join(lines)
