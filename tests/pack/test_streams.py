"""Huffman streams and code tables that lie (over-subscribed or incomplete codes, symbol counts
that do not match, streams shorter or longer than declared, gaps past the end), in every coded
tensor of real files, re-signed so that only the decoders can tell: a PackError naming the
tensor, at load in every mode (keep_compressed included), from read, inspect and nonzeros."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packed_files import metadata_of, split, with_metadata, with_stream

from pyprune import pack
from pyprune.pack import PackError
from pyprune.pack.format import parse_pack

CODED = ("huffman-shared-dense", "huffman-shared-sparse", "huffman-float-dense", "huffman-float-sparse")


def _stream(data, name):
    header, body = split(data)
    begin, end = header[name]["data_offsets"]
    return np.frombuffer(body[begin:end], np.uint8).copy()


def _blocks(record):
    return record.get("planes", []) + [record[k] for k in ("values", "gaps") if k in record]


def _over_subscribed(lengths):
    lengths = lengths.copy()
    lengths[lengths > 0] = 1
    lengths[: max(3, lengths.size)] = 1
    return lengths


def _incomplete(lengths):
    lengths = lengths.copy()
    used = np.flatnonzero(lengths)
    lengths[used[np.argmax(lengths[used])]] += 1  # one code longer: a pattern is left unused
    return lengths


def _lies(data, name, record, draw):
    """(description, hostile file) for one coded tensor."""
    block = draw(st.sampled_from(_blocks(record)))
    lengths, stream = _stream(data, block["lengths"]), _stream(data, block["data"])
    kind = draw(st.sampled_from(["over-subscribed", "incomplete", "symbols", "short", "long", "payload"]))
    if kind == "over-subscribed":
        return kind, with_stream(data, block["lengths"], _over_subscribed(lengths))
    if kind == "incomplete":
        return kind, with_stream(data, block["lengths"], _incomplete(lengths))
    if kind == "symbols":
        delta = draw(st.sampled_from([-1, 1, 7]))

        def change(meta):
            for b in _blocks(meta["tensors"][name]):
                if b["data"] == block["data"]:
                    b["symbols"] = max(0, b["symbols"] + delta)
        return kind, with_metadata(data, change)
    if kind == "short":
        return kind, with_stream(data, block["data"], stream[: draw(st.integers(0, max(stream.size - 1, 0)))])
    if kind == "long":
        return kind, with_stream(data, block["data"], np.concatenate([stream, np.zeros(draw(st.integers(1, 8)), np.uint8)]))
    corrupted = stream.copy()
    header = 1 + 4 * int(stream[0])
    if corrupted.size <= header:
        return kind, with_stream(data, block["data"], stream[:-1])
    corrupted[draw(st.integers(header, corrupted.size - 1))] ^= 0xFF
    return kind, with_stream(data, block["data"], corrupted)


def _refuse_everywhere(path, name, factory):
    """The file is refused by every reader, each naming the tensor."""
    for reader in (lambda: pack.read(path), lambda: pack.inspect(path),
                   lambda: pack.load(path, factory, fast=False),
                   lambda: pack.load(path, factory, fast=False, keep_compressed=True)):
        with pytest.raises(PackError, match=f"tensor '{name}'"):
            reader()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_lying_codes_and_streams_are_pack_errors_naming_the_tensor(real_files, seeds, tmp_path, data):
    file = data.draw(st.sampled_from(["pruned-shared", "dense-shared", "pruned-lossless", "dense-lossless"]))
    blob = real_files[file]
    records = {n: r for n, r in metadata_of(blob)["tensors"].items() if r["encoding"] in CODED}
    name = data.draw(st.sampled_from(sorted(records)))
    kind, hostile = _lies(blob, name, records[name], data.draw)
    path = tmp_path / "lie.pyprune"
    path.write_bytes(hostile)
    try:
        pack.read(path)
    except PackError as e:
        # Some lies are refused by the grammar already (a count beyond the bytes): it names the tensor too.
        assert name in str(e), (kind, str(e))
        return
    # A flipped byte can still be a valid code for other symbols (Huffman has no redundancy);
    # every other lie must be caught.
    assert kind == "payload", f"{kind} in {name} of {file} was accepted"


@pytest.mark.parametrize("kind", ["over-subscribed", "incomplete", "short", "long"])
def test_each_lie_is_refused_at_load_in_every_mode(real_files, seeds, tmp_path, kind):
    blob = real_files["pruned-shared"]
    name, record = next((n, r) for n, r in metadata_of(blob)["tensors"].items() if r["encoding"] == "huffman-shared-sparse")
    block = record["values"]
    lengths, stream = _stream(blob, block["lengths"]), _stream(blob, block["data"])
    hostile = {
        "over-subscribed": lambda: with_stream(blob, block["lengths"], _over_subscribed(lengths)),
        "incomplete": lambda: with_stream(blob, block["lengths"], _incomplete(lengths)),
        "short": lambda: with_stream(blob, block["data"], stream[:-1]),
        "long": lambda: with_stream(blob, block["data"], np.concatenate([stream, np.zeros(2, np.uint8)])),
    }[kind]()
    path = tmp_path / "lie.pyprune"
    path.write_bytes(hostile)
    _refuse_everywhere(path, name, seeds.small_model)
    with pytest.raises(PackError, match=f"tensor '{name}'"):
        pack.nonzeros(parse_pack(hostile), name)


def test_keep_compressed_checks_every_stream_at_load(real_files, seeds, tmp_path):
    """A corrupt stream that keep_compressed would only decode in the first forward pass."""
    blob = real_files["pruned-shared"]
    records = metadata_of(blob)["tensors"]
    name = next(n for n, r in records.items() if r["encoding"].startswith("huffman-shared") and n.endswith("weight"))
    block = records[name]["values"]
    path = tmp_path / "lie.pyprune"
    path.write_bytes(with_stream(blob, block["data"], _stream(blob, block["data"])[:-1]))
    with pytest.raises(PackError, match=f"tensor '{name}'"):
        pack.load(path, seeds.small_model, keep_compressed=True)


def test_gaps_past_the_end_of_a_float_sparse_tensor_are_refused(real_files, tmp_path):
    blob = real_files["pruned-lossless"]
    name = next(n for n, r in metadata_of(blob)["tensors"].items() if r["encoding"] == "huffman-float-sparse")

    def shrink(meta):  # the same gaps in a smaller tensor
        meta["tensors"][name]["shape"][0] -= 1

    path = tmp_path / "gaps.pyprune"
    path.write_bytes(with_metadata(blob, shrink))
    with pytest.raises(PackError, match=f"tensor '{name}'"):
        pack.read(path)


@pytest.mark.parametrize("file", ["pruned-shared", "pruned-lossless"])
def test_a_sparse_tensor_claiming_a_huge_shape_allocates_nothing_for_it(real_files, seeds, tmp_path, file):
    """Zeros after the last non-zero take no bits: only the model can say the shape is wrong."""
    import tracemalloc

    blob = real_files[file]
    name = next(n for n, r in metadata_of(blob)["tensors"].items() if r["encoding"].endswith("sparse"))
    path = tmp_path / "huge.pyprune"
    path.write_bytes(with_metadata(blob, lambda meta: meta["tensors"][name].update(shape=[2**31 - 1])))
    tracemalloc.start()
    pack.inspect(path)  # a valid file
    with pytest.raises(PackError, match="differs from the model's"):
        pack.load(path, seeds.small_model, fast=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20
