"""pyprune's graph engine, torch-free: the IR a captured network becomes (ir), and running it
whole on pyprune's kernels (engine). docs/graph.md describes both."""

from pyprune.graph.engine import Engine, NodeTime, compile
from pyprune.graph.ir import CodedConstant, Graph, GraphError, Node, TensorSpec

__all__ = ["CodedConstant", "Engine", "Graph", "GraphError", "Node", "NodeTime", "TensorSpec", "compile"]
