"""Recurrent layers (nn.LSTM: Sequencer2D's bidirectional LSTMs over rows and columns) lowered
by unrolling them over their sequence, whose length the capture knows: per layer and direction,
the input's share of every step's gates in one `linear` over the whole sequence, then per step
the hidden state's share (`linear`), the gates (`split`, `activation`), the cell and hidden states
(`mul`, `add`). Every node is one of the operator set's, so the layer runs on the engine and in
packed files; its cost is the steps' small GEMVs, fine for the short sequences of vision models.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.fx as fx

from pyprune.capture.composites import _node
from pyprune.capture.values import Ref, Unsupported


def _linear(low: Any, x: str, weight: torch.Tensor, bias: torch.Tensor | None) -> str:
    inputs = [x, low.tensor(weight.detach(), "the weight")]
    if bias is not None:
        inputs.append(low.tensor(bias.detach(), "the bias"))
    return _node(low, "linear", inputs)


def _act(low: Any, kind: str, x: str) -> str:
    return _node(low, "activation", [x], {"activation": kind})


def b_lstm(low: Any, node: fx.Node, a: dict) -> list[Ref]:
    """aten.lstm: (output, h_n, c_n) of a multi-layer, optionally bidirectional LSTM with torch's
    gate order (input, forget, cell, output)."""
    x, (h0, c0), params = a["input"], a["hx"], list(a["params"])
    layers, bidirectional, batch_first = int(a["num_layers"]), bool(a["bidirectional"]), bool(a["batch_first"])
    directions, per = 2 if bidirectional else 1, 4 if a["has_biases"] else 2
    if a["train"] and a["dropout"]:
        raise Unsupported("LSTM dropout in training mode")
    if len(params) != layers * directions * per or not all(isinstance(p, torch.Tensor) for p in params):
        raise Unsupported("an LSTM with projections or weights computed at run time")
    if low.rank(x) != 3:
        raise Unsupported("an unbatched LSTM input")
    time_axis, batch_entry = (1, -2) if batch_first else (0, -3)
    steps = low.static_dim(x, time_axis, "LSTM sequence")
    hidden = params[1].shape[1]
    if steps == 0:
        raise Unsupported("an empty LSTM sequence")

    def state(stack: Any, i: int) -> str:  # entry i of an (L * D, N, H) state as (N, H)
        picked = low.slice_node(Ref(low.tensor(stack)), 0, i, i + 1, 1)
        return _node(low, "reshape", [picked.name], {"shape": [-3, hidden]})

    layer_input, last_h, last_c = low.tensor(x), [], []
    for layer in range(layers):
        outputs = []
        for d in range(directions):
            k = layer * directions + d
            w_ih, w_hh, *biases = params[k * per:(k + 1) * per]
            bias = biases[0] + biases[1] if biases else None
            from_input = _linear(low, layer_input, w_ih, bias)  # (T, N, 4H) or (N, T, 4H)
            h, c = state(h0, k), state(c0, k)
            hs: list[str] = [""] * steps
            for t in (reversed(range(steps)) if d else range(steps)):
                step = low.slice_node(Ref(from_input), time_axis, t, t + 1, 1)
                gates = _node(low, "add", [_node(low, "reshape", [step.name], {"shape": [batch_entry, 4 * hidden]}),
                                           _linear(low, h, w_hh, None)])
                i, f, g, o = low.emit("split", [gates], {"axis": 1, "sizes": [hidden] * 4}, outputs=4)
                i, f, o = (_act(low, "sigmoid", gate) for gate in (i, f, o))
                g = _act(low, "tanh", g)
                c = _node(low, "add", [_node(low, "mul", [f, c]), _node(low, "mul", [i, g])])
                h = _node(low, "mul", [o, _act(low, "tanh", c)])
                hs[t] = _node(low, "reshape", [h], {"shape": [-2, 1, hidden] if batch_first else [1, -2, hidden]})
            outputs.append(_node(low, "concat", hs, {"axis": time_axis}) if steps > 1 else hs[0])
            last_h.append(h)
            last_c.append(c)
        layer_input = _node(low, "concat", outputs, {"axis": 2}) if directions > 1 else outputs[0]

    def stacked(states: list[str]) -> str:  # (L * D, N, H)
        rows = [_node(low, "reshape", [s], {"shape": [1, -2, hidden]}) for s in states]
        return _node(low, "concat", rows, {"axis": 0}) if len(rows) > 1 else rows[0]

    return [Ref(layer_input), Ref(stacked(last_h)), Ref(stacked(last_c))]


BUILDERS: dict[str, Callable[[Any, fx.Node, dict], Any]] = {"lstm": b_lstm}
