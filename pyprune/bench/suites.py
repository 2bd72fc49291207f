"""The depthwise suite: pyprune against torch's F.conv2d on the same inputs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from pyprune import kernels
from pyprune.bench.layers import DepthwiseLayer
from pyprune.bench.timing import median_seconds

__all__ = ["Comparison", "compare_depthwise", "format_table", "to_json"]


@dataclass(frozen=True)
class Comparison:
    layer: str
    macs: int
    pyprune_ms: float
    torch_ms: float

    @property
    def speedup(self) -> float:
        """How many times faster pyprune is than torch."""
        return self.torch_ms / self.pyprune_ms


def compare_depthwise(layer: DepthwiseLayer, threads: int = 1, rounds: int = 15) -> Comparison:
    """Times one layer at batch 1 in both libraries (after checking they agree)."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    c, k = layer.channels, layer.kernel
    x = rng.standard_normal((1, c, layer.size, layer.size), dtype=np.float32)
    w = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    b = rng.standard_normal(c, dtype=np.float32)
    out = np.empty((1, c, layer.output_size, layer.output_size), np.float32)
    tx, tw, tb = map(torch.from_numpy, (x, w, b))

    def run_pyprune():
        return kernels.depthwise_conv2d(x, w, b, stride=layer.stride, padding=layer.padding, out=out)

    def run_torch():
        return F.conv2d(tx, tw, tb, layer.stride, layer.padding, groups=c)

    kernels.set_num_threads(threads)
    torch.set_num_threads(threads)
    with torch.inference_mode():
        np.testing.assert_allclose(run_pyprune(), run_torch().numpy(), rtol=1e-3, atol=1e-3)
        t = median_seconds({"pyprune": run_pyprune, "torch": run_torch}, rounds, threaded=threads > 1)
    return Comparison(str(layer), layer.macs, t["pyprune"] * 1e3, t["torch"] * 1e3)


def format_table(title: str, rows: list[Comparison]) -> str:
    lines = [
        title,
        f"{'layer':<24}{'MMACs':>8}{'pyprune ms':>12}{'torch ms':>10}{'speedup':>9}",
    ]
    total = Comparison(
        "total",
        sum(r.macs for r in rows),
        sum(r.pyprune_ms for r in rows),
        sum(r.torch_ms for r in rows),
    )
    for r in [*rows, total]:
        lines.append(f"{r.layer:<24}{r.macs / 1e6:>8.2f}{r.pyprune_ms:>12.3f}{r.torch_ms:>10.3f}{r.speedup:>8.2f}x")
    return "\n".join(lines)


def to_json(results: dict[str, list[Comparison]]) -> str:
    return json.dumps({name: [asdict(r) for r in rows] for name, rows in results.items()}, indent=2)
