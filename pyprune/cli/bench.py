"""pyprune bench: kernel and model benchmarks against torch."""

from __future__ import annotations

import argparse

import pyprune
from pyprune.cli.argtypes import thread_count, whole_number
from pyprune._optional import require

__all__ = ["add_parser"]


def run(args: argparse.Namespace) -> None:
    from pyprune.bench import SUITES, compare, format_table, to_json

    require("torch", "torch", "pyprune bench")  # the peer
    results = {}
    for threads in args.threads:
        for suite in args.suite or list(SUITES):
            rows = [compare(case, threads, args.rounds) for case in SUITES[suite]()]
            results[f"{suite}/threads={threads}"] = rows
            if not args.json:
                title = f"{suite}, batch 1, {threads} thread{'s' * (threads > 1)}, isa {pyprune.isa()}"
                print(format_table(title, rows), end="\n\n", flush=True)
    if args.json:
        print(to_json(results))


def add_parser(commands: argparse._SubParsersAction) -> None:
    from pyprune.bench import SUITES

    bench = commands.add_parser(
        "bench",
        help="time pyprune's kernels against torch on standard network layers",
        description="Time pyprune's kernels against torch on the same inputs, in one process, "
        "and print per-layer and summed times with the speedup.",
        epilog="example: pyprune bench --suite depthwise/mobilenet_v1 --threads 1 2",
    )
    bench.add_argument("--suite", action="append", choices=list(SUITES), help="layer suite (repeatable; default: all)")
    bench.add_argument("--threads", type=thread_count, nargs="+", default=[1], help="thread counts to run (default: 1)")
    bench.add_argument("--rounds", type=whole_number(1), default=15, help="timing rounds per layer; medians are reported (default: 15)")
    bench.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    bench.set_defaults(run=run)
