"""Progress bars on long work: tqdm on stderr, gone when the work is done."""

from __future__ import annotations

from typing import Any

from pyprune._optional import require

__all__ = ["progress_bar"]


def progress_bar(total: int, desc: str, unit: str = "it", enabled: bool = True) -> Any:
    """A tqdm bar counting to `total` (hidden when not `enabled`); use it as a context manager
    and call .update() after every unit of work, which should take seconds at most."""
    tqdm = require("tqdm", "prune", "a progress bar").tqdm
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False, dynamic_ncols=True)
