"""pyprune's runtime running the packed models of a plan (made on the host by
scripts/arm_cost/whole_models.py) at batch 1 on 1 thread:

- one region per whole forward, as an application runs it (net(x) on a net of
  pyprune.runtime.load: the input checked, the output a new array), after one forward that is
  not counted;
- one region per node: the node alone as a one-node graph, compiled beforehand, on inputs of
  the shapes it has in the whole graph (random values: the dense kernels' work does not depend
  on them) and outputs allocated beforehand, run once before it is counted. Each region holds
  one call from Python into the engine besides the node.

    python pyprune_forward.py REGIONS.json PLAN.json
"""

from __future__ import annotations

import json
import sys

import numpy as np
from marks import Regions

import pyprune
from pyprune import kernels, runtime
from pyprune.graph import engine, ir
from pyprune.pack.reading import graph as file_graph
from pyprune.pack.reading import read


def node_graph(graph: ir.Graph, node: ir.Node, shapes: dict[str, tuple[int, ...]]) -> ir.Graph:
    """`node` of `graph` alone: its tensor inputs become graph inputs of the given shapes."""
    inputs = [t for t in dict.fromkeys(node.inputs) if t not in graph.constants]
    constants = {t: graph.constants[t] for t in node.inputs if t in graph.constants}
    return ir.Graph([ir.TensorSpec(t, shapes[t]) for t in inputs], list(node.outputs), [node], constants)


def main(out: str, plan: str) -> None:
    pyprune.set_num_threads(1)
    assert kernels.isa() == "neon", kernels.isa()
    regions = Regions()
    rng = np.random.default_rng(0)
    for model in json.load(open(plan)):
        net = runtime.load(model["file"])
        x = rng.random(net.input_shapes[0], dtype=np.float32)
        y = net(x)
        with regions.count(model=model["model"], runtime=model["runtime"], macs=model["macs"]):
            y = net(x)
        assert list(y.shape) == model["output_shape"], (y.shape, model["output_shape"])
        graph = file_graph(read(model["file"]))
        shapes: dict[str, tuple[int, ...]] = {}
        for node, info in zip(graph.nodes, net.describe()):
            shapes.update(zip(node.inputs, info.input_shapes))
            shapes.update(zip(node.outputs, info.output_shapes))
            one = engine.compile(node_graph(graph, node, shapes))
            inputs = [rng.standard_normal(shapes[t], dtype=np.float32) for t in dict.fromkeys(node.inputs)
                      if t not in graph.constants]
            outputs = [np.empty(s, np.float32) for s in info.output_shapes]
            one.run(inputs, outputs)
            with regions.count(model=model["model"], runtime=model["runtime"], layer=info.name, type=info.kernel,
                               shape=list(info.output_shapes[0][1:]), macs=info.macs):
                one.run(inputs, outputs)
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
