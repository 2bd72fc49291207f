"""pyprune's optional dependencies (torch, and the extras of pyprune.prune and the demo): the
one place that says which is missing and how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingDependencyError", "require"]


class MissingDependencyError(ImportError):
    """An optional dependency of the part of pyprune in use is not installed."""


def require(module: str, extra: str, user: str) -> ModuleType:
    """`module` (e.g. "torch", "matplotlib.figure") imported, or MissingDependencyError naming
    `user` (what needs it) and the extra of pyprune that installs it. A package that is
    installed but fails to import is not missing: its own error propagates."""
    package = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name not in (package, module):
            raise
        raise MissingDependencyError(f"{user} needs {package}, which is not installed: "
                                     f"pip install 'pyprune[{extra}]'") from None
