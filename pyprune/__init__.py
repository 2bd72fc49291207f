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
    "kernels",
    "nn",
    "set_num_threads",
]


def __getattr__(name: str):
    # pyprune.nn needs torch, which is optional: import it only when asked for.
    if name == "nn":
        import pyprune.nn

        return pyprune.nn
    raise AttributeError(f"module 'pyprune' has no attribute {name!r}")
