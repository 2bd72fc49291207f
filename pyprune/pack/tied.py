"""Fine-tuning shared weights (Deep Compression, section 3.2): each shared layer's weight is
computed from a fixed index per weight and a trainable codebook, so the gradient of a centroid
is the sum of the gradients of the weights in its cluster. Exact zeros stay zero."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pyprune._optional import require

torch = require("torch", "torch", __name__)
from torch import nn
from torch.nn.utils import parametrize

from pyprune.compress.sharing import share_weights

__all__ = ["SharedWeight", "bake_shared_weights", "tie_shared_weights"]


class SharedWeight(nn.Module):
    """A parametrization: weight = codebook[indices], zero where indices == -1."""

    def __init__(self, weight: torch.Tensor, bits: int) -> None:
        super().__init__()
        shared = share_weights(weight.detach().cpu().float().numpy(), bits)
        indices = torch.from_numpy(shared.indices.astype(np.int64))
        codebook = torch.from_numpy(shared.codebook)
        if shared.has_zero:  # the zero entry is not trained: it maps to a constant
            indices, codebook = indices - 1, codebook[1:]
        self.register_buffer("indices", indices.to(weight.device))
        self.codebook = nn.Parameter(codebook.to(weight.device, weight.dtype))

    def forward(self, _original: torch.Tensor) -> torch.Tensor:
        zero = self.codebook.new_zeros(1)
        return torch.cat([zero, self.codebook])[self.indices + 1]


def tie_shared_weights(model: nn.Module, bits: int | Mapping[str, int] | None = None) -> list[str]:
    """Ties every Conv2d/Linear weight of `model` to a codebook (in place); bits as in
    pyprune.pack.save (default 8 for convolutions, 5 for linear layers). Train the model
    as usual: only the codebooks (and the other parameters) change. Returns the tied modules."""
    from pyprune.pack.api import DEFAULT_BITS

    tied = []
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)) or parametrize.is_parametrized(module, "weight"):
            continue
        kind = "conv" if isinstance(module, nn.Conv2d) else "linear"
        b = bits.get(name, bits.get(kind, DEFAULT_BITS[kind])) if isinstance(bits, Mapping) else bits or DEFAULT_BITS[kind]
        parametrize.register_parametrization(module, "weight", SharedWeight(module.weight, b), unsafe=True)
        tied.append(name)
    return tied


def bake_shared_weights(model: nn.Module) -> None:
    """Replaces every tied weight by its current value, a plain Parameter again (in place)."""
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight") and any(
                isinstance(p, SharedWeight) for p in module.parametrizations["weight"]):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
