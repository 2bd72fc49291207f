"""Reading a packed file without torch: its validated contents (every stream decoded once to
check it), the non-zeros of a sparse weight, and the model's inference graph."""

from __future__ import annotations

import os

import numpy as np

from pyprune.graph import ir
from pyprune.pack.format import PackFile, read_pack
from pyprune.pack.grammar import records
from pyprune.pack.layers import (SCALED, SHARED_DENSE, SHARED_SPARSE, decode_nonzeros, decode_tensor, scale_rows,
                                 shared_weights, validate_streams)

__all__ = ["graph", "nonzeros", "read"]


def read(path: str | os.PathLike) -> PackFile:
    """A packed file's metadata and streams, all checked (PackError if it is not valid)."""
    pack = read_pack(path)
    validate_streams(records(pack.metadata), pack.tensors)
    return pack


def nonzeros(pack: PackFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A sparse-stored weight's non-zeros: int32 flat positions (ascending, over the weight
    flattened row-major, e.g. [Cout, Cin * k * k]) and their float32 values."""
    tensors = pack.metadata["tensors"]
    if name not in tensors:
        raise KeyError(f"no tensor {name!r} in the file")
    return decode_nonzeros(tensors[name], pack.tensors, name)


def graph(pack: PackFile, *, keep_compressed: bool = False) -> ir.Graph | None:
    """The file's inference graph (None if it was saved without one), its constants decoded to
    float32 arrays; with keep_compressed, weight-shared ones stay Huffman-coded
    (ir.CodedConstant: decoded when a node needs them; scaled ones are decoded all the same).
    The grammar has checked its structure and bounds; what the operators make of it is checked
    when it is compiled."""
    section = pack.metadata.get("graph")
    if section is None:
        return None
    every = records(pack.metadata)
    constants: dict[str, ir.Constant] = {}
    for entry in section["ir"]["constants"]:
        name = entry["name"]
        record = every[name]
        if keep_compressed and record["encoding"] in (SHARED_DENSE, SHARED_SPARSE):
            constants[name] = ir.CodedConstant(shared_weights(record, pack.tensors, name), tuple(record["shape"]))
        elif record["encoding"] == SCALED:
            base = decode_tensor(every[record["base"]], pack.tensors, record["base"])
            constants[name] = scale_rows(base, pack.tensors[record["scale"]]).reshape(record["shape"])
        else:
            constants[name] = decode_tensor(record, pack.tensors, name)
    for array in constants.values():
        if isinstance(array, np.ndarray):
            array.flags.writeable = False  # the engine then reads them where they are, not a copy
    return ir.Graph.from_json(section["ir"], constants)
