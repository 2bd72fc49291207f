"""Importance criteria: how much each channel matters.

Pruning removes units: sets of coupled channels (a convolution's filter, its BatchNorm's
channel, the next layers' input channels, every layer of a residual stream at that position).
L1, L2, FPGM and Taylor score a unit by all its weights by default (group importance): each
parameter slice the unit removes (producing filters, BatchNorm scales, consumers' input
channels) adds its score, and the scores are normalised per group of coupled layers (divided
by their mean) so groups compare. Biases do not count: they shift a channel, they do not weigh
what it carries; nor do depthwise filters: each carries only its own channel, and the
BatchNorm after it rescales it (counting them made MobileNetV3 keep worse channels:
benchmarks/bench_prune.py). BNScale scores by the BatchNorm scales alone (Network Slimming).
With group=False, and for the other criteria, a criterion scores the output channels of one
layer (a 1-D tensor, higher meaning more important), normalised per layer and summed over the
unit's producing layers. Data-based criteria (Taylor, APoZ) first run the model on data in
`prepare`. Any callable taking the weight (out_channels x ...) and returning 1-D scores works
as well:

    >>> prune_filters(model, x, amount=0.3, criterion=lambda w: w.abs().amax(dim=(1, 2, 3)))
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Callable

import numpy as np
import torch
import torch.fx as fx
from torch import nn

from pyprune.prune.errors import PruningError
from pyprune.modes import evaluating
from pyprune.prune.graph import ChannelGraph, PruningGroup, capture_for_pruning, placeholder_values
from pyprune.prune.pruners import pruner_for
from pyprune.prune.weight_norm import named_weights

__all__ = [
    "APoZ",
    "FPGM",
    "Importance",
    "L0",
    "L1",
    "L2",
    "BNScale",
    "GroupImportance",
    "Random",
    "Taylor",
    "WeightCriterion",
    "as_importance",
    "normalised",
]


class Importance(ABC):
    """Scores the output channels of a layer. Subclasses implement `__call__`; those that
    need activations or gradients collect them in `prepare`, which is called once per pruning
    with the model about to be pruned and the layers (by qualified name) to be scored.
    `score_units` scores the pruning units of each group (override it for group criteria)."""

    def prepare(self, model: nn.Module, layers: dict[str, nn.Module]) -> None:  # noqa: B027 (optional hook)
        """Collect whatever the criterion needs from `model` before layers are scored."""

    @abstractmethod
    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        """One score per output channel of `module` (named `name` in the model)."""

    def score_units(self, model: nn.Module, graph: ChannelGraph, groups: list[PruningGroup]) -> list[torch.Tensor]:
        """One score per unit of each group: the unit's producing layers' scores, each layer's
        normalised to mean one, summed."""
        scores = {}
        for name in {layer for group in groups for layer in group.layers}:
            use = graph.layers[name]
            s = torch.as_tensor(self(use.module, name))
            if s.dim() != 1 or s.numel() != len(use.out_ids):
                raise PruningError(f"criterion {type(self).__name__} gave {tuple(s.shape)} scores for layer "
                                   f"{name!r}, which has {len(use.out_ids)} output channels")
            if not bool(torch.isfinite(s).all()):
                raise PruningError(f"criterion {type(self).__name__} gave non-finite scores for layer {name!r}")
            scores[name] = normalised(s)
        return [torch.tensor([sum(float(scores[layer][pos]) for layer, pos in unit) for unit in group.units],
                             dtype=torch.float64) for group in groups]


class GroupImportance(Importance):
    """A criterion scoring each unit by every parameter slice it removes: subclasses give the
    scores of the slices of one tensor along one dimension (`slices`); group=False scores the
    producing layers' filters only."""

    def __init__(self, group: bool = True) -> None:
        self.group = group

    @abstractmethod
    def slices(self, tensor: torch.Tensor, dim: int, name: str) -> torch.Tensor:
        """One score per index of `dim` of parameter `name` (`tensor`)."""

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        return self.slices(_weight(module), 0, f"{name}.weight")

    def parameters(self, graph: ChannelGraph) -> dict[str, dict[int, np.ndarray]]:
        """The parameter dimensions that count: all weights the channels meet but biases and
        depthwise filters."""
        return {name: dims for name, dims in graph.params.items()
                if name not in graph.biases and name not in graph.depthwise}

    def score_units(self, model: nn.Module, graph: ChannelGraph, groups: list[PruningGroup]) -> list[torch.Tensor]:
        if not self.group:
            return super().score_units(model, graph, groups)
        weights = named_weights(model)
        by_root: dict[int, float] = {}
        for name, dims in self.parameters(graph).items():
            if name not in weights:
                continue  # a buffer (running statistics)
            for dim, ids in dims.items():
                scores = self.slices(weights[name].detach().float(), dim, name).double().tolist()
                for root, score in zip(graph.roots(ids).tolist(), scores):
                    by_root[root] = by_root.get(root, 0.0) + score
        return [normalised(torch.tensor([by_root.get(root, 0.0) for root in group.unit_roots]))
                for group in groups]


def _weight(module: nn.Module) -> torch.Tensor:
    """The module's weight with one slice per output channel along dim 0 (a transposed
    convolution's are its dim 1 within each group)."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise PruningError(f"{type(module).__name__} has no weight tensor to score")
    pruner = pruner_for(module)
    return (pruner.filters(module) if pruner is not None else weight).detach().float()


def _rows(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    """The tensor as one row per index of `dim`."""
    return tensor.movedim(dim, 0).reshape(tensor.shape[dim], -1)


def _filters(module: nn.Module) -> torch.Tensor:
    """The weight as one row per output channel."""
    return _weight(module).flatten(1)


class L0(Importance):
    """Number of non-zero weights of each filter (ties broken by nothing: a control for
    filters emptied by unstructured pruning)."""

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        return (_filters(module) != 0).sum(dim=1).float()


class L1(GroupImportance):
    """Sum of absolute weights (Li et al. 2017, "Pruning filters for efficient ConvNets"): of
    every slice a unit removes (group), or of each filter (group=False)."""

    def slices(self, tensor: torch.Tensor, dim: int, name: str) -> torch.Tensor:
        return _rows(tensor, dim).abs().sum(dim=1)


class L2(GroupImportance):
    """Euclidean norm: of all the slices a unit removes together (group), or of each filter."""

    def slices(self, tensor: torch.Tensor, dim: int, name: str) -> torch.Tensor:
        return _rows(tensor, dim).square().sum(dim=1)

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        return super().__call__(module, name).sqrt()


class FPGM(GroupImportance):
    """Filter pruning via geometric median (He et al. 2019): a slice's score is the sum of its
    Euclidean distances to the other slices of the same tensor; the slices closest to the
    geometric median are the most replaceable and score lowest."""

    def slices(self, tensor: torch.Tensor, dim: int, name: str) -> torch.Tensor:
        rows = _rows(tensor, dim).double()
        return torch.cdist(rows, rows).sum(dim=1).float()


class BNScale(GroupImportance):
    """Network Slimming (Liu et al. 2017): the absolute BatchNorm scales of a unit's channels.
    Units that meet no BatchNorm are scored by L1 of their weights. Train with
    prune_and_finetune(..., bn_sparsity=...) to push unneeded scales to zero first."""

    def __init__(self) -> None:
        super().__init__(group=True)

    def slices(self, tensor: torch.Tensor, dim: int, name: str) -> torch.Tensor:
        return tensor.abs().reshape(-1)

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        return _weight(module).abs().reshape(-1)

    def parameters(self, graph: ChannelGraph) -> dict[str, dict[int, np.ndarray]]:
        return {name: graph.params[name] for name in graph.scales}

    def score_units(self, model: nn.Module, graph: ChannelGraph, groups: list[PruningGroup]) -> list[torch.Tensor]:
        scaled = super().score_units(model, graph, groups)
        plain = L1().score_units(model, graph, groups)
        return [s if bool((s > 0).any()) else p for s, p in zip(scaled, plain)]


class Random(Importance):
    """Random scores, reproducible per (seed, layer name): the control every criterion
    should beat."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed + zlib.crc32(name.encode()))
        return torch.rand(_filters(module).shape[0], generator=generator)


class WeightCriterion(Importance):
    """A plain function of the weight (out_channels first) used as a criterion."""

    def __init__(self, score: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.score = score

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        return self.score(_weight(module))


Batch = Any  # an input tensor, a tuple of inputs, or (inputs, targets) for Taylor


def _channel_means(t: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """Mean over the positions of each (example, channel): N x C. Channels are dim 1, or the
    last dim (a linear layer's output, of tokens too)."""
    if channels_last and t.dim() > 2:
        t = t.movedim(-1, 1)
    return t.flatten(2).mean(dim=2) if t.dim() > 2 else t


def _as_args(inputs: Any) -> tuple:
    return inputs if isinstance(inputs, tuple) else (inputs,)


class Taylor(GroupImportance):
    """First-order Taylor expansion of the loss (Molchanov et al. 2017) over `data`, an
    iterable of (inputs, targets) batches; `loss_fn(outputs, targets)` is the loss. A unit's
    score (group) is the sum over the weights it removes of |weight x gradient| (gradients
    summed over the batches); with group=False, for each output channel of a layer,
    |mean over positions of activation x gradient| averaged over the examples. Gradients are
    cleared afterwards."""

    def __init__(self, data: Iterable[tuple[Any, Any]], loss_fn: Callable[[Any, Any], torch.Tensor],
                 group: bool = True) -> None:
        super().__init__(group)
        self.data = data
        self.loss_fn = loss_fn
        self.scores: dict[str, torch.Tensor] = {}
        self.products: dict[str, torch.Tensor] = {}  # parameter name -> weight x summed gradient

    def slices(self, tensor: torch.Tensor, dim: int, name: str) -> torch.Tensor:
        if name not in self.products:
            raise PruningError(f"Taylor has no gradient for parameter {name!r}: is it used by the loss?")
        return _rows(self.products[name], dim).abs().sum(dim=1)

    def prepare(self, model: nn.Module, layers: dict[str, nn.Module]) -> None:
        sums: dict[str, torch.Tensor] = {}
        examples = 0
        outputs: dict[str, torch.Tensor] = {}

        def keep_output(name: str):
            def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
                output.retain_grad()
                outputs[name] = output

            return hook

        # A frozen weight (an anchor decoder's fixed projection) is removed with its unit all the
        # same: the loss's gradient is taken with respect to it too.
        frozen = [p for p in model.parameters() if not p.requires_grad and p.is_floating_point()]
        for p in frozen:
            p.requires_grad_(True)
        handles = [m.register_forward_hook(keep_output(n)) for n, m in layers.items()]
        gradients: dict[str, torch.Tensor] = {}
        try:
            for inputs, targets in self.data:
                outputs.clear()
                model.zero_grad(set_to_none=True)
                self.loss_fn(model(*_as_args(inputs)), targets).backward()
                for name, p in model.named_parameters():
                    if p.grad is not None:
                        gradients[name] = gradients.get(name, 0) + p.grad.detach()
                for name, out in outputs.items():
                    if out.grad is None:
                        continue
                    contribution = _channel_means(out.detach() * out.grad, isinstance(layers[name], nn.Linear))
                    contribution = contribution.abs().sum(dim=0)
                    sums[name] = sums.get(name, 0) + contribution
                examples += int(outputs[next(iter(outputs))].shape[0]) if outputs else 0
        finally:
            for handle in handles:
                handle.remove()
            model.zero_grad(set_to_none=True)
            for p in frozen:
                p.requires_grad_(False)
        if examples == 0:
            raise PruningError("Taylor needs at least one (inputs, targets) batch in data")
        self.scores = {name: total / examples for name, total in sums.items()}
        weights = dict(model.named_parameters())
        self.products = {name: (weights[name].detach() * g).float() for name, g in gradients.items()}

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        if name not in self.scores:
            raise PruningError(f"Taylor has no gradient for layer {name!r}: is it used by the loss?")
        return self.scores[name]


# Activations whose zeros APoZ counts, and the per-channel operators it looks through to find them.
_ACTIVATIONS = {"aten::relu", "aten::relu6", "aten::hardtanh", "aten::leaky_relu", "aten::elu"}
_NORMALIZATIONS = {"aten::batch_norm", "aten::_native_batch_norm_legit_no_training", "aten::getitem"}
_LAYERS = {"aten::conv1d", "aten::conv2d", "aten::conv3d", "aten::convolution", "aten::conv_transpose1d",
           "aten::conv_transpose2d", "aten::conv_transpose3d", "aten::linear"}


def _op_name(node: fx.Node) -> str:
    target = node.target
    return target._schema.name if isinstance(target, torch._ops.OpOverload) else f"aten::{getattr(target, '__name__', '')}"


def _activation_after(node: fx.Node) -> fx.Node:
    """The activation applied to `node`'s output, through any BatchNorm; `node` itself if there
    is none (a linear bottleneck)."""
    current = node
    while len(current.users) == 1:
        user = next(iter(current.users))
        name = _op_name(user).rstrip("_")
        if name in _ACTIVATIONS:
            return user
        if name not in _NORMALIZATIONS:
            break
        current = user
    return node


class APoZ(Importance):
    """Average percentage of zeros (Hu et al. 2016) of each channel after the activation that
    follows the layer, over the batches of `data` (inputs, or (inputs, targets) pairs whose
    targets are ignored). Score = 1 - APoZ: channels that are mostly zero matter least."""

    def __init__(self, data: Iterable[Batch]) -> None:
        self.data = data
        self.scores: dict[str, torch.Tensor] = {}

    def prepare(self, model: nn.Module, layers: dict[str, nn.Module]) -> None:
        batches = [_as_args(b[0] if isinstance(b, (tuple, list)) and len(b) == 2 else b) for b in self.data]
        if not batches:
            raise PruningError("APoZ needs at least one batch of inputs in data")
        with evaluating(model), torch.no_grad():
            program = capture_for_pruning(model, batches[0])
        names = {node: name for node, _, _, name in placeholder_values(program, batches[0]) if name}
        watched = {}
        for n in program.graph_module.graph.nodes:
            weight = n.args[1] if n.op == "call_function" and _op_name(n) in _LAYERS and len(n.args) > 1 else None
            owner = names.get(weight, "").rpartition(".")[0] if isinstance(weight, fx.Node) else None
            if owner in layers:
                watched[_activation_after(n)] = owner, _op_name(n) == "aten::linear"
        zeros: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}

        class Recorder(fx.Interpreter):
            def run_node(self, n: fx.Node) -> Any:
                value = super().run_node(n)
                if n in watched:
                    name, linear = watched[n]
                    zeros[name] = zeros.get(name, 0) + _channel_means((value == 0).float(), linear).sum(dim=0)
                    counts[name] = counts.get(name, 0) + value.shape[0]
                return value

        recorder = Recorder(program.graph_module)
        with torch.no_grad():
            for inputs in batches:
                recorder.run(*[value for _, value, _, _ in placeholder_values(program, inputs)])
        self.scores = {name: 1.0 - zeros[name] / counts[name] for name in zeros}

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        if name not in self.scores:
            raise PruningError(f"APoZ saw no activation of layer {name!r}: call prepare with the model first")
        return self.scores[name]


def as_importance(criterion: Importance | Callable[[torch.Tensor], torch.Tensor]) -> Importance:
    """`criterion` as an Importance: instances pass through, plain functions of the weight are
    wrapped."""
    if isinstance(criterion, Importance):
        return criterion
    if callable(criterion):
        return WeightCriterion(criterion)
    raise TypeError(f"criterion must be an Importance or a callable, got {type(criterion).__name__}")


def normalised(scores: torch.Tensor) -> torch.Tensor:
    """Scores divided by their mean, so that the channels of coupled layers (e.g. the layers
    feeding one residual addition) can be scored jointly by summing: every layer weighs the
    same whatever the scale of its weights."""
    scores = scores.detach().double().flatten()
    mean = scores.mean()
    return scores / mean if mean > 0 else scores
