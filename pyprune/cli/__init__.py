"""The pyprune command line: one module per subcommand, each adding its parser."""

from __future__ import annotations

import argparse
import sys

import pyprune
from pyprune.cli import bench, convert, demo, inspect, pack, prune
from pyprune.cli.errors import UserError

__all__ = ["UserError", "build_parser", "main"]

SUBCOMMANDS = (demo, prune, pack, inspect, convert, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyprune",
        description="Prune, compress and run CNNs fast on ARM boards.",
    )
    parser.add_argument("--version", action="version", version=f"pyprune {pyprune.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except UserError as e:
        print(f"pyprune {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0
