"""Fuzz target: the packed-file reader (pyprune.pack.format.parse_pack: container, strict JSON,
grammar, CRC-32) and everything a torch-free reader does with what it accepts (every stream
decoded, the inspect report, the non-zeros of sparse tensors).

Contract checked: any input ends in a PackError or is read whole, never another exception,
a crash, a hang (libFuzzer's -timeout) or a huge allocation (-rss_limit_mb). The mutator
changes the header, pyprune's metadata or the data and then, most of the time, re-signs the
file (metadata SHA-256, stream CRC-32s, header length) so that mutations reach the grammar
and the decoders instead of stopping at a checksum. Seeds: real packed files (fuzz/seeds.py).
Run: python fuzz/fuzz_pack.py [libFuzzer options] CORPUS... (scripts/fuzz.sh).
"""

import hashlib
import json
import random
import struct
import sys
import zlib

import atheris
import numpy  # noqa: F401 - imported first, so that only pyprune is instrumented

with atheris.instrument_imports(include=["pyprune"]):
    from pyprune.pack.format import parse_pack
    from pyprune.pack.grammar import DIGEST_KEY, METADATA_KEY, SPARSE
    from pyprune.pack.layers import decode_nonzeros, validate_streams
    from pyprune.pack.report import report
    from pyprune.pack.schema import PackError


def TestOneInput(data: bytes) -> None:
    try:
        pack = parse_pack(data)
        records = pack.metadata["tensors"]
        validate_streams(records, pack.tensors)
        str(report(pack))
        for name, record in records.items():
            if record["encoding"] in SPARSE:
                decode_nonzeros(record, pack.tensors, name)
    except PackError:
        pass


# ---- the mutator (not under test: any failure of its own just keeps the raw mutation) ----------


def _split(data: bytes) -> tuple[dict, dict, bytes]:
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError("no header")
    header = json.loads(data[8 : 8 + n])
    return header, json.loads(header["__metadata__"][METADATA_KEY]), data[8 + n :]


def _signed(header: dict, metadata: dict, body: bytes) -> bytes:
    crcs = {}
    for name, entry in header.items():
        if name != "__metadata__" and isinstance(entry, dict):
            offsets = entry.get("data_offsets")
            if isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets) \
                    and 0 <= offsets[0] <= offsets[1] <= len(body):
                crcs[name] = zlib.crc32(body[offsets[0] : offsets[1]])
    if isinstance(metadata, dict) and isinstance(metadata.get("crc32"), dict):
        metadata["crc32"].update(crcs)
    text = json.dumps(metadata, separators=(",", ":"))
    header["__metadata__"] = {METADATA_KEY: text, DIGEST_KEY: hashlib.sha256(text.encode()).hexdigest()}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + body


def CustomMutator(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    try:
        header, metadata, body = _split(data)
    except Exception:
        return atheris.Mutate(data, max_size)
    part = rng.randrange(4)
    try:
        if part == 0:  # the metadata's JSON text
            text = atheris.Mutate(json.dumps(metadata, separators=(",", ":")).encode(), 4 * max_size).decode("utf-8", "replace")
            metadata = json.loads(text)
        elif part == 1:  # the header's JSON (stream entries)
            del header["__metadata__"]
            header = json.loads(atheris.Mutate(json.dumps(header).encode(), 4 * max_size))
            if not isinstance(header, dict):
                return atheris.Mutate(data, max_size)
        elif part == 2:  # the data
            body = atheris.Mutate(body, max(len(body) + 64, 1))
        else:  # the bytes as they are: checksums stay wrong
            return atheris.Mutate(data, max_size)
        return _signed(header, metadata, body)[:max_size]
    except Exception:
        return atheris.Mutate(data, max_size)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput, custom_mutator=CustomMutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
