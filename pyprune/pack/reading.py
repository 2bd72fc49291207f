"""Reading a packed file without torch: its validated contents (every stream decoded once to
check it) and the non-zeros of a sparse weight."""

from __future__ import annotations

import os

import numpy as np

from pyprune.pack.format import PackFile, read_pack
from pyprune.pack.layers import decode_nonzeros, validate_streams

__all__ = ["nonzeros", "read"]


def read(path: str | os.PathLike) -> PackFile:
    """A packed file's metadata and streams, all checked (PackError if it is not valid)."""
    pack = read_pack(path)
    validate_streams(pack.metadata["tensors"], pack.tensors)
    return pack


def nonzeros(pack: PackFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A sparse-stored weight's non-zeros: int32 flat positions (ascending, over the weight
    flattened row-major, e.g. [Cout, Cin * k * k]) and their float32 values."""
    records = pack.metadata["tensors"]
    if name not in records:
        raise KeyError(f"no tensor {name!r} in the file")
    return decode_nonzeros(records[name], pack.tensors, name)
