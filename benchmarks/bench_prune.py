"""pyprune's structured pruning side by side with Torch-Pruning (a development dependency).

Under pytest: the time to prune each model with each library at 30 % and 50 %, with the
parameter and MAC reductions in extra_info (skipped when torch_pruning is not installed).
As a script, the full comparison including accuracy after fine-tuning on digits:

    python benchmarks/bench_prune.py
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
from pyprune.prune import L1, prune_filters  # noqa: E402
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


if __name__ == "__main__":
    for row in comparison():
        print(row, flush=True)
