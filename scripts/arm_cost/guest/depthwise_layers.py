"""The distinct 3x3 depthwise layers of MobileNetV1 and MobileNetV2 (224x224, batch 1, 1 thread,
padding 1, ReLU6): one region per layer and call, each call made once before it is counted.

Calls: a PackedDepthwiseConv2d (weights laid out beforehand, output allocated beforehand) with
the dispatched kernel, then with every NEON "same"-padding microkernel of the layer's stride.

    python depthwise_layers.py REGIONS.json
"""

from __future__ import annotations

import sys

import numpy as np
from marks import Regions

import pyprune
from pyprune import kernels
from pyprune.bench.layers import MOBILENET_V1, MOBILENET_V2


def main(out: str) -> None:
    pyprune.set_num_threads(1)
    assert kernels.isa() == "neon", kernels.isa()
    rng = np.random.default_rng(0)
    regions = Regions()
    uses = {}  # layer -> (layers in MobileNetV1, in MobileNetV2)
    for model, suite in enumerate((MOBILENET_V1, MOBILENET_V2)):
        for layer in suite:
            counts = uses.setdefault(layer, [0, 0])
            counts[model] += 1
    same = [u for u in kernels.testing.dwconv2d_same_ukernels() if u["isa"] == "neon"]
    for layer, (v1, v2) in sorted(uses.items(), key=lambda item: (-item[0].output_size, item[0].stride,
                                                                      item[0].channels)):
        c, k, s = layer.channels, layer.kernel, layer.stride
        x = rng.standard_normal((1, c, layer.size, layer.size), dtype=np.float32)
        w = rng.standard_normal((c, 1, k, k), dtype=np.float32)
        b = rng.standard_normal(c, dtype=np.float32)
        y = np.empty((1, c, layer.output_size, layer.output_size), np.float32)
        ops = {"dispatched": kernels.PackedDepthwiseConv2d(w, b, s, layer.padding)}
        for u in same:
            if (u["kernel_size"], u["stride"]) == (k, s):
                ops[u["name"]] = kernels.PackedDepthwiseConv2d(w, b, s, layer.padding, ukernel=u["name"])
        for call, op in ops.items():
            op(x, "relu6", out=y)
            with regions.count(layer=str(layer), call=call, macs=layer.macs, v1=v1, v2=v2):
                op(x, "relu6", out=y)
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
