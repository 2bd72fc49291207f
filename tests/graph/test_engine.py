"""engine.py: compiling an ir.Graph and running it as a callable."""

import numpy as np
import pytest

from graph_cases import coded, evaluate, needs_add
from pyprune import kernels
from pyprune.graph import CodedConstant, Engine, Graph, Node, TensorSpec, compile


def flatten_graph(dynamic_batch=True):
    nodes = [Node("reshape", ["x"], ["flat"], {"shape": [-2, -1]}, "features.flatten"),
             Node("reshape", ["flat"], ["pairs"], {"shape": [-2, -1, 2]}, "head.view")]
    return Graph([TensorSpec("x", (2, 3, 4))], ["flat", "pairs"], nodes, dynamic_batch=dynamic_batch)


def test_compile_numbers_tensors_by_name():
    g = compile(flatten_graph())
    assert isinstance(g, kernels.Graph)
    assert g.output_shapes([(2, 3, 4)]) == [(2, 12), (2, 6, 2)]


def test_an_engine_is_a_callable(rng):
    engine = Engine(flatten_graph())
    x = rng.standard_normal((2, 3, 4), dtype=np.float32)
    flat, pairs = engine(x)
    np.testing.assert_array_equal(flat, x.reshape(2, 12))
    np.testing.assert_array_equal(pairs, x.reshape(2, 6, 2))
    single = Engine(Graph([TensorSpec("x", (2, 3))], ["y"], [Node("reshape", ["x"], ["y"], {"shape": [-1]})]))
    assert single(x[:, :, 0].copy()).shape == (6,)


def test_a_dynamic_batch_runs_any_batch_size(rng):
    engine = Engine(flatten_graph())
    for batch in (1, 5, 2, 7, 3, 9):  # more sizes than the plan cache keeps
        x = rng.standard_normal((batch, 3, 4), dtype=np.float32)
        assert engine.output_shapes(x.shape) == [(batch, 12), (batch, 6, 2)]
        np.testing.assert_array_equal(engine(x)[1], x.reshape(batch, 6, 2))


def test_a_static_batch_runs_its_own_only():
    engine = Engine(flatten_graph(dynamic_batch=False))
    assert engine(np.ones((2, 3, 4), np.float32))[0].shape == (2, 12)
    with pytest.raises(ValueError, match="input 'x' must have batch 2: the graph was captured with a static batch"):
        engine(np.ones((3, 3, 4), np.float32))


def test_other_sizes_run_where_the_operators_allow_them():
    engine = Engine(flatten_graph())
    assert engine.output_shapes((2, 5, 2)) == [(2, 10), (2, 5, 2)]
    with pytest.raises(ValueError, match=r"node 1 \(reshape 'head.view'\): cannot reshape"):
        engine.output_shapes((2, 3, 3))


@pytest.mark.parametrize("inputs,error,message", [
    ((), TypeError, r"the graph takes 1 inputs \(x\), got 0"),
    ((np.ones((2, 12), np.float32),), ValueError, r"input 'x' must have 3 dims \(like \(2, 3, 4\)\), got shape"),
    ((np.ones((2, 3, 4)),), TypeError, r"inputs\[0\] must have dtype float32"),
    (([1.0, 2.0],), TypeError, r"inputs\[0\] must have dtype float32"),
])
def test_bad_inputs_are_named(inputs, error, message):
    with pytest.raises(error, match=message):
        Engine(flatten_graph())(*inputs)


def test_compile_refuses_what_the_operator_set_refuses():
    g = Graph([TensorSpec("x", (2, 3))], ["y"], [Node("resize", ["x"], ["y"], {}, "up")])
    with pytest.raises(ValueError, match=r"node 0 \(resize 'up'\): unknown op 'resize'"):
        compile(g)
    g = Graph([TensorSpec("x", (2, 3))], ["y"], [Node("reshape", ["x"], ["y"], {"shape": [-1, -1]}, "r")])
    with pytest.raises(ValueError, match=r"node 0 \(reshape 'r'\): attribute 'shape' has more than one -1"):
        compile(g)


def test_describe_and_profile_name_the_nodes(rng):
    engine = Engine(flatten_graph())
    described = engine.describe()
    assert [(n.name, n.kernel, n.output_shapes) for n in described] == [
        ("features.flatten", "reshape to (d0, -1)", ((2, 12),)), ("head.view", "reshape to (d0, -1, 2)", ((2, 6, 2),))]
    assert engine.describe((5, 3, 4))[0].output_shapes == ((5, 12),)
    times = engine.profile(rng.standard_normal((2, 3, 4), dtype=np.float32), repeats=3)
    assert [t.node.name for t in times] == ["features.flatten", "head.view"]
    assert engine.arena_bytes() == 0


@needs_add
def test_coded_constants_run_like_their_dense_weights(rng):
    w = rng.integers(-4, 5, (2, 6)).astype(np.float32)
    nodes = [Node("add", ["x", "w"], ["y"]), Node("reshape", ["w"], ["v"], {"shape": [-1]})]
    dense = Graph([TensorSpec("x", (2, 6))], ["y", "v"], nodes, {"w": w})
    compressed = Graph(dense.inputs, dense.outputs, nodes, {"w": CodedConstant(coded(w), (2, 6))})
    x = rng.standard_normal((2, 6), dtype=np.float32)
    for got, want in zip(Engine(compressed)(x), evaluate(dense, [x])):
        np.testing.assert_array_equal(got, want)


def test_torch_tensors_in_torch_tensors_out():
    torch = pytest.importorskip("torch")
    engine = Engine(flatten_graph())
    flat, _ = engine(torch.ones(4, 3, 4))
    assert isinstance(flat, torch.Tensor) and flat.shape == (4, 12)

