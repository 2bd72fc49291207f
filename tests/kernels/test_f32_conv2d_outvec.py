"""The convolution kernels with output channels across the vector lanes (grouped and dense
convolutions without im2col): every kernel against the im2col + GEMM reference over channels per group
around its tile, pixel counts around its tile (ragged last tiles; tiles inside one output row at
stride 1 and 2, whose pixels the 12-row kernels address from one pointer, and tiles across rows),
kernel sizes, strides, padding, groups, batches and threads; the reference rows against torch; which convolutions the
driver runs on them by default; NaN and inf where the GEMM puts them, nothing written past the
output."""

import numpy as np
import pytest
from conftest import SMALL_SWEEP
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from pyprune import _core, kernels
from pyprune.activation import Activation

UKERNELS = _core.testing.conv2d_outvec_ukernels()
AVAILABLE = kernels.available_isas()
GEMM_REF = next(u["name"] for u in _core.testing.gemm_ukernels() if u["isa"] == "scalar")
ACTIVATIONS = (Activation.none(), Activation.relu(), Activation.relu6(), Activation.clamp(-0.5, 0.75))


def run(x, weight, bias, act, ukernel, groups=1, stride=1, padding=0):
    conv = _core.Conv2d(weight, bias, stride=stride, padding=padding, groups=groups, ukernel=ukernel)
    return conv.forward(x, act.min, act.max)


def check(ukernel, rng, n, groups, cin, cout, h, w, k, stride, padding, act, bias=True):
    x = rng.standard_normal((n, groups * cin, h, w), dtype=np.float32)
    weight = rng.standard_normal((groups * cout, cin, k, k), dtype=np.float32)
    b = rng.standard_normal(groups * cout, dtype=np.float32) if bias else None
    got = run(x, weight, b, act, ukernel, groups, stride, padding)
    want = run(x, weight, b, act, GEMM_REF, groups, stride, padding)
    tol = reference.tolerance(cin * k * k)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol,
                               err_msg=f"{ukernel} {(n, groups, cin, cout, h, w, k, stride, padding)} {act}")


def available(ukernel):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_im2col_gemm(ukernel, rng):
    available(ukernel)
    mr, nc = ukernel["mr"], ukernel["nc"]
    couts = sorted({1, nc - 1, nc, nc + 1, 2 * nc + 3} - {0})
    # Output widths that leave every remainder of MR pixels in a task's rows.
    widths = sorted({1, 2, mr - 1, mr, mr + 1, 2 * mr + 3} - {0})
    for i, (cout, ow) in enumerate((c, w) for c in couts for w in widths):
        k, stride = (3, 1, 5, 1)[i % 4], 1 + i % 3
        padding = (k // 2, 0, 1, k // 2)[i % 4] if k > 1 else 0
        h = 1 + (i * 5) % 11 + k
        w = (ow - 1) * stride + k - 2 * padding
        if w < 1:
            continue
        check(ukernel["name"], rng, 1 + 2 * (i % 3 == 0), 1 + i % 3, (1, 2, 5, 8)[i % 4], cout, h, w, k, stride,
              padding, ACTIVATIONS[i % 4], bias=i % 5 != 0)


@settings(max_examples=30 if SMALL_SWEEP else 120, deadline=None)
@given(
    index=st.integers(0, len(UKERNELS) - 1),
    n=st.integers(1, 2),
    groups=st.integers(1, 4),
    cin=st.integers(1, 12),
    cout=st.integers(1, 40),
    k=st.sampled_from([1, 2, 3, 5]),
    stride=st.integers(1, 3),
    h=st.integers(5, 20),
    w=st.integers(5, 40),
    act=st.sampled_from(ACTIVATIONS),
    seed=st.integers(0, 2**32 - 1),
)
def test_ukernel_property(index, n, groups, cin, cout, k, stride, h, w, act, seed):
    ukernel = UKERNELS[index]
    if ukernel["isa"] not in AVAILABLE:
        return
    check(ukernel["name"], np.random.default_rng(seed), n, groups, cin, cout, h, w, k, stride, seed % (k // 2 + 1), act)


def test_reference_ukernels_match_torch(rng):
    torch = pytest.importorskip("torch")
    for u in (u for u in UKERNELS if u["isa"] == "scalar"):
        for n, groups, cin, cout, h, w, stride, padding in [(1, 2, 3, u["nc"], 9, 11, 1, 1), (2, 3, 4, 5, 7, 7, 2, 1),
                                                             (1, 4, 1, 2 * u["nc"] + 1, 6, 13, 3, 0)]:
            x = rng.standard_normal((n, groups * cin, h, w), dtype=np.float32)
            weight = rng.standard_normal((groups * cout, cin, 3, 3), dtype=np.float32)
            bias = rng.standard_normal(groups * cout, dtype=np.float32)
            act = Activation.relu6()
            got = run(x, weight, bias, act, u["name"], groups, stride, padding)
            want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias),
                                              stride, padding, groups=groups).clamp(act.min, act.max).numpy()
            tol = reference.tolerance(9 * cin)
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=u["name"])


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_nan_and_inf_stay_in_their_group_and_nothing_is_written_past_the_output(ukernel, rng):
    available(ukernel)
    n, groups, cin, cout, h, w = 2, 3, 4, ukernel["nc"] + 3, 9, 10
    x = rng.standard_normal((n, groups * cin, h, w), dtype=np.float32)
    x[0, 1, h // 2, w // 2] = np.nan
    x[-1, -1, 0, w - 1] = np.inf
    weight = rng.standard_normal((groups * cout, cin, 3, 3), dtype=np.float32)
    size = n * groups * cout * h * w
    out_room = np.full(size + 32, 1234.5, np.float32)
    out = out_room[:size].reshape(n, groups * cout, h, w)
    _core.Conv2d(weight, None, stride=1, padding=1, groups=groups, ukernel=ukernel["name"]).forward(x, 0.0, np.inf, out)
    want = run(x, weight, None, Activation.relu(), GEMM_REF, groups, 1, 1)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(want))
    tol = reference.tolerance(9 * cin)
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)
    assert (out_room[size:] == 1234.5).all()


def assert_runs_the_row_that_wastes_least(got, outputs):
    """`got` is the active ISA's own row whose channels, weighed by its speed, cover `outputs`
    at the least cost; not one of these kernels where the ISA has no rows or all are wider."""
    rows = [u for u in UKERNELS if u["isa"] == kernels.isa() and u["production"]]
    if not rows or outputs < min(u["nc"] for u in rows):
        assert got not in {u["name"] for u in UKERNELS}
        return
    cost = {u["name"]: -(-outputs // u["nc"]) * u["nc"] / u["speed"] for u in rows}
    assert cost[got] == min(cost.values())


@pytest.mark.parametrize("cout_g", [8, 12, 16, 24, 32, 40, 64, 112])
def test_a_grouped_convolution_runs_the_row_that_wastes_least(cout_g):
    """A grouped convolution of 8 or more output channels per group (stride 1: the direct 3x3
    stride-2 kernels take few input channels per group)."""
    weight = np.ones((4 * cout_g, 3, 3, 3), np.float32)
    assert_runs_the_row_that_wastes_least(_core.Conv2d(weight, None, stride=1, padding=1, groups=4).ukernel, cout_g)


@pytest.mark.parametrize("cout,cin,k", [(8, 4, 3), (32, 16, 3), (24, 8, 5), (64, 3, 7), (100, 64, 3)])
def test_a_dense_convolution_of_several_taps_runs_the_row_that_wastes_least(cout, cin, k):
    """So does a dense one of several taps, 8 or more outputs, a depth of 32 or more and weights
    within the ISA's bound (1.5 MiB on AVX2, 256 KiB on AVX-512): im2col would copy each input
    pixel once per tap."""
    got = _core.Conv2d(np.ones((cout, cin, k, k), np.float32), None, stride=2, padding=k // 2).ukernel
    assert_runs_the_row_that_wastes_least(got, cout)


def test_avx512_keeps_the_gemm_from_256_kib_of_weights():
    """AVX-512's GEMM is faster there (64 -> 128 3x3, 288 KiB); AVX2's outvec rows still take it."""
    got = _core.Conv2d(np.ones((128, 64, 3, 3), np.float32), None, stride=2, padding=1).ukernel
    assert (got in {u["name"] for u in UKERNELS}) == (kernels.isa() in ("avx2", "scalar"))


@pytest.mark.parametrize("groups,cout_g,cin_g,k,stride",
                         [(4, 4, 4, 3, 2), (4, 7, 4, 3, 1), (4, 16, 4, 1, 1), (1, 16, 4, 1, 2), (1, 16, 3, 3, 2),
                          (1, 4, 16, 3, 1), (1, 512, 256, 3, 2)],
                         ids=["4-per-group", "7-per-group", "pointwise", "dense-1x1", "dense-rgb-3x3", "dense-4-outputs",
                              "dense-4.5-MiB"])
def test_other_convolutions_stay_off_it(groups, cout_g, cin_g, k, stride):
    """Groups of fewer than 8 output channels (most of a vector wasted), 1x1 stride-1 ones
    (their GEMM reads the input in place), and dense ones of one tap (their gather is one pass
    over the input), of a depth under 32 (a tile's transposes and stores outweigh its taps) or
    of more than 1.5 MiB of weights (im2col is then a small part of the GEMM's work) keep their
    kernels."""
    weight = np.ones((groups * cout_g, cin_g, k, k), np.float32)
    assert _core.Conv2d(weight, None, stride=stride, padding=k // 2, groups=groups).ukernel not in {
        u["name"] for u in UKERNELS}


@pytest.mark.parametrize("groups,cout_g,cin_g,hw,stride",
                         [(5, 16, 4, 33, 2), (49, 16, 4, 7, 1), (3, 24, 4, 57, 1), (1, 100, 40, 9, 2), (1, 40, 96, 13, 1)])
def test_results_do_not_depend_on_the_thread_count(groups, cout_g, cin_g, hw, stride, rng):
    """Each output is one kernel call's whole sum, whichever task computes it: bit for bit the
    same at 1, 2, 3 and 8 threads (tasks split rows of the output, ragged where they end, and
    the blocks of output channels of a dense layer whose weights outweigh its input rows)."""
    x = rng.standard_normal((2, groups * cin_g, hw, hw), dtype=np.float32)
    weight = rng.standard_normal((groups * cout_g, cin_g, 3, 3), dtype=np.float32)
    conv = _core.Conv2d(weight, None, stride=stride, padding=1, groups=groups)
    before = kernels.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 8):
            kernels.set_num_threads(threads)
            results.append(conv.forward(x))
    finally:
        kernels.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    want = run(x, weight, None, Activation.none(), GEMM_REF, groups, stride, 1)
    tol = reference.tolerance(9 * cin_g)
    np.testing.assert_allclose(results[0], want, rtol=tol, atol=tol)
