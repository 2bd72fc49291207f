"""One tensor of a state_dict in the packed file: its metadata record and its byte streams.

Encodings:
  raw                    the tensor itself (biases, BatchNorm statistics, small tensors);
  huffman-shared-dense   weight-shared (pyprune.compress.sharing): one Huffman-coded index per
                         weight, codebook[index] (codebook[0] is 0.0 if the weight has zeros);
  huffman-shared-sparse  the same for the non-zeros only, placed by Huffman-coded gaps
                         (pyprune.compress.sparse).
Streams of a tensor NAME: NAME (raw), or NAME:codebook (float32), NAME:values and
NAME:values.lengths, NAME:gaps and NAME:gaps.lengths (uint8 Huffman blocks and their code
lengths, pyprune.compress.huffman).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyprune import kernels
from pyprune.compress.huffman import HuffmanCode, encode
from pyprune.compress.sharing import share_weights
from pyprune.compress.sparse import encode_gaps
from pyprune.pack.format import MAX_TENSOR_ELEMENTS, PackError

__all__ = [
    "RAW", "SHARED_DENSE", "SHARED_SPARSE", "TensorSizes", "decode_nonzeros", "decode_tensor", "encode_tensor",
    "shared_weights", "tensor_shape", "tensor_sizes",
]

RAW, SHARED_DENSE, SHARED_SPARSE = "raw", "huffman-shared-dense", "huffman-shared-sparse"
_CODED = (SHARED_DENSE, SHARED_SPARSE)


def _block(name: str, symbols: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    code = HuffmanCode.for_symbols(symbols)
    record = {"data": name, "lengths": f"{name}.lengths", "symbols": int(symbols.size)}
    return record, {name: np.frombuffer(encode(symbols, code), np.uint8), f"{name}.lengths": code.lengths}


def _coded_bytes(symbols: np.ndarray) -> int:
    return HuffmanCode.for_symbols(symbols).coded_bits(symbols) // 8


def encode_tensor(name: str, tensor: np.ndarray, bits: int | None, index_bits: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata record, streams) of one tensor; bits None keeps it raw. The sparse encoding
    is chosen when its Huffman-coded streams are smaller than the dense one's."""
    shape = list(tensor.shape)
    if bits is None:
        return {"encoding": RAW, "shape": shape, "dtype": str(tensor.dtype), "data": name}, {name: tensor}
    shared = share_weights(tensor, bits)
    indices = shared.indices.ravel()
    nonzero = indices != 0 if shared.has_zero else np.ones(indices.size, bool)
    gaps = encode_gaps(nonzero, index_bits)
    values = indices[nonzero]
    sparse = shared.has_zero and _coded_bytes(values) + _coded_bytes(gaps.gaps) < _coded_bytes(indices)
    record: dict[str, Any] = {
        "encoding": SHARED_SPARSE if sparse else SHARED_DENSE, "shape": shape, "dtype": "float32",
        "bits": bits, "nonzeros": int(nonzero.sum()), "codebook": f"{name}:codebook",
    }
    streams = {f"{name}:codebook": shared.codebook}
    record["values"], s = _block(f"{name}:values", values if sparse else indices)
    streams.update(s)
    if sparse:
        record["index_bits"] = index_bits
        record["gaps"], s = _block(f"{name}:gaps", gaps.gaps)
        streams.update(s)
    return record, streams


def _get(record: dict[str, Any], key: str, kind: type, name: str) -> Any:
    value = record.get(key)
    if type(value) is not kind:
        raise PackError(f"tensor {name!r}: metadata field {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _stream(tensors: dict[str, np.ndarray], key: Any, dtype: type, name: str) -> np.ndarray:
    a = tensors.get(key) if isinstance(key, str) else None
    if a is None or a.dtype != dtype or a.ndim != 1:
        raise PackError(f"tensor {name!r}: stream {key!r} is missing or not a 1-D {np.dtype(dtype)} array")
    return a


def _block_args(record: dict[str, Any], key: str, tensors: dict[str, np.ndarray], name: str, limit: int) -> tuple:
    block = _get(record, key, dict, name)
    data = _stream(tensors, block.get("data"), np.uint8, name)
    lengths = _stream(tensors, block.get("lengths"), np.uint8, name)
    symbols = _get(block, "symbols", int, name)
    # Every symbol takes at least one bit: a count beyond that is a lie, refused before the
    # decoder allocates for it.
    if not 0 <= symbols <= min(limit, 8 * data.size):
        raise PackError(f"tensor {name!r}: {key} declares {symbols} symbols, impossible in {data.size} bytes "
                        f"for a weight of {limit} elements")
    return data, symbols, lengths


def _shared_args(record: dict[str, Any], tensors: dict[str, np.ndarray], name: str, size: int) -> dict[str, Any]:
    codebook = _stream(tensors, record.get("codebook"), np.float32, name)
    values, value_symbols, value_lengths = _block_args(record, "values", tensors, name, size)
    args = dict(values=values, value_symbols=value_symbols, value_lengths=value_lengths, codebook=codebook, size=size)
    if record["encoding"] == SHARED_SPARSE:
        index_bits = _get(record, "index_bits", int, name)
        if not 1 <= index_bits <= 8:
            raise PackError(f"tensor {name!r}: index_bits must be in [1, 8], got {index_bits}")
        gaps, gap_symbols, gap_lengths = _block_args(record, "gaps", tensors, name, 2 * size + 1)
        args.update(gaps=gaps, gap_symbols=gap_symbols, gap_lengths=gap_lengths, index_bits=index_bits)
    return args


def shared_weights(record: dict[str, Any], tensors: dict[str, np.ndarray], name: str, size: int) -> kernels.SharedWeights:
    """A weight-shared tensor's streams, checked and ready to decode (its code tables built once)."""
    try:
        return kernels.SharedWeights(**_shared_args(record, tensors, name, size))
    except ValueError as e:
        raise PackError(f"tensor {name!r}: {e}") from None


def tensor_shape(record: Any, name: str) -> tuple[int, ...]:
    if not isinstance(record, dict) or record.get("encoding") not in (RAW, *_CODED):
        raise PackError(f"tensor {name!r}: unknown encoding {record.get('encoding') if isinstance(record, dict) else record!r}")
    shape = record.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape) \
            or math.prod(shape) > MAX_TENSOR_ELEMENTS:
        raise PackError(f"tensor {name!r}: bad shape {shape!r}")
    return tuple(shape)


def decode_tensor(record: dict[str, Any], tensors: dict[str, np.ndarray], name: str, out: np.ndarray | None = None) -> np.ndarray:
    """The tensor (a new writable array, or written into `out`), PackError if the streams are
    corrupt or disagree with the record."""
    shape = tensor_shape(record, name)
    if record["encoding"] == RAW:
        a = tensors.get(record.get("data")) if isinstance(record.get("data"), str) else None
        if a is None or a.shape != shape:
            raise PackError(f"tensor {name!r}: raw stream missing or not of shape {list(shape)}")
        return np.array(a)
    weights = shared_weights(record, tensors, name, math.prod(shape))
    try:
        return weights.decode(out).reshape(shape)
    except ValueError as e:
        raise PackError(f"tensor {name!r}: {e}") from None


def decode_nonzeros(record: dict[str, Any], tensors: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """A sparse tensor's non-zeros: (int32 flat positions, ascending; float32 values)."""
    shape = tensor_shape(record, name)
    if record["encoding"] != SHARED_SPARSE:
        raise PackError(f"tensor {name!r} is not stored sparse")
    weights = shared_weights(record, tensors, name, math.prod(shape))
    try:
        return weights.nonzeros()
    except ValueError as e:
        raise PackError(f"tensor {name!r}: {e}") from None


@dataclass(frozen=True)
class TensorSizes:
    """Deep Compression's stages for one tensor, in bytes."""

    parameters: int
    nonzeros: int
    original: int   # fp32
    pruned: int     # fp32 non-zeros + index_bits-wide gaps (fillers included), or original if dense
    shared: int     # bits-wide indices (+ gaps) + codebook
    coded: int      # the streams in the file


def tensor_sizes(record: dict[str, Any], tensors: dict[str, np.ndarray], name: str) -> TensorSizes:
    shape = tensor_shape(record, name)
    n = math.prod(shape)
    nbytes = {k: v.nbytes for k, v in tensors.items()}
    if record["encoding"] == RAW:
        stored = nbytes.get(record.get("data"), 0)
        return TensorSizes(n, n, stored, stored, stored, stored)
    bits = _get(record, "bits", int, name)
    codebook = nbytes.get(record.get("codebook"), 0)
    blocks = [record.get("values", {})] + ([record.get("gaps", {})] if record["encoding"] == SHARED_SPARSE else [])
    coded = codebook + sum(nbytes.get(b.get("data"), 0) + nbytes.get(b.get("lengths"), 0) for b in blocks if isinstance(b, dict))
    nonzeros = _get(record, "nonzeros", int, name)
    if record["encoding"] == SHARED_SPARSE:
        entries, ib = _get(record["gaps"], "symbols", int, name), _get(record, "index_bits", int, name)
        pruned, shared = (entries * ib + nonzeros * 32) // 8, (entries * ib + nonzeros * bits) // 8 + codebook
    else:
        pruned, shared = 4 * n, n * bits // 8 + codebook
    return TensorSizes(n, nonzeros, 4 * n, pruned, shared, coded)
