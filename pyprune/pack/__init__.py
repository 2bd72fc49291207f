"""One safe, compressed file per model: Deep Compression's weight sharing, relative-gap sparse
positions and canonical Huffman coding (pyprune.compress) in a safetensors container,
versioned and checksummed, read by one strict grammar (pyprune.pack.grammar), with the model's
optimised inference graph (which pyprune.runtime runs); saving a model (which says what packing
did to the outputs) and loading back to torch or pyprune modules need torch, reading and
inspecting a file, reading its graph and packing a graph alone (save_graph) do not."""

from pyprune.pack.format import FORMAT, VERSION, PackError, PackFile
from pyprune.pack.graph_section import save_graph
from pyprune.pack.layers import DEFAULT_BITS, DEFAULT_INDEX_BITS
from pyprune.pack.reading import graph, nonzeros, read
from pyprune.pack.report import GraphReport, LayerReport, OutputError, PackReport, inspect

__all__ = [
    "DEFAULT_BITS",
    "DEFAULT_INDEX_BITS",
    "FORMAT",
    "VERSION",
    "CompressedConv2d",
    "CompressedLinear",
    "GraphReport",
    "LayerReport",
    "OutputError",
    "PackError",
    "PackFile",
    "PackReport",
    "SaveResult",
    "SharedWeight",
    "bake_shared_weights",
    "graph",
    "inspect",
    "load",
    "nonzeros",
    "read",
    "save",
    "save_graph",
    "tie_shared_weights",
]

# Names that need torch, imported when first asked for.
_TORCH_NAMES = {
    "SaveResult": "pyprune.pack.api", "load": "pyprune.pack.api", "save": "pyprune.pack.api",
    "CompressedConv2d": "pyprune.nn.compressed", "CompressedLinear": "pyprune.nn.compressed",
    "SharedWeight": "pyprune.pack.tied", "bake_shared_weights": "pyprune.pack.tied",
    "tie_shared_weights": "pyprune.pack.tied",
}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(_TORCH_NAMES[name]), name)
    raise AttributeError(f"module 'pyprune.pack' has no attribute {name!r}")
