"""One safe, compressed file per model: Deep Compression's weight sharing, relative-gap sparse
positions and canonical Huffman coding (pyprune.compress) in a safetensors container,
versioned and checksummed, read by one strict grammar (pyprune.pack.grammar); saving (which
says what packing did to the outputs) and loading back to torch or pyprune modules need
torch, reading and inspecting a file do not."""

from pyprune.pack.format import FORMAT, VERSION, PackError, PackFile
from pyprune.pack.reading import nonzeros, read
from pyprune.pack.report import LayerReport, OutputError, PackReport, inspect

__all__ = [
    "DEFAULT_BITS",
    "DEFAULT_INDEX_BITS",
    "FORMAT",
    "VERSION",
    "CompressedConv2d",
    "CompressedLinear",
    "LayerReport",
    "OutputError",
    "PackError",
    "PackFile",
    "PackReport",
    "SaveResult",
    "SharedWeight",
    "bake_shared_weights",
    "inspect",
    "load",
    "nonzeros",
    "read",
    "save",
    "tie_shared_weights",
]

# Names that need torch, imported when first asked for.
_TORCH_NAMES = {
    "DEFAULT_BITS": "pyprune.pack.api", "DEFAULT_INDEX_BITS": "pyprune.pack.api", "SaveResult": "pyprune.pack.api",
    "load": "pyprune.pack.api", "save": "pyprune.pack.api",
    "CompressedConv2d": "pyprune.nn.compressed", "CompressedLinear": "pyprune.nn.compressed",
    "SharedWeight": "pyprune.pack.tied", "bake_shared_weights": "pyprune.pack.tied",
    "tie_shared_weights": "pyprune.pack.tied",
}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(_TORCH_NAMES[name]), name)
    raise AttributeError(f"module 'pyprune.pack' has no attribute {name!r}")
