"""pyprune pack: compress a model into one packed file."""

from __future__ import annotations

import argparse

from pyprune.cli.argtypes import output_file, whole_number
from pyprune.cli.errors import UserError, os_error
from pyprune.cli.model_args import add_model_arguments, example_input, load_model

__all__ = ["add_parser"]

GRAPH = {"auto": "auto", "yes": True, "no": False}  # --graph: pack.save's graph=


def run(args: argparse.Namespace) -> None:
    model = load_model(args)  # first: it says clearly when torch is missing

    from pyprune import pack

    bits = None if args.lossless else {"conv": args.conv_bits, "linear": args.linear_bits}
    try:
        result = pack.save(model, args.output, bits=bits, example_inputs=example_input(args), lossless=args.lossless,
                           graph=GRAPH[args.graph])
    except OSError as e:
        raise os_error(e, f"write {args.output}") from None
    except ValueError as e:
        raise UserError(str(e)) from None
    print(pack.inspect(args.output))
    print(f"\n{result}")
    if result.runs_without_torch:
        print(f"on a board (pip install pyprune, no torch): pyprune run {args.output} --input x.npy")


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "pack",
        help="compress a model (weight sharing + Huffman coding) into one safe file",
        description="Build the model (and load its weights), share the weights of every convolution "
        "and linear layer among 2^bits values (k-means), store sparse layers as relative gaps, "
        "Huffman-code everything, and write one versioned, checksummed file without pickle; "
        "prints what pyprune inspect prints and how far the packed model's outputs are from the "
        "original's on the example input (--lossless: identical), and whether the file runs without "
        "torch: it does when the model is captured whole on pyprune's operators (its graph is stored "
        "beside the weights; pyprune run FILE, pyprune.runtime.load(FILE)).",
        epilog="example: pyprune pack pyprune.models:MobileNetV2 --weights mnv2.pt -o mnv2.pyprune",
    )
    add_model_arguments(p)
    p.add_argument("--conv-bits", type=whole_number(1, 8), default=8,
                   help="bits per convolution weight index (default: 8)")
    p.add_argument("--linear-bits", type=whole_number(1, 8), default=5,
                   help="bits per linear weight index (default: 5)")
    p.add_argument("--lossless", action="store_true",
                   help="share no weights: every weight stored bit for bit (sparse ones as non-zeros and gaps)")
    p.add_argument("--graph", choices=tuple(GRAPH), default="auto",
                   help="store the model's graph for running without torch: auto (when it can be captured whole; "
                   "default), yes (an error saying why when it cannot), no")
    p.add_argument("-o", "--output", required=True, type=output_file, help="the packed file to write")
    p.set_defaults(run=run)
