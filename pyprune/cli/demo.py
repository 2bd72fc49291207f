"""pyprune demo: the whole path on built-in data."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyprune.cli.argtypes import seed
from pyprune.cli.errors import UserError

__all__ = ["add_parser"]


def run(args: argparse.Namespace) -> None:
    from pyprune.demo import DemoConfig, run_demo

    changes = {"out_dir": Path(args.out), "seed": args.seed, "progress": not args.no_progress}
    config = DemoConfig.quick(**changes) if args.quick else DemoConfig(**changes)
    try:
        result = run_demo(config)  # checks first that it can write to out_dir
    except OSError as e:
        raise UserError(f"cannot write to {args.out}: {e.strerror or e}") from None
    print()
    print(result)
    print(f"\nsensitivity plot: {result.sensitivity_plot}\npacked model:     {result.packed_file}"
          f"  (pyprune inspect {result.packed_file})")


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="train, prune, compress, pack and run a small CNN on built-in digit images",
        description="Train a small MobileNet-style CNN on scikit-learn's handwritten digits, run "
        "sensitivity analysis, remove filters where layers tolerate it, prune the pointwise "
        "layers in blocks, share weights, pack to one file, load it onto pyprune's kernels, and "
        "print parameters, MACs, file size, accuracy and latency per stage. A few minutes on 2 "
        "cores; deterministic for a seed.",
        epilog="example: pyprune demo --out /tmp/demo",
    )
    demo.add_argument("--out", default="pyprune-demo", help="folder for the plot and the packed file (default: pyprune-demo)")
    demo.add_argument("--seed", type=seed, default=0, help="seed of data split, initialisation and training (default: 0)")
    demo.add_argument("--quick", action="store_true",
                      help="a few epochs on 16x16 images (tests, CI): the same path, a less accurate model")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(run=run)
