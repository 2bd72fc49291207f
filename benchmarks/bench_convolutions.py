"""Every common convolution as the engine runs it (a one-node graph, weights prepared once,
algorithm "auto": what a saved graph runs), against torch on the same inputs; every other
algorithm that takes the layer is timed alongside, so a slower choice shows:

    pytest benchmarks/bench_convolutions.py -k t1          # timings + ratio table, 1 thread
    pytest benchmarks/bench_convolutions.py --benchmark-disable   # correctness only

Layers of real networks: the first convolution (3 channels, stride 2, 16 to 32 out, 224 and
320 inputs), ResNet's 3x3 and its 1x1 stride-2 shortcut, ResNeXt's and RegNet's grouped 3x3s
(4, 8 and 16 channels per group, strides 1 and 2), ShuffleNet's grouped 1x1, dilated 3x3s (DeepLab,
dilations 2 and 4, and an ASPP branch of dilation 12 on 14x14 features), depthwise 3x3/5x5/7x7/9x9 (MobileNet, EfficientNet, ConvNeXt, ConvMixer) at
strides 1 and 2, depthwise windows only the taps kernel takes (a dilated 3x3 of DeepLab's
MobileNetV2 backbone, VAN's 7x7 d3, InceptionNeXt's 1x11 and 11x1 bands, RepLKNet's 13x13 and
31x31), and a classifier head (1x1 on 1x1).
"""

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pyprune.bench.cases import Case
from pyprune.graph import Engine, Graph, Node, TensorSpec

ALGORITHMS = ("gemm", "depthwise", "winograd")


def conv_case(name, cin, cout, size, k, stride=1, padding=None, dilation=1, groups=1):
    """k: an int (square) or (kh, kw); padding: "same" for stride 1 (dilation * k // 2) unless given."""
    rng = np.random.default_rng(0)
    kh, kw = (k, k) if isinstance(k, int) else k
    ph, pw = (dilation * (kh // 2), dilation * (kw // 2)) if padding is None else (padding, padding)
    x = rng.standard_normal((1, cin, size, size), dtype=np.float32)
    w = rng.standard_normal((cout, cin // groups, kh, kw), dtype=np.float32) / (cin // groups * kh * kw) ** 0.5
    b = rng.standard_normal(cout, dtype=np.float32)
    attrs = {"stride": [stride] * 2, "padding": [ph, pw, ph, pw], "dilation": [dilation] * 2, "groups": groups}

    def engine(algorithm):
        node = Node("conv2d", ["x", "w", "b"], ["y"], {**attrs, "algorithm": algorithm}, "conv")
        return Engine(Graph([TensorSpec("x", x.shape)], ["y"], [node], {"w": w, "b": b}))

    extra = {}
    for algorithm in ALGORITHMS:
        try:
            extra[algorithm] = functools.partial(engine(algorithm), x)
        except ValueError:  # the algorithm does not take this layer
            pass
    tx, tw, tb = map(torch.from_numpy, (x, w, b))
    oh = (size + 2 * ph - dilation * (kh - 1) - 1) // stride + 1
    ow = (size + 2 * pw - dilation * (kw - 1) - 1) // stride + 1
    macs = cout * (cin // groups) * kh * kw * oh * ow
    return Case(name, macs, functools.partial(engine("auto"), x),
                lambda: F.conv2d(tx, tw, tb, stride, (ph, pw), dilation, groups), extra)


CASES = {
    "first": lambda: conv_case("first 3->32 3x3 s2 224", 3, 32, 224, 3, 2),
    "first16": lambda: conv_case("first 3->16 3x3 s2 224", 3, 16, 224, 3, 2),
    "first24": lambda: conv_case("first 3->24 3x3 s2 320", 3, 24, 320, 3, 2),
    "resnet3x3": lambda: conv_case("3x3 64->64 s1 56", 64, 64, 56, 3),
    "resnet3x3s2": lambda: conv_case("3x3 128->256 s2 28", 128, 256, 28, 3, 2),
    "shortcut": lambda: conv_case("1x1 256->512 s2 28", 256, 512, 28, 1, 2),
    "grouped": lambda: conv_case("3x3 g32 256->256 s1 28", 256, 256, 28, 3, groups=32),
    "groupeds2": lambda: conv_case("3x3 g32 256->256 s2 56", 256, 256, 56, 3, 2, groups=32),
    "grouped64": lambda: conv_case("3x3 g64 256->256 s1 28", 256, 256, 28, 3, groups=64),
    "grouped16": lambda: conv_case("3x3 g8 128->128 s1 28", 128, 128, 28, 3, groups=8),
    "grouped1x1": lambda: conv_case("1x1 g8 384->96 s1 28", 384, 96, 28, 1, groups=8),
    "dilated": lambda: conv_case("3x3 d2 128->128 s1 28", 128, 128, 28, 3, dilation=2),
    "dilated4": lambda: conv_case("3x3 d4 256->256 s1 28", 256, 256, 28, 3, dilation=4),
    "aspp12": lambda: conv_case("3x3 d12 320->128 s1 14 (ASPP)", 320, 128, 14, 3, dilation=12),
    "dw3s1": lambda: conv_case("dw 3x3 s1 144 56", 144, 144, 56, 3, groups=144),
    "dw3s2": lambda: conv_case("dw 3x3 s2 144 56", 144, 144, 56, 3, 2, groups=144),
    "dw5s1": lambda: conv_case("dw 5x5 s1 240 28", 240, 240, 28, 5, groups=240),
    "dw5s2": lambda: conv_case("dw 5x5 s2 240 28", 240, 240, 28, 5, 2, groups=240),
    "dw7s1": lambda: conv_case("dw 7x7 s1 96 56", 96, 96, 56, 7, groups=96),
    "dw7s2": lambda: conv_case("dw 7x7 s2 192 28", 192, 192, 28, 7, 2, groups=192),
    "dw9s1": lambda: conv_case("dw 9x9 s1 256 28", 256, 256, 28, 9, groups=256),
    "dw9s2": lambda: conv_case("dw 9x9 s2 128 56", 128, 128, 56, 9, 2, groups=128),
    "dwd2": lambda: conv_case("dw 3x3 d2 576 28", 576, 576, 28, 3, dilation=2, groups=576),
    "dwd3": lambda: conv_case("dw 7x7 d3 64 56", 64, 64, 56, 7, dilation=3, groups=64),
    "dw1x11": lambda: conv_case("dw 1x11 96 56", 96, 96, 56, (1, 11), groups=96),
    "dw11x1": lambda: conv_case("dw 11x1 96 56", 96, 96, 56, (11, 1), groups=96),
    "dw13": lambda: conv_case("dw 13x13 256 14", 256, 256, 14, 13, groups=256),
    "dw31": lambda: conv_case("dw 31x31 64 14", 64, 64, 14, 31, groups=64),
    "head": lambda: conv_case("head 1x1 1280->1000 on 1x1", 1280, 1000, 1, 1),
}
case = functools.lru_cache(maxsize=None)(lambda name: CASES[name]())


@pytest.mark.parametrize("impl", ["pyprune", *ALGORITHMS, "torch"])
@pytest.mark.parametrize("name", CASES)
def test_convolution(run_case, name, impl):
    c = case(name)
    if impl not in ("pyprune", "torch") and impl not in c.extra:
        pytest.skip(f"{impl} does not take {c.name}")
    run_case(c, impl, f"conv {c.name}")

