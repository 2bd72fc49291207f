"""GEMV (a matrix times one vector): every microkernel of the list against the reference kernel and
float64 numpy over ragged output and depth counts, clamps and special values, writing nothing past
its outputs; the driver behind the linear operator and the 1x1 convolution of a one-pixel plane
(squeeze-excitation) against numpy, for one row (GEMV) and many (the GEMM kernel over the same
panels), their epilogues, and results that do not depend on the thread count. Runs without torch
(the emulated aarch64 run)."""

import numpy as np
import pytest
from activation_reference import exact
from conftest import SMALL_SWEEP
from hypothesis import given, settings
from hypothesis import strategies as st

import pyprune
import reference
from pyprune import _core, kernels

UKERNELS = _core.testing.gemv_ukernels()
AVAILABLE = kernels.available_isas()
REF = next(u["name"] for u in UKERNELS if u["isa"] == "scalar")
CLAMPS = ((-np.inf, np.inf), (0.0, np.inf), (0.0, 6.0), (-0.5, 0.75))
GUARD = 37  # floats after the outputs that must stay untouched
CANARY = np.float32(-1234.5)


def gemv(name, x, weight, bias, lo=-np.inf, hi=np.inf):
    """One kernel call into a buffer longer than the outputs; checks the rest is untouched."""
    n = weight.shape[0]
    out = np.full(n + GUARD, CANARY, np.float32)
    _core.testing.gemv(name, x, weight, bias, out, lo, hi)
    np.testing.assert_array_equal(out[n:], CANARY, err_msg=f"{name} wrote past its {n} outputs")
    return out[:n]


def numpy_gemv(x, weight, bias, lo=-np.inf, hi=np.inf):
    y = weight.astype(np.float64) @ x.astype(np.float64)
    if bias is not None:
        y += bias
    return np.where(np.isnan(y), y, np.minimum(np.maximum(y, lo), hi))


def gemv_shapes(nr):
    """(n, kc): outputs around the panel width (a partial last panel, several panels), depths
    around the kernels' k steps (4, 8 and 16) and their tails."""
    ns = sorted({1, 2, nr - 1, nr, nr + 1, 2 * nr - 1, 2 * nr, 3 * nr + 1} - {0})
    kcs = (1, 3, 4, 8, 13, 17, 31) if SMALL_SWEEP else (1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 33, 47, 100)
    return [(n, kc) for n in ns for kc in kcs]


def skip_unavailable(ukernel):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_reference_and_numpy(ukernel, rng):
    skip_unavailable(ukernel)
    for i, (n, kc) in enumerate(gemv_shapes(ukernel["nr"])):
        lo, hi = CLAMPS[i % len(CLAMPS)]
        x = rng.standard_normal(kc, dtype=np.float32)
        weight = rng.standard_normal((n, kc), dtype=np.float32)
        bias = rng.standard_normal(n, dtype=np.float32) if i % 3 else None
        got = gemv(ukernel["name"], x, weight, bias, lo, hi)
        tol = reference.tolerance(kc)
        np.testing.assert_allclose(got, gemv(REF, x, weight, bias, lo, hi), rtol=tol, atol=tol, err_msg=f"{n}x{kc}")
        np.testing.assert_allclose(got, numpy_gemv(x, weight, bias, lo, hi), rtol=tol, atol=tol, err_msg=f"{n}x{kc}")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_special_values(ukernel):
    """NaN and infinities flow through the sums and the clamp as in numpy (NaN is never clamped)."""
    skip_unavailable(ukernel)
    n, kc = 2 * ukernel["nr"] + 3, 11
    weight = np.ones((n, kc), np.float32)
    x = np.ones(kc, np.float32)
    x[3] = np.nan
    weight[1] = 0.0  # 0 * NaN is NaN too
    weight[n - 1, 5] = np.inf
    got = gemv(ukernel["name"], x, weight, None, 0.0, 6.0)
    np.testing.assert_array_equal(np.isnan(got), np.ones(n, bool))
    x[3] = 1.0
    weight[2, 4] = -np.inf
    got = gemv(ukernel["name"], x, weight, None, 0.0, 6.0)
    np.testing.assert_array_equal(got[[0, 1, 2, n - 1]], [6.0, 0.0, 0.0, 6.0])


@settings(max_examples=20 if SMALL_SWEEP else 100, deadline=None)
@given(n=st.integers(1, 100), kc=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_every_available_ukernel_property(n, kc, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(kc, dtype=np.float32)
    weight = rng.standard_normal((n, kc), dtype=np.float32)
    bias = rng.standard_normal(n, dtype=np.float32)
    want = numpy_gemv(x, weight, bias)
    tol = reference.tolerance(kc)
    for u in UKERNELS:
        if u["isa"] in AVAILABLE:
            np.testing.assert_allclose(gemv(u["name"], x, weight, bias), want, rtol=tol, atol=tol, err_msg=u["name"])


def test_bad_arguments_are_refused():
    w, x = np.ones((3, 4), np.float32), np.ones(4, np.float32)
    with pytest.raises(ValueError, match="x must have 4 elements"):
        _core.testing.gemv(REF, x[:3], w, None, np.zeros(3, np.float32), 0, 1)
    with pytest.raises(ValueError, match="out must have at least 3 elements"):
        _core.testing.gemv(REF, x, w, None, np.zeros(2, np.float32), 0, 1)
    with pytest.raises(ValueError, match="bias must have shape \\(3,\\)"):
        _core.testing.gemv(REF, x, w, np.ones(2, np.float32), np.zeros(3, np.float32), 0, 1)
    with pytest.raises(ValueError, match="unknown ukernel"):
        _core.testing.gemv("pp_f32_gemv_nothing", x, w, None, np.zeros(3, np.float32), 0, 1)


# ---- the driver: the linear operator and the convolutions it serves ---------------------------


def linear(x, w, b=None, **attrs):
    inputs, constants = [x, None], {1: w}
    if b is not None:
        inputs.append(None)
        constants[2] = b
    return kernels.testing.run_operator("linear", attrs, inputs, constants)[0]


def activation_of(y, attrs):
    kind = attrs.get("activation", "none")
    if kind == "relu":
        return exact("clamp", y, 0.0)
    return y if kind == "none" else exact(kind, y.astype(np.float32), alpha=attrs.get("activation_alpha", 0.01))


EPILOGUES = [{}, {"activation": "relu"}, {"activation": "hardsigmoid"}, {"activation": "silu"}]


def test_linear_every_row_count_matches_numpy(rng):
    """A GEMV per row for a few rows, then the GEMM over the panels: row counts around the switch
    and around the GEMM's row blocks, outputs and depths around the panel widths."""
    for i, rows in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 17]):
        for out_features, in_features in [(1, 1), (7, 3), (33, 17), (100, 64), (129, 9)]:
            attrs = EPILOGUES[i % len(EPILOGUES)]
            x = rng.standard_normal((rows, in_features), dtype=np.float32)
            w = rng.standard_normal((out_features, in_features), dtype=np.float32)
            b = rng.standard_normal(out_features, dtype=np.float32) if i % 2 else None
            want = activation_of(x.astype(np.float64) @ w.T.astype(np.float64) + (0 if b is None else b), attrs)
            got = linear(x, w, b, **attrs)
            tol = 2 * reference.tolerance(in_features)
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{rows} rows {out_features}x{in_features}")


def pooled_conv(rng, n, cin, cout, k=1, groups=1):
    x = rng.standard_normal((n, cin, k, k), dtype=np.float32)
    w = rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32)
    b = rng.standard_normal(cout, dtype=np.float32)
    return x, w, b


@pytest.mark.parametrize("gemm", [None] + [u["name"] for u in _core.testing.gemm_ukernels()])
def test_conv2d_of_a_one_pixel_plane_matches_numpy(gemm, rng):
    """Squeeze-excitation's 1x1 convolutions of a pooled tensor, and a kernel as large as the
    plane, at batch 1 and several, with a residual and an activation, on the panels the GEMM's
    packed blocks lend (when as wide) or repack; each GEMM kernel's blocks, not only the
    production one's."""
    if gemm is not None and next(u for u in _core.testing.gemm_ukernels() if u["name"] == gemm)["isa"] not in AVAILABLE:
        pytest.skip("GEMM kernel not available on this CPU")
    for n, cin, cout, k in [(1, 96, 24, 1), (1, 24, 96, 1), (3, 40, 13, 1), (9, 7, 33, 1), (2, 5, 17, 3), (1, 3, 8, 7)]:
        x, w, b = pooled_conv(rng, n, cin, cout, k)
        conv = _core.Conv2d(w, b, ukernel=gemm)
        want = reference.conv2d(x, w, b)
        tol = reference.tolerance(cin * k * k)
        np.testing.assert_allclose(conv.forward(x), want, rtol=tol, atol=tol, err_msg=f"{n, cin, cout, k}")
        residual = rng.standard_normal(want.shape, dtype=np.float32)
        got = conv.forward(x, kind="hardsigmoid", residual=residual)
        np.testing.assert_allclose(got, exact("hardsigmoid", (want + residual).astype(np.float32)), rtol=tol, atol=tol)
        np.testing.assert_allclose(conv.forward(x, 0.0, 6.0), np.clip(want, 0, 6), rtol=tol, atol=tol)


def test_windows_that_do_not_read_the_whole_plane_stay_convolutions(rng):
    """One output pixel from a grouped, padded or strided window, and kernels smaller than the
    plane: the convolution's own paths, right at the edge of the matrix-vector case."""
    for kwargs, (n, cin, cout, k, hw) in [({"groups": 2}, (2, 8, 6, 1, 1)), ({"padding": 1}, (1, 4, 5, 3, 1)),
                                          ({"stride": 2}, (1, 4, 5, 1, 2)), ({}, (1, 4, 5, 3, 4)), ({}, (2, 4, 5, 2, 3))]:
        x = rng.standard_normal((n, cin, hw, hw), dtype=np.float32)
        w = rng.standard_normal((cout, cin // kwargs.get("groups", 1), k, k), dtype=np.float32)
        got = kernels.conv2d(x, w, **kwargs)
        want = reference.conv2d(x, w, stride=kwargs.get("stride", 1), padding=kwargs.get("padding", 0),
                                groups=kwargs.get("groups", 1))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_one_pixel_input_padded_into_a_larger_window_matches_numpy(rng):
    """A 1x1 input padded into a window of several taps (DCGAN's first transposed layer: 4x4 over
    the latent padded by 3) runs as a linear layer from its channels to every output pixel:
    strided, grouped, padded so that some outputs miss the pixel (bias only), batches."""
    for kwargs, (n, cin, cout, k) in [({"padding": 3}, (1, 100, 64, 4)), ({"padding": 3}, (3, 7, 5, 4)),
                                      ({"padding": 2, "stride": 2}, (2, 6, 9, 3)),
                                      ({"padding": 2, "groups": 2}, (1, 8, 6, 3)), ({"padding": 1}, (2, 5, 13, 2))]:
        x = rng.standard_normal((n, cin, 1, 1), dtype=np.float32)
        w = rng.standard_normal((cout, cin // kwargs.get("groups", 1), k, k), dtype=np.float32)
        b = rng.standard_normal(cout, dtype=np.float32)
        got = kernels.conv2d(x, w, b, **kwargs)
        want = reference.conv2d(x, w, b, stride=kwargs.get("stride", 1), padding=kwargs["padding"],
                                groups=kwargs.get("groups", 1))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=str((kwargs, n, cin, cout, k)))


def test_results_do_not_depend_on_the_thread_count(rng):
    x = rng.standard_normal((7, 300), dtype=np.float32)
    w = rng.standard_normal((1000, 300), dtype=np.float32)
    xc, wc, bc = pooled_conv(rng, 5, 300, 257)
    conv = _core.Conv2d(wc, bc)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 5):
            pyprune.set_num_threads(threads)
            results.append([linear(x[:1], w, activation="silu"), linear(x, w, activation="silu"),
                            conv.forward(xc[:1]), conv.forward(xc)])
    finally:
        pyprune.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            np.testing.assert_array_equal(a, b)
