"""The graph IR: JSON round trips, and strict parsing that names the JSON path of every fault."""

import copy
import functools
import json

import numpy as np
import pytest
from hypothesis import given, settings

from graph_cases import graphs
from isolated import run_python
from pyprune.graph import CodedConstant, Graph, GraphError, Node, TensorSpec


def small_graph():
    w = np.ones((4, 3), np.float32)
    nodes = [Node("reshape", ["x"], ["flat"], {"shape": [-2, -1]}, "body.flatten"),
             Node("add", ["flat", "w"], ["y"], {"activation": "clamp", "activation_min": -1.5, "activation_max": 6},
                  "head.add"),
             Node("reshape", ["y"], ["z"], {"shape": [-1]})]
    return Graph([TensorSpec("x", (4, 3, 1))], ["y", "z"], nodes, {"w": w}, dynamic_batch=False)


def round_trip(graph):
    data = json.loads(json.dumps(graph.to_json(), allow_nan=False))
    return Graph.from_json(data, graph.constants)


@settings(max_examples=100, deadline=None)
@given(graph=graphs())
def test_json_round_trips(graph):
    again = round_trip(graph)
    assert again.to_json() == graph.to_json()
    assert (again.inputs, again.outputs, again.nodes) == (graph.inputs, graph.outputs, graph.nodes)
    assert again.constants.keys() == graph.constants.keys()
    assert all(again.constants[k] is graph.constants[k] for k in graph.constants)


def test_the_json_form():
    assert small_graph().to_json() == {
        "version": 5,
        "dynamic_batch": False,
        "fixed_sizes": False,
        "output_dtypes": None,
        "input_dtypes": None,
        "input_structure": None,
        "output_structure": None,
        "inputs": [{"name": "x", "shape": [4, 3, 1]}],
        "outputs": ["y", "z"],
        "nodes": [
            {"op": "reshape", "name": "body.flatten", "inputs": ["x"], "outputs": ["flat"],
             "attrs": {"shape": [-2, -1]}},
            {"op": "add", "name": "head.add", "inputs": ["flat", "w"], "outputs": ["y"],
             "attrs": {"activation": "clamp", "activation_min": -1.5, "activation_max": 6}},
            {"op": "reshape", "name": "", "inputs": ["y"], "outputs": ["z"], "attrs": {"shape": [-1]}},
        ],
        "constants": [{"name": "w", "shape": [4, 3]}],
    }


def test_a_version_1_graph_is_read_with_sizes_that_follow_its_inputs():
    data = small_graph().to_json()
    del data["fixed_sizes"], data["output_dtypes"], data["input_dtypes"], data["input_structure"], \
        data["output_structure"]
    data["version"] = 1
    graph = Graph.from_json(data, small_graph().constants)
    assert graph.fixed_sizes is False and graph.output_structure is None and graph.version == 5
    fixed = small_graph()
    fixed.fixed_sizes = True
    assert round_trip(fixed).fixed_sizes is True
    with pytest.raises(GraphError, match="missing key 'fixed_sizes'"):
        Graph.from_json({**data, "version": 2}, small_graph().constants)
    with pytest.raises(GraphError, match="unknown key 'fixed_sizes'"):
        Graph.from_json({**data, "fixed_sizes": True}, small_graph().constants)
    with pytest.raises(GraphError, match="fixed_sizes: must be a bool"):
        Graph.from_json({**small_graph().to_json(), "fixed_sizes": 1}, small_graph().constants)


def _version_4_json():
    data = {**small_graph().to_json(), "version": 4, "output_keys": None}
    del data["input_structure"], data["output_structure"]
    return data


def test_a_version_2_graph_is_read_with_float32_outputs():
    data = _version_4_json()
    del data["output_dtypes"], data["input_dtypes"]
    graph = Graph.from_json({**data, "version": 2}, small_graph().constants)
    assert graph.output_dtypes is None and graph.version == 5
    with pytest.raises(GraphError, match="missing key 'output_dtypes'"):
        Graph.from_json({**data, "version": 3}, small_graph().constants)
    with pytest.raises(GraphError, match="unknown key 'output_dtypes'"):
        Graph.from_json({**_version_4_json(), "version": 2}, small_graph().constants)


def test_a_version_3_graph_is_read_with_float32_inputs():
    data = _version_4_json()
    del data["input_dtypes"]
    graph = Graph.from_json({**data, "version": 3}, small_graph().constants)
    assert graph.input_dtypes is None and graph.version == 5
    with pytest.raises(GraphError, match="missing key 'input_dtypes'"):
        Graph.from_json(data, small_graph().constants)
    with pytest.raises(GraphError, match="unknown key 'input_dtypes'"):
        Graph.from_json({**_version_4_json(), "version": 3}, small_graph().constants)


def test_a_version_4_graph_is_read_with_flat_inputs():
    graph = Graph.from_json(_version_4_json(), small_graph().constants)
    assert graph.input_structure is None and graph.output_structure is None and graph.version == 5
    with pytest.raises(GraphError, match="unknown key 'input_structure'"):
        Graph.from_json({**_version_4_json(), "input_structure": None}, small_graph().constants)
    with pytest.raises(GraphError, match="unknown key 'output_keys'"):
        Graph.from_json({**small_graph().to_json(), "output_keys": None}, small_graph().constants)


@pytest.mark.parametrize("key,dtypes,says", [
    ("output_dtypes", ["float32", "int64"], None), ("output_dtypes", ["int32", "uint8"], None),
    ("output_dtypes", ["int64"], "one dtype per output"),
    ("output_dtypes", ["float32", "float64"], r"output_dtypes\[1\]: must be one of float32, int64"),
    ("output_dtypes", ["float32", 3], r"output_dtypes\[1\]: must be one of"), ("output_dtypes", "int64", "must be a list"),
    ("input_dtypes", ["uint8"], None), ("input_dtypes", ["int64"], None), ("input_dtypes", ["float32"], None),
    ("input_dtypes", ["uint8", "uint8"], "one dtype per input"),
    ("input_dtypes", ["bool"], None), ("input_dtypes", ["float16"], r"input_dtypes\[0\]: must be one of float32, int64"),
    ("input_dtypes", "uint8", "must be a list")])
def test_dtypes_give_each_output_or_input_its_dtype(key, dtypes, says):
    """output_dtypes: what the runtime casts each output to; input_dtypes: what each input takes."""
    data = {**small_graph().to_json(), key: dtypes}
    if says is None:
        assert getattr(round_trip(Graph.from_json(data, small_graph().constants)), key) == dtypes
        return
    with pytest.raises(GraphError, match=says):
        Graph.from_json(data, small_graph().constants)


@pytest.mark.parametrize("keys,says", [(["out", "aux"], None), (["out"], "holds 1 tensors, but the graph has 2"),
                                       (["out", "out"], "repeats the key 'out'"),
                                       (["out", 3], r"output_keys\[1\]: must be a str"), ("out", "must be a list")])
def test_a_version_4_graph_with_output_keys_gives_a_dict_of_its_outputs(keys, says):
    data = {**_version_4_json(), "output_keys": keys}
    if says is None:
        graph = Graph.from_json(data, small_graph().constants)
        assert graph.output_structure == {"dict": [["out", "tensor"], ["aux", "tensor"]]}
        assert round_trip(graph).output_structure == graph.output_structure
        return
    with pytest.raises(GraphError, match=says):
        Graph.from_json(data, small_graph().constants)


NESTED = {"tuple": ["tensor", None, {"list": [{"dict": [["boxes", "tensor"], [3, {"value": 0.5}]]}]}]}


@pytest.mark.parametrize("tree,says", [
    (NESTED, None),
    ({"list": ["tensor", "tensor"]}, None),
    ({"tuple": ["tensor"]}, "output_structure: holds 1 tensors, but the graph has 2"),
    ({"tuple": ["tensor", "tensor", "tensor"]}, "holds 3 tensors"),
    ({"set": ["tensor", "tensor"]}, r"output_structure: must be \"tensor\", null or one of"),
    ({"list": ["tensor", "tensor"], "tuple": []}, "must be"),
    ("tensors", "must be"),
    ({"list": "tensor"}, r"output_structure.list: must be a list"),
    ({"dict": [["a", "tensor"], ["a", "tensor"]]}, r"dict\[1\]\[0\]: repeats the key 'a'"),
    ({"dict": [[True, "tensor"], ["a", "tensor"]]}, r"dict\[0\]\[0\]: a key must be a string or an int"),
    ({"dict": [["a", "tensor", 1], ["b", "tensor"]]}, r"dict\[0\]: must be a \[key, entry\] pair"),
    ({"tuple": ["tensor", "tensor", {"value": [1]}]}, r"tuple\[2\].value: must be a finite number, flag or string"),
    ({"tuple": ["tensor", "tensor", {"value": float("nan")}]}, r"tuple\[2\].value: must be a finite number"),
    ({"tuple": ["tensor", "tensor", {"value": "x" * 5000}]}, r"tuple\[2\].value: must have at most"),
    ({"tuple": ["tensor", "tensor"] + [None] * 200_000}, "must have at most"),
    (functools.reduce(lambda tree, _: {"list": [tree]}, range(40), {"tuple": ["tensor", "tensor"]}), "nested at most"),
])
def test_structures_hold_one_tensor_per_output_and_nothing_unbounded(tree, says):
    data = {**small_graph().to_json(), "output_structure": tree}
    if says is None:
        assert round_trip(Graph.from_json(data, small_graph().constants)).output_structure == tree
        return
    with pytest.raises(GraphError, match=says):
        Graph.from_json(data, small_graph().constants)


def test_an_input_structure_holds_one_tensor_per_input():
    data = {**small_graph().to_json(), "input_structure": {"tuple": [{"list": ["tensor"]}, {"value": True}]}}
    assert Graph.from_json(data, small_graph().constants).input_structure == data["input_structure"]
    data["input_structure"] = {"tuple": ["tensor", "tensor"]}
    with pytest.raises(GraphError, match="input_structure: holds 2 tensors, but the graph has 1"):
        Graph.from_json(data, small_graph().constants)


def test_coded_constants_round_trip_by_shape():
    class Weights:  # stands in for kernels.SharedWeights: only its size matters here
        size = 12

    g = small_graph()
    g.constants["w"] = CodedConstant(Weights(), (4, 3))
    assert round_trip(g).constants["w"] is g.constants["w"]
    with pytest.raises(GraphError, match=r"constants\['w'\]: coded weights of 12 values cannot have shape \(4, 4\)"):
        Graph(g.inputs, g.outputs, g.nodes, {"w": CodedConstant(Weights(), (4, 4))}).validate()


def _paths(value, path=""):
    """Every (path, parent, key) of a JSON tree, paths written as GraphError writes them."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        if isinstance(value, dict):
            child_path = f"{path}.{key}" if path else key
        else:
            child_path = f"{path}[{key}]"
        yield child_path, value, key
        yield from _paths(child, child_path)


def test_every_field_of_the_wrong_type_is_refused_naming_its_path():
    g = small_graph()
    data = g.to_json()
    paths = list(_paths(data))
    assert len(paths) > 40
    for path, _, _ in paths:
        for wrong in (None, {"a": 1}, True):
            if (path in ("dynamic_batch", "fixed_sizes") and wrong is True) \
                    or (path in ("output_dtypes", "input_dtypes", "input_structure", "output_structure") and wrong is None) \
                    or (path.endswith(".attrs") and wrong == {"a": 1}):
                continue  # valid there
            bad = copy.deepcopy(data)
            parent, key = next((p, k) for q, p, k in _paths(bad) if q == path)
            parent[key] = wrong
            with pytest.raises(GraphError) as e:
                Graph.from_json(bad, g.constants)
            assert e.value.path == path, (path, wrong, str(e.value))


def _objects(value, path=""):
    if isinstance(value, dict):
        yield path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        if path.endswith("attrs"):
            continue
        yield from _objects(child, (f"{path}.{key}" if path else key) if isinstance(value, dict) else f"{path}[{key}]")


def test_unknown_and_missing_keys_are_refused_in_every_object():
    g = small_graph()
    data = g.to_json()
    objects = [path for path, obj in _objects(data) if not path.endswith("attrs")]
    assert len(objects) == 1 + 1 + 3 + 1  # the graph, its input, nodes, constant
    for path in objects:
        bad = copy.deepcopy(data)
        obj = dict(_objects(bad))[path]
        obj["comment"] = "hello"
        with pytest.raises(GraphError, match="unknown key 'comment'") as e:
            Graph.from_json(bad, g.constants)
        assert e.value.path == path
        for key in list(dict(_objects(data))[path]):
            bad = copy.deepcopy(data)
            del dict(_objects(bad))[path][key]
            with pytest.raises(GraphError, match=f"missing key '{key}'") as e:
                Graph.from_json(bad, g.constants)
            assert e.value.path == path


def _with(data, change):
    bad = copy.deepcopy(data)
    change(bad)
    return bad


BAD_GRAPHS = {
    "version 6": (lambda d: d.update(version=6), "version", "unsupported graph version 6"),
    "version as text": (lambda d: d.update(version="1"), "version", "unsupported graph version '1'"),
    "not an object": (lambda d: d.clear(), "", "missing key"),
    "input twice": (lambda d: d["inputs"].append({"name": "x", "shape": [1]}), "inputs[1].name",
                    "tensor 'x' is already a graph input"),
    "constant named like an input": (lambda d: d["constants"].append({"name": "x", "shape": [4, 3]}),
                                     "constants[1]", "no data for constant 'x'"),
    "output redefined": (lambda d: d["nodes"][2]["outputs"].__setitem__(0, "flat"), "nodes[2].outputs[0]",
                         r"tensor 'flat' is already an output of nodes\[0\]"),
    "output that is an input": (lambda d: d["nodes"][0]["outputs"].__setitem__(0, "x"), "nodes[0].outputs[0]",
                                "tensor 'x' is already a graph input"),
    "unknown tensor": (lambda d: d["nodes"][1]["inputs"].__setitem__(1, "v"), "nodes[1].inputs[1]",
                       "unknown tensor 'v'"),
    "forward reference": (lambda d: d["nodes"][0]["inputs"].__setitem__(0, "y"), "nodes[0].inputs[0]",
                          "used before the node producing it"),
    "self reference": (lambda d: d["nodes"][1]["inputs"].__setitem__(0, "y"), "nodes[1].inputs[0]",
                       "used before the node producing it"),
    "unknown output": (lambda d: d["outputs"].append("q"), "outputs[2]", "unknown tensor 'q'"),
    "no outputs": (lambda d: d["outputs"].clear(), "outputs", "at least one output"),
    "node without outputs": (lambda d: d["nodes"][2]["outputs"].clear(), "nodes[2].outputs", "at least one output"),
    "empty name": (lambda d: d["inputs"][0].update(name=""), "inputs[0].name", "must not be empty"),
    "long name": (lambda d: d["nodes"][0].update(name="n" * 1025), "nodes[0].name", "at most 1024 characters"),
    "NUL in a name": (lambda d: d["nodes"][0]["outputs"].__setitem__(0, "fl\0at"), "nodes[0].outputs[0]",
                      "must not contain NUL characters"),
    "empty op": (lambda d: d["nodes"][0].update(op=""), "nodes[0].op", "must not be empty"),
    "negative dim": (lambda d: d["inputs"][0]["shape"].__setitem__(0, -1), "inputs[0].shape[0]",
                     r"must be in \[0, "),
    "huge dim": (lambda d: d["inputs"][0]["shape"].__setitem__(0, 2**64), "inputs[0].shape[0]", r"must be in \[0, "),
    "float dim": (lambda d: d["inputs"][0]["shape"].__setitem__(0, 4.0), "inputs[0].shape[0]", "must be an int"),
    "rank 9": (lambda d: d["inputs"][0].update(shape=[1] * 9), "inputs[0].shape", "at most 8"),
    "NaN attribute": (lambda d: d["nodes"][1]["attrs"].update(activation_min=float("nan")),
                      "nodes[1].attrs.activation_min", "must be finite"),
    "infinite attribute": (lambda d: d["nodes"][1]["attrs"].update(activation_max=float("inf")),
                           "nodes[1].attrs.activation_max", "must be finite"),
    "bool attribute": (lambda d: d["nodes"][1]["attrs"].update(activation_min=False),
                       "nodes[1].attrs.activation_min", "must be a number"),
    "nested list attribute": (lambda d: d["nodes"][0]["attrs"].update(shape=[[1]]), "nodes[0].attrs.shape[0]",
                              "must be a number"),
    "long list attribute": (lambda d: d["nodes"][0]["attrs"].update(shape=[1] * 4097), "nodes[0].attrs.shape",
                            "at most 4096 entries"),
    "huge int attribute": (lambda d: d["nodes"][0]["attrs"].update(k=2**63), "nodes[0].attrs.k", "64 bits"),
    "many attributes": (lambda d: d["nodes"][0]["attrs"].update({f"a{i}": i for i in range(64)}),
                        "nodes[0].attrs", "at most 64 entries"),
    "dynamic_batch as int": (lambda d: d.update(dynamic_batch=1), "dynamic_batch", "must be a bool"),
    "constant listed twice": (lambda d: d["constants"].append({"name": "w", "shape": [4, 3]}), "constants[1].name",
                              "listed twice"),
    "constant of another shape": (lambda d: d["constants"][0].update(shape=[3, 4]), "constants[0]",
                                  r"has shape \(3, 4\) here, its data \(4, 3\)"),
    "constant not listed": (lambda d: d["constants"].clear(), "constants",
                            "data given for constants the graph does not list: \\['w'\\]"),
}


@pytest.mark.parametrize("change,path,message", BAD_GRAPHS.values(), ids=BAD_GRAPHS.keys())
def test_malformed_graphs_are_refused_naming_the_path(change, path, message):
    g = small_graph()
    with pytest.raises(GraphError, match=message) as e:
        Graph.from_json(_with(g.to_json(), change), g.constants)
    assert e.value.path == path
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("constants,path,message", [
    ({}, "constants[0]", "no data for constant 'w'"),
    ({"w": np.ones((4, 3))}, "constants[0]", "must have dtype float32"),
    ({"w": [[1.0] * 3] * 4}, "constants[0]", "must be a float32 array or a CodedConstant"),
    ({"w": np.ones((4, 3), np.float32), "v": np.ones(1, np.float32)}, "constants",
     r"does not list: \['v'\]"),
    ([], "constants", "must be a mapping"),
])
def test_the_constants_data_must_match_the_graph(constants, path, message):
    with pytest.raises(GraphError, match=message) as e:
        Graph.from_json(small_graph().to_json(), constants)
    assert e.value.path == path


def test_bounds_on_counts():
    big = {"version": 1, "dynamic_batch": True, "inputs": [{"name": "x", "shape": [1]}], "outputs": ["x"],
           "nodes": [{"op": "reshape", "name": "", "inputs": ["x"], "outputs": [f"t{i}"], "attrs": {}}
                     for i in range(100_001)], "constants": []}
    with pytest.raises(GraphError, match="at most 100000 entries") as e:
        Graph.from_json(big, {})
    assert e.value.path == "nodes"
    big["nodes"] = big["nodes"][:100_000]
    with pytest.raises(GraphError, match="at most 100000 tensors") as e:
        Graph.from_json(big, {})
    assert e.value.path == "nodes[99999].outputs[0]"


def test_validate_checks_graphs_built_in_python():
    g = small_graph()
    g.nodes[0].inputs = ("x",)
    with pytest.raises(GraphError, match="must be a list"):
        g.validate()
    g = small_graph()
    g.inputs[0] = ("x", (1,))
    with pytest.raises(GraphError, match="must be a TensorSpec"):
        g.validate()
    g = small_graph()
    g.nodes[1].attrs["activation_min"] = np.float32(1)  # numpy scalars are not JSON
    with pytest.raises(GraphError, match="must be a number, got float32"):
        g.validate()
    g = small_graph()
    g.version = 6
    with pytest.raises(GraphError, match="unsupported graph version 6"):
        g.to_json()


def test_the_graph_package_imports_no_torch():
    result = run_python("""
        import sys
        sys.modules["torch"] = None
        import numpy as np
        from pyprune.graph import Engine, Graph, Node, TensorSpec
        g = Graph([TensorSpec("x", (2, 3))], ["y"], [Node("reshape", ["x"], ["y"], {"shape": [-1]})])
        print(Engine(g)(np.ones((2, 3), np.float32)).shape)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(6,)"

