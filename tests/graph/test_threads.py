"""Every operator on inputs large enough to be split into tasks: the same bits with 1 and 2
threads, and torch's result with 2."""

import numpy as np
import pytest
import torch.nn.functional as F
from operator_testing import assert_close, random, run

import pyprune

torch = pytest.importorskip("torch")

X = random(np.random.default_rng(0), (2, 32, 48, 40))
T = torch.from_numpy(X)
GRID = random(np.random.default_rng(1), (2, 30, 50, 2), -1.2, 1.2)
CASES = {
    "unary": ("unary", {"kind": "exp"}, [X], lambda: torch.exp(T)),
    "concat": ("concat", {"axis": 1}, [X, X[:, :3].copy()], lambda: torch.cat([T, T[:, :3]], 1)),
    "split": ("split", {"axis": 3, "sizes": [7, 33]}, [X], lambda: torch.split(T, [7, 33], 3)[1]),
    "slice": ("slice", {"axis": 2, "start": 1, "step": 2}, [X], lambda: T[:, :, 1::2]),
    "permute": ("permute", {"dims": [0, 2, 3, 1]}, [X], lambda: T.permute(0, 2, 3, 1)),
    "expand": ("expand", {"shape": [2, 32, 48, 40]}, [X[:, :, :1].copy()], lambda: T[:, :, :1].expand(2, 32, 48, 40)),
    "max_pool2d": ("max_pool2d", {"kernel": [3, 3], "stride": [2, 2], "padding": [1] * 4}, [X],
                   lambda: F.max_pool2d(T, 3, 2, 1)),
    "avg_pool2d": ("avg_pool2d", {"kernel": [3, 3], "stride": [1, 1], "padding": [1] * 4}, [X],
                   lambda: F.avg_pool2d(T, 3, 1, 1)),
    "global_avg_pool": ("adaptive_avg_pool2d", {"output_size": [1, 1]}, [X], lambda: F.adaptive_avg_pool2d(T, 1)),
    "adaptive_avg_pool2d": ("adaptive_avg_pool2d", {"output_size": [5, 7]}, [X],
                            lambda: F.adaptive_avg_pool2d(T, (5, 7))),
    "adaptive_max_pool2d": ("adaptive_max_pool2d", {"output_size": [5, 7]}, [X],
                            lambda: F.adaptive_max_pool2d(T, (5, 7))),
    "upsample_nearest": ("upsample", {"mode": "nearest", "scale": [2.0, 2.0]}, [X],
                         lambda: F.interpolate(T, scale_factor=2.0, mode="nearest")),
    "upsample_bilinear": ("upsample", {"mode": "bilinear", "size": [70, 90]}, [X],
                          lambda: F.interpolate(T, size=(70, 90), mode="bilinear")),
    "upsample_bicubic": ("upsample", {"mode": "bicubic", "size": [70, 90]}, [X],
                         lambda: F.interpolate(T, size=(70, 90), mode="bicubic")),
    "grid_sample": ("grid_sample", {"mode": "bicubic", "padding": "reflection"}, [X, GRID],
                    lambda: F.grid_sample(T, torch.from_numpy(GRID), "bicubic", "reflection", align_corners=False)),
    "pad": ("pad", {"pads": [0, 0, 0, 0, 2, 1, 3, 3], "mode": "reflect"}, [X],
            lambda: F.pad(T, (3, 3, 2, 1), mode="reflect")),
    "reduce_kept_inner": ("reduce", {"kind": "sum", "axes": [1]}, [X], lambda: T.sum(1)),
    "reduce_trailing": ("reduce", {"kind": "mean", "axes": [2, 3]}, [X], lambda: T.mean((2, 3))),
    "reduce_max": ("reduce", {"kind": "max", "axes": [0, 2]}, [X], lambda: torch.amax(T, (0, 2))),
    "reduce_prod": ("reduce", {"kind": "prod", "axes": [1]}, [X * 0.5 + 1], lambda: (T * 0.5 + 1).prod(1)),
    "softmax_inner": ("softmax", {"axis": 1}, [X], lambda: torch.softmax(T, 1)),
    "softmax_last": ("softmax", {"axis": 3, "log": 1}, [X], lambda: torch.log_softmax(T, 3)),
    "cumsum_inner": ("cumsum", {"axis": 1}, [X], lambda: torch.cumsum(T, 1)),
    "cumsum_last": ("cumsum", {"axis": 3}, [X], lambda: torch.cumsum(T, 3)),
    "cumprod_inner": ("cumprod", {"axis": 1}, [X], lambda: torch.cumprod(T, 1)),
    "layer_norm": ("layer_norm", {"axes": 1}, [X], lambda: F.layer_norm(T, (40,))),
    "channel_norm": ("channel_norm", {}, [X], lambda: (T - T.mean(1, keepdim=True))
                     / torch.sqrt(T.var(1, keepdim=True, unbiased=False) + 1e-5)),
    "topk_inner": ("topk", {"axis": 1, "k": 5}, [X], lambda: torch.topk(T, 5, 1)[1].float()),
    "topk_last": ("topk", {"axis": 3, "k": 40, "largest": 0}, [X], lambda: torch.topk(T, 40, 3, largest=False)[1].float()),
    "gather": ("gather", {"axis": 2}, [X, np.argsort(X[:, :, :30], 2).astype(np.float32)],
               lambda: torch.gather(T, 2, torch.from_numpy(np.argsort(X[:, :, :30], 2)))),
    "floor_divide": ("floor_divide", {}, [X * 10, X[0, 0] + 3], lambda: torch.floor_divide(T * 10, T[0, 0] + 3)),
    "remainder": ("remainder", {}, [X * 10, X[0, 0] + 3], lambda: torch.remainder(T * 10, T[0, 0] + 3)),
    "atan2": ("atan2", {}, [X, X[0, 0]], lambda: torch.atan2(T, T[0, 0])),
    "pow": ("pow", {}, [X + 2.5, X[0, 0]], lambda: torch.pow(T + 2.5, T[0, 0])),
    "fmod": ("fmod", {}, [X * 10, X[0, 0] + 3], lambda: torch.fmod(T * 10, T[0, 0] + 3)),
    "hypot": ("hypot", {}, [X, X[0, 0]], lambda: torch.hypot(T, T[0, 0])),
    "matmul": ("matmul", {}, [X, X[:, :, :40, :].transpose(0, 1, 3, 2).copy()],
               lambda: torch.matmul(T, T[:, :, :40, :].transpose(2, 3))),
}


@pytest.mark.parametrize("case", CASES)
def test_same_bits_with_one_and_two_threads(case):
    op, attrs, inputs, want = CASES[case]
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(1)
        one = run(op, attrs, *inputs)[-1]
        pyprune.set_num_threads(2)
        two = run(op, attrs, *inputs)[-1]
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
    assert_close(two, want(), rtol=1e-5, atol=2e-5)
