"""The pyprune command line: one module per subcommand, each adding its parser."""

from __future__ import annotations

import argparse
import sys

import pyprune
from pyprune._optional import MissingDependencyError
from pyprune.cli import bench, convert, demo, inspect, pack, prune, run
from pyprune.cli.errors import UserError
from pyprune.cli.parser import Parser

__all__ = ["UserError", "build_parser", "main"]

SUBCOMMANDS = (demo, prune, pack, inspect, convert, run, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pyprune", description="Prune, compress and run CNNs fast on ARM boards.")
    parser.add_argument("--version", action="version", version=f"pyprune {pyprune.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(commands)
    return parser


def _check_isa() -> None:
    try:
        pyprune.isa()
    except RuntimeError as e:  # PYPRUNE_ISA names no instruction set this machine runs
        raise UserError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    """Runs the command; a mistake (arguments, inputs, environment, a missing optional
    dependency) is one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        _check_isa()
        args.run(args)
    except (UserError, MissingDependencyError) as e:
        print(f"pyprune {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0
