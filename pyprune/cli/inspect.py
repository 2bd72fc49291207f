"""pyprune inspect: what a packed model file holds and how much each stage saved."""

from __future__ import annotations

import argparse
import os

from pyprune.cli.errors import UserError

__all__ = ["add_parser"]


def run(args: argparse.Namespace) -> None:
    try:
        from pyprune.pack import PackError, inspect
    except ImportError as e:
        raise UserError(f"pyprune inspect needs torch and safetensors: {e}") from None
    if not os.path.isfile(args.file):
        raise UserError(f"no such file: {args.file}")
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
        "per index, bytes, ratio) and Deep Compression's breakdown: original fp32, after pruning, "
        "after weight sharing, after Huffman coding.",
        epilog="example: pyprune inspect mobilenet.pyprune",
    )
    inspect.add_argument("file", help="a file written by pyprune.pack.save")
    inspect.set_defaults(run=run)
