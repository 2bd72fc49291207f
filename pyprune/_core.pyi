"""Type stubs for pyprune's C++ extension."""

from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

def isa() -> str: ...
def available_isas() -> list[str]: ...
def set_num_threads(num_threads: int) -> None: ...
def get_num_threads() -> int: ...
def depthwise_conv2d(
    x: npt.NDArray[np.float32],
    weight: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32] | None = None,
    stride: int = 1,
    padding: int = 0,
    min: float = ...,
    max: float = ...,
    out: npt.NDArray[np.float32] | None = None,
    ukernel: str | None = None,
) -> npt.NDArray[np.float32]: ...

_F32 = npt.NDArray[np.float32]

class Conv2d:
    def __init__(
        self,
        weight: _F32,
        bias: _F32 | None = None,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        ukernel: str | None = None,
    ) -> None: ...
    def forward(self, x: _F32, min: float = ..., max: float = ..., out: _F32 | None = None) -> _F32: ...
    @property
    def in_channels(self) -> int: ...
    @property
    def out_channels(self) -> int: ...
    @property
    def ukernel(self) -> str: ...

class SeparableConv2d:
    def __init__(
        self,
        dw_weight: _F32,
        dw_bias: _F32 | None,
        stride: int,
        padding: int,
        dw_min: float,
        dw_max: float,
        pw_weight: _F32,
        pw_bias: _F32 | None,
    ) -> None: ...
    def forward(self, x: _F32, min: float = ..., max: float = ..., out: _F32 | None = None) -> _F32: ...

class SparseConv2d:
    def __init__(
        self,
        weight: _F32,
        bias: _F32 | None = None,
        stride: int = 1,
        padding: int = 0,
        block: int = 1,
        ukernel: str | None = None,
    ) -> None: ...
    @staticmethod
    def from_arrays(
        out_channels: int,
        in_channels: int,
        kernel_size: int,
        stride: int,
        padding: int,
        block: int,
        values: _F32,
        deltas: npt.NDArray[np.int32],
        counts: npt.NDArray[np.uint32],
        ukernel: str | None = None,
    ) -> SparseConv2d: ...
    def forward(self, x: _F32, min: float = ..., max: float = ..., out: _F32 | None = None) -> _F32: ...
    def to_dense(self) -> tuple[_F32, _F32]: ...
    @property
    def values(self) -> _F32: ...
    @property
    def deltas(self) -> npt.NDArray[np.int32]: ...
    @property
    def counts(self) -> npt.NDArray[np.uint32]: ...
    @property
    def block(self) -> int: ...
    @property
    def out_channels(self) -> int: ...
    @property
    def in_channels(self) -> int: ...
    @property
    def kernel_size(self) -> int: ...
    @property
    def stride(self) -> int: ...
    @property
    def padding(self) -> int: ...
    @property
    def stored_values(self) -> int: ...
    @property
    def ukernel(self) -> str: ...

def huffman_decode(
    data: npt.NDArray[np.uint8],
    symbols: int,
    lengths: npt.NDArray[np.uint8],
    ukernel: str | None = None,
) -> npt.NDArray[np.uint8]: ...
def decode_shared_weights(
    values: npt.NDArray[np.uint8],
    value_symbols: int,
    value_lengths: npt.NDArray[np.uint8],
    codebook: npt.NDArray[np.float32],
    size: int,
    gaps: npt.NDArray[np.uint8] | None = None,
    gap_symbols: int = 0,
    gap_lengths: npt.NDArray[np.uint8] | None = None,
    index_bits: int = 0,
    out: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]: ...
def decode_shared_nonzeros(
    values: npt.NDArray[np.uint8],
    value_symbols: int,
    value_lengths: npt.NDArray[np.uint8],
    codebook: npt.NDArray[np.float32],
    size: int,
    gaps: npt.NDArray[np.uint8],
    gap_symbols: int,
    gap_lengths: npt.NDArray[np.uint8],
    index_bits: int,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]: ...

class testing:
    @staticmethod
    def dwconv2d_ukernels() -> list[dict[str, Any]]: ...
    @staticmethod
    def gemm_ukernels() -> list[dict[str, Any]]: ...
    @staticmethod
    def spmm_ukernels() -> list[dict[str, Any]]: ...
    @staticmethod
    def huffdec_ukernels() -> list[dict[str, Any]]: ...
