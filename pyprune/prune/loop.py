"""The prune -> fine-tune loop around the user's own training and evaluation functions."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from pyprune.prune.errors import PruningError
from pyprune.prune.filters import as_inputs, prune_filters
from pyprune.prune.history import History, Step
from pyprune.prune.importance import Importance
from pyprune.prune.masks import Scope, make_permanent, prune_magnitude
from pyprune.prune.schedule import OneShot, Schedule
from pyprune.modes import copy_model
from pyprune.progress import progress_bar
from pyprune.stats import count

__all__ = ["FilterPruning", "MagnitudePruning", "PruningMethod", "bn_scale_penalty", "prune_and_finetune"]


@contextlib.contextmanager
def bn_scale_penalty(model: nn.Module, strength: float) -> Iterator[None]:
    """While inside, every backward pass adds the gradient of strength * sum |scale| over the
    BatchNorm scales of `model` (the L1 sparsity regulariser of Network Slimming)."""
    handles = [m.weight.register_hook(lambda g, w=m.weight: g + strength * torch.sign(w.detach()))
               for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None
               and strength > 0]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class PruningMethod(ABC):
    """What one step does to the model: reach `target` (total, relative to the original)."""

    @abstractmethod
    def step(self, model: nn.Module, example_inputs: tuple, previous: float, target: float) -> nn.Module:
        """The model pruned from `previous` to `target` (a new one or the same, changed)."""

    def finish(self, model: nn.Module) -> nn.Module:
        """The model as handed back after the last step."""
        return model


@dataclass
class FilterPruning(PruningMethod):
    """Structured: the target is the fraction of channels removed (see prune_filters)."""

    criterion: Importance | Any = None
    ignore: Iterable[str | nn.Module] = ()
    round_to: int = 1

    def step(self, model: nn.Module, example_inputs: tuple, previous: float, target: float) -> nn.Module:
        # The channels left are 1 - previous of the original; remove the share reaching target.
        amount = max(0.0, 1 - (1 - target) / (1 - previous))
        return prune_filters(model, example_inputs, amount, criterion=self.criterion, ignore=self.ignore,
                             round_to=self.round_to)


@dataclass
class MagnitudePruning(PruningMethod):
    """Unstructured or block masks: the target is the fraction of weights zeroed (see
    prune_magnitude); masks are made permanent at the end."""

    scope: Scope = Scope.LAYER
    block: int = 1
    include_depthwise: bool = True
    ignore: Iterable[str | nn.Module] = ()

    def step(self, model: nn.Module, example_inputs: tuple, previous: float, target: float) -> nn.Module:
        prune_magnitude(model, target, scope=self.scope, block=self.block, include_depthwise=self.include_depthwise,
                        ignore=self.ignore)
        return model

    def finish(self, model: nn.Module) -> nn.Module:
        return make_permanent(model)


def prune_and_finetune(
    model: nn.Module,
    example_inputs: Any,
    target: float,
    *,
    method: PruningMethod,
    train_fn: Callable[[nn.Module, int], Any],
    eval_fn: Callable[[nn.Module], float],
    schedule: Schedule = OneShot(),
    epochs: int = 1,
    progress: bool = True,
    metric_name: str | None = None,
    bn_sparsity: float = 0.0,
) -> tuple[nn.Module, History]:
    """Prune a copy of `model` to `target` in the schedule's steps, calling
    `train_fn(model, epochs)` after each and `eval_fn(model)` to measure it; `model` is left
    untouched. Returns the pruned, fine-tuned model and the History of the steps (its plot
    labels the metric `metric_name`). The progress bar moves once per step: a train_fn that
    runs for long should show its own. `bn_sparsity` > 0 adds the L1 penalty
    bn_sparsity * sum |scale| of every BatchNorm to the loss train_fn minimises (Network
    Slimming: scales of unneeded channels go to zero, for BNScale to find).

    >>> small, history = prune_and_finetune(model, x, 0.5, method=FilterPruning(),
    ...                                     train_fn=train, eval_fn=accuracy, schedule=Iterative(3))
    >>> print(history)
    """
    if not isinstance(method, PruningMethod):
        raise TypeError(f"method must be a PruningMethod (FilterPruning, MagnitudePruning), got {method!r}")
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule (OneShot, Iterative, GradualCubic), got {schedule!r}")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 <= target < 1:
        raise PruningError(f"target must be a number in [0, 1), got {target!r}")
    if isinstance(bn_sparsity, bool) or not isinstance(bn_sparsity, (int, float)) or not bn_sparsity >= 0:
        raise PruningError(f"bn_sparsity must be a number >= 0, got {bn_sparsity!r}")
    inputs = as_inputs(example_inputs)
    current = copy_model(model)
    original = count(current, inputs)
    history = History(metric_name=metric_name)

    def record(step: int, goal: float) -> None:
        counted = count(current, inputs)
        history.steps.append(Step(step, goal, 1 - counted.nonzero / original.params, counted.params,
                                  counted.nonzero, counted.nonzero_macs, float(eval_fn(current))))

    record(0, 0.0)
    previous = 0.0
    targets = schedule.targets(float(target))
    with progress_bar(len(targets), "prune", "step", progress) as bar:
        for step, goal in enumerate(targets, 1):
            current = method.step(current, inputs, previous, goal)
            with bn_scale_penalty(current, bn_sparsity):
                train_fn(current, epochs)
            previous = goal
            if step == len(targets):
                current = method.finish(current)
            record(step, goal)
            bar.set_postfix(sparsity=f"{history.steps[-1].sparsity:.1%}", metric=f"{history.steps[-1].metric:.4g}")
            bar.update()
    return current, history
