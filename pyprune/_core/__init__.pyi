"""
pyprune's C++ kernels (NEON, AVX-512, AVX2 and reference variants)
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
from . import testing
__all__: list[str] = ['Conv2d', 'DepthwiseConv2d', 'Graph', 'SeparableConv2d', 'SharedWeights', 'SparseConv2d', 'WinogradConv2d', 'activation', 'available_isas', 'capabilities', 'cheapest_block', 'conv2d_rejects', 'depthwise_conv2d', 'depthwise_conv2d_rejects', 'get_num_threads', 'huffman_decode', 'in_order_cores', 'isa', 'set_num_threads', 'stored_weights', 'testing', 'winograd_conv2d_rejects']
class DepthwiseConv2d:
    """
    Depthwise convolution weights laid out once for the kernels.
    """
    def __init__(self, weight: numpy.typing.NDArray[numpy.float32], bias: numpy.typing.NDArray[numpy.float32] | None = None, stride: int = 1, padding: int = 0, ukernel: str | None = None) -> None:
        ...
    def forward(self, x: numpy.typing.NDArray[numpy.float32], min: typing.SupportsFloat | typing.SupportsIndex = ..., max: typing.SupportsFloat | typing.SupportsIndex = ..., out: numpy.typing.NDArray[numpy.float32] | None = None, kind: str = 'clamp', alpha: typing.SupportsFloat | typing.SupportsIndex = 0.0, residual: numpy.typing.NDArray[numpy.float32] | None = None) -> numpy.ndarray:
        ...
    @property
    def ukernel(self) -> str:
        ...
class Conv2d:
    """
    Convolution weights packed once for the GEMM kernels.
    """
    def __init__(self, weight: numpy.typing.NDArray[numpy.float32], bias: numpy.typing.NDArray[numpy.float32] | None = None, stride: int = 1, padding: int = 0, groups: int = 1, ukernel: str | None = None) -> None:
        ...
    def forward(self, x: numpy.typing.NDArray[numpy.float32], min: typing.SupportsFloat | typing.SupportsIndex = ..., max: typing.SupportsFloat | typing.SupportsIndex = ..., out: numpy.typing.NDArray[numpy.float32] | None = None, kind: str = 'clamp', alpha: typing.SupportsFloat | typing.SupportsIndex = 0.0, residual: numpy.typing.NDArray[numpy.float32] | None = None) -> numpy.ndarray:
        ...
    @property
    def in_channels(self) -> int:
        ...
    @property
    def out_channels(self) -> int:
        ...
    @property
    def ukernel(self) -> str:
        ...
class SeparableConv2d:
    """
    Fused depthwise -> activation -> pointwise convolution.
    """
    def __init__(self, dw_weight: numpy.typing.NDArray[numpy.float32], dw_bias: numpy.typing.NDArray[numpy.float32] | None, stride: int, padding: int, dw_min: typing.SupportsFloat | typing.SupportsIndex, dw_max: typing.SupportsFloat | typing.SupportsIndex, pw_weight: numpy.typing.NDArray[numpy.float32], pw_bias: numpy.typing.NDArray[numpy.float32] | None, dw_kind: str = 'clamp', dw_alpha: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
        ...
    def forward(self, x: numpy.typing.NDArray[numpy.float32], min: typing.SupportsFloat | typing.SupportsIndex = ..., max: typing.SupportsFloat | typing.SupportsIndex = ..., out: numpy.typing.NDArray[numpy.float32] | None = None, kind: str = 'clamp', alpha: typing.SupportsFloat | typing.SupportsIndex = 0.0, residual: numpy.typing.NDArray[numpy.float32] | None = None) -> numpy.ndarray:
        ...
    @property
    def ukernel(self) -> str:
        ...
class SparseConv2d:
    """
    Convolution with sparse weights (zeros dropped, output channels in blocks).
    """
    @staticmethod
    def from_arrays(out_channels: int, in_channels: int, kernel_size: int, stride: int, padding: int, block: int, values: numpy.typing.NDArray[numpy.float32], deltas: numpy.typing.NDArray[numpy.int32], counts: numpy.typing.NDArray[numpy.uint32], ukernel: str | None = None) -> SparseConv2d:
        ...
    def __init__(self, weight: numpy.typing.NDArray[numpy.float32], bias: numpy.typing.NDArray[numpy.float32] | None = None, stride: int = 1, padding: int = 0, block: int = 1, ukernel: str | None = None) -> None:
        ...
    def forward(self, x: numpy.typing.NDArray[numpy.float32], min: typing.SupportsFloat | typing.SupportsIndex = ..., max: typing.SupportsFloat | typing.SupportsIndex = ..., out: numpy.typing.NDArray[numpy.float32] | None = None, kind: str = 'clamp', alpha: typing.SupportsFloat | typing.SupportsIndex = 0.0, residual: numpy.typing.NDArray[numpy.float32] | None = None) -> numpy.ndarray:
        ...
    def to_dense(self) -> tuple:
        """
        The dense (weight, bias) it was built from.
        """
    @property
    def block(self) -> int:
        ...
    @property
    def counts(self) -> numpy.ndarray:
        ...
    @property
    def deltas(self) -> numpy.ndarray:
        ...
    @property
    def in_channels(self) -> int:
        ...
    @property
    def kernel_size(self) -> int:
        ...
    @property
    def out_channels(self) -> int:
        ...
    @property
    def padding(self) -> int:
        ...
    @property
    def stored_values(self) -> int:
        """
        Weights stored, zeros of partly non-zero blocks included (no biases).
        """
    @property
    def stride(self) -> int:
        ...
    @property
    def ukernel(self) -> str:
        ...
    @property
    def values(self) -> numpy.ndarray:
        ...
class SharedWeights:
    """
    A weight-shared layer's Huffman-coded streams, their code tables built once: codebook[value] placed in order (dense) or by the gap stream (sparse).
    """
    def __init__(self, values: numpy.typing.NDArray[numpy.uint8], value_symbols: int, value_lengths: numpy.typing.NDArray[numpy.uint8], codebook: numpy.typing.NDArray[numpy.float32], size: int, gaps: numpy.typing.NDArray[numpy.uint8] | None = None, gap_symbols: int = 0, gap_lengths: numpy.typing.NDArray[numpy.uint8] | None = None, index_bits: int = 0) -> None:
        ...
    def decode(self, out: numpy.typing.NDArray[numpy.float32] | None = None) -> numpy.ndarray:
        """
        The `size` float32 weights. ValueError if the streams are corrupt or disagree.
        """
    def nonzeros(self) -> tuple:
        """
        A sparse layer's non-zeros: (positions int32, values float32), positions ascending in the flattened weight.
        """
    @property
    def coded_bytes(self) -> int:
        ...
    @property
    def size(self) -> int:
        ...
    @property
    def sparse(self) -> bool:
        ...
class WinogradConv2d:
    """
    Dense 3x3 stride-1 convolution by Winograd's F(m x m, 3 x 3), weights transformed once.
    """
    def __init__(self, weight: numpy.typing.NDArray[numpy.float32], bias: numpy.typing.NDArray[numpy.float32] | None = None, padding: typing.Any = 0, tile: typing.Any = None) -> None:
        ...
    def forward(self, x: numpy.typing.NDArray[numpy.float32], min: typing.SupportsFloat | typing.SupportsIndex = ..., max: typing.SupportsFloat | typing.SupportsIndex = ..., out: numpy.typing.NDArray[numpy.float32] | None = None, kind: str = 'clamp', alpha: typing.SupportsFloat | typing.SupportsIndex = 0.0, residual: numpy.typing.NDArray[numpy.float32] | None = None) -> numpy.ndarray:
        ...
    @property
    def in_channels(self) -> int:
        ...
    @property
    def out_channels(self) -> int:
        ...
    @property
    def padding(self) -> typing.Annotated[list[int], "FixedSize(4)"]:
        ...
    @property
    def tile(self) -> int:
        ...
    @property
    def ukernels(self) -> typing.Annotated[list[str], "FixedSize(3)"]:
        ...
class Graph:
    """
    A graph of operators of the operator set, run whole in C++: nodes in topological order over tensors numbered 0 .. tensors - 1 (docs/graph.md).
    """
    def __init__(self, nodes: list[tuple[str, str, list[int], list[int], dict[str, int | float | str | list[int] | list[float]]]], tensors: int, inputs: list[int], outputs: list[int], constants: dict[int, numpy.typing.NDArray[numpy.float32] | tuple[SharedWeights, tuple[int, ...]]]) -> None:
        """
        nodes: (op, name, input ids, output ids, attrs) each; constants: tensor id -> float32 array (copied) or (SharedWeights, shape) (kept coded). ValueError naming the node or argument at fault.
        """
    def arena_bytes(self, input_shapes: list[tuple[int, ...]]) -> int:
        """
        Bytes of intermediate tensors one run with these input shapes needs (the arena).
        """
    def describe(self, input_shapes: list[tuple[int, ...]]) -> list[dict[str, typing.Any]]:
        """
        Each node with these input shapes: op, name, kernel (what runs), output_shapes, macs, one_thread (too little work to share among threads: runs on the calling thread alone).
        """
    def output_shapes(self, input_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        """
        The output shapes for inputs of these shapes (planning the run).
        """
    def profile(self, inputs: list[numpy.typing.NDArray[numpy.float32]], repeats: int = 10) -> list[float]:
        """
        Median seconds of each node over `repeats` runs (after one untimed run).
        """
    def run(self, inputs: list[numpy.typing.NDArray[numpy.float32]], outputs: list[numpy.typing.NDArray[numpy.float32]] | None = None, node_seconds: numpy.typing.NDArray[numpy.float64] | None = None) -> list[numpy.typing.NDArray[numpy.float32]]:
        """
        Runs the graph: float32 arrays in, its outputs as new arrays (or written into `outputs`). node_seconds: a float64 array of one entry per node, given each node's seconds in this run.
        """
def activation(x: numpy.typing.NDArray[numpy.float32], kind: str, min: typing.SupportsFloat | typing.SupportsIndex = ..., max: typing.SupportsFloat | typing.SupportsIndex = ..., alpha: typing.SupportsFloat | typing.SupportsIndex = 0.0, out: numpy.typing.NDArray[numpy.float32] | None = None, ukernel: str | None = None) -> numpy.ndarray:
    """
    y = the activation `kind` of x, elementwise (any shape; out may be x): min/max bound a clamp, alpha is leaky_relu's slope or elu's alpha; `ukernel` names one row of testing.vunary_ukernels() instead of the production kernel.
    """
def available_isas() -> list[str]:
    """
    Instruction sets this build and CPU can run, from scalar to the best.
    """
def capabilities() -> dict:
    """
    What the operators take: depthwise (kernel_size, stride, max_padding) cases, the Winograd convolution, sparse block sizes, limits, activations.
    """
def cheapest_block(weight: typing.Any, costs: collections.abc.Sequence[tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]]) -> tuple[int, float]:
    """
    (block, effective density) of the cheapest of `costs` ((block, cost per stored weight) pairs).
    """
def conv2d_rejects(kernel_size: typing.SupportsInt | typing.SupportsIndex, stride: typing.SupportsInt | typing.SupportsIndex, padding: typing.SupportsInt | typing.SupportsIndex) -> str:
    """
    Why the convolution drivers do not take this convolution, or '' when they do.
    """
def depthwise_conv2d(x: numpy.typing.NDArray[numpy.float32], weight: numpy.typing.NDArray[numpy.float32], bias: numpy.typing.NDArray[numpy.float32] | None = None, stride: int = 1, padding: int = 0, min: typing.SupportsFloat | typing.SupportsIndex = ..., max: typing.SupportsFloat | typing.SupportsIndex = ..., out: numpy.typing.NDArray[numpy.float32] | None = None, ukernel: str | None = None, kind: str = 'clamp', alpha: typing.SupportsFloat | typing.SupportsIndex = 0.0, residual: numpy.typing.NDArray[numpy.float32] | None = None) -> numpy.ndarray:
    """
    NCHW depthwise conv2d: x (N, C, H, W), weight (C, 1, k, k) (kernel sizes: capabilities()), then + residual and the activation `kind` (min/max: a clamp's bounds, alpha: leaky_relu's slope or elu's alpha).
    """
def depthwise_conv2d_rejects(kernel_size: typing.SupportsInt | typing.SupportsIndex, stride: typing.SupportsInt | typing.SupportsIndex, padding: typing.SupportsInt | typing.SupportsIndex) -> str:
    """
    Why no depthwise kernel takes this convolution, or '' when one does.
    """
def get_num_threads() -> int:
    ...
def huffman_decode(data: numpy.typing.NDArray[numpy.uint8], symbols: int, lengths: numpy.typing.NDArray[numpy.uint8], ukernel: str | None = None) -> numpy.ndarray:
    """
    Decodes a Huffman block (uint8) of `symbols` symbols coded with the canonical code of `lengths` (uint8, one per symbol). ValueError if the block is corrupt.
    """
def in_order_cores() -> bool:
    """
    Whether every core is an in-order Cortex-A53-class one (A53, A35, A55), whose GEMM kernel is scheduled for it.
    """
def isa() -> str:
    """
    The instruction set the kernels use: 'neon', 'avx512', 'avx2' or 'scalar'.
    """
def set_num_threads(num_threads: int) -> None:
    ...
def stored_weights(weight: typing.Any, block: typing.Any) -> int:
    """
    Weights the sparse kernels multiply for a (rows, columns) matrix in blocks of `block` rows.
    """
def winograd_conv2d_rejects(kernel_size: typing.Any, stride: typing.Any = 1, dilation: typing.Any = 1, groups: typing.Any = 1, padding: typing.Any = 0) -> str:
    """
    Why Winograd does not take this convolution (kernel_size, stride, dilation: an int or (height, width); padding: an int, (height, width) or (top, left, bottom, right)), or '' when it does.
    """
__version__: str = '0.1.0'
