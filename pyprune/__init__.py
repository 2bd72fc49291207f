"""pyprune: prune, compress and run convolutional networks fast on ARM boards."""

from pyprune import kernels
from pyprune._optional import MissingDependencyError
from pyprune.activation import Activation
from pyprune.kernels import __version__, get_num_threads, isa, set_num_threads

__all__ = [
    "Activation",
    "MissingDependencyError",
    "__version__",
    "get_num_threads",
    "isa",
    "compress",
    "convert",
    "kernels",
    "models",
    "nn",
    "pack",
    "prune",
    "runtime",
    "set_num_threads",
    "stats",
]


def __getattr__(name: str):
    # Imported only when asked for: most need torch, which is optional (without it, they raise
    # MissingDependencyError).
    if name in ("nn", "models", "pack", "compress", "prune", "runtime", "stats"):
        import importlib

        return importlib.import_module(f"pyprune.{name}")
    if name == "convert":
        from pyprune.nn.convert import convert

        return convert
    raise AttributeError(f"module 'pyprune' has no attribute {name!r}")
