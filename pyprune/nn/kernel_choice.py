"""Which dense kernel runs a convolution of pyprune's modules (the compressed layers), made from
what the kernels take (pyprune.kernels.capabilities())."""

from __future__ import annotations

import enum

from pyprune import kernels
from pyprune.nn.convspec import ConvSpec

__all__ = ["DenseKernel", "dense_kernel"]


class DenseKernel(enum.Enum):
    DEPTHWISE = "depthwise"  # one channel plane at a time
    POINTWISE = "pointwise"  # 1x1 stride 1: a GEMM straight on the input
    GEMM = "gemm"            # anything else: a GEMM over a cache-sized im2col panel


def dense_kernel(spec: ConvSpec) -> DenseKernel:
    """The fastest dense kernel that takes `spec`; ValueError saying why when none does."""
    caps = kernels.capabilities()
    if spec.is_depthwise and caps.depthwise_rejects(spec.kernel_size, spec.stride, spec.padding) is None:
        return DenseKernel.DEPTHWISE
    if spec.is_pointwise:
        return DenseKernel.POINTWISE
    reason = caps.conv2d_rejects(spec.kernel_size, spec.stride, spec.padding)
    if reason is not None:
        raise ValueError(reason)
    return DenseKernel.GEMM
