"""Benchmark suites: pyprune against torch, side by side in one process, as tables."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Callable

from pyprune import kernels
from pyprune.bench.cases import (
    Case,
    depthwise_case,
    model_case,
    pointwise_case,
    separable_case,
    sparse_pointwise_case,
)
from pyprune.bench.layers import DEPTHWISE_SUITES, MOBILENET_V1, MOBILENET_V1_128_POINTWISE, MOBILENET_V1_POINTWISE
from pyprune.timing import median_seconds

__all__ = ["SUITES", "Comparison", "compare", "format_table", "to_json"]


@dataclass(frozen=True)
class Comparison:
    layer: str
    macs: int
    pyprune_ms: float
    torch_ms: float
    extra_ms: dict[str, float] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """How many times faster pyprune is than torch."""
        return self.torch_ms / self.pyprune_ms


def compare(case: Case, threads: int = 1, rounds: int = 15) -> Comparison:
    """Checks a case, then times it at the given thread count in both libraries."""
    import torch

    kernels.set_num_threads(threads)
    torch.set_num_threads(threads)
    case.check()
    with torch.inference_mode():
        fns = {"pyprune": case.pyprune, "torch": case.torch, **case.extra}
        t = median_seconds(fns, rounds, threaded=threads > 1)
    extra = {name: t[name] * 1e3 for name in case.extra}
    return Comparison(case.name, case.macs, t["pyprune"] * 1e3, t["torch"] * 1e3, extra)


# Percent of the weights pruned in the sparse suites.
SPARSITY_LEVELS = (50, 60, 70, 80, 90, 95)

# Suite name -> the cases it times, built lazily (building needs torch and allocates).
SUITES: dict[str, Callable[[], list[Case]]] = {
    **{f"depthwise/{name}": (lambda layers=layers: [depthwise_case(l) for l in layers]) for name, layers in DEPTHWISE_SUITES.items()},
    "pointwise/mobilenet_v1": lambda: [pointwise_case(l) for l in MOBILENET_V1_POINTWISE],
    "pointwise/mobilenet_v1@128": lambda: [pointwise_case(l) for l in MOBILENET_V1_128_POINTWISE],
    "separable/mobilenet_v1": lambda: [separable_case(d, p) for d, p in zip(MOBILENET_V1, MOBILENET_V1_POINTWISE)],
    **{
        f"sparse/mobilenet_v1/{level}": (lambda s=level / 100: [sparse_pointwise_case(l, s) for l in MOBILENET_V1_POINTWISE])
        for level in SPARSITY_LEVELS
    },
    "sparse/mobilenet_v1/90/4x1": lambda: [sparse_pointwise_case(l, 0.9, 4) for l in MOBILENET_V1_POINTWISE],
    "sparse/mobilenet_v1@128/90": lambda: [sparse_pointwise_case(l, 0.9) for l in MOBILENET_V1_128_POINTWISE],
    "model": lambda: [model_case("MobileNetV1"), model_case("MobileNetV2")],
    "model/sparse": lambda: [model_case("MobileNetV1", 0.9)],
}


def format_table(title: str, rows: list[Comparison]) -> str:
    extras = list(rows[0].extra_ms) if rows else []
    widths = {e: max(14, len(e) + 5) for e in extras}
    header = f"{'layer':<30}{'MMACs':>9}{'pyprune ms':>12}" + "".join(f"{e + ' ms':>{widths[e]}}" for e in extras)
    lines = [title, header + f"{'torch ms':>10}{'speedup':>9}"]
    total = Comparison(
        "total",
        sum(r.macs for r in rows),
        sum(r.pyprune_ms for r in rows),
        sum(r.torch_ms for r in rows),
        {e: sum(r.extra_ms[e] for r in rows) for e in extras},
    )
    for r in [*rows, total]:
        cells = "".join(f"{r.extra_ms[e]:>{widths[e]}.3f}" for e in extras)
        lines.append(f"{r.layer:<30}{r.macs / 1e6:>9.2f}{r.pyprune_ms:>12.3f}{cells}{r.torch_ms:>10.3f}{r.speedup:>8.2f}x")
    return "\n".join(lines)


def to_json(results: dict[str, list[Comparison]]) -> str:
    return json.dumps({name: [asdict(r) for r in rows] for name, rows in results.items()}, indent=2)
