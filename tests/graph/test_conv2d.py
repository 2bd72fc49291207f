"""The conv2d operator against torch: every algorithm, rectangular kernels, strides, asymmetric
padding, dilation, groups, batch 1 and 3, every activation, with and without a residual; the
fused separable node against the operator set's reference; what auto chooses; attributes and
inputs it refuses, naming the node."""

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import SMALL_SWEEP
from graph_cases import coded
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from operator_cases import ACTIVATIONS, assert_close, run, torch_activation

import pyprune
from pyprune import _core
from pyprune.graph import CodedConstant, Engine, Graph, Node, TensorSpec

torch = pytest.importorskip("torch")
F = torch.nn.functional


def reference(x, w, b, residual, stride, padding, dilation, groups, attrs):
    top, left, bottom, right = padding
    xp = F.pad(torch.from_numpy(x).double(), (left, right, top, bottom))
    y = F.conv2d(xp, torch.from_numpy(w).double(), None if b is None else torch.from_numpy(b).double(), stride,
                 0, dilation, groups)
    if residual is not None:
        y = y + torch.from_numpy(residual).double()
    return torch_activation(y, attrs).numpy()


def conv(x, w, b=None, residual=None, **attrs):
    """Runs conv2d with weight (and bias) as constants and the residual computed."""
    inputs, constants = [x, None], {1: w}
    if b is not None:
        inputs.append(None)
        constants[2] = b
    if residual is not None:
        inputs.append(residual)
    return run("conv2d", attrs, inputs, constants)[0]


def check(rng, n, cin, cout, hw, kernel, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1,
          activation=None, residual=False, bias=True, sparsity=0.0, **attrs):
    activation = activation or {}
    x = rng.standard_normal((n, cin, *hw), dtype=np.float32)
    w = rng.standard_normal((cout, cin // groups, *kernel), dtype=np.float32)
    if sparsity:
        w *= rng.random(w.shape) >= sparsity
    b = rng.standard_normal(cout, dtype=np.float32) if bias else None
    attrs = {"stride": list(stride), "padding": list(padding), "dilation": list(dilation), "groups": groups,
             **activation, **attrs}
    want_shape = reference(x, w, b, None, stride, padding, dilation, groups, {}).shape
    r = rng.standard_normal(want_shape, dtype=np.float32) if residual else None
    got = conv(x, w, b, r, **attrs)
    want = reference(x, w, b, r, stride, padding, dilation, groups, activation)
    assert got.shape == want.shape
    if attrs.get("algorithm") == "winograd":
        assert_winograd_close(got, want, x, w, padding, dilation, groups)
    else:
        assert_close(got, want, cin // groups * kernel[0] * kernel[1])
    return got


def assert_winograd_close(got, want, x, w, padding, dilation=(1, 1), groups=1):
    """Winograd's F(4x4, 3x3) rounds about 5x more than the direct convolution, in proportion to
    the convolution of |x| with |w| (docs/winograd.md): within 2e-5 of its largest output."""
    scale = reference(np.abs(x), np.abs(w), None, None, (1, 1), padding, dilation, groups, {}).max()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5 * scale)


KERNELS = [(1, 1), (3, 3), (5, 5), (1, 7), (3, 1), (2, 3)]
STRIDES = [(1, 1), (2, 2), (3, 3), (1, 2), (3, 1)]
PADDINGS = [(0, 0, 0, 0), (1, 1, 1, 1), (0, 0, 1, 1), (1, 0, 0, 2), (2, 1, 0, 1)]
DILATIONS = [(1, 1), (2, 2), (1, 3)]
SHAPES = [(1, 3, 8, (9, 11)), (3, 5, 6, (7, 6)), (1, 8, 17, (13, 5)), (3, 4, 4, (5, 9))]


def gemm_cases():
    """A sweep that meets every kernel, stride, padding, dilation, shape and activation, groups
    and the residual in turn."""
    combos = list(itertools.product(KERNELS, STRIDES, PADDINGS, DILATIONS))
    picked = combos[:: max(1, len(combos) // 60)]
    for i, (kernel, stride, padding, dilation) in enumerate(picked):
        n, cin, cout, hw = SHAPES[i % len(SHAPES)]
        extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
        padding = tuple(min(p, extent[j % 2] - 1) for j, p in enumerate(padding))
        if hw[0] + padding[0] + padding[2] < extent[0] or hw[1] + padding[1] + padding[3] < extent[1]:
            continue
        groups = [1, 2, 1, 4][i % 4] if cin % [1, 2, 1, 4][i % 4] == 0 and cout % [1, 2, 1, 4][i % 4] == 0 else 1
        yield pytest.param(n, cin, cout, hw, kernel, stride, padding, dilation, groups, ACTIVATIONS[i % len(ACTIVATIONS)],
                           i % 3 == 1, i % 5 != 2, id=f"{i}")


@pytest.mark.parametrize("n,cin,cout,hw,kernel,stride,padding,dilation,groups,activation,residual,bias", list(gemm_cases()))
def test_gemm_matches_torch(n, cin, cout, hw, kernel, stride, padding, dilation, groups, activation, residual, bias, rng):
    check(rng, n, cin, cout, hw, kernel, stride, padding, dilation, groups, activation, residual, bias,
          algorithm="gemm")


def check_windowed(n, groups, cin_g, cout_g, kernel, stride, dilation, padding, hw, seed, activation):
    """check() on `gemm` with each side's padding cut to less than the dilated kernel's extent
    (the example skipped where the padded input is smaller than that extent), the activation
    on odd seeds and a residual on every third."""
    extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    padding = tuple(min(p, extent[j % 2] - 1) for j, p in enumerate(padding))
    assume(hw[0] + padding[0] + padding[2] >= extent[0] and hw[1] + padding[1] + padding[3] >= extent[1])
    check(np.random.default_rng(seed), n, groups * cin_g, groups * cout_g, hw, kernel, stride, padding, dilation,
          groups=groups, activation={"activation": activation} if seed % 2 else None, residual=seed % 3 == 0,
          algorithm="gemm")


# check_windowed's arguments: windows of any kernel, stride, dilation and padding on any plane.
WINDOWED = dict(
    n=st.integers(1, 2),
    groups=st.sampled_from([1, 1, 2, 3]),
    cin_g=st.integers(1, 12),
    cout_g=st.integers(1, 20),
    kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    stride=st.sampled_from([(1, 1), (1, 1), (2, 2), (2, 2), (2, 1), (1, 2), (3, 3), (3, 2)]),
    dilation=st.sampled_from([(1, 1), (1, 1), (2, 2), (1, 3)]),
    padding=st.tuples(*[st.integers(0, 3)] * 4),
    hw=st.tuples(st.integers(1, 31), st.integers(1, 31)),
    seed=st.integers(0, 2**32 - 1),
)


@settings(max_examples=25 if SMALL_SWEEP else 100, deadline=None)
@given(**WINDOWED)
def test_gemm_on_phase_planes_matches_torch(n, groups, cin_g, cout_g, kernel, stride, dilation, padding, hw, seed):
    """Convolutions of several taps, strided or not: dense ones on exact-pixel panels from phase
    planes (at stride 1 the padded input itself), grouped ones (those of fewer than 8 output
    channels per group, or all where the ISA has no kernel with channels across lanes) on
    padded-pixel panels from them,
    padded 1x1 ones by the element-wise gather. Stride-2 rows split into both column phases in
    one pass (odd and even widths, either padding), phases no tap reads (dilation 2 at stride
    2), panels that start and end inside output rows."""
    check_windowed(n, groups, cin_g, cout_g, kernel, stride, dilation, padding, hw, seed, "relu")


@settings(max_examples=20 if SMALL_SWEEP else 60, deadline=None)
@given(
    n=st.integers(1, 3),
    groups=st.sampled_from([1, 1, 1, 2]),
    cin_g=st.sampled_from([1, 3, 16, 130]),
    cout_g=st.integers(1, 20),
    stride=st.sampled_from([(2, 2), (2, 2), (2, 1), (1, 3), (3, 3), (4, 2)]),
    hw=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    seed=st.integers(0, 2**32 - 1),
)
def test_strided_1x1_matches_torch(n, groups, cin_g, cout_g, stride, hw, seed):
    """Unpadded 1x1 convolutions with a stride gather the pixels they read once, then run as
    pointwise ones on that copy: either stride alone or both, odd sizes (the last row and column
    kept), single-pixel outputs, batches, depths that pack strips (130), groups."""
    check_windowed(n, groups, cin_g, cout_g, (1, 1), stride, (1, 1), (0, 0, 0, 0), hw, seed, "hardswish")


@pytest.mark.parametrize("stride", [(2, 2), (3, 1)])
def test_strided_1x1_results_do_not_depend_on_the_thread_count(stride, rng):
    x = rng.standard_normal((2, 160, 29, 30), dtype=np.float32)
    w = rng.standard_normal((48, 160, 1, 1), dtype=np.float32)
    attrs = {"stride": list(stride), "activation": "relu"}
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            pyprune.set_num_threads(threads)
            results.append(conv(x, w, **attrs))
    finally:
        pyprune.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    assert_close(results[0], reference(x, w, None, None, stride, (0, 0, 0, 0), (1, 1), 1, attrs), 160)


@settings(max_examples=25 if SMALL_SWEEP else 80, deadline=None)
@given(
    n=st.integers(1, 3),
    groups=st.integers(2, 5),
    cin_g=st.integers(1, 6),
    cout_g=st.sampled_from([8, 9, 15, 16, 17, 24, 25, 40]),
    kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    stride=st.sampled_from([(1, 1), (2, 2), (2, 1), (1, 3), (3, 3)]),
    dilation=st.sampled_from([(1, 1), (2, 2), (1, 3)]),
    padding=st.tuples(*[st.integers(0, 3)] * 4),
    hw=st.tuples(st.integers(1, 23), st.integers(1, 23)),
    seed=st.integers(0, 2**32 - 1),
)
def test_grouped_with_channels_across_lanes_matches_torch(n, groups, cin_g, cout_g, kernel, stride, dilation, padding,
                                                          hw, seed):
    """Grouped convolutions of 8 or more output channels per group, which run with output
    channels across the vector lanes where the ISA has such a kernel: rectangular kernels,
    strides and dilations per axis, asymmetric padding, any size (single-pixel outputs too)."""
    check_windowed(n, groups, cin_g, cout_g, kernel, stride, dilation, padding, hw, seed, "relu6")


@pytest.mark.parametrize("n", [1, 3, 10])
@pytest.mark.parametrize("cin,cout,kernel", [(96, 24, (1, 1)), (24, 96, (1, 1)), (1152, 48, (1, 1)), (17, 33, (1, 1)),
                                             (5, 9, (3, 3)), (3, 7, (2, 5))])
def test_one_output_pixel_from_the_whole_plane_matches_torch(n, cin, cout, kernel, rng):
    """Squeeze-excitation's 1x1 convolutions of a pooled (N, C, 1, 1) tensor, and kernels as large
    as the plane: a matrix times each image (the GEMV, or the GEMM over its panels for a batch),
    with every epilogue."""
    for i, activation in enumerate(ACTIVATIONS[:: 1 if cin * cout < 10_000 else 4]):
        check(rng, n, cin, cout, kernel, kernel, activation=activation, residual=i % 3 == 1, bias=i % 4 != 2,
              algorithm="gemm" if i % 2 else "auto")


@settings(max_examples=25 if SMALL_SWEEP else 100, deadline=None)
@given(**{**WINDOWED, "n": st.integers(1, 3), "groups": st.sampled_from([1, 1, 2, 4]), "cin_g": st.integers(1, 40),
          "padding": st.tuples(*[st.integers(0, 12)] * 4), "hw": st.just((1, 1))})
def test_a_one_pixel_input_matches_torch(n, groups, cin_g, cout_g, kernel, stride, dilation, padding, hw, seed):
    """A 1x1 input padded into a window of several taps (DCGAN's first transposed layer, 4x4 over
    the latent padded by 3): a linear layer from its channels to every output pixel, each read
    through its one tap on the pixel, or none (bias only: outputs whose window misses it), with
    strides, dilations, groups and asymmetric padding."""
    check_windowed(n, groups, cin_g, cout_g, kernel, stride, dilation, padding, hw, seed, "leaky_relu")


@pytest.mark.parametrize("n,hw", [(1, (4, 4)), (4, (4, 4)), (1, (8, 8)), (1, (7, 9)), (1, (16, 16))])
def test_few_output_pixels_run_on_the_gemm_where_the_outvec_kernel_was_chosen(n, hw, rng):
    """A dense convolution the outvec kernel takes by default runs on the production GEMM, its
    weights repacked once, where a call has at most 64 output pixels (the outvec tiles of a few
    pixels each would read every weight again): the same results, every epilogue."""
    for i, activation in enumerate(ACTIVATIONS[:4]):
        check(rng, n, 24, 32, hw, (3, 3), padding=(1, 1, 1, 1), activation=activation, residual=i % 2 == 1)
    if "outvec" in describe((32, 32), cout=32, cin_g=24, padding=[1, 1, 1, 1]):  # an ISA with outvec kernels
        text = describe(hw, n=n, cout=32, cin_g=24, padding=[1, 1, 1, 1])
        assert ("outvec" in text) == (n * hw[0] * hw[1] > 64), text


def test_a_one_pixel_input_is_described_as_a_linear_layer():
    attrs = {"cout": 8, "cin_g": 5, "kernel": (4, 4), "padding": [3, 3, 3, 3]}
    assert " of one pixel: linear " in describe((1, 1), n=2, **attrs)
    assert " of one pixel" not in describe((2, 2), n=2, **attrs)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a.get("activation", "default"))
@pytest.mark.parametrize("residual", [False, True])
def test_every_activation_with_and_without_residual(activation, residual, rng):
    for algorithm, groups, kernel, stride in [("gemm", 1, (3, 3), (1, 1)), ("gemm", 1, (1, 1), (1, 1)),
                                              ("depthwise", 6, (3, 3), (2, 2)), ("sparse", 1, (3, 3), (1, 1)),
                                              ("winograd", 1, (3, 3), (1, 1))]:
        padding = (0, 0, 0, 0) if kernel == (1, 1) else (1, 1, 1, 1)
        check(rng, 1 + 2 * residual, 6, 6, (9, 10), kernel, stride, padding, groups=groups, activation=activation,
              residual=residual, algorithm=algorithm, sparsity=0.6 if algorithm == "sparse" else 0.0)


def depthwise_cases():
    for case in pyprune.kernels.capabilities().depthwise:
        k, s, p = case.kernel_size, case.stride, case.max_padding
        for padding in [(p, p, p, p), (0, 0, 0, 0), (p - 1 if p else 0, p, p, 0), (0, 0, p, p)]:
            yield pytest.param(k, s, padding, id=f"{k}x{k}s{s}-{'-'.join(map(str, padding))}")


@settings(max_examples=25 if SMALL_SWEEP else 100, deadline=None)
@given(n=st.sampled_from([1, 2]), groups=st.sampled_from([1, 2, "depthwise"]), kernel=st.integers(1, 7),
       stride=st.tuples(st.integers(1, 4), st.integers(1, 4)), dilation=st.integers(1, 2),
       sizes=st.lists(st.tuples(st.integers(1, 23), st.integers(1, 23)), min_size=1, max_size=3),
       algorithm=st.sampled_from(["auto", "gemm"]), seed=st.integers(0, 2**16))
def test_same_upper_padding_follows_each_inputs_size(n, groups, kernel, stride, dilation, sizes, algorithm, seed):
    """auto_pad "same_upper" pads every input size as TensorFlow's "SAME" (timm's pad_same) does,
    one node taking sizes of every remainder modulo the stride in turn."""
    from pyprune.capture.reference import same_upper_padding

    rng = np.random.default_rng(seed)
    cin = 6
    groups = cin if groups == "depthwise" else groups
    cout = cin if groups == cin else 4
    w = rng.standard_normal((cout, cin // groups, kernel, kernel), dtype=np.float32)
    b = rng.standard_normal(cout, dtype=np.float32)
    attrs = {"stride": list(stride), "dilation": [dilation] * 2, "groups": groups, "auto_pad": "same_upper",
             "algorithm": algorithm, "activation": "relu"}
    graph = Graph([TensorSpec("x", (n, cin, *sizes[0]))], ["y"], [Node("conv2d", ["x", "w", "b"], ["y"], attrs, "c")],
                  {"w": w, "b": b})
    engine = Engine(graph)
    for hw in sizes:
        x = rng.standard_normal((n, cin, *hw), dtype=np.float32)
        top, left, bottom, right = same_upper_padding(hw, (kernel, kernel), stride, (dilation, dilation))
        assert engine.output_shapes(x.shape) == [(n, cout, -(-hw[0] // stride[0]), -(-hw[1] // stride[1]))]
        want = reference(x, w, b, None, stride, (top, left, bottom, right), (dilation, dilation), groups,
                         {"activation": "relu"})
        assert_close(engine(x), want, cin // groups * kernel * kernel)
    assert engine.describe(x.shape)[0].kernel.endswith('+ relu (padded "same_upper")')


def test_same_upper_padding_on_a_separable_node(rng):
    """A fused depthwise -> pointwise node of TensorFlow's "SAME" padding (an EfficientNet's
    stride-2 depthwise convolution and its projection) against its reference."""
    from pyprune.capture.reference import OPS

    c, cout = 8, 5
    dw, db = rng.standard_normal((c, 1, 3, 3), dtype=np.float32), rng.standard_normal(c, dtype=np.float32)
    pw, pb = rng.standard_normal((cout, c, 1, 1), dtype=np.float32), rng.standard_normal(cout, dtype=np.float32)
    attrs = {"stride": [2, 2], "groups": c, "auto_pad": "same_upper", "depthwise_activation": "relu6"}
    for hw in [(16, 16), (17, 15), (9, 20)]:
        x = rng.standard_normal((1, c, *hw), dtype=np.float32)
        got = separable(x, dw, db, pw, pb, **attrs)
        with torch.no_grad():
            want = OPS["conv2d"]({**attrs, "algorithm": "separable"},
                                 *[torch.from_numpy(a).double() for a in (x, dw, db, pw, pb)]).numpy()
        assert got.shape == want.shape == (1, cout, -(-hw[0] // 2), -(-hw[1] // 2))
        assert_close(got, want, 9 + c)


@pytest.mark.parametrize("k,s,padding", list(depthwise_cases()))
def test_depthwise_asymmetric_padding_matches_torch(k, s, padding, rng):
    for n, c, hw in [(1, 5, (14, 9)), (3, 3, (max(7, k), 16))]:  # unpadded, at least the kernel's height
        check(rng, n, c, c, hw, (k, k), (s, s), padding, groups=c, activation={"activation": "hardswish"},
              residual=n == 3, algorithm="depthwise")


@settings(max_examples=30 if SMALL_SWEEP else 150, deadline=None)
@given(n=st.sampled_from([1, 3]), c=st.integers(1, 9), kernel=st.tuples(st.integers(1, 13), st.integers(1, 13)),
       stride=st.tuples(st.integers(1, 4), st.integers(1, 4)), dilation=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       pads=st.tuples(*[st.floats(0, 1)] * 4), extra=st.tuples(st.integers(0, 30), st.integers(0, 40)),
       activation=st.sampled_from(ACTIVATIONS), residual=st.booleans(), seed=st.integers(0, 2**16))
def test_depthwise_of_any_window_matches_torch(n, c, kernel, stride, dilation, pads, extra, activation, residual, seed):
    """Windows no strip kernel takes (dilated, rectangular, strides 3-4, kernels up to 13, each
    side's padding anywhere below the dilated kernel's extent) run on the taps kernel; planes from
    a single output up to 40 columns past the window, ragged against every vector width."""
    extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    padding = tuple(int(f * (extent[i % 2] - 1)) for i, f in enumerate(pads))
    hw = tuple(max(1, extent[i] - padding[i] - padding[i + 2] + extra[i]) for i in range(2))
    check(np.random.default_rng(seed), n, c, c, hw, kernel, stride, padding, dilation, groups=c, activation=activation,
          residual=residual, algorithm="depthwise")


@pytest.mark.parametrize("hw,kernel,stride,dilation,padding", [
    ((14, 14), (3, 3), (1, 1), (18, 18), (18, 18, 18, 18)),  # ASPP at 224x224, output stride 16: the centre tap
    ((14, 14), (3, 3), (1, 1), (24, 12), (24, 12, 24, 12)),  # one row of taps, all three columns
    ((9, 30), (5, 3), (1, 1), (6, 20), (12, 20, 12, 20)),  # the middle three rows of five
    ((13, 13), (3, 3), (2, 2), (20, 20), (20, 20, 20, 20)),  # strided
    ((6, 7), (3, 3), (1, 1), (5, 5), (10, 5, 0, 5)),  # padding on one side only: the taps below it read the input
    ((2, 2), (7, 7), (1, 1), (1, 1), (3, 3, 3, 3)),  # VanillaNet's and ConvNeXt's 7x7 on a 2x2 plane: the middle 3x3
])
@pytest.mark.parametrize("depthwise", [False, True])
def test_taps_that_read_only_padding_are_left_out(hw, kernel, stride, dilation, padding, depthwise, rng):
    """Where an input size leaves taps reading only padding, the GEMM (or the depthwise kernels)
    runs the others alone, and matches torch; larger inputs, which all taps read, run the whole
    kernel on the same node."""
    cin, cout, groups = (6, 6, 6) if depthwise else (5, 6, 1)
    w = rng.standard_normal((cout, cin // groups, *kernel), dtype=np.float32)
    b = rng.standard_normal(cout, dtype=np.float32)
    attrs = {"stride": list(stride), "padding": list(padding), "dilation": list(dilation), "groups": groups,
             "activation": "relu"}
    graph = Graph([TensorSpec("x", (1, cin, *hw))], ["y"], [Node("conv2d", ["x", "w", "b"], ["y"], attrs, "conv")],
                  {"w": w, "b": b}, dynamic_batch=True)
    engine = Engine(graph)
    for n, size in [(1, hw), (2, hw), (1, (hw[0] + 40, hw[1] + 40)), (3, hw)]:
        x = rng.standard_normal((n, cin, *size), dtype=np.float32)
        want = reference(x, w, b, None, stride, padding, dilation, groups, {"activation": "relu"})
        assert_close(engine(x), want, cin // groups * kernel[0] * kernel[1])
    text = describe(hw, cout=cout, cin_g=cin // groups, kernel=kernel,
                    **{k: v for k, v in attrs.items() if k != "activation"})
    assert " taps that read the input " in text and (" depthwise " in text) == depthwise, text


@pytest.mark.parametrize("kernel", [(1, 1), (3, 3)])
def test_a_residual_larger_than_l2_matches_torch(kernel, rng):
    """Residuals of more than 1 MiB are prefetched tile by tile while the kernel runs."""
    check(rng, 1, 16, 64, (64, 72), kernel, padding=(kernel[0] // 2,) * 4, activation={"activation": "relu"},
          residual=True, algorithm="gemm")


@pytest.mark.parametrize("kernel,stride,dilation,padding", [((1, 1), (3, 3), (1, 1), (0, 0, 0, 0)),
                                                            ((2, 2), (4, 5), (1, 1), (1, 0, 0, 1)),
                                                            ((2, 3), (1, 7), (3, 2), (2, 4, 0, 1))])
def test_depthwise_with_strides_above_the_kernel_matches_torch(kernel, stride, dilation, padding, rng):
    """Columns the taps never read (a stride past the dilated kernel's width) are not laid out."""
    for n, c, hw in [(1, 3, (17, 23)), (2, 4, (9, 40))]:
        check(rng, n, c, c, hw, kernel, stride, padding, dilation, groups=c, activation={"activation": "relu"},
              algorithm="depthwise")


@pytest.mark.parametrize("block", pyprune.kernels.capabilities().sparse_blocks)
@pytest.mark.parametrize("kernel,stride,padding", [((1, 1), (1, 1), (0, 0, 0, 0)), ((3, 3), (2, 2), (0, 0, 1, 1)),
                                                   ((1, 3), (1, 1), (0, 1, 0, 1)), ((3, 3), (1, 1), (1, 1, 1, 1)),
                                                   ((1, 1), (2, 2), (0, 0, 0, 0))])
def test_sparse_matches_torch(block, kernel, stride, padding, rng):
    for n, residual in [(1, False), (3, True)]:
        check(rng, n, 7, 13, (11, 10), kernel, stride, padding, activation={"activation": "silu"}, residual=residual,
              algorithm="sparse", block=block, sparsity=0.8)


def winograd_cases():
    """Ragged sizes (cut tiles on both edges), every padding the kernels take on each side, batch
    1 and 3, channels around the GEMM's blocks."""
    p = pyprune.kernels.capabilities().winograd.max_padding
    paddings = [(0, 0, 0, 0), (1, 1, 1, 1), (p, p, p, p), (0, 0, 1, 1), (1, 0, 0, p), (p, 1, 0, 0)]
    shapes = [(1, 3, 5, (9, 11)), (3, 8, 13, (6, 7)), (1, 17, 6, (16, 16)), (2, 1, 7, (3, 3)), (1, 24, 33, (10, 23))]
    activations = [{}, {"activation": "relu"}, {"activation": "silu"}, {"activation": "hardswish"},
                   {"activation": "leaky_relu", "activation_alpha": 0.2}, {"activation": "gelu"}]
    for i, ((n, cin, cout, hw), padding) in enumerate(itertools.product(shapes, paddings)):
        yield pytest.param(n, cin, cout, hw, padding, activations[i % len(activations)], i % 3 == 1, i % 4 != 3,
                           id=f"{i}")


@pytest.mark.parametrize("n,cin,cout,hw,padding,activation,residual,bias", list(winograd_cases()))
def test_winograd_matches_torch(n, cin, cout, hw, padding, activation, residual, bias, rng):
    check(rng, n, cin, cout, hw, (3, 3), padding=padding, activation=activation, residual=residual, bias=bias,
          algorithm="winograd")


@settings(max_examples=25 if SMALL_SWEEP else 100, deadline=None)
@given(
    n=st.integers(1, 3),
    cin=st.integers(1, 20),
    cout=st.integers(1, 20),
    dilation=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    multiples=st.tuples(*[st.integers(0, 2)] * 4),
    extra=st.tuples(st.integers(0, 13), st.integers(0, 13)),
    activation=st.sampled_from([{}, {"activation": "relu6"}, {"activation": "silu"}]),
    residual=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_dilated_winograd_matches_torch(n, cin, cout, dilation, multiples, extra, activation, residual, seed):
    """Dilated convolutions on the input's phases: every dilation to 4 on each axis, padding 0 to
    2 times the dilation on each side, sizes that are no multiple of the dilation (phases of
    different sizes), a residual and activations after the scatter."""
    padding = tuple(m * dilation[i % 2] for i, m in enumerate(multiples))
    # The smallest input the dilated 3x3 kernel fits, and some rows and columns more.
    hw = tuple(max(1, 2 * dilation[a] + 1 - padding[a] - padding[a + 2]) + extra[a] for a in range(2))
    check(np.random.default_rng(seed), n, cin, cout, hw, (3, 3), padding=padding, dilation=dilation,
          activation=activation, residual=residual, algorithm="winograd")


@pytest.mark.parametrize("n,groups,cin_g,cout_g,hw,padding,dilation", [
    (1, 2, 8, 8, (9, 11), (1, 1, 1, 1), (1, 1)),  # fewer groups than tasks: one after another
    (3, 4, 3, 5, (6, 7), (0, 0, 1, 1), (1, 1)),  # 12 tasks: the groups are the tasks
    (1, 8, 16, 16, (14, 14), (1, 1, 1, 1), (1, 1)),
    (2, 3, 5, 2, (13, 10), (2, 0, 2, 2), (2, 2)),  # dilated, on each group's phases
    (1, 32, 4, 4, (5, 5), (1, 1, 1, 1), (1, 1)),
])
def test_grouped_winograd_matches_torch(n, groups, cin_g, cout_g, hw, padding, dilation, rng):
    """Each group's channels, weights, biases and residual."""
    for i, activation in enumerate([{}, {"activation": "relu"}, {"activation": "silu"}]):
        check(rng, n, groups * cin_g, groups * cout_g, hw, (3, 3), padding=padding, dilation=dilation, groups=groups,
              activation=activation, residual=i == 1, bias=i != 2, algorithm="winograd")


def separable(x, dw, db, pw, pb, residual=None, **attrs):
    """Runs a fused depthwise -> pointwise conv2d: its weights and biases constants, the
    residual computed."""
    inputs = [x, None, None, None, None] + ([residual] if residual is not None else [])
    return run("conv2d", {**attrs, "algorithm": "separable"}, inputs, {1: dw, 2: db, 3: pw, 4: pb})[0]


def separable_reference(x, dw, db, pw, pb, residual, attrs):
    """The operator set's specification (pyprune.capture.reference), in float64."""
    from pyprune.capture.reference import OPS

    args = [torch.from_numpy(a).double() for a in (x, dw, db, pw, pb) + ((residual,) if residual is not None else ())]
    with torch.no_grad():
        return OPS["conv2d"]({**attrs, "algorithm": "separable"}, *args).numpy()


def depthwise_activation(attrs):
    return {f"depthwise_{k}": v for k, v in attrs.items()}


def check_separable(rng, n, c, cout, hw, k, s, padding, dw_activation, activation, residual):
    x = rng.standard_normal((n, c, *hw), dtype=np.float32)
    dw = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    db = rng.standard_normal(c, dtype=np.float32)
    pw = rng.standard_normal((cout, c, 1, 1), dtype=np.float32)
    pb = rng.standard_normal(cout, dtype=np.float32)
    attrs = {"stride": [s, s], "padding": list(padding), "dilation": [1, 1], "groups": c,
             **depthwise_activation(dw_activation), **activation}
    shape = separable_reference(x, dw, db, pw, pb, None, attrs).shape
    r = rng.standard_normal(shape, dtype=np.float32) if residual else None
    got = separable(x, dw, db, pw, pb, r, **attrs)
    want = separable_reference(x, dw, db, pw, pb, r, attrs)
    assert got.shape == want.shape == (n, cout, *shape[2:])
    # the pointwise sum runs over c depthwise outputs, each of k * k products
    assert_close(got, want, c * k * k)


@pytest.mark.parametrize("k,s,padding", list(depthwise_cases()))
def test_separable_matches_the_reference(k, s, padding, rng):
    for n, c, cout, hw, dw_act, act, residual in [
            (1, 5, 13, (14, 9), {"activation": "relu6"}, {"activation": "hardswish"}, False),
            (3, 3, 7, (max(7, k), 16), {"activation": "silu"}, {}, True),
            (2, 16, 6, (11, 10), {}, {"activation": "silu"}, True),
            (1, 9, 1, (9, 9), {"activation": "hardswish"}, {"activation": "relu"}, False)]:
        check_separable(rng, n, c, cout, hw, k, s, padding, dw_act, act, residual)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a.get("activation", "default"))
def test_separable_every_activation_on_either_half(activation, rng):
    check_separable(rng, 1, 6, 10, (9, 10), 3, 1, (1, 1, 1, 1), activation, {"activation": "relu6"}, False)
    check_separable(rng, 2, 6, 10, (9, 10), 3, 2, (0, 0, 1, 1), {"activation": "relu"}, activation, True)


def test_separable_over_several_strips(rng):
    """Planes too large for one strip of the fused kernel: the halves meet strip by strip."""
    check_separable(rng, 2, 64, 20, (70, 45), 3, 1, (1, 1, 1, 1), {"activation": "relu6"}, {"activation": "silu"},
                    True)


def test_separable_over_strips_whose_planes_would_alias(rng):
    """64 channels 64 wide: strips of 16 rows, whose planes (4 KiB) are laid further apart; the
    last strip shorter (70 rows)."""
    check_separable(rng, 1, 64, 24, (70, 64), 3, 1, (1, 1, 1, 1), {"activation": "relu"}, {}, True)


def coded_weights(rng, shape):
    """Weights of a few distinct values (as weight sharing leaves them), and their coding."""
    w = (rng.integers(-6, 7, shape) / 4).astype(np.float32)
    return w, CodedConstant(coded(w), shape)


def test_coded_weights_run_like_their_dense_weights(rng):
    x = rng.standard_normal((2, 6, 11, 9), dtype=np.float32)
    w, w_coded = coded_weights(rng, (5, 6, 3, 3))
    dw, dw_coded = coded_weights(rng, (6, 1, 3, 3))
    pw, pw_coded = coded_weights(rng, (7, 6, 1, 1))
    zeros = {"b5": np.zeros(5, np.float32), "b6": np.zeros(6, np.float32), "b7": np.zeros(7, np.float32)}
    cases = [(["x", "w", "b5"], {"algorithm": "winograd", "padding": [1, 0, 1, 2]}, {"w": (w, w_coded)}),
             (["x", "dw", "b6", "pw", "b7"], {"algorithm": "separable", "groups": 6, "stride": [2, 2],
                                                "padding": [0, 0, 1, 1], "depthwise_activation": "relu6"},
              {"dw": (dw, dw_coded), "pw": (pw, pw_coded)})]
    for inputs, attrs, weights in cases:
        outputs = []
        for pick in [(0, 0), (1, 1), (1, 0), (0, 1)][:2 ** len(weights)]:
            constants = {**zeros, **{name: pair[p] for (name, pair), p in zip(weights.items(), pick)}}
            graph = Graph([TensorSpec("x", x.shape)], ["y"], [Node("conv2d", inputs, ["y"], attrs)], constants)
            outputs.append(Engine(graph)(x)[0])
        for y in outputs[1:]:
            np.testing.assert_array_equal(y, outputs[0])


def describe(hw=(12, 12), n=1, **attrs):
    """The description of a conv2d with a (cout, cin_g, *kernel) weight, for an n x C x hw input."""
    w = np.ones((attrs.pop("cout", 4), attrs.pop("cin_g", 1), *attrs.pop("kernel", (3, 3))), np.float32)
    x = np.ones((n, w.shape[1] * attrs.get("groups", 1), *hw), np.float32)
    return pyprune.kernels.testing.describe_operator("conv2d", attrs, [x, None], {1: w})[0]


@pytest.mark.parametrize("attrs,algorithm", [
    (dict(groups=4, padding=[1, 1, 1, 1]), "depthwise"),
    (dict(groups=4, stride=[2, 2], padding=[0, 0, 1, 1]), "depthwise"),  # TF "SAME", stride 2
    (dict(groups=4, dilation=[2, 2]), "depthwise"),  # on the taps kernel, as any window
    (dict(groups=4, kernel=(11, 11)), "depthwise"),
    (dict(groups=4, stride=[1, 2]), "depthwise"),
    (dict(groups=2, cin_g=2), "gemm"),
    (dict(cin_g=4, hw=(18, 18)), "winograd"),  # 16x16 outputs: 16 tiles
    (dict(groups=4, cout=8), "gemm"),  # a channel multiplier of 2 is not depthwise
])
def test_auto_picks_depthwise_for_every_depthwise_node(attrs, algorithm):
    text = describe(**attrs)
    assert f" {algorithm} " in text, text


# Where an ISA has no production row of a kernel family, the next lower ISA's runs.
FALLBACK = {"avx512": ("avx512", "avx2", "scalar"), "avx2": ("avx2", "scalar"), "neon": ("neon", "scalar")}


@pytest.mark.parametrize("kernel,stride,padding", [(3, 1, 1), (3, 2, 1), (5, 2, 2), (3, 1, 0), (5, 1, 2), (7, 1, 3), (7, 2, 3)])
@pytest.mark.parametrize("width", [12, 112])
def test_a_depthwise_node_names_the_kernel_it_runs(kernel, stride, padding, width):
    """A "same"-padding kernel where this ISA has one for the window and the width, else the
    strip kernel."""
    text = describe(hw=(12, width), groups=4, kernel=(kernel, kernel), stride=[stride] * 2, padding=[padding] * 4)
    isa = pyprune.isa()
    same = [u["name"] for u in pyprune.kernels.testing.dwconv2d_same_ukernels() if u["production"] and
            u["isa"] == isa and (u["kernel_size"], u["stride"]) == (kernel, stride) and padding == kernel // 2 and
            (u["max_width"] == 0 or width <= u["max_width"])]
    strip = [u["name"] for i in FALLBACK.get(isa, ("scalar",)) for u in pyprune.kernels.testing.dwconv2d_ukernels()
             if u["production"] and u["isa"] == i and (u["kernel_size"], u["stride"]) == (kernel, stride)]
    assert f" depthwise {(same or strip)[0]}" in text, text


@pytest.mark.parametrize("attrs", [dict(dilation=[2, 2]), dict(kernel=(1, 7), padding=[0, 3, 0, 3]),
                                   dict(kernel=(11, 11), padding=[5] * 4), dict(stride=[3, 3])])
def test_a_depthwise_node_no_strip_kernel_takes_runs_on_the_taps_kernel(attrs):
    text = describe(hw=(12, 12), groups=4, **attrs)
    isa = pyprune.isa()
    taps = {u["isa"]: u["name"] for u in pyprune.kernels.testing.dwconv2d_taps_ukernels() if u["production"]}
    assert f" depthwise {next(taps[i] for i in FALLBACK.get(isa, ('scalar',)) if i in taps)}" in text, text


# Output tiles from which "auto" runs Winograd on this machine's ISA (8 on AVX2, 10 on AVX-512,
# 4 on NEON), and for groups of fewer than SMALL_GROUP channels (36 on x86-64, 4 on NEON).
WINOGRAD = pyprune.kernels.capabilities().winograd
MIN_TILES, SMALL_GROUP, SMALL_GROUP_MIN_TILES = WINOGRAD.min_tiles, WINOGRAD.small_group_channels, \
    WINOGRAD.small_group_min_tiles


def by_tiles(tiles: int, group_channels: int = SMALL_GROUP) -> str:
    """What "auto" runs for a call of `tiles` output tiles whose groups have `group_channels`
    channels (the fewer of input's and output's; a dense convolution's count as many)."""
    if group_channels < 2:
        return "gemm"
    return "winograd" if tiles >= (MIN_TILES if group_channels >= SMALL_GROUP else SMALL_GROUP_MIN_TILES) else "gemm"


# (input size, batch, other attributes, algorithm "auto" runs): Winograd from MIN_TILES output
# tiles of 4x4 in the call (the batch's included) where it takes the convolution, gemm below and
# elsewhere.
AUTO_WINOGRAD = [
    ((6, 6), 1, {}, by_tiles(1)),  # 4x4 outputs: 1 tile
    ((6, 10), 1, {}, by_tiles(2)),  # 4x8 outputs: 2 tiles
    ((9, 9), 1, {}, by_tiles(4)),  # 7x7 outputs: 4 cut tiles
    ((10, 10), 1, {}, by_tiles(4)),  # 8x8 outputs: 4 tiles
    ((14, 10), 1, {}, by_tiles(6)),  # 12x8 outputs: 6 tiles
    ((12, 10), 1, {}, by_tiles(6)),  # 10x8 outputs: 6 tiles
    ((14, 10), 2, {}, by_tiles(12)),  # 6 tiles each, 12 in the call
    ((14, 14), 1, {}, by_tiles(9)),  # 12x12: 9 tiles
    ((12, 12), 1, {"padding": [1, 1, 1, 1]}, by_tiles(9)),  # 12x12: 9 tiles
    ((9, 30), 1, {"padding": [0, 2, 1, 0]}, by_tiles(16)),  # 8x30: 16 tiles, uneven padding
    ((30, 30), 1, {"dilation": [2, 2], "padding": [1, 1, 1, 1]}, "gemm"),  # padding no multiple of the dilation
    ((30, 30), 1, {"stride": [2, 2]}, "gemm"),
    ((30, 30), 1, {"groups": 2, "cin_g": 2}, by_tiles(49, 2)),
    ((30, 30), 1, {"groups": 2, "cin_g": 1}, "gemm"),  # one input channel per group
    ((30, 30), 1, {"algorithm": "gemm"}, "gemm"),  # asked for: never switched
]


def test_the_winograd_threshold_is_the_isas():
    assert MIN_TILES == {"neon": 4, "avx512": 10}.get(pyprune.isa(), 8)
    assert SMALL_GROUP == 8 and SMALL_GROUP_MIN_TILES == (4 if pyprune.isa() == "neon" else 36)


@pytest.mark.parametrize("hw,n,attrs,algorithm", AUTO_WINOGRAD)
def test_auto_runs_winograd_where_the_call_has_enough_tiles(hw, n, attrs, algorithm, rng):
    attrs = {"cin_g": 4, **attrs}
    text = describe(hw, n, cout=16, **dict(attrs))  # more outputs than few_outputs
    assert text.startswith("conv2d 3x3") and f" {algorithm} " in text, text
    groups = attrs.get("groups", 1)
    x = rng.standard_normal((n, attrs.pop("cin_g") * groups, *hw), dtype=np.float32)
    w = rng.standard_normal((16, x.shape[1] // groups, 3, 3), dtype=np.float32)
    got = conv(x, w, activation="relu", **attrs)
    np.testing.assert_array_equal(got, conv(x, w, activation="relu", **{**attrs, "algorithm": algorithm}))


@pytest.mark.parametrize("hw,channels,attrs,algorithm", [
    ((30, 30), 96, {"dilation": [2, 2], "padding": [2, 2, 2, 2]}, "winograd"),  # 4 phases of 15x15: 88 % real
    ((30, 30), 160, {"dilation": [4, 2]}, "winograd"),  # no padding: 22x26 outputs, 8 phases: 56 % x 160
    ((30, 30), 96, {"dilation": [4, 2]}, "gemm"),  # 56 % x 96: 54
    ((14, 14), 96, {"dilation": [2, 2], "padding": [2, 2, 2, 2]}, "winograd"),  # 77 % real x 96 channels: 74
    ((14, 14), 64, {"dilation": [2, 2], "padding": [2, 2, 2, 2]}, "gemm"),  # 77 % x 64: 49
    ((14, 14), 256, {"dilation": [6, 6], "padding": [6, 6, 6, 6]}, "winograd"),  # 36 phases of one tile: 34 % x 256
    ((14, 14), 128, {"dilation": [6, 6], "padding": [6, 6, 6, 6]}, "gemm"),  # ASPP 320 -> 128: 34 % x 128
    ((14, 14), 512, {"dilation": [12, 12], "padding": [12, 12, 12, 12]}, "gemm"),  # 9 % real x 512: 43
    ((30, 30), 96, {"dilation": [2, 2], "padding": [1, 1, 1, 1]}, "gemm"),  # padding no multiple of the dilation
])
def test_auto_runs_a_dilated_convolution_by_winograd_where_enough_of_its_phase_tiles_are_real(hw, channels, attrs,
                                                                                             algorithm):
    """On the input's phases, where the share of real outputs in the phases' tiles times the
    channels per group reaches 70 (and there are MIN_TILES tiles)."""
    text = describe(hw, 1, cout=channels, cin_g=channels, **attrs)
    assert f" {algorithm} " in text, text


@pytest.mark.parametrize("hw,n,groups,cin_g,cout_g,algorithm", [
    ((30, 30), 1, 4, 8, 8, by_tiles(49)),  # 8 channels per group, 49 tiles
    ((30, 30), 1, 4, 4, 8, by_tiles(49, 4)),  # 4 input channels per group
    ((30, 30), 1, 4, 8, 4, by_tiles(49, 4)),  # 4 output channels per group
    ((22, 22), 1, 8, 2, 3, by_tiles(25, 2)),
    ((18, 18), 2, 8, 2, 3, by_tiles(32, 2)),
    ((30, 30), 1, 8, 1, 4, "gemm"),  # one input channel per group
    ((6, 6), 3, 2, 8, 8, by_tiles(3)),  # 1 tile per image: the whole batch's count, as a dense one's
    ((6, 6), 16, 2, 8, 8, by_tiles(16)),
    ((14, 14), 2, 2, 16, 16, by_tiles(18)),  # 9 tiles per image
])
def test_auto_runs_a_grouped_convolution_by_winograd_where_groups_have_enough_channels(hw, n, groups, cin_g, cout_g,
                                                                                       algorithm, rng):
    text = describe(hw, n, cout=groups * cout_g, cin_g=cin_g, groups=groups)
    assert f" g{groups} {algorithm} " in text, text
    x = rng.standard_normal((n, groups * cin_g, *hw), dtype=np.float32)
    w = rng.standard_normal((groups * cout_g, cin_g, 3, 3), dtype=np.float32)
    got = conv(x, w, groups=groups, activation="relu")
    np.testing.assert_array_equal(got, conv(x, w, groups=groups, activation="relu", algorithm=algorithm))


@pytest.mark.parametrize("cout", [16, 8])
def test_auto_takes_each_input_size_as_it_comes(cout, rng):
    """One node run on sizes either side of the threshold, several times and from several
    threads at once: each call runs the algorithm its size asks for (below it the GEMM, or the
    sparse kernels for few outputs), prepared once."""
    w = rng.standard_normal((cout, 5, 3, 3), dtype=np.float32)
    graph = Graph([TensorSpec("x", (1, 5, 10, 10))], ["y"], [Node("conv2d", ["x", "w"], ["y"], {"padding": [1] * 4})],
                  {"w": w})
    engine = Engine(graph)
    below = {"algorithm": "gemm"}
    if cout <= pyprune.kernels.capabilities().sparse_rule.few_outputs:
        text = describe((4, 4), cout=cout, cin_g=5, padding=[1] * 4)
        below = {"algorithm": "sparse", "block": int(text.split(" block ")[1].split()[0])}
    xs = [rng.standard_normal((1, 5, hw, hw), dtype=np.float32) for hw in (4, 11, 6, 16)]
    want = [conv(x, w, padding=[1] * 4, **(below if by_tiles(((x.shape[2] + 3) // 4) ** 2) == "gemm"
                                           else {"algorithm": "winograd"})) for x in xs]

    def check(_):
        for x, y in zip(xs, want):
            np.testing.assert_array_equal(engine(x), y)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(check, range(8)))


@pytest.mark.parametrize("attrs,match", [
    (dict(algorithm="depthwise", groups=2, cin_g=2), "algorithm 'depthwise' does not take this convolution"),
    (dict(algorithm="depthwise", groups=4, padding=[3, 3, 3, 3]), "padding must be in \\[0, 2\\]"),
    (dict(algorithm="sparse", groups=4), "groups must be 1"),
    (dict(algorithm="sparse", block=3, cin_g=4), "block must be"),
    (dict(algorithm="sparse", stride=[1, 2], cin_g=4), "one stride for both axes"),
    (dict(algorithm="winograd", cin_g=4, kernel=(5, 5)), "algorithm 'winograd' does not take this convolution: "
                                                          "kernel_size must be 3x3"),
    (dict(algorithm="winograd", cin_g=4, stride=[1, 2]), "stride must be 1 for Winograd, got 1x2"),
    (dict(algorithm="winograd", cin_g=4, dilation=[2, 2], padding=[1, 1, 1, 1]),
     "padding must be a multiple of the dilation 2x2 on every side for Winograd"),
    (dict(algorithm="winograd", block=4, cin_g=4), "'block' applies only to algorithm 'sparse'"),
    (dict(algorithm="gemm", depthwise_activation="relu", cin_g=4), "'depthwise_activation' applies only to algorithm "
                                                                   "'separable'"),
    (dict(depthwise_activation_alpha=0.1, cin_g=4), "'depthwise_activation_alpha' applies only to algorithm"),
    (dict(algorithm="gemm", block=4, cin_g=4), "'block' applies only to algorithm 'sparse'"),
    (dict(algorithm="fast", cin_g=4), "attribute 'algorithm' must be one of"),
    (dict(strides=[1, 1], cin_g=4), "unknown attribute 'strides'"),
    (dict(stride=[0, 1], cin_g=4), "attribute 'stride' entries must be in"),
    (dict(padding=[1, 1, 1], cin_g=4), "attribute 'padding' must have 4 entries"),
    (dict(padding=[3, 0, 0, 0], cin_g=4), "padding must be in \\[0, 2\\] for a 3x3 kernel, got 3"),
    (dict(auto_pad="same", cin_g=4), "attribute 'auto_pad' must be one of"),
    (dict(auto_pad="same_upper", padding=[1, 1, 1, 1], cin_g=4), "'padding' cannot go with auto_pad 'same_upper'"),
    (dict(groups=3, cin_g=4), "must divide the 4 output channels"),
    (dict(activation="relu", activation_min=0.0, cin_g=4), "apply only to activation 'clamp'"),
    (dict(activation="tanh", activation_alpha=0.1, cin_g=4), "applies only to activation 'leaky_relu'"),
    (dict(activation="clamp", activation_min=2.0, activation_max=1.0, cin_g=4), "must not exceed"),
    (dict(activation="swish", cin_g=4), "attribute 'activation' must be one of"),
    (dict(activation="relu", activation_alpha="x", cin_g=4), "applies only"),
])
def test_bad_attributes_are_refused_naming_the_node(attrs, match):
    with pytest.raises(ValueError, match=match) as refused:
        describe(**attrs)
    assert str(refused.value).startswith("conv2d: ")


def test_winograd_on_many_small_groups_is_bounded_by_the_layers_whole_transformed_copy():
    """Each group pads its output channels to the GEMM's blocks and keeps 36 transformed taps per
    weight: half a million 1-channel groups would need gigabytes, which a node (a hostile file's
    among them) is refused before anything is allocated. A million groups: 72 * MR floats each
    pass the limit (2^28) for every GEMM tile of 4 rows or more."""
    groups = 1 << 20
    with pytest.raises(ValueError, match="too large for Winograd"):
        describe((3, 3), cout=groups, cin_g=1, groups=groups, padding=[1, 1, 1, 1], algorithm="winograd")
    assert " winograd " in describe((6, 6), cout=64, cin_g=1, groups=64, algorithm="winograd")


def test_bad_inputs_are_refused(rng):
    x = rng.standard_normal((1, 4, 6, 6), dtype=np.float32)
    w = rng.standard_normal((5, 4, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="input 1 \\(weight\\) must be a constant"):
        run("conv2d", {}, [x, w])
    with pytest.raises(ValueError, match="weight must have shape \\(Cout, Cin / groups, kh, kw\\)"):
        run("conv2d", {}, [x, None], {1: w[0]})
    with pytest.raises(ValueError, match="bias must have shape \\(5,\\)"):
        run("conv2d", {}, [x, None, None], {1: w, 2: np.zeros(4, np.float32)})
    with pytest.raises(ValueError, match="x must have 4 channels"):
        run("conv2d", {}, [np.ascontiguousarray(x[:, :3]), None], {1: w})
    with pytest.raises(ValueError, match="x must be NCHW"):
        run("conv2d", {}, [np.ascontiguousarray(x[0]), None], {1: w})
    with pytest.raises(ValueError, match="smaller than the 3x3 kernel"):
        run("conv2d", {}, [np.ascontiguousarray(x[:, :, :2]), None], {1: w})
    with pytest.raises(ValueError, match="the residual must have the output's shape \\(1, 5, 4, 4\\)"):
        run("conv2d", {}, [x, None, np.zeros((1, 5, 6, 6), np.float32)], {1: w})
    with pytest.raises(ValueError, match="takes 2 to 4 inputs"):
        run("conv2d", {}, [x])


def separable_inputs(rng, c=4, cout=8, k=3):
    return (rng.standard_normal((c, 1, k, k), dtype=np.float32), rng.standard_normal(c, dtype=np.float32),
            rng.standard_normal((cout, c, 1, 1), dtype=np.float32), rng.standard_normal(cout, dtype=np.float32))


@pytest.mark.parametrize("change,attrs,match", [
    (dict(), dict(groups=1), "algorithm 'separable' does not take this convolution: it is not depthwise"),
    (dict(), dict(dilation=[2, 2]), "algorithm 'separable' does not take this convolution: no depthwise kernel"),
    (dict(), dict(padding=[2, 2, 2, 2]), "padding must be in \\[0, 1\\]"),
    (dict(), dict(block=4), "'block' applies only to algorithm 'sparse'"),
    (dict(), dict(depthwise_activation="swish"), "attribute 'depthwise_activation' must be one of"),
    (dict(), dict(depthwise_activation="relu", depthwise_activation_min=0.0),
     "'depthwise_activation_min' and 'depthwise_activation_max' apply only to depthwise_activation 'clamp'"),
    (dict(), dict(depthwise_activation="tanh", depthwise_activation_alpha=0.1),
     "'depthwise_activation_alpha' applies only to depthwise_activation 'leaky_relu'"),
    (dict(), dict(depthwise_activation="clamp", depthwise_activation_min=1.0, depthwise_activation_max=0.0),
     "'depthwise_activation_min' must not exceed 'depthwise_activation_max'"),
    (dict(), dict(depthwise_activations="relu"), "unknown attribute 'depthwise_activations'"),
    (dict(dw=np.ones((4, 1, 3), np.float32)), dict(), "depthwise weight must have shape \\(C, 1, kh, kw\\)"),
    (dict(db=np.ones(5, np.float32)), dict(), "depthwise bias must have shape \\(4,\\)"),
    (dict(pw=np.ones((8, 5, 1, 1), np.float32)), dict(), "pointwise weight must have shape \\(Cout, 4, 1, 1\\)"),
    (dict(pw=np.ones((8, 4, 3, 3), np.float32)), dict(), "pointwise weight must have shape \\(Cout, 4, 1, 1\\)"),
    (dict(pb=np.ones(4, np.float32)), dict(), "pointwise bias must have shape \\(8,\\)"),
])
def test_separable_refusals_name_the_attribute_or_input(change, attrs, match, rng):
    x = rng.standard_normal((1, 4, 6, 6), dtype=np.float32)
    weights = dict(zip(("dw", "db", "pw", "pb"), separable_inputs(rng)), **change)
    attrs = {"groups": 4, "padding": [1, 1, 1, 1], **attrs}
    with pytest.raises(ValueError, match=match) as refused:
        separable(x, *weights.values(), **attrs)
    assert str(refused.value).startswith("conv2d: ")


def test_separable_bad_inputs_are_refused(rng):
    x = rng.standard_normal((1, 4, 6, 6), dtype=np.float32)
    dw, db, pw, pb = separable_inputs(rng)
    attrs = {"groups": 4, "padding": [1, 1, 1, 1], "algorithm": "separable"}
    with pytest.raises(ValueError, match="algorithm 'separable' takes 5 or 6 inputs"):
        run("conv2d", attrs, [x, None, None], {1: dw, 2: db})
    with pytest.raises(ValueError, match="input 3 \\(pointwise weight\\) must be a constant"):
        run("conv2d", attrs, [x, None, None, pw, None], {1: dw, 2: db, 4: pb})
    with pytest.raises(ValueError, match="input 2 \\(depthwise bias\\) must be a constant"):
        run("conv2d", attrs, [x, None, db, None, None], {1: dw, 3: pw, 4: pb})
    with pytest.raises(ValueError, match="the residual must have the output's shape \\(1, 8, 6, 6\\)"):
        separable(x, dw, db, pw, pb, np.zeros((1, 4, 6, 6), np.float32), groups=4, padding=[1, 1, 1, 1])
    with pytest.raises(ValueError, match="x must have 4 channels"):
        separable(np.ones((1, 3, 6, 6), np.float32), dw, db, pw, pb, groups=4, padding=[1, 1, 1, 1])


@pytest.mark.parametrize("n,cin,cout,hw,stride,padding,dilation,groups", [
    (1, 64, 64, (28, 28), (1, 1), (1, 1, 1, 1), (1, 1), 32),  # ResNeXt's 3x3, 2 channels per group
    (2, 64, 64, (15, 28), (2, 2), (1, 1, 1, 1), (1, 1), 8),
    (1, 96, 48, (20, 17), (1, 2), (1, 0, 2, 1), (1, 1), 16),
    (3, 64, 64, (14, 14), (1, 1), (2, 2, 2, 2), (2, 2), 64),
    (1, 68, 68, (9, 30), (2, 1), (0, 1, 1, 2), (1, 1), 4),  # 17 channels per group
])
def test_grouped_on_phase_planes_matches_torch(n, cin, cout, hw, stride, padding, dilation, groups, rng):
    for residual, activation in [(False, None), (True, {"activation": "gelu"})]:
        check(rng, n, cin, cout, hw, (3, 3), stride, padding, dilation, groups, activation, residual)


@st.composite
def grouped_convolutions(draw):
    """Grouped convolutions with few channels per group (ResNeXt's, RegNet's) and ragged edges:
    1 to 17 channels per group, 2 to 64 groups, strides 1 and 2, any padding, sizes 1 to 30."""
    groups = draw(st.integers(2, 64))
    cin_g, cout_g = draw(st.integers(1, 17)), draw(st.integers(1, 17))
    assume(groups * max(cin_g, cout_g) <= 256)
    k = draw(st.sampled_from([(3, 3), (3, 3), (1, 1), (5, 5), (3, 1)]))
    stride = draw(st.sampled_from([(1, 1), (2, 2), (1, 2), (2, 1)]))
    dilation = draw(st.sampled_from([(1, 1), (1, 1), (2, 2)]))
    extent = [d * (kernel - 1) + 1 for kernel, d in zip(k, dilation)]
    padding = tuple(draw(st.integers(0, min(2, extent[side % 2] - 1))) for side in range(4))
    hw = (draw(st.integers(1, 30)), draw(st.integers(1, 30)))
    for size, pad, e in zip(hw, (padding[0] + padding[2], padding[1] + padding[3]), extent):
        assume(size + pad >= e)
    return draw(st.integers(1, 3)), cin_g * groups, cout_g * groups, hw, k, stride, padding, dilation, groups


@settings(max_examples=40, deadline=None)
@given(grouped_convolutions(), st.integers(0, 2**32 - 1))
def test_grouped_matches_torch_and_does_not_depend_on_the_thread_count(conv_args, seed):
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            pyprune.set_num_threads(threads)
            results.append(check(np.random.default_rng(seed), *conv_args, residual=bool(seed % 2),
                                 activation={"activation": "relu"} if seed % 3 == 0 else None))
        np.testing.assert_array_equal(results[1], results[0])
    finally:
        pyprune.set_num_threads(before)


def test_results_do_not_depend_on_the_thread_count(rng):
    x = rng.standard_normal((2, 16, 23, 19), dtype=np.float32)
    cases = [(rng.standard_normal((24, 16, 3, 3), dtype=np.float32), dict(padding=[1, 0, 1, 2], algorithm="gemm")),
             (rng.standard_normal((40, 16, 3, 3), dtype=np.float32), dict(padding=[1, 0, 1, 2], algorithm="winograd")),
             (rng.standard_normal((40, 16, 3, 3), dtype=np.float32),
              dict(dilation=[2, 3], padding=[2, 0, 4, 3], algorithm="winograd")),
             (rng.standard_normal((16, 1, 3, 3), dtype=np.float32), dict(groups=16, stride=[2, 2], padding=[0, 0, 1, 1])),
             (rng.standard_normal((24, 16, 1, 1), dtype=np.float32) * (rng.random((24, 16, 1, 1)) > 0.7),
              dict(algorithm="sparse", block=4))]
    before = pyprune.get_num_threads()
    try:
        for w, attrs in cases:
            results = []
            for threads in (1, 2, 5):
                pyprune.set_num_threads(threads)
                y = conv(x, w, **attrs)
                r = rng.standard_normal(y.shape, dtype=np.float32) if not results else results[0][1]
                results.append((conv(x, w, None, r, activation="gelu", **attrs), r))
            for got, _ in results[1:]:
                np.testing.assert_array_equal(got, results[0][0])
    finally:
        pyprune.set_num_threads(before)


def test_macs_and_description(rng):
    text = describe(cin_g=4, cout=8, stride=[2, 1], activation="silu")
    kernels = {u["name"] for u in [*_core.testing.gemm_ukernels(), *_core.testing.conv2d_outvec_ukernels()]}
    assert text.startswith("conv2d 3x3 s2x1 gemm ") and text.split()[4] in kernels and text.endswith("+ silu"), text
    x = np.ones((2, 4, 9, 8), np.float32)
    w = np.ones((6, 4, 3, 1), np.float32)
    r = np.ones((2, 6, 9, 8), np.float32)
    text, macs = pyprune.kernels.testing.describe_operator("conv2d", {"padding": [1, 0, 1, 0]}, [x, None, r], {1: w})
    assert macs == 2 * 6 * 4 * 3 * 9 * 8 and text.endswith("+ residual"), text
    w[:, :, 1:] = 0
    text, macs = pyprune.kernels.testing.describe_operator("conv2d", {"algorithm": "sparse"}, [x, None], {1: w})
    assert " sparse block 1 pp_f32_spmm" in text and macs == 2 * 6 * 4 * 7 * 8, text


def test_separable_results_do_not_depend_on_the_thread_count(rng):
    x = rng.standard_normal((2, 48, 61, 37), dtype=np.float32)
    dw, db, pw, pb = separable_inputs(rng, 48, 40)
    attrs = dict(groups=48, padding=[1, 1, 1, 1], depthwise_activation="hardswish", activation="silu")
    r = rng.standard_normal((2, 40, 61, 37), dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            pyprune.set_num_threads(threads)
            results.append(separable(x, dw, db, pw, pb, r, **attrs))
        np.testing.assert_array_equal(results[1], results[0])
    finally:
        pyprune.set_num_threads(before)


def test_winograd_and_separable_macs_and_description(rng):
    x = np.ones((2, 4, 9, 8), np.float32)
    w = np.ones((6, 4, 3, 3), np.float32)
    r = np.ones((2, 6, 9, 8), np.float32)
    attrs = {"algorithm": "winograd", "padding": [1, 1, 1, 1], "activation": "relu"}
    text, macs = pyprune.kernels.testing.describe_operator("conv2d", attrs, [x, None, r], {1: w})
    assert text.startswith("conv2d 3x3 winograd F(4x4,3x3) pp_f32_winograd_input_ukernel_4x4") and \
        " pp_f32_gemm" in text and text.endswith("+ residual + relu"), text
    assert macs == 2 * 6 * 4 * 9 * 9 * 8  # the convolution's, as for gemm
    dw, db, pw, pb = separable_inputs(rng, 4, 6)
    attrs = {"algorithm": "separable", "groups": 4, "stride": [2, 2], "padding": [0, 0, 1, 1],
             "depthwise_activation": "relu6", "activation": "hardswish"}
    r = np.ones((2, 6, 4, 4), np.float32)
    text, macs = pyprune.kernels.testing.describe_operator("conv2d", attrs, [x, None, None, None, None, r],
                                                           {1: dw, 2: db, 3: pw, 4: pb})
    assert text.startswith("conv2d 3x3 s2 g4 separable pp_f32_dwconv2d") and \
        "+ relu6 -> 1x1 pp_f32_gemm" in text and text.endswith("+ residual + hardswish"), text
    assert macs == 2 * 4 * 4 * (4 * 9 + 6 * 4)  # both halves
    plain = {k: v for k, v in attrs.items() if not k.startswith("depthwise_")}
    text, _ = pyprune.kernels.testing.describe_operator("conv2d", plain, [x, None, None, None, None],
                                                        {1: dw, 2: db, 3: pw, 4: pb})
    assert " separable pp_f32_dwconv2d" in text and " -> 1x1 " in text and "+ relu6" not in text, text


def sparse_weight(rng, shape, density, block):
    """A weight with about `density` of its entries non-zero, in blocks of `block` output channels."""
    rows = -(-shape[0] // block)
    keep = rng.random((rows, *shape[1:])) < density
    return rng.standard_normal(shape, dtype=np.float32) * np.repeat(keep, block, axis=0)[:shape[0]]


@pytest.mark.parametrize("kernel,stride,padding", [(1, 1, 0), (3, 2, 1), (3, 1, 1), (1, 2, 0)])
@pytest.mark.parametrize("density", [0.05, 0.3, 0.42, 0.6, 1.0])
@pytest.mark.parametrize("block", [1, 4])
def test_auto_runs_sparse_weights_sparse_as_the_sparse_policy_would(kernel, stride, padding, density, block, rng):
    # One rule: the engine's "auto" (which the runtime and saved graphs use) and SparsePolicy's
    # defaults (which convert uses) read the same crossovers and block costs.
    w = sparse_weight(rng, (19, 8, kernel, kernel), density, block)
    conv_module = torch.nn.Conv2d(8, 19, kernel, stride, padding, bias=False)
    conv_module.weight.data = torch.from_numpy(w)
    wanted = pyprune.nn.SparsePolicy().choose("c", pyprune.nn.convspec.ConvSpec.from_torch(conv_module))
    attrs = {"stride": [stride] * 2, "padding": [padding] * 4}
    x = rng.standard_normal((1, 8, 10, 9), dtype=np.float32)
    text, _ = pyprune.kernels.testing.describe_operator("conv2d", attrs, [x, None], {1: w})
    assert (f" sparse block {wanted} " in text) if wanted else " sparse " not in text, (wanted, text)
    want = reference(x, w, None, None, (stride, stride), (padding,) * 4, (1, 1), 1, {})
    assert_close(conv(x, w, **attrs), want, 8 * kernel * kernel)


@pytest.mark.parametrize("out_channels,kernel,stride,padding,hw,algorithm", [
    (3, 5, 1, 2, (13, 11), "sparse"), (8, 3, 2, 0, (13, 11), "sparse"), (1, 7, 1, 3, (9, 16), "sparse"),
    (12, (5, 3), 2, 0, (13, 11), "sparse"),
    (13, 5, 1, 2, (13, 11), "gemm"),  # more outputs than few_outputs
    (3, 1, 1, 0, (13, 11), "gemm"),  # 1x1: the GEMM reads its input in place
    (4, 3, 1, 1, (30, 30), "winograd"),  # 3x3 stride 1 is Winograd's where the call has the tiles
    (4, 3, 1, 1, (5, 4), "sparse"),  # and the sparse kernels' below
    (3, 5, 1, 2, (1, 1), "gemm"),  # an input of one pixel: a linear layer
    (4, 3, 2, 1, (13, 11), "direct")])  # 3x3 stride 2 padding 1 where a direct kernel takes it, else sparse
def test_auto_runs_dense_convolutions_of_few_outputs_on_the_sparse_kernels(out_channels, kernel, stride, padding, hw,
                                                                          algorithm, rng):
    kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    w = rng.standard_normal((out_channels, 6, *kernel), dtype=np.float32)
    b = rng.standard_normal(out_channels, dtype=np.float32)
    attrs = {"stride": [stride] * 2, "padding": [padding] * 4, "activation": "relu"}
    graph = Graph([TensorSpec("x", (2, 6, *hw))], ["y"], [Node("conv2d", ["x", "w", "b"], ["y"], attrs, "conv")],
                  {"w": w, "b": b}, dynamic_batch=True)
    engine = Engine(graph)
    text = engine.describe()[0].kernel
    if algorithm == "direct":
        algorithm = "gemm" if "3x3s2p1" in pyprune.kernels.testing.describe_operator(
            "conv2d", {"stride": [2, 2], "padding": [1] * 4, "algorithm": "gemm"}, [np.ones((1, 6, 13, 11), np.float32),
                                                                                  None], {1: w})[0] else "sparse"
    assert f" {algorithm} " in text, text
    for n, size in [(2, hw), (1, (hw[0] + 9, hw[1] + 4)), (3, hw)]:  # one node, any input size
        x = rng.standard_normal((n, 6, *size), dtype=np.float32)
        want = reference(x, w, b, None, (stride, stride), (padding,) * 4, (1, 1), 1, {"activation": "relu"})
        assert_close(engine(x), want, 6 * kernel[0] * kernel[1])


@pytest.mark.parametrize("attrs,algorithm", [
    ({"groups": 2}, "gemm"), ({"dilation": [2, 2], "stride": [2, 2]}, "gemm"),
    ({"dilation": [2, 3], "padding": [2, 3, 2, 3]}, "sparse"), ({"dilation": [3, 1], "padding": [0, 1, 5, 0]}, "sparse")])
def test_auto_runs_sparse_weights_dilated_at_stride_1_sparse(attrs, algorithm, rng):
    """The sparse kernels take a dilation at stride 1 (the taps' offsets spread out); grouped
    and strided dilated convolutions stay on the GEMM."""
    groups = attrs.get("groups", 1)
    w = sparse_weight(rng, (16, 8 // groups, 3, 3), 0.1, 1)
    x = rng.standard_normal((2, 8, 10, 9), dtype=np.float32)
    text, _ = pyprune.kernels.testing.describe_operator("conv2d", attrs, [x, None], {1: w})
    assert f" {algorithm} " in text, text
    want = reference(x, w, None, None, attrs.get("stride", (1, 1)), attrs.get("padding", (0,) * 4),
                     attrs.get("dilation", (1, 1)), groups, {})
    assert_close(conv(x, w, **attrs), want, 72)


@settings(max_examples=60, deadline=None)
@given(n=st.sampled_from([1, 3]), groups=st.sampled_from([1, 2, 3]), cin_g=st.integers(1, 5),
       cout_g=st.integers(1, 5), kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       pads=st.tuples(*[st.integers(0, 2)] * 4), hw=st.tuples(st.integers(5, 12), st.integers(5, 12)),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_dynamic_conv2d_matches_torch(n, groups, cin_g, cout_g, kernel, stride, dilation, pads, hw, bias, seed):
    """The weight (and bias) as computed inputs; the groups read off x's channels over the
    weight's dim 1."""
    rng = np.random.default_rng(seed)
    padding = [min(p, (k - 1) * d) for p, k, d in zip(pads, kernel * 2, dilation * 2)]
    assume(all(h + padding[i] + padding[i + 2] >= (k - 1) * d + 1
               for i, (h, k, d) in enumerate(zip(hw, kernel, dilation))))
    x = rng.standard_normal((n, groups * cin_g, *hw), dtype=np.float32)
    w = rng.standard_normal((groups * cout_g, cin_g, *kernel), dtype=np.float32)
    b = rng.standard_normal(groups * cout_g, dtype=np.float32) if bias else None
    attrs = {"stride": list(stride), "padding": padding, "dilation": list(dilation)}
    got = run("dynamic_conv2d", attrs, [x, w] + ([b] if bias else []))[0]
    assert_close(got, reference(x, w, b, None, stride, padding, dilation, groups, {}), cin_g * kernel[0] * kernel[1])


@pytest.mark.parametrize("n, c, kernel, hw", [(1, 64, (5, 5), (29, 29)), (2, 16, (3, 3), (13, 11)), (3, 8, (7, 1), (9, 9))])
def test_dynamic_conv2d_depthwise_matches_torch(n, c, kernel, hw, rng):
    """A tracker's cross-correlation: the template's features, one kernel a channel, over the
    search features with the batch folded into the channels (groups = batch x channels)."""
    x = rng.standard_normal((1, n * c, *hw), dtype=np.float32)
    w = rng.standard_normal((n * c, 1, *kernel), dtype=np.float32)
    got = run("dynamic_conv2d", {}, [x, w])[0]
    assert_close(got, reference(x, w, None, None, (1, 1), (0, 0, 0, 0), (1, 1), n * c, {}), kernel[0] * kernel[1])
    described, macs = _core.testing.describe_operator("dynamic_conv2d", {}, [x, w])
    assert "depthwise" in described, described
    assert macs == got.size * kernel[0] * kernel[1]


def test_dynamic_conv2d_refuses_shapes_that_do_not_fit(rng):
    x = rng.standard_normal((1, 6, 6, 6), dtype=np.float32)
    w = rng.standard_normal((4, 4, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="the weight's 4 channels a group do not divide the 6 of x"):
        run("dynamic_conv2d", {}, [x, w])
    with pytest.raises(ValueError, match="the 3 groups .* must divide the weight's 4 output channels"):
        run("dynamic_conv2d", {}, [x, np.ascontiguousarray(w[:, :2])])
    with pytest.raises(ValueError, match="bias must have shape \\(4,\\)"):
        run("dynamic_conv2d", {}, [x, np.ascontiguousarray(w[:, :3]), np.zeros(3, np.float32)])
    with pytest.raises(ValueError, match="weight must have shape"):
        run("dynamic_conv2d", {}, [x, w[0]])
    with pytest.raises(ValueError, match="x must be NCHW"):
        run("dynamic_conv2d", {}, [x[0], np.ascontiguousarray(w[:, :3])])
    with pytest.raises(ValueError, match="smaller than the 3x3 kernel"):
        run("dynamic_conv2d", {}, [np.ascontiguousarray(x[:, :, :2]), np.ascontiguousarray(w[:, :3])])
    with pytest.raises(ValueError, match="takes 2 or 3 inputs"):
        run("dynamic_conv2d", {}, [x])
    with pytest.raises(ValueError, match="unknown attribute 'groups'"):
        run("dynamic_conv2d", {"groups": 2}, [x, np.ascontiguousarray(w[:, :3])])
