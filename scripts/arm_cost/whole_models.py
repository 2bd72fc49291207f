"""The whole models of the report, built on the host with torch: pyprune.models' MobileNetV1 and
MobileNetV2 (random weights, seed 0, eval mode) at 224x224, batch 1. ncnn_peer.py exports them
for ncnn; pack() packs their inference graphs for pyprune's runtime (guest/pyprune_forward.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arm_cost.counter import CountError

MODELS = ("MobileNetV1", "MobileNetV2")
INPUT_SHAPE = (1, 3, 224, 224)


@dataclass(frozen=True)
class Model:
    name: str
    module: Any  # torch.nn.Module
    example: Any  # torch.Tensor of INPUT_SHAPE
    macs: int  # pyprune.stats' count


def build() -> list[Model]:
    try:
        import torch

        # pyprune.prune before pyprune.stats: importing stats first is circular
        # (stats -> prune.modes -> prune -> prune.loop -> stats).
        from pyprune import models, prune, stats  # noqa: F401
    except ImportError as e:
        raise CountError(f"building the models needs torch and pyprune on the host ({e}): "
                         "run with the development venv, .venv/bin/python (make install)") from None
    built = []
    for name in MODELS:
        torch.manual_seed(0)
        module = getattr(models, name)().eval()
        x = torch.rand(INPUT_SHAPE)
        built.append(Model(name, module, x, stats.count(module, x).macs))
    return built


def pack(work: Path) -> Path:
    """Packs every model's inference graph into work/ (lossless: the weights bit for bit, as
    ncnn's fp32 ones) and writes the guest's plan there."""
    models = build()
    from pyprune import pack as packing
    from pyprune.capture.pipeline import inference_graph

    plan = []
    for model in models:
        path = work / f"{model.name}.pyprune"
        packing.save_graph(inference_graph(model.module, (model.example,)), path, lossless=True)
        plan.append({"model": model.name, "runtime": "pyprune", "file": str(path), "macs": model.macs})
    path = work / "pyprune-plan.json"
    path.write_text(json.dumps(plan))
    return path
