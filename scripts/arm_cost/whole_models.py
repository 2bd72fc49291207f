"""The whole models of the report, built on the host with torch: pyprune.models' MobileNetV1,
MobileNetV2 and ResNet18 (random weights, seed 0, eval mode) at 224x224, batch 1. ncnn_peer.py
exports them for ncnn; pack() packs their inference graphs for pyprune's runtime
(guest/pyprune_forward.py), with one more: MobileNetV1 with its convolutions but the depthwise
ones pruned to 90 % sparsity in blocks of 4 output channels (magnitude), which the runtime runs
on its sparse kernels."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arm_cost.counter import CountError

MODELS = ("MobileNetV1", "MobileNetV2", "ResNet18")
# The pruned model (pyprune's only: ncnn has no sparse kernels): of which model, its name, how.
SPARSE_OF, SPARSE, SPARSITY, BLOCK = "MobileNetV1", "MobileNetV1 90% sparse", 0.9, 4
INPUT_SHAPE = (1, 3, 224, 224)  # of the whole models


@dataclass(frozen=True)
class Model:
    name: str
    module: Any  # torch.nn.Module
    example: Any  # torch.Tensor of INPUT_SHAPE
    macs: int  # pyprune.stats' count


def build() -> list[Model]:
    try:
        import torch

        from pyprune import models, stats
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


def with_pruned(models: list[Model]) -> list[Model]:
    """The models and, after them, the pruned one."""
    from pyprune import prune, stats

    for dense in [m for m in models if m.name == SPARSE_OF]:
        pruned = copy.deepcopy(dense.module)
        prune.prune_magnitude(pruned, SPARSITY, block=BLOCK, include_depthwise=False)
        prune.make_permanent(pruned)
        models = [*models, Model(SPARSE, pruned, dense.example, stats.count(pruned, dense.example).macs)]
    return models


def shapes(model: Model) -> dict[str, list[int]]:
    """The input and output shapes of a model, for the guest's plan."""
    import torch

    with torch.no_grad():
        y = model.module(model.example)
    return {"input_shape": list(model.example.shape), "output_shape": list(y.shape)}


def pack(work: Path, models: list[Model] | None = None, plan_name: str = "pyprune-plan.json") -> Path:
    """Packs every model's inference graph into work/ (lossless: the weights bit for bit, as
    ncnn's fp32 ones) and writes the guest's plan there. By default the report's whole models
    with the pruned one."""
    models = with_pruned(build()) if models is None else models
    from pyprune import pack as packing
    from pyprune.capture.pipeline import inference_graph

    plan = []
    for model in models:
        path = work / f"{slug(model.name)}.pyprune"
        packing.save_graph(inference_graph(model.module, (model.example,)), path, lossless=True)
        plan.append({"model": model.name, "runtime": "pyprune", "file": str(path), "macs": model.macs,
                     **shapes(model)})
    path = work / plan_name
    path.write_text(json.dumps(plan))
    return path


def slug(name: str) -> str:
    """A model's name as a file name."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-")
