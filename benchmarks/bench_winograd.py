"""ResNet-18's 3x3 stride-1 layers (batch 1, padding 1, bias and ReLU): pyprune's Winograd
F(4x4, 3x3) and F(6x6, 3x3) against torch's conv2d, with pyprune's dense im2col + GEMM path
alongside, all in one process:

    pytest benchmarks/bench_winograd.py                            # timings + ratio table, 1 and 2 threads
    pytest benchmarks/bench_winograd.py --benchmark-disable        # correctness only

The summary lists, per layer and thread count, Winograd with the default tile ("pyprune"),
then the other tiles and im2col + GEMM, each as torch's time over its own.
"""

import functools

import numpy as np
import pytest

from pyprune import kernels
from pyprune.bench import Case

torch = pytest.importorskip("torch")
F = torch.nn.functional

# (channels, input size): conv2 of every basic block, and conv1 of those that keep the size.
RESNET18_3X3 = ((64, 56), (128, 28), (256, 14), (512, 7))
DEFAULT_TILE = kernels.PackedWinogradConv2d(np.zeros((1, 1, 3, 3), np.float32)).tile
OTHER_TILES = [t for t in kernels.capabilities().winograd.tiles if t != DEFAULT_TILE]


@functools.lru_cache(maxsize=None)
def winograd_case(channels, size):
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((1, channels, size, size), dtype=np.float32), 0)
    w = rng.standard_normal((channels, channels, 3, 3), dtype=np.float32) * np.float32((2 / (9 * channels)) ** 0.5)
    b = rng.standard_normal(channels, dtype=np.float32)
    out = np.empty_like(x)
    default = kernels.PackedWinogradConv2d(w, b, 1)
    others = {tile: kernels.PackedWinogradConv2d(w, b, 1, tile=tile) for tile in OTHER_TILES}
    dense = kernels.PackedConv2d(w, b, padding=1)
    tx, tw, tb = map(torch.from_numpy, (x, w, b))
    extra = {f"F({tile},3)": functools.partial(op, x, "relu", out) for tile, op in others.items()}
    extra["im2col"] = lambda: dense(x, "relu", out)
    return Case(f"{channels}x{size}x{size} k3 s1", channels * channels * 9 * size * size,
                lambda: default(x, "relu", out), lambda: F.relu(F.conv2d(tx, tw, tb, padding=1)), extra)


IMPLS = ["pyprune", "torch", *(f"F({t},3)" for t in OTHER_TILES), "im2col"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("channels,size", RESNET18_3X3, ids=[f"{c}x{s}" for c, s in RESNET18_3X3])
def test_resnet18_3x3(run_case, channels, size, impl):
    run_case(winograd_case(channels, size), impl, f"winograd resnet18 {channels}x{size}x{size}")
