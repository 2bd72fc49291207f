"""Packed files with their inputs and outputs as this machine's runtime computes them: written
on one machine (the x86-64 host), checked on another (the aarch64 guest under QEMU, without
torch) by tests/runtime/test_files_across_machines.py.

    python tests/runtime_files.py FOLDER      # writes FOLDER/NAME.pyprune, NAME.inputs.npz, NAME.outputs.npz

Files: graphs of every encoding (lossy and lossless), a CNN on the operator set and the same
with batch norms folded into its weights, depthwise convolutions of windows only the taps kernel
takes (when the build has the operators), and a real model
saved by pack.save (when torch and the capture are present)."""

import sys
from pathlib import Path

import numpy as np
from runtime_cases import HAS_CNN_OPS, cnn_graph, constants_graph, depthwise_windows_graph, folded, write

from pyprune import runtime


def _model_file(folder, rng):
    """MobileNetV1 (16 classes, 32x32) saved by pack.save, if this machine can capture it."""
    try:
        import torch

        from pyprune import pack
        from pyprune.models import MobileNetV1
    except ImportError:
        return None
    torch.manual_seed(0)
    model = MobileNetV1(num_classes=16).eval()
    path = folder / "mobilenet_v1.pyprune"
    pack.save(model, path, example_inputs=torch.from_numpy(rng.standard_normal((1, 3, 32, 32), dtype=np.float32)))
    if pack.read(path).metadata["graph"] is None:  # not captured whole on this machine's operators
        path.unlink()
        return None
    return path


def write_files(folder):
    """Writes the files into `folder`; returns their paths."""
    folder = Path(folder)
    rng = np.random.default_rng(20240521)
    paths = [write(folder / "constants.pyprune", constants_graph(rng)),
             write(folder / "constants-lossless.pyprune", constants_graph(rng), lossless=True)]
    if HAS_CNN_OPS:
        paths.append(write(folder / "cnn.pyprune", cnn_graph(rng, batch=2)))
        graph, state = folded(cnn_graph(rng), rng, ["stem.weight", "dw.weight", "fc.weight"])
        paths.append(write(folder / "cnn-folded.pyprune", graph, state))
        paths.append(write(folder / "depthwise-windows.pyprune", depthwise_windows_graph(rng, batch=2)))
    model = _model_file(folder, rng)
    if model is not None:
        paths.append(model)
    for path in paths:
        net = runtime.load(path)
        inputs = [rng.standard_normal(shape, dtype=np.float32) for shape in net.input_shapes]
        np.savez(path.with_suffix(".inputs.npz"), *inputs)
        np.savez(path.with_suffix(".outputs.npz"), *net.run(*inputs))
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/runtime_files.py FOLDER")
    Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
    for written in write_files(sys.argv[1]):
        print(written)
