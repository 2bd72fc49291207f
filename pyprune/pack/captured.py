"""The model's inference graph for its packed file: captured on the operator set (so that
pyprune.runtime runs the file without torch), and run from the file as written, to measure it.
Needs torch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pyprune._optional import require

torch = require("torch", "torch", __name__)
from torch import nn

from pyprune.capture.pipeline import inference_graph
from pyprune.pack.format import PackFile
from pyprune.pack.graph_section import graph_section
from pyprune.pack.layers import Streams
from pyprune.pack.reading import graph as file_graph
from pyprune.runtime import Net

__all__ = ["captured_section", "file_graph_outputs"]


def captured_section(model: nn.Module, inputs: tuple[torch.Tensor, ...], state: Mapping[str, np.ndarray],
                     records: Mapping[str, dict[str, Any]], streams: Mapping[str, np.ndarray], *, bits: Any,
                     index_bits: Any, lossless: bool) -> tuple[dict[str, Any], Streams]:
    """(the graph section, its own streams) of `model` (in eval mode) captured on `inputs`, its
    constants sharing the state_dict's tensors (`state`, `records`, `streams`: as save writes
    them). ValueError saying why when the model cannot be captured whole on the operator set."""
    return graph_section(inference_graph(model, inputs), state, records, streams, bits=bits, index_bits=index_bits,
                         lossless=lossless)


def file_graph_outputs(written: PackFile, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """The outputs of the file's graph on `inputs`, run as pyprune.runtime runs it (ValueError
    if the operators refuse the graph)."""
    net = Net(file_graph(written))
    arrays = [x.detach().cpu().to(torch.float32).contiguous().numpy() for x in inputs]
    return [torch.from_numpy(y) for y in net.run(*arrays)]
