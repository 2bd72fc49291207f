"""Random graphs for the graph engine's tests, and a numpy oracle for them. They use reshape (a
view) and add (an operator with an output of its own) when the operator set has it."""

import numpy as np
import pytest
from hypothesis import strategies as st

from pyprune import kernels
from pyprune.compress.huffman import HuffmanCode, encode
from pyprune.graph import ir

OPERATORS = kernels.testing.operators()
needs_add = pytest.mark.skipif("add" not in OPERATORS, reason="the operator set has no add yet")


def reshape_target(shape, spec):
    """The shape reshape gives an input of `shape` for its `shape` attribute (docs/graph.md)."""
    out = [shape[-2 - e] if e <= -2 else e for e in spec]
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        out[out.index(-1)] = int(np.prod(shape)) // known
    return tuple(out)


def constant_value(c):
    return c.weights.decode().reshape(c.shape) if isinstance(c, ir.CodedConstant) else c


def evaluate(graph, inputs):
    """The graph's outputs computed by numpy, node by node."""
    values = _values(graph, inputs)
    return [values[t] for t in graph.outputs]


def tensor_shapes(graph, inputs):
    return {name: v.shape for name, v in _values(graph, inputs).items()}


def _values(graph, inputs):
    values = {spec.name: x for spec, x in zip(graph.inputs, inputs)}
    values.update({name: constant_value(c) for name, c in graph.constants.items()})
    for node in graph.nodes:
        args = [values[t] for t in node.inputs]
        if node.op == "add":
            values[node.outputs[0]] = args[0] + args[1]
        elif node.op == "reshape":
            values[node.outputs[0]] = args[0].reshape(reshape_target(args[0].shape, node.attrs["shape"]))
        else:
            raise AssertionError(f"no oracle for {node.op}")
    return values


def example_inputs(graph, rng, batch=None):
    return [rng.standard_normal(((batch or s.shape[0]),) + s.shape[1:], dtype=np.float32) for s in graph.inputs]


def _targets(shape):
    """Reshape attributes that fit an input of this shape (dim 0 kept as the batch where it is)."""
    rest = int(np.prod(shape[1:]))
    specs = [[-2, -1], [-1]]
    if rest % 2 == 0:
        specs += [[-2, 2, -1], [-2, -1, 2]]
    return specs


@st.composite
def graphs(draw, max_nodes=12, with_constants=True):
    """A valid ir.Graph of reshape and add nodes over inputs of shape (batch, features): views of
    views, tensors read long after they are made, outputs that are inputs, constants or
    repeated. With constants the batch is static; without, dynamic."""
    ops = ["reshape"] + (["add"] if "add" in OPERATORS else [])
    batch = draw(st.integers(1, 3))
    features = draw(st.sampled_from([4, 6, 8, 12]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    inputs = [ir.TensorSpec(f"x{k}", (batch, features)) for k in range(draw(st.integers(1, 3)))]
    shapes = {s.name: s.shape for s in inputs}
    constants = {}
    for k in range(draw(st.integers(0, 2)) if with_constants else 0):
        constants[f"c{k}"] = rng.standard_normal((batch, features), dtype=np.float32)
        shapes[f"c{k}"] = (batch, features)
    nodes = []
    for i in range(draw(st.integers(0, max_nodes))):
        op = draw(st.sampled_from(ops))
        out = f"t{i}"
        if op == "add":
            a = draw(st.sampled_from(sorted(shapes)))
            b = draw(st.sampled_from(sorted(t for t in shapes if shapes[t] == shapes[a])))
            nodes.append(ir.Node("add", [a, b], [out], {}, f"layer{i}"))
            shapes[out] = shapes[a]
        else:
            x = draw(st.sampled_from(sorted(shapes)))
            spec = draw(st.sampled_from(_targets(shapes[x])))
            nodes.append(ir.Node("reshape", [x], [out], {"shape": spec}, f"layer{i}"))
            shapes[out] = reshape_target(shapes[x], spec)
    outputs = draw(st.lists(st.sampled_from(sorted(shapes)), min_size=1, max_size=4))
    return ir.Graph(inputs, outputs, nodes, constants, dynamic_batch=not constants)


def chain(n, length, op="add"):
    """x -> op -> op -> ... (n nodes) over tensors of `length` floats."""
    nodes, previous = [], "x"
    for i in range(n):
        inputs = [previous, previous] if op == "add" else [previous]
        attrs = {"shape": [-2, -1]} if op == "reshape" else {}
        nodes.append(ir.Node(op, inputs, [f"t{i}"], attrs, f"layer{i}"))
        previous = f"t{i}"
    return ir.Graph([ir.TensorSpec("x", (1, length))], [previous], nodes, dynamic_batch=True)


def coded(values):
    """float32 values as kernels.SharedWeights: a codebook of their distinct values, Huffman-coded."""
    codebook, indices = np.unique(values, return_inverse=True)
    indices = indices.astype(np.uint8).ravel()
    code = HuffmanCode.for_symbols(indices)
    return kernels.SharedWeights(np.frombuffer(encode(indices, code), np.uint8), indices.size, code.lengths,
                                 codebook.astype(np.float32), indices.size)
