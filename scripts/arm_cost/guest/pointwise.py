"""The 13 pointwise (1x1) layers of MobileNetV1 at batch 1, 1 thread: one region per layer and
call, each call made once before it is counted.

Calls: the one-shot kernels.pointwise_conv2d(x, weight, bias) (weights packed inside the call)
and a PackedConv2d (weights packed beforehand, as pyprune.nn's modules hold them) for every
NEON GEMM microkernel; with --reference, for the scalar reference kernel too (slow under
emulation).

    python pointwise.py REGIONS.json [--reference]
"""

from __future__ import annotations

import sys

import numpy as np
from marks import Regions

import pyprune
from pyprune import kernels
from pyprune.bench.layers import MOBILENET_V1_POINTWISE


def main(out: str, *options: str) -> None:
    isas = {"neon", "scalar"} if "--reference" in options else {"neon"}
    pyprune.set_num_threads(1)
    assert kernels.isa() == "neon", kernels.isa()
    names = [u["name"] for u in kernels.testing.gemm_ukernels() if u["isa"] in isas]
    rng = np.random.default_rng(0)
    regions = Regions()
    for i, layer in enumerate(MOBILENET_V1_POINTWISE):
        cin, cout, hw = layer.in_channels, layer.out_channels, layer.size
        x = rng.standard_normal((1, cin, hw, hw), dtype=np.float32)
        w = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32) / np.float32(np.sqrt(cin))
        b = rng.standard_normal(cout, dtype=np.float32)
        calls = {"pointwise_conv2d()": lambda: kernels.pointwise_conv2d(x, w, b)}
        for name in names:
            calls[name] = lambda op=kernels.PackedConv2d(w, b, ukernel=name): op(x)
        for call, f in calls.items():
            y = f()
            with regions.count(layer=i + 1, shape=str(layer), call=call, macs=layer.macs):
                y = f()
            assert y.shape == (1, cout, hw, hw), y.shape
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
