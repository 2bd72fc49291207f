"""pyprune run: a packed model on inputs from .npy files, on pyprune.runtime alone (no torch,
no model code): the output shapes, and the top classes of a classifier's output."""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
from numpy.lib import format as npy

import pyprune
from pyprune.cli.argtypes import MAX_INPUT_ELEMENTS, input_file, thread_count
from pyprune.cli.errors import UserError
from pyprune.graph.ir import OUTPUT_DTYPES

__all__ = ["add_parser"]

TOP = 5
MAX_SAMPLES = 16  # samples of a batch whose top classes are printed


def _input(path: str) -> np.ndarray:
    """The array of a .npy file, C-contiguous: float32, or integers for a model that takes them.
    Its header is read first: another dtype, more elements than an input may have or than the
    file holds are refused before anything is allocated."""
    headers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
    try:
        with open(path, "rb") as f:
            version = npy.read_magic(f)
            if version not in headers:
                raise ValueError(f".npy format version {version} (this reads 1.0 and 2.0)")
            shape, _, dtype = headers[version](f)
            data_start = f.tell()
    except (ValueError, OSError, EOFError) as e:
        raise UserError(f"{path} is not a .npy array file: {e}") from None
    if dtype.name not in OUTPUT_DTYPES:
        raise UserError(f"{path} holds {dtype} values, the model takes float32 (save x.astype(numpy.float32)) or, "
                        f"where it takes integers, {', '.join(OUTPUT_DTYPES[1:])}")
    elements = math.prod(shape)
    if elements > MAX_INPUT_ELEMENTS:
        raise UserError(f"{path} holds {elements:,} values, more than the {MAX_INPUT_ELEMENTS:,} an input may have")
    if os.path.getsize(path) < data_start + dtype.itemsize * elements:
        raise UserError(f"{path} is truncated: its header declares shape {shape}")
    return np.ascontiguousarray(np.load(path, allow_pickle=False))


def _top_classes(name: str, y: np.ndarray) -> list[str]:
    """The top classes of each sample of a (batch, classes) output, with their softmax."""
    lines = []
    for i, row in enumerate(y[:MAX_SAMPLES]):
        top = np.argsort(-row, kind="stable")[:TOP]
        p = np.exp(row.astype(np.float64) - row.max())
        p /= p.sum()
        classes = "  ".join(f"{c}: {row[c]:.4g} (p {p[c]:.3f})" for c in top)
        lines.append(f"top-{len(top)} of {name!r}, sample {i}: {classes}")
    if len(y) > MAX_SAMPLES:
        lines.append(f"... {len(y) - MAX_SAMPLES} more samples")
    return lines


def run(args: argparse.Namespace) -> None:
    from pyprune.pack import PackError
    from pyprune.runtime import load

    inputs = [_input(path) for path in args.input]
    try:
        net = load(args.file, num_threads=args.threads)
    except PackError as e:
        raise UserError(f"{args.file}: {e}") from None
    if len(inputs) != len(net.input_names):
        raise UserError(f"{args.file} takes {len(net.input_names)} inputs ({', '.join(net.input_names)}), "
                        f"got {len(inputs)} --input files")
    try:
        start = time.perf_counter()
        outputs = net.run(*inputs)
        seconds = time.perf_counter() - start
    except (ValueError, TypeError) as e:  # shapes or dtypes the graph does not take, named by input or node
        shapes = ", ".join(str(x.shape) for x in inputs)
        raise UserError(f"the model does not run on inputs of shape {shapes}: {e}") from None
    threads = pyprune.get_num_threads()
    print(f"{args.file}: {len(outputs)} output{'s' * (len(outputs) > 1)} in {seconds * 1e3:.2f} ms "
          f"({threads} thread{'s' * (threads > 1)}, isa {pyprune.isa()})")
    for name, y in zip(net.output_names, outputs):
        print(f"output {name!r}: shape {y.shape}" + ("" if y.dtype == np.float32 else f", {y.dtype}"))
        if y.ndim == 2 and y.shape[1] > 1 and y.dtype == np.float32:  # not indices
            print("\n".join(_top_classes(name, y)))


def add_parser(commands: argparse._SubParsersAction) -> None:
    run_parser = commands.add_parser(
        "run",
        help="run a packed model on inputs from .npy files (no torch needed)",
        description="Run a packed model file (written by pyprune.pack.save with example inputs, holding its "
        "graph) on pyprune's runtime alone: neither torch nor the model's code is needed. Each input is a "
        "float32 .npy file of a shape the model takes (or of the integer dtype it takes: uint8 pixels, token "
        "ids). Prints each output's shape and, for a classifier's "
        "(batch, classes) output, the top-5 classes of each sample with their softmax probabilities.",
        epilog="example: pyprune run mobilenet.pyprune --input image.npy --threads 4",
    )
    run_parser.add_argument("file", type=input_file, metavar="FILE", help="a packed model file")
    run_parser.add_argument("--input", action="append", required=True, type=input_file, metavar="NPY",
                            help="a .npy file (float32, or the model's integer dtype): one per input of the model, in order")
    run_parser.add_argument("--threads", type=thread_count, default=None,
                            help="threads for the kernels (default: the machine's setting)")
    run_parser.set_defaults(run=run)
