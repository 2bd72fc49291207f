"""Layers whose weights stay Huffman-coded in memory (load(..., keep_compressed=True)), for
boards with little RAM: each decodes its weight into one scratch buffer, shared by all of
them, just before it runs. Resident weight memory is the coded streams plus the largest layer."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pyprune import _core, kernels
from pyprune.nn.inputs import kernels_take

__all__ = ["CompressedConv2d", "CompressedLinear", "Scratch"]


class Scratch:
    """One float32 buffer, grown to the largest weight that asks for it."""

    def __init__(self) -> None:
        self.buffer = np.empty(0, np.float32)

    def reserve(self, size: int) -> None:
        if size > self.buffer.size:
            self.buffer = np.empty(size, np.float32)

    @property
    def nbytes(self) -> int:
        return self.buffer.nbytes


class _Compressed(nn.Module):
    def __init__(self, shape: tuple[int, ...], decode_args: dict[str, Any], bias: torch.Tensor | None,
                 scratch: Scratch, fast: bool) -> None:
        super().__init__()
        self.shape, self.scratch, self.fast = shape, scratch, fast
        # The streams are copied out of the file's buffer so that it can be freed.
        self._args = {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in decode_args.items()}
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        scratch.reserve(self._args["size"])

    @property
    def coded_bytes(self) -> int:
        return sum(v.nbytes for v in self._args.values() if isinstance(v, np.ndarray))

    def weight(self) -> torch.Tensor:
        """The decoded weight, valid until the next layer decodes into the scratch buffer."""
        out = self.scratch.buffer[: self._args["size"]]
        _core.decode_shared_weights(**self._args, out=out)
        return torch.from_numpy(out).view(self.shape)


class CompressedConv2d(_Compressed):
    """nn.Conv2d with a Huffman-coded weight (zero padding mode)."""

    def __init__(self, conv: nn.Conv2d, decode_args: dict[str, Any], scratch: Scratch, fast: bool) -> None:
        super().__init__(tuple(conv.weight.shape), decode_args, conv.bias, scratch, fast)
        self.stride, self.padding, self.dilation, self.groups = conv.stride, conv.padding, conv.dilation, conv.groups

    def _kernel(self) -> Any:
        """The pyprune kernel that takes this convolution, or None."""
        cout, _, kh, kw = self.shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        if not (self.fast and kh == kw and sh == sw and ph == pw and self.dilation == (1, 1) and ph < kh):
            return None
        if self.groups == cout and self.shape[1] == 1 and kh in (3, 5) and sh in (1, 2) and ph <= kh // 2:
            return lambda x, w, b: kernels.depthwise_conv2d(x, w, b, sh, ph)
        return lambda x, w, b: kernels.conv2d(x, w, b, sh, ph, self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight()
        kernel = self._kernel() if kernels_take(x) else None
        if kernel is not None:
            return kernel(x.contiguous(), w, self.bias)
        return F.conv2d(x, w.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype),
                        self.stride, self.padding, self.dilation, self.groups)


class CompressedLinear(_Compressed):
    """nn.Linear with a Huffman-coded weight."""

    def __init__(self, linear: nn.Linear, decode_args: dict[str, Any], scratch: Scratch, fast: bool) -> None:
        super().__init__(tuple(linear.weight.shape), decode_args, linear.bias, scratch, fast)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight().to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))
