"""Depthwise convolution of the MobileNetV1-sized layer (32 channels, 112x112, padding k // 2,
batch 1, 1 thread), 3x3 and 5x5, stride 1 and 2: one region per call, each call made once
before it is counted.

Calls: the one-shot kernels.depthwise_conv2d (the dispatched kernel, weight layout included),
the same with ReLU6, and a PackedDepthwiseConv2d (weights laid out beforehand) for every NEON
and scalar microkernel of the (kernel size, stride).

    python depthwise.py REGIONS.json
"""

from __future__ import annotations

import sys

import numpy as np
from marks import Regions

import pyprune
from pyprune import kernels
from pyprune.bench.layers import DepthwiseLayer

CASES = [(3, 1), (3, 2), (5, 1), (5, 2), (7, 1), (7, 2), (9, 1), (9, 2)]  # (kernel size, stride)


def main(out: str) -> None:
    pyprune.set_num_threads(1)
    assert kernels.isa() == "neon", kernels.isa()
    rng = np.random.default_rng(0)
    regions = Regions()
    x = rng.standard_normal((1, 32, 112, 112), dtype=np.float32)
    for k, s in CASES:
        layer = DepthwiseLayer(channels=32, size=112, kernel=k, stride=s)
        w = rng.standard_normal((32, 1, k, k), dtype=np.float32)
        b = rng.standard_normal(32, dtype=np.float32)
        calls = {
            "depthwise_conv2d()": lambda: kernels.depthwise_conv2d(x, w, b, s, layer.padding),
            "depthwise_conv2d(relu6)": lambda: kernels.depthwise_conv2d(x, w, b, s, layer.padding, "relu6"),
        }
        for u in kernels.testing.dwconv2d_ukernels():
            if (u["kernel_size"], u["stride"]) == (k, s) and u["isa"] in ("neon", "scalar"):
                op = kernels.PackedDepthwiseConv2d(w, b, s, layer.padding, ukernel=u["name"])
                calls[u["name"]] = lambda op=op: op(x)
        for call, f in calls.items():
            y = f()
            with regions.count(layer=f"{k}x{k} s{s}", call=call, macs=layer.macs):
                y = f()
            assert y.shape == (1, 32, layer.output_size, layer.output_size), y.shape
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
