"""Importance criteria: how much each output channel (filter) of a layer matters.

A criterion scores the output channels of one layer: a 1-D tensor, one score per channel,
higher meaning more important. Weight-based criteria (L0, L1, L2, FPGM, Random) look only at
the layer; data-based criteria (Taylor, APoZ) first run the model on data in `prepare`.
Any callable taking the weight (out_channels x ...) and returning 1-D scores works as well:

    >>> prune_filters(model, x, amount=0.3, criterion=lambda w: w.abs().amax(dim=(1, 2, 3)))
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Callable

import torch
import torch.fx as fx
from torch import nn

from pyprune.prune.errors import PruningError
from pyprune.prune.graph import symbolic_trace

__all__ = [
    "APoZ",
    "FPGM",
    "Importance",
    "L0",
    "L1",
    "L2",
    "Random",
    "Taylor",
    "WeightCriterion",
    "as_importance",
    "normalised",
]


class Importance(ABC):
    """Scores the output channels of a layer. Subclasses implement `__call__`; those that
    need activations or gradients collect them in `prepare`, which is called once per pruning
    with the model about to be pruned and the layers (by qualified name) to be scored."""

    def prepare(self, model: nn.Module, layers: dict[str, nn.Module]) -> None:  # noqa: B027 (optional hook)
        """Collect whatever the criterion needs from `model` before layers are scored."""

    @abstractmethod
    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        """One score per output channel of `module` (named `name` in the model)."""


def _filters(module: nn.Module) -> torch.Tensor:
    """The weight as one row per output channel."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise PruningError(f"{type(module).__name__} has no weight tensor to score")
    return weight.detach().flatten(1).float()


class L0(Importance):
    """Number of non-zero weights of each filter (ties broken by nothing: a control for
    filters emptied by unstructured pruning)."""

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        return (_filters(module) != 0).sum(dim=1).float()


class L1(Importance):
    """Sum of absolute weights of each filter (Li et al. 2017, "Pruning filters for efficient
    ConvNets")."""

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        return _filters(module).abs().sum(dim=1)


class L2(Importance):
    """Euclidean norm of each filter."""

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        return _filters(module).norm(dim=1)


class FPGM(Importance):
    """Filter pruning via geometric median (He et al. 2019): a filter's score is the sum of its
    Euclidean distances to all other filters of the layer; the filters closest to the geometric
    median are the most replaceable and score lowest."""

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        filters = _filters(module).double()
        return torch.cdist(filters, filters).sum(dim=1).float()


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
        return self.score(module.weight.detach())


Batch = Any  # an input tensor, a tuple of inputs, or (inputs, targets) for Taylor


def _channel_means(t: torch.Tensor) -> torch.Tensor:
    """Mean over the positions of each (example, channel): N x C."""
    return t.flatten(2).mean(dim=2) if t.dim() > 2 else t


def _as_args(inputs: Any) -> tuple:
    return inputs if isinstance(inputs, tuple) else (inputs,)


class Taylor(Importance):
    """First-order Taylor expansion of the loss (Molchanov et al. 2017): for each output
    channel, |mean over positions of activation x gradient|, averaged over the examples of
    `data`, an iterable of (inputs, targets) batches; `loss_fn(outputs, targets)` is the loss.
    The layer's own output is the activation; gradients are cleared afterwards."""

    def __init__(self, data: Iterable[tuple[Any, Any]], loss_fn: Callable[[Any, Any], torch.Tensor]) -> None:
        self.data = data
        self.loss_fn = loss_fn
        self.scores: dict[str, torch.Tensor] = {}

    def prepare(self, model: nn.Module, layers: dict[str, nn.Module]) -> None:
        sums: dict[str, torch.Tensor] = {}
        examples = 0
        outputs: dict[str, torch.Tensor] = {}

        def keep_output(name: str):
            def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
                output.retain_grad()
                outputs[name] = output

            return hook

        handles = [m.register_forward_hook(keep_output(n)) for n, m in layers.items()]
        try:
            for inputs, targets in self.data:
                outputs.clear()
                model.zero_grad(set_to_none=True)
                self.loss_fn(model(*_as_args(inputs)), targets).backward()
                for name, out in outputs.items():
                    if out.grad is None:
                        continue
                    contribution = _channel_means(out.detach() * out.grad).abs().sum(dim=0)
                    sums[name] = sums.get(name, 0) + contribution
                examples += int(outputs[next(iter(outputs))].shape[0]) if outputs else 0
        finally:
            for handle in handles:
                handle.remove()
            model.zero_grad(set_to_none=True)
        if examples == 0:
            raise PruningError("Taylor needs at least one (inputs, targets) batch in data")
        self.scores = {name: total / examples for name, total in sums.items()}

    def __call__(self, module: nn.Module, name: str) -> torch.Tensor:
        if name not in self.scores:
            raise PruningError(f"Taylor has no gradient for layer {name!r}: is it used by the loss?")
        return self.scores[name]


_ACTIVATION_MODULES = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish)
_ACTIVATION_FUNCTIONS = {torch.relu, torch.nn.functional.relu, torch.nn.functional.relu6,
                         torch.nn.functional.hardtanh, torch.nn.functional.leaky_relu}
_NORMALIZATIONS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _activation_after(node: fx.Node, modules: dict[str, nn.Module]) -> fx.Node:
    """The activation applied to `node`'s output, through any BatchNorm; `node` itself if there
    is none (a linear bottleneck)."""
    current = node
    while len(current.users) == 1:
        user = next(iter(current.users))
        if user.op == "call_module" and isinstance(modules[user.target], _ACTIVATION_MODULES):
            return user
        if user.op == "call_function" and user.target in _ACTIVATION_FUNCTIONS \
                or user.op == "call_method" and user.target == "relu":
            return user
        if not (user.op == "call_module" and isinstance(modules[user.target], _NORMALIZATIONS)):
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
        gm = symbolic_trace(model)
        modules = dict(gm.named_modules())
        watched = {_activation_after(n, modules): n.target for n in gm.graph.nodes
                   if n.op == "call_module" and n.target in layers}
        zeros: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}

        class Recorder(fx.Interpreter):
            def run_node(self, n: fx.Node) -> Any:
                value = super().run_node(n)
                if n in watched:
                    per_channel = _channel_means((value == 0).float())
                    name = watched[n]
                    zeros[name] = zeros.get(name, 0) + per_channel.sum(dim=0)
                    counts[name] = counts.get(name, 0) + value.shape[0]
                return value

        recorder = Recorder(gm)
        with torch.no_grad():
            for batch in self.data:
                inputs = batch[0] if isinstance(batch, (tuple, list)) and len(batch) == 2 else batch
                recorder.run(*_as_args(inputs))
        if not counts:
            raise PruningError("APoZ needs at least one batch of inputs in data")
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
