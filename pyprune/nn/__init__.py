"""Drop-in inference modules running on pyprune's kernels (needs torch)."""

from pyprune.nn.depthwise import DepthwiseConv2d
from pyprune.nn.fold import fold_batchnorm

__all__ = ["DepthwiseConv2d", "fold_batchnorm"]
