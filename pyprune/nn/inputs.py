"""Which inputs pyprune's kernels take; the rest go through torch with the same result."""

import torch

__all__ = ["kernels_take"]


def kernels_take(x: torch.Tensor) -> bool:
    """float32 CPU tensors that need no gradient (the modules are for inference)."""
    return x.dtype == torch.float32 and x.is_cpu and not (x.requires_grad and torch.is_grad_enabled())
