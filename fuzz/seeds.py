"""Real packed files of small models: the seed corpus of fuzz_pack.py, and what the tests of
pyprune.pack mutate. Dense and pruned weights, weight-shared and lossless, with a channel plan,
example inputs and module versions (the state_dict alone), and one with the model's graph.
Run: python fuzz/seeds.py DIR (needs torch)."""

import sys
from pathlib import Path

import torch
from torch import nn

from pyprune import pack, prune

X = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def small_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 3, groups=16),
                         nn.Conv2d(16, 24, 1), nn.ReLU(), nn.Flatten(), nn.Linear(24 * 4 * 4, 10)).eval()


def _weights(sparsity: float, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = small_model()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and sparsity:
                m.weight[torch.rand_like(m.weight) < sparsity] = 0
    return model


def write_seeds(out: Path) -> dict[str, Path]:
    """The files, by name; each loads into small_model()."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for sparsity in (0.0, 0.8):
        for lossless in (False, True):
            name = f"{'pruned' if sparsity else 'dense'}-{'lossless' if lossless else 'shared'}"
            files[name] = out / f"{name}.pyprune"
            pack.save(_weights(sparsity, seed=1), files[name], example_inputs=X, lossless=lossless, graph=False)
    pruned = prune.prune_filters(_weights(0.0, seed=2), X, 0.5)
    files["channel-plan"] = out / "channel-plan.pyprune"
    pack.save(pruned, files["channel-plan"], example_inputs=X, channel_plan=prune.channel_plan(pruned),
              bits={"conv": 4, "linear": 3}, index_bits=3, graph=False)
    files["graph"] = out / "graph.pyprune"  # with the model's graph, its batch norm folded (scaled)
    pack.save(_weights(0.8, seed=3), files["graph"], example_inputs=X, graph=True)
    return files


if __name__ == "__main__":
    write_seeds(Path(sys.argv[1]))
