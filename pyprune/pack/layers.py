"""One tensor of a state_dict in the packed file: its metadata record and its byte streams.

Encodings (their records' grammar: grammar.py):
  raw                    the tensor itself (biases, BatchNorm statistics, small tensors);
  huffman-shared-dense   weight-shared (pyprune.compress.sharing): one Huffman-coded index per
                         weight, codebook[index] (codebook[0] is 0.0 if the weight has zeros);
  huffman-shared-sparse  the same for the non-zeros only, placed by Huffman-coded gaps
                         (pyprune.compress.sparse);
  huffman-float-dense    exact float32 values, each of their 4 bytes in its own Huffman-coded
                         plane (the sign and exponent byte compresses, the mantissa barely);
  huffman-float-sparse   the same for the non-zeros only (any bit set), placed by gaps;
  scaled                 (a graph's own tensors) another tensor with each slice of dim 0
                         multiplied by its scale, in a shape of the same slices: a weight a
                         batch norm was folded into, or viewed as a lower-rank one's.
Streams of a tensor NAME: NAME (raw), or NAME:codebook (float32), NAME:values, NAME:gaps,
NAME:plane0..3 (uint8 Huffman blocks, pyprune.compress.huffman) each with its code lengths
(NAME:values.lengths, ...), or NAME:scale (float32).

The grammar has checked every record and stream's type and size; what it cannot see, the
streams' contents, is checked here as they are decoded: code lengths that are not a complete
prefix code, streams that end early or late, symbols past the codebook, gaps past the end,
codebooks that are not finite. Any of these is a PackError naming the tensor.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyprune import kernels
from pyprune.compress.huffman import MAX_BITS, HuffmanCode, encode
from pyprune.compress.sharing import share_weights
from pyprune.compress.sparse import encode_gaps
from pyprune.pack.grammar import (
    FLOAT_DENSE, FLOAT_SPARSE, PLANES, RAW, SCALED, SHARED_DENSE, SHARED_SPARSE, SPARSE,
)
from pyprune.pack.schema import PackError

__all__ = [
    "DEFAULT_BITS", "DEFAULT_INDEX_BITS", "FLOAT_DENSE", "FLOAT_SPARSE", "RAW", "SCALED", "SHARED_DENSE",
    "SHARED_SPARSE", "TensorSizes", "check_option_keys", "check_tensor", "choose", "decode_nonzeros", "decode_tensor",
    "encode_exact", "encode_tensor", "encode_weight", "scale_rows", "shared_weights", "tensor_errors", "tensor_sizes",
    "validate_streams", "weight_kind",
]

Streams = dict[str, np.ndarray]

# Deep Compression's choices: 8-bit shared weights in convolutions, 5-bit in fully connected
# layers; relative indices 8 bits wide in convolutions, 5 in fully connected layers.
DEFAULT_BITS = {"conv": 8, "linear": 5}
DEFAULT_INDEX_BITS = {"conv": 8, "linear": 5}
# Tensors smaller than this stay raw: their codebook and code tables would cost more.
MIN_SHARED_ELEMENTS = 256


# ---- encoding -------------------------------------------------------------------------------------


def _block(name: str, symbols: np.ndarray) -> tuple[dict[str, Any], Streams]:
    code = HuffmanCode.for_symbols(symbols)
    record = {"data": name, "lengths": f"{name}.lengths", "symbols": int(symbols.size)}
    return record, {name: np.frombuffer(encode(symbols, code), np.uint8), f"{name}.lengths": code.lengths}


def _coded_bytes(symbols: np.ndarray) -> int:
    return HuffmanCode.for_symbols(symbols).coded_bits(symbols) // 8


def encode_tensor(name: str, tensor: np.ndarray, bits: int | None, index_bits: int) -> tuple[dict[str, Any], Streams]:
    """(metadata record, streams) of one tensor; bits None keeps it raw, otherwise its
    weights are shared among 2^bits values. The sparse encoding is chosen when its
    Huffman-coded streams are smaller than the dense one's."""
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


def _planes(values: np.ndarray) -> list[np.ndarray]:
    """Byte k of each little-endian float32, for k = 0..3."""
    return list(np.ascontiguousarray(values, "<f4").view(np.uint8).reshape(-1, PLANES).T)


def _float_encoding(name: str, tensor: np.ndarray, index_bits: int, sparse: bool) -> tuple[dict[str, Any], Streams]:
    flat = np.ascontiguousarray(tensor, np.float32).ravel()
    nonzero = flat.view(np.uint32) != 0  # -0.0 is kept: every bit survives
    record: dict[str, Any] = {"encoding": FLOAT_SPARSE if sparse else FLOAT_DENSE, "shape": list(tensor.shape),
                              "dtype": "float32", "nonzeros": int(nonzero.sum()), "planes": []}
    streams: Streams = {}
    for k, plane in enumerate(_planes(flat[nonzero] if sparse else flat)):
        block, s = _block(f"{name}:plane{k}", np.ascontiguousarray(plane))
        record["planes"].append(block)
        streams.update(s)
    if sparse:
        record["index_bits"] = index_bits
        record["gaps"], s = _block(f"{name}:gaps", encode_gaps(nonzero, index_bits).gaps)
        streams.update(s)
    return record, streams


def _exact_bits(tensor: np.ndarray) -> int | None:
    """Bits of a weight sharing that keeps every weight exactly, if one exists: the tensor
    has at most 256 distinct values (e.g. it was shared and fine-tuned already)."""
    flat = tensor.ravel()
    if not np.isfinite(flat).all() or np.signbit(flat[flat == 0]).any():  # -0.0 would become 0.0
        return None
    distinct = np.unique(flat).size
    return max(1, math.ceil(math.log2(distinct))) if distinct <= 256 else None


def encode_exact(name: str, tensor: np.ndarray, index_bits: int) -> tuple[dict[str, Any], Streams]:
    """(record, streams) of a float32 weight stored bit for bit: the smallest of raw, an exact
    weight sharing (when the weight has at most 256 distinct values) and the float planes,
    dense or sparse."""
    flat = np.ascontiguousarray(tensor, np.float32).ravel()
    nonzero = flat.view(np.uint32) != 0
    costs = {"raw": flat.nbytes, "dense": sum(_coded_bytes(p) + 256 for p in _planes(flat))}
    if not nonzero.all():
        costs["sparse"] = (sum(_coded_bytes(p) + 256 for p in _planes(flat[nonzero]))
                           + _coded_bytes(encode_gaps(nonzero, index_bits).gaps))
    bits = _exact_bits(flat)
    if bits is not None:
        record, streams = encode_tensor(name, tensor.astype(np.float32), bits, index_bits)
        costs["shared"] = sum(s.nbytes for s in streams.values())
    best = min(costs, key=costs.__getitem__)
    if best == "shared":
        return record, streams
    if best == "raw":
        return encode_tensor(name, tensor.astype(np.float32), None, index_bits)
    return _float_encoding(name, tensor, index_bits, sparse=best == "sparse")


def weight_kind(shape: tuple[int, ...], floating: bool) -> str | None:
    """'conv' or 'linear' for the weights that are shared, None for the rest."""
    if not floating or math.prod(shape) < MIN_SHARED_ELEMENTS:
        return None
    return {4: "conv", 2: "linear"}.get(len(shape))


def choose(option: Any, name: str, kind: str, defaults: dict[str, int], what: str) -> int | None:
    """A per-tensor option: an int for all, or a mapping from tensor name, module name (the
    tensor's name without its last part) or kind to the value; the kind's default otherwise."""
    if isinstance(option, Mapping):
        for key in (name, name.rsplit(".", 1)[0], kind):
            if key in option:
                return option[key]
        return defaults[kind]
    if option is None:
        return defaults[kind]
    if isinstance(option, bool) or not isinstance(option, int):
        raise TypeError(f"{what} must be an int, a mapping or None, got {type(option).__name__}")
    return option


def check_option_keys(option: Any, names: Iterable[str], what: str) -> None:
    """ValueError if a mapping `option` (as choose reads it) has a key that is no tensor name,
    module name or kind of `names`: a misspelt layer would be left at its default silently."""
    if not isinstance(option, Mapping):
        return
    known = set(DEFAULT_BITS)
    for name in names:
        known.update((name, name.rsplit(".", 1)[0]))
    unknown = sorted(str(k) for k in option if k not in known)
    if unknown:
        raise ValueError(f"{what} names {unknown[:5]}, which are no tensor, module or kind ({', '.join(DEFAULT_BITS)}) "
                         "of the model")


def encode_weight(name: str, tensor: np.ndarray, bits: Any, index_bits: Any, lossless: bool) -> tuple[dict[str, Any], Streams]:
    """(record, streams) of one tensor as save stores it: convolution and linear weights shared
    (bits and index_bits as for choose) or, lossless, stored bit for bit; the rest raw in its
    own dtype."""
    kind = weight_kind(tensor.shape, tensor.dtype.kind == "f")
    if kind is None:
        return encode_tensor(name, tensor, None, 0)
    ib = choose(index_bits, name, kind, DEFAULT_INDEX_BITS, "index_bits")
    if lossless:
        return encode_exact(name, tensor.astype(np.float32, copy=False), ib)
    b = choose(bits, name, kind, DEFAULT_BITS, "bits")
    if b is not None and not np.isfinite(tensor).all():
        raise ValueError(f"tensor {name!r} holds values that are not finite (NaN or inf): weight sharing needs "
                         "finite weights (lossless=True stores them as they are)")
    return encode_tensor(name, tensor.astype(np.float32, copy=False) if b is not None else tensor, b, ib)


# ---- decoding ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def tensor_errors(name: str) -> Iterator[None]:
    """The decoders' ValueError as a PackError naming the tensor."""
    try:
        yield
    except PackError:
        raise
    except ValueError as e:
        raise PackError(f"tensor {name!r}: {e}") from None


def _check_code(lengths: np.ndarray, name: str, stream: str) -> None:
    """Code lengths must form a complete prefix code (Kraft sum 1), but for one symbol of one
    bit: the codes pyprune.compress.huffman writes, and no other."""
    used = lengths[lengths > 0].astype(np.int64)
    if (used > MAX_BITS).any():
        raise PackError(f"tensor {name!r}: {stream} has code lengths above {MAX_BITS} bits")
    kraft = int((1 << (MAX_BITS - used)).sum())
    if used.size and kraft != 1 << MAX_BITS and not (used.size == 1 and used[0] == 1):
        what = "over-subscribed" if kraft > 1 << MAX_BITS else "incomplete"
        raise PackError(f"tensor {name!r}: {stream} code lengths are not a Huffman code ({what})")


def _blocks(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A coded record's Huffman blocks."""
    return record.get("planes", []) + [record[k] for k in ("values", "gaps") if k in record]


def check_tensor(record: dict[str, Any], tensors: Streams, name: str) -> None:
    """What the grammar cannot see in a coded tensor's streams short of decoding them."""
    for block in _blocks(record):
        _check_code(tensors[block["lengths"]], name, block["data"])
    if "codebook" in record and not np.isfinite(tensors[record["codebook"]]).all():
        raise PackError(f"tensor {name!r}: codebook holds NaN or infinity")


def shared_weights(record: dict[str, Any], tensors: Streams, name: str) -> kernels.SharedWeights:
    """A weight-shared tensor's streams, checked and ready to decode (code tables built once)."""
    check_tensor(record, tensors, name)
    values = record["values"]
    args = dict(values=tensors[values["data"]], value_symbols=values["symbols"],
                value_lengths=tensors[values["lengths"]], codebook=tensors[record["codebook"]],
                size=math.prod(record["shape"]))
    if record["encoding"] == SHARED_SPARSE:
        gaps = record["gaps"]
        args.update(gaps=tensors[gaps["data"]], gap_symbols=gaps["symbols"], gap_lengths=tensors[gaps["lengths"]],
                    index_bits=record["index_bits"])
    with tensor_errors(name):
        return kernels.SharedWeights(**args)


def _symbols(block: dict[str, Any], tensors: Streams) -> np.ndarray:
    return kernels.huffman_decode(tensors[block["data"]], block["symbols"], tensors[block["lengths"]])


def _positions(record: dict[str, Any], tensors: Streams, name: str) -> np.ndarray:
    """Flat positions (int64, ascending) of a float-sparse tensor's non-zeros, checked."""
    gaps = _symbols(record["gaps"], tensors).astype(np.int64)
    filler = 2 ** record["index_bits"] - 1
    real = gaps != filler
    ends = np.cumsum(np.where(real, gaps + 1, gaps))
    if (gaps > filler).any() or real.sum() != record["nonzeros"] or ends[-1:].sum() > math.prod(record["shape"]):
        raise PackError(f"tensor {name!r}: gaps run past the end of the weight or do not match the values")
    return ends[real] - 1


def _float_values(record: dict[str, Any], tensors: Streams) -> np.ndarray:
    planes = [_symbols(block, tensors) for block in record["planes"]]
    return np.stack(planes, axis=1).view("<f4").ravel().astype(np.float32, copy=False)


def decode_tensor(record: dict[str, Any], tensors: Streams, name: str, out: np.ndarray | None = None) -> np.ndarray:
    """The tensor (a new writable array, or written into `out`, float32 of its size), PackError
    if the streams are corrupt or disagree with the record."""
    shape = tuple(record["shape"])
    encoding = record["encoding"]
    if encoding == RAW:
        return np.array(tensors[record["data"]])
    with tensor_errors(name):
        if encoding in (SHARED_DENSE, SHARED_SPARSE):
            return shared_weights(record, tensors, name).decode(out).reshape(shape)
        check_tensor(record, tensors, name)
        flat = np.zeros(math.prod(shape), np.float32) if out is None else out
        if encoding == FLOAT_DENSE:
            flat[:] = _float_values(record, tensors)
        else:
            flat[:] = 0
            flat[_positions(record, tensors, name)] = _float_values(record, tensors)
        return flat.reshape(shape)


def scale_rows(weight: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """weight * scale[i] for every slice i of dim 0, in float32: a scaled tensor, computed as
    folding a batch norm into the weight computes it (one rounding of the exact product)."""
    return np.multiply(weight, scale.reshape(-1, *([1] * (weight.ndim - 1))), dtype=np.float32)


def decode_nonzeros(record: dict[str, Any], tensors: Streams, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A sparse tensor's non-zeros: (int32 flat positions, ascending; float32 values)."""
    if record["encoding"] not in SPARSE:
        raise PackError(f"tensor {name!r} is not stored sparse")
    with tensor_errors(name):
        if record["encoding"] == SHARED_SPARSE:
            return shared_weights(record, tensors, name).nonzeros()
        check_tensor(record, tensors, name)
        return _positions(record, tensors, name).astype(np.int32), _float_values(record, tensors)


@dataclass(frozen=True)
class TensorSizes:
    """Deep Compression's stages for one tensor, in bytes."""

    parameters: int
    nonzeros: int
    original: int   # fp32
    pruned: int     # fp32 non-zeros + index_bits-wide gaps (fillers included), or original if dense
    shared: int     # bits-wide indices (+ gaps) + codebook; as pruned if not shared
    coded: int      # the streams in the file


def tensor_sizes(record: dict[str, Any], tensors: Streams, name: str) -> TensorSizes:
    n = math.prod(record["shape"])
    if record["encoding"] == RAW:
        stored = tensors[record["data"]].nbytes
        return TensorSizes(n, n, stored, stored, stored, stored)
    if record["encoding"] == SCALED:  # derived: its scale is all it costs
        return TensorSizes(n, n, 4 * n, 4 * n, 4 * n, tensors[record["scale"]].nbytes)
    blocks = _blocks(record)
    codebook = tensors[record["codebook"]].nbytes if "codebook" in record else 0
    coded = codebook + sum(tensors[b["data"]].nbytes + tensors[b["lengths"]].nbytes for b in blocks)
    nonzeros = record["nonzeros"]
    if record["encoding"] in SPARSE:
        index = record["gaps"]["symbols"] * record["index_bits"]
        pruned = (index + nonzeros * 32) // 8
    else:
        index, pruned = 0, 4 * n
    shared = (index + record["values"]["symbols"] * record["bits"]) // 8 + codebook if "bits" in record else pruned
    return TensorSizes(n, nonzeros, 4 * n, pruned, shared, coded)


def validate_streams(records: dict[str, dict[str, Any]], tensors: Streams) -> None:
    """Decodes every coded tensor once (a scaled one has only its raw scale): PackError if any
    stream is corrupt, whatever the tensor is later used for. Memory follows the streams, not
    the shapes they claim: dense tensors go through one scratch buffer (their symbols are at
    least one bit each), sparse ones are checked as their non-zeros only (their shape alone
    says nothing of their size)."""
    dense = {name: r for name, r in records.items() if r["encoding"] not in (RAW, SCALED, *SPARSE)}
    scratch = np.empty(max((math.prod(r["shape"]) for r in dense.values()), default=0), np.float32)
    for name, record in records.items():
        if record["encoding"] in SPARSE:
            decode_nonzeros(record, tensors, name)
        elif name in dense:
            decode_tensor(record, tensors, name, out=scratch[: math.prod(record["shape"])])
