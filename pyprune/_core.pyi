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
    def huffdec_ukernels() -> list[dict[str, Any]]: ...
