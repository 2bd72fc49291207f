"""The model's inference graph for its packed file: captured on the operator set (so that
pyprune.runtime runs the file without torch), and run from the file as written, to measure it.
Needs torch."""

from __future__ import annotations

from typing import Any

from pyprune._optional import require

torch = require("torch", "torch", __name__)
from torch import nn
from torch.utils._pytree import tree_map

from pyprune.capture.export import python_state_kept
from pyprune.capture.indices import INTEGER_DTYPES
from pyprune.capture.pipeline import inference_graph
from pyprune.capture.segments import flat_inputs
from pyprune.graph.engine import Engine
from pyprune.pack.format import PackFile
from pyprune.pack.outputs import difference, model_outputs
from pyprune.pack.reading import graph as file_graph
from pyprune.runtime import Net

__all__ = ["GRAPH_TOLERANCE", "captured_graph", "file_graph_outputs"]

# The graph runs the packed model's weights on other kernels (batch norms folded, other orders of
# summation): beyond this fraction of the output range it would be computing something else.
GRAPH_TOLERANCE = 1e-3


def captured_graph(model: nn.Module, inputs: tuple) -> Any:
    """`model` (in eval mode) captured on `inputs` on the operator set, marked fixed_sizes if it
    does not hold at other sizes. ValueError saying why when it cannot be captured whole."""
    graph = inference_graph(model, inputs)
    graph.fixed_sizes = not _follows_other_sizes(model, graph, inputs)
    return graph


def _follows_other_sizes(model: nn.Module, graph: Any, inputs: tuple) -> bool:
    """Whether the graph computes what the model does on inputs of twice the example's sizes
    past dims 0 and 1 (an image's height and width, a signal's length), or past dim 0 for
    inputs of rank 2 (a sequence of token ids, or features: doubling keeps them multiples of
    the model's strides). A size the model read from its input at capture (F.interpolate to
    x.shape[-2:]) is a constant of the graph, which then answers other sizes with the example's;
    a model that takes no other size (a position table of its own, a linear layer's features)
    fixes them too. Inputs of rank 1 have no such sizes."""
    def doubled(x: Any) -> Any:
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            return x
        return x.repeat(1, 2) if x.dim() == 2 else x.repeat(1, 1, *[2] * (x.dim() - 2))

    tensors = flat_inputs(inputs)
    if all(doubled(x) is x for x in tensors):
        return True
    probe = tree_map(doubled, inputs)
    try:
        with python_state_kept(model):  # a detector's grid cached at the probe's sizes is not the user's
            want = model_outputs(model, probe)
        got = Engine(graph)(*[_engine_input(x) for x in flat_inputs(probe)])
        got = [torch.from_numpy(g) for g in (got if isinstance(got, tuple) else (got,))]
        return [g.shape for g in got] == [w.shape for w in want] and difference(want, got).relative <= GRAPH_TOLERANCE
    except Exception:  # the model or the graph refuses the size (or answers inf): it is not one of theirs
        return False


def file_graph_outputs(written: PackFile, inputs: tuple) -> list[torch.Tensor]:
    """The outputs of the file's graph on the model's arguments `inputs`, run as
    pyprune.runtime runs it (ValueError if the operators refuse the graph)."""
    net = Net(file_graph(written))
    return [torch.from_numpy(y) for y in net.run(*[_engine_input(x) for x in flat_inputs(inputs)])]


def _engine_input(x: torch.Tensor) -> Any:
    """An example input as the graph takes it: integers as they are, other data as float32."""
    x = x.detach().cpu().contiguous()
    return x.numpy() if x.dtype in INTEGER_DTYPES else x.float().numpy()
