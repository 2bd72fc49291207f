"""The graph IR: a network as nodes of the operator set over named tensors, with its constants.
Torch-free (numpy only); engine.py runs it, the packed file stores it as JSON (docs/graph.md).

``Graph.validate()`` checks the structure: names, references, topological order, attribute types
and the bounds below. Whether an op exists and takes its attributes is the C++ operator set's
call, made when the graph is compiled.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

__all__ = [
    "CodedConstant",
    "Constant",
    "Graph",
    "GraphError",
    "Node",
    "TensorSpec",
    "VERSION",
]

VERSION = 5
# Version 1 graphs (no fixed_sizes, no output_keys) are read as graphs whose sizes follow their
# inputs and whose outputs have no keys; versions 1 and 2 (no output_dtypes) as float32 outputs;
# versions 1 to 3 (no input_dtypes) as float32 inputs; versions 1 to 4 (no structures) as flat
# inputs, and outputs flat or, with output_keys (versions 2 to 4), a dict of them.
READABLE_VERSIONS = (1, 2, 3, 4, 5)
# The keys each version adds to version 1's.
_ADDED_KEYS = {1: (), 2: ("fixed_sizes", "output_keys"), 3: ("fixed_sizes", "output_keys", "output_dtypes"),
               4: ("fixed_sizes", "output_keys", "output_dtypes", "input_dtypes"),
               5: ("fixed_sizes", "output_dtypes", "input_dtypes", "input_structure", "output_structure")}
# What an output may be given as: the engine's float32, or an integer type its values (exact
# integers held as float32, argmax's indices) are cast to. An input may be given in the same
# types: integers the engine then holds as float32 (an image of uint8 pixels, token ids), a
# boolean mask as 1.0 and 0.0.
OUTPUT_DTYPES = ("float32", "int64", "int32", "int16", "int8", "uint8", "bool")
# Bounds: far above real networks, low enough that a hostile file cannot exhaust memory or time.
MAX_NODES = 100_000
MAX_TENSORS = 100_000
MAX_NAME = 1024  # characters of a name (tensor, node, op, attribute) or of a string attribute
MAX_ATTRS = 64  # attributes of a node
MAX_LIST = 4096  # entries of a list attribute
MAX_RANK = 8
MAX_DIM = 2**62 - 1  # a shape's entries fit the engine's 64-bit sizes
MAX_DEPTH = 32  # nesting of a structure

AttrValue = Union[int, float, str, "list[int]", "list[float]"]


class GraphError(ValueError):
    """A malformed graph. ``path`` names where, as in the JSON form ("nodes[3].inputs[0]")."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


@dataclass(frozen=True)
class TensorSpec:
    """A graph input: its name and the shape of the example it was captured with (dim 0 is the
    batch)."""

    name: str
    shape: tuple[int, ...]


@dataclass
class Node:
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    name: str = ""  # where it comes from (a module path), for reports


@dataclass(frozen=True)
class CodedConstant:
    """Huffman-coded weights (a kernels.SharedWeights of as many values as the shape holds),
    kept coded in memory and decoded when a node needs them."""

    weights: Any
    shape: tuple[int, ...]


Constant = Union[np.ndarray, CodedConstant]


@dataclass
class Graph:
    inputs: list[TensorSpec]
    outputs: list[str]
    nodes: list[Node]
    constants: dict[str, Constant] = field(default_factory=dict)
    dynamic_batch: bool = False  # any batch size runs; otherwise only the inputs' dim 0
    # The inputs' dims past the batch are the captured ones: sizes the model read from its input
    # (F.interpolate to x.shape[-2:]) are constants of the graph, right at that size only.
    fixed_sizes: bool = False
    # Per output, the dtype the runtime gives it (OUTPUT_DTYPES); None: float32 all.
    output_dtypes: list[str] | None = None
    # Per input, the dtype it takes (OUTPUT_DTYPES); None: float32 all.
    input_dtypes: list[str] | None = None
    # How the model's arguments and outputs nest the graph's inputs and outputs (structure.py's
    # JSON: a dict of images, a detector's (predictions, [feature maps])); None: flat.
    input_structure: Any = None
    output_structure: Any = None
    version: int = VERSION

    def validate(self) -> None:
        """GraphError naming the first fault."""
        _check(self)

    def to_json(self) -> dict[str, Any]:
        """The graph as plain JSON types, constants by name and shape (their data is stored
        apart). Validates first: a malformed graph is never written."""
        self.validate()
        return {
            "version": self.version,
            "dynamic_batch": self.dynamic_batch,
            "fixed_sizes": self.fixed_sizes,
            "output_dtypes": None if self.output_dtypes is None else list(self.output_dtypes),
            "input_dtypes": None if self.input_dtypes is None else list(self.input_dtypes),
            "input_structure": copy.deepcopy(self.input_structure),
            "output_structure": copy.deepcopy(self.output_structure),
            "inputs": [{"name": s.name, "shape": list(s.shape)} for s in self.inputs],
            "outputs": list(self.outputs),
            "nodes": [{"op": n.op, "name": n.name, "inputs": list(n.inputs), "outputs": list(n.outputs),
                       "attrs": {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in n.attrs.items()}}
                      for n in self.nodes],
            "constants": [{"name": name, "shape": list(_constant_shape(c))} for name, c in self.constants.items()],
        }

    @classmethod
    def from_json(cls, data: Any, constants: Mapping[str, Constant]) -> Graph:
        """The graph of ``to_json`` form ``data``, with the constants' data by name (exactly those
        the JSON lists, of the shapes it gives). Strict: GraphError for unknown or missing keys,
        wrong types, duplicate names, unknown tensors, anything beyond the bounds."""
        return _parse(data, constants)


def _constant_shape(c: Constant) -> tuple[int, ...]:
    return tuple(c.shape)


def _check(g: Graph) -> None:
    """The structural rules, for validate() and from_json()."""
    _version(g.version)
    for key in ("dynamic_batch", "fixed_sizes"):
        if not isinstance(getattr(g, key), bool):
            raise GraphError(key, f"must be a bool, got {type(getattr(g, key)).__name__}")
    _list(g.inputs, "inputs", MAX_TENSORS)
    _list(g.nodes, "nodes", MAX_NODES)
    _list(g.outputs, "outputs", MAX_TENSORS)
    if not isinstance(g.constants, dict):
        raise GraphError("constants", f"must be a dict, got {type(g.constants).__name__}")
    defined: dict[str, str] = {}  # tensor name -> what defines it

    def define(name: Any, path: str, what: str) -> None:
        _name(name, path)
        if name in defined:
            raise GraphError(path, f"tensor {name!r} is already {defined[name]}")
        if len(defined) == MAX_TENSORS:
            raise GraphError(path, f"a graph has at most {MAX_TENSORS} tensors")
        defined[name] = what

    for k, spec in enumerate(g.inputs):
        path = f"inputs[{k}]"
        if not isinstance(spec, TensorSpec):
            raise GraphError(path, f"must be a TensorSpec, got {type(spec).__name__}")
        define(spec.name, f"{path}.name", "a graph input")
        _shape(spec.shape, f"{path}.shape")
    for name, c in g.constants.items():
        path = f"constants[{name!r}]"
        define(name, path, "a constant")
        _constant(c, path)
    every = set(defined) | {t for n in g.nodes if isinstance(n, Node) and isinstance(n.outputs, list)
                            for t in n.outputs if isinstance(t, str)}
    for i, node in enumerate(g.nodes):
        path = f"nodes[{i}]"
        if not isinstance(node, Node):
            raise GraphError(path, f"must be a Node, got {type(node).__name__}")
        _name(node.op, f"{path}.op")
        _name(node.name, f"{path}.name", empty=True)
        _list(node.inputs, f"{path}.inputs", MAX_TENSORS)
        for j, t in enumerate(node.inputs):
            _reference(t, f"{path}.inputs[{j}]", defined, every)
        _list(node.outputs, f"{path}.outputs", MAX_TENSORS)
        if not node.outputs:
            raise GraphError(f"{path}.outputs", "a node has at least one output")
        for j, t in enumerate(node.outputs):
            define(t, f"{path}.outputs[{j}]", f"an output of nodes[{i}]")
        _attrs(node.attrs, f"{path}.attrs")
    if not g.outputs:
        raise GraphError("outputs", "a graph has at least one output")
    for k, t in enumerate(g.outputs):
        _reference(t, f"outputs[{k}]", defined, every)
    for key, tensors in (("input_structure", len(g.inputs)), ("output_structure", len(g.outputs))):
        if getattr(g, key) is not None:
            _structure(getattr(g, key), key, tensors)
    _dtypes(g.output_dtypes, "output", len(g.outputs))
    _dtypes(g.input_dtypes, "input", len(g.inputs))


def _structure(tree: Any, where: str, tensors: int) -> None:
    """GraphError unless `tree` is a structure (structure.py) of exactly `tensors` tensors."""
    seen = [0]  # nodes, against MAX_TENSORS

    def count(node: Any, at: str, depth: int) -> int:
        seen[0] += 1
        if seen[0] > MAX_TENSORS or depth > MAX_DEPTH:
            raise GraphError(at, f"a structure has at most {MAX_TENSORS} entries, nested at most {MAX_DEPTH} deep")
        if node is None or (isinstance(node, str) and node == "tensor"):
            return int(node is not None)
        if not (isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("list", "tuple", "dict", "value")):
            raise GraphError(at, f"must be \"tensor\", null or one of {{list, tuple, dict, value: ...}}, got {node!r:.80}")
        [(kind, contents)] = node.items()
        if kind == "value":
            if not isinstance(contents, (bool, int, float, str)) or (isinstance(contents, float)
                                                                     and not math.isfinite(contents)):
                raise GraphError(f"{at}.value", f"must be a finite number, flag or string, got {contents!r:.80}")
            if isinstance(contents, str):
                _name(contents, f"{at}.value", empty=True)
            return 0
        _list(contents, f"{at}.{kind}", MAX_TENSORS)
        if kind != "dict":
            return sum(count(child, f"{at}.{kind}[{k}]", depth + 1) for k, child in enumerate(contents))
        keys: set[Any] = set()
        total = 0
        for k, pair in enumerate(contents):
            here = f"{at}.dict[{k}]"
            if not (isinstance(pair, list) and len(pair) == 2):
                raise GraphError(here, "must be a [key, entry] pair")
            key = pair[0]
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise GraphError(f"{here}[0]", f"a key must be a string or an int, got {type(key).__name__}")
            if isinstance(key, str):
                _name(key, f"{here}[0]", empty=True)
            if key in keys:
                raise GraphError(f"{here}[0]", f"repeats the key {key!r}")
            keys.add(key)
            total += count(pair[1], f"{here}[1]", depth + 1)
        return total

    found = count(tree, where, 0)
    if found != tensors:
        raise GraphError(where, f"holds {found} tensors, but the graph has {tensors}")


def _dtypes(dtypes: Any, what: str, count: int) -> None:
    """A graph's output_dtypes or input_dtypes: None, or one of OUTPUT_DTYPES per output or input."""
    if dtypes is None:
        return
    key = f"{what}_dtypes"
    _list(dtypes, key, MAX_TENSORS)
    if len(dtypes) != count:
        raise GraphError(key, f"must have one dtype per {what} ({count}), got {len(dtypes)}")
    for k, dtype in enumerate(dtypes):
        if not isinstance(dtype, str) or dtype not in OUTPUT_DTYPES:
            raise GraphError(f"{key}[{k}]", f"must be one of {', '.join(OUTPUT_DTYPES)}, got {dtype!r}")


def _version(value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value not in READABLE_VERSIONS:
        raise GraphError("version", f"unsupported graph version {value!r} (this pyprune reads "
                                    f"{', '.join(map(str, READABLE_VERSIONS))})")


def _list(value: Any, path: str, most: int) -> None:
    if not isinstance(value, list):
        raise GraphError(path, f"must be a list, got {type(value).__name__}")
    if len(value) > most:
        raise GraphError(path, f"must have at most {most} entries, got {len(value)}")


def _name(value: Any, path: str, empty: bool = False) -> None:
    if not isinstance(value, str):
        raise GraphError(path, f"must be a str, got {type(value).__name__}")
    if not value and not empty:
        raise GraphError(path, "must not be empty")
    if "\0" in value:
        raise GraphError(path, "must not contain NUL characters")
    if len(value) > MAX_NAME:
        raise GraphError(path, f"must have at most {MAX_NAME} characters, got {len(value)}")


def _int(value: Any, path: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise GraphError(path, f"must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise GraphError(path, f"must be in [{low}, {high}], got {value}")
    return value


def _shape(value: Any, path: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)):
        raise GraphError(path, f"must be a shape (a list of ints), got {type(value).__name__}")
    if len(value) > MAX_RANK:
        raise GraphError(path, f"must have at most {MAX_RANK} dims, got {len(value)}")
    return tuple(_int(d, f"{path}[{i}]", 0, MAX_DIM) for i, d in enumerate(value))


def _constant(c: Any, path: str) -> None:
    if isinstance(c, CodedConstant):
        shape = _shape(c.shape, f"{path}.shape")
        size = getattr(c.weights, "size", None)
        if size != math.prod(shape):
            raise GraphError(path, f"coded weights of {size} values cannot have shape {shape}")
        return
    if not isinstance(c, np.ndarray):
        raise GraphError(path, f"must be a float32 array or a CodedConstant, got {type(c).__name__}")
    if c.dtype != np.float32:
        raise GraphError(path, f"must have dtype float32, got {c.dtype}")
    _shape(c.shape, f"{path}.shape")


def _reference(t: Any, path: str, defined: dict[str, str], every: set[str]) -> None:
    _name(t, path)
    if t not in defined:
        if t in every:
            raise GraphError(path, f"tensor {t!r} is used before the node producing it (nodes must be in "
                                   "topological order)")
        raise GraphError(path, f"unknown tensor {t!r}")


def _number(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GraphError(path, f"must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise GraphError(path, f"must be finite, got {value}")


def _attrs(attrs: Any, path: str) -> None:
    if not isinstance(attrs, dict):
        raise GraphError(path, f"must be a dict, got {type(attrs).__name__}")
    if len(attrs) > MAX_ATTRS:
        raise GraphError(path, f"must have at most {MAX_ATTRS} entries, got {len(attrs)}")
    for key, value in attrs.items():
        _name(key, f"{path} key")
        where = f"{path}.{key}"
        if isinstance(value, str):
            _name(value, where, empty=True)
        elif isinstance(value, (list, tuple)):
            if len(value) > MAX_LIST:
                raise GraphError(where, f"must have at most {MAX_LIST} entries, got {len(value)}")
            for i, v in enumerate(value):
                _number(v, f"{where}[{i}]")
        else:
            _number(value, where)
            if isinstance(value, int) and not -2**63 <= value < 2**63:
                raise GraphError(where, "must fit in 64 bits")


def _parse(data: Any, constants: Mapping[str, Constant]) -> Graph:
    """from_json: the JSON form into a Graph, every key and type checked on the way."""
    if isinstance(data, dict) and "version" in data:
        _version(data["version"])  # first: another version may have other keys
    added = _ADDED_KEYS[data["version"]] if isinstance(data, dict) and "version" in data else _ADDED_KEYS[VERSION]
    d = _object(data, "", ("version", "dynamic_batch", *added, "inputs", "outputs", "nodes", "constants"))
    _list(d["inputs"], "inputs", MAX_TENSORS)
    inputs = []
    for k, spec in enumerate(d["inputs"]):
        s = _object(spec, f"inputs[{k}]", ("name", "shape"))
        _list(s["shape"], f"inputs[{k}].shape", MAX_RANK)
        inputs.append(TensorSpec(s["name"], _shape(s["shape"], f"inputs[{k}].shape")))
    _list(d["nodes"], "nodes", MAX_NODES)
    nodes = []
    for i, node in enumerate(d["nodes"]):
        n = _object(node, f"nodes[{i}]", ("op", "name", "inputs", "outputs", "attrs"))
        nodes.append(Node(n["op"], n["inputs"], n["outputs"], n["attrs"], n["name"]))
    output_structure, keys = d.get("output_structure"), d.get("output_keys")
    if keys is not None:  # versions 2 to 4: a dict of the outputs
        _list(keys, "output_keys", MAX_TENSORS)
        for k, key in enumerate(keys):
            _name(key, f"output_keys[{k}]", empty=True)
        output_structure = {"dict": [[key, "tensor"] for key in keys]}
    graph = Graph(inputs, d["outputs"], nodes, _parse_constants(d["constants"], constants), d["dynamic_batch"],
                  d.get("fixed_sizes", False), output_dtypes=d.get("output_dtypes"), input_dtypes=d.get("input_dtypes"),
                  input_structure=d.get("input_structure"), output_structure=output_structure)
    graph.validate()
    return graph


def _parse_constants(listed: Any, given: Mapping[str, Constant]) -> dict[str, Constant]:
    if not isinstance(given, Mapping):
        raise GraphError("constants", f"the constants' data must be a mapping, got {type(given).__name__}")
    _list(listed, "constants", MAX_TENSORS)
    result: dict[str, Constant] = {}
    for k, entry in enumerate(listed):
        path = f"constants[{k}]"
        c = _object(entry, path, ("name", "shape"))
        name = c["name"]
        _name(name, f"{path}.name")
        shape = _shape(c["shape"], f"{path}.shape")
        if name in result:
            raise GraphError(f"{path}.name", f"constant {name!r} is listed twice")
        if name not in given:
            raise GraphError(path, f"no data for constant {name!r}")
        value = given[name]
        _constant(value, path)
        if _constant_shape(value) != shape:
            raise GraphError(path, f"constant {name!r} has shape {shape} here, its data {_constant_shape(value)}")
        result[name] = value
    unknown = sorted(set(given) - set(result), key=str)
    if unknown:
        raise GraphError("constants", f"data given for constants the graph does not list: {unknown[:5]}")
    return result


def _object(value: Any, path: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object with exactly these keys."""
    if not isinstance(value, dict):
        raise GraphError(path, f"must be an object, got {type(value).__name__}")
    for key in value:
        if key not in keys:
            raise GraphError(path, f"unknown key {key!r}")
    for key in keys:
        if key not in value:
            raise GraphError(path, f"missing key {key!r}")
    return value
