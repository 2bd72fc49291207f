"""Matrix times vector, 1 thread: the classifier heads of MobileNetV1 (1024 -> 1000) and
MobileNetV2 (1280 -> 1000) as linear nodes, and squeeze-excitation's 1x1 convolutions of a pooled
(N, C, 1, 1) tensor (MobileNetV3-Large's largest and smallest, both ways) as conv2d nodes, at
batch 1 (the GEMV kernel) and 3 (the GEMM kernel over the same panels). Each runs in a one-node
graph built beforehand (weights packed once), called once before it is counted.

    python gemv.py REGIONS.json
"""

from __future__ import annotations

import sys

import numpy as np
from marks import Regions

import pyprune
from pyprune import kernels

# (layer, op, input features, output features)
LAYERS = [
    ("MobileNetV1 head", "linear", 1024, 1000),
    ("MobileNetV2 head", "linear", 1280, 1000),
    ("SE squeeze 72 -> 24", "conv2d", 72, 24),
    ("SE excite 24 -> 72", "conv2d", 24, 72),
    ("SE squeeze 960 -> 240", "conv2d", 960, 240),
    ("SE excite 240 -> 960", "conv2d", 240, 960),
]
BATCHES = (1, 3)


def main(out: str) -> None:
    pyprune.set_num_threads(1)
    assert kernels.isa() == "neon", kernels.isa()
    rng = np.random.default_rng(0)
    regions = Regions()
    for layer, op, cin, cout in LAYERS:
        w = rng.standard_normal((cout, cin), dtype=np.float32) / np.float32(np.sqrt(cin))
        if op == "conv2d":
            w = w.reshape(cout, cin, 1, 1)
        graph = kernels.Graph([(op, layer, [0, 1, 2], [3], {})], 4, [0], [3],
                              {1: w, 2: rng.standard_normal(cout, dtype=np.float32)})
        for batch in BATCHES:
            x = rng.standard_normal((batch, cin) if op == "linear" else (batch, cin, 1, 1), dtype=np.float32)
            y = [np.empty(graph.output_shapes([x.shape])[0], np.float32)]
            graph.run([x], y)
            with regions.count(layer=layer, op=op, batch=batch, macs=batch * cin * cout):
                graph.run([x], y)
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
