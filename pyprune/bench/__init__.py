"""Benchmarks of pyprune's kernels against torch, run side by side in one process."""

from pyprune.bench.cases import Case, depthwise_case, model_case, pointwise_case, separable_case
from pyprune.bench.layers import DEPTHWISE_SUITES, MOBILENET_V1_POINTWISE, DepthwiseLayer, PointwiseLayer
from pyprune.bench.suites import SUITES, Comparison, compare, format_table, to_json

__all__ = [
    "DEPTHWISE_SUITES",
    "MOBILENET_V1_POINTWISE",
    "SUITES",
    "Case",
    "Comparison",
    "DepthwiseLayer",
    "PointwiseLayer",
    "compare",
    "depthwise_case",
    "format_table",
    "model_case",
    "pointwise_case",
    "separable_case",
    "to_json",
]
