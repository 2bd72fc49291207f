"""Layers whose weight is weight-normalised, w = g * v / ||v|| (torch.nn.utils.parametrizations
.weight_norm, or the older torch.nn.utils.weight_norm hook): speech and vocoder models (TCN,
WaveNet, HiFi-GAN) use them throughout.

Pruning treats such a weight as the layer's own: it is scored and cut as any other, and the cut
weight w' is then written back as v = w', g = ||w'|| (what torch does when a weight is assigned
to a parametrized layer). The kept weights are exactly the original ones, also when input
channels go (cutting v alone would change its norms), and the layer stays weight-normalised for
fine-tuning.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _WeightNorm
from torch.nn.utils.weight_norm import WeightNorm

__all__ = ["is_weight_normalised", "named_weights", "set_weight"]


def _hook(module: nn.Module, name: str) -> WeightNorm | None:
    return next((h for h in module._forward_pre_hooks.values() if isinstance(h, WeightNorm) and h.name == name), None)


def is_weight_normalised(module: nn.Module, name: str) -> bool:
    """Whether `module`'s tensor `name` is computed by weight normalisation alone."""
    if parametrize.is_parametrized(module, name):
        return all(isinstance(p, _WeightNorm) for p in module.parametrizations[name])
    return _hook(module, name) is not None


def set_weight(module: nn.Module, name: str, value: torch.Tensor) -> None:
    """Make `value` the weight-normalised tensor `name` of `module`: v = value, g = its norms."""
    with torch.no_grad():
        if parametrize.is_parametrized(module, name):
            setattr(module, name, value)  # the parametrization's right_inverse sets g and v
            return
        hook = _hook(module, name)
        v = getattr(module, f"{name}_v")
        g = torch.norm_except_dim(value, 2, hook.dim)
        setattr(module, f"{name}_g", nn.Parameter(g, requires_grad=v.requires_grad))
        setattr(module, f"{name}_v", nn.Parameter(value.clone(), requires_grad=v.requires_grad))
        setattr(module, name, hook.compute_weight(module))


def named_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's parameters by name, and as "layer.weight" the weight (detached) of every
    weight-normalised layer, which is no parameter of its own."""
    weights = dict(model.named_parameters())
    for path, module in model.named_modules():
        if isinstance(getattr(module, "weight", None), torch.Tensor) and is_weight_normalised(module, "weight"):
            weights[f"{path}.weight" if path else "weight"] = module.weight.detach()
    return weights
