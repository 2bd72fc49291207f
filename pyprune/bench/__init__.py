"""Benchmarks of pyprune's kernels against torch, run side by side in one process."""

from pyprune.bench.layers import DEPTHWISE_SUITES, DepthwiseLayer
from pyprune.bench.suites import Comparison, compare_depthwise, format_table
from pyprune.bench.timing import median_seconds

__all__ = [
    "Comparison",
    "DEPTHWISE_SUITES",
    "DepthwiseLayer",
    "compare_depthwise",
    "format_table",
    "median_seconds",
]
