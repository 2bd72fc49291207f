"""Modules whose weights also live packed in C++, rebuilt from their buffers when needed."""

from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["PackedModule"]


class PackedModule(nn.Module):
    """Subclasses implement _pack(), which builds the C++ object `_packed` from the module's
    buffers; it is rebuilt after load_state_dict, a copy or unpickling (it cannot be copied)."""

    def _pack(self) -> None:
        raise NotImplementedError

    def _keep_packed(self) -> None:
        """Call once the buffers exist."""
        self._pack()
        self.register_load_state_dict_post_hook(PackedModule._repack)

    @staticmethod
    def _repack(module: nn.Module, incompatible_keys: Any) -> None:
        module._pack()  # load_state_dict changed the buffers

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_packed"}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._pack()
