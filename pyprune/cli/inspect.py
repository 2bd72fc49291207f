"""pyprune inspect: what a packed model file holds, how much each stage saved and how far the
packed model's outputs were from the original's; its graph as pyprune.runtime runs it
(operators, kernels, shapes, MACs). Needs neither torch nor the model."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pyprune.cli.argtypes import input_file
from pyprune.cli.errors import UserError
from pyprune.graph import structure

if TYPE_CHECKING:
    from pyprune.runtime import Net

__all__ = ["add_parser"]


def _shapes(shapes: tuple[tuple[int, ...], ...]) -> str:
    return " ".join("x".join(map(str, s)) or "scalar" for s in shapes)


def graph_table(net: Net) -> str:
    """Every node of the net as it runs on the example inputs, and the totals."""
    nodes = net.describe()
    rows = [(str(k), n.name, n.op, n.kernel, f"{_shapes(n.input_shapes)} -> {_shapes(n.output_shapes)}",
             f"{n.macs / 1e6:.2f}") for k, n in enumerate(nodes)]
    head = ("#", "node", "op", "kernel", "shapes", "MMACs")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(f"{c:>{w}}" if i in (0, 5) else f"{c:<{w}}" for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in [head, *rows]]
    lines.insert(1, "-" * len(lines[0]))
    lines.append(f"{len(nodes)} nodes, {sum(n.macs for n in nodes) / 1e6:.2f} MMACs, weights {net.weight_bytes:,} "
                 f"bytes in memory, activations {net.arena_bytes():,} bytes (inputs {_shapes(tuple(net.input_shapes))})")
    batch = "any batch" if net.dynamic_batch else "the example's batch"
    sizes = "the example's other sizes" if net.fixed_sizes else "other sizes where the operators allow them"
    nested = "".join(f"; {what} {structure.describe(tree)}" for what, tree in (
        ("takes its arguments as", net.input_structure), ("gives its outputs as", net.output_structure)) if tree is not None)
    lines.append(f"runs {batch}, {sizes}{nested}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    from pyprune.pack import PackError, inspect
    from pyprune.runtime import load

    try:
        report = inspect(args.file)
        net = load(args.file) if report.graph else None
    except PackError as e:
        raise UserError(f"{args.file}: {e}") from None
    print(f"{args.file}: {report.file_bytes} bytes")
    print(report)
    if net is not None:
        print()
        print(graph_table(net))


def add_parser(commands: argparse._SubParsersAction) -> None:
    inspect = commands.add_parser(
        "inspect",
        help="show what a packed model file holds and how much each stage saved",
        description="Print a packed file's per-layer table (parameters, non-zeros, bits per weight and "
        "per index, bytes, ratio), Deep Compression's breakdown (original fp32, after pruning, "
        "after weight sharing, after Huffman coding) and how far the packed model's outputs were "
        "from the original's when it was saved; and the model's graph as pyprune's runtime runs it (each node's "
        "operator, kernel, shapes and multiply-accumulates). Every stream of the file and the graph are checked; "
        "torch is not needed.",
        epilog="example: pyprune inspect mobilenet.pyprune",
    )
    inspect.add_argument("file", type=input_file, help="a file written by pyprune.pack.save")
    inspect.set_defaults(run=run)
