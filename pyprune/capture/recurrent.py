"""Recurrent layers (nn.LSTM, nn.GRU, nn.RNN: Sequencer2D's bidirectional LSTMs over rows and
columns, CRNN text recognisers' GRUs over columns) lowered by unrolling them over their
sequence, whose length the capture knows: per layer and direction, the input's share of every
step's gates in one `linear` over the whole sequence, then per step the hidden state's share
(`linear`), the gates (`split`, `activation`) and the new states (`mul`, `add`, `sub`). Every
node is one of the operator set's, so the layer runs on the engine and in packed files; its
cost is the steps' small GEMVs, fine for the short sequences of vision models.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _split(low: Any, x: str, sizes: list[int]) -> list[str]:
    return list(low.emit("split", [x], {"axis": 1, "sizes": sizes}, outputs=len(sizes)))


# A step of a cell: (low, the input's share of the gates (N, G * H) with the input bias, the
# states (N, H) each, w_hh, b_hh, H) -> the new states, the hidden one first.
Step = Callable[..., "list[str]"]


def _lstm_step(low: Any, x: str, states: list[str], w_hh: torch.Tensor, b_hh: torch.Tensor | None,
               hidden: int) -> list[str]:
    """torch's gate order (input, forget, cell, output); b_hh is in the input's share."""
    h, c = states
    i, f, g, o = _split(low, _node(low, "add", [x, _linear(low, h, w_hh, None)]), [hidden] * 4)
    i, f, o = (_act(low, "sigmoid", gate) for gate in (i, f, o))
    c = _node(low, "add", [_node(low, "mul", [f, c]), _node(low, "mul", [i, _act(low, "tanh", g)])])
    return [_node(low, "mul", [o, _act(low, "tanh", c)]), c]


def _gru_step(low: Any, x: str, states: list[str], w_hh: torch.Tensor, b_hh: torch.Tensor | None,
              hidden: int) -> list[str]:
    """torch's gate order (reset, update, new): n = tanh(x_n + r * (W_hn h + b_hn)), h' = n + z (h - n)."""
    (h,) = states
    x_rz, x_n = _split(low, x, [2 * hidden, hidden])
    h_rz, h_n = _split(low, _linear(low, h, w_hh, b_hh), [2 * hidden, hidden])
    r, z = _split(low, _act(low, "sigmoid", _node(low, "add", [x_rz, h_rz])), [hidden, hidden])
    n = _act(low, "tanh", _node(low, "add", [x_n, _node(low, "mul", [r, h_n])]))
    return [_node(low, "add", [n, _node(low, "mul", [z, _node(low, "sub", [h, n])])])]


def _rnn_step(activation: str) -> Step:
    def step(low: Any, x: str, states: list[str], w_hh: torch.Tensor, b_hh: torch.Tensor | None,
             hidden: int) -> list[str]:
        """h' = act(x + W_hh h); b_hh is in the input's share."""
        return [_act(low, activation, _node(low, "add", [x, _linear(low, states[0], w_hh, None)]))]
    return step


@dataclass(frozen=True)
class _Cell:
    name: str  # as errors name the layer
    called: str  # the name with its article
    gates: int  # blocks of H rows in w_ih
    states: int  # (h,) or (h, c)
    step: Step
    hidden_bias_apart: bool  # b_hh stays in the hidden share (GRU's reset gate scales it)


_CELLS = {
    "lstm": _Cell("LSTM", "an LSTM", 4, 2, _lstm_step, False),
    "gru": _Cell("GRU", "a GRU", 3, 1, _gru_step, True),
    "rnn_tanh": _Cell("RNN", "an RNN", 1, 1, _rnn_step("tanh"), False),
    "rnn_relu": _Cell("RNN", "an RNN", 1, 1, _rnn_step("relu"), False),
}


def b_recurrent(low: Any, node: fx.Node, a: dict) -> list[Ref]:
    """aten.lstm, aten.gru, aten.rnn_tanh and aten.rnn_relu: the output sequence and the last
    states, (L * D, N, H) each, of a multi-layer, optionally bidirectional layer."""
    cell = _CELLS[node.target.__name__.split(".")[0]]
    x, params = a["input"], list(a["params"])
    initial = list(a["hx"]) if cell.states > 1 else [a["hx"]]
    layers, bidirectional, batch_first = int(a["num_layers"]), bool(a["bidirectional"]), bool(a["batch_first"])
    directions, per = 2 if bidirectional else 1, 4 if a["has_biases"] else 2
    if a["train"] and a["dropout"]:
        raise Unsupported(f"{cell.name} dropout in training mode")
    if len(params) != layers * directions * per or not all(isinstance(p, torch.Tensor) for p in params):
        raise Unsupported(f"{cell.called} with projections or weights computed at run time")
    if low.rank(x) != 3:
        raise Unsupported(f"an unbatched {cell.name} input")
    time_axis, batch_entry = (1, -2) if batch_first else (0, -3)
    steps = low.static_dim(x, time_axis, f"{cell.name} sequence")
    hidden = params[1].shape[1]
    if steps == 0:
        raise Unsupported(f"an empty {cell.name} sequence")

    def state(stack: Any, i: int) -> str:  # entry i of an (L * D, N, H) state as (N, H)
        picked = low.slice_node(Ref(low.tensor(stack)), 0, i, i + 1, 1)
        return _node(low, "reshape", [picked.name], {"shape": [-3, hidden]})

    layer_input, last = low.tensor(x), [[] for _ in range(cell.states)]
    for layer in range(layers):
        outputs = []
        for d in range(directions):
            k = layer * directions + d
            w_ih, w_hh, *biases = params[k * per:(k + 1) * per]
            b_ih, b_hh = biases if biases else (None, None)
            if b_hh is not None and not cell.hidden_bias_apart:
                b_ih, b_hh = b_ih + b_hh, None
            from_input = _linear(low, layer_input, w_ih, b_ih)  # (T, N, G H) or (N, T, G H)
            states = [state(s, k) for s in initial]
            hs: list[str] = [""] * steps
            for t in (reversed(range(steps)) if d else range(steps)):
                step = low.slice_node(Ref(from_input), time_axis, t, t + 1, 1)
                x_t = _node(low, "reshape", [step.name], {"shape": [batch_entry, cell.gates * hidden]})
                states = cell.step(low, x_t, states, w_hh, b_hh, hidden)
                hs[t] = _node(low, "reshape", [states[0]], {"shape": [-2, 1, hidden] if batch_first else [1, -2, hidden]})
            outputs.append(_node(low, "concat", hs, {"axis": time_axis}) if steps > 1 else hs[0])
            for kept, s in zip(last, states):
                kept.append(s)
        layer_input = _node(low, "concat", outputs, {"axis": 2}) if directions > 1 else outputs[0]

    def stacked(states: list[str]) -> str:  # (L * D, N, H)
        rows = [_node(low, "reshape", [s], {"shape": [1, -2, hidden]}) for s in states]
        return _node(low, "concat", rows, {"axis": 0}) if len(rows) > 1 else rows[0]

    return [Ref(layer_input)] + [Ref(stacked(s)) for s in last]


BUILDERS: dict[str, Callable[[Any, fx.Node, dict], Any]] = {name: b_recurrent for name in _CELLS}
