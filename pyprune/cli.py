"""The pyprune command line."""

from __future__ import annotations

import argparse
import sys

import pyprune

__all__ = ["main"]


class UserError(Exception):
    """A mistake in the command line or its inputs: reported in one line, no traceback."""


def _bench(args: argparse.Namespace) -> None:
    from pyprune.bench import SUITES, compare, format_table, to_json

    try:
        import torch  # noqa: F401  (the peer)
    except ImportError:
        raise UserError("pyprune bench compares against torch: pip install 'pyprune[torch]'") from None
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


def _inspect(args: argparse.Namespace) -> None:
    try:
        from pyprune.pack import PackError, inspect
    except ImportError as e:
        raise UserError(f"pyprune inspect needs torch and safetensors: {e}") from None
    try:
        report = inspect(args.file)
    except PackError as e:
        raise UserError(f"{args.file}: {e}") from None
    print(f"{args.file}: {report.file_bytes} bytes")
    print(report)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from pyprune.bench import SUITES

    parser = argparse.ArgumentParser(
        prog="pyprune",
        description="Prune, compress and run CNNs fast on ARM boards.",
    )
    parser.add_argument("--version", action="version", version=f"pyprune {pyprune.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench = commands.add_parser(
        "bench",
        help="time pyprune's kernels against torch on standard network layers",
        description="Time pyprune's kernels against torch on the same inputs, in one process, "
        "and print per-layer and summed times with the speedup.",
        epilog="example: pyprune bench --suite depthwise/mobilenet_v1 --threads 1 2",
    )
    bench.add_argument("--suite", action="append", choices=list(SUITES), help="layer suite (repeatable; default: all)")
    bench.add_argument("--threads", type=_positive, nargs="+", default=[1], help="thread counts to run (default: 1)")
    bench.add_argument("--rounds", type=_positive, default=15, help="timing rounds per layer; medians are reported (default: 15)")
    bench.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    bench.set_defaults(run=_bench)
    inspect = commands.add_parser(
        "inspect",
        help="show what a packed model file holds and how much each stage saved",
        description="Print a packed file's per-layer table (parameters, non-zeros, bits per weight and "
        "per index, bytes, ratio) and Deep Compression's breakdown: original fp32, after pruning, "
        "after weight sharing, after Huffman coding.",
        epilog="example: pyprune inspect mobilenet.pyprune",
    )
    inspect.add_argument("file", help="a file written by pyprune.pack.save")
    inspect.set_defaults(run=_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except UserError as e:
        print(f"pyprune {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
