"""Drop-in inference modules running on pyprune's kernels (needs torch)."""

from pyprune._optional import require

require("torch", "torch", __name__)

from pyprune.nn.compressed import CompressedConv2d, CompressedLinear
from pyprune.nn.conv import Conv2d, PointwiseConv2d
from pyprune.nn.convert import ConversionError, ConversionReport, convert
from pyprune.nn.depthwise import DepthwiseConv2d
from pyprune.nn.fold import fold_batchnorm
from pyprune.nn.separable import SeparableConv2d
from pyprune.nn.sparse import SparseConv2d
from pyprune.nn.sparse_policy import SparsePolicy

__all__ = [
    "CompressedConv2d",
    "CompressedLinear",
    "ConversionError",
    "ConversionReport",
    "Conv2d",
    "DepthwiseConv2d",
    "PointwiseConv2d",
    "SeparableConv2d",
    "SparseConv2d",
    "SparsePolicy",
    "convert",
    "fold_batchnorm",
]
