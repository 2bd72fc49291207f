"""The direct 3x3 stride-2 padding-1 convolution kernels (an RGB first layer, the groups of a
grouped one, without im2col): every kernel against the im2col + GEMM reference, the reference
kernel against torch, over output sizes around the tile, ragged edges, output channels around
MR, input channels per group 1-17, groups, batches, threads."""

import numpy as np
import pytest
from conftest import SMALL_SWEEP
from hypothesis import given, settings
from hypothesis import strategies as st

import pyprune
import reference
from pyprune import _core, kernels
from pyprune.activation import Activation

UKERNELS = _core.testing.conv2d_3x3s2p1_ukernels()
AVAILABLE = kernels.available_isas()
GEMM_REF = next(u["name"] for u in _core.testing.gemm_ukernels() if u["isa"] == "scalar")
ACTIVATIONS = (Activation.none(), Activation.relu(), Activation.relu6(), Activation.clamp(-0.5, 0.75))
# Input channels per group: the RGB layer's 3, one, a grouped layer's 8, odd counts around them.
CHANNELS = (3, 1, 2, 5, 8, 17)


def tolerance(channels):
    return reference.tolerance(9 * channels)


def run(x, weight, bias, act, ukernel, groups=1):
    conv = _core.Conv2d(weight, bias, stride=2, padding=1, groups=groups, ukernel=ukernel)
    return conv.forward(x, act.min, act.max)


def shapes(mr, nr):
    """(n, cout, h, w): output channels around MR, output widths around the column tile and its
    vectors (both parities of the input width), heights from 1."""
    couts = sorted({1, mr - 1, mr, mr + 1, 2 * mr + 3} - {0})
    widths = sorted({1, 2, 3, 4, 5, nr - 1, nr, nr + 1, nr + 4, 2 * nr + 3} - {0})
    heights = (1, 2, 5) if SMALL_SWEEP else (1, 2, 3, 5, 8)
    cases = []
    for i, ow in enumerate(widths):
        for j, h in enumerate(heights):
            w = 2 * ow - (i + j) % 2  # odd and even input widths give the same output width
            cases.append((1 + 2 * ((i + j) % 3 == 0), couts[(i + j) % len(couts)], h, w))
    return cases


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_matches_im2col_gemm(ukernel, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    for i, (n, cout, h, w) in enumerate(shapes(ukernel["mr"], ukernel["nr"])):
        act = ACTIVATIONS[i % 4]
        cin, groups = CHANNELS[i % len(CHANNELS)], 1 + i % 3
        x = rng.standard_normal((n, groups * cin, h, w), dtype=np.float32)
        weight = rng.standard_normal((groups * cout, cin, 3, 3), dtype=np.float32)
        bias = rng.standard_normal(groups * cout, dtype=np.float32) if i % 3 else None
        got = run(x, weight, bias, act, ukernel["name"], groups)
        want = run(x, weight, bias, act, GEMM_REF, groups)
        tol = tolerance(cin)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{(n, groups, cin, cout, h, w)} {act}")


@settings(max_examples=30 if SMALL_SWEEP else 120, deadline=None)
@given(
    index=st.integers(0, len(UKERNELS) - 1),
    n=st.integers(1, 2),
    groups=st.integers(1, 3),
    cin=st.integers(1, 17),
    cout=st.integers(1, 20),
    h=st.integers(1, 12),
    w=st.integers(1, 140),
    act=st.sampled_from(ACTIVATIONS),
    seed=st.integers(0, 2**32 - 1),
)
def test_ukernel_property(index, n, groups, cin, cout, h, w, act, seed):
    """Any size: widths across several column tiles with every remainder, both parities, any
    channels per group."""
    ukernel = UKERNELS[index]
    if ukernel["isa"] not in AVAILABLE:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, groups * cin, h, w), dtype=np.float32)
    weight = rng.standard_normal((groups * cout, cin, 3, 3), dtype=np.float32)
    bias = rng.standard_normal(groups * cout, dtype=np.float32)
    got = run(x, weight, bias, act, ukernel["name"], groups)
    tol = tolerance(cin)
    np.testing.assert_allclose(got, run(x, weight, bias, act, GEMM_REF, groups), rtol=tol, atol=tol)


def test_reference_ukernel_matches_torch(rng):
    torch = pytest.importorskip("torch")
    ref = next(u["name"] for u in UKERNELS if u["isa"] == "scalar")
    for n, groups, cin, cout, h, w in [(1, 1, 3, 5, 9, 11), (2, 1, 3, 4, 6, 7), (1, 1, 3, 1, 1, 1),
                                       (3, 1, 3, 9, 4, 16), (1, 4, 8, 8, 13, 10), (2, 3, 5, 2, 7, 9)]:
        x = rng.standard_normal((n, groups * cin, h, w), dtype=np.float32)
        weight = rng.standard_normal((groups * cout, cin, 3, 3), dtype=np.float32)
        bias = rng.standard_normal(groups * cout, dtype=np.float32)
        act = Activation.relu6()
        got = run(x, weight, bias, act, ref, groups)
        want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias), 2, 1,
                                          groups=groups)
        tol = tolerance(cin)
        np.testing.assert_allclose(got, want.clamp(act.min, act.max).numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("ukernel", UKERNELS, ids=[u["name"] for u in UKERNELS])
def test_ukernel_reads_and_writes_only_its_own(ukernel, rng):
    """The planes are read in place: values next to them (NaN, inf) reach no output, NaN and
    inf inside propagate as the reference's (into their own group only), and nothing past the
    output is written."""
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    for n, groups, cin, cout, h, w in [(1, 1, 3, 8, 7, 9), (2, 1, 3, 3, 10, 18), (1, 1, 3, 17, 3, 33),
                                       (1, 4, 8, 8, 11, 13), (2, 3, 5, 9, 6, 9), (1, 2, 1, 3, 5, 3)]:
        x = rng.standard_normal((n, groups * cin, h, w), dtype=np.float32)
        x[0, min(1, cin - 1), h // 2, w // 2] = np.nan
        x[-1, -1, 0, w - 1] = np.inf
        room = np.full(x.size + 64, np.nan, np.float32)
        room[16:16 + x.size] = x.ravel()
        weight = rng.standard_normal((groups * cout, cin, 3, 3), dtype=np.float32)
        oh, ow = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        size = n * groups * cout * oh * ow
        out_room = np.full(size + 32, 1234.5, np.float32)
        out = out_room[:size].reshape(n, groups * cout, oh, ow)
        conv = _core.Conv2d(weight, None, stride=2, padding=1, groups=groups, ukernel=ukernel["name"])
        conv.forward(room[16:16 + x.size].reshape(x.shape), 0.0, np.inf, out)
        want = run(x, weight, None, Activation.relu(), GEMM_REF, groups)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
        tol = tolerance(cin)
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol)
        assert (out_room[size:] == 1234.5).all()


@pytest.mark.parametrize("groups,cin", [(1, 3), (5, 8), (1, 8), (1, 32), (1, 40)],
                         ids=["rgb", "grouped", "dense-8", "dense-32", "dense-40"])
def test_dispatch_runs_it_where_the_isa_has_one(groups, cin, rng):
    """An RGB 3x3 stride-2 padding-1 convolution runs the active ISA's own production kernel, a
    dense one of more channels and a grouped one too where that kernel's row says it beats the
    GEMM; every other convolution (and an ISA without one) its default kernel. The results agree
    with torch's reference either way and do not depend on the thread count."""
    own = [u for u in UKERNELS if u["isa"] == kernels.isa() and u["production"]]
    runs_own = own and cin <= own[0]["dense" if groups == 1 else "grouped"]
    x = rng.standard_normal((2, groups * cin, 13, 21), dtype=np.float32)
    weight = rng.standard_normal((groups * 19, cin, 3, 3), dtype=np.float32)
    op = kernels.PackedConv2d(weight, stride=2, padding=1, groups=groups)
    assert op.ukernel == (own[0]["name"] if runs_own else _core.Conv2d(weight, None, 2, 1, groups, None).ukernel)
    assert kernels.PackedConv2d(weight, stride=2, padding=0, groups=groups).ukernel not in [u["name"] for u in UKERNELS]
    want = reference.conv2d(x, weight, stride=2, padding=1, groups=groups)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            pyprune.set_num_threads(threads)
            results.append(op(x))
    finally:
        pyprune.set_num_threads(before)
    tol = tolerance(cin)
    np.testing.assert_allclose(results[0], want, rtol=tol, atol=tol)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_ukernel_refuses_other_convolutions():
    for u in UKERNELS:
        if u["isa"] in AVAILABLE:
            with pytest.raises(ValueError, match="takes only a 3x3 kernel, stride 2 and padding 1"):
                _core.Conv2d(np.ones((4, 3, 3, 3), np.float32), None, stride=1, padding=1, groups=1, ukernel=u["name"])
