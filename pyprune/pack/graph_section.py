"""Writing a model's inference graph into its packed file (the "graph" section, grammar.py):
the graph's constants become tensors of the file, sharing what the state_dict already holds.
Torch-free: ``save_graph`` packs a graph alone.

A constant equal to a float32 tensor of the state_dict is that tensor (the graph reads it as the
model does, decoded). One that is such a tensor with each slice of dim 0 scaled (a batch norm
folded into a weight), in its shape or another of the same slices (a 3-d or 1-d convolution's
weight as a 2-d one's), is stored as "scaled": its base and the scale, not a second copy. Any
other is encoded as save encodes a state_dict tensor (weight-shared, or bit for bit when
lossless) under a name no tensor or stream of the file has.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from pyprune.graph import ir
from pyprune.kernels import __version__
from pyprune.pack.format import parse_pack, serialize, write_atomic
from pyprune.pack.layers import SCALED, Streams, encode_weight, scale_rows

__all__ = ["graph_section", "save_graph"]


def _row_scale(value: np.ndarray, base: np.ndarray) -> np.ndarray | None:
    """The float32 scale s with scale_rows(base, s) == value, if one exists. A folded weight is
    round(base * s) for the batch norm's float32 s, so s is the row's first ratio value / base
    rounded to float32, or one of its neighbours."""
    rows, flat = base.reshape(len(base), -1), value.reshape(len(value), -1)
    nonzero = rows != 0
    first = nonzero.argmax(axis=1)
    index = np.arange(len(rows))
    with np.errstate(all="ignore"):  # rows of zeros (s = 0 fits them if the value is zero too), inf, nan
        ratio = np.where(nonzero.any(axis=1), flat[index, first].astype(np.float64) / rows[index, first], 0.0)
    ratio = ratio.astype(np.float32)
    scale, found = np.zeros_like(ratio), np.zeros(len(rows), bool)
    for candidate in (ratio, np.nextafter(ratio, np.float32(np.inf)), np.nextafter(ratio, np.float32(-np.inf))):
        with np.errstate(all="ignore"):
            fits = (scale_rows(rows, candidate) == flat).all(axis=1) & ~found
        scale[fits] = candidate[fits]
        found |= fits
    return scale if found.all() else None


def _fresh(name: str, taken: set[str], streams: Mapping[str, Any]) -> str:
    """`name`, or name@graph, name@graph2 ...: no tensor nor stream of the file has it, nor any
    stream it would name (NAME, NAME:...)."""
    new, k = name, 1
    while new in taken or new in streams or any(s.startswith(new + ":") for s in streams):
        k += 1
        new = f"{name}@graph" if k == 2 else f"{name}@graph{k - 1}"
    return new


def graph_section(graph: ir.Graph, state: Mapping[str, np.ndarray], records: Mapping[str, dict[str, Any]],
                  streams: Mapping[str, np.ndarray], *, bits: Any = None, index_bits: Any = None,
                  lossless: bool = False) -> tuple[dict[str, Any], Streams]:
    """(the graph section, the streams of the graph's own tensors) for `graph` in a file whose
    state_dict tensors are `state` (the arrays saved), `records` and `streams` (as written).
    bits, index_bits, lossless: as for the state_dict's tensors (pack.save)."""
    data = graph.to_json()
    tensors = {s.name for s in graph.inputs} | {t for n in graph.nodes for t in n.outputs}
    bases: dict[tuple[int, ...], list[str]] = {}
    slices: dict[tuple[int, int], list[str]] = {}  # (dim 0, values) -> tensors: what a weight can scale
    for name, array in state.items():
        if array.dtype == np.float32 and records[name]["dtype"] == "float32" and array.size and name not in tensors:
            bases.setdefault(array.shape, []).append(name)
            if array.ndim:
                slices.setdefault((array.shape[0], array.size), []).append(name)
    names: dict[str, str] = {}  # graph constant -> file tensor
    own: dict[str, dict[str, Any]] = {}
    own_streams: Streams = {}
    for name, constant in graph.constants.items():
        value = constant.weights.decode().reshape(constant.shape) if isinstance(constant, ir.CodedConstant) \
            else constant
        same = [b for b in bases.get(value.shape, []) if np.array_equal(state[b], value)]
        if same:
            names[name] = same[0]
            continue
        new = _fresh(name, tensors | set(records) | set(own) | set(names.values()), {**streams, **own_streams})
        weights = slices.get((value.shape[0], value.size), []) if value.ndim >= 2 else []  # a vector would scale any other
        scaled = next(((b, s) for b in weights if (s := _row_scale(value, state[b])) is not None), None)
        if scaled:
            own[new] = {"encoding": SCALED, "shape": list(value.shape), "dtype": "float32", "base": scaled[0],
                        "scale": f"{new}:scale"}
            own_streams[f"{new}:scale"] = scaled[1]
        else:
            own[new], s = encode_weight(new, value, bits, index_bits, lossless)
            own_streams.update(s)
        names[name] = new
    for node in data["nodes"]:
        node["inputs"] = [names.get(t, t) for t in node["inputs"]]
    data["outputs"] = [names.get(t, t) for t in data["outputs"]]
    listed = {names[c["name"]]: c["shape"] for c in data["constants"]}  # equal constants become one
    data["constants"] = [{"name": name, "shape": shape} for name, shape in listed.items()]
    return {"ir": data, "tensors": own, "output_error": None}, own_streams


def save_graph(graph: ir.Graph, path: str | os.PathLike, *, bits: Any = None, index_bits: Any = None,
               lossless: bool = False) -> int:
    """Packs `graph` alone (no state_dict: pyprune.runtime runs the file, pack.load cannot) into
    `path`, written atomically; its constants encoded as pack.save encodes weights. The bytes
    written. ValueError (ir.GraphError) if the graph is malformed, PackError if the file's
    grammar refuses it (input shapes beyond the example inputs' bounds)."""
    section, streams = graph_section(graph, {}, {}, {}, bits=bits, index_bits=index_bits, lossless=lossless)
    metadata = {
        "tensors": {},
        "example_inputs": [list(spec.shape) for spec in graph.inputs],
        "channel_plan": None,
        "model": "",
        "pyprune_version": __version__,
        "output_error": None,
        "state_dict_metadata": {},
        "graph": section,
    }
    data = serialize(metadata, streams)
    parse_pack(data)  # what is written must pass the reader's grammar
    write_atomic(path, data)
    return len(data)
