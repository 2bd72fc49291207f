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

class testing:
    @staticmethod
    def dwconv2d_ukernels() -> list[dict[str, Any]]: ...
