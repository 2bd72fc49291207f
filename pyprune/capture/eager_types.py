"""Tensor.type(type(x.data)) while tracing. ssd.pytorch, and the many SSD ports of it, cast their
priors with it: eager, type(x.data) is torch.Tensor (a cast to float32), but under torch.export
it is the tracer's own tensor class, which Tensor.type refuses ("invalid type: 'FakeTensor'"),
so the whole capture failed. EagerTypes gives Tensor.type torch.Tensor instead, as eager code
would."""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["EagerTypes"]


def _tracer_class(v: Any) -> bool:
    """A tensor class of torch.export's tracing (FakeTensor, FunctionalTensor)."""
    return isinstance(v, type) and issubclass(v, torch.Tensor) and v.__module__.startswith("torch._subclasses")


class EagerTypes(TorchFunctionMode):
    """The torch-function mode described above; enter it around torch.export.export."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.Tensor.type:
            args = tuple(torch.Tensor if _tracer_class(a) else a for a in args)
            kwargs = {k: torch.Tensor if _tracer_class(v) else v for k, v in kwargs.items()}
        return func(*args, **kwargs)
