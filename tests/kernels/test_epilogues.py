"""Fused epilogues: every convolution driver (GEMM direct, strided and im2col, grouped, depthwise,
sparse, fused separable) with every activation, with and without a residual, against the
unfused computation (convolution, + residual, activation) in float64 over a sweep of shapes:
in torch (the oracle), and in numpy where torch is absent (the emulated aarch64 run); results
independent of the thread count; residuals checked."""

import math

import numpy as np
import pytest
from activation_reference import exact
from conftest import SMALL_SWEEP
from operator_cases import torch_activation

import pyprune
import reference
from pyprune import kernels
from pyprune.activation import Activation, as_activation

ACTIVATIONS = ["none", "relu", "relu6", Activation.clamp(-0.5, 0.75), Activation.leaky_relu(0.2), "hardswish",
               "hardsigmoid", "silu", "sigmoid", "tanh", "gelu", "gelu_tanh", "mish", Activation.elu(0.7)]
# (batch, input channels, output channels, height, width): 1x1 images, output channels and
# pixel counts below, at and above the kernels' tiles (ragged tails), batches of several images.
SHAPES = [(1, 1, 1, 1, 1), (3, 8, 10, 13, 11), (1, 16, 17, 7, 9), (2, 6, 8, 5, 16), (1, 4, 24, 17, 3)]
if SMALL_SWEEP:
    SHAPES = SHAPES[:3]


class TorchOracle:
    """The unfused computation in torch, float64."""

    def __init__(self):
        self.torch = pytest.importorskip("torch")

    def conv2d(self, x, w, b, stride=1, padding=0, groups=1):
        t = lambda a: None if a is None else self.torch.from_numpy(a).double()  # noqa: E731
        return self.torch.nn.functional.conv2d(t(x), t(w), t(b), stride, padding, 1, groups).numpy()

    def depthwise_conv2d(self, x, w, b, stride=1, padding=0):
        return self.conv2d(x, w, b, stride, padding, groups=x.shape[1])

    def activate(self, y, spec):
        act = as_activation(spec)
        if act.kind == "clamp":
            attrs = {"activation": "clamp", "activation_min": act.min, "activation_max": act.max}
        else:
            attrs = {"activation": act.kind, "activation_alpha": act.alpha} if act.kind in ("leaky_relu", "elu") else \
                {"activation": act.kind}
        return torch_activation(self.torch.from_numpy(np.asarray(y, np.float64)), attrs).numpy()


class NumpyOracle:
    """The same in numpy, float64 (tests/reference.py, tests/activation_reference.py)."""

    conv2d = staticmethod(reference.conv2d)
    depthwise_conv2d = staticmethod(reference.depthwise_conv2d)

    @staticmethod
    def activate(y, spec):
        act = as_activation(spec)
        return exact(act.kind, np.asarray(y, np.float64), act.min, act.max, act.alpha)


@pytest.fixture(params=["torch", "numpy"])
def oracle(request):
    if request.param == "numpy":
        yield NumpyOracle()
        return
    torch_oracle = TorchOracle()
    threads = torch_oracle.torch.get_num_threads()
    torch_oracle.torch.set_num_threads(1)  # small shapes: a thread pool only adds waiting
    try:
        yield torch_oracle
    finally:
        torch_oracle.torch.set_num_threads(threads)


def operators(rng, oracle, cin, cout):
    """(name, packed operator, oracle of conv + bias, depth) for every driver."""
    groups = 2 if cin % 2 == 0 and cout % 2 == 0 else 1
    w1 = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32)
    w3 = rng.standard_normal((cout, cin // groups, 3, 3), dtype=np.float32)
    wd3, wd5 = (rng.standard_normal((cin, 1, k, k), dtype=np.float32) for k in (3, 5))
    ws = rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) * (rng.random((cout, cin, 3, 3)) > 0.7)
    ws1 = w1 * (rng.random(w1.shape) > 0.5)
    b, bd = rng.standard_normal(cout, dtype=np.float32), rng.standard_normal(cin, dtype=np.float32)
    separable = lambda x: oracle.conv2d(  # noqa: E731
        oracle.activate(oracle.depthwise_conv2d(x, wd3, bd, 2, 1), "hardswish").astype(np.float32), w1, b)
    return [
        ("gemm 1x1", kernels.PackedConv2d(w1, b), lambda x: oracle.conv2d(x, w1, b), cin),
        ("gemm 1x1 s2", kernels.PackedConv2d(w1, None, stride=2), lambda x: oracle.conv2d(x, w1, None, 2), cin),
        (f"gemm 3x3 s2 groups {groups}", kernels.PackedConv2d(w3, b, stride=2, padding=1, groups=groups),
         lambda x: oracle.conv2d(x, w3, b, 2, 1, groups), 9 * cin // groups),
        ("depthwise 3x3", kernels.PackedDepthwiseConv2d(wd3, bd, padding=1),
         lambda x: oracle.depthwise_conv2d(x, wd3, bd, 1, 1), 9),
        ("depthwise 5x5 s2", kernels.PackedDepthwiseConv2d(wd5, None, stride=2, padding=2),
         lambda x: oracle.depthwise_conv2d(x, wd5, None, 2, 2), 25),
        ("sparse 3x3 block 1", kernels.PackedSparseConv2d(ws, b, padding=1), lambda x: oracle.conv2d(x, ws, b, 1, 1),
         9 * cin),
        ("sparse 3x3 s2 block 4", kernels.PackedSparseConv2d(ws, b, stride=2, padding=1, block=4),
         lambda x: oracle.conv2d(x, ws, b, 2, 1), 9 * cin),
        ("sparse 1x1 block 8", kernels.PackedSparseConv2d(ws1, b, block=8), lambda x: oracle.conv2d(x, ws1, b), cin),
        ("separable 3x3 s2 hardswish", kernels.PackedSeparableConv2d(wd3, w1, bd, b, stride=2, padding=1,
                                                                      dw_activation="hardswish"), separable, 9 * cin),
    ]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_every_driver_with_every_activation_and_residual(activation, oracle, rng):
    for n, cin, cout, h, w in SHAPES:
        x = rng.standard_normal((n, cin, h, w), dtype=np.float32)
        for name, op, conv, depth in operators(rng, oracle, cin, cout):
            y = conv(x)
            for residual in (None, rng.standard_normal(y.shape, dtype=np.float32)):
                got = op(x, activation, residual=residual)
                want = oracle.activate(y + (0 if residual is None else residual), activation)
                assert got.shape == want.shape
                tol = 2 * reference.tolerance(depth)
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol,
                                           err_msg=f"{name}, {(n, cin, cout, h, w)}, residual {residual is not None}")


@pytest.mark.parametrize("dw_activation", ACTIVATIONS, ids=str)
def test_separable_takes_any_depthwise_activation(dw_activation, oracle, rng):
    x = rng.standard_normal((2, 6, 15, 14), dtype=np.float32)
    wd, bd = rng.standard_normal((6, 1, 3, 3), dtype=np.float32), rng.standard_normal(6, dtype=np.float32)
    wp, bp = rng.standard_normal((9, 6, 1, 1), dtype=np.float32), rng.standard_normal(9, dtype=np.float32)
    fused = kernels.PackedSeparableConv2d(wd, wp, bd, bp, stride=2, padding=1, dw_activation=dw_activation)
    middle = oracle.activate(oracle.depthwise_conv2d(x, wd, bd, 2, 1), dw_activation)
    pointwise = oracle.conv2d(middle.astype(np.float32), wp, bp)
    residual = rng.standard_normal(pointwise.shape, dtype=np.float32)
    np.testing.assert_allclose(fused(x, "tanh", residual=residual), oracle.activate(pointwise + residual, "tanh"),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(kernels.separable_conv2d(x, wd, wp, bd, bp, 2, 1, dw_activation, "silu"),
                               oracle.activate(pointwise, "silu"), rtol=1e-4, atol=1e-4)


def test_one_shot_calls_take_residual_and_activation(oracle, rng):
    x = rng.standard_normal((1, 4, 9, 9), dtype=np.float32)
    w, wd = rng.standard_normal((5, 4, 3, 3), dtype=np.float32), rng.standard_normal((4, 1, 3, 3), dtype=np.float32)
    r5, r4 = rng.standard_normal((1, 5, 9, 9), dtype=np.float32), rng.standard_normal((1, 4, 9, 9), dtype=np.float32)
    tol = dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(kernels.conv2d(x, w, padding=1, activation="hardswish", residual=r5),
                               oracle.activate(oracle.conv2d(x, w, None, 1, 1) + r5, "hardswish"), **tol)
    np.testing.assert_allclose(kernels.sparse_conv2d(x, w, padding=1, activation="sigmoid", residual=r5),
                               oracle.activate(oracle.conv2d(x, w, None, 1, 1) + r5, "sigmoid"), **tol)
    np.testing.assert_allclose(kernels.depthwise_conv2d(x, wd, padding=1, activation="gelu", residual=r4),
                               oracle.activate(oracle.depthwise_conv2d(x, wd, None, 1, 1) + r4, "gelu"), **tol)
    w1 = w[:, :, 1:2, 1:2]
    np.testing.assert_allclose(kernels.pointwise_conv2d(x, w1[:, :, 0, 0], activation="relu6", residual=r5),
                               oracle.activate(oracle.conv2d(x, w1, None) + r5, "relu6"), **tol)


def test_results_do_not_depend_on_the_thread_count(rng):
    x = rng.standard_normal((2, 8, 31, 29), dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        for name, op, _, _ in operators(rng, NumpyOracle(), 8, 10):
            residual = rng.standard_normal(op(x).shape, dtype=np.float32)
            results = []
            for threads in (1, 2, 5):
                pyprune.set_num_threads(threads)
                results.append(op(x, "gelu_tanh", residual=residual))
            for got in results[1:]:
                np.testing.assert_array_equal(got, results[0], err_msg=name)
    finally:
        pyprune.set_num_threads(before)


def test_residual_is_checked(rng):
    x = rng.standard_normal((1, 4, 6, 6), dtype=np.float32)
    op = kernels.PackedConv2d(rng.standard_normal((5, 4, 1, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="residual must have shape \\(1, 5, 6, 6\\), got \\(1, 4, 6, 6\\)"):
        op(x, residual=x)
    with pytest.raises(TypeError, match="residual must have dtype float32"):
        op(x, residual=np.zeros((1, 5, 6, 6)))
    out = np.zeros((1, 5, 6, 6), np.float32)
    with pytest.raises(ValueError, match="out must not share memory with the inputs"):
        op(x, out=out, residual=out)
    with pytest.raises(ValueError, match="activation must be one of"):
        kernels._core.Conv2d(np.ones((5, 4, 1, 1), np.float32)).forward(x, kind="swish")
    assert math.isinf(as_activation("silu").max)
