"""The one door to the C++ kernels (pyprune._core): checked calls, prepared operators, Huffman
decoding and what the kernels take. No other module of pyprune imports _core.

Inputs may be numpy arrays, torch CPU tensors (shared without a copy) or anything exporting
DLPack or the buffer protocol; results come back as the same kind as the input. Non-contiguous
inputs are copied to contiguous ones; dtypes are never converted: anything but float32 is
refused with a TypeError. ``out`` must already be contiguous float32 of the right shape,
because the result is written into it. Bad arguments raise TypeError/ValueError naming them.

One-shot calls (``conv2d``, ``sparse_conv2d``, ...) prepare the weights on every call; the
``Packed*`` operators prepare them once and are what modules hold. ``Graph`` runs a whole graph
of operators in C++ (docs/graph.md).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Union

import numpy as np

from pyprune import _core
from pyprune.activation import Activation, as_activation

__all__ = [
    "Capabilities",
    "DepthwiseCase",
    "Graph",
    "GraphNode",
    "PackedConv2d",
    "PackedDepthwiseConv2d",
    "PackedSeparableConv2d",
    "PackedSparseConv2d",
    "PackedWinogradConv2d",
    "SharedWeights",
    "SparseRule",
    "WinogradCase",
    "__version__",
    "activation",
    "available_isas",
    "capabilities",
    "cheapest_block",
    "conv2d",
    "depthwise_conv2d",
    "get_num_threads",
    "huffman_decode",
    "in_order_cores",
    "isa",
    "pointwise_conv2d",
    "separable_conv2d",
    "set_num_threads",
    "stored_weights",
    "sparse_conv2d",
    "testing",
]

__version__: str = _core.__version__

# Every microkernel of every operator list, with its tile parameters: for tests and benchmarks.
testing = _core.testing


def isa() -> str:
    """The instruction set the kernels run with: 'neon', 'avx512', 'avx2' or 'scalar'.

    Set PYPRUNE_ISA=scalar (before the first call) to force the reference kernels, or to any
    lower ISA of available_isas() (e.g. avx2 on an AVX-512 CPU)."""
    return _core.isa()


def in_order_cores() -> bool:
    """Whether every core is an in-order Cortex-A53-class one (A53, A35, A55: Raspberry Pi 3, Zero
    2 W). Their GEMM kernel then has loads scheduled to issue beside the FMLAs."""
    return _core.in_order_cores()


def available_isas() -> list[str]:
    """Every instruction set this build and CPU can run, from 'scalar' to the best."""
    return _core.available_isas()


def set_num_threads(n: int) -> None:
    """Threads used by the kernels (the calling thread included), 1 to
    capabilities().max_threads. Results do not depend on it."""
    _core.set_num_threads(n)


def get_num_threads() -> int:
    return _core.get_num_threads()


# ---- what the kernels take ----------------------------------------------------------------------


@dataclass(frozen=True)
class DepthwiseCase:
    """A depthwise convolution a kernel exists for: padding may be 0 to max_padding."""

    kernel_size: int
    stride: int
    max_padding: int


@dataclass(frozen=True)
class WinogradCase:
    """The convolutions PackedWinogradConv2d takes: dense (groups 1) kernel_size x kernel_size,
    stride-1, 0 to max_padding zeros on each side, any channels and input size, by F(m x m,
    3 x 3) for an output tile m in `tiles`; dilated ones too (dilation at least `dilation`)
    when each side's padding is up to max_padding times its axis's dilation and a multiple of it.
    The engine's "auto" runs such a convolution by Winograd F(4x4, 3x3) when the call has at
    least `min_tiles` output tiles of 4x4 (over all its images), on this ISA; a grouped one too,
    with at least `min_tiles` tiles for groups of `small_group_channels` channels or more (the
    fewer of input's and output's per group), `small_group_min_tiles` for groups of 2 channels
    or more, never for groups of one."""

    kernel_size: int
    stride: int
    dilation: int
    groups: int
    max_padding: int
    tiles: tuple[int, ...]
    min_tiles: int
    small_group_channels: int
    small_group_min_tiles: int


@dataclass(frozen=True)
class SparseRule:
    """When a convolution (groups 1) runs on the sparse kernels where nothing else decided (the
    engine's "auto" algorithm, SparsePolicy's defaults): when its effective density — the
    weights the sparse kernels multiply in the cheapest block size (cheapest_block), each counted
    at its block's cost — is at most pointwise_max_density for a 1x1 stride-1 unpadded one,
    conv_max_density for the rest; and a KxK one of at most few_outputs output channels whatever
    its density, where Winograd does not run it (the engine runs the GEMM on an input of one
    pixel)."""

    pointwise_max_density: float
    conv_max_density: float
    few_outputs: int
    block_costs: Mapping[int, float]  # block -> cost per stored weight, relative to single rows


@dataclass(frozen=True)
class Capabilities:
    """What the operators take, read from the C++ operator lists and drivers (the one place
    these rules are written): ``capabilities()`` returns it."""

    depthwise: tuple[DepthwiseCase, ...]
    winograd: WinogradCase
    sparse_blocks: tuple[int, ...]  # output channels per weight block of the sparse format
    sparse_rule: SparseRule
    max_threads: int
    max_weight_elements: int
    activations: tuple[str, ...]  # the names of every activation the kernels fuse

    def depthwise_rejects(self, kernel_size: int, stride: int, padding: int) -> str | None:
        """Why no depthwise kernel takes a (square, symmetric-padded) depthwise convolution, or
        None when one does."""
        return _core.depthwise_conv2d_rejects(kernel_size, stride, padding) or None

    def conv2d_rejects(self, kernel_size: int, stride: int, padding: int) -> str | None:
        """Why the dense and sparse convolution drivers do not take a (square, symmetric-padded)
        convolution, or None when they do."""
        return _core.conv2d_rejects(kernel_size, stride, padding) or None

    def winograd_rejects(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1,
                         dilation: int | Sequence[int] = 1, groups: int = 1,
                         padding: int | Sequence[int] = 0) -> str | None:
        """Why PackedWinogradConv2d does not take a convolution, or None when it does. Kernel size,
        stride and dilation: an int or (height, width); padding: an int, (height, width) or
        (top, left, bottom, right)."""
        return _core.winograd_conv2d_rejects(kernel_size, stride, dilation, groups, padding) or None


@lru_cache(maxsize=None)
def capabilities() -> Capabilities:
    caps = _core.capabilities()
    winograd = caps["winograd_conv2d"]
    return Capabilities(
        depthwise=tuple(DepthwiseCase(**case) for case in caps["depthwise_conv2d"]),
        winograd=WinogradCase(**{**winograd, "tiles": tuple(winograd["tiles"])}),
        sparse_blocks=tuple(caps["sparse_blocks"]),
        sparse_rule=SparseRule(**{**caps["sparse_rule"],
                                  "block_costs": MappingProxyType(dict(caps["sparse_rule"]["block_costs"]))}),
        max_threads=caps["max_threads"],
        max_weight_elements=caps["max_weight_elements"],
        activations=tuple(caps["activations"]),
    )


def _rows(weight: Any) -> np.ndarray:
    """A weight (out_channels, ...) as the (rows, columns) matrix the sparse kernels store."""
    w = _as_array(weight, "weight")
    return np.ascontiguousarray(w.reshape(w.shape[0], -1) if w.ndim else w.reshape(1, 1))


def stored_weights(weight: Any, block: int) -> int:
    """Weights the sparse kernels multiply for `weight` (out_channels, ...) in blocks of `block`
    output channels: a block stores a column where any of its rows is non-zero."""
    return _core.stored_weights(_rows(weight), block)


def cheapest_block(weight: Any, block_costs: Mapping[int, float] | None = None) -> tuple[int, float]:
    """(block, effective density) of the block size that makes `weight` cheapest on the sparse
    kernels: its stored weights times the block's cost, over all weights. Costs default to the
    measured ones (capabilities().sparse_rule)."""
    costs = capabilities().sparse_rule.block_costs if block_costs is None else block_costs
    return _core.cheapest_block(_rows(weight), list(costs.items()))


# ---- arrays in and out --------------------------------------------------------------------------


def _is_torch_tensor(x: Any) -> bool:
    # torch is optional: a tensor can only exist if torch was imported already.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


# The checks below are written for a layer's call: a few microseconds of it on the small layers
# of a network are this conversion (is_cpu, no detach() without a gradient, the flags read
# before np.require: 5.6 -> 1.7 us per call).
def _tensor_as_array(t: Any, name: str) -> np.ndarray:
    torch = sys.modules["torch"]
    if not t.is_cpu:
        raise ValueError(f"{name} must be a CPU tensor, got device {t.device}")
    if t.dtype != torch.float32:
        raise TypeError(f"{name} must have dtype float32, got {t.dtype}")
    return (t.detach() if t.requires_grad else t).numpy()


def _as_array(x: Any, name: str) -> np.ndarray:
    """A C-contiguous ndarray viewing x's memory where possible, without changing dtype."""
    if _is_torch_tensor(x):
        x = _tensor_as_array(x, name)
    elif not isinstance(x, np.ndarray):
        x = np.from_dlpack(x) if hasattr(x, "__dlpack__") else np.asarray(x)
    if x.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32, got {x.dtype}")
    flags = x.flags
    return x if flags.c_contiguous and flags.aligned else np.require(x, requirements=["C_CONTIGUOUS", "ALIGNED"])


def _as_optional_array(x: Any, name: str) -> np.ndarray | None:
    return None if x is None else _as_array(x, name)


def _as_out(out: Any, name: str = "out") -> np.ndarray:
    """out is written in place, so it is never copied."""
    if _is_torch_tensor(out):
        out = _tensor_as_array(out, name)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(out).__name__}")
    if out.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32, got {out.dtype}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    return out


def _like(result: np.ndarray, x: Any, out: Any) -> Any:
    if out is not None:
        return out
    if _is_torch_tensor(x):
        import torch

        return torch.from_numpy(result)
    return result


# ---- prepared operators -------------------------------------------------------------------------


class _PackedOperator:
    """A C++ operator holding prepared weights: ``op(x, activation=None, out=None, residual=None)``
    computes ``activation(conv(x) + bias + residual)``, the residual (of the output's shape) and
    the activation applied to each output tile as the kernel writes it."""

    _op: Any

    def __call__(self, x: Any, activation: Activation | str | None = None, out: Any = None,
                 residual: Any = None) -> Any:
        act = as_activation(activation)
        result = self._op.forward(_as_array(x, "x"), act.min, act.max, None if out is None else _as_out(out),
                                  act.kind, act.alpha, _as_optional_array(residual, "residual"))
        return _like(result, x, out)

    @property
    def ukernel(self) -> str:
        """The microkernel it runs."""
        return self._op.ukernel


class PackedConv2d(_PackedOperator):
    """Dense or grouped square convolution, weights packed once for the GEMM kernel: weight
    (Cout, Cin / groups, k, k), bias (Cout,) or None. 1x1 convolutions run as a GEMM straight
    on the input, others through a cache-sized im2col panel."""

    def __init__(self, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0, groups: int = 1,
                 ukernel: str | None = None) -> None:
        self._op = _core.Conv2d(_as_array(weight, "weight"), _as_optional_array(bias, "bias"), stride, padding,
                                groups, ukernel)


class PackedDepthwiseConv2d(_PackedOperator):
    """Depthwise convolution, weights laid out once: weight (C, 1, k, k) with a (k, stride,
    padding) in capabilities().depthwise, bias (C,) or None."""

    def __init__(self, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0,
                 ukernel: str | None = None) -> None:
        self._op = _core.DepthwiseConv2d(_as_array(weight, "weight"), _as_optional_array(bias, "bias"), stride,
                                         padding, ukernel)


class PackedSeparableConv2d(_PackedOperator):
    """Depthwise (dw_weight (C, 1, k, k)) -> dw_activation (any) -> pointwise (pw_weight
    (Cout, C, 1, 1)), computed strip by strip so the depthwise result stays in cache; the
    activation (and residual) of the call apply after the pointwise half."""

    def __init__(self, dw_weight: Any, pw_weight: Any, dw_bias: Any = None, pw_bias: Any = None, stride: int = 1,
                 padding: int = 0, dw_activation: Activation | str | None = None) -> None:
        dw_act = as_activation(dw_activation)
        self._op = _core.SeparableConv2d(
            _as_array(dw_weight, "dw_weight"), _as_optional_array(dw_bias, "dw_bias"), stride, padding,
            dw_act.min, dw_act.max, _as_array(pw_weight, "pw_weight"), _as_optional_array(pw_bias, "pw_bias"),
            dw_act.kind, dw_act.alpha)


class PackedSparseConv2d(_PackedOperator):
    """Square convolution (groups 1) with sparse weights: the zeros of weight (Cout, Cin, k, k)
    are dropped once, output channels grouped in blocks of `block` (capabilities().sparse_blocks;
    larger blocks run faster when whole blocks were pruned together).

    Only the stored weights are multiplied: an infinite or NaN input reaching an output only
    through zero weights does not make it NaN (torch computes 0 x inf = NaN there)."""

    def __init__(self, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0, block: int = 1,
                 ukernel: str | None = None) -> None:
        self._op = _core.SparseConv2d(_as_array(weight, "weight"), _as_optional_array(bias, "bias"), stride,
                                      padding, block, ukernel)

    @classmethod
    def from_arrays(cls, out_channels: int, in_channels: int, kernel_size: int, stride: int, padding: int,
                    block: int, values: np.ndarray, deltas: np.ndarray, counts: np.ndarray) -> PackedSparseConv2d:
        """From the sparse format's arrays (see arrays()), every one checked."""
        op = cls.__new__(cls)
        op._op = _core.SparseConv2d.from_arrays(out_channels, in_channels, kernel_size, stride, padding, block,
                                                values, deltas, counts)
        return op

    def arrays(self) -> dict[str, np.ndarray]:
        """The sparse format the kernels stream: `values` (per block, its biases then one value
        per row for each stored column), `deltas` (column index steps between stored columns),
        `counts` (stored columns per block)."""
        return {"values": self._op.values, "deltas": self._op.deltas, "counts": self._op.counts}

    def to_dense(self) -> tuple[np.ndarray, np.ndarray]:
        """The dense (weight, bias) it holds."""
        return self._op.to_dense()

    @property
    def block(self) -> int:
        return self._op.block

    @property
    def stored_values(self) -> int:
        """Weights stored, zeros of partly non-zero blocks included (no biases)."""
        return self._op.stored_values


class PackedWinogradConv2d(_PackedOperator):
    """Dense 3x3 stride-1 convolution by Winograd's F(m x m, 3 x 3) (capabilities().winograd
    says which convolutions): weight (Cout, Cin, 3, 3) transformed once, bias (Cout,) or None,
    padding an int, (height, width) or (top, left, bottom, right) (TF "SAME" pads unevenly).
    Fewer multiplications than the direct convolution (2.25 instead of 9 per output for m = 4,
    1.78 for m = 6, on whole tiles) for slightly larger rounding errors (tests/kernels/
    test_f32_winograd.py measures them, docs/winograd.md lists them). `tile` None takes 4, the
    smaller error.

    Called like the other prepared operators."""

    def __init__(self, weight: Any, bias: Any = None, padding: int | Sequence[int] = 0, tile: int | None = None) -> None:
        self._op = _core.WinogradConv2d(_as_array(weight, "weight"), _as_optional_array(bias, "bias"), padding, tile)

    @property
    def ukernel(self) -> str:
        """The microkernels it runs: input transform, GEMM, output transform."""
        return " + ".join(self._op.ukernels)

    @property
    def tile(self) -> int:
        """m of F(m x m, 3 x 3): the output tile's side."""
        return self._op.tile

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right)."""
        return tuple(self._op.padding)


# ---- one-shot calls -----------------------------------------------------------------------------


def depthwise_conv2d(x: Any, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0,
                     activation: Activation | str | None = None, out: Any = None, residual: Any = None) -> Any:
    """Depthwise 2-D convolution of NCHW float32 input, fused with bias, residual and activation.

    x: (N, C, H, W); weight: (C, 1, k, k) with a (k, stride, padding) in
    capabilities().depthwise; bias: (C,) or None; residual: None or of the output's shape;
    activation: anything as_activation() takes. Same result as
    ``activation(torch.nn.functional.conv2d(x, weight, bias, stride, padding, groups=C) + residual)``.
    """
    act = as_activation(activation)
    result = _core.depthwise_conv2d(_as_array(x, "x"), _as_array(weight, "weight"), _as_optional_array(bias, "bias"),
                                    stride, padding, act.min, act.max, None if out is None else _as_out(out), None,
                                    act.kind, act.alpha, _as_optional_array(residual, "residual"))
    return _like(result, x, out)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0, groups: int = 1,
           activation: Activation | str | None = None, out: Any = None, residual: Any = None) -> Any:
    """2-D convolution of NCHW float32 input (dense or grouped, square kernel), fused with bias,
    residual and activation (see PackedConv2d).

    x: (N, Cin, H, W); weight: (Cout, Cin / groups, k, k); bias: (Cout,) or None; residual: None
    or of the output's shape. Same result as ``activation(torch.nn.functional.conv2d(x, weight,
    bias, stride, padding, groups=groups) + residual)``.
    """
    return PackedConv2d(weight, bias, stride, padding, groups)(x, activation, out, residual)


def pointwise_conv2d(x: Any, weight: Any, bias: Any = None, activation: Activation | str | None = None,
                     out: Any = None, residual: Any = None) -> Any:
    """1x1 convolution of NCHW float32 input: out[n] = W @ x[n] (+ bias, residual, activation),
    with weight (Cout, Cin, 1, 1) or (Cout, Cin)."""
    w = _as_array(weight, "weight")
    if w.ndim == 2:
        w = w.reshape(*w.shape, 1, 1)
    if w.ndim != 4 or w.shape[2:] != (1, 1):
        raise ValueError(f"weight must have shape (Cout, Cin, 1, 1) or (Cout, Cin), got {w.shape}")
    return conv2d(x, w, bias, activation=activation, out=out, residual=residual)


def separable_conv2d(x: Any, dw_weight: Any, pw_weight: Any, dw_bias: Any = None, pw_bias: Any = None,
                     stride: int = 1, padding: int = 0, dw_activation: Activation | str | None = None,
                     activation: Activation | str | None = None, out: Any = None, residual: Any = None) -> Any:
    """Fused depthwise-separable block (see PackedSeparableConv2d). Same result as the two
    separate calls."""
    fused = PackedSeparableConv2d(dw_weight, pw_weight, dw_bias, pw_bias, stride, padding, dw_activation)
    return fused(x, activation, out, residual)


def sparse_conv2d(x: Any, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0,
                  activation: Activation | str | None = None, block: int = 1, out: Any = None,
                  residual: Any = None) -> Any:
    """2-D convolution of NCHW float32 input with a sparse (pruned) weight (see
    PackedSparseConv2d, NaN and inf included).

    x: (N, Cin, H, W); weight: (Cout, Cin, k, k), mostly zeros; bias: (Cout,) or None. Same
    result as ``activation(torch.nn.functional.conv2d(x, weight, bias, stride, padding) + residual)``
    for finite inputs.
    """
    return PackedSparseConv2d(weight, bias, stride, padding, block)(x, activation, out, residual)


def activation(x: Any, activation: Activation | str | None, out: Any = None) -> Any:
    """The activation alone, elementwise, on a float32 array of any shape (the microkernels the
    convolutions fuse; accuracy: csrc/f32-vunary/f32-vunary.inc)."""
    act = as_activation(activation)
    result = _core.activation(_as_array(x, "x"), act.kind, act.min, act.max, act.alpha,
                              None if out is None else _as_out(out))
    return _like(result, x, out)


# ---- Huffman-coded weights ----------------------------------------------------------------------


def huffman_decode(data: np.ndarray, symbols: int, lengths: np.ndarray, ukernel: str | None = None) -> np.ndarray:
    """The `symbols` uint8 symbols of a Huffman block (uint8) coded with the canonical code of
    `lengths` (uint8, one per symbol). ValueError if the block is corrupt."""
    return _core.huffman_decode(data, symbols, lengths, ukernel)


class SharedWeights:
    """A weight-shared layer's Huffman-coded streams (pyprune.pack's dense or sparse encoding),
    checked and with their code tables built once; ``decode()`` gives the float32 weights
    (codebook[value] in order, or placed by the gap stream). ValueError if the streams are
    corrupt or disagree."""

    def __init__(self, values: np.ndarray, value_symbols: int, value_lengths: np.ndarray, codebook: np.ndarray,
                 size: int, gaps: np.ndarray | None = None, gap_symbols: int = 0,
                 gap_lengths: np.ndarray | None = None, index_bits: int = 0) -> None:
        self._op = _core.SharedWeights(values, value_symbols, value_lengths, codebook, size, gaps, gap_symbols,
                                       gap_lengths, index_bits)

    def decode(self, out: np.ndarray | None = None) -> np.ndarray:
        """The `size` float32 weights, flat (written into `out` when given)."""
        return self._op.decode(out)

    def nonzeros(self) -> tuple[np.ndarray, np.ndarray]:
        """A sparse layer's non-zeros: (int32 flat positions, ascending; float32 values)."""
        return self._op.nonzeros()

    @property
    def size(self) -> int:
        return self._op.size

    @property
    def coded_bytes(self) -> int:
        """Bytes of the coded streams and the codebook held in memory."""
        return self._op.coded_bytes


# ---- graphs -------------------------------------------------------------------------------------

# A graph's constant: float32 floats (the graph keeps a copy), or coded weights with their shape
# (kept coded, decoded when a node needs them).
GraphConstant = Union[np.ndarray, "tuple[SharedWeights, tuple[int, ...]]"]


@dataclass(frozen=True)
class GraphNode:
    """A node of a Graph as it runs with some input shapes."""

    op: str
    name: str
    kernel: str  # what runs, e.g. "conv2d 3x3 s2 depthwise 4x8 avx2 + relu6"
    output_shapes: tuple[tuple[int, ...], ...]
    macs: int
    one_thread: bool  # too little work to share among threads: runs on the calling thread alone


def _graph_constant(c: Any, name: str) -> Any:
    if isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], SharedWeights):
        return (c[0]._op, tuple(c[1]))
    if isinstance(c, SharedWeights):
        raise TypeError(f"{name} must be a (SharedWeights, shape) pair: coded weights need their shape")
    return _as_array(c, name)


class Graph:
    """A graph of operators of the operator set, run whole in C++: ``nodes`` are (op, name,
    input ids, output ids, attrs) in topological order over tensors numbered 0 .. tensors - 1;
    ``constants`` maps tensor ids to float32 arrays (copied, but read where they are when they
    are read-only: kept alive, never copied) or (SharedWeights, shape) pairs.
    Everything is checked when it is built (ValueError naming the node at fault). Each input-shape
    signature is planned once (shapes, memory); several threads may run one graph at once."""

    def __init__(self, nodes: Sequence[tuple[str, str, Sequence[int], Sequence[int], Mapping[str, Any]]],
                 tensors: int, inputs: Sequence[int], outputs: Sequence[int],
                 constants: Mapping[int, GraphConstant]) -> None:
        if not isinstance(constants, Mapping):
            raise TypeError(f"constants must be a mapping, got {type(constants).__name__}")
        self._graph = _core.Graph(nodes, tensors, inputs, outputs,
                                  {k: _graph_constant(c, f"constants[{k}]") for k, c in constants.items()})

    def run(self, inputs: Sequence[Any], outputs: Sequence[Any] | None = None,
            node_seconds: np.ndarray | None = None) -> list[Any]:
        """The graph's outputs for these inputs (float32 arrays or CPU tensors), as new arrays
        (tensors when inputs[0] is one), or written into ``outputs``. ``node_seconds``: a float64
        array of one entry per node, given each node's seconds in this run."""
        arrays = [_as_array(x, f"inputs[{k}]") for k, x in enumerate(inputs)]
        if outputs is not None:
            self._graph.run(arrays, [_as_out(o, f"outputs[{k}]") for k, o in enumerate(outputs)], node_seconds)
            return list(outputs)
        results = self._graph.run(arrays, None, node_seconds)
        return [_like(r, inputs[0] if inputs else None, None) for r in results]

    def output_shapes(self, input_shapes: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
        return self._graph.output_shapes(input_shapes)

    def arena_bytes(self, input_shapes: Sequence[Sequence[int]]) -> int:
        """Bytes of intermediate tensors a run with these input shapes needs: the peak activation
        memory besides the inputs and outputs."""
        return self._graph.arena_bytes(input_shapes)

    def profile(self, inputs: Sequence[Any], repeats: int = 10) -> list[float]:
        """Median seconds of each node over ``repeats`` runs (after one untimed run)."""
        return self._graph.profile([_as_array(x, f"inputs[{k}]") for k, x in enumerate(inputs)], repeats)

    def describe(self, input_shapes: Sequence[Sequence[int]]) -> list[GraphNode]:
        """Every node as it runs with these input shapes."""
        return [GraphNode(d["op"], d["name"], d["kernel"], tuple(d["output_shapes"]), d["macs"], d["one_thread"])
                for d in self._graph.describe(input_shapes)]
