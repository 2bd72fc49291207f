"""ConvModule: what pyprune's convolution modules share."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pyprune.activation import Activation, as_activation

__all__ = ["ConvModule", "check_weight", "torch_activation"]


def torch_activation(activation: Activation, y: torch.Tensor) -> torch.Tensor:
    """The activation computed by torch (the kernels' results agree within their stated error)."""
    kind = activation.kind
    if kind == "clamp":
        return y.clamp(activation.min, activation.max)
    if kind == "leaky_relu":
        return F.leaky_relu(y, activation.alpha)
    if kind == "elu":
        return F.elu(y, activation.alpha)
    if kind in ("gelu", "gelu_tanh"):
        return F.gelu(y, approximate="tanh" if kind == "gelu_tanh" else "none")
    return {"hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "silu": F.silu, "sigmoid": torch.sigmoid,
            "tanh": torch.tanh, "mish": F.mish}[kind](y)


def check_weight(weight: object, shape: str, module: str) -> None:
    """A module is built from a trained layer's 4-d weight (`shape` names its dims): TypeError
    for anything else than a tensor (as for nn.Conv2d's channel counts), ValueError for another
    rank."""
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor of shape {shape}, got {type(weight).__name__}: pyprune.nn "
                        f"modules are built from trained weights (pyprune.nn.{module}.from_torch(conv) takes a layer)")
    if weight.dim() != 4:
        raise ValueError(f"weight must have shape {shape}, got {tuple(weight.shape)}")


class ConvModule(nn.Module):
    """Weight and bias as float32 buffers (the modules are for inference), stride, padding,
    groups and a fused activation; `torch_forward` computes the same result with torch, for
    inputs the kernels do not take (a gradient is needed, not float32, not on the CPU)."""

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: int,
        padding: int,
        groups: int,
        activation: Activation | str | None,
    ) -> None:
        super().__init__()
        if bias is not None and not isinstance(bias, torch.Tensor):
            raise TypeError(f"bias must be a torch.Tensor or None, got {type(bias).__name__}")
        self.register_buffer("weight", weight.detach().float().contiguous().clone())
        self.register_buffer("bias", None if bias is None else bias.detach().float().contiguous().clone())
        self.stride, self.padding, self.groups = stride, padding, groups
        self.activation = as_activation(activation)

    def torch_forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype)
        b = None if self.bias is None else self.bias.to(x.dtype)
        y = F.conv2d(x, w, b, self.stride, self.padding, groups=self.groups)
        return torch_activation(self.activation, y)

    def activation_repr(self) -> str:
        return "" if self.activation == Activation.none() else f", activation={self.activation}"
