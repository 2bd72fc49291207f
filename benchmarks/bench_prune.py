"""pyprune's structured pruning side by side with Torch-Pruning (a development dependency).

Under pytest: the time to prune each model with each library at 30 % and 50 %, with the
parameter and MAC reductions in extra_info (skipped when torch_pruning is not installed).
As a script, the full comparison including accuracy after fine-tuning on digits:

    python benchmarks/bench_prune.py

and on the zoo of real architectures (tests/zoo.py; digits upsampled as the demo does), each
pruned by Torch-Pruning at a ratio and by pyprune to the MACs Torch-Pruning kept (once per
target allocation), then fine-tuned alike, over several seeds (the data is small: one seed
decides nothing):

    PYTHONPATH=tests python benchmarks/bench_prune.py --zoo [--size 32 --epochs 3 --finetune 2
        --ratio 0.5 --seeds 5 --models resnet18,yolov8 --allocations uniform,global --layers]
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
tp = pytest.importorskip("torch_pruning")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared small networks
from small_nets import ResNetStyle, accuracy, train  # noqa: E402

from pyprune.models import MobileNetV1, MobileNetV2  # noqa: E402
from pyprune.prune import L1, Target, prune_filters  # noqa: E402
from pyprune.prune.target import ALLOCATIONS  # noqa: E402
from pyprune.stats import count  # noqa: E402

MODELS = {
    "MobileNetV1 x0.25": lambda: MobileNetV1(num_classes=10, width=0.25, in_channels=1),
    "MobileNetV2 x0.35": lambda: MobileNetV2(num_classes=10, width=0.35, in_channels=1),
    "ResNet-style": lambda: ResNetStyle(in_channels=1),
}
RATIOS = (0.3, 0.5)
EXAMPLE = torch.zeros(1, 1, 8, 8)


def head(model: torch.nn.Module) -> torch.nn.Module:
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]


def prune_with_pyprune(model: torch.nn.Module, ratio: float) -> torch.nn.Module:
    return prune_filters(model, EXAMPLE, ratio, criterion=L1())


def prune_with_torch_pruning(model: torch.nn.Module, ratio: float) -> torch.nn.Module:
    model = copy.deepcopy(model)
    pruner = tp.pruner.MetaPruner(model, EXAMPLE, importance=tp.importance.MagnitudeImportance(p=1),
                                  pruning_ratio=ratio, ignored_layers=[head(model)])
    pruner.step()
    return model


TOOLS = {"pyprune": prune_with_pyprune, "torch-pruning": prune_with_torch_pruning}


@pytest.mark.parametrize("ratio", RATIOS, ids=lambda r: f"{r:.0%}")
@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("tool", TOOLS)
def test_prune(benchmark, tool, model_name, ratio):
    torch.manual_seed(0)
    model = MODELS[model_name]().eval()
    benchmark.group = f"prune {model_name} {ratio:.0%}"
    pruned = benchmark.pedantic(TOOLS[tool], args=(model, ratio), rounds=3, iterations=1)
    before, after = count(model, EXAMPLE), count(pruned, EXAMPLE)
    benchmark.extra_info.update(tool=tool, params_kept=after.params / before.params, macs_kept=after.macs / before.macs)
    with torch.no_grad():
        assert pruned(EXAMPLE).shape == (1, 10)
    assert after.params < before.params


def comparison(epochs: int = 10, finetune_epochs: int = 5) -> Iterator[str]:
    """Train each model on digits, prune it with both libraries, fine-tune: a table, row by row."""
    yield (f"{'model':<18} {'ratio':>5}  {'tool':<13} {'params':>9} {'kept':>6} {'MACs':>10} {'kept':>6} "
           f"{'acc pruned':>10} {'acc tuned':>9} {'trained':>7}")
    for model_name, factory in MODELS.items():
        torch.manual_seed(0)
        model = factory()
        train(model, epochs)
        trained = accuracy(model)
        before = count(model, EXAMPLE)
        for ratio in RATIOS:
            for tool, prune in TOOLS.items():
                pruned = prune(model, ratio)
                after = count(pruned, EXAMPLE)
                at_once = accuracy(pruned)
                train(pruned, finetune_epochs, lr=1e-3, seed=1)
                yield (f"{model_name:<18} {ratio:>5.0%}  {tool:<13} {after.params:>9,} "
                       f"{after.params / before.params:>6.1%} {after.macs:>10,} {after.macs / before.macs:>6.1%} "
                       f"{at_once:>10.1%} {accuracy(pruned):>9.1%} {trained:>7.1%}")


ZOO_MODELS = ("mobilenet_v3", "efficientnet", "resnet18", "shufflenet_v2", "ghostnet", "convnext", "yolov8")


class OnDigits(torch.nn.Module):
    """A zoo model on grey digits: the image repeated to three channels in, and for models
    returning maps (detectors), each map averaged and one linear layer to the ten classes."""

    def __init__(self, model: torch.nn.Module, outputs: int) -> None:
        super().__init__()
        self.model = model
        self.fc = torch.nn.Linear(outputs, 10) if outputs != 10 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x.expand(-1, 3, -1, -1))
        if isinstance(y, (list, tuple)):
            y = torch.cat([t.mean((2, 3)) for t in y], 1)
        elif y.dim() == 4:
            y = y.mean((2, 3))
        return y if self.fc is None else self.fc(y)


def _fit(model: torch.nn.Module, data, epochs: int, lr: float, seed: int) -> None:
    """Adam on the digits, batches of 64 drawn with `seed`; the global generator (dropout,
    stochastic depth) is seeded too, so that both libraries' models are fine-tuned alike."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(data.train_y), generator=generator).split(64):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(data.train_x[batch]), data.train_y[batch]).backward()
            optimizer.step()
    model.eval()


def _accuracy(model: torch.nn.Module, data) -> float:
    with torch.no_grad():
        return float((model.eval()(data.test_x).argmax(1) == data.test_y).float().mean())


def _widths(model: torch.nn.Module) -> dict[str, int]:
    """Output channels of every convolution and linear layer."""
    return {name: m.out_channels if isinstance(m, torch.nn.Conv2d) else m.out_features
            for name, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}


def _on_digits(name: str, seed: int, size: int) -> torch.nn.Module:
    """Zoo model `name` (built with `seed`) wrapped for size x size digits."""
    from zoo import build

    inner = build(name, seed)[0]
    with torch.no_grad():
        out = inner(torch.zeros(1, 3, size, size))
    outputs = sum(t.shape[1] for t in out) if isinstance(out, (list, tuple)) else out.shape[1]
    torch.manual_seed(seed)
    return OnDigits(inner, outputs)


def _trained(name: str, seed: int, data, epochs: int) -> torch.nn.Module:
    model = _on_digits(name, seed, data.image_size)
    _fit(model, data, epochs, 3e-3, seed)
    return model


@pytest.mark.parametrize("seed", (0, 1))
@pytest.mark.parametrize("name", ("mobilenet_v3", "efficientnet", "resnet18"))
def test_at_torch_prunings_macs_pyprune_keeps_the_same_network(name, seed):
    """On the zoo models Torch-Pruning can prune, pyprune's defaults (group L1, uniform target
    allocation) given the MACs Torch-Pruning's group L1 keeps at ratio 0.5 remove the same
    channels: the same network, so the same accuracy after the same fine-tuning, on any seed."""
    model = _on_digits(name, seed, 32).eval()
    x = torch.rand(2, 1, 32, 32)
    theirs = copy.deepcopy(model)
    tp.pruner.MetaPruner(theirs, x, importance=tp.importance.MagnitudeImportance(p=1), pruning_ratio=0.5,
                         ignored_layers=[head(theirs)]).step()
    kept = count(theirs, x).macs / count(model, x).macs
    ours = prune_filters(model, x, target=Target.macs(kept), criterion=L1()).state_dict()
    theirs = theirs.state_dict()
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key].shape == value.shape and torch.equal(ours[key], value), key


def zoo_comparison(size: int = 32, epochs: int = 3, finetune: int = 2, ratio: float = 0.5,
                   seeds: tuple[int, ...] = (0,), models: tuple[str, ...] = ZOO_MODELS,
                   layers: bool = False, allocations: tuple[str, ...] = ALLOCATIONS) -> Iterator[str]:
    """For each model and seed: train on digits, prune with Torch-Pruning at `ratio` (group
    L1, every layer at that ratio, head ignored), then with pyprune, once per target
    allocation, to the MACs Torch-Pruning kept (group L1, Target.macs; when Torch-Pruning
    fails, to (1 - ratio)², what cutting every layer's inputs and outputs by `ratio` keeps),
    fine-tune each `finetune` epochs alike (same batches, same seed); a row per (model, seed,
    tool), then per model and tool the mean and standard deviation over the seeds, the MACs
    kept against the MACs asked, and pyprune's fine-tuned accuracy minus Torch-Pruning's.
    `layers`: also the output channels each kept per layer."""
    from pyprune.demo.data import load_digits

    data = load_digits(size)
    x = data.train_x[:2]
    results: dict[tuple[str, str], list[tuple[float, float, float, float, float]]] = {}
    yield (f"{'model':<14} {'seed':>4} {'tool':<15} {'params kept':>11} {'MACs kept':>9} {'MACs asked':>10} "
           f"{'acc pruned':>10} {'acc tuned':>9} {'trained':>7}")
    for name in models:
        for seed in seeds:
            model = _trained(name, seed, data, epochs)
            trained, before = _accuracy(model, data), count(model, x)
            kept_macs, widths = None, {"original": _widths(model)}
            for tool in ("torch-pruning", *(f"pyprune-{a}" for a in allocations)):
                asked = kept_macs or (1 - ratio) ** 2
                try:
                    if tool == "torch-pruning":
                        pruned = copy.deepcopy(model)
                        tp.pruner.MetaPruner(pruned, x, importance=tp.importance.MagnitudeImportance(p=1),
                                             pruning_ratio=ratio, ignored_layers=[head(pruned)]).step()
                        kept_macs = asked = count(pruned, x).macs / before.macs
                    else:
                        allocation = tool.removeprefix("pyprune-")
                        pruned = prune_filters(model, x, target=Target.macs(asked, allocation), criterion=L1())
                    with torch.no_grad():
                        pruned(x)
                except Exception as e:  # a peer that cannot prune the model is a result too
                    yield f"{name:<14} {seed:>4} {tool:<15} failed: {type(e).__name__}: {str(e)[:60]}"
                    continue
                after = count(pruned, x)
                widths[tool] = _widths(pruned)
                at_once = _accuracy(pruned, data)
                _fit(pruned, data, finetune, 1e-3, seed + 1)
                tuned = _accuracy(pruned, data)
                results.setdefault((name, tool), []).append(
                    (after.params / before.params, after.macs / before.macs, asked, at_once, tuned))
                yield (f"{name:<14} {seed:>4} {tool:<15} {after.params / before.params:>11.1%} "
                       f"{after.macs / before.macs:>9.1%} {asked:>10.1%} {at_once:>10.1%} {tuned:>9.1%} "
                       f"{trained:>7.1%}")
            if layers:
                tools = list(widths)
                yield f"  {'layer':<40} " + " ".join(f"{t:>15}" for t in tools)
                yield from (f"  {layer:<40} " + " ".join(f"{widths[t].get(layer, 0):>15}" for t in tools)
                            for layer in widths["original"])
    yield from _summary(results, len(seeds))


def _summary(results: dict[tuple[str, str], list[tuple[float, float, float, float, float]]],
             seeds: int) -> Iterator[str]:
    """Per model and tool: means (± standard deviations) over the seeds, the largest relative
    miss of the MACs asked, and the fine-tuned accuracy minus Torch-Pruning's, seed by seed."""
    def spread(values: list[float]) -> str:
        mean = sum(values) / len(values)
        sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
        return f"{mean:6.1%} ± {sd:4.1%}"

    yield ""
    yield (f"{'model':<14} {'tool':<15} {'params kept':>11} {'MACs kept':>9} {'MACs asked':>10} {'worst miss':>10} "
           f"{'acc pruned':>15} {'acc tuned':>15} {'tuned - TP':>15}  (mean ± sd over {seeds} seeds)")
    for (name, tool), rows in results.items():
        peer = results.get((name, "torch-pruning"))
        paired = spread([r[4] - p[4] for r, p in zip(rows, peer)]) if tool != "torch-pruning" and peer and \
            len(peer) == len(rows) else ""
        miss = max(abs(r[1] / r[2] - 1) for r in rows)
        yield (f"{name:<14} {tool:<15} {sum(r[0] for r in rows) / len(rows):>11.1%} "
               f"{sum(r[1] for r in rows) / len(rows):>9.1%} {sum(r[2] for r in rows) / len(rows):>10.1%} "
               f"{miss:>10.1%} {spread([r[3] for r in rows]):>15} {spread([r[4] for r in rows]):>15} {paired:>15}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", action="store_true", help="the zoo of real architectures")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--finetune", type=int, default=2)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0 .. SEEDS-1 (model, training, fine-tuning)")
    parser.add_argument("--models", default=",".join(ZOO_MODELS), help="comma-separated zoo models")
    parser.add_argument("--layers", action="store_true", help="output channels kept per layer by each tool")
    parser.add_argument("--allocations", default=",".join(ALLOCATIONS), help="comma-separated target allocations")
    args = parser.parse_args()
    rows = zoo_comparison(args.size, args.epochs, args.finetune, args.ratio, tuple(range(args.seeds)),
                          tuple(args.models.split(",")), args.layers,
                          tuple(args.allocations.split(","))) if args.zoo else comparison()
    for row in rows:
        print(row, flush=True)
