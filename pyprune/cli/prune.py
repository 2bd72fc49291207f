"""pyprune prune: remove filters of a model and pack the result into one file."""

from __future__ import annotations

import argparse
import warnings

from pyprune.cli.argtypes import fraction, output_file
from pyprune.cli.errors import UserError, os_error
from pyprune.cli.model_args import add_model_arguments, example_input, load_model

__all__ = ["add_parser"]

CRITERIA = ("l0", "l1", "l2", "fpgm", "bn_scale", "random")


def run(args: argparse.Namespace) -> None:
    if args.allocation is not None and args.target_macs is None:
        raise UserError("--allocation applies to --target-macs")
    model = load_model(args)  # it says clearly when torch is missing
    x = example_input(args)

    from pyprune import pack, prune, stats
    from pyprune.prune.target import DEFAULT_ALLOCATION

    criterion = {"l0": prune.L0, "l1": prune.L1, "l2": prune.L2, "fpgm": prune.FPGM,
                 "bn_scale": prune.BNScale, "random": prune.Random}[args.criterion]()
    target = None if args.target_macs is None else prune.Target.macs(args.target_macs,
                                                                      args.allocation or DEFAULT_ALLOCATION)
    try:
        with warnings.catch_warnings():  # the report below says it
            warnings.simplefilter("ignore", prune.PruningWarning)
            pruned = prune.prune_filters(model, x, args.amount, criterion=criterion, ignore=args.ignore or (),
                                         target=target)
    except prune.PruningError as e:
        raise UserError(str(e)) from None
    print(prune.pruning_report(pruned))
    print()
    print(stats.compare(stats.count(model, x), stats.count(pruned, x)))
    try:
        result = pack.save(pruned, args.output, example_inputs=x, channel_plan=prune.channel_plan(pruned))
    except OSError as e:
        raise os_error(e, f"write {args.output}") from None
    print(f"\n{result}\nload it with pyprune.pack.load({args.output!r}, {args.factory.split(':')[-1]})")


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "prune",
        help="remove a fraction of a model's filters and pack the pruned model",
        description="Build the model (and load its weights), remove `amount` of the filters of every "
        "prunable group of layers by the chosen criterion (residual and concatenated layers stay "
        "consistent), print what was pruned and what was left whole and why, parameters and MACs before and after, and pack the result with its "
        "channel plan, so pyprune.pack.load rebuilds it from the same factory. Fine-tune from "
        "Python (pyprune.prune.prune_and_finetune) for accuracy.",
        epilog="example: pyprune prune pyprune.models:MobileNetV1 --amount 0.5 -o mobilenet-half.pyprune",
    )
    add_model_arguments(p)
    p.add_argument("--amount", type=fraction, default=0.5, help="fraction of filters to remove, in [0, 1) (default: 0.5)")
    p.add_argument("--target-macs", type=fraction, metavar="FRACTION",
                   help="instead of --amount: keep at most this fraction of the MACs, cutting the least important "
                   "channels as --allocation says")
    p.add_argument("--allocation", choices=("uniform", "global"),  # pyprune.prune.target.ALLOCATIONS (needs torch)
                   help="where --target-macs cuts: 'uniform', the same fraction of every group of coupled layers "
                   "(default), or 'global', the least important channels per MAC across the model")
    p.add_argument("--criterion", choices=CRITERIA, default="l1", help="filter importance (default: l1)")
    p.add_argument("--ignore", nargs="+", metavar="LAYER", help="layers whose shapes must not change")
    p.add_argument("-o", "--output", required=True, type=output_file, help="the packed file to write")
    p.set_defaults(run=run)
