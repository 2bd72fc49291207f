"""The grammar of a packed file: everything a file may hold, and nothing else.

A packed file is a safetensors container:

    u64 little-endian N | N bytes of JSON header | data

* N <= MAX_HEADER_BYTES and 8 + N <= the file's size. The header is UTF-8 JSON that begins
  with `{` and may be padded with spaces (as safetensors pads it).
* JSON everywhere (the header and pyprune's metadata) is strict: no duplicate keys, no NaN or
  Infinity, integers of at most 20 digits, nesting at most 32 deep (schema.loads).
* header: an object of at most MAX_TENSORS streams, each
      NAME: {"dtype": DTYPE, "shape": SHAPE, "data_offsets": [BEGIN, END]}
  with NAME a string of 1..MAX_NAME characters (no control characters), DTYPE one of F64 F32
  F16 I64 I32 I16 I8 U8 BOOL, SHAPE a list of at most 8 sizes whose product is at most
  MAX_TENSOR_ELEMENTS, END - BEGIN = product(SHAPE) * itemsize(DTYPE); the streams' byte
  ranges tile the data exactly (sorted by BEGIN: no gap, no overlap, nothing after the last);
  plus the key "__metadata__": {"pyprune.pack": TEXT, "pyprune.pack.sha256": HEX64}, TEXT
  being the metadata below as JSON and HEX64 its SHA-256 (lower-case hex).
* metadata (version 3; version 2 is the same without graph, version 1 also without
  output_error and state_dict_metadata and the huffman-float encodings):
      "format": "pyprune-pack"
      "version": 1 | 2
      "crc32": {STREAM: 0..2^32-1}            exactly one entry per stream of the header
      "tensors": {TENSOR: RECORD}             the state_dict, in order, at most MAX_TENSORS
      "example_inputs": null | [SHAPE_IN, ...]  1..MAX_INPUTS input shapes, each of rank
                                              1..MAX_INPUT_RANK, sizes 1..2^16, at most
                                              MAX_INPUT_ELEMENTS each and in total
      "channel_plan": null | PLAN
      "model": string (the model's class name), "pyprune_version": string
      "output_error": null | {"max_abs": number >= 0, "output_range": number >= 0}
                      how far the packed model's outputs were from the original's on the
                      example inputs, measured at save time
      "state_dict_metadata": {PREFIX: {} | {"version": 0..2^31-1}}   the state_dict's
                      _metadata (module versions read by _load_from_state_dict)
      "graph": null | GRAPH   the model's optimised inference graph, which pyprune.runtime runs
  RECORD, by "encoding" (every stream it names is NAME + a fixed suffix, of the dtype and
  rank shown; each stream of the file is named by exactly one record):
      raw:                   shape, dtype (numpy name of the stream's DTYPE), data: TENSOR
                             (the stream's dtype and shape are the record's)
      huffman-shared-dense:  shape, dtype "float32", bits 1..8, nonzeros, codebook:
                             TENSOR:codebook (F32, 1..2^bits entries, finite), values: BLOCK
                             (TENSOR:values) of product(shape) symbols
      huffman-shared-sparse: the same, values has `nonzeros` symbols; index_bits 1..8,
                             gaps: BLOCK (TENSOR:gaps)
      huffman-float-dense:   shape, dtype "float32", nonzeros, planes: 4 BLOCKs
                             (TENSOR:plane0..3: byte k of each float32, little-endian) of
                             product(shape) symbols
      huffman-float-sparse:  the same for the `nonzeros` non-zeros only; index_bits, gaps
  BLOCK: {"data": STREAM (U8, 1-D), "lengths": STREAM.lengths (U8, 1-D, at most 256
  entries), "symbols": count} with count <= 8 * bytes of data; the block format and the code
  lengths are pyprune.compress.huffman's.
  PLAN: {"format": "pyprune.channel_plan", "version": 1, "layers": {LAYER: {"type": string,
  "out"?: SIDE, "in"?: SIDE, "params"?: {ATTRIBUTE: {DIM: SIDE}}, "attributes"?: {ATTRIBUTE:
  SIZE | [SIZE, ...]}}}}, SIDE {"size": 1..MAX_CHANNELS, "kept": strictly increasing channel
  indices below size, at least one}; "params" cuts tensors of a layer without a pruner of its
  own (a GroupNorm's, a LayerNorm's weight) along dims "0".."7", "attributes" are the sizes that
  follow them (a normalized_shape, a slice bound: SIZE in +-MAX_CHANNELS, at most MAX_DIMS).
  GRAPH: {"ir": IR, "tensors": {TENSOR: RECORD | SCALED}, "output_error": null | {...}}
  with IR the JSON form of pyprune.graph.ir.Graph (docs/graph.md), read by its strict
  Graph.from_json; each constant it lists is a float32 tensor of the same shape, of "tensors"
  (the state_dict's, shared with the model) or of the graph's own "tensors" (constants the
  state_dict does not hold, e.g. weights a batch norm was folded into; not named in "tensors",
  each a constant of the graph); at most MAX_GRAPH_CONSTANT_ELEMENTS values in all; its inputs
  have the shapes of example_inputs. output_error: how far the graph's outputs on pyprune's
  kernels were from the original model's, measured at save time.
  SCALED: {"encoding": "scaled", "shape": SHAPE (rank >= 1), "dtype": "float32", "base":
  TENSOR (a float32 tensor of "tensors" with as many values and the same dim 0: the same shape,
  or another view of its slices), "scale": TENSOR:scale (F32, 1-D, shape[0] entries)}: base *
  scale[i] in float32 for every slice i of dim 0, in this shape (a batch norm folded into a
  weight, a 3-d convolution's weight seen as a 2-d one's, costs its scale, not a second copy).

Adding a section is adding an entry here (and a version). What this grammar cannot see, the
contents of the streams (CRC-32, Huffman codes, finite codebooks), layers.py checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyprune.graph import ir
from pyprune.pack.schema import (
    Check, Const, Context, Enum, Float, Int, List, Map, Nullable, Record, Section, Str, Tagged, Tuple, Validator, fail,
)

__all__ = [
    "DIGEST_KEY", "DTYPES", "ENCODINGS", "FORMAT", "HEADER", "METADATA", "METADATA_KEY", "VERSION", "Stream",
    "records",
]

FORMAT = "pyprune-pack"
VERSION = 3
METADATA_KEY = "pyprune.pack"
DIGEST_KEY = "pyprune.pack.sha256"

MAX_HEADER_BYTES = 16 << 20
MAX_TENSORS = 100_000
MAX_NAME = 1024
MAX_DIMS = 8
MAX_TENSOR_ELEMENTS = 2**31 - 1  # positions of non-zeros are int32
MAX_COUNT = 2**53                # counts and offsets: exact in any JSON reader
MAX_INPUTS = 16
MAX_INPUT_RANK = 8
MAX_INPUT_ELEMENTS = 1 << 24     # 64 MB of float32 per example input, and in total
MAX_CHANNELS = 1 << 24
MAX_GRAPH_CONSTANT_ELEMENTS = 1 << 30  # 4 GiB of float32 weights decoded: a bound against bombs

# safetensors dtype -> numpy dtype.
DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
NUMPY_DTYPES = {np.dtype(v).name: k for k, v in DTYPES.items()}  # "float32" -> "F32"

RAW, SHARED_DENSE, SHARED_SPARSE = "raw", "huffman-shared-dense", "huffman-shared-sparse"
FLOAT_DENSE, FLOAT_SPARSE = "huffman-float-dense", "huffman-float-sparse"
SCALED = "scaled"  # the graph's own tensors only
ENCODINGS = (RAW, SHARED_DENSE, SHARED_SPARSE, FLOAT_DENSE, FLOAT_SPARSE, SCALED)
SPARSE = (SHARED_SPARSE, FLOAT_SPARSE)
PLANES = 4  # bytes of a float32


@dataclass(frozen=True)
class Stream:
    """One tensor of the container, as its header describes it."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


NAME = Str(MAX_NAME, min_len=1)


def _elements(shape: list[int], ctx: Context) -> str | None:
    n = math.prod(shape)
    return f"{n} elements exceed the {MAX_TENSOR_ELEMENTS} allowed" if n > MAX_TENSOR_ELEMENTS else None


SHAPE = Check(List(Int(0, MAX_TENSOR_ELEMENTS), max_len=MAX_DIMS), _elements)


# ---- the safetensors header -------------------------------------------------------------------


def _stream_bytes(entry: dict[str, Any], ctx: Context) -> str | None:
    begin, end = entry["data_offsets"]
    data = ctx.data_bytes
    if not begin <= end <= data:
        return f"bytes [{begin}, {end}) lie outside the {data} bytes of data (truncated file?)"
    size = math.prod(entry["shape"]) * np.dtype(DTYPES[entry["dtype"]]).itemsize
    if end - begin != size:
        return f"{end - begin} bytes do not hold shape {entry['shape']} of {entry['dtype']}"
    return None


def _tiling(header: dict[str, Any], ctx: Context) -> str | None:
    """The streams' byte ranges cover the data exactly once, as safetensors requires."""
    ranges = sorted((tuple(e["data_offsets"]), name) for name, e in header.items() if name != "__metadata__")
    cursor = 0
    for (begin, end), name in ranges:
        if begin != cursor:
            what = "overlaps the stream before it" if begin < cursor else f"leaves a gap of {begin - cursor} bytes"
            return f"stream {name!r} at bytes [{begin}, {end}) {what}"
        cursor = end
    if cursor != ctx.data_bytes:
        return f"{ctx.data_bytes - cursor} bytes after the last stream belong to no stream"
    return None


HEADER = Check(Map(
    NAME,
    Check(Record({"dtype": Enum(*DTYPES), "shape": SHAPE, "data_offsets": Tuple(Int(0, MAX_COUNT), Int(0, MAX_COUNT))}),
          _stream_bytes),
    max_len=MAX_TENSORS, label="stream",
    fixed={"__metadata__": Record({METADATA_KEY: Str(MAX_HEADER_BYTES), DIGEST_KEY: Str(64, r"[0-9a-f]{64}")})},
), _tiling)


# ---- pyprune's metadata -----------------------------------------------------------------------


class StreamRef:
    """The name of a stream of the container: the current tensor's name + suffix, of the
    given dtype and rank, not named by another field."""

    def __init__(self, suffix: str, dtype: str | None = None, rank: int | None = None) -> None:
        self.suffix, self.dtype, self.rank = suffix, dtype, rank

    def __call__(self, value: Any, path: str, ctx: Context) -> str:
        expected = ctx.keys[-1] + self.suffix
        if value != expected:
            fail(path, f"must be {expected!r}, got {str(value)[:60]!r}")
        stream = ctx.streams.get(value)
        if stream is None:
            fail(path, f"names stream {value!r}, which the file does not have")
        if self.dtype and stream.dtype != self.dtype or self.rank is not None and len(stream.shape) != self.rank:
            fail(path, f"stream {value!r} is {stream.dtype} of shape {list(stream.shape)}, expected a "
                       f"{self.rank}-D {self.dtype} stream")
        if value in ctx.used:
            fail(path, f"stream {value!r} is already used by {ctx.used[value]}")
        ctx.used[value] = path
        return value


def _size(record: dict[str, Any]) -> int:
    return math.prod(record["shape"])


def _block(suffix: str) -> Validator:
    def fits(block: dict[str, Any], ctx: Context) -> str | None:
        data, lengths = ctx.streams[block["data"]], ctx.streams[block["lengths"]]
        if lengths.shape[0] > 256:
            return f"{lengths.shape[0]} code lengths, more than the 256 symbols of a byte"
        if block["symbols"] > 8 * data.shape[0]:
            return f"declares {block['symbols']} symbols, impossible in {data.shape[0]} bytes"
        return None

    return Check(Record({"data": StreamRef(suffix, "U8", 1), "lengths": StreamRef(suffix + ".lengths", "U8", 1),
                        "symbols": Int(0, MAX_COUNT)}), fits)


def _counts(record: dict[str, Any], ctx: Context) -> str | None:
    """The symbol counts agree with the shape, the non-zeros and the codebook."""
    size, nonzeros = _size(record), record["nonzeros"]
    if nonzeros > size:
        return f"{nonzeros} non-zeros in a tensor of {size} elements"
    sparse = record["encoding"] in SPARSE
    want = nonzeros if sparse else size
    blocks = record["planes"] if "planes" in record else [record["values"]]
    if any(b["symbols"] != want for b in blocks):
        return f"values declare {[b['symbols'] for b in blocks]} symbols, the tensor has {want}"
    if sparse:
        filler = 2 ** record["index_bits"] - 1
        gaps = record["gaps"]["symbols"]
        if not nonzeros <= gaps <= nonzeros + (size - nonzeros) // filler:
            return f"{gaps} gaps cannot place {nonzeros} non-zeros in {size} elements"
    if "codebook" in record:
        entries = ctx.streams[record["codebook"]].shape[0]
        if not 1 <= entries <= 2 ** record["bits"]:
            return f"codebook of {entries} entries for {record['bits']}-bit indices"
    return None


def _raw_stream(record: dict[str, Any], ctx: Context) -> str | None:
    stream = ctx.streams[record["data"]]
    if NUMPY_DTYPES[record["dtype"]] != stream.dtype or list(stream.shape) != record["shape"]:
        return (f"stream is {stream.dtype} of shape {list(stream.shape)}, the record says "
                f"{record['dtype']} of shape {record['shape']}")
    return None


_COMMON = {"shape": SHAPE}
_CODED = {**_COMMON, "dtype": Const("float32"), "nonzeros": Int(0, MAX_TENSOR_ELEMENTS)}
_SPARSE = {"index_bits": Int(1, 8), "gaps": _block(":gaps")}
_SHARED = {**_CODED, "bits": Int(1, 8), "codebook": StreamRef(":codebook", "F32", 1), "values": _block(":values")}
_FLOAT = {**_CODED, "planes": Tuple(*(_block(f":plane{k}") for k in range(PLANES)))}


def _encoding(name: str, fields: dict[str, Validator]) -> Validator:
    rule = _raw_stream if name == RAW else _counts
    return Check(Record({"encoding": Const(name), **fields}), rule)


_RAW_RECORD = _encoding(RAW, {**_COMMON, "dtype": Enum(*NUMPY_DTYPES), "data": StreamRef("")})
TENSOR_V1 = Tagged("encoding", {
    RAW: _RAW_RECORD,
    SHARED_DENSE: _encoding(SHARED_DENSE, _SHARED),
    SHARED_SPARSE: _encoding(SHARED_SPARSE, {**_SHARED, **_SPARSE}),
}, "encoding")
TENSOR_V2 = Tagged("encoding", {
    **TENSOR_V1.variants,
    FLOAT_DENSE: _encoding(FLOAT_DENSE, _FLOAT),
    FLOAT_SPARSE: _encoding(FLOAT_SPARSE, {**_FLOAT, **_SPARSE}),
}, "encoding")


def _input_elements(shapes: list[list[int]], ctx: Context) -> str | None:
    sizes = [math.prod(s) for s in shapes]
    if max(sizes) > MAX_INPUT_ELEMENTS or sum(sizes) > MAX_INPUT_ELEMENTS:
        return f"inputs of {sizes} elements exceed the {MAX_INPUT_ELEMENTS} allowed (each and in total)"
    return None


EXAMPLE_INPUTS = Nullable(Check(List(List(Int(1, 1 << 16), 1, MAX_INPUT_RANK), 1, MAX_INPUTS), _input_elements))


def _kept(side: dict[str, Any], ctx: Context) -> str | None:
    kept = side["kept"]
    if any(a >= b for a, b in zip(kept, kept[1:])) or kept[-1] >= side["size"]:
        return f"kept channels must be strictly increasing indices below size {side['size']}"
    return None


_SIDE = Check(Record({"size": Int(1, MAX_CHANNELS), "kept": List(Int(0, MAX_CHANNELS), 1, MAX_CHANNELS)}), _kept)
_SIZE = Int(-MAX_CHANNELS, MAX_CHANNELS)
_SHAPE = List(_SIZE, 0, MAX_DIMS)


def _sizes(value: Any, path: str, ctx: Context) -> int | list[int]:
    """A size attribute a cut changed: one size (a slice bound, negative from the end) or a shape."""
    return _SHAPE(value, path, ctx) if type(value) is list else _SIZE(value, path, ctx)


_LAYER_CUT = Record({"type": Str(256)}, {
    "out": _SIDE, "in": _SIDE,
    "params": Map(NAME, Map(Enum(*map(str, range(MAX_DIMS))), _SIDE, MAX_DIMS), MAX_DIMS),
    "attributes": Map(NAME, _sizes, MAX_DIMS),
})
CHANNEL_PLAN = Nullable(Section("channel plan", Record({
    "format": Const("pyprune.channel_plan"),  # pyprune.prune.plan.PLAN_FORMAT (which needs torch)
    "version": Const(1),
    "layers": Map(NAME, _LAYER_CUT, MAX_TENSORS, label="layer"),
})))

OUTPUT_ERROR = Nullable(Record({"max_abs": Float(0), "output_range": Float(0)}))
STATE_DICT_METADATA = Map(Str(MAX_NAME), Record({}, {"version": Int(0, 2**31 - 1)}), MAX_TENSORS)


def _every_stream_used(metadata: dict[str, Any], ctx: Context) -> str | None:
    if set(metadata["crc32"]) != set(ctx.streams):
        odd = sorted(set(metadata["crc32"]) ^ set(ctx.streams))[:5]
        return f"crc32 must list exactly the file's streams; it differs on {odd}"
    unused = [s for s in ctx.streams if s not in ctx.used]
    return f"streams {unused[:5]} belong to no tensor" if unused else None


_METADATA_V1 = Record({
    "format": Const(FORMAT),
    "version": Const(1),
    "crc32": Map(NAME, Int(0, 2**32 - 1), MAX_TENSORS),
    "tensors": Map(NAME, TENSOR_V1, MAX_TENSORS, label="tensor"),
    "example_inputs": EXAMPLE_INPUTS,
    "channel_plan": CHANNEL_PLAN,
    "model": Str(256),
    "pyprune_version": Str(64),
})
_METADATA_V2 = _METADATA_V1.extend({
    "version": Const(2),
    "tensors": Map(NAME, TENSOR_V2, MAX_TENSORS, label="tensor"),
    "output_error": OUTPUT_ERROR,
    "state_dict_metadata": STATE_DICT_METADATA,
})


class Json:
    """Any JSON value: a section whose grammar another reader owns (checked by a rule after)."""

    def __call__(self, value: Any, path: str, ctx: Context) -> Any:
        return value


def _scale_fits(record: dict[str, Any], ctx: Context) -> str | None:
    entries = ctx.streams[record["scale"]].shape[0]
    if not record["shape"] or entries != record["shape"][0]:
        return f"a scale of {entries} entries for shape {record['shape']}: one per slice of dim 0"
    return None


_SCALED_RECORD = Check(Record({"encoding": Const(SCALED), "shape": SHAPE, "dtype": Const("float32"), "base": NAME,
                               "scale": StreamRef(":scale", "F32", 1)}), _scale_fits)
GRAPH_TENSOR = Tagged("encoding", {**TENSOR_V2.variants, SCALED: _SCALED_RECORD}, "encoding")

GRAPH = Nullable(Section("graph", Record({
    "ir": Json(),  # Graph.from_json, in _graph_fits: its constants are tensors of the whole file
    "tensors": Map(NAME, GRAPH_TENSOR, MAX_TENSORS, label="tensor"),
    "output_error": OUTPUT_ERROR,
})))


def records(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every tensor record of a valid file's metadata: the state_dict's, then the graph's own."""
    graph = metadata.get("graph")
    return {**metadata["tensors"], **(graph["tensors"] if graph else {})}


def _graph_fits(metadata: dict[str, Any], ctx: Context) -> str | None:
    """The graph reads as an ir.Graph whose constants are float32 tensors of the file, within
    the bound, and whose inputs have the example inputs' shapes."""
    section = metadata["graph"]
    if section is None:
        return None
    shared = sorted(set(section["tensors"]) & set(metadata["tensors"]))
    if shared:
        return f"graph: tensors {shared[:5]} are already tensors of the state_dict"
    for name, record in section["tensors"].items():
        base = metadata["tensors"].get(record.get("base"))
        if record["encoding"] == SCALED and (base is None or base["dtype"] != "float32"
                                             or base["shape"][:1] != record["shape"][:1]
                                             or math.prod(base["shape"]) != math.prod(record["shape"])):
            return (f"graph: tensor {name!r} scales {record['base']!r}, which is no float32 tensor of the "
                    f"state_dict with the slices of shape {record['shape']}")
    data = section["ir"]
    listed = data.get("constants") if isinstance(data, dict) else None
    names = {c["name"] for c in listed if isinstance(c, dict) and isinstance(c.get("name"), str)} \
        if isinstance(listed, list) else set()
    # Stand-ins of the records' dtype and shape (no memory): from_json checks names and shapes.
    stand_ins = {name: np.broadcast_to(np.zeros((), r["dtype"]), r["shape"])
                 for name, r in records(metadata).items() if name in names or name in section["tensors"]}
    try:
        graph = ir.Graph.from_json(data, stand_ins)
    except ir.GraphError as e:
        return f"graph.ir: {e}"
    total = sum(math.prod(c.shape) for c in graph.constants.values())
    if total > MAX_GRAPH_CONSTANT_ELEMENTS:
        return f"graph: constants of {total} values exceed the {MAX_GRAPH_CONSTANT_ELEMENTS} allowed"
    inputs = [list(spec.shape) for spec in graph.inputs]
    if inputs != metadata["example_inputs"]:
        return f"graph: input shapes {inputs} differ from example_inputs {metadata['example_inputs']}"
    return None


_METADATA_V3 = _METADATA_V2.extend({"version": Const(3), "graph": GRAPH})
# The metadata's grammar by version: every version listed is readable.
METADATA = {1: Check(_METADATA_V1, _every_stream_used), 2: Check(_METADATA_V2, _every_stream_used),
            3: Check(Check(_METADATA_V3, _every_stream_used), _graph_fits)}
