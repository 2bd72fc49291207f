"""The demo, end to end: train a small MobileNet on the digits, find how much each layer
tolerates pruning, remove filters where it does, sparsify the pointwise layers in blocks the
sparse kernels like, share weights, pack to one file, load it back onto pyprune's kernels, and
measure every stage."""

from __future__ import annotations

import errno
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

import pyprune
from pyprune import runtime
from pyprune.demo.data import load_digits
from pyprune.demo.model import DigitsMobileNet
from pyprune.demo.report import Stage, format_stages
from pyprune.demo.training import accuracy, train
from pyprune.progress import progress_bar
from pyprune.stats import count
from pyprune.timing import median_seconds

__all__ = ["DemoConfig", "DemoResult", "RuntimeCheck", "run_demo"]


@dataclass(frozen=True)
class DemoConfig:
    epochs: int = 8  # initial training
    finetune_epochs: int = 3  # after filter pruning, per sparsity step, after weight sharing
    width: float = 1.0
    image_size: int = 32
    sensitivity_ratios: tuple[float, ...] = (0.25, 0.5, 0.75)
    accuracy_budget: float = 5.0  # points a layer may lose to filter pruning before fine-tuning
    pointwise_sparsity: float = 0.8
    block: int = 4  # output channels per pruned block: the sparse kernels' block size
    sparsity_steps: int = 3  # gradual (cubic) schedule
    conv_bits: int = 6
    linear_bits: int = 5
    seed: int = 0
    timing_rounds: int = 30
    out_dir: Path = Path("pyprune-demo")
    progress: bool = True

    @classmethod
    def quick(cls, **changes) -> DemoConfig:
        """A few epochs on 16x16 images (a quarter of the work), for tests and CI: the same path,
        a less accurate model."""
        base = dict(epochs=4, finetune_epochs=1, image_size=16, sensitivity_ratios=(0.5,), sparsity_steps=2,
                    timing_rounds=5)
        return cls(**{**base, **changes})


RUNTIME = "pyprune.runtime"


@dataclass(frozen=True)
class RuntimeCheck:
    """The packed file run by pyprune.runtime (numpy alone) against the same weights in torch."""

    max_abs: float  # largest |runtime - torch| over the test images' logits
    runtime_ms: float  # batch 1, 1 thread, median
    torch_ms: float

    def __str__(self) -> str:
        return (f"the packed file on pyprune.runtime (no torch): logits within {self.max_abs:.2g} of torch's on "
                f"the test images; {self.runtime_ms:.3f} ms per forward, torch {self.torch_ms:.3f} ms")


@dataclass
class DemoResult:
    stages: list[Stage]
    packed_file: Path
    sensitivity_plot: Path
    runtime: RuntimeCheck | None = None  # None when the file holds no graph

    def __str__(self) -> str:
        table = format_stages(self.stages)
        return table if self.runtime is None else f"{table}\n\n{self.runtime}"


def _state_dict_bytes(model: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def _effective(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(non-zero parameters, multiply-accumulates of the non-zero weights) for one input."""
    counted = count(model, x)
    return counted.nonzero, counted.nonzero_macs


def _max_difference(net: runtime.Net, model: nn.Module, x: torch.Tensor) -> float:
    with torch.inference_mode():
        want = model.eval()(x).numpy()
    return float(np.abs(net(x.numpy()) - want).max())


def _latency(models: dict[str, Callable[[torch.Tensor], object]], x: torch.Tensor, rounds: int,
             progress: bool) -> dict[str, float]:
    """Median batch-1 latency of each model, 1 thread, in milliseconds."""
    threads = (torch.get_num_threads(), pyprune.get_num_threads())
    torch.set_num_threads(1)
    pyprune.set_num_threads(1)
    try:
        with torch.inference_mode(), progress_bar(len(models) * rounds, "latency", "round", progress) as bar:
            seconds = median_seconds({name: (lambda m=m: m(x)) for name, m in models.items()}, rounds,
                                     progress=bar.update)
    finally:
        torch.set_num_threads(threads[0])
        pyprune.set_num_threads(threads[1])
    return {name: s * 1e3 for name, s in seconds.items()}


def _writable_dir(path: Path) -> None:
    """Creates `path` if needed and checks a file can be written there, so that a bad output
    folder fails before minutes of training rather than after (OSError)."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    os.makedirs(path, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
        pass


def run_demo(config: DemoConfig = DemoConfig(), log: Callable[[str], None] = print) -> DemoResult:
    """Runs every stage and returns the table; deterministic for a given config.seed. Stages
    that take seconds show progress bars (on stderr) unless config.progress is False."""
    from pyprune import pack, prune

    torch.manual_seed(config.seed)
    _writable_dir(config.out_dir)
    data = load_digits(config.image_size, seed=config.seed)
    x = data.test_x[:1]
    evaluate = lambda m: accuracy(m, data)  # noqa: E731

    def finetune(m: nn.Module, epochs: int) -> None:
        train(m, data, epochs, seed=config.seed + 1, progress=config.progress, desc="fine-tune")

    log(f"1/7 training a depthwise-separable CNN on {len(data.train_y)} digit images "
        f"({config.image_size}x{config.image_size}), {config.epochs} epochs")
    factory = lambda: DigitsMobileNet(width=config.width)  # noqa: E731
    original = train(factory(), data, config.epochs, seed=config.seed, progress=config.progress)
    log(f"    test accuracy {evaluate(original):.2f} %")

    log("2/7 sensitivity: each layer's filters pruned alone")
    sens = prune.sensitivity(original, x, evaluate, ratios=config.sensitivity_ratios, progress=config.progress,
                             metric_name="test accuracy (%)")
    amounts = sens.ratios_within(config.accuracy_budget)
    plot = sens.plot(config.out_dir / "sensitivity.png", chosen=amounts)
    log(f"    plot written to {plot}; layers pruned within {config.accuracy_budget} point: "
        f"{sum(a > 0 for a in amounts.values())} of {len(sens.metrics)}")

    log("3/7 removing filters where layers tolerate it, then fine-tuning")
    structured = prune.prune_filters(original, x, amounts or 0.0, criterion=prune.L1())
    finetune(structured, config.finetune_epochs)
    plan = prune.channel_plan(structured)
    log(f"    test accuracy {evaluate(structured):.2f} %")

    log(f"4/7 pruning {config.pointwise_sparsity:.0%} of the pointwise weights in {config.block}x1 blocks, "
        f"gradually, with fine-tuning")
    pointwise = [n for n, m in structured.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    others = [n for n, m in structured.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and n not in pointwise]
    method = prune.MagnitudePruning(block=config.block, include_depthwise=False, ignore=others)
    sparse, history = prune.prune_and_finetune(
        structured, x, config.pointwise_sparsity, method=method, train_fn=finetune, eval_fn=evaluate,
        schedule=prune.GradualCubic(config.sparsity_steps), epochs=config.finetune_epochs, progress=config.progress,
        metric_name="test accuracy (%)")
    log(f"    test accuracy {history.steps[-1].metric:.2f} %")

    log(f"5/7 sharing weights ({config.conv_bits}-bit convolutions, {config.linear_bits}-bit linear), "
        "fine-tuning the centroids")
    bits = {"conv": config.conv_bits, "linear": config.linear_bits}
    pack.tie_shared_weights(sparse, bits)
    finetune(sparse, config.finetune_epochs)
    pack.bake_shared_weights(sparse)
    log(f"    test accuracy {evaluate(sparse):.2f} %")

    path = config.out_dir / "digits.pyprune"
    log(f"6/7 packing to {path}")
    saved = pack.save(sparse, path, bits=bits, example_inputs=x, channel_plan=plan)
    file_bytes = saved.file_bytes
    log(f"    {saved.output_error}")
    log(f"    {'runs without torch' if saved.runs_without_torch else 'needs torch: ' + saved.no_graph}")

    log("7/7 loading the file onto pyprune's kernels and measuring every stage")
    loaded_torch = pack.load(path, factory, fast=False)
    dense = pyprune.convert(loaded_torch, x, sparse=None)
    fast = pack.load(path, factory, fast=True)
    models = {"original (torch)": original, "pruned (torch)": loaded_torch, "pyprune dense": dense,
              "pyprune sparse": fast}
    net = runtime.load(path) if saved.runs_without_torch else None
    runners = {**models, **({RUNTIME: lambda t: net(t.numpy())} if net else {})}
    latency = _latency(runners, x, config.timing_rounds, config.progress)
    check = None
    if net is not None:
        check = RuntimeCheck(_max_difference(net, loaded_torch, data.test_x), latency[RUNTIME],
                             latency["pruned (torch)"])
        log(f"    {check}")
    original_bytes = _state_dict_bytes(original)
    sizes = {"original (torch)": original_bytes, "pruned (torch)": _state_dict_bytes(loaded_torch),
             "pyprune dense": file_bytes, "pyprune sparse": file_bytes}
    # Every stage after the original holds the same (pruned) weights: counted once.
    counts = {"original": _effective(original, x), "pruned": _effective(loaded_torch, x)}
    stages = []
    for name, model in models.items():
        params, macs = counts["original" if model is original else "pruned"]
        stages.append(Stage(name, params, macs, sizes[name], evaluate(model), latency[name]))
    return DemoResult(stages, Path(path), plot, check)
