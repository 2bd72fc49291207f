"""The packed file's container: safetensors (an 8-byte header length, a JSON header, raw
tensor bytes; no pickle, nothing runs on load) with pyprune's metadata as one JSON string.

Reading looks at the header before anything else: only a regular file is opened, its header
length is checked against a cap and the file's size, the header is parsed by the strict
grammar (grammar.py) and only then is the data read, exactly the bytes the header describes,
into one buffer. Every tensor's CRC-32 is then checked. Problems raise PackError naming them.
Torch-free (a board without torch reads these files).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyprune.pack.grammar import (
    DIGEST_KEY, DTYPES, FORMAT, HEADER, MAX_HEADER_BYTES, METADATA, METADATA_KEY, VERSION, Stream,
)
from pyprune.pack.schema import Context, PackError, loads

__all__ = ["FORMAT", "VERSION", "PackError", "PackFile", "parse_pack", "read_pack",
           "serialize", "write_atomic"]


@dataclass(frozen=True)
class PackFile:
    """A file's metadata (the JSON written by save) and its tensors by name."""

    metadata: dict[str, Any]
    tensors: dict[str, np.ndarray]
    file_bytes: int


def _crc32(a: np.ndarray) -> int:
    return zlib.crc32(np.require(a, requirements="C").reshape(-1).view(np.uint8))


def serialize(metadata: dict[str, Any], tensors: dict[str, np.ndarray]) -> bytes:
    """The file's bytes: `metadata` (format, version and CRC-32s added) and `tensors`."""
    from safetensors.numpy import save

    tensors = {k: np.require(v, requirements="C") for k, v in tensors.items()}
    metadata = {"format": FORMAT, "version": VERSION, "crc32": {k: _crc32(v) for k, v in tensors.items()}, **metadata}
    text = json.dumps(metadata, separators=(",", ":"), allow_nan=False)  # keeps the state_dict's order
    digest = hashlib.sha256(text.encode()).hexdigest()
    return save(tensors, metadata={METADATA_KEY: text, DIGEST_KEY: digest})


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file in the same folder, synced and renamed
    over `path`: an existing file is never left half-written. The file's mode follows the
    umask, as any new file's. OSError naming `path` or its folder if it cannot be written."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        if folder.exists():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(folder))
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(folder))
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
    while True:
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Makes the rename durable (not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- reading --------------------------------------------------------------------------------------


def _header_length(prefix: bytes, file_bytes: int) -> int:
    if file_bytes < 8:
        raise PackError(f"not a pyprune pack file: {file_bytes} bytes is too short for a safetensors header")
    n = int.from_bytes(prefix[:8], "little")
    if n > MAX_HEADER_BYTES:
        raise PackError(f"not a pyprune pack file: header length {n} exceeds the {MAX_HEADER_BYTES}-byte limit")
    if 8 + n > file_bytes:
        raise PackError(f"file truncated: header of {n} bytes declared, {file_bytes - 8} present")
    return n


def _parse_header(head: bytes, data_bytes: int) -> tuple[dict[str, Any], dict[str, Stream]]:
    """The metadata and the streams of a header, every field checked against the grammar."""
    try:
        text = bytes(head).decode("utf-8")
    except UnicodeDecodeError as e:
        raise PackError(f"not a pyprune pack file: header is not JSON in UTF-8 ({e})") from None
    # safetensors: the header begins with '{' and may be padded with spaces after its end.
    if not text.startswith("{") or not text.rstrip(" ").endswith("}"):
        raise PackError("not a pyprune pack file: header is not a JSON object (padded with spaces)")
    header = loads(text, "header")
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or METADATA_KEY not in meta:
        raise PackError(f"not a pyprune pack file: no {METADATA_KEY!r} in the header's __metadata__ (a plain safetensors file?)")
    HEADER(header, "header", Context(data_bytes=data_bytes))
    streams = {name: Stream(e["dtype"], tuple(e["shape"]), *e["data_offsets"])
               for name, e in header.items() if name != "__metadata__"}
    text = meta[METADATA_KEY]
    if hashlib.sha256(text.encode()).hexdigest() != meta[DIGEST_KEY]:
        raise PackError("metadata checksum mismatch: the file is corrupt")
    metadata = loads(text, "metadata")
    if not isinstance(metadata, dict):
        raise PackError("metadata is not a JSON object")
    if metadata.get("format") != FORMAT:
        raise PackError(f"not a pyprune pack file: format is {metadata.get('format')!r}, expected {FORMAT!r}")
    version = metadata.get("version")
    if type(version) is not int or version not in METADATA:
        raise PackError(f"unsupported pack version {version!r}: this pyprune reads versions {sorted(METADATA)}")
    METADATA[version](metadata, "metadata", Context(streams))
    return metadata, streams


def _tensors(data: np.ndarray, streams: dict[str, Stream], crcs: dict[str, int]) -> dict[str, np.ndarray]:
    tensors = {}
    for name, s in streams.items():
        dtype = np.dtype(DTYPES[s.dtype])
        array = data[s.begin : s.end].view(dtype).reshape(s.shape)
        # safetensors aligns tensors to their dtype; a file that does not is copied.
        array = np.require(array, requirements="A")
        if crcs[name] != _crc32(array):
            raise PackError(f"tensor {name!r}: checksum mismatch, the file is corrupt")
        if dtype == np.bool_ and (array.view(np.uint8) > 1).any():
            raise PackError(f"tensor {name!r}: booleans must be bytes 0 or 1")
        tensors[name] = array
    return tensors


def parse_pack(data: bytes | bytearray | memoryview) -> PackFile:
    """The validated contents of a packed file's bytes."""
    buffer = np.frombuffer(data, np.uint8)
    n = _header_length(bytes(buffer[:8]), buffer.size)
    metadata, streams = _parse_header(buffer[8 : 8 + n].tobytes(), buffer.size - 8 - n)
    return PackFile(metadata, _tensors(buffer[8 + n :], streams, metadata["crc32"]), buffer.size)


_KINDS = {stat.S_IFDIR: "is a directory", stat.S_IFIFO: "is a FIFO (named pipe)", stat.S_IFCHR: "is a character device",
          stat.S_IFBLK: "is a block device", stat.S_IFSOCK: "is a socket", stat.S_IFLNK: "is a symbolic link"}


def _reason(e: OSError) -> str:
    return "no such file" if e.errno == errno.ENOENT else (e.strerror or str(e)).lower()


def _open_regular(name: str) -> tuple[int, int]:
    """(descriptor, size) of a regular file; anything else (a folder, a FIFO that would block
    forever, a device with endless data) is refused before it is opened."""
    try:
        if not stat.S_ISREG(mode := os.stat(name).st_mode):
            raise PackError(f"cannot read {name!r}: it {_KINDS.get(stat.S_IFMT(mode), 'is not a file')}, not a regular file")
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise PackError(f"cannot read {name!r}: {_reason(e)}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # replaced between stat and open
        os.close(fd)
        raise PackError(f"cannot read {name!r}: it {_KINDS.get(stat.S_IFMT(st.st_mode), 'is not a file')}")
    return fd, st.st_size


def _read_into(fd: int, offset: int, out: memoryview, name: str) -> None:
    done = 0
    while done < len(out):
        got = os.preadv(fd, [out[done:]], offset + done)
        if got == 0:
            raise PackError(f"cannot read {name!r}: the file shrank while it was read")
        done += got


def read_pack(path: str | os.PathLike) -> PackFile:
    """Reads and validates a packed file (PackError if it is not a valid one): the header
    first, then only the data it describes."""
    name = os.fspath(path)
    fd, size = _open_regular(name)
    try:
        prefix = bytearray(min(size, 8))
        _read_into(fd, 0, memoryview(prefix), name)
        n = _header_length(bytes(prefix), size)
        head = bytearray(n)
        _read_into(fd, 8, memoryview(head), name)
        metadata, streams = _parse_header(head, size - 8 - n)
        data = np.empty(size - 8 - n, np.uint8)
        _read_into(fd, 8 + n, memoryview(data), name)
    except OSError as e:
        raise PackError(f"cannot read {name!r}: {_reason(e)}") from None
    finally:
        os.close(fd)
    return PackFile(metadata, _tensors(data, streams, metadata["crc32"]), size)
