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
    """Whether the graph computes what the model does on inputs of other sizes past dims 0 and 1
    (an image's height and width, a signal's length), or past dim 0 for inputs of rank 2 (a
    sequence of token ids, or features). A size the model read from its input at capture
    (F.interpolate to x.shape[-2:], TensorFlow's "SAME" padding, padding to a multiple of the
    stride) is a constant of the graph, which then answers other sizes with the example's; a
    model that takes no other size (a position table of its own, a linear layer's features)
    fixes them too. Probed at twice the example's sizes (multiples of the model's strides still,
    which the model must take) and at odd sizes one past those (which it may refuse: a detector
    whose upsampled maps must meet its strided ones). Inputs of rank 1 have no such sizes."""
    tensors = flat_inputs(inputs)
    if all(x.dim() < 2 for x in tensors if isinstance(x, torch.Tensor)):
        return True
    return (_agrees_at(model, graph, tree_map(lambda x: _resized(x, odd=False), inputs), refusable=False)
            and _agrees_at(model, graph, tree_map(lambda x: _resized(x, odd=True), inputs), refusable=True))


def _resized(x: Any, odd: bool) -> Any:
    """`x` of twice its sizes past dim 0 (past dim 1 from rank 3), plus 1, 3, 5, ... when
    `odd`: its own entries repeated, so token ids stay ids."""
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        return x
    first = 1 if x.dim() == 2 else 2
    for k, n in enumerate(x.shape[first:]):
        size = 2 * n + (2 * k + 1 if odd else 0)
        x = x.index_select(first + k, torch.arange(size) % n)
    return x


def _agrees_at(model: nn.Module, graph: Any, probe: tuple, refusable: bool) -> bool:
    """Whether the graph gives the model's outputs on `probe`: a graph that refuses sizes the
    model takes, or answers otherwise (or not finitely), does not; when the model refuses the
    probe, `refusable` says whether that is no disagreement."""
    try:
        with python_state_kept(model):  # a detector's grid cached at the probe's sizes is not the user's
            want = model_outputs(model, probe)
    except Exception:  # whatever the model refuses the sizes with
        return refusable
    try:
        got = Engine(graph)(*[_engine_input(x) for x in flat_inputs(probe)])
        got = [torch.from_numpy(g) for g in (got if isinstance(got, tuple) else (got,))]
        return [g.shape for g in got] == [w.shape for w in want] and difference(want, got).relative <= GRAPH_TOLERANCE
    except Exception:  # the graph refuses sizes the model takes: not one of its sizes
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
