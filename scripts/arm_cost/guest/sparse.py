"""The 13 pointwise layers of MobileNetV1 (batch 1, 1 thread) with random weights pruned to
90 % sparsity, unstructured and in 4x1 blocks (4 output channels x 1 input channel), against
the dense layers: one region per layer and weights, the operator built beforehand and its call
made once before it is counted. MACs are the non-zero weights times the pixels.

    python sparse.py REGIONS.json
"""

from __future__ import annotations

import sys

import numpy as np
from marks import Regions

import pyprune
from pyprune import kernels
from pyprune.bench.layers import MOBILENET_V1_POINTWISE

SPARSITY = 0.9
BLOCK = 4


def main(out: str) -> None:
    pyprune.set_num_threads(1)
    assert kernels.isa() == "neon", kernels.isa()
    rng = np.random.default_rng(0)
    regions = Regions()
    for i, layer in enumerate(MOBILENET_V1_POINTWISE):
        cin, cout, hw = layer.in_channels, layer.out_channels, layer.size
        x = rng.standard_normal((1, cin, hw, hw), dtype=np.float32)
        w = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32)
        unstructured = w * (rng.random(w.shape) >= SPARSITY)
        blocks = w * np.repeat(rng.random((cout // BLOCK, cin, 1, 1)) >= SPARSITY, BLOCK, axis=0)
        operators = {
            "dense": (kernels.PackedConv2d(w), w),
            "90 % unstructured": (kernels.PackedSparseConv2d(unstructured), unstructured),
            f"90 %, {BLOCK}x1 blocks": (kernels.PackedSparseConv2d(blocks, block=BLOCK), blocks),
        }
        for weights, (op, weight) in operators.items():
            op(x)
            with regions.count(layer=i + 1, weights=weights, macs=int(np.count_nonzero(weight)) * hw * hw):
                op(x)
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
