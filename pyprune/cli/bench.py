"""pyprune bench: kernel and model benchmarks against torch; with a packed FILE, that model on
pyprune.runtime alone (no torch)."""

from __future__ import annotations

import argparse

import pyprune
from pyprune.cli.argtypes import input_file, thread_count, whole_number
from pyprune.cli.errors import UserError
from pyprune._optional import require

__all__ = ["add_parser"]


def run_file(args: argparse.Namespace) -> None:
    from pyprune.bench.packed import format_timing, time_net, to_json
    from pyprune.pack import PackError
    from pyprune.runtime import load

    if args.suite:
        raise UserError("--suite times the kernel suites against torch; with FILE, the file's model is timed")
    try:
        net = load(args.file, keep_compressed=args.keep_compressed)
    except PackError as e:
        raise UserError(f"{args.file}: {e}") from None
    results = {}
    for threads in args.threads:
        timing = time_net(net, threads, args.rounds, args.layers)
        results[f"threads={threads}"] = timing
        if not args.json:
            print(format_timing(args.file, timing), end="\n\n", flush=True)
    if args.json:
        print(to_json(results))


def run(args: argparse.Namespace) -> None:
    from pyprune.bench import SUITES, compare, format_table, to_json

    if args.file is not None:
        return run_file(args)
    if args.layers or args.keep_compressed:
        raise UserError(f"{'--layers' if args.layers else '--keep-compressed'} needs a packed FILE to time")
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
        help="time pyprune's kernels against torch, or a packed model on pyprune's runtime",
        description="Without FILE: time pyprune's kernels against torch on the same inputs, in one process, "
        "and print per-layer and summed times with the speedup (pyprune bench --suite depthwise/mobilenet_v1). With FILE (a packed model holding its graph): "
        "time whole forwards of that model on pyprune.runtime (min, median, max) on random inputs of its "
        "example shapes, and with --layers each node's time inside its kernels; torch is not needed.",
        epilog="example: pyprune bench mobilenet.pyprune --threads 1 2 --layers",
    )
    bench.add_argument("file", nargs="?", type=input_file, metavar="FILE",
                       help="a packed model file to time (written by pyprune.pack.save with example inputs)")
    bench.add_argument("--suite", action="append", choices=list(SUITES), help="layer suite (repeatable; default: all)")
    bench.add_argument("--threads", type=thread_count, nargs="+", default=[1], help="thread counts to run (default: 1)")
    bench.add_argument("--rounds", type=whole_number(1), default=15,
                       help="timing rounds per layer, or forwards of FILE's model; medians are reported (default: 15)")
    bench.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    bench.add_argument("--layers", action="store_true", help="with FILE: each node's median time inside its kernels")
    bench.add_argument("--keep-compressed", action="store_true",
                       help="with FILE: keep the weights Huffman-coded in memory, decoded as each node runs")
    bench.set_defaults(run=run)
