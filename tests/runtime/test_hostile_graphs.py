"""Hostile graph sections: every class of fault in a file's graph is a PackError naming it
before anything runs. The file's grammar (pack.read) refuses what the structure shows (unknown
or dangling references, cycles, duplicate tensors, constants that are not the file's, bounds);
runtime.load refuses the rest, which the operator set decides (unknown ops, attributes out of
range, shapes that overflow, plans needing more memory than the limit)."""

import json

import numpy as np
import pytest
from packed_files import metadata_of, resign, split, with_metadata, with_stream
from runtime_cases import constants_graph, file_bytes, folded, write

from pyprune import pack, runtime
from pyprune.graph import ir
from pyprune.pack import PackError

MAX_ELEMENTS = 2**31 - 1  # of one tensor of a file


@pytest.fixture
def data(tmp_path):
    """A valid file: x -> reshape -> flat, and constants of every encoding as outputs."""
    return write(tmp_path / "valid.pyprune", constants_graph(np.random.default_rng(0))).read_bytes()


def ir_of(meta):
    return meta["graph"]["ir"]


def node(op="reshape", inputs=("x",), outputs=("t",), attrs=None, name="n"):
    return {"op": op, "name": name, "inputs": list(inputs), "outputs": list(outputs),
            "attrs": {"shape": [-1]} if attrs is None else attrs}


def constant(meta, name):
    return next(c for c in ir_of(meta)["constants"] if c["name"] == name)


def _huge_constant(meta):
    """A pruned weight claiming 2^31 - 1 elements: a valid sparse record (its streams place its
    few non-zeros), and a graph whose constants would decode to 8 GiB."""
    record = meta["graph"]["tensors"]["pruned.weight"]
    record["shape"] = [MAX_ELEMENTS]
    constant(meta, "pruned.weight")["shape"] = [MAX_ELEMENTS]


def _nested(depth):
    """A structure `depth` lists deep around the one input (built without recursion)."""
    tree = "tensor"
    for _ in range(depth):
        tree = {"list": [tree]}
    return tree


# name -> (change of the metadata, fragment of the message). The grammar refuses these.
STRUCTURE = {
    "unknown tensor": (lambda m: ir_of(m)["nodes"][0].update(inputs=["nope"]), "unknown tensor 'nope'"),
    "node reads its own output": (lambda m: ir_of(m)["nodes"][0].update(inputs=["flat"]),
                                  "used before the node producing it"),
    "cycle of two nodes": (lambda m: ir_of(m)["nodes"].extend([node(inputs=["b"], outputs=["a"]),
                                                                node(inputs=["a"], outputs=["b"])]),
                           "used before the node producing it"),
    "tensor produced twice": (lambda m: ir_of(m)["nodes"].append(node(outputs=["flat"])), "'flat' is already"),
    "node output named as an input": (lambda m: ir_of(m)["nodes"].append(node(outputs=["x"])),
                                      "'x' is already a graph input"),
    "node output named as a constant": (lambda m: ir_of(m)["nodes"].append(node(outputs=["conv.bias"])),
                                        "'conv.bias' is already a constant"),
    "constant listed twice": (lambda m: ir_of(m)["constants"].append(dict(ir_of(m)["constants"][0])),
                              "listed twice"),
    "unknown graph output": (lambda m: ir_of(m)["outputs"].append("ghost"), "unknown tensor 'ghost'"),
    "no graph output": (lambda m: ir_of(m).update(outputs=[]), "at least one output"),
    "node without outputs": (lambda m: ir_of(m)["nodes"][0].update(outputs=[]), "at least one output"),
    "constant the file lacks": (lambda m: ir_of(m)["constants"].append({"name": "ghost", "shape": [2]}),
                                "no data for constant 'ghost'"),
    "constant of another shape": (lambda m: constant(m, "conv.bias").update(shape=[4, 2]),
                                  r"constant 'conv.bias' has shape \(4, 2\) here"),
    "graph tensor not a constant": (lambda m: ir_of(m).update(constants=ir_of(m)["constants"][1:]),
                                    "data given for constants the graph does not list"),
    "inputs other than the example's": (lambda m: ir_of(m)["inputs"][0].update(shape=[2, 3, 5]),
                                        "differ from example_inputs"),
    "input shape overflowing": (lambda m: ir_of(m)["inputs"][0].update(shape=[2**62, 2**62]),
                                r"inputs\[0\]\.shape\[0\]: must be in \[0, 4611686018427387903\]"),
    "input dim beyond 64 bits": (lambda m: ir_of(m)["inputs"][0].update(shape=[2**64, 1]), r"must be in \[0,"),
    "input of rank 9": (lambda m: ir_of(m)["inputs"][0].update(shape=[1] * 9), "at most 8"),
    "other graph version": (lambda m: ir_of(m).update(version=6), "unsupported graph version 6"),
    "unknown key": (lambda m: ir_of(m).update(colour="red"), "unknown key 'colour'"),
    "missing key": (lambda m: ir_of(m).pop("dynamic_batch"), "missing key 'dynamic_batch'"),
    "bool as a number": (lambda m: ir_of(m).update(dynamic_batch=1), "dynamic_batch: must be a bool"),
    "nested attribute": (lambda m: ir_of(m)["nodes"][0]["attrs"].update(shape=[[2, 6]]), "must be a number"),
    "attribute list too long": (lambda m: ir_of(m)["nodes"][0]["attrs"].update(shape=[1] * 4097),
                                "at most 4096 entries"),
    "node name with NUL": (lambda m: ir_of(m)["nodes"][0].update(name="a\0b"), "NUL"),
    "graph tensor named as a state_dict's": (lambda m: m["tensors"].update({"conv.bias": m["graph"]["tensors"][
        "conv.bias"]}), "stream 'conv.bias' is already used"),
    "constants beyond the memory bound": (_huge_constant, "exceed the 1073741824 allowed"),
    "structure of too many tensors": (lambda m: ir_of(m).update(output_structure={"list": ["tensor", "tensor"]}),
                                      "output_structure: holds 2 tensors, but the graph has 6"),
    "structure nested without end": (lambda m: ir_of(m).update(input_structure=_nested(40)), "deep"),
    "structure of unknown kind": (lambda m: ir_of(m).update(input_structure={"set": ["tensor"]}),
                                  "input_structure: must be"),
    "graph not an object": (lambda m: m["graph"].update(ir=[1, 2]), "must be an object"),
    "section without ir": (lambda m: m["graph"].pop("ir"), "missing field 'ir'"),
}

# The operator set refuses these when the graph is compiled or planned.
OPERATORS = {
    "unknown op": (lambda m: ir_of(m)["nodes"][0].update(op="resize"), r"node 0 \(resize 'flatten'\): unknown op"),
    "attribute out of range": (lambda m: ir_of(m)["nodes"][0]["attrs"].update(shape=[-1, -1]), "more than one -1"),
    "attribute below its range": (lambda m: ir_of(m)["nodes"][0]["attrs"].update(shape=[-11, 1]), "attribute 'shape'"),
    "attribute of a wrong type": (lambda m: ir_of(m)["nodes"][0]["attrs"].update(shape="abc"), "attribute 'shape'"),
    "unknown attribute": (lambda m: ir_of(m)["nodes"][0]["attrs"].update(colour=1), "attribute 'colour'"),
    "missing attribute": (lambda m: ir_of(m)["nodes"][0].update(attrs={}), "attribute 'shape'"),
    "too many inputs": (lambda m: ir_of(m)["nodes"][0].update(inputs=["x", "conv.bias"]), r"node 0 \(reshape"),
    "shape overflowing": (lambda m: ir_of(m)["nodes"][0]["attrs"].update(shape=[2**62, 4, -1]),
                          "too large|cannot reshape"),
    "shape not fitting": (lambda m: ir_of(m)["nodes"][0]["attrs"].update(shape=[-2, 5]), "cannot reshape"),
}


def _refused_by_the_grammar(path, message):
    with pytest.raises(PackError, match=message):
        pack.read(path)
    with pytest.raises(PackError, match=message):
        runtime.load(path)


@pytest.mark.parametrize("change,message", STRUCTURE.values(), ids=STRUCTURE.keys())
def test_faults_the_structure_shows_are_refused_by_the_grammar(data, tmp_path, change, message):
    path = tmp_path / "hostile.pyprune"
    path.write_bytes(with_metadata(data, change))
    _refused_by_the_grammar(path, message)


@pytest.mark.parametrize("change,message", OPERATORS.values(), ids=OPERATORS.keys())
def test_faults_the_operators_find_are_refused_before_anything_runs(data, tmp_path, change, message):
    path = tmp_path / "hostile.pyprune"
    path.write_bytes(with_metadata(data, change))
    pack.read(path)  # well formed
    with pytest.raises(PackError, match="^graph: .*" + message):
        runtime.load(path)


def test_a_graph_constant_must_be_float32(tmp_path):
    """A state_dict tensor of integers (a BatchNorm's step count) cannot be a graph constant."""
    graph = ir.Graph([ir.TensorSpec("x", (1, 6))], ["y"], [ir.Node("reshape", ["x"], ["y"], {"shape": [-1]})])
    state = {"bn.num_batches_tracked": np.array(3, np.int64)}
    data = file_bytes(graph, state)

    def change(m):
        ir_of(m)["constants"].append({"name": "bn.num_batches_tracked", "shape": []})

    path = tmp_path / "hostile.pyprune"
    path.write_bytes(with_metadata(data, change))
    _refused_by_the_grammar(path, "must have dtype float32, got int64")


@pytest.fixture
def scaled_data():
    """A valid file whose graph's conv.weight is the state_dict's scaled per output channel."""
    graph, state = folded(constants_graph(np.random.default_rng(1)), np.random.default_rng(2), ["conv.weight"])
    data = file_bytes(graph, state)
    assert metadata_of(data)["graph"]["tensors"]["conv.weight@graph"]["encoding"] == "scaled"
    return data


def scaled(m):
    return m["graph"]["tensors"]["conv.weight@graph"]  # the state_dict's conv.weight is its base


@pytest.mark.parametrize("change,message", [
    (lambda m: scaled(m).update(base="nope"), "scales 'nope', which is no float32 tensor of the state_dict"),
    (lambda m: scaled(m).update(base="fc.weight"), "scales 'fc.weight', which is no float32 tensor"),
    (lambda m: scaled(m).update(scale="conv.weight:scale"), "must be 'conv.weight@graph:scale'"),
    (lambda m: scaled(m).update(shape=[]), "a scale of 8 entries for shape \\[\\]"),
    (lambda m: m["tensors"].update({"conv.weight": scaled(m)}), "unknown encoding \"scaled\""),
])
def test_scaled_tensors_scale_a_tensor_of_the_state_dict(scaled_data, tmp_path, change, message):
    path = tmp_path / "hostile.pyprune"
    path.write_bytes(with_metadata(scaled_data, change))
    _refused_by_the_grammar(path, message)


def test_a_scaled_tensor_needs_one_scale_per_slice(scaled_data, tmp_path):
    path = tmp_path / "hostile.pyprune"
    path.write_bytes(with_stream(scaled_data, "conv.weight@graph:scale", np.ones(7, np.float32)))
    _refused_by_the_grammar(path, "a scale of 7 entries for shape \\[8, 4, 3, 3\\]")


def test_a_graph_tensor_may_not_take_a_state_dict_tensors_name(tmp_path):
    """Even when their streams differ (a raw state_dict tensor, a coded graph tensor)."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((64, 32), dtype=np.float32)
    graph = ir.Graph([ir.TensorSpec("x", (1, 6))], ["y", "w"], [ir.Node("reshape", ["x"], ["y"], {"shape": [-1]})],
                     {"w": w})
    data = file_bytes(graph, {"w": np.ones(8, np.float32)})  # raw, stream "w"; the graph's is "w@graph", shared
    header, body = split(data)
    meta = metadata_of(data)
    record = meta["graph"]["tensors"].pop("w@graph")
    text = json.dumps(record).replace("w@graph", "w")
    meta["graph"]["tensors"]["w"] = json.loads(text)
    meta["graph"]["ir"] = json.loads(json.dumps(meta["graph"]["ir"]).replace("w@graph", "w"))
    for name in [n for n in header if n.startswith("w@graph")]:
        header[name.replace("w@graph", "w")] = header.pop(name)
    meta["crc32"] = {}
    path = tmp_path / "hostile.pyprune"
    path.write_bytes(resign(header, meta, body))
    _refused_by_the_grammar(path, r"tensors \['w'\] are already tensors of the state_dict")


@pytest.mark.parametrize("section,message", [
    ('{"ir": {}, "ir": {}, "tensors": {}, "output_error": null}', "duplicate key"),
    ('{"ir": ' + "[" * 40 + "]" * 40 + ', "tensors": {}, "output_error": null}', "nested 4[0-9] deep"),
    ('{"ir": {"version": NaN}, "tensors": {}, "output_error": null}', "NaN is not JSON"),
    ('{"ir": {"version": 1' + "0" * 30 + '}, "tensors": {}, "output_error": null}', "unsupported graph version"),
])
def test_hostile_json_in_the_graph_is_refused_by_the_strict_reader(tmp_path, section, message):
    graph = ir.Graph([ir.TensorSpec("x", (1, 6))], ["y"], [ir.Node("reshape", ["x"], ["y"], {"shape": [-1]})])
    data = file_bytes(graph)
    header, body = split(data)
    meta = metadata_of(data)
    meta["graph"] = "@@"
    path = tmp_path / "hostile.pyprune"
    path.write_bytes(resign(header, meta, body, json.dumps(meta).replace('"@@"', section)))
    _refused_by_the_grammar(path, message)
