"""
Every microkernel, for tests and benchmarks.
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['dwconv2d_ukernels', 'gemm_ukernels', 'huffdec_ukernels', 'operators', 'run_operator', 'spmm_ukernels', 'winograd_input_transform', 'winograd_input_ukernels', 'winograd_matrices', 'winograd_output_transform', 'winograd_output_ukernels']
def dwconv2d_ukernels() -> list:
    ...
def gemm_ukernels() -> list:
    ...
def huffdec_ukernels() -> list:
    ...
def operators() -> list[str]:
    """
    The operator set: every operator the graph engine runs.
    """
def run_operator(op: str, attrs: dict, inputs: list, constants: dict = {}) -> list:
    """
    Runs one operator of the operator set: inputs are float32 arrays (None where `constants` gives the input at that position as a constant); returns its outputs.
    """
def spmm_ukernels() -> list:
    ...
def winograd_input_transform(ukernel: str, tiles: int, strip: numpy.typing.NDArray[numpy.float32]) -> numpy.ndarray:
    """
    One input transform kernel: strip (alpha, width) -> (alpha^2, tiles rounded up to 8).
    """
def winograd_input_ukernels() -> list:
    ...
def winograd_matrices(tile: int) -> dict:
    """
    B^T, G and A^T of F(tile x tile, 3 x 3) (pyprune/winograd.h).
    """
def winograd_output_transform(ukernel: str, tiles: int, rows: int, columns: int, input: numpy.typing.NDArray[numpy.float32], bias: typing.SupportsFloat | typing.SupportsIndex = 0.0, residual: numpy.typing.NDArray[numpy.float32] | None = None, min: typing.SupportsFloat | typing.SupportsIndex = ..., max: typing.SupportsFloat | typing.SupportsIndex = ...) -> numpy.ndarray:
    """
    One output transform kernel: input (alpha^2, width) -> (rows, columns).
    """
def winograd_output_ukernels() -> list:
    ...
