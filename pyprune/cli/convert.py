"""pyprune convert: which layers of a model pyprune's kernels take, and how fast it then runs."""

from __future__ import annotations

import argparse

from pyprune.cli.argtypes import thread_count, whole_number
from pyprune.cli.errors import UserError
from pyprune.cli.model_args import add_model_arguments, example_input, load_model

__all__ = ["add_parser"]


def run(args: argparse.Namespace) -> None:
    model = load_model(args)  # first: it says clearly when torch is missing
    x = example_input(args)

    import torch

    import pyprune
    from pyprune.nn import SparsePolicy
    from pyprune.timing import median_seconds

    try:
        fast = pyprune.convert(model, x, sparse=None if args.dense else SparsePolicy())
    except (ValueError, TypeError, RuntimeError) as e:
        raise UserError(str(e)) from None
    print(fast.conversion_report)
    pyprune.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    with torch.inference_mode():
        t = median_seconds({"torch": lambda: model(x), "pyprune": lambda: fast(x)}, args.rounds, threaded=args.threads > 1)
    print(f"\nlatency, input {tuple(x.shape)}, {args.threads} thread{'s' * (args.threads > 1)}, isa {pyprune.isa()}: "
          f"torch {t['torch'] * 1e3:.3f} ms, pyprune {t['pyprune'] * 1e3:.3f} ms, "
          f"speedup {t['torch'] / t['pyprune']:.2f}x")


def add_parser(commands: argparse._SubParsersAction) -> None:
    convert = commands.add_parser(
        "convert",
        help="swap a model's slow layers for pyprune's kernels and report what changed",
        description="Build the model, convert it with pyprune.convert (BatchNorm folded, "
        "activations fused, convolutions on pyprune's dense or sparse kernels), print which "
        "layers were swapped, and time it against the original.",
        epilog="example: pyprune convert pyprune.models:MobileNetV2 --input-shape 1,3,224,224",
    )
    add_model_arguments(convert)
    convert.add_argument("--dense", action="store_true", help="never use the sparse kernels")
    convert.add_argument("--threads", type=thread_count, default=1, help="threads for both libraries (default: 1)")
    convert.add_argument("--rounds", type=whole_number(1), default=10, help="timing rounds (default: 10)")
    convert.set_defaults(run=run)
