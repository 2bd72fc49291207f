"""pyprune pack: compress a model into one packed file."""

from __future__ import annotations

import argparse

from pyprune.cli.errors import UserError
from pyprune.cli.model_args import add_model_arguments, example_input, load_model

__all__ = ["add_parser"]


def _bits(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 8:
        raise argparse.ArgumentTypeError(f"must be in 1..8, got {value}")
    return value


def run(args: argparse.Namespace) -> None:
    from pyprune import pack

    model = load_model(args)
    try:
        size = pack.save(model, args.output, bits={"conv": args.conv_bits, "linear": args.linear_bits},
                         example_inputs=example_input(args))
    except (ValueError, OSError) as e:
        raise UserError(str(e)) from None
    print(pack.inspect(args.output))
    print(f"\nwrote {args.output} ({size:,} bytes)")


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "pack",
        help="compress a model (weight sharing + Huffman coding) into one safe file",
        description="Build the model (and load its weights), share the weights of every convolution "
        "and linear layer among 2^bits values (k-means), store sparse layers as relative gaps, "
        "Huffman-code everything, and write one versioned, checksummed file without pickle; "
        "prints what pyprune inspect prints.",
        epilog="example: pyprune pack pyprune.models:MobileNetV2 --weights mnv2.pt -o mnv2.pyprune",
    )
    add_model_arguments(p)
    p.add_argument("--conv-bits", type=_bits, default=8, help="bits per convolution weight index (default: 8)")
    p.add_argument("--linear-bits", type=_bits, default=5, help="bits per linear weight index (default: 5)")
    p.add_argument("-o", "--output", required=True, help="the packed file to write")
    p.set_defaults(run=run)
