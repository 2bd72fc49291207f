"""Sparse positions as relative gaps (Deep Compression): for each non-zero of a flattened
weight, in order, the number of zeros before it since the previous one. Gaps are index_bits
wide; a run of zeros longer than they hold is cut by fillers: with M = 2^index_bits - 1, the
symbol M skips M zeros and places no value, any g < M skips g zeros and places the next value.
(The paper's filler is an entry whose value is zero; here the filler symbol carries that
meaning itself, so the value stream holds only real non-zeros.)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SparseGaps", "encode_gaps"]


@dataclass(frozen=True)
class SparseGaps:
    """Gap symbols (uint8) of a flattened weight of `size` elements."""

    gaps: np.ndarray
    index_bits: int
    size: int

    @property
    def filler(self) -> int:
        return 2**self.index_bits - 1

    def positions(self) -> np.ndarray:
        """Flat positions of the non-zeros, ascending (int64)."""
        g = self.gaps.astype(np.int64)
        real = g != self.filler
        ends = np.cumsum(np.where(real, g + 1, g))
        return ends[real] - 1

    def mask(self) -> np.ndarray:
        m = np.zeros(self.size, bool)
        m[self.positions()] = True
        return m


def encode_gaps(nonzero: np.ndarray, index_bits: int) -> SparseGaps:
    """The gaps of a boolean mask of non-zeros (flattened in C order)."""
    if not isinstance(index_bits, (int, np.integer)) or not 1 <= index_bits <= 8:
        raise ValueError(f"index_bits must be an int in [1, 8], got {index_bits!r}")
    mask = np.asarray(nonzero, bool).ravel()
    filler = 2**index_bits - 1
    positions = np.flatnonzero(mask)
    zeros_before = np.diff(positions, prepend=-1) - 1
    fillers, rest = np.divmod(zeros_before, filler)
    entries = fillers + 1
    gaps = np.full(int(entries.sum()), filler, np.uint8)
    gaps[np.cumsum(entries) - 1] = rest
    return SparseGaps(gaps, int(index_bits), len(mask))
