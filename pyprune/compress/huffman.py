"""Canonical Huffman coding of uint8 symbols: length-limited codes, a vectorised encoder and
the block format the C++ decoders read (csrc/include/pyprune/ops.h).

A block of n symbols is: one byte S (streams, 1..4), S uint32 little-endian stream sizes, then
the S streams; stream s codes symbols [s q, min(n, (s + 1) q)) with q = ceil(n / S), most
significant bit first, zero-padded to a whole byte. Several streams let the decoder keep
several lookups in flight (as zstd's huff0 does with its 4 streams).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from pyprune import kernels

__all__ = ["MAX_BITS", "MAX_STREAMS", "HuffmanCode", "decode", "encode", "code_lengths"]

MAX_BITS = 11  # the decoders' table width (PP_HUFFDEC_MAX_BITS)
MAX_STREAMS = 4
# Below this many symbols one stream is smaller (3 fewer header words) and as fast.
_MIN_SYMBOLS_PER_STREAM = 256


def code_lengths(frequencies: np.ndarray, max_bits: int = MAX_BITS) -> np.ndarray:
    """Optimal code lengths (uint8, 0 for unused symbols) with none above max_bits, by
    package-merge (Larmore and Hirschberg). A lone symbol gets a 1-bit code."""
    freq = np.asarray(frequencies, dtype=np.int64)
    if freq.ndim != 1 or len(freq) > 256:
        raise ValueError(f"frequencies must be 1-D with at most 256 entries, got shape {freq.shape}")
    if (freq < 0).any():
        raise ValueError("frequencies must not be negative")
    used = np.flatnonzero(freq)
    lengths = np.zeros(len(freq), np.uint8)
    if len(used) == 0:
        return lengths
    if len(used) == 1:
        lengths[used] = 1
        return lengths
    if len(used) > 2**max_bits:
        raise ValueError(f"{len(used)} symbols do not fit in codes of at most {max_bits} bits")
    # Coins: each used symbol at every length 1..max_bits; package pairs of the cheapest and
    # keep the 2(n - 1) cheapest items of the last level. Each item counts its symbols.
    order = used[np.argsort(freq[used], kind="stable")]
    eye = np.eye(len(order), dtype=np.int64)
    leaves = [(int(freq[s]), i, eye[i]) for i, s in enumerate(order)]
    items = leaves
    for _ in range(max_bits - 1):
        packages = [
            (items[i][0] + items[i + 1][0], len(order) + i, items[i][2] + items[i + 1][2])
            for i in range(0, len(items) - 1, 2)
        ]
        items = list(heapq.merge(leaves, packages, key=lambda item: (item[0], item[1])))
    counts = sum(item[2] for item in items[: 2 * len(order) - 2])
    lengths[order] = counts
    return lengths


def _canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Code of each symbol (as in DEFLATE: shorter first, by symbol within a length)."""
    lengths = lengths.astype(np.int64)
    codes = np.zeros(len(lengths), np.int64)
    code = 0
    for length in range(1, MAX_BITS + 1):
        symbols = np.flatnonzero(lengths == length)
        codes[symbols] = code + np.arange(len(symbols))
        code = (code + len(symbols)) << 1
    return codes


@dataclass(frozen=True)
class HuffmanCode:
    """A canonical code: lengths[s] bits for symbol s (0 = unused)."""

    lengths: np.ndarray

    @classmethod
    def for_symbols(cls, symbols: np.ndarray, max_bits: int = MAX_BITS) -> HuffmanCode:
        """The optimal length-limited code for this data."""
        freq = np.bincount(np.asarray(symbols, np.uint8).ravel(), minlength=1)
        return cls(code_lengths(freq, max_bits))

    def coded_bits(self, symbols: np.ndarray) -> int:
        """Bits the data takes in this code, without headers or padding."""
        freq = np.bincount(np.asarray(symbols, np.uint8).ravel(), minlength=len(self.lengths))
        if len(freq) > len(self.lengths) or (freq[self.lengths == 0] > 0).any():
            raise ValueError("symbols include ones this code has no code for")
        return int(freq @ self.lengths.astype(np.int64))


def _encode_stream(symbols: np.ndarray, lengths: np.ndarray, codes: np.ndarray) -> bytes:
    if len(symbols) == 0:
        return b""
    lens = lengths[symbols].astype(np.int64)
    vals = codes[symbols]
    # Bit j of each code (MSB first) at column j; only the first len columns are kept.
    column = np.arange(MAX_BITS)
    bits = (vals[:, None] >> np.maximum(lens[:, None] - 1 - column, 0)) & 1
    keep = column < lens[:, None]
    return np.packbits(bits[keep].astype(np.uint8)).tobytes()


def encode(symbols: np.ndarray, code: HuffmanCode, streams: int | None = None) -> bytes:
    """The block (format above) coding `symbols` (uint8) with `code`; streams defaults to 4,
    or 1 for short data."""
    symbols = np.ascontiguousarray(symbols, np.uint8).ravel()
    n = len(symbols)
    if streams is None:
        streams = MAX_STREAMS if n >= MAX_STREAMS * _MIN_SYMBOLS_PER_STREAM else 1
    if not 1 <= streams <= MAX_STREAMS:
        raise ValueError(f"streams must be in [1, {MAX_STREAMS}], got {streams}")
    lengths = np.asarray(code.lengths, np.uint8)
    if n and (symbols.max() >= len(lengths) or (lengths[symbols] == 0).any()):
        raise ValueError("symbols include ones this code has no code for")
    codes = _canonical_codes(lengths)
    q = -(-n // streams)
    parts = [_encode_stream(symbols[s * q : (s + 1) * q], lengths, codes) for s in range(streams)]
    header = bytes([streams]) + np.array([len(p) for p in parts], "<u4").tobytes()
    return header + b"".join(parts)


def decode(block: bytes | np.ndarray, symbols: int, code: HuffmanCode, ukernel: str | None = None) -> np.ndarray:
    """The `symbols` uint8 symbols of a block (C++ decoder; ValueError if corrupt)."""
    data = np.frombuffer(block, np.uint8) if isinstance(block, (bytes, bytearray, memoryview)) else block
    return kernels.huffman_decode(data, symbols, np.asarray(code.lengths, np.uint8), ukernel)
