"""pyprune: prune, compress and run convolutional networks fast on ARM boards."""

from pyprune import kernels
from pyprune.activation import Activation
from pyprune.kernels import __version__, get_num_threads, isa, set_num_threads

__all__ = [
    "Activation",
    "__version__",
    "get_num_threads",
    "isa",
    "compress",
    "convert",
    "demo",
    "kernels",
    "models",
    "nn",
    "pack",
    "prune",
    "set_num_threads",
    "stats",
]


def __getattr__(name: str):
    # These need torch, which is optional: imported only when asked for.
    if name in ("nn", "models", "pack", "compress", "prune", "stats", "demo"):
        import importlib

        return importlib.import_module(f"pyprune.{name}")
    if name == "convert":
        from pyprune.nn.convert import convert

        return convert
    raise AttributeError(f"module 'pyprune' has no attribute {name!r}")
