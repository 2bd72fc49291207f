"""One safe, compressed file per model (needs torch): Deep Compression's weight sharing,
relative-gap sparse positions and canonical Huffman coding (pyprune.compress) in a
safetensors container, versioned and checksummed; loading back to torch or pyprune modules."""

from pyprune.pack.api import DEFAULT_BITS, DEFAULT_INDEX_BITS, load, nonzeros, read, save
from pyprune.nn.compressed import CompressedConv2d, CompressedLinear
from pyprune.pack.format import FORMAT, VERSION, PackError, PackFile
from pyprune.pack.report import LayerReport, PackReport, inspect
from pyprune.pack.tied import SharedWeight, bake_shared_weights, tie_shared_weights

__all__ = [
    "DEFAULT_BITS",
    "DEFAULT_INDEX_BITS",
    "FORMAT",
    "VERSION",
    "CompressedConv2d",
    "CompressedLinear",
    "LayerReport",
    "PackError",
    "PackFile",
    "PackReport",
    "SharedWeight",
    "bake_shared_weights",
    "inspect",
    "load",
    "nonzeros",
    "read",
    "save",
    "tie_shared_weights",
]
