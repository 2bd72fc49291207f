"""Marked regions for pyprune's instruction counter (scripts/arm-count), in the guest.

    regions = Regions()
    with regions.count(layer="3x3 s1", macs=3_612_672) as what:
        y = f(x)                       # the instructions counted
        what["shape"] = y.shape        # facts known only after the call
    regions.save(sys.argv[1])

Each region is a pair of marker system calls with fresh tags; the saved records say which tags
enclose what. The first region is empty: its count, the marker's own cost, is taken off every
other region by the host (scripts/arm_cost/counter.py).
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MARKER = 7911  # the system call number the counter's plugin takes as a marker
_syscall = ctypes.CDLL(None).syscall


class Regions:
    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._tag = 0
        with self.count(empty=True):
            pass

    def _mark(self) -> int:
        self._tag += 1
        _syscall(MARKER, self._tag)
        return self._tag

    @contextmanager
    def count(self, **what: Any) -> Iterator[dict[str, Any]]:
        start = self._mark()
        yield what
        end = self._mark()
        self._records.append({"start": start, "end": end, "what": what})

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self._records, f)
