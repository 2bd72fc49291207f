"""The optimisation passes, each on small graphs built for it (what it must and must not rewrite)
and all of them on the zoo: the graph's outputs never change."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from capture_helpers import assert_matches, lowered, ops, zoo_lowered  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from zoo import ZOO  # noqa: E402

from pyprune.capture import optimize as O  # noqa: E402
from pyprune.capture import reference  # noqa: E402
from pyprune.capture.lower import Lowered, Origin  # noqa: E402
from pyprune.graph import ir  # noqa: E402


def make(nodes, constants, inputs=(("x", (2, 4, 6, 6)),), outputs=None, seed=0):
    """A Lowered graph of these nodes; its tensors' example values come from a reference run."""
    rng = np.random.default_rng(seed)
    nodes = copy.deepcopy(list(nodes))  # passes rewrite nodes in place
    consts = {k: np.asarray(v, np.float32) for k, v in constants.items()}
    g = ir.Graph([ir.TensorSpec(n, s) for n, s in inputs], outputs or [nodes[-1].outputs[0]], nodes, consts)
    xs = [torch.from_numpy(rng.standard_normal(s).astype(np.float32)) for _, s in inputs]
    values = reference.evaluate(g, xs)
    origins = {n.outputs[0]: [Origin(n.name, n.op)] for n in nodes}
    return Lowered(g, [], {}, origins, None, values), xs


def outputs_kept(low, xs, change):
    """Applies `change` to `low`; the outputs must stay what they were. Returns its count."""
    before = reference.run(low.graph, xs)
    count = change(low)
    after = reference.run(low.graph, xs)
    for a, b in zip(after, before):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    return count


def conv(x, out, w, b=None, **attrs):
    return ir.Node("conv2d", [x, w] + ([b] if b else []), [out], {"stride": [1, 1], "padding": [1, 1, 1, 1],
                                                                 "dilation": [1, 1], "groups": 1, **attrs}, out)


def weights(cout, cin, k=3, seed=1):
    return np.random.default_rng(seed).standard_normal((cout, cin, k, k)).astype(np.float32)


@settings(max_examples=25, deadline=None)
@given(groups=st.sampled_from([1, 2, 4]), bias=st.booleans(), stride=st.sampled_from([1, 2]),
       follower=st.sampled_from(["batch_norm", "mul", "div", "add", "sub", "scalar"]))
def test_affine_ops_fold_into_the_convolution(groups, bias, stride, follower):
    rng = np.random.default_rng(groups + 7 * stride)
    c = {"w": weights(8, 4 // groups), "b": rng.standard_normal(8), "s": rng.uniform(0.5, 2, 8),
         "t": rng.standard_normal(8), "v": rng.uniform(0.5, 2, (8, 1, 1)), "k": np.float32(3.0)}
    first = conv("x", "y", "w", "b" if bias else None, groups=groups, stride=[stride, stride])
    second = {"batch_norm": ir.Node("batch_norm", ["y", "s", "t"], ["z"]),
              "mul": ir.Node("mul", ["v", "y"], ["z"]), "div": ir.Node("div", ["y", "v"], ["z"]),
              "add": ir.Node("add", ["y", "v"], ["z"]), "sub": ir.Node("sub", ["y", "v"], ["z"]),
              "scalar": ir.Node("mul", ["y", "k"], ["z"])}[follower]
    low, xs = make([first, second], c)
    assert outputs_kept(low, xs, O.fold_affine) == 1
    assert ops(low) == ["conv2d"] and low.graph.nodes[0].outputs == ["z"]
    assert [o.aten for o in low.origins["z"]] == ["conv2d", second.op]


def test_what_does_not_fold():
    c = {"w": weights(4, 4), "lastdim": np.ones(6, np.float32) * 2, "s": np.ones(4), "t": np.zeros(4)}
    # a per-last-dim constant is no per-channel scale of a convolution
    low, xs = make([conv("x", "y", "w"), ir.Node("mul", ["y", "lastdim"], ["z"])], c)
    assert outputs_kept(low, xs, O.fold_affine) == 0
    # c - y is not y times a scale plus a shift of the weights' form we fold
    low, xs = make([conv("x", "y", "w"), ir.Node("sub", ["s4", "y"], ["z"])], {**c, "s4": np.ones((4, 1, 1))})
    assert outputs_kept(low, xs, O.fold_affine) == 0
    # the convolution's output is read elsewhere too
    low, xs = make([conv("x", "y", "w"), ir.Node("batch_norm", ["y", "s", "t"], ["z"]), ir.Node("add", ["y", "z"], ["u"])], c)
    assert outputs_kept(low, xs, O.fold_affine) == 0
    # an activation sits between
    low, xs = make([conv("x", "y", "w", activation="relu"), ir.Node("batch_norm", ["y", "s", "t"], ["z"])], c)
    assert outputs_kept(low, xs, O.fold_affine) == 0


def test_batch_norm_after_linear_folds_only_over_its_features():
    c = {"w": np.random.default_rng(0).standard_normal((5, 6)), "s": np.full(5, 2.0), "t": np.ones(5)}
    low, xs = make([ir.Node("linear", ["x", "w"], ["y"]), ir.Node("batch_norm", ["y", "s", "t"], ["z"])], c,
                   inputs=(("x", (3, 6)),))
    assert outputs_kept(low, xs, O.fold_affine) == 1 and ops(low) == ["linear"]
    c = {"w": np.random.default_rng(0).standard_normal((5, 6)), "s": np.full(4, 2.0), "t": np.ones(4)}
    low, xs = make([ir.Node("linear", ["x", "w"], ["y"]), ir.Node("batch_norm", ["y", "s", "t"], ["z"])], c,
                   inputs=(("x", (3, 4, 6)),))  # batch norm reads dim 1, not the features
    assert outputs_kept(low, xs, O.fold_affine) == 0


def test_batch_norm_over_every_token_folds_into_the_linear_layer():
    """LeViT's bn(linear(x).flatten(0, 1)).reshape_as(x): the norm goes, the views stay."""
    rng = np.random.default_rng(1)
    c = {"w": rng.standard_normal((5, 6)), "s": rng.uniform(0.5, 2, 5), "t": rng.standard_normal(5)}
    nodes = [ir.Node("linear", ["x", "w"], ["y"]), ir.Node("reshape", ["y"], ["f"], {"shape": [-1, 5]}),
             ir.Node("batch_norm", ["f", "s", "t"], ["n"]), ir.Node("reshape", ["n"], ["z"], {"shape": [2, 3, 5]})]
    low, xs = make(nodes, c, inputs=(("x", (2, 3, 6)),))
    assert outputs_kept(low, xs, O.fold_affine) == 1 and ops(low) == ["linear", "reshape", "reshape"]
    # rows whose last dim is not the features: nothing folds
    low, xs = make(nodes[:1] + [ir.Node("reshape", ["y"], ["f"], {"shape": [5, 6]}),
                                ir.Node("batch_norm", ["f", "s6", "t6"], ["z"])],
                   {**c, "s6": np.ones(6), "t6": np.zeros(6)}, inputs=(("x", (2, 3, 6)),))
    assert outputs_kept(low, xs, O.fold_affine) == 0


def test_batch_norm_after_a_convolution_of_one_row_folds_through_its_view():
    """A Conv1d + BatchNorm1d (the convolution a conv2d over (N, C, 1, L), viewed back to
    (N, C, L)): the norm goes, the view stays; a view that moves the channels keeps it."""
    rng = np.random.default_rng(2)
    c = {"w": weights(4, 3), "s": rng.uniform(0.5, 2, 4), "t": rng.standard_normal(4)}
    nodes = [conv("x", "y", "w"), ir.Node("reshape", ["y"], ["f"], {"shape": [-2, -3, -1]}),
             ir.Node("batch_norm", ["f", "s", "t"], ["z"])]
    low, xs = make(nodes, c, inputs=(("x", (2, 3, 1, 9)),))
    assert outputs_kept(low, xs, O.fold_affine) == 1 and ops(low) == ["conv2d", "reshape"]
    moved = nodes[:1] + [ir.Node("reshape", ["y"], ["f"], {"shape": [-2, 9, 4]}), nodes[2]]
    low, xs = make(moved, {**c, "s": np.ones(9), "t": np.zeros(9)}, inputs=(("x", (2, 3, 1, 9)),))
    assert outputs_kept(low, xs, O.fold_affine) == 0
    # a TCN's chomp between them (x[:, :, :-2]), then ReLU: the norm folds, the ReLU fuses
    chomped = nodes[:2] + [ir.Node("slice", ["f"], ["g"], {"axis": 2, "end": -2}),
                           ir.Node("batch_norm", ["g", "s", "t"], ["n"]),
                           ir.Node("activation", ["n"], ["z"], {"activation": "relu"})]
    low, xs = make(chomped, c, inputs=(("x", (2, 3, 1, 9)),))
    assert outputs_kept(low, xs, O.fold_affine) == 1 and outputs_kept(low, xs, O.fuse_activations) == 1
    assert ops(low) == ["conv2d", "reshape", "slice"] and low.graph.nodes[0].attrs["activation"] == "relu"
    # a slice across the channels keeps the norm
    across = nodes[:1] + [ir.Node("slice", ["y"], ["g"], {"axis": 1, "end": 3}),
                          ir.Node("batch_norm", ["g", "s3", "t3"], ["z"])]
    low, xs = make(across, {**c, "s3": np.full(3, 2.0), "t3": np.ones(3)}, inputs=(("x", (2, 3, 1, 9)),))
    assert outputs_kept(low, xs, O.fold_affine) == 0


def test_residual_adds_fuse_into_the_convolution_when_shapes_match():
    c = {"w": weights(4, 4), "b": np.ones(4), "w2": weights(4, 4, 1), "v": np.ones((4, 1, 1))}
    nodes = [conv("x", "y", "w"), ir.Node("activation", ["x"], ["r"], {"activation": "relu"}),
             ir.Node("add", ["y", "r"], ["z"], {"activation": "relu"})]
    low, xs = make(nodes, c)
    assert outputs_kept(low, xs, O.fuse_residuals) == 1
    fused = low.graph.nodes[-1]  # at the add's place: the residual is computed by then
    assert fused.op == "conv2d" and fused.inputs[2:] == ["y.bias", "r"] and fused.attrs["activation"] == "relu"
    assert not low.graph.constants["y.bias"].any()
    # broadcasting operands, activations before the add and other readers keep the add
    for nodes in ([conv("x", "y", "w", "b"), ir.Node("add", ["y", "v"], ["z"])],
                  [conv("x", "y", "w", activation="relu"), ir.Node("add", ["y", "x"], ["z"])],
                  [conv("x", "y", "w"), ir.Node("add", ["y", "x"], ["z"]), ir.Node("add", ["z", "y"], ["u"])]):
        low, xs = make(nodes, c)
        assert outputs_kept(low, xs, O.fuse_residuals) == 0


BRANCHES = {  # name: (kernel (kh, kw), padding [top, left, bottom, right]) of a branch's convolution
    "3x3": ((3, 3), [1, 1, 1, 1]), "1x1": ((1, 1), [0, 0, 0, 0]), "1x3": ((1, 3), [0, 1, 0, 1]),
    "3x1": ((3, 1), [1, 0, 1, 0]), "5x5": ((5, 5), [2, 2, 2, 2]), "bn": None, "x": None}


@settings(max_examples=40, deadline=None)
@given(names=st.lists(st.sampled_from(sorted(BRANCHES)), min_size=2, max_size=4), depthwise=st.booleans(),
       stride=st.sampled_from([1, 1, 2]), bias=st.booleans(), seed=st.integers(0, 99))
def test_branches_of_one_input_merge_into_one_convolution(names, depthwise, stride, bias, seed):
    """RepVGG, ACNet, MobileOne: convolutions of x, a batch norm of x and x itself, added one
    by one, become one convolution with the largest window."""
    if stride != 1:  # x and a batch norm of x keep x's size: no branch of a strided block
        names = [n for n in names if BRANCHES[n] is not None] or ["3x3"]
    # added in this order: a convolution first (a batch norm plus x is no convolution to merge into)
    names = sorted(names, key=lambda n: BRANCHES[n] is None)
    if BRANCHES[names[0]] is None:
        names = ["1x1"] + names
    rng = np.random.default_rng(seed)
    groups, c, nodes = (4 if depthwise else 1), {}, []
    for i, name in enumerate(names):
        if BRANCHES[name] is None:
            c[f"s{i}"], c[f"t{i}"] = rng.uniform(0.5, 2, 4), rng.standard_normal(4)
            nodes.append(ir.Node("batch_norm", ["x", f"s{i}", f"t{i}"], [f"y{i}"]) if name == "bn" else None)
            continue
        (kh, kw), padding = BRANCHES[name]
        c[f"w{i}"] = rng.standard_normal((4, 4 // groups, kh, kw))
        if bias:
            c[f"b{i}"] = rng.standard_normal(4)
        nodes.append(conv("x", f"y{i}", f"w{i}", f"b{i}" if bias else None, padding=padding, groups=groups,
                          stride=[stride, stride]))
    branches = [n.outputs[0] if n is not None else "x" for n in nodes]
    graph = [n for n in nodes if n is not None]
    total = branches[0]
    for i, other in enumerate(branches[1:]):
        graph.append(ir.Node("add", [total, other], [f"sum{i}"]))
        total = f"sum{i}"
    low, xs = make(graph, c, inputs=(("x", (2, 4, 7, 6)),))
    # The adds merge in order while the merged window takes no more taps than the two kernels
    # it replaces (a 1x3 and a 3x1 alone stay: a 3x3 would take 9 where they take 6).
    expected, (h, w) = 0, BRANCHES[names[0]][0]
    for name in names[1:]:
        kh, kw = BRANCHES[name][0] if BRANCHES[name] is not None else (1, 1)
        if BRANCHES[name] is not None and max(h, kh) * max(w, kw) > h * w + kh * kw:
            break
        expected, h, w = expected + 1, max(h, kh), max(w, kw)
    assert outputs_kept(low, xs, O.merge_branches) == expected
    if expected == len(names) - 1:
        assert ops(low) == ["conv2d"] and low.graph.nodes[0].outputs == [total]
        assert len(low.origins[total]) == len(graph)


def test_what_does_not_merge():
    c = {"w": weights(4, 4), "w1": weights(4, 4, 1), "wd": weights(4, 1), "w13": weights(4, 4)[:, :, :1],
         "w31": weights(4, 4)[:, :, :, :1]}
    for nodes in (
            [conv("x", "a", "w"), conv("y", "b", "w1", padding=[0, 0, 0, 0]), ir.Node("add", ["a", "b"], ["z"])],
            [conv("x", "a", "w"), conv("x", "b", "wd", groups=4), ir.Node("add", ["a", "b"], ["z"])],
            [conv("x", "a", "w"), conv("x", "b", "w", dilation=[2, 2], padding=[2, 2, 2, 2]),
             ir.Node("add", ["a", "b"], ["z"])],
            [conv("x", "a", "w", activation="relu"), ir.Node("add", ["a", "x"], ["z"])],
            [conv("x", "a", "w"), ir.Node("add", ["a", "x"], ["z"]), ir.Node("mul", ["z", "a"], ["u"])],
            [conv("x", "a", "w13", padding=[0, 1, 0, 1]), conv("x", "b", "w31", padding=[1, 0, 1, 0]),
             ir.Node("add", ["a", "b"], ["z"])]):  # a 3x3 would take 9 taps where they take 6
        low, xs = make(nodes, c, inputs=(("x", (1, 4, 6, 6)), ("y", (1, 4, 6, 6))), outputs=[nodes[-1].outputs[0]])
        assert outputs_kept(low, xs, O.merge_branches) == 0, nodes


def test_a_batch_norm_of_merged_branches_folds_too():
    """RepViT's RepVGGDW: bn(conv(x) + conv1(x) + x), one depthwise convolution in the end."""

    class RepVGGDW(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False), torch.nn.BatchNorm2d(8))
            self.conv1 = torch.nn.Conv2d(8, 8, 1, 1, 0, groups=8)
            self.bn = torch.nn.BatchNorm2d(8)

        def forward(self, x):
            return self.bn((self.conv(x) + self.conv1(x)) + x)

    model = RepVGGDW().eval()
    for bn in (model.conv[1], model.bn):
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 8, 9, 7)
    low = O.optimize(lowered(model, x))
    assert ops(low) == ["conv2d"] and low.graph.constants[low.graph.nodes[0].inputs[1]].shape == (8, 1, 3, 3)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(1, 8, 5, 12))


def test_activations_fuse_into_their_producer():
    c = {"w": weights(4, 4), "b": np.ones(4)}
    nodes = [conv("x", "y", "w", "b"), ir.Node("activation", ["y"], ["z"], {"activation": "hardswish"}),
             ir.Node("add", ["z", "x"], ["u"]), ir.Node("activation", ["u"], ["v"], {"activation": "clamp",
                                                                                   "activation_min": -1.0,
                                                                                   "activation_max": 2.0}),
             ir.Node("max_pool2d", ["v"], ["p"], {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0, 0, 0]}),
             ir.Node("activation", ["p"], ["q"], {"activation": "relu"})]
    low, xs = make(nodes, c)
    assert outputs_kept(low, xs, O.fuse_activations) == 2
    assert ops(low) == ["conv2d", "add", "max_pool2d", "activation"]
    assert low.graph.nodes[1].attrs == {"activation": "clamp", "activation_min": -1.0, "activation_max": 2.0}


def test_a_pre_activation_batch_norm_takes_its_activation_and_folds_no_more():
    # DenseNet's and pre-activation ResNets' BatchNorm + ReLU before a convolution: the norm
    # cannot fold into the convolution after the ReLU, so the ReLU fuses into the norm
    c = {"w": weights(4, 4), "s": np.linspace(-1, 2, 4), "t": np.linspace(0.5, -0.5, 4)}
    nodes = [ir.Node("batch_norm", ["x", "s", "t"], ["n"]), ir.Node("activation", ["n"], ["r"], {"activation": "relu"}),
             conv("r", "y", "w")]
    low, xs = make(nodes, c)
    assert outputs_kept(low, xs, O.fuse_activations) == 1
    assert ops(low) == ["batch_norm", "conv2d"] and low.graph.nodes[0].attrs == {"activation": "relu"}
    # a norm with its activation is no longer an affine map of its input: nothing folds it
    fused = [conv("x", "y", "w"), ir.Node("batch_norm", ["y", "s", "t"], ["z"], {"activation": "silu"})]
    low, xs = make(fused, c)
    assert outputs_kept(low, xs, O.fold_affine) == 0
    low, xs = make(fused + [ir.Node("add", ["z", "x"], ["u"])], c)
    assert outputs_kept(low, xs, O.merge_branches) == 0
    # the norm's output is read elsewhere too: the activation stays
    low, xs = make(nodes[:2] + [ir.Node("add", ["n", "r"], ["u"])], c)
    assert outputs_kept(low, xs, O.fuse_activations) == 0


def test_activations_fuse_across_reshapes_and_permutes():
    c = {"w": weights(4, 4), "b": np.ones(4)}
    tokens = [conv("x", "y", "w", "b"), ir.Node("reshape", ["y"], ["f"], {"shape": [2, 4, 36]}),
              ir.Node("permute", ["f"], ["t"], {"dims": [0, 2, 1]}), ir.Node("activation", ["t"], ["g"], {"activation": "gelu"})]
    low, xs = make(tokens, c)
    assert outputs_kept(low, xs, O.fuse_activations) == 1
    assert ops(low) == ["conv2d", "reshape", "permute"] and low.graph.nodes[0].attrs["activation"] == "gelu"
    assert low.graph.nodes[-1].outputs == ["g"]
    # the reshaped tensor is read elsewhere too: the activation stays
    low, xs = make(tokens + [ir.Node("add", ["f", "f"], ["h"])], c, outputs=["g", "h"])
    assert outputs_kept(low, xs, O.fuse_activations) == 0


def test_zero_padding_of_the_image_folds_into_the_convolution():
    c = {"w": weights(4, 4)}
    pad = ir.Node("pad", ["x"], ["p"], {"pads": [0, 0, 0, 0, 0, 1, 1, 2], "mode": "constant", "value": 0.0})
    low, xs = make([pad, conv("p", "y", "w", padding=[0, 0, 0, 0], stride=[2, 2])], c)
    assert outputs_kept(low, xs, O.fold_padding) == 1
    assert ops(low) == ["conv2d"] and low.graph.nodes[0].attrs["padding"] == [0, 1, 1, 2]
    for attrs in ({"pads": [0, 0, 0, 0, 1, 1, 1, 1], "mode": "reflect", "value": 0.0},
                  {"pads": [0, 0, 0, 0, 1, 1, 1, 1], "mode": "constant", "value": 1.0},
                  {"pads": [0, 0, 1, 0, 1, 1, 1, 1], "mode": "constant", "value": 0.0},
                  {"pads": [0, 0, 0, 0, -1, 1, 1, 1], "mode": "constant", "value": 0.0}):  # cropping
        cw = {"w": weights(4, 5 if attrs["pads"][2] else 4)}
        low, xs = make([ir.Node("pad", ["x"], ["p"], attrs), conv("p", "y", "w")], cw)
        assert outputs_kept(low, xs, O.fold_padding) == 0
    # Padding as wide as the (dilated) kernel is not a convolution's own: a 1x1 convolution of a
    # padded input (VainF's DeepLabV3+), a 3x3 one padded by 3, a dilated 3x3 one by 5, keep the pad.
    for kernel, pads, dilation in [(1, [0, 0, 0, 0, 1, 1, 1, 1], [1, 1]), (3, [0, 0, 0, 0, 0, 3, 0, 0], [1, 1]),
                                   (3, [0, 0, 0, 0, 0, 0, 7, 0], [2, 3])]:
        cw = {"w": weights(4, 4, kernel)}
        pad = ir.Node("pad", ["x"], ["p"], {"pads": pads, "mode": "constant", "value": 0.0})
        low, xs = make([pad, conv("p", "y", "w", padding=[0, 0, 0, 0], dilation=dilation)], cw)
        assert outputs_kept(low, xs, O.fold_padding) == 0


def test_depthwise_then_pointwise_becomes_one_separable_node():
    c = {"dw": weights(4, 1), "pw": weights(8, 4, 1), "pb": np.ones(8)}
    nodes = [conv("x", "d", "dw", groups=4, stride=[2, 2], activation="relu6"),
             conv("d", "y", "pw", "pb", padding=[0, 0, 0, 0], activation="relu")]
    low, xs = make(nodes, c)
    assert outputs_kept(low, xs, O.fuse_separable) == 1
    node = low.graph.nodes[0]
    assert node.inputs == ["x", "dw", "d.bias", "pw", "pb"]
    assert node.attrs == {"stride": [2, 2], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 4,
                          "depthwise_activation": "relu6", "activation": "relu", "algorithm": "separable"}
    # a pointwise with a stride, or a depthwise read twice, stay apart
    strided = [nodes[0], conv("d", "y", "pw", "pb", padding=[0, 0, 0, 0], stride=[2, 2])]
    twice = [nodes[0], nodes[1], ir.Node("add", ["d", "d"], ["e"])]
    for case in (strided, twice):
        low, xs = make(case, c, outputs=[n.outputs[0] for n in case])
        assert outputs_kept(low, xs, O.fuse_separable) == 0


def test_identities_and_view_chains_go():
    nodes = [ir.Node("reshape", ["x"], ["a"], {"shape": [2, 4, 36]}), ir.Node("reshape", ["a"], ["b"], {"shape": [-2, -1]}),
             ir.Node("permute", ["b"], ["c"], {"dims": [1, 0]}), ir.Node("permute", ["c"], ["d"], {"dims": [1, 0]}),
             ir.Node("reshape", ["d"], ["e"], {"shape": [2, 144]}), ir.Node("concat", ["e"], ["f"], {"axis": 1})]
    low, xs = make(nodes, {})
    assert outputs_kept(low, xs, O.remove_identities) >= 4
    assert ops(low) == ["reshape"] and low.graph.outputs == [low.graph.nodes[0].outputs[0]]


def test_passes_over_long_graphs_do_not_rebuild_the_graphs_maps_per_node(monkeypatch):
    """A recurrent net unrolls to 10,000s of nodes (timm's sequencer2d_s: 21,854 at 224x224):
    maps rebuilt after every node, or every fusion, made passes quadratic (minutes)."""
    built = []
    users = O._users
    monkeypatch.setattr(O, "_users", lambda graph: built.append(1) or users(graph))
    nodes = [ir.Node("activation", ["x" if k == 0 else f"a{k - 1}"], [f"a{k}"], {"activation": "relu"}) for k in range(200)]
    nodes += [ir.Node("reshape", ["a199"], ["r"], {"shape": [2, 4, 36]}), ir.Node("reshape", ["r"], ["s"], {"shape": [2, 144]})]
    low, xs = make(nodes, {})
    assert outputs_kept(low, xs, O.remove_identities) == 1
    assert len(built) == 2  # at the start, and after the one change
    nodes = []
    for k in range(50):  # 50 convolutions, each followed by its activation
        nodes += [conv("x" if k == 0 else f"a{k - 1}", f"c{k}", "w"), ir.Node("activation", [f"c{k}"], [f"a{k}"],
                                                                              {"activation": "relu"})]
    low, xs = make(nodes, {"w": weights(4, 4) / 6})
    built.clear()
    assert outputs_kept(low, xs, O.fuse_activations) == 50
    assert len(built) == 1 and ops(low) == ["conv2d"] * 50


def test_elementwise_ops_broadcast_what_was_expanded():
    """ECA's and SSD's x * s.expand_as(x): the mul broadcasts s; an expand the op needs stays."""
    nodes = [ir.Node("activation", ["s"], ["g"], {"activation": "sigmoid"}),
             ir.Node("expand", ["g", "x"], ["e"], {"shape": [-2, -1, -4, -5]}), ir.Node("mul", ["x", "e"], ["y"]),
             ir.Node("expand", ["g"], ["f"], {"shape": [-1, -1, 6, 6]}), ir.Node("sub", ["f", "g"], ["z"]),
             ir.Node("add", ["y", "z"], ["out"])]
    low, xs = make(nodes, {}, inputs=(("x", (2, 4, 6, 6)), ("s", (2, 4, 1, 1))))
    assert outputs_kept(low, xs, O.broadcast_expands) == 1
    assert low.graph.nodes[2].inputs == ["x", "g"]
    O.dead_nodes(low)
    assert ops(low) == ["activation", "mul", "expand", "sub", "add"]


def test_common_subexpressions_are_computed_once():
    nodes = [ir.Node("sub", ["x", "x2"], ["a"]), ir.Node("sub", ["x", "x2"], ["b"]), ir.Node("mul", ["a", "b"], ["c"]),
             ir.Node("sub", ["x2", "x"], ["d"]), ir.Node("add", ["c", "d"], ["y"])]
    low, xs = make(nodes, {}, inputs=(("x", (2, 3)), ("x2", (2, 3))))
    assert outputs_kept(low, xs, O.common_subexpressions) == 1
    assert ops(low) == ["sub", "mul", "sub", "add"] and low.graph.nodes[1].inputs == ["a", "a"]
    low, xs = make(nodes, {}, inputs=(("x", (2, 3)), ("x2", (2, 3))))
    low.calls["a"] = low.calls["b"] = None  # torch calls are never merged: they may not be pure
    assert O.common_subexpressions(low) == 0


def channels_first_layer_norm(affine: bool):
    """ConvNeXt's LayerNorm(data_format="channels_first") as lowering writes it out."""
    nodes = [ir.Node("reduce", ["x"], ["u"], {"kind": "mean", "axes": [1], "keepdim": 1}),
             ir.Node("sub", ["x", "u"], ["d"]), ir.Node("unary", ["d"], ["p"], {"kind": "pow", "exponent": 2.0}),
             ir.Node("reduce", ["p"], ["s"], {"kind": "mean", "axes": [1], "keepdim": 1}),
             ir.Node("add", ["s", "eps"], ["e"]), ir.Node("unary", ["e"], ["r"], {"kind": "sqrt"}),
             ir.Node("div", ["d", "r"], ["n"])]
    if affine:
        nodes += [ir.Node("mul", ["w", "n"], ["m"]), ir.Node("add", ["m", "b"], ["y"])]
    rng = np.random.default_rng(3)
    return nodes, {"eps": np.float32(1e-6), "w": rng.uniform(0.5, 2, (4, 1, 1)), "b": rng.standard_normal((4, 1, 1))}


@pytest.mark.parametrize("affine", [True, False])
def test_channels_first_layer_norm_becomes_channel_norm(affine):
    nodes, c = channels_first_layer_norm(affine)
    low, xs = make(nodes, c)
    assert outputs_kept(low, xs, O.fuse_channel_norms) == 1
    (norm,) = low.graph.nodes
    assert norm.op == "channel_norm" and norm.attrs == {"eps": pytest.approx(1e-6)}
    assert len(norm.inputs) == (3 if affine else 1) and norm.outputs == [nodes[-1].outputs[0]]
    # the centred input read by a third node is no longer only the norm's
    low, xs = make(nodes + [ir.Node("add", ["d", nodes[-1].outputs[0]], ["z"])], c)
    assert outputs_kept(low, xs, O.fuse_channel_norms) == 0


def channels_last_block(c=4, between=(), scaled=True):
    """ConvNeXt's block as lowering writes it: to channels-last, a layer norm over the last dim,
    an MLP of linear layers (with a layer scale and elementwise ops by constants along the last
    dim), back to channels-first, the residual add."""
    rng = np.random.default_rng(5)
    constants = {"nw": rng.uniform(0.5, 2, c), "nb": rng.standard_normal(c), "w1": rng.standard_normal((3 * c, c)),
                 "b1": rng.standard_normal(3 * c), "w2": rng.standard_normal((c, 3 * c)), "g": rng.uniform(0.5, 2, c),
                 "s": rng.standard_normal((1, 1, 1, c)), "k": np.float32(0.5)}
    scale = [ir.Node("mul", ["g", "m"], ["q"]), ir.Node("sub", ["s", "q"], ["q2"]), ir.Node("div", ["q2", "k"], ["q3"])]
    nodes = [ir.Node("permute", ["x"], ["t"], {"dims": [0, 2, 3, 1]}),
             ir.Node("layer_norm", ["t", "nw", "nb"], ["n"], {"axes": 1, "eps": 1e-6}),
             ir.Node("linear", ["n", "w1", "b1"], ["h"]),
             ir.Node("activation", ["h"], ["a"], {"activation": "gelu"}),
             *between,
             ir.Node("linear", ["a2" if between else "a", "w2"], ["m"]),
             *(scale if scaled else []),
             ir.Node("permute", ["q3" if scaled else "m"], ["o"], {"dims": [0, 3, 1, 2]}),
             ir.Node("add", ["o", "x"], ["y"])]
    return nodes, constants


def test_channels_last_pixel_ops_run_channels_first():
    nodes, c = channels_last_block()
    low, xs = make(nodes, c)
    assert outputs_kept(low, xs, O.channels_first) == 1
    assert ops(low) == ["channel_norm", "conv2d", "activation", "conv2d", "mul", "sub", "div", "add"]
    first, second = (n for n in low.graph.nodes if n.op == "conv2d")
    assert low.graph.nodes[0].inputs[0] == "x" and low.graph.constants[first.inputs[1]].shape == (12, 4, 1, 1)
    assert low.graph.nodes[-2].outputs == ["o"]  # the second permute's output, read by the add
    # the original ConvNeXt scales inside the MLP, torchvision's CNBlock after the permute back:
    # either way the scale folds into the convolution
    nodes, c = channels_last_block(scaled=False)
    nodes[-2:-2] = [ir.Node("mul", ["g", "m"], ["m2"])]
    nodes[-2].inputs = ["m2"]
    low, xs = make(nodes, c, inputs=(("x", (3, 4, 5, 7)),))
    outputs_kept(low, xs, O.optimize)
    assert ops(low) == ["channel_norm", "conv2d", "conv2d"]
    nodes, c = channels_last_block(scaled=False)
    nodes[-1:] = [ir.Node("mul", ["o", "ls"], ["o2"]), ir.Node("add", ["o2", "x"], ["y"])]
    low, xs = make(nodes, {**c, "ls": np.full((4, 1, 1), 0.5)}, inputs=(("x", (3, 4, 5, 7)),))
    outputs_kept(low, xs, O.optimize)
    assert ops(low) == ["channel_norm", "conv2d", "conv2d"]  # the activation and the residual fused


def test_what_stays_channels_last():
    mean = ir.Node("reduce", ["a"], ["a2"], {"kind": "mean", "axes": [1, 2], "keepdim": 1})  # ConvNeXt-V2's GRN
    across = ir.Node("add", ["a", "hw"], ["a2"])  # a constant that varies over the pixels
    for between in ([mean], [across]):
        nodes, c = channels_last_block(between=between)
        low, xs = make(nodes, {**c, "hw": np.ones((6, 1, 12))})
        assert outputs_kept(low, xs, O.channels_first) == 0
    nodes, c = channels_last_block()
    read = ir.Node("permute", ["n"], ["z"], {"dims": [0, 3, 1, 2]})  # the norm read elsewhere too
    low, xs = make(nodes + [read], c, outputs=["y", "z"])
    assert outputs_kept(low, xs, O.channels_first) == 0


class Attend(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, q, k, v):
        return self.fn(q, k, v)


F = torch.nn.functional
ATTENTION = {
    "sdpa": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
    "sdpa_scale": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3),
    "times_scale": lambda q, k, v: ((q @ k.transpose(-2, -1)) * 0.125).softmax(-1) @ v,
    "scale_times": lambda q, k, v: torch.matmul(torch.softmax(0.125 * torch.matmul(q, k.transpose(-2, -1)), dim=-1), v),
    "divided": lambda q, k, v: F.softmax(q @ k.transpose(-1, -2) / 8 ** 0.5, dim=3) @ v,
    "unscaled": lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v,
}


@pytest.mark.parametrize("name", ATTENTION)
def test_attention_chains_become_one_node(name):
    q, k, v = (torch.randn(2, 3, 10, 8), torch.randn(2, 3, 12, 8), torch.randn(2, 3, 12, 5))
    low = lowered(Attend(ATTENTION[name]), q, k, v)
    O.optimize(low)
    assert ops(low).count("attention") == 1 and "softmax" not in ops(low) and "matmul" not in ops(low)
    assert_matches(low, Attend(ATTENTION[name]), q, k, v)


STAYS = {
    "masked": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(10, 12).tril().bool()),
    "weights_returned": lambda q, k, v: (lambda p: (p @ v, p))((q @ k.transpose(-2, -1)).softmax(-1)),
    "log_softmax": lambda q, k, v: (q @ k.transpose(-2, -1)).log_softmax(-1) @ v,
    "other_axis": lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-2) @ v,
    "tensor_scale": lambda q, k, v: ((q @ k.transpose(-2, -1)) * q[..., :1]).softmax(-1) @ v,
}


@pytest.mark.parametrize("name", STAYS)
def test_what_stays_separate_attention_nodes(name):
    q, k, v = (torch.randn(2, 3, 10, 8), torch.randn(2, 3, 12, 8), torch.randn(2, 3, 12, 5))
    low = lowered(Attend(STAYS[name]), q, k, v)
    O.optimize(low)
    assert "attention" not in ops(low) and "softmax" in ops(low)
    assert_matches(low, Attend(STAYS[name]), q, k, v)


def test_dead_nodes_and_constants_go():
    c = {"w": weights(4, 4), "unused": np.ones(3)}
    nodes = [conv("x", "y", "w"), conv("x", "dead", "w"), ir.Node("activation", ["dead"], ["dead2"], {"activation": "relu"})]
    low, xs = make(nodes, c, outputs=["y"])
    low.calls["dead2"] = None
    assert outputs_kept(low, xs, O.dead_nodes) == 2
    assert ops(low) == ["conv2d"] and set(low.graph.constants) == {"w"}
    assert "dead2" not in low.calls and set(low.origins) == {"y"}


@pytest.mark.parametrize("name", sorted(n for n in ZOO if n != "detector"))
def test_zoo_optimised_still_matches(name):
    model, shape, low = zoo_lowered(name)
    x = torch.randn(1, *shape)
    O.optimize(low)
    assert_matches(low, model, x)
    assert_matches(low, model, torch.randn(3, *shape))
    left = ops(low)
    assert "batch_norm" not in left  # every one followed a convolution
    into_convolutions = {i for n in low.graph.nodes if n.op == "conv2d" for i in n.inputs}
    assert not any(n.op == "pad" and n.outputs[0] in into_convolutions for n in low.graph.nodes)  # folded in
    if name == "convnext":
        # the downsampling norms, and each block's layer norm and MLP run channels-first
        assert left.count("channel_norm") == 7 and "reduce" in left and "permute" not in left  # the head's mean stays
    if name == "resnet18":
        assert sum(len(n.inputs) == 4 for n in low.graph.nodes if n.op == "conv2d") == 8  # the residual adds
    if name in ("mobilenet_v3", "efficientnet", "darknet", "yolov8", "bn_act", "resnet18"):
        assert "activation" not in left
