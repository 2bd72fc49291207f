"""Depthwise convolution: every microkernel against the reference, the reference against numpy
and torch, bad input, threads, NaN and inf."""

import itertools
import math

import numpy as np
import pytest
from conftest import SMALL_SWEEP
from hypothesis import given, settings
from hypothesis import strategies as st

import pyprune
from pyprune import _core, kernels
from pyprune.activation import Activation
import reference

UKERNELS = _core.testing.dwconv2d_ukernels()
# The "same"-padding kernels (padding k // 2 on every side, whole planes read in place).
SAME_UKERNELS = _core.testing.dwconv2d_same_ukernels()
AVAILABLE = kernels.available_isas()
SIZES = (1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17) if SMALL_SWEEP else range(1, 18)
ACTIVATIONS = (Activation.none(), Activation.relu(), Activation.relu6(), Activation.clamp(-0.5, 0.75))


def ref_name(k, stride):
    return f"pp_f32_dwconv2d_chw_{k}x{k}s{stride}_minmax_ukernel__ref"


def sweep(k, padding):
    """(n, c, h, w, activation, with_bias) over every height and width, channels cycling
    through 1..17 and batch through 1 and 3, so each shape meets each option somewhere."""
    cases = []
    for i, (h, w) in enumerate(itertools.product(SIZES, SIZES)):
        if h + 2 * padding < k or w + 2 * padding < k:
            continue
        cases.append((1 + 2 * (i % 2), 1 + i % 17, h, w, ACTIVATIONS[i % 4], i % 3 != 0))
    return cases


def tile_sweep(ukernel, padding):
    """The same cases with outputs one to three tiles high and wide, a row or column short and
    past, and column tails of half a tile and one more (kernels may run tails in narrower
    vectors)."""
    k, s = ukernel["kernel_size"], ukernel["stride"]
    rows, cols = ukernel["tile_rows"], ukernel["tile_cols"]
    out_rows = sorted({n * rows + d for n in (1, 2) for d in (-1, 0, 1)} - {0})
    out_cols = sorted({n * cols + d for n in (1, 2, 3) for d in (-1, 0, 1, cols // 2, cols // 2 + 1)} - {0})
    cases = []
    for i, (oh, ow) in enumerate(itertools.product(out_rows, out_cols)):
        # Stride 2: odd and even input sizes give the same output size.
        h, w = ((o - 1) * s + k - 2 * padding + (s - 1) * ((i + j) % 2) for j, o in enumerate((oh, ow)))
        if h >= 1 and w >= 1:
            cases.append((1 + 2 * (i % 2), 1 + i % 5, h, w, ACTIVATIONS[i % 4], i % 3 != 0))
    return cases


def random_case(rng, n, c, h, w, k, with_bias):
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    weight = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    bias = rng.standard_normal(c, dtype=np.float32) if with_bias else None
    return x, weight, bias


def run(x, weight, bias, stride, padding, act, ukernel=None):
    return _core.depthwise_conv2d(
        x, weight, bias, stride=stride, padding=padding, min=act.min, max=act.max, ukernel=ukernel
    )


UKERNEL_PADDINGS = [(u, p) for u in UKERNELS for p in range(u["kernel_size"] // 2 + 1)] + [
    (u, u["kernel_size"] // 2) for u in SAME_UKERNELS]


@pytest.mark.parametrize(
    "ukernel,padding", UKERNEL_PADDINGS, ids=[f"{u['name']}-p{p}" for u, p in UKERNEL_PADDINGS]
)
def test_ukernel_matches_reference(ukernel, padding, rng):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    k, stride = ukernel["kernel_size"], ukernel["stride"]
    tol = reference.tolerance(k * k)
    for n, c, h, w, act, with_bias in sweep(k, padding) + tile_sweep(ukernel, padding):
        x, weight, bias = random_case(rng, n, c, h, w, k, with_bias)
        got = run(x, weight, bias, stride, padding, act, ukernel["name"])
        want = run(x, weight, bias, stride, padding, act, ref_name(k, stride))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"shape {(n, c, h, w)} {act}")


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (5, 1), (5, 2)])
def test_reference_ukernel_matches_numpy(k, stride, rng):
    tol = reference.tolerance(k * k)
    for padding in range(k // 2 + 1):
        for n, c, h, w, act, with_bias in sweep(k, padding)[::7]:
            x, weight, bias = random_case(rng, n, c, h, w, k, with_bias)
            got = run(x, weight, bias, stride, padding, act, ref_name(k, stride))
            want = reference.depthwise_conv2d(x, weight, bias, stride, padding, act.min, act.max)
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (5, 1), (5, 2)])
def test_reference_ukernel_matches_torch(k, stride, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tol = reference.tolerance(k * k)
    for padding in range(k // 2 + 1):
        for n, c, h, w, act, with_bias in sweep(k, padding)[::5]:
            x, weight, bias = random_case(rng, n, c, h, w, k, with_bias)
            got = run(x, weight, bias, stride, padding, act, ref_name(k, stride))
            tb = None if bias is None else torch.from_numpy(bias)
            want = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), tb, stride, padding, groups=c)
            want = want.clamp(act.min, act.max).numpy()
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@settings(max_examples=30 if SMALL_SWEEP else 150, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 20),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    k=st.sampled_from([3, 5]),
    stride=st.sampled_from([1, 2]),
    data=st.data(),
)
def test_dispatched_kernel_property(n, c, h, w, k, stride, data):
    padding = data.draw(st.integers(0, k // 2), label="padding")
    if h + 2 * padding < k or w + 2 * padding < k:
        with pytest.raises(ValueError, match="smaller than"):
            kernels.depthwise_conv2d(np.zeros((n, c, h, w), np.float32), np.zeros((c, 1, k, k), np.float32), padding=padding)
        return
    act = data.draw(st.sampled_from(ACTIVATIONS), label="activation")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x, weight, bias = random_case(rng, n, c, h, w, k, data.draw(st.booleans(), label="bias"))
    got = kernels.depthwise_conv2d(x, weight, bias, stride=stride, padding=padding, activation=act)
    want = reference.depthwise_conv2d(x, weight, bias, stride, padding, act.min, act.max)
    tol = reference.tolerance(k * k)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (5, 1), (5, 2)])
@pytest.mark.parametrize("shape", [(2, 13, 37, 29), (1, 96, 57, 43)], ids=["small", "large"])
def test_results_do_not_depend_on_thread_count(k, stride, shape, rng):
    """Padding k // 2 (the "same"-padding kernels where the ISA has them) and 0 (the strip
    kernels), on a layer small enough to run as one task and on one split into tasks of whole planes."""
    x, weight, bias = random_case(rng, *shape, k, True)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 8):
            pyprune.set_num_threads(threads)
            assert pyprune.get_num_threads() == threads
            results.append([kernels.depthwise_conv2d(x, weight, bias, stride=stride, padding=p) for p in (k // 2, 0)])
    finally:
        pyprune.set_num_threads(before)
    for r in results[1:]:
        for got, want in zip(r, results[0]):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("ukernel", SAME_UKERNELS, ids=[u["name"] for u in SAME_UKERNELS])
def test_same_padding_kernels_on_every_small_plane(ukernel, rng):
    """Every width 1..40 (up to two and a half 16-column tiles: every ragged last tile, tails
    of 8 columns or less, stride 2 with odd and even widths) and height 1..9 (every row tile
    and remainder), several channels per call."""
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    k, stride = ukernel["kernel_size"], ukernel["stride"]
    tol = reference.tolerance(k * k)
    for i, (h, w) in enumerate(itertools.product(range(1, 10), range(1, 41))):
        act = ACTIVATIONS[i % 4]
        x, weight, bias = random_case(rng, 1, 1 + i % 3, h, w, k, i % 2 == 0)
        got = run(x, weight, bias, stride, k // 2, act, ukernel["name"])
        want = run(x, weight, bias, stride, k // 2, act, ref_name(k, stride))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"shape {(h, w)} {act}")


@pytest.mark.parametrize("ukernel", SAME_UKERNELS, ids=[u["name"] for u in SAME_UKERNELS])
def test_same_padding_kernels_on_small_planes_of_many_channels(ukernel, rng):
    """Small planes (to 16x16, the 7x7 and 14x14 maps among them) of 8 to 40 channels per call:
    kernels may take such calls 16 channels at a time, a channel per lane, with a ragged last
    block. Against the reference; values next to the planes reach no output and nothing past the
    output is written."""
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    k, stride = ukernel["kernel_size"], ukernel["stride"]
    tol = reference.tolerance(k * k)
    shapes = [(7, 7), (14, 14), (16, 16), (1, 1), (2, 9), (9, 2), (15, 15), (13, 8), (5, 16), (16, 3), (3, 3), (11, 6)]
    for i, (h, w) in enumerate(shapes):
        for c in (8, 15, 16, 17, 40):
            act = ACTIVATIONS[(i + c) % 4]
            x, weight, bias = random_case(rng, 1 + (i + c) % 2, c, h, w, k, (i + c) % 3 != 0)
            room = np.full(x.size + 32, np.nan, np.float32)
            room[16:16 + x.size] = x.ravel()
            oh, ow = (h - 1) // stride + 1, (w - 1) // stride + 1
            size = x.shape[0] * c * oh * ow
            out_room = np.full(size + 16, 1234.5, np.float32)
            out = out_room[:size].reshape(x.shape[0], c, oh, ow)
            _core.depthwise_conv2d(room[16:16 + x.size].reshape(x.shape), weight, bias, stride=stride,
                                   padding=k // 2, min=act.min, max=act.max, out=out, ukernel=ukernel["name"])
            want = run(x, weight, bias, stride, k // 2, act, ref_name(k, stride))
            np.testing.assert_allclose(out, want, rtol=tol, atol=tol, err_msg=f"shape {(c, h, w)} {act}")
            assert (out_room[size:] == 1234.5).all()


@pytest.mark.parametrize("ukernel", UKERNELS + SAME_UKERNELS, ids=[u["name"] for u in UKERNELS + SAME_UKERNELS])
def test_nan_and_inf_propagate(ukernel):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    k, stride = ukernel["kernel_size"], ukernel["stride"]
    x = np.ones((1, 2, 19, 21), np.float32)
    x[0, 0, 9, 10] = np.nan
    x[0, 1, 4, 4] = np.inf
    weight = np.full((2, 1, k, k), 0.5, np.float32)
    for act in ACTIVATIONS:
        got = run(x, weight, None, stride, k // 2, act, ukernel["name"])
        want = reference.depthwise_conv2d(x, weight, None, stride, k // 2, act.min, act.max)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert np.isnan(got[0, 0]).sum() > 0 and np.isinf(want[0, 1]).any() == np.isinf(got[0, 1]).any()


@pytest.mark.parametrize("ukernel", SAME_UKERNELS, ids=[u["name"] for u in SAME_UKERNELS])
def test_same_padding_kernels_write_only_their_output(ukernel, rng):
    """Whole planes read in place: values next to the planes (here NaN, inf) reach no output,
    and nothing past the output is written. Every width 1..34 (stride 2: every output width to
    17 from odd and even inputs) on planes one row high and one, two and more row tiles high:
    rows stored whole past their end (narrow planes) must stay inside the plane."""
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")
    k, stride, padding = ukernel["kernel_size"], ukernel["stride"], ukernel["kernel_size"] // 2
    widths = (*range(1, 18), 27, 28, 33, 34) if SMALL_SWEEP else range(1, 35)
    for n, c, h, w in [(1, 1, 1, 1), (2, 3, 7, 7), (1, 4, 14, 14), (3, 2, 5, 33), (1, 2, 18, 17), (2, 3, 9, 1),
                       (1, 2, 13, 2), (1, 3, 6, 3), (2, 2, 11, 5),
                       *[(1 + w % 2, 2 + h % 2, h, w) for h in (1, 6, 17, 34) for w in widths]]:
        x, weight, bias = random_case(rng, n, c, h, w, k, True)
        size = x.size
        room = np.full(size + 64, np.nan, np.float32)
        room[16:16 + size] = x.ravel()
        room[:16], room[16 + size:] = np.inf, -np.inf
        x_inside = room[16:16 + size].reshape(x.shape)
        oh, ow = (h - 1) // stride + 1, (w - 1) // stride + 1
        out_room = np.full(n * c * oh * ow + 32, 1234.5, np.float32)
        out = out_room[: n * c * oh * ow].reshape(n, c, oh, ow)
        act = Activation.relu()
        _core.depthwise_conv2d(x_inside, weight, bias, stride=stride, padding=padding, min=act.min, max=act.max,
                               out=out, ukernel=ukernel["name"])
        want = reference.depthwise_conv2d(x, weight, bias, stride, padding, act.min, act.max)
        tol = reference.tolerance(k * k)
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol, err_msg=f"shape {(n, c, h, w)}")
        assert (out_room[n * c * oh * ow:] == 1234.5).all()


LIMITED = [u for u in SAME_UKERNELS if u["production"] and u["max_width"]]


@pytest.mark.parametrize("ukernel", LIMITED, ids=[u["name"] for u in LIMITED])
def test_a_same_padding_kernel_of_limited_width_runs_up_to_it(ukernel, rng):
    """A row that beats the strip kernels only up to max_width columns runs there by default and
    the strip kernel beyond, bit for bit; named, it runs at any width."""
    if ukernel["isa"] != kernels.isa():
        pytest.skip(f"not the production row of {kernels.isa()}")
    k, s, widest = ukernel["kernel_size"], ukernel["stride"], ukernel["max_width"]
    strip = next(u["name"] for u in UKERNELS if u["isa"] == ukernel["isa"] and u["production"] and
                 (u["kernel_size"], u["stride"]) == (k, s))
    for width in (widest - 1, widest, widest + 1, 2 * widest):
        x, weight, bias = random_case(rng, 1, 6, 9, width, k, True)
        default, same, strips = (kernels.PackedDepthwiseConv2d(weight, bias, stride=s, padding=k // 2, ukernel=name)
                                 for name in (None, ukernel["name"], strip))
        assert (same(x) != strips(x)).any(), "the two kernels round alike here: the check below cannot tell them apart"
        np.testing.assert_array_equal(default(x), same(x) if width <= widest else strips(x), err_msg=f"width {width}")
        np.testing.assert_allclose(same(x), reference.depthwise_conv2d(x, weight, bias, s, k // 2), rtol=1e-4, atol=1e-4)
    assert kernels.PackedDepthwiseConv2d(weight, stride=s, padding=k // 2).ukernel == \
        f"{ukernel['name']} (to {widest} columns, then {strip})"


def test_same_padding_kernels_take_only_same_padding():
    for u in SAME_UKERNELS:
        if u["isa"] in AVAILABLE:
            k = u["kernel_size"]
            with pytest.raises(ValueError, match="another kernel size, stride or padding"):
                kernels.PackedDepthwiseConv2d(np.ones((2, 1, k, k), np.float32), stride=u["stride"],
                                              padding=k // 2 - 1, ukernel=u["name"])


def test_out_is_written_in_place_and_returned(rng):
    x, weight, bias = random_case(rng, 1, 4, 10, 10, 3, True)
    out = np.full((1, 4, 10, 10), np.nan, np.float32)
    result = kernels.depthwise_conv2d(x, weight, bias, padding=1, out=out)
    assert result is out
    np.testing.assert_allclose(out, reference.depthwise_conv2d(x, weight, bias, 1, 1), rtol=1e-4, atol=1e-4)


def test_non_contiguous_input_is_copied(rng):
    x, weight, _ = random_case(rng, 1, 3, 12, 12, 3, False)
    view = np.asarray(x[:, :, ::2, ::2])
    got = kernels.depthwise_conv2d(view, weight, padding=1)
    want = reference.depthwise_conv2d(np.ascontiguousarray(view), weight, None, 1, 1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_torch_tensors_round_trip_without_copy(rng):
    torch = pytest.importorskip("torch")
    x, weight, bias = random_case(rng, 2, 6, 9, 9, 3, True)
    tx, tw, tb = map(torch.from_numpy, (x, weight, bias))
    y = kernels.depthwise_conv2d(tx, tw, tb, stride=2, padding=1, activation="relu6")
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    want = torch.nn.functional.conv2d(tx, tw, tb, 2, 1, groups=6).clamp(0, 6)
    torch.testing.assert_close(y, want, rtol=1e-4, atol=1e-4)
    out = torch.empty_like(want)
    assert kernels.depthwise_conv2d(tx, tw, tb, stride=2, padding=1, activation="relu6", out=out) is out
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)
    # A transposed (non-contiguous) tensor is copied, and gives the same answer.
    tx_t = tx.transpose(2, 3).contiguous().transpose(2, 3)
    assert not tx_t.is_contiguous()
    torch.testing.assert_close(kernels.depthwise_conv2d(tx_t, tw, tb, stride=2, padding=1, activation="relu6"), want, rtol=1e-4, atol=1e-4)


GOOD = dict(x=np.zeros((1, 4, 8, 8), np.float32), weight=np.zeros((4, 1, 3, 3), np.float32))


@pytest.mark.parametrize(
    "change,error,match",
    [
        (dict(x=np.zeros((1, 4, 8, 8), np.float64)), TypeError, "x must have dtype float32"),
        (dict(weight=np.zeros((4, 1, 3, 3), np.float16)), TypeError, "weight must have dtype float32"),
        (dict(bias=np.zeros(4, np.int32)), TypeError, "bias must have dtype float32"),
        (dict(x=np.zeros((4, 8, 8), np.float32)), ValueError, "x must have 4 dimensions"),
        (dict(weight=np.zeros((4, 3, 3), np.float32)), ValueError, "weight must have 4 dimensions"),
        (dict(weight=np.zeros((3, 1, 3, 3), np.float32)), ValueError, "weight must have shape \\(C, 1, k, k\\)"),
        (dict(weight=np.zeros((4, 2, 3, 3), np.float32)), ValueError, "groups == channels"),
        (dict(weight=np.zeros((4, 1, 4, 4), np.float32)), ValueError, "3x3, 5x5, 7x7 or 9x9"),
        (dict(weight=np.zeros((4, 1, 3, 5), np.float32)), ValueError, "3x3, 5x5, 7x7 or 9x9"),
        (dict(weight=np.zeros((4, 1, 11, 11), np.float32)), ValueError, "3x3, 5x5, 7x7 or 9x9"),
        (dict(bias=np.zeros(5, np.float32)), ValueError, "bias must have shape \\(4,\\)"),
        (dict(stride=3), ValueError, "stride must be 1 or 2"),
        (dict(stride=0), ValueError, "stride must be 1 or 2"),
        (dict(stride=1.0), TypeError, "stride must be an int"),
        (dict(padding=-1), ValueError, "padding must be in \\[0, 1\\]"),
        (dict(padding=2), ValueError, "padding must be in \\[0, 1\\]"),
        (dict(padding=True), TypeError, "padding must be an int"),
        (dict(x=np.zeros((0, 4, 8, 8), np.float32)), ValueError, "x must not be empty"),
        (dict(x=np.zeros((1, 4, 0, 8), np.float32)), ValueError, "x must not be empty"),
        (dict(x=np.zeros((1, 4, 2, 8), np.float32)), ValueError, "smaller than the 3x3 kernel"),
        (dict(activation="softplus"), ValueError, "activation must be one of"),
        (dict(out=np.zeros((1, 4, 6, 7), np.float32)), ValueError, "out must have shape \\(1, 4, 6, 6\\)"),
        (dict(out=np.zeros((1, 4, 6, 6), np.float64)), TypeError, "out must have dtype float32"),
        (dict(out=np.zeros((1, 4, 6, 12), np.float32)[..., ::2]), ValueError, "out must be C-contiguous"),
        (dict(out=[0.0]), TypeError, "out must be a numpy array"),
        (dict(x="not an array"), TypeError, "x must have dtype float32"),
    ],
)
def test_bad_input_raises_naming_the_argument(change, error, match):
    args = {**GOOD, **change}
    with pytest.raises(error, match=match):
        kernels.depthwise_conv2d(**args)


def test_out_sharing_memory_with_input_is_refused():
    x = np.zeros((1, 4, 8, 8), np.float32)
    with pytest.raises(ValueError, match="out must not share memory"):
        kernels.depthwise_conv2d(x, GOOD["weight"], padding=1, out=x)


def test_read_only_out_is_refused():
    out = np.zeros((1, 4, 6, 6), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        kernels.depthwise_conv2d(**GOOD, out=out)


def test_unaligned_input_is_refused_or_copied():
    buf = np.zeros(1 * 4 * 8 * 8 * 4 + 1, np.uint8)
    x = buf[1:].view(np.float32).reshape(1, 4, 8, 8)
    assert not x.flags.aligned
    y = kernels.depthwise_conv2d(x, GOOD["weight"])  # copied to an aligned array
    assert y.shape == (1, 4, 6, 6)


def test_activation_bounds_checked():
    with pytest.raises(ValueError, match="must not exceed"):
        Activation.clamp(1.0, -1.0)
    assert math.isinf(Activation.none().max)
