"""Folding an inference-mode BatchNorm into the convolution before it."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["fold_batchnorm"]


def fold_batchnorm(
    weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.BatchNorm2d
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of conv followed by bn (with its running statistics), as one conv.

    y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta
      = conv_{w * s}(x) + (b - mean) * s + beta,   s = gamma / sqrt(var + eps)
    """
    if not isinstance(bn, nn.BatchNorm2d):
        raise TypeError(f"bn must be an nn.BatchNorm2d, got {type(bn).__name__}")
    if bn.num_features != weight.shape[0]:
        raise ValueError(
            f"bn has {bn.num_features} features but the convolution has {weight.shape[0]} output channels"
        )
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("bn must track running statistics (track_running_stats=True) to be folded")
    with torch.no_grad():
        scale = torch.rsqrt(bn.running_var.double() + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight.double()
        shift = -bn.running_mean.double() * scale
        if bias is not None:
            shift = shift + bias.double() * scale
        if bn.bias is not None:
            shift = shift + bn.bias.double()
        folded = weight.double() * scale.reshape(-1, *([1] * (weight.dim() - 1)))
    return folded.float().contiguous(), shift.float().contiguous()
