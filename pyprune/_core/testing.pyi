"""
Every microkernel, for tests and benchmarks.
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['DWCONV2D_TAPS_OVERREAD', 'HPOOL_OVERREAD', 'conv2d_3x3s2p1_ukernels', 'conv2d_outvec_ukernels', 'describe_operator', 'dwconv2d_same_ukernels', 'dwconv2d_taps', 'dwconv2d_taps_ukernels', 'dwconv2d_ukernels', 'gemm_ukernels', 'gemv', 'gemv_ukernels', 'hpool', 'hpool_ukernels', 'huffdec_ukernels', 'in_order_midr', 'operators', 'parallel_for_runs', 'rminmax', 'rminmax_ukernels', 'rsum', 'rsum_ukernels', 'run_operator', 'spmm_ukernels', 'vbinary', 'vbinary_ukernels', 'vexpsum', 'vexpsum_ukernels', 'vmath', 'vmath_ukernels', 'vunary_ukernels', 'winograd_input_transform', 'winograd_input_ukernels', 'winograd_matrices', 'winograd_output_transform', 'winograd_output_ukernels']
def conv2d_3x3s2p1_ukernels() -> list:
    ...
def conv2d_outvec_ukernels() -> list:
    ...
def describe_operator(op: str, attrs: dict, inputs: list, constants: dict = {}) -> tuple:
    """
    (description, multiply-accumulates) of one operator built as run_operator builds it.
    """
def dwconv2d_same_ukernels() -> list:
    ...
def dwconv2d_taps(ukernel: str, x: numpy.typing.NDArray[numpy.float32], offsets: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], row_step: int, weights: numpy.typing.NDArray[numpy.float32], n: int, out: numpy.typing.NDArray[numpy.float32], min: typing.SupportsFloat | typing.SupportsIndex, max: typing.SupportsFloat | typing.SupportsIndex) -> numpy.ndarray:
    """
    out[r][:n] = clamp(weights[0] + sum_t weights[1 + t] * x[offsets[t] + r * row_step:][:n]) for the rows of out: one call of a depthwise taps microkernel (its overread must stay inside x).
    """
def dwconv2d_taps_ukernels() -> list:
    ...
def dwconv2d_ukernels() -> list:
    ...
def gemm_ukernels() -> list:
    ...
def gemv(ukernel: str, x: numpy.typing.NDArray[numpy.float32], weight: numpy.typing.NDArray[numpy.float32], bias: numpy.typing.NDArray[numpy.float32] | None, out: numpy.typing.NDArray[numpy.float32], min: typing.SupportsFloat | typing.SupportsIndex, max: typing.SupportsFloat | typing.SupportsIndex) -> numpy.ndarray:
    """
    out[:n] = clamp(weight @ x + bias, min, max) for weight (n, kc): one call of a GEMV microkernel on the weight packed for it; nothing past out[n - 1] is written.
    """
def gemv_ukernels() -> list:
    ...
def hpool(ukernel: str, x: numpy.typing.NDArray[numpy.float32], n: int, pad: int = 0) -> numpy.ndarray:
    """
    n outputs of one row pooling microkernel over the rows of x, pad columns of padding before them (2-D; they must hold the inputs the outputs read, plus the kernels' overread).
    """
def hpool_ukernels() -> list:
    ...
def huffdec_ukernels() -> list:
    ...
def in_order_midr(midr: typing.SupportsInt | typing.SupportsIndex) -> bool:
    """
    Whether a MIDR_EL1 value names an in-order Cortex-A53-class core (A53, A35, A55).
    """
def operators() -> list[str]:
    """
    The operator set: every operator the graph engine runs.
    """
def parallel_for_runs(n: int, slow: int, busy_us: int) -> tuple:
    """
    parallel_for over n indices, those below `slow` busy for busy_us microseconds: (how often each index ran, how many threads ran one).
    """
def rminmax(ukernel: str, x: numpy.typing.NDArray[numpy.float32]) -> float:
    """
    The maximum or minimum of 1-D x (not empty) through one row extreme microkernel.
    """
def rminmax_ukernels() -> list:
    ...
def rsum(ukernel: str, x: numpy.typing.NDArray[numpy.float32]) -> numpy.ndarray:
    """
    The sums of the rows of 2-D x through one row-sum microkernel.
    """
def rsum_ukernels() -> list:
    ...
def run_operator(op: str, attrs: dict, inputs: list, constants: dict = {}, out: list | None = None) -> list:
    """
    Runs one operator of the operator set: inputs are float32 arrays (None where `constants` gives the input at that position as a constant); returns its outputs (written into `out`, a list of arrays of the output shapes, when given).
    """
def spmm_ukernels() -> list:
    ...
def vbinary(ukernel: str, a: numpy.typing.NDArray[numpy.float32], b: numpy.typing.NDArray[numpy.float32], min: typing.SupportsFloat | typing.SupportsIndex, max: typing.SupportsFloat | typing.SupportsIndex) -> numpy.ndarray:
    """
    y = clamp(a op b, min, max) through one elementwise binary microkernel (b: one element for scalar-b kernels).
    """
def vbinary_ukernels() -> list:
    ...
def vexpsum(ukernel: str, x: numpy.typing.NDArray[numpy.float32], max: typing.SupportsFloat | typing.SupportsIndex) -> tuple:
    """
    (exp(x - max), its sum) of 1-D x through one softmax exponential microkernel.
    """
def vexpsum_ukernels() -> list:
    ...
def vmath(ukernel: str, x: numpy.typing.NDArray[numpy.float32]) -> numpy.ndarray:
    """
    op(x) of 1-D x (not empty) through one elementwise math microkernel (exp, expm1, log, log1p).
    """
def vmath_ukernels() -> list:
    ...
def vunary_ukernels() -> list:
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
DWCONV2D_TAPS_OVERREAD: int = 16
HPOOL_OVERREAD: int = 0
