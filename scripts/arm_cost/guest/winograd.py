"""Dense 3x3 stride-1 convolutions (padding 1) by Winograd F(4x4, 3x3) and by im2col + GEMM,
1 thread, batch 1: the same layer at output sizes from 1 to 16 output tiles of 4x4, for the
number of tiles from which the engine's "auto" runs Winograd. Each runs in a one-node graph
built beforehand (weights packed once), called once before it is counted. Also Winograd
F(6x6, 3x3), which the engine does not run, as a prepared operator (PackedWinogradConv2d).

    python winograd.py REGIONS.json
"""

from __future__ import annotations

import sys

import numpy as np
from marks import Regions

import pyprune
from pyprune import kernels

# (channels in = out, output height = width): 1, 2x2 = 4, 3x3 and 4x4 tiles; ResNet-18's last
# stage is 512 channels at 7x7 (4 tiles).
LAYERS = [(64, 4), (64, 8), (64, 12), (64, 16), (256, 7), (512, 4), (512, 7), (512, 14)]
ALGORITHMS = ("gemm", "winograd")


def main(out: str) -> None:
    pyprune.set_num_threads(1)
    assert kernels.isa() == "neon", kernels.isa()
    rng = np.random.default_rng(0)
    regions = Regions()
    for channels, size in LAYERS:
        w = rng.standard_normal((channels, channels, 3, 3), dtype=np.float32) / np.float32(3 * np.sqrt(channels))
        b = rng.standard_normal(channels, dtype=np.float32)
        x = rng.standard_normal((1, channels, size, size), dtype=np.float32)
        tiles = ((size + 3) // 4) ** 2
        for algorithm in ALGORITHMS:
            graph = kernels.Graph([("conv2d", "conv", [0, 1, 2], [3], {"padding": [1, 1, 1, 1],
                                                                       "algorithm": algorithm})],
                                  4, [0], [3], {1: w, 2: b})
            y = [np.empty(graph.output_shapes([x.shape])[0], np.float32)]
            graph.run([x], y)
            with regions.count(layer=f"{channels}x{size}x{size}", tiles=tiles, algorithm=algorithm,
                               macs=channels * channels * 9 * size * size):
                graph.run([x], y)
        f6 = kernels.PackedWinogradConv2d(w, b, padding=1, tile=6)
        y6 = f6(x)
        with regions.count(layer=f"{channels}x{size}x{size}", tiles=tiles, algorithm="winograd F(6x6)",
                           macs=channels * channels * 9 * size * size):
            f6(x, out=y6)
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
