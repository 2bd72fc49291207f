"""Packed files taken apart and put back together, to make hostile ones from real ones: the
header and pyprune's metadata as JSON, re-signed (metadata SHA-256 and stream CRC-32s valid)
so that a change reaches the check it is meant for."""

import hashlib
import json
import struct
import zlib

import numpy as np


def split(data):
    """(header, body) of a packed file's bytes."""
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def join(header, body, header_text=None):
    """The bytes of a file with this header (or this exact header text) and body."""
    text = (header_text if header_text is not None else json.dumps(header)).encode()
    text += b" " * (-len(text) % 8)  # as safetensors pads it
    return struct.pack("<Q", len(text)) + text + body


def metadata_of(data):
    return json.loads(split(data)[0]["__metadata__"]["pyprune.pack"])


def signed_header(header, meta_text):
    """`header` with `meta_text` as its pyprune metadata, signed."""
    digest = hashlib.sha256(meta_text.encode("utf-8", "surrogatepass")).hexdigest()
    return {**header, "__metadata__": {"pyprune.pack": meta_text, "pyprune.pack.sha256": digest}}


def resign(header, meta, body, meta_text=None):
    """The file's bytes with CRC-32s recomputed for every stream and the metadata signed."""
    for name, entry in header.items():
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            meta["crc32"][name] = zlib.crc32(body[begin:end])
    text = meta_text if meta_text is not None else json.dumps(meta)
    return join(signed_header(header, text), body)


def with_metadata(data, change):
    """The file with its pyprune metadata changed by `change` and re-signed."""
    header, body = split(data)
    meta = metadata_of(data)
    change(meta)
    return resign(header, meta, body)


def _streams(header, body):
    return {k: body[e["data_offsets"][0] : e["data_offsets"][1]] for k, e in header.items() if k != "__metadata__"}


def _laid_out(header, meta, streams):
    """The file of these streams (in the header's order), laid out again and re-signed."""
    offset, parts = 0, []
    for k in [k for k in header if k != "__metadata__"]:
        header[k]["data_offsets"] = [offset, offset + len(streams[k])]
        offset += len(streams[k])
        parts.append(streams[k])
    return resign(header, meta, b"".join(parts))


def with_stream(data, name, array):
    """The file with stream `name` replaced by `array` (any size: the data is laid out again)."""
    header, body = split(data)
    meta = metadata_of(data)
    streams = _streams(header, body)
    streams[name] = np.ascontiguousarray(array).tobytes()
    dtype = {"uint8": "U8", "float32": "F32", "float64": "F64", "int64": "I64", "int32": "I32"}[str(array.dtype)]
    header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [0, 0]}
    return _laid_out(header, meta, streams)


def without_graph(data):
    """The file as it is without its graph section and the streams of the graph's own tensors."""
    header, body = split(data)
    meta = metadata_of(data)
    streams = _streams(header, body)
    for name in [k for k in streams if k.split(":")[0] in meta["graph"]["tensors"]]:
        del header[name], streams[name], meta["crc32"][name]
    meta["graph"] = None
    return _laid_out(header, meta, streams)
