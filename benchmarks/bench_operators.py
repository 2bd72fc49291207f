"""The graph's hot operators alone, pyprune against torch on the same inputs:

    pytest benchmarks/bench_operators.py -k t1          # timings + ratio table, 1 thread
    pytest benchmarks/bench_operators.py -k "head and t1"   # the classifier heads (GEMV at batch 1)
    pytest benchmarks/bench_operators.py --benchmark-disable   # correctness only

"pyprune" writes into a preallocated output (as the graph's memory plan does); "new_output"
allocates its output like the torch call does. Operators with weights (linear, conv2d) run in a
one-node graph, built once: their weights are packed once, as an engine holds them.
"""

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pyprune import kernels
from pyprune.bench.cases import Case


def operator_case(name, op, attrs, inputs, reference):
    """A Case running operator `op` on `inputs` against `reference(*torch tensors)`."""
    tensors = [torch.from_numpy(x) for x in inputs]
    out = [np.empty_like(y) for y in kernels.testing.run_operator(op, attrs, inputs)]

    def prealloc():
        return kernels.testing.run_operator(op, attrs, inputs, out=out)[0]

    def fresh():
        return kernels.testing.run_operator(op, attrs, inputs)[0]

    return Case(name, 0, prealloc, lambda: reference(*tensors), {"new_output": fresh})


def weighted_case(name, op, attrs, x, constants, reference):
    """A Case running operator `op` on x and its constant inputs 1, 2, ... in a graph built once,
    against `reference(x, *constants)` on torch tensors."""
    ids = list(range(1, len(constants) + 1))
    graph = kernels.Graph([(op, op, [0, *ids], [len(ids) + 1], attrs)], len(ids) + 2, [0], [len(ids) + 1],
                          dict(zip(ids, constants)))
    out = [np.empty_like(graph.run([x])[0])]
    tensors = [torch.from_numpy(a) for a in (x, *constants)]
    return Case(name, 0, lambda: graph.run([x], out)[0], lambda: reference(*tensors),
                {"new_output": lambda: graph.run([x])[0]})


def linear_case(batch, in_features, out_features):
    """A classifier head: linear with bias on (batch, in_features)."""
    return weighted_case(f"linear head {in_features}->{out_features} batch {batch}", "linear", {},
                         r(batch, in_features), [r(out_features, in_features) / np.float32(in_features**0.5),
                                                 r(out_features)], F.linear)


def squeeze_excitation_case(batch, channels, squeezed):
    """The first 1x1 convolution of a squeeze-excitation block, on the pooled (N, C, 1, 1) tensor."""
    return weighted_case(f"SE conv2d 1x1 ({batch},{channels},1,1)->{squeezed} + relu", "conv2d",
                         {"activation": "relu"}, r(batch, channels, 1, 1),
                         [r(squeezed, channels, 1, 1) / np.float32(channels**0.5), r(squeezed)],
                         lambda x, w, b: F.relu(F.conv2d(x, w, b)))


def r(*shape):
    return np.random.default_rng(len(shape)).standard_normal(shape, dtype=np.float32)


CASES = {
    "se_mul": lambda: operator_case("SE mul (1,96,56,56)x(1,96,1,1)", "mul", {},
                                    [r(1, 96, 56, 56), r(1, 96, 1, 1)], torch.mul),
    "residual_add": lambda: operator_case("residual add + relu (1,96,56,56)", "add", {"activation": "relu"},
                                          [r(1, 96, 56, 56), r(1, 96, 56, 56) + 1], lambda a, b: F.relu(a + b)),
    "max_pool": lambda: operator_case("max_pool2d 3x3 s2 p1 (1,64,112,112)", "max_pool2d",
                                      {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1]},
                                      [r(1, 64, 112, 112)], lambda x: F.max_pool2d(x, 3, 2, 1)),
    "sppf_pool": lambda: operator_case("max_pool2d 5x5 s1 p2 (1,128,20,20)", "max_pool2d",
                                       {"kernel": [5, 5], "stride": [1, 1], "padding": [2, 2, 2, 2]},
                                       [r(1, 128, 20, 20)], lambda x: F.max_pool2d(x, 5, 1, 2)),
    "avg_pool": lambda: operator_case("avg_pool2d 3x3 s1 p1 (1,64,56,56)", "avg_pool2d",
                                      {"kernel": [3, 3], "stride": [1, 1], "padding": [1, 1, 1, 1]},
                                      [r(1, 64, 56, 56)], lambda x: F.avg_pool2d(x, 3, 1, 1)),
    "global_avg_pool": lambda: operator_case("global avg pool (1,1024,7,7)", "adaptive_avg_pool2d",
                                             {"output_size": [1, 1]}, [r(1, 1024, 7, 7)],
                                             lambda x: F.adaptive_avg_pool2d(x, 1)),
    "nearest_x2": lambda: operator_case("upsample nearest x2 (1,128,40,40)", "upsample",
                                        {"mode": "nearest", "scale": [2.0, 2.0]}, [r(1, 128, 40, 40)],
                                        lambda x: F.interpolate(x, scale_factor=2.0, mode="nearest")),
    "interleave": lambda: operator_case("permute (1,16,2,2,112,112) -> (1,16,112,2,112,2)", "permute",
                                        {"dims": [0, 1, 4, 2, 5, 3]}, [r(1, 16, 2, 2, 112, 112)],
                                        lambda x: x.permute(0, 1, 4, 2, 5, 3).contiguous()),
    "bilinear_x2": lambda: operator_case("upsample bilinear x2 (1,64,56,56)", "upsample",
                                         {"mode": "bilinear", "scale": [2.0, 2.0]}, [r(1, 64, 56, 56)],
                                         lambda x: F.interpolate(x, scale_factor=2.0, mode="bilinear")),
    "bilinear_x8": lambda: operator_case("upsample bilinear 28 -> 224 (1,21,28,28)", "upsample",
                                         {"mode": "bilinear", "size": [224, 224]}, [r(1, 21, 28, 28)],
                                         lambda x: F.interpolate(x, size=(224, 224), mode="bilinear")),
    "concat": lambda: operator_case("concat 4 x (1,64,40,40)", "concat", {"axis": 1},
                                    [r(1, 64, 40, 40) for _ in range(4)], lambda *xs: torch.cat(xs, 1)),
    "branch_sum": lambda: operator_case("sum over branches (1,2,64,56,56) axis 1", "reduce",
                                        {"kind": "sum", "axes": [1]}, [r(1, 2, 64, 56, 56)],
                                        lambda x: torch.sum(x, 1)),
    "channel_max": lambda: operator_case("max over channels (1,64,56,56) keepdim", "reduce",
                                         {"kind": "max", "axes": [1], "keepdim": 1}, [r(1, 64, 56, 56)],
                                         lambda x: torch.amax(x, 1, keepdim=True)),
    "spatial_mean": lambda: operator_case("mean over (2, 3) (1,1024,7,7) keepdim", "reduce",
                                          {"kind": "mean", "axes": [2, 3], "keepdim": 1}, [r(1, 1024, 7, 7)],
                                          lambda x: torch.mean(x, (2, 3), keepdim=True)),
    "head_1280_b1": lambda: linear_case(1, 1280, 1000),
    "head_1280_b3": lambda: linear_case(3, 1280, 1000),
    "head_1024_b1": lambda: linear_case(1, 1024, 1000),
    "head_1024_b3": lambda: linear_case(3, 1024, 1000),
    "se_960_b1": lambda: squeeze_excitation_case(1, 960, 240),
    "se_960_b3": lambda: squeeze_excitation_case(3, 960, 240),
}
case = functools.lru_cache(maxsize=None)(lambda name: CASES[name]())


@pytest.mark.parametrize("impl", ["pyprune", "new_output", "torch"])
@pytest.mark.parametrize("name", CASES)
def test_operator(run_case, name, impl):
    run_case(case(name), impl, f"operator {case(name).name}")
