"""Counting a model: parameters and multiply-accumulates (MACs) per layer (needs torch).

MACs are measured by running example inputs through the model with hooks and are given per
input example (the batch is divided out):
    Conv2d: out_channels * (in_channels / groups) * kh * kw * H_out * W_out
            (depthwise and grouped convolutions by the same formula; Conv1d and Conv3d
            likewise, over their one or three dims)
    ConvTranspose1d/2d/3d: in_channels * (out_channels / groups) * kh * kw * H_in * W_in
            (each input position goes through the whole kernel)
    Linear: in_features * out_features (per output row)
    RNN, LSTM, GRU: every weight of every layer and direction once per step
    MultiheadAttention: its projections (in and out) per token, and the two attention
            products, query length * key length * embed_dim each (all counted on the
            attention module, none on its out_proj)
that is, every weight times the number of outputs it contributes to. `nonzero_macs` counts
only the non-zero weights' (what a sparse kernel does, and what pruning by masks saves; the
attention products count in both). BatchNorm, activations and pooling count parameters but
no MACs. Parameters are counted on the module that holds them, whether it is a leaf layer or
a block holding its own (a layer scale, a class token, attention's input projection).

    >>> before = count(model, x)
    >>> print(compare(before, count(pruned, x)))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyprune._optional import require

torch = require("torch", "torch", __name__)

from torch import nn  # noqa: E402
from torch.nn.utils import parametrize  # noqa: E402

from pyprune.modes import evaluating  # noqa: E402

__all__ = ["LayerCount", "ModelCount", "compare", "count"]


@dataclass
class LayerCount:
    name: str
    kind: str
    params: int
    nonzero: int
    macs: int
    nonzero_macs: int
    output_shape: tuple[int, ...] | None


@dataclass
class ModelCount:
    """Per-layer counts, in the order the layers ran."""

    layers: list[LayerCount] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def nonzero(self) -> int:
        return sum(layer.nonzero for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def nonzero_macs(self) -> int:
        return sum(layer.nonzero_macs for layer in self.layers)

    def __getitem__(self, name: str) -> LayerCount:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def __str__(self) -> str:
        """Layers with parameters, one per line, and the total (of every layer)."""
        width = max([len(layer.name) for layer in self.layers] + [5])
        lines = [f"{'layer':<{width}}  {'type':<12} {'output':<18} {'params':>10} {'nonzero':>10} {'MACs':>13} "
                 f"{'nonzero MACs':>13}"]
        for layer in self.layers:
            if layer.params:
                shape = "x".join(map(str, layer.output_shape[1:])) if layer.output_shape else "-"
                lines.append(f"{layer.name:<{width}}  {layer.kind:<12} {shape:<18} {layer.params:>10,} "
                             f"{layer.nonzero:>10,} {layer.macs:>13,} {layer.nonzero_macs:>13,}")
        lines.append(f"{'total':<{width}}  {'':<12} {'':<18} {self.params:>10,} {self.nonzero:>10,} {self.macs:>13,} "
                     f"{self.nonzero_macs:>13,}")
        return "\n".join(lines)


def _own_tensors(module: nn.Module) -> list[torch.Tensor]:
    """A layer's own parameters as its forward sees them (masks applied)."""
    tensors = [p for name, p in module.named_parameters(recurse=False)]
    if parametrize.is_parametrized(module):
        tensors += [getattr(module, name) for name in module.parametrizations]
    return tensors


_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _steps(module: nn.RNNBase, x: Any) -> int:
    """Time steps per example of a recurrent layer's input (a tensor or a PackedSequence)."""
    if isinstance(x, nn.utils.rnn.PackedSequence):
        return x.data.shape[0] // max(1, int(x.batch_sizes[0]))
    return x.shape[1] if x.dim() == 3 and module.batch_first else x.shape[0]


def _tokens(module: nn.MultiheadAttention, x: torch.Tensor) -> int:
    return x.shape[1] if x.dim() == 3 and module.batch_first else x.shape[0]


def _attention_macs(module: nn.MultiheadAttention, args: tuple, kwargs: dict) -> tuple[list, int]:
    """(weight, uses) pairs and the weightless MACs of one attention call, per example."""
    query = args[0] if args else kwargs["query"]
    key = args[1] if len(args) > 1 else kwargs["key"]
    queries, keys = _tokens(module, query), _tokens(module, key)
    if module._qkv_same_embed_dim:
        q, k, v = module.in_proj_weight.chunk(3)
    else:
        q, k, v = module.q_proj_weight, module.k_proj_weight, module.v_proj_weight
    pairs = [(q, queries), (k, keys), (v, keys), (module.out_proj.weight, queries)]
    return pairs, 2 * queries * keys * module.embed_dim


def _macs(module: nn.Module, args: tuple, kwargs: dict, output: torch.Tensor) -> tuple[int, int]:
    """(MACs, MACs of the non-zero weights) of one call for one example: each weight (masked,
    if masks are attached) times the MACs it does."""
    free = 0
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        pairs = [(module.weight, output[0].numel() // module.out_channels)]
    elif isinstance(module, _TRANSPOSED):
        pairs = [(module.weight, args[0][0].numel() // module.in_channels)]
    elif isinstance(module, nn.Linear):
        pairs = [(module.weight, output[0].numel() // module.out_features)]
    elif isinstance(module, nn.RNNBase):
        steps = _steps(module, args[0])
        pairs = [(weight, steps) for name, weight in module.named_parameters() if name.startswith("weight_")]
    elif isinstance(module, nn.MultiheadAttention):
        pairs, free = _attention_macs(module, args, kwargs)
    else:
        return 0, 0
    return (sum(w.numel() * uses for w, uses in pairs) + free,
            sum(int(torch.count_nonzero(w)) * uses for w, uses in pairs) + free)


def _is_layer(module: nn.Module) -> bool:
    """A leaf module, or one that holds parameters of its own beside its children."""
    children = [name for name, _ in module.named_children() if name != "parametrizations"]
    return not children or any(True for _ in module.named_parameters(recurse=False))


def count(model: nn.Module, example_inputs: Any) -> ModelCount:
    """Parameters (all, and non-zero) and MACs (all, and of the non-zero weights) per example
    of every layer of `model` (see the module's docstring), run once on `example_inputs` (a tensor or a tuple) in eval
    mode, without gradients. Layers the inputs do not reach are listed with 0 MACs."""
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError(f"count needs the model's Python module (it hooks its layers), not a TorchScript "
                        f"{type(model).__name__}: count the module it was scripted or traced from")
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    layers = {name: m for name, m in model.named_modules()
              if _is_layer(m) and "parametrizations" not in name.split(".")}  # masks: their layer's
    seen: dict[str, tuple[int, int, tuple[int, ...]]] = {}

    def hook(name: str):
        def record(module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
            first = output[0] if isinstance(output, tuple) and output else output  # RNNs, attention
            if isinstance(first, nn.utils.rnn.PackedSequence):
                first = first.data
            if isinstance(first, torch.Tensor) and first.dim() >= 1:
                macs, nonzero_macs, _ = seen.get(name, (0, 0, ()))
                more, more_nonzero = _macs(module, args, kwargs, first)
                seen[name] = (macs + more, nonzero_macs + more_nonzero, tuple(first.shape))

        return record

    handles = [m.register_forward_hook(hook(name), with_kwargs=True) for name, m in layers.items()]
    try:
        with evaluating(model), torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    result = ModelCount()
    order = {name: i for i, name in enumerate(seen)}
    for name in sorted(layers, key=lambda n: order.get(n, len(order))):
        tensors = _own_tensors(layers[name])
        macs, nonzero_macs, shape = seen.get(name, (0, 0, None))
        result.layers.append(LayerCount(
            name, type(layers[name]).__name__.replace("Parametrized", ""), sum(t.numel() for t in tensors),
            sum(int(torch.count_nonzero(t)) for t in tensors), macs, nonzero_macs, shape,
        ))
    return result


def _ratio(after: int, before: int) -> str:
    return f"{after / before:6.1%}" if before else "     -"


def compare(before: ModelCount, after: ModelCount) -> str:
    """A table of params, non-zero params and MACs per layer with parameters, before and after
    (e.g. pruning), with the fraction kept; the total covers every layer."""
    names = [layer.name for layer in before.layers]
    width = max([len(n) for n in names] + [5])
    lines = [f"{'layer':<{width}}  {'params':>10} {'->':>2} {'after':>10} {'kept':>6}  {'nonzero after':>13}  "
             f"{'MACs':>12} {'->':>2} {'after':>12} {'kept':>6}"]
    after_by_name = {layer.name: layer for layer in after.layers}
    rows = [(layer, after_by_name.get(layer.name)) for layer in before.layers if layer.params]
    for b, a in rows + [(before, after)]:
        name = getattr(b, "name", "total")
        a_params, a_nonzero, a_macs = (a.params, a.nonzero, a.macs) if a is not None else (0, 0, 0)
        lines.append(f"{name:<{width}}  {b.params:>10,} {'->':>2} {a_params:>10,} {_ratio(a_params, b.params)}  "
                     f"{a_nonzero:>13,}  {b.macs:>12,} {'->':>2} {a_macs:>12,} {_ratio(a_macs, b.macs)}")
    return "\n".join(lines)
