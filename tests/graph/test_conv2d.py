"""The conv2d operator against torch: every algorithm, rectangular kernels, strides, asymmetric
padding, dilation, groups, batch 1 and 3, every activation, with and without a residual; what
auto chooses; attributes and inputs it refuses, naming the node."""

import itertools

import numpy as np
import pytest
from operator_cases import ACTIVATIONS, assert_close, run, torch_activation

import pyprune

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
    assert_close(got, want, cin // groups * kernel[0] * kernel[1])
    return got


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


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a.get("activation", "default"))
@pytest.mark.parametrize("residual", [False, True])
def test_every_activation_with_and_without_residual(activation, residual, rng):
    for algorithm, groups, kernel, stride in [("gemm", 1, (3, 3), (1, 1)), ("gemm", 1, (1, 1), (1, 1)),
                                              ("depthwise", 6, (3, 3), (2, 2)), ("sparse", 1, (3, 3), (1, 1))]:
        padding = (0, 0, 0, 0) if kernel == (1, 1) else (1, 1, 1, 1)
        check(rng, 1 + 2 * residual, 6, 6, (9, 10), kernel, stride, padding, groups=groups, activation=activation,
              residual=residual, algorithm=algorithm, sparsity=0.6 if algorithm == "sparse" else 0.0)


def depthwise_cases():
    for case in pyprune.kernels.capabilities().depthwise:
        k, s, p = case.kernel_size, case.stride, case.max_padding
        for padding in [(p, p, p, p), (0, 0, 0, 0), (p - 1 if p else 0, p, p, 0), (0, 0, p, p)]:
            yield pytest.param(k, s, padding, id=f"{k}x{k}s{s}-{'-'.join(map(str, padding))}")


@pytest.mark.parametrize("k,s,padding", list(depthwise_cases()))
def test_depthwise_asymmetric_padding_matches_torch(k, s, padding, rng):
    for n, c, hw in [(1, 5, (14, 9)), (3, 3, (7, 16))]:
        check(rng, n, c, c, hw, (k, k), (s, s), padding, groups=c, activation={"activation": "hardswish"},
              residual=n == 3, algorithm="depthwise")


@pytest.mark.parametrize("block", pyprune.kernels.capabilities().sparse_blocks)
@pytest.mark.parametrize("kernel,stride,padding", [((1, 1), (1, 1), (0, 0, 0, 0)), ((3, 3), (2, 2), (0, 0, 1, 1)),
                                                   ((1, 3), (1, 1), (0, 1, 0, 1)), ((3, 3), (1, 1), (1, 1, 1, 1)),
                                                   ((1, 1), (2, 2), (0, 0, 0, 0))])
def test_sparse_matches_torch(block, kernel, stride, padding, rng):
    for n, residual in [(1, False), (3, True)]:
        check(rng, n, 7, 13, (11, 10), kernel, stride, padding, activation={"activation": "silu"}, residual=residual,
              algorithm="sparse", block=block, sparsity=0.8)


def describe(**attrs):
    """The description of a conv2d with a (cout, cin_g, *kernel) weight."""
    w = np.ones((attrs.pop("cout", 4), attrs.pop("cin_g", 1), *attrs.pop("kernel", (3, 3))), np.float32)
    x = np.ones((1, w.shape[1] * attrs.get("groups", 1), 12, 12), np.float32)
    return pyprune.kernels.testing.describe_operator("conv2d", attrs, [x, None], {1: w})[0]


@pytest.mark.parametrize("attrs,algorithm", [
    (dict(groups=4, padding=[1, 1, 1, 1]), "depthwise"),
    (dict(groups=4, stride=[2, 2], padding=[0, 0, 1, 1]), "depthwise"),  # TF "SAME", stride 2
    (dict(groups=4, dilation=[2, 2]), "gemm"),
    (dict(groups=4, kernel=(9, 9)), "gemm"),
    (dict(groups=4, stride=[1, 2]), "gemm"),
    (dict(groups=2, cin_g=2), "gemm"),
    (dict(cin_g=4), "gemm"),
    (dict(groups=4, cout=8), "gemm"),  # a channel multiplier of 2 is not depthwise
])
def test_auto_picks_depthwise_only_where_a_depthwise_kernel_takes_the_node(attrs, algorithm):
    text = describe(**attrs)
    assert f" {algorithm} " in text, text


@pytest.mark.parametrize("attrs,match", [
    (dict(algorithm="depthwise", groups=2, cin_g=2), "algorithm 'depthwise' does not take this convolution"),
    (dict(algorithm="depthwise", groups=4, dilation=[2, 2]), "no depthwise kernel takes a 3x3 d2 window"),
    (dict(algorithm="depthwise", groups=4, padding=[2, 2, 2, 2]), "padding must be in \\[0, 1\\]"),
    (dict(algorithm="sparse", groups=4), "groups must be 1"),
    (dict(algorithm="sparse", block=3, cin_g=4), "block must be"),
    (dict(algorithm="sparse", stride=[1, 2], cin_g=4), "one stride for both axes"),
    (dict(algorithm="winograd", cin_g=4), "no kernel in this build"),
    (dict(algorithm="gemm", block=4, cin_g=4), "'block' applies only to algorithm 'sparse'"),
    (dict(algorithm="fast", cin_g=4), "attribute 'algorithm' must be one of"),
    (dict(strides=[1, 1], cin_g=4), "unknown attribute 'strides'"),
    (dict(stride=[0, 1], cin_g=4), "attribute 'stride' entries must be in"),
    (dict(padding=[1, 1, 1], cin_g=4), "attribute 'padding' must have 4 entries"),
    (dict(padding=[3, 0, 0, 0], cin_g=4), "padding must be in \\[0, 2\\] for a 3x3 kernel, got 3"),
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


def test_results_do_not_depend_on_the_thread_count(rng):
    x = rng.standard_normal((2, 16, 23, 19), dtype=np.float32)
    cases = [(rng.standard_normal((24, 16, 3, 3), dtype=np.float32), dict(padding=[1, 0, 1, 2], algorithm="gemm")),
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
    assert text.startswith("conv2d 3x3 s2x1 gemm pp_f32_gemm") and text.endswith("+ silu"), text
    x = np.ones((2, 4, 9, 8), np.float32)
    w = np.ones((6, 4, 3, 1), np.float32)
    r = np.ones((2, 6, 9, 8), np.float32)
    text, macs = pyprune.kernels.testing.describe_operator("conv2d", {"padding": [1, 0, 1, 0]}, [x, None, r], {1: w})
    assert macs == 2 * 6 * 4 * 3 * 9 * 8 and text.endswith("+ residual"), text
    w[:, :, 1:] = 0
    text, macs = pyprune.kernels.testing.describe_operator("conv2d", {"algorithm": "sparse"}, [x, None], {1: w})
    assert " sparse block 1 pp_f32_spmm" in text and macs == 2 * 6 * 4 * 7 * 8, text
