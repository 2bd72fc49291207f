"""pyprune: prune, compress and run convolutional networks fast on ARM boards."""

from pyprune import kernels
from pyprune._core import __version__
from pyprune.activation import Activation
from pyprune.kernels import get_num_threads, isa, set_num_threads

__all__ = [
    "Activation",
    "__version__",
    "get_num_threads",
    "isa",
    "compress",
    "convert",
    "kernels",
    "models",
    "nn",
    "pack",
    "set_num_threads",
]


def __getattr__(name: str):
    # pyprune.nn, .models and .pack need torch, which is optional: imported only when asked for.
    if name in ("nn", "models", "pack", "compress"):
        import importlib

        return importlib.import_module(f"pyprune.{name}")
    if name == "convert":
        from pyprune.nn.convert import convert

        return convert
    raise AttributeError(f"module 'pyprune' has no attribute {name!r}")
