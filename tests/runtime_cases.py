"""Graphs and packed files for the runtime's tests, made without torch: a graph whose outputs
are its constants (every encoding a file has, decoded back), a small CNN on the operators of
the set (when the build has them), and files holding a state_dict and a graph as pack.save
writes them (the graph sharing the state_dict's tensors, batch norms folded as scaled ones)."""

import numpy as np
import pytest

from pyprune import kernels
from pyprune.graph import ir
from pyprune.pack.format import parse_pack, serialize, write_atomic
from pyprune.pack.graph_section import graph_section
from pyprune.pack.layers import encode_weight, scale_rows

OPERATORS = kernels.testing.operators()
CNN_OPS = ("conv2d", "linear", "reduce")
HAS_CNN_OPS = set(CNN_OPS) <= set(OPERATORS)
needs_cnn_ops = pytest.mark.skipif(not HAS_CNN_OPS, reason=f"the operator set lacks {sorted(set(CNN_OPS) - set(OPERATORS))}")


def sparse(rng, shape, density):
    w = rng.standard_normal(shape, dtype=np.float32)
    return np.where(rng.random(shape) < density, w, np.float32(0))


def constants_graph(rng, batch=2):
    """x (batch, 3, 4) -> flat = x reshaped (batch, 12); its outputs are flat and constants of
    every kind a file stores: a convolution's weight (shared), a linear weight (shared), a
    pruned one (shared, sparse), a bias and a scalar (raw)."""
    constants = {
        "conv.weight": rng.standard_normal((8, 4, 3, 3), dtype=np.float32),
        "fc.weight": rng.standard_normal((64, 32), dtype=np.float32),
        "pruned.weight": sparse(rng, (96, 64), 0.1),
        "conv.bias": rng.standard_normal(8, dtype=np.float32),
        "scale": np.array(1.5, np.float32),
    }
    nodes = [ir.Node("reshape", ["x"], ["flat"], {"shape": [-2, -1]}, "flatten")]
    return ir.Graph([ir.TensorSpec("x", (batch, 3, 4))], ["flat", *constants], nodes, constants, dynamic_batch=True)


def cnn_graph(rng, batch=1, size=16, classes=10):
    """A small MobileNet-like CNN (dynamic batch): a strided 3x3 convolution, a depthwise one, a
    pointwise one with a residual, global average pooling, a classifier."""
    w = {
        "stem.weight": rng.standard_normal((8, 3, 3, 3), dtype=np.float32) * 0.3,
        "stem.bias": rng.standard_normal(8, dtype=np.float32) * 0.1,
        "dw.weight": rng.standard_normal((8, 1, 3, 3), dtype=np.float32) * 0.3,
        "dw.bias": rng.standard_normal(8, dtype=np.float32) * 0.1,
        "pw.weight": sparse(rng, (8, 8, 1, 1), 0.5) * 0.3,
        "fc.weight": rng.standard_normal((classes, 8), dtype=np.float32) * 0.3,
        "fc.bias": rng.standard_normal(classes, dtype=np.float32) * 0.1,
    }
    nodes = [
        ir.Node("conv2d", ["x", "stem.weight", "stem.bias"], ["stem"],
                {"stride": [2, 2], "padding": [1, 1, 1, 1], "activation": "relu"}, "stem"),
        ir.Node("conv2d", ["stem", "dw.weight", "dw.bias"], ["dw"],
                {"padding": [1, 1, 1, 1], "groups": 8, "activation": "relu6"}, "features.0.dw"),
        ir.Node("conv2d", ["dw", "pw.weight", "stem"], ["pw"], {"activation": "relu"}, "features.0.pw"),
        ir.Node("reduce", ["pw"], ["pooled"], {"kind": "mean", "axes": [2, 3], "keepdim": 0}, "pool"),
        ir.Node("linear", ["pooled", "fc.weight", "fc.bias"], ["logits"], {}, "classifier"),
    ]
    return ir.Graph([ir.TensorSpec("x", (batch, 3, size, size))], ["logits"], nodes, w, dynamic_batch=True)


def depthwise_windows_graph(rng, batch=1, size=23, channels=6):
    """Depthwise convolutions of the windows no strip kernel takes, one after another (dynamic
    batch): dilated 5x5 (d2, "same"), 1x7 and 7x1, a 3x3 at stride 3, dilated 7x7 (d3) at stride
    2, then their sum pooled."""
    windows = [((5, 5), dict(padding=[4, 4, 4, 4], dilation=[2, 2])), ((1, 7), dict(padding=[0, 3, 0, 3])),
               ((7, 1), dict(padding=[3, 0, 3, 0])), ((3, 3), dict(stride=[3, 3], padding=[1, 0, 2, 1])),
               ((7, 7), dict(stride=[2, 2], padding=[9, 9, 9, 9], dilation=[3, 3]))]
    constants, nodes, x = {}, [], "x"
    for i, (kernel, attrs) in enumerate(windows):
        constants[f"dw{i}.weight"] = rng.standard_normal((channels, 1, *kernel), dtype=np.float32) * 0.4
        constants[f"dw{i}.bias"] = rng.standard_normal(channels, dtype=np.float32) * 0.1
        nodes.append(ir.Node("conv2d", [x, f"dw{i}.weight", f"dw{i}.bias"], [f"dw{i}"],
                             {"groups": channels, "activation": "relu6" if i % 2 else "hardswish", **attrs}, f"dw{i}"))
        x = f"dw{i}"
    nodes.append(ir.Node("reduce", [x], ["pooled"], {"kind": "mean", "axes": [2, 3], "keepdim": 0}, "pool"))
    return ir.Graph([ir.TensorSpec("x", (batch, channels, size, size))], ["pooled", x], nodes, constants,
                    dynamic_batch=True)


def folded(graph, rng, names):
    """(the graph with each weight of `names` scaled per output channel, as folding a batch
    norm into it makes it; the state_dict holding the weights before)."""
    constants = dict(graph.constants)
    for name in names:
        constants[name] = scale_rows(constants[name], rng.uniform(0.5, 2, len(constants[name])).astype(np.float32))
    return ir.Graph(graph.inputs, graph.outputs, graph.nodes, constants, graph.dynamic_batch), dict(graph.constants)


def file_bytes(graph, state=None, lossless=False):
    """A packed file of `state` (a state_dict's arrays, as pack.save encodes them) and `graph`,
    written torch-free as pack.save writes it."""
    state = state or {}
    records, streams = {}, {}
    for name, array in state.items():
        records[name], s = encode_weight(name, array, None, None, lossless)
        streams.update(s)
    section, own = graph_section(graph, state, records, streams, lossless=lossless)
    metadata = {"tensors": records, "example_inputs": [list(s.shape) for s in graph.inputs], "channel_plan": None,
                "model": "Test", "pyprune_version": "0", "output_error": None, "state_dict_metadata": {},
                "graph": section}
    data = serialize(metadata, {**streams, **own})
    parse_pack(data)
    return data


def write(path, graph, state=None, lossless=False):
    write_atomic(path, file_bytes(graph, state, lossless))
    return path
