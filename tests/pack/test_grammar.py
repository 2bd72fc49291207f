"""The strict grammar of packed files: every field of real files replaced by values of another
type or out of range, unknown fields added at every level, and the container's own rules
(tiling of the data, duplicate keys, JSON limits). Each is a PackError naming the field, from
the reader, inspect and the command line alike."""

import json
import re
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packed_files import join, metadata_of, resign, signed_header, split, with_stream

from pyprune import cli, pack
from pyprune.pack import PackError
from pyprune.pack.format import parse_pack
from pyprune.pack.grammar import MAX_INPUT_ELEMENTS
from pyprune.pack.schema import MAX_JSON_DEPTH

# A value of every JSON type, and out-of-range numbers.
WRONG = [True, 1.5, "x", [1], {"k": 1}, None, 10**30, -1]
NULLABLE = {"example_inputs", "channel_plan", "output_error", "graph"}


def _nodes(value, path=()):
    """Every (path, value) below `value`, the root excluded (of lists, the first 3 items)."""
    items = value.items() if isinstance(value, dict) else enumerate(value[:3]) if isinstance(value, list) else ()
    for key, child in items:
        yield path + (key,), child
        yield from _nodes(child, path + (key,))


def _replaced(value, path, new):
    value = json.loads(json.dumps(value))
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return value


def _json_type(v):
    return {bool: "bool", int: "number", float: "number", str: "string", list: "list", dict: "object"}.get(type(v), "null")


def _field_name(path):
    """What the message must name: the key, or for a list item its list's key."""
    keys = [k for k in path if isinstance(k, str)]
    return keys[-1]


def _signed_metadata(data, meta):
    header, body = split(data)
    return join(signed_header(header, json.dumps(meta)), body)


def _refused(data):
    """The PackError message of the reader, after checking inspect says the same."""
    with pytest.raises(PackError) as reader:
        pack.read(parse_pack_path(data))
    return str(reader.value)


_TMP = {}


def parse_pack_path(data):
    path = _TMP["dir"] / "f.pyprune"
    path.write_bytes(data)
    return path


@pytest.fixture(autouse=True)
def _tmp(tmp_path):
    _TMP["dir"] = tmp_path


def _check_every_field(data, document, rebuild, skip):
    """Each field replaced by each wrong value: refused, naming the field when the type is wrong."""
    problems = []
    for path, old in list(_nodes(document)):
        for new in WRONG:
            if _json_type(new) == _json_type(old) in ("string", "list", "object") or skip(path, old, new):
                continue
            try:
                message = _refused(rebuild(data, _replaced(document, path, new)))
            except BaseException as e:  # noqa: BLE001 - collected, reported below
                problems.append(f"{path} = {new!r}: {type(e).__name__}: {e}")
                continue
            if _json_type(new) != _json_type(old) and _field_name(path) not in message:
                problems.append(f"{path} = {new!r}: message does not name the field: {message}")
    assert not problems, "\n".join(problems[:20])


def _metadata_skip(path, old, new):
    # null is valid where a section is optional; an integer is a valid number; a number in range is valid.
    if new is None and path[-1] in NULLABLE:
        return True
    if isinstance(old, float) and type(new) in (int, float) and new >= 0:
        return True
    return isinstance(old, int) and not isinstance(old, bool) and type(new) is int and new >= 0 and new != 10**30


@pytest.mark.parametrize("name", ["pruned-shared", "dense-lossless", "pruned-lossless", "channel-plan"])
def test_every_metadata_field_of_another_type_or_range_is_refused_by_name(real_files, name):
    data = real_files[name]
    _check_every_field(data, metadata_of(data), _signed_metadata, _metadata_skip)


@pytest.mark.parametrize("name", ["pruned-shared", "channel-plan"])
def test_every_header_field_of_another_type_is_refused_by_name(real_files, name):
    data = real_files[name]
    header, body = split(data)
    header.pop("__metadata__")
    meta_header = split(data)[0]["__metadata__"]

    def rebuild(_, changed):
        return join({**changed, "__metadata__": meta_header}, body)

    skip = lambda path, old, new: type(new) is int and type(old) is int and 0 <= new < 10**30  # noqa: E731
    _check_every_field(data, header, rebuild, skip)


@pytest.mark.parametrize("name", ["pruned-shared", "pruned-lossless", "channel-plan"])
def test_an_unknown_field_at_any_level_is_refused_by_name(real_files, name):
    data = real_files[name]
    meta = metadata_of(data)
    objects = [()] + [path for path, value in _nodes(meta) if isinstance(value, dict)]
    for path in objects:
        changed = json.loads(json.dumps(meta))
        target = changed
        for key in path:
            target = target[key]
        target["zz_unknown"] = 1
        message = _refused(_signed_metadata(data, changed))
        assert "zz_unknown" in message, (path, message)


def test_the_grammar_module_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "import pyprune.pack.grammar, pyprune.pack.format, pyprune.pack.reading, pyprune.pack.report\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


# ---- the container: the data tiled exactly, as safetensors requires --------------------------------


def _streams(header):
    return sorted((e["data_offsets"][0], name) for name, e in header.items() if name != "__metadata__")


def test_overlapping_streams_are_refused(real_files):
    header, body = split(real_files["pruned-shared"])
    ordered = _streams(header)
    (_, a), (_, b) = ordered[-2], ordered[-1]
    size_b = header[b]["data_offsets"][1] - header[b]["data_offsets"][0]
    header[b]["data_offsets"] = [header[a]["data_offsets"][0], header[a]["data_offsets"][0] + size_b]
    assert "overlaps" in _refused(join(header, body))


def test_trailing_bytes_after_the_data_are_refused(real_files):
    header, body = split(real_files["pruned-shared"])
    assert "belong to no stream" in _refused(join(header, body + bytes(8)))


def test_gaps_between_streams_are_refused(real_files):
    header, body = split(real_files["pruned-shared"])
    begin, name = _streams(header)[1]
    for _, other in _streams(header)[1:]:
        header[other]["data_offsets"] = [o + 8 for o in header[other]["data_offsets"]]
    message = _refused(join(header, body[:begin] + bytes(8) + body[begin:]))
    assert "gap of 8 bytes" in message and name in message


def _with_text_key(text, key_text):
    return text[:-1] + "," + key_text + "}"


def test_duplicate_keys_anywhere_are_refused(real_files):
    data = real_files["pruned-shared"]
    header, body = split(data)
    text = json.dumps(header)
    twice = _with_text_key(text, '"__metadata__":' + json.dumps(header["__metadata__"]))
    assert "duplicate key" in _refused(join(None, body, twice))
    name = next(k for k in header if k != "__metadata__")
    assert "duplicate key" in _refused(join(None, body, _with_text_key(text, json.dumps(name) + ":" + json.dumps(header[name]))))
    meta = metadata_of(data)
    meta_text = _with_text_key(json.dumps(meta), '"model":"Other"')
    assert "duplicate key" in _refused(join(signed_header(header, meta_text), body))
    tensors = json.dumps(meta["tensors"])
    first = next(iter(meta["tensors"]))
    entry = json.dumps(first) + ":" + json.dumps(meta["tensors"][first])
    doubled = json.dumps(meta).replace(tensors, _with_text_key(tensors, entry))
    assert "duplicate key" in _refused(join(signed_header(header, doubled), body))


@pytest.mark.parametrize("version", [True, 1.0, 2.0, "2", None, 0, 4, -1])
def test_versions_must_be_known_integers(real_files, version):
    data = real_files["pruned-shared"]
    meta = metadata_of(data)
    meta["version"] = version
    assert "unsupported pack version" in _refused(_signed_metadata(data, meta))


def test_version_1_files_stay_readable(real_files, seeds):
    data = real_files["pruned-shared"]
    meta = metadata_of(data)
    meta["version"] = 1
    del meta["output_error"], meta["state_dict_metadata"], meta["graph"]
    path = parse_pack_path(_signed_metadata(data, meta))
    assert pack.inspect(path).output_error is None
    pack.load(path, seeds.small_model, fast=False)
    meta = metadata_of(real_files["pruned-lossless"])
    meta["version"] = 1
    del meta["output_error"], meta["state_dict_metadata"], meta["graph"]
    assert 'unknown encoding "huffman-float' in _refused(_signed_metadata(real_files["pruned-lossless"], meta))


def _raw_name(meta):
    return next(n for n, r in meta["tensors"].items() if r["encoding"] == "raw" and r["dtype"] == "float32")


def test_a_raw_stream_of_another_dtype_than_recorded_is_refused(real_files):
    data = real_files["pruned-shared"]
    meta = metadata_of(data)
    name = _raw_name(meta)
    header, body = split(data)
    header[name]["dtype"] = "I32"  # same size, other type
    assert "the record says float32" in _refused(resign(header, meta, body))
    stored = np.zeros(meta["tensors"][name]["shape"], np.float64)
    assert "F64" in _refused(with_stream(data, name, stored))


def test_a_raw_tensor_of_another_dtype_than_the_model_is_refused(real_files, seeds):
    data = real_files["pruned-shared"]
    meta = metadata_of(data)
    name = _raw_name(meta)
    changed = with_stream(data, name, np.zeros(meta["tensors"][name]["shape"], np.float64))
    header, body = split(changed)
    meta = metadata_of(changed)
    meta["tensors"][name]["dtype"] = "float64"
    path = parse_pack_path(resign(header, meta, body))
    pack.read(path)  # a valid file...
    with pytest.raises(PackError, match="dtype float64 differs from the model's torch.float32"):
        pack.load(path, seeds.small_model, fast=False)  # ...of another model


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_codebooks_must_be_finite(real_files, seeds, bad):
    data = real_files["pruned-shared"]
    name = next(k for k in split(data)[0] if k.endswith(":codebook"))
    header, body = split(data)
    begin, end = header[name]["data_offsets"]
    codebook = np.frombuffer(body[begin:end], np.float32).copy()
    codebook[-1] = bad
    path = parse_pack_path(with_stream(data, name, codebook))
    with pytest.raises(PackError, match="codebook holds NaN or infinity"):
        pack.load(path, seeds.small_model, fast=False)
    with pytest.raises(PackError, match="codebook holds NaN or infinity"):
        pack.inspect(path)


@pytest.mark.parametrize("where", ["header", "metadata"])
@pytest.mark.parametrize("number", ["9" * 5000, "-" + "9" * 5000, "1e999", "-1e999", "NaN", "Infinity", "1" * 21])
def test_numbers_beyond_range_are_refused(real_files, where, number):
    data = real_files["pruned-shared"]
    header, body = split(data)
    if where == "header":
        text = re.sub(r'"data_offsets": \[0,', f'"data_offsets": [{number},', json.dumps(header), count=1)
        message = _refused(join(None, body, text))
    else:
        meta_text = re.sub(r'"symbols": \d+', f'"symbols": {number}', json.dumps(metadata_of(data)), count=1)
        message = _refused(join(signed_header(header, meta_text), body))
    assert any(w in message for w in ("out of range", "not JSON", "must be")), message


@pytest.mark.parametrize("dtype", [["F32"], {"F32": 1}, 32, None, "F32 "])
def test_non_string_or_unknown_dtypes_are_refused(real_files, dtype):
    header, body = split(real_files["pruned-shared"])
    name = next(k for k in header if k != "__metadata__")
    header[name]["dtype"] = dtype
    assert "dtype" in _refused(join(header, body))


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000, 200_000])
def test_deeply_nested_json_is_refused(real_files, depth):
    data = real_files["channel-plan"]
    header, body = split(data)
    nested = "[" * depth + "]" * depth
    meta_text = json.dumps(metadata_of(data)).replace('"channel_plan": {', f'"channel_plan": {{"deep": {nested}, ', 1)
    assert "nested" in _refused(join(signed_header(header, meta_text), body))
    header_text = json.dumps(header)[:-1] + f', "deep": {nested}}}'
    assert "nested" in _refused(join(None, body, header_text))


def test_channel_plans_must_keep_increasing_channels_below_their_size(real_files):
    data = real_files["channel-plan"]
    meta = metadata_of(data)
    layer = next(iter(meta["channel_plan"]["layers"].values()))
    side = layer.get("out") or layer["in"]
    for kept in ([0, 0], [1, 0], [side["size"]], []):
        side["kept"] = kept
        assert "channel plan" in _refused(_signed_metadata(data, meta))


@pytest.mark.parametrize("shapes", [
    [[1, 3, 8192, 8192]], [[1, 3, 2048, 2048], [1, 3, 2048, 2048]], [[]], [[1] * 9], [], [[0, 3, 8, 8]],
    [[1, 3, 8, 8]] * 17, [[1.0, 3, 8, 8]],
], ids=["huge", "huge-total", "rank-0", "rank-9", "none", "zero", "too-many", "float"])
def test_example_input_shapes_are_bounded(real_files, shapes):
    data = real_files["pruned-shared"]
    meta = metadata_of(data)
    meta["example_inputs"] = shapes
    assert "example_inputs" in _refused(_signed_metadata(data, meta))
    assert MAX_INPUT_ELEMENTS <= 1 << 24


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_command_line_reports_any_refused_file_in_one_line(real_files, data, capsys):
    name = data.draw(st.sampled_from(sorted(real_files)))
    blob = real_files[name]
    meta = metadata_of(blob)
    path, old = data.draw(st.sampled_from([(p, v) for p, v in _nodes(meta) if p[-1] not in NULLABLE]))
    new = data.draw(st.sampled_from([v for v in WRONG if _json_type(v) != _json_type(old)]))
    bad = parse_pack_path(_signed_metadata(blob, _replaced(meta, path, new)))
    assert cli.main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pyprune inspect: error: ") and "\n" not in err and "Traceback" not in err


def test_a_short_header_length_prefix_is_refused():
    for data in (b"", b"\x01", struct.pack("<Q", 2) + b"{}", struct.pack("<Q", 8) + b"{}      "):
        with pytest.raises(PackError):
            parse_pack(data)
