"""Layer shapes of the standard networks (224x224 input, batch 1), the benchmark suite."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEPTHWISE_SUITES", "DepthwiseLayer", "MOBILENET_V1_128_POINTWISE", "MOBILENET_V1_POINTWISE",
           "PointwiseLayer"]


@dataclass(frozen=True)
class DepthwiseLayer:
    channels: int
    size: int  # input height = width
    kernel: int
    stride: int

    @property
    def padding(self) -> int:
        return self.kernel // 2

    @property
    def output_size(self) -> int:
        return (self.size + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def macs(self) -> int:
        return self.channels * self.output_size**2 * self.kernel**2

    def __str__(self) -> str:
        return f"{self.channels}x{self.size}x{self.size} k{self.kernel} s{self.stride}"


def _layers(*rows: tuple[int, int, int, int]) -> tuple[DepthwiseLayer, ...]:
    return tuple(DepthwiseLayer(*row) for row in rows)


# (channels, input size, kernel, stride)
MOBILENET_V1 = _layers(
    (32, 112, 3, 1), (64, 112, 3, 2), (128, 56, 3, 1), (128, 56, 3, 2), (256, 28, 3, 1),
    (256, 28, 3, 2), *[(512, 14, 3, 1)] * 5, (512, 14, 3, 2), (1024, 7, 3, 1),
)  # fmt: skip
# Inverted residual blocks: the depthwise conv runs on the expanded channels.
MOBILENET_V2 = _layers(
    (32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 3, 1), (144, 56, 3, 2), (192, 28, 3, 1),
    (192, 28, 3, 1), (192, 28, 3, 2), *[(384, 14, 3, 1)] * 4, (576, 14, 3, 1), (576, 14, 3, 1),
    (576, 14, 3, 2), (960, 7, 3, 1), (960, 7, 3, 1), (960, 7, 3, 1),
)  # fmt: skip
EFFICIENTNET_B0 = _layers(
    (32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 3, 1), (144, 56, 5, 2), (240, 28, 5, 1),
    (240, 28, 3, 2), (480, 14, 3, 1), (480, 14, 3, 1), (480, 14, 5, 1), (672, 14, 5, 1),
    (672, 14, 5, 1), (672, 14, 5, 2), *[(1152, 7, 5, 1)] * 3, (1152, 7, 3, 1),
)  # fmt: skip

DEPTHWISE_SUITES = {
    "mobilenet_v1": MOBILENET_V1,
    "mobilenet_v2": MOBILENET_V2,
    "efficientnet_b0": EFFICIENTNET_B0,
}


@dataclass(frozen=True)
class PointwiseLayer:
    in_channels: int
    out_channels: int
    size: int  # height = width

    @property
    def macs(self) -> int:
        return self.in_channels * self.out_channels * self.size**2

    def __str__(self) -> str:
        return f"{self.in_channels}->{self.out_channels} @{self.size}x{self.size}"


# The 1x1 convolution after each depthwise layer of MobileNetV1 (on its output size).
MOBILENET_V1_POINTWISE = tuple(
    PointwiseLayer(dw.channels, cout, dw.output_size)
    for dw, cout in zip(MOBILENET_V1, (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024))
)
# The same at a 128x128 input, as MobileNets are often deployed: its 64x64 and 32x32 planes are a
# multiple of 4 KiB, rows that would share cache sets if read in place (csrc/ops/cache_sets.h).
MOBILENET_V1_128_POINTWISE = tuple(
    PointwiseLayer(layer.in_channels, layer.out_channels, layer.size * 128 // 224) for layer in MOBILENET_V1_POINTWISE
)
