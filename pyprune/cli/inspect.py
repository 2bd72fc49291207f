"""pyprune inspect: what a packed model file holds, how much each stage saved and how far the
packed model's outputs were from the original's. Needs neither torch nor the model."""

from __future__ import annotations

import argparse

from pyprune.cli.argtypes import input_file
from pyprune.cli.errors import UserError

__all__ = ["add_parser"]


def run(args: argparse.Namespace) -> None:
    from pyprune.pack import PackError, inspect

    try:
        report = inspect(args.file)
    except PackError as e:
        raise UserError(f"{args.file}: {e}") from None
    print(f"{args.file}: {report.file_bytes} bytes")
    print(report)


def add_parser(commands: argparse._SubParsersAction) -> None:
    inspect = commands.add_parser(
        "inspect",
        help="show what a packed model file holds and how much each stage saved",
        description="Print a packed file's per-layer table (parameters, non-zeros, bits per weight and "
        "per index, bytes, ratio), Deep Compression's breakdown (original fp32, after pruning, "
        "after weight sharing, after Huffman coding) and how far the packed model's outputs were "
        "from the original's when it was saved. Every stream of the file is checked; torch is not needed.",
        epilog="example: pyprune inspect mobilenet.pyprune",
    )
    inspect.add_argument("file", type=input_file, help="a file written by pyprune.pack.save")
    inspect.set_defaults(run=run)
