"""The operators that run on SIMD microkernels, against numpy alone: the checks that also run
where torch is absent (the emulated aarch64 run of the NEON kernels)."""

import numpy as np
import pytest
from conftest import SMALL_SWEEP
from operator_testing import random, run1

SHAPES = [(1, 3, 9, 11), (2, 5, 16, 17)] if SMALL_SWEEP else [(1, 3, 9, 11), (2, 5, 16, 17), (1, 8, 56, 56)]


def pooled(x, kernel, stride, pad, op):
    """A (kernel, stride, pad) pool over the last two dims, windows clipped to the input."""
    n, c, h, w = x.shape
    oh, ow = (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1
    y = np.empty((n, c, oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride - pad, j * stride - pad
            window = x[:, :, max(r0, 0):r0 + kernel, max(c0, 0):c0 + kernel].astype(np.float64)
            y[:, :, i, j] = window.max(axis=(2, 3)) if op == "max" else window.sum(axis=(2, 3)) / kernel**2
    return y


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel,stride,pad", [(3, 2, 1), (3, 1, 1), (2, 2, 0)])
def test_pools(shape, kernel, stride, pad, rng):
    x = random(rng, shape)
    attrs = {"kernel": [kernel] * 2, "stride": [stride] * 2, "padding": [pad] * 4}
    np.testing.assert_array_equal(run1("max_pool2d", attrs, x), pooled(x, kernel, stride, pad, "max"))
    np.testing.assert_allclose(run1("avg_pool2d", attrs, x), pooled(x, kernel, stride, pad, "avg"), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES + [(1, 30, 7, 7)])
def test_global_average_pool_and_mean(shape, rng):
    x = random(rng, shape)
    want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(run1("adaptive_avg_pool2d", {"output_size": [1, 1]}, x), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run1("reduce", {"kind": "mean", "axes": [2, 3], "keepdim": 1}, x), want, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("op,f", [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.divide)])
@pytest.mark.parametrize("b_shape", [(2, 5, 16, 17), (2, 5, 1, 1), (1, 5, 1, 1), (17,), ()])
def test_broadcast_arithmetic(op, f, b_shape, rng):
    a, b = random(rng, (2, 5, 16, 17)), random(rng, b_shape, 0.5, 2.0)
    np.testing.assert_array_equal(run1(op, {"activation": "relu6"}, a, b), np.clip(f(a, b), 0, 6))
    np.testing.assert_array_equal(run1(op, {}, b, a), f(b, a))
