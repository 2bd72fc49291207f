"""The packed file's container: safetensors (an 8-byte header length, a JSON header, raw
tensor bytes; no pickle, nothing runs on load) with pyprune's metadata as one JSON string.

Everything a file declares is checked before it is used: the header length against a cap and
the file size, the JSON's shape, every tensor's dtype, shape and byte range against the data
that is really there, the metadata's SHA-256 and each tensor's CRC-32. Problems raise
PackError naming them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "VERSION", "PackError", "PackFile", "read_pack", "write_pack"]

FORMAT = "pyprune-pack"
VERSION = 1
METADATA_KEY = "pyprune.pack"
DIGEST_KEY = "pyprune.pack.sha256"

# Caps on what a file may declare, checked before anything is allocated.
MAX_HEADER_BYTES = 16 << 20
MAX_TENSORS = 100_000
MAX_DIMS = 8
MAX_TENSOR_ELEMENTS = 2**31 - 1  # positions of non-zeros are int32

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


class PackError(ValueError):
    """A packed file that is not valid: truncated, corrupt, of another format or version,
    or inconsistent with itself or with the model it is loaded into."""


@dataclass(frozen=True)
class PackFile:
    """A file's metadata (the JSON written by save) and its tensors by name."""

    metadata: dict[str, Any]
    tensors: dict[str, np.ndarray]
    file_bytes: int


def _crc32(a: np.ndarray) -> int:
    return zlib.crc32(np.require(a, requirements="C").reshape(-1).view(np.uint8))


def write_pack(path: str | os.PathLike, metadata: dict[str, Any], tensors: dict[str, np.ndarray]) -> int:
    """Writes the file atomically (a temporary file in the same folder, then renamed over
    `path`): an existing file is never left half-written. Returns its size in bytes."""
    from safetensors.numpy import save

    tensors = {k: np.require(v, requirements="C") for k, v in tensors.items()}
    metadata = {**metadata, "format": FORMAT, "version": VERSION,
                "crc32": {k: _crc32(v) for k, v in tensors.items()}}
    text = json.dumps(metadata, separators=(",", ":"))  # keeps the state_dict's order
    digest = hashlib.sha256(text.encode()).hexdigest()
    data = save(tensors, metadata={METADATA_KEY: text, DIGEST_KEY: digest})
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)


def _header(data: bytes) -> tuple[dict[str, Any], int]:
    """The safetensors JSON header and where the tensor data starts, checked."""
    if len(data) < 8:
        raise PackError(f"not a pyprune pack file: {len(data)} bytes is too short for a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if n > MAX_HEADER_BYTES:
        raise PackError(f"not a pyprune pack file: header length {n} exceeds the {MAX_HEADER_BYTES}-byte limit")
    if 8 + n > len(data):
        raise PackError(f"file truncated: header of {n} bytes declared, {len(data) - 8} present")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise PackError(f"not a pyprune pack file: header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise PackError("not a pyprune pack file: header is not a JSON object")
    if len(header) > MAX_TENSORS + 1:
        raise PackError(f"header declares {len(header) - 1} tensors, more than the {MAX_TENSORS} allowed")
    return header, 8 + n


def _tensor_entry(name: str, entry: Any, data_bytes: int) -> tuple[np.dtype, tuple[int, ...], int, int]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise PackError(f"tensor {name!r}: entry must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPES:
        raise PackError(f"tensor {name!r}: unsupported dtype {dtype!r}")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(
            type(d) is int and 0 <= d <= MAX_TENSOR_ELEMENTS for d in shape):
        raise PackError(f"tensor {name!r}: shape must be a list of at most {MAX_DIMS} sizes, got {shape!r}")
    if math.prod(shape) > MAX_TENSOR_ELEMENTS:
        raise PackError(f"tensor {name!r}: {math.prod(shape)} elements exceed the {MAX_TENSOR_ELEMENTS} limit")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets):
        raise PackError(f"tensor {name!r}: data_offsets must be two integers, got {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_bytes:
        raise PackError(f"tensor {name!r}: bytes [{begin}, {end}) lie outside the {data_bytes} bytes of data (truncated file?)")
    np_dtype = np.dtype(_DTYPES[dtype])
    if end - begin != math.prod(shape) * np_dtype.itemsize:
        raise PackError(f"tensor {name!r}: {end - begin} bytes do not hold shape {shape} of {dtype}")
    return np_dtype, tuple(shape), begin, end


def _metadata(header: dict[str, Any]) -> dict[str, Any]:
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or METADATA_KEY not in meta:
        raise PackError(f"not a pyprune pack file: no {METADATA_KEY!r} metadata (a plain safetensors file?)")
    text, digest = meta[METADATA_KEY], meta.get(DIGEST_KEY)
    if not isinstance(text, str) or not isinstance(digest, str):
        raise PackError("metadata must be a JSON string with its SHA-256")
    if hashlib.sha256(text.encode()).hexdigest() != digest:
        raise PackError("metadata checksum mismatch: the file is corrupt")
    try:
        metadata = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise PackError(f"metadata is not JSON ({e})") from None
    if not isinstance(metadata, dict):
        raise PackError("metadata is not a JSON object")
    if metadata.get("format") != FORMAT:
        raise PackError(f"not a pyprune pack file: format is {metadata.get('format')!r}, expected {FORMAT!r}")
    if metadata.get("version") != VERSION:
        raise PackError(f"unsupported pack version {metadata.get('version')!r}: this pyprune reads version {VERSION}")
    if not isinstance(metadata.get("crc32"), dict):
        raise PackError("metadata has no crc32 table")
    return metadata


def parse_pack(data: bytes) -> PackFile:
    """The validated contents of a packed file's bytes."""
    header, start = _header(data)
    metadata = _metadata(header)
    crcs = metadata["crc32"]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, begin, end = _tensor_entry(name, entry, len(data) - start)
        # safetensors pads its header so tensors start aligned; a file that does not is copied.
        array = np.require(np.frombuffer(data, dtype, math.prod(shape), start + begin).reshape(shape), requirements="A")
        if crcs.get(name) != _crc32(array):
            raise PackError(f"tensor {name!r}: checksum mismatch, the file is corrupt")
        tensors[name] = array
    if set(crcs) != set(tensors):
        raise PackError(f"metadata lists tensors the file lacks: {sorted(set(crcs) - set(tensors))[:5]}")
    return PackFile(metadata, tensors, len(data))


def read_pack(path: str | os.PathLike) -> PackFile:
    """Reads and validates a packed file (PackError if it is not a valid one)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise PackError(f"cannot read {os.fspath(path)!r}: {e.strerror or e}") from None
    return parse_pack(data)
