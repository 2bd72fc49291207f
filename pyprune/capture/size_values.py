"""Numbers a model reads out of tensors it built from Python numbers, during torch.export.

torchvision's detection transform computes its resize scale as
`float(torch.tensor(image.shape[-2:]).min())`: a tensor made of the input's sizes, reduced, read
back as a number. torch.export traces that tensor like any other and cannot read a number out of
it ("data-dependent expression"), so the capture failed although the value depends on the input's
sizes only, which a static capture specialises anyway. While tracing, `SizeValues` computes such
tensors for real beside the traced ones, from Python numbers through ops whose tensor operands
are all such tensors, and answers `item()`, `float()`, `int()`, `bool()` and `tolist()` on them
with the real value. A tensor that depends on an input, a parameter, a symbolic size or a random
draw is never computed, so reading a number from it still fails the capture as before.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import _disable_current_modes
from torch.utils._pytree import tree_flatten, tree_map

__all__ = ["SizeValues"]

# Tensors of more entries are not computed beside the trace: sizes and scales are a few numbers.
MAX_ENTRIES = 4096

# Functions that make a tensor from Python numbers alone.
_FACTORIES = {"tensor", "as_tensor", "scalar_tensor", "arange", "zeros", "ones", "full", "linspace", "logspace",
              "eye"}
# Conversions to Python numbers, answered from the real tensor.
_READS = {"item", "__float__", "__int__", "__bool__", "__index__", "tolist"}
# In-place operators written as Python's augmented assignments.
_AUGMENTED = {"__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__imod__", "__ipow__",
              "__imatmul__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__"}
_RANDOM = ("rand", "normal", "bernoulli", "multinomial", "dropout", "uniform", "exponential", "geometric", "cauchy")


def _written(name: str, args: tuple, kwargs: dict) -> list[torch.Tensor]:
    """The tensors a call writes into: self of an in-place method or an assignment, `out`."""
    in_place = (name.endswith("_") and not name.startswith("__")) or name in _AUGMENTED or name == "__setitem__"
    written = tree_flatten(kwargs.get("out"))[0] + ([args[0]] if in_place and args else [])
    return [t for t in written if isinstance(t, torch.Tensor)]


def _small(out: Any) -> bool:
    return all(t.numel() <= MAX_ENTRIES for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor))


class SizeValues(TorchFunctionMode):
    """The torch-function mode described above; enter it around torch.export.export."""

    def __init__(self) -> None:
        super().__init__()
        # id(traced tensor) -> (a weak reference to it, its real value)
        self._real: dict[int, tuple[weakref.ref, torch.Tensor]] = {}

    def _value(self, t: torch.Tensor) -> torch.Tensor | None:
        entry = self._real.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        flat, _ = tree_flatten((args, kwargs))
        tensors = [a for a in flat if isinstance(a, torch.Tensor)]
        known = all(self._value(t) is not None for t in tensors)
        if name in _READS and tensors and known:
            return getattr(self._value(tensors[0]), name)()
        out = func(*args, **kwargs)
        computable = (known and (tensors or name in _FACTORIES) and not any(r in name for r in _RANDOM)
                      and not any(isinstance(a, (torch.SymInt, torch.SymFloat, torch.SymBool)) for a in flat))
        # Sizes are read only of what may be computed: reading a symbolic one would guard on it.
        if not (computable and _small(out) and self._compute(func, args, kwargs, out)):
            self._forget(_written(name, args, kwargs))
        return out

    def _forget(self, written: list[torch.Tensor]) -> None:
        """Drops the real values of tensors that share memory with one written with traced
        values (a view of it, or the tensor it views)."""
        if not written:
            return
        try:
            storages = {t.untyped_storage()._cdata for t in written}
            for key, (ref, _) in list(self._real.items()):
                t = ref()
                if t is None or t.untyped_storage()._cdata in storages:
                    del self._real[key]
        except (RuntimeError, NotImplementedError):  # tensors without storage: trust none
            self._real.clear()

    def _compute(self, func: Any, args: tuple, kwargs: dict, out: Any) -> bool:
        """Runs func on the real values (in place too, so views stay in step with the trace);
        False if it cannot: the trace goes on without them, as it would without this mode."""
        real_args, real_kwargs = tree_map(lambda a: self._value(a) if isinstance(a, torch.Tensor) else a,
                                          (args, kwargs))
        try:
            with _disable_current_modes(), torch._C.DisableTorchFunction():
                real = func(*real_args, **real_kwargs)
        except Exception:  # any failure only means no real value
            return False
        traced, real = tree_flatten(out)[0], tree_flatten(real)[0]
        if len(traced) != len(real):
            return False
        for t, r in zip(traced, real):
            if isinstance(t, torch.Tensor) and isinstance(r, torch.Tensor):
                self._real[id(t)] = (weakref.ref(t), r)
        return True
