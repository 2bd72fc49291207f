"""Pruning real architectures (tests/zoo.py) on the torch.export capture: every pattern is
followed, the report says what was left whole and why, slices and splits follow the channels,
custom operators are taught in one line, targets are reached, and group importance scores a
unit by all its weights."""

import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402
from zoo import ZOO, build  # noqa: E402

from pyprune.prune import (  # noqa: E402
    BNScale,
    L1,
    PruningError,
    PruningWarning,
    Target,
    apply_channel_plan,
    bn_scale_penalty,
    channel_plan,
    elementwise,
    prune_filters,
    pruning_report,
    register_channel_rule,
)
from pyprune.prune.filters import PrunableModel  # noqa: E402
from pyprune.prune.graph import OUTPUT, trace_channels  # noqa: E402
from pyprune.prune.target import ALLOCATIONS  # noqa: E402
from pyprune.stats import count  # noqa: E402

# The detector's post-processing cannot be captured; attention and recurrent layers keep the
# channels they read (MobileViT below, Sequencer2D's token mixing, CRNN's GRU);
# the one-to-one detector's heads keep the box and class channels its post-processing splits.
PRUNABLE = [name for name in ZOO
            if name not in ("detector", "mobilevit", "vit", "swin", "one_to_one_detector", "deformable_sampler",
                            "sequencer", "crnn")]


def example(shape, batch=2):
    return torch.randn(batch, *shape, generator=torch.Generator().manual_seed(3))


def shapes(value):
    return [tuple(v.shape) for v in tree_flatten(value)[0]]


@pytest.mark.parametrize("name", PRUNABLE)
def test_every_zoo_model_is_pruned_and_runs_with_its_output_shapes(name):
    model, shape = build(name)
    x = example(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PruningWarning)  # nothing left whole but the model's own outputs
        pruned = prune_filters(model, x, 0.5)
    with torch.no_grad():
        assert shapes(pruned(x)) == shapes(model(x))
        assert shapes(pruned(example(shape, 3))) == shapes(model(example(shape, 3)))
    report = pruning_report(pruned)
    assert report.reached >= 0.4
    assert count(pruned, x).macs < 0.45 * count(model, x).macs
    rebuilt = apply_channel_plan(build(name)[0], channel_plan(pruned))  # the plan rebuilds it
    rebuilt.load_state_dict(pruned.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(x), pruned(x))


def pruned_in_part(name):
    """A zoo model some of whose channels stay (a warning says so) pruned by half: its report."""
    model, shape = build(name)
    x = example(shape)
    with pytest.warns(PruningWarning, match="blocked"):
        pruned = prune_filters(model, x, 0.5)
    with torch.no_grad():
        assert shapes(pruned(x)) == shapes(model(x))
    return pruning_report(pruned)


def test_deformable_sampling_prunes_the_maps_it_samples_and_keeps_its_attention_channels():
    report = pruned_in_part("deformable_sampler")
    changes = {c.name: c for c in report.layers}
    assert changes["down.0"].out_after == changes["stem.1.0"].out_after < changes["stem.1.0"].out_before
    assert changes["value"].in_after == changes["down.0"].out_after  # grid_sample passes channels through
    # the value's width, which the views read from self.dim (rewritten), the same in every head
    assert changes["value"].out_after == changes["out"].in_after == 8
    assert changes["offsets"].out_after == changes["offsets"].out_before  # the sampling points
    reasons = {reason for group in report.blocked for reason in group.reasons}
    assert not any("grid_sampler" in reason for reason in reasons)


def test_attention_keeps_its_channels_and_a_broadcast_gate_keeps_the_channels_it_scales():
    report = pruned_in_part("mobilevit")
    reasons = {reason for group in report.blocked for reason in group.reasons}
    assert "MultiheadAttention 'attn' checks its sizes against attributes pruning does not change" in reasons
    changes = {c.name: c for c in report.layers}
    assert changes["local.1"].out_after == changes["local.1"].out_before == 24  # the embedding
    assert changes["mlp.0"].out_after == 24  # the MLP's hidden features go
    # The gate's one channel scales all of fuse's: they are pruned on their own, the gate is kept.
    assert (changes["fuse.0"].out_before, changes["fuse.0"].out_after) == (16, 8)
    assert changes["gate"].out_after == 1


def test_a_vision_transformer_prunes_its_mlps_and_keeps_its_token_channels():
    changes = {c.name: c for c in pruned_in_part("vit").layers}
    assert changes["mlps.0.0"].out_after == 24 and changes["mlps.1.2"].in_after == 24  # hidden features go
    assert changes["attns.0.qkv"].out_after == 72  # split into heads by a reshape: kept


def test_an_nms_free_detector_prunes_its_backbone_through_topk_and_gather():
    report = pruned_in_part("one_to_one_detector")
    changes = {c.name: c for c in report.layers}
    assert all(changes[f"stages.{i}.0"].out_after == 16 for i in (0, 1))
    assert all((changes[f"heads.{i}"].in_after, changes[f"heads.{i}"].out_after) == (16, 9) for i in (0, 1))
    [group] = report.blocked  # the levels' outputs joined along the anchors: one channel space
    assert group.layers == ["heads.0", "heads.1"]
    assert any("aten.gather.default" in reason for reason in group.reasons)  # the scores are gathered


def test_the_detector_cannot_be_captured_and_says_so():
    model, shape = build("detector")
    with pytest.raises(PruningError, match="torch.export can capture"):
        prune_filters(model, example(shape), 0.5)


def test_the_report_lists_layers_and_the_groups_left_whole_with_their_reason():
    model, shape = build("bn_act")
    pruned = prune_filters(model, example(shape), 0.5)
    report = pruning_report(pruned)
    changes = {c.name: c for c in report.layers}
    assert (changes["conv3"].out_before, changes["conv3"].out_after) == (32, 16)
    assert (changes["fc"].in_before, changes["fc"].in_after) == (32, 16)
    assert (changes["bn2"].kind, changes["bn2"].out_after) == ("BatchNormAct2d", 8)
    [head] = report.blocked
    assert head.layers == ["fc"] and head.blocked == head.units == 10 and head.reasons == {OUTPUT: 10}
    assert report.reached == pytest.approx(0.5) and report.warning is None
    text = str(report)
    assert "conv3" in text and "32 -> 16" in text and "group fc: left whole" in text


class ResponseNormed(nn.Module):
    """A local response norm (AlexNet, GoogLeNet) mixes neighbouring channels."""

    def __init__(self):
        super().__init__()
        self.a, self.norm = nn.Conv2d(3, 8, 3), nn.LocalResponseNorm(3)
        self.b, self.head = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.head(self.b(self.norm(self.a(x))))


def test_an_unreached_amount_warns_with_what_was_reached_and_the_blocking_node():
    with pytest.warns(PruningWarning, match=r"asked to remove 50% of the channels, removed 25.0%: 8 units"):
        pruned = prune_filters(ResponseNormed().eval(), torch.randn(1, 3, 8, 8), 0.5)
    report = pruning_report(pruned)
    [(reason, n)] = [(r, n) for g in report.blocked for r, n in g.reasons.items() if r != OUTPUT]
    assert n == 8 and "aten.avg_pool3d" in reason and "layer 'norm' (LocalResponseNorm)" in reason


@pytest.mark.parametrize("affine,track", [(True, False), (False, False), (True, True), (False, True)])
def test_instance_norm_prunes_its_channels_and_keeps_the_others_exact(affine, track):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.InstanceNorm2d(8, affine=affine, track_running_stats=track),
                          nn.ReLU(), nn.Conv2d(8, 8, 1), nn.Conv2d(8, 2, 1)).eval()
    if track:
        with torch.no_grad():
            model[1].running_mean.normal_()
            model[1].running_var.uniform_(0.5, 2)
    x = example((3, 8, 8))
    pruned = prune_filters(model, x, 0.5)
    kept = channel_plan(pruned)["layers"]["0"]["out"]["kept"]
    assert len(kept) == 4 and pruned[1].num_features == 4 and not pruning_report(pruned).warning
    with torch.no_grad():
        torch.testing.assert_close(pruned[1](pruned[0](x)), model[1](model[0](x))[:, sorted(kept)])


def test_shufflenet_v2_shuffles_after_contiguous_do_not_block_channels():
    model, shape = build("shufflenet_v2")
    x = example(shape)
    graph = trace_channels(model, (x,))
    reasons = {reason for _, reason in graph.blocks}
    assert not any("contiguous" in r or "clone" in r for r in reasons)
    pruned = prune_filters(model, x, 0.5)
    # the shuffled stream of each stage shrinks: the last conv's inputs, every branch's convs
    assert pruned.conv5[0].in_channels < model.conv5[0].in_channels
    assert pruned.stages[1][1].branch2[0].out_channels == model.stages[1][1].branch2[0].out_channels // 2


def test_slicing_maps_channel_indices_and_rewrites_the_bound():
    model, shape = build("ghostnet")
    x = example(shape)
    pruned = prune_filters(model, x, 0.5)
    for before, after in zip(model.blocks[1:], pruned.blocks[1:]):  # odd widths: the slice cuts one channel
        module = after.ghost2
        cat = module.primary_conv[0].out_channels + module.cheap_operation[0].out_channels
        assert module.oup in (cat - 1, cat) and module.oup < before.ghost2.oup  # cat if the cut channel went
    assert channel_plan(pruned)["layers"]["blocks.1.ghost2"]["attributes"]["oup"] == pruned.blocks[1].ghost2.oup
    # kept positions: channel i of the primary conv appears at i and at init + i in the cat
    plan = channel_plan(pruned)["layers"]
    primary = plan["blocks.1.ghost2.primary_conv.0"]["out"]["kept"]
    init = model.blocks[1].ghost2.primary_conv[0].out_channels
    cut = [i for i in primary] + [init + i for i in primary if init + i < model.blocks[1].ghost2.oup]
    assert pruned.blocks[1].ghost2.oup == len(cut)
    shortcut = plan["blocks.1.shortcut.2"]["out"]["kept"]
    assert shortcut == cut


class Split(nn.Module):
    """A convolution whose channels are split in two by `how`, each part through its own 1x1:
    chunk(2), split by half the channels, or by a size or a list of sizes held by the module or
    written in the code."""

    def __init__(self, how, sizes=(8, 16)):
        super().__init__()
        self.how = how
        if how.endswith("attribute"):  # only there: a literal equal to an attribute would follow it
            self.sizes, self.size = list(sizes), sizes[0]
        self.conv = nn.Conv2d(3, sum(sizes), 3, padding=1)
        self.heads = nn.ModuleList([nn.Conv2d(c, 4, 1) for c in sizes])

    def forward(self, x):
        y = self.conv(x)
        parts = {"chunk": lambda: y.chunk(2, 1), "size attribute": lambda: torch.split(y, self.size, 1),
                 "half": lambda: torch.split(y, y.size(1) // 2, 1),
                 "size literal": lambda: torch.split(y, 12, 1), "sizes attribute": lambda: torch.split(y, self.sizes, 1),
                 "sizes literal": lambda: torch.split(y, [16, 8], 1)}[self.how]()
        return sum(head(p) for head, p in zip(self.heads, parts))


@pytest.mark.parametrize("how,sizes,after", [
    ("chunk", (12, 12), [6, 6]),  # sizes from the channel count: both parts lose the same share
    ("size attribute", (12, 12), [6, 6]),  # the attribute follows
    ("half", (12, 12), [6, 6]),  # WaveNet's gate: traced as 12, taken as the channels' own half
    ("sizes attribute", (8, 16), [4, 8]),  # each entry follows its own part
    ("sizes attribute", (12, 12), None),
    ("size literal", (12, 12), [12, 12]),  # numbers in the code: the channels stay (the cut forward fails)
    ("sizes literal", (16, 8), [16, 8]),
])
def test_splits_follow_sizes_the_module_holds_and_keep_sizes_the_code_writes(how, sizes, after):
    torch.manual_seed(0)
    model = Split(how, sizes).eval()
    x = torch.randn(2, 3, 8, 8)
    if after == list(sizes):  # nothing can go
        with pytest.warns(PruningWarning, match="removed 0.0%"):
            pruned = prune_filters(model, x, 0.5)
        why = "breaks the forward" if how == "size literal" else "fixed in the code"
        assert any(why in r for g in pruning_report(pruned).blocked for r in g.reasons)
    else:
        pruned = prune_filters(model, x, 0.5)  # verified against the example: the split still runs
    got = [head.in_channels for head in pruned.heads]
    if after is None:  # each part loses its own channels: half of all, however they fall
        assert sum(got) == 12 and pruned.sizes == got
    else:
        assert got == after
    assert pruned.conv.out_channels == sum(got)
    if how == "sizes attribute":
        assert pruned.sizes == got and channel_plan(pruned)["layers"][""]["attributes"]["sizes"] == got
    if how == "size attribute":
        assert pruned.size == got[0]


def test_channels_last_layer_norm_and_layer_scale_are_pruned_with_their_stream():
    model, shape = build("convnext")
    pruned = prune_filters(model, example(shape), 0.5)
    block = pruned.stages[0][0]
    assert block.norm.weight.numel() == block.norm.normalized_shape[0] == block.gamma.numel() == 8
    assert pruned.downsample_layers[0][1].weight.numel() == 8
    assert block.pwconv1.out_features == 32 and block.pwconv2.in_features == 32


class GroupNormed(nn.Module):
    """RetinaNet's and FCOS's heads: convolutions with GroupNorm (4 groups of 4 channels, and
    one group of 8), and a group norm whose group count is written in the code."""

    def __init__(self):
        super().__init__()
        self.a, self.gn = nn.Conv2d(3, 16, 3, padding=1), nn.GroupNorm(4, 16)
        self.b, self.one = nn.Conv2d(16, 8, 3, padding=1), nn.GroupNorm(1, 8)
        self.c, self.fixed, self.out = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 6, 1), nn.Conv2d(6, 2, 1)

    def forward(self, x):
        x = torch.relu(self.one(self.b(torch.relu(self.gn(self.a(x))))))
        return self.out(nn.functional.group_norm(self.fixed(self.c(x)), 3))


def test_group_norm_prunes_whole_groups_and_keeps_the_others_exact():
    torch.manual_seed(0)
    model, x = GroupNormed().eval(), example((3, 6, 5))
    with torch.no_grad():
        model.gn.weight.uniform_(0.5, 1.5)
        model.gn.bias.normal_()
    with pytest.warns(PruningWarning, match="6 units are blocked"):  # the fixed group count's
        pruned = prune_filters(model, x, 0.5)
    kept = channel_plan(pruned)["layers"]["a"]["out"]["kept"]
    groups = sorted({k // 4 for k in kept})
    assert len(groups) == 2 and sorted(kept) == [4 * g + i for g in groups for i in range(4)]
    assert (pruned.gn.num_groups, pruned.gn.num_channels, pruned.gn.weight.numel()) == (2, 8, 8)
    with torch.no_grad():  # the groups kept are normalised as before
        torch.testing.assert_close(pruned.gn(pruned.a(x)), model.gn(model.a(x))[:, sorted(kept)])
    # one group: its channels are pruned one by one, normalised together
    assert (pruned.one.num_groups, pruned.one.num_channels, pruned.b.out_channels) == (1, 4, 4)
    assert pruned.fixed.out_channels == 6
    assert "takes a group count written in the code" in str(pruning_report(pruned))
    rebuilt = apply_channel_plan(GroupNormed().eval(), channel_plan(pruned))  # the plan rebuilds it
    rebuilt.load_state_dict(pruned.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), pruned(x))


class SplitAttention(nn.Module):
    """ResNeSt's split attention (radix 2): one convolution makes both splits, summed over the
    radix for the attention's squeeze, each split then scaled by its softmax weight and summed."""

    def __init__(self, c=8, radix=2):
        super().__init__()
        self.radix = radix
        self.conv = nn.Conv2d(c, c * radix, 3, padding=1, groups=radix)
        self.fc1, self.fc2 = nn.Conv2d(c, 4, 1), nn.Conv2d(4, c * radix, 1)
        self.stem, self.head = nn.Conv2d(3, c, 1), nn.Conv2d(c, 2, 1)

    def forward(self, x):
        x = torch.relu(self.conv(self.stem(x)))
        b, rc, h, w = x.shape
        x = x.reshape(b, self.radix, rc // self.radix, h, w)
        gap = torch.relu(self.fc1(x.sum(dim=1).mean((2, 3), keepdim=True)))
        attn = self.fc2(gap).view(b, 1, self.radix, -1).transpose(1, 2).softmax(dim=1)
        return self.head((x * attn.reshape(b, self.radix, -1, 1, 1)).sum(dim=1))


def test_a_sum_over_the_radix_prunes_each_channel_with_its_partner_in_every_split():
    model, x = SplitAttention().eval(), example((3, 6, 6))
    pruned = prune_filters(model, x, 0.5)
    kept = channel_plan(pruned)["layers"]["conv"]["out"]["kept"]
    assert len(kept) == 8 and sorted(kept) == sorted([k % 8 for k in kept if k < 8] + [k % 8 + 8 for k in kept if k < 8])
    assert (pruned.fc1.in_channels, pruned.head.in_channels) == (4, 4)
    assert shapes(pruned(x)) == shapes(model(x))


class StdConv2d(nn.Conv2d):
    """BiT's weight standardisation: the forward computes the weight it convolves with."""

    def forward(self, x):
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.var((1, 2, 3), keepdim=True, unbiased=False) + 1e-6).sqrt()
        return nn.functional.conv2d(x, w, self.bias, self.stride, self.padding)


def test_layers_whose_weight_is_computed_are_listed_left_whole_and_warned_about():
    model = nn.Sequential(StdConv2d(3, 8, 3), nn.ReLU(), StdConv2d(8, 8, 3), nn.ReLU(), nn.Conv2d(8, 2, 1)).eval()
    with pytest.warns(PruningWarning, match="removed 0.0%: 16 units are blocked"):
        pruned = prune_filters(model, example((3, 9, 9)), 0.5)
    groups = {tuple(g.layers): g.reasons for g in pruning_report(pruned).blocked}
    assert set(groups) >= {("0",), ("2",)}
    assert all("in layer '0' (StdConv2d): its weight is computed in the forward" in r for r in groups[("0",)])


class OwnConv(nn.Module):
    """A convolution layer of the model's own, calling F.conv2d with its parameters."""

    def __init__(self, cin, cout):
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.randn(cout, cin, 3, 3)), nn.Parameter(torch.randn(cout))

    def forward(self, x):
        return nn.functional.conv2d(x, self.weight, self.bias, padding=1)


def test_a_layer_type_without_a_pruner_is_listed_left_whole_and_its_inputs_are_cut():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), OwnConv(8, 6), nn.ReLU(), nn.Conv2d(6, 2, 1)).eval()
    pruned = prune_filters(model, example((3, 9, 9)), 0.5)
    assert pruned[0].out_channels == 4 and tuple(pruned[2].weight.shape) == (6, 4, 3, 3)
    groups = {tuple(g.layers): g.reasons for g in pruning_report(pruned).blocked}
    assert groups[("2",)] == {"OwnConv has no pruner (register_pruner teaches one)": 6}


class Doubled(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 8, 3), nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.b(torch.ops.pyprune_test.double(self.a(x)))


@torch.library.custom_op("pyprune_test::double", mutates_args=())
def _double(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@_double.register_fake
def _(x):
    return torch.empty_like(x)


def test_a_custom_operator_blocks_until_a_rule_is_registered():
    x = torch.randn(1, 3, 8, 8)
    with pytest.warns(PruningWarning):
        pruned = prune_filters(Doubled().eval(), x, 0.5)
    assert pruned.a.out_channels == 8
    assert any("pyprune_test.double" in r for g in pruning_report(pruned).blocked for r in g.reasons)
    register_channel_rule("pyprune_test::double", elementwise)
    pruned = prune_filters(Doubled().eval(), x, 0.5)
    assert pruned.a.out_channels == 4 and pruned(x).shape == (1, 2, 6, 6)


@pytest.mark.parametrize("name", ["mobilenet_v3", "resnet18", "convnext", "yolov8", "shufflenet_v2", "ghostnet"])
def test_a_target_is_reached_within_five_percent(name):
    model, shape = build(name)
    x = example(shape)
    captured = PrunableModel(model, x)  # one capture, pruned to every target
    before = count(model, x)
    for metric in ("macs", "params", "latency"):
        for allocation in ALLOCATIONS:
            pruned = captured.prune(target=Target(metric, 0.5, allocation=allocation))
            if metric == "macs":
                assert 0.475 <= count(pruned, x).macs / before.macs <= 0.5, allocation
            assert 0.475 <= pruning_report(pruned).target_kept <= 0.5, (metric, allocation)
            with torch.no_grad():
                assert shapes(pruned(x)) == shapes(model(x))


@pytest.mark.parametrize("metric", ["macs", "params"])
def test_a_uniform_target_keeps_the_same_fraction_of_every_group(metric):
    """Not the residual streams and the stem cut to a quarter while the layers inside the
    blocks stay whole (what ranking units by importance per unit of cost can do)."""
    model, shape = build("resnet18")
    pruned = prune_filters(model, example(shape), target=Target(metric, 0.3, allocation="uniform"))
    kept = [c.out_after / c.out_before for c in pruning_report(pruned).layers if c.kind == "Conv2d"]
    assert max(kept) - min(kept) <= 2 / 64  # rounding, and one unit kept back at the budget


def two_groups(weakest_b):
    """conv a (1 -> 4, 3x3, 16x16: a unit costs 2304 MACs + 576 of b's) -> conv b (4 -> 4, 3x3,
    stride 4: a unit costs 576 + 32 of c's) -> conv c (4 -> 2, 1x1, the output). Filter L1
    scores (each layer's mean is 1): a's weakest 0.9, b's `weakest_b`; 11648 MACs in all."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, stride=4, padding=1, bias=False), nn.ReLU(),
                          nn.Conv2d(4, 2, 1, bias=False))
    with torch.no_grad():
        for conv, scores in ((model[0], [1.05, 0.9, 1.0, 1.05]), (model[2], [1.1, 1.0, weakest_b, 1.9 - weakest_b])):
            conv.weight.copy_(torch.tensor(scores).reshape(4, 1, 1, 1).expand_as(conv.weight) / conv.weight[0].numel())
    return model.eval()


def test_a_global_target_removes_the_least_importance_per_unit_of_cost_first():
    x = torch.randn(1, 1, 16, 16)
    target = Target.macs(0.8, allocation="global")  # 2330 MACs to go

    # b's weakest unit is the least important, but a's saves 4.7 times more for a little more
    # importance (0.9 / sqrt(2880) < 0.8 / sqrt(608)): it goes, and is enough.
    pruned = prune_filters(two_groups(0.8), x, target=target, criterion=L1(group=False))
    assert channel_plan(pruned)["layers"]["0"]["out"]["kept"] == [0, 2, 3] and pruned[2].out_channels == 4
    assert pruning_report(pruned).target_kept == pytest.approx((11648 - 2880) / 11648)

    # Far less important, b's weakest unit goes first (0.1 / sqrt(608) < 0.9 / sqrt(2880)), and
    # is not enough: a's goes too.
    pruned = prune_filters(two_groups(0.1), x, target=target, criterion=L1(group=False))
    plan = channel_plan(pruned)["layers"]
    assert plan["0"]["out"]["kept"] == [0, 2, 3] and plan["2"]["out"]["kept"] == [0, 1, 3]


def test_an_unknown_allocation_is_refused():
    with pytest.raises(PruningError, match="allocation must be 'uniform' or 'global', got 'greedy'"):
        Target.macs(0.5, allocation="greedy")
    with pytest.raises(PruningError, match="allocation"):
        Target("params", 0.5, allocation=None)
    with pytest.raises(PruningError, match="allocation"):
        Target.latency(0.5, {"conv1": 1.0}, allocation="Global")


def test_a_latency_target_from_a_cost_table(tmp_path):
    model, shape = build("resnet18")
    x = example(shape)
    table = {name: 1.0 for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    table["conv1"] = 100.0  # the stem dominates: its channels go first
    path = tmp_path / "costs.json"
    path.write_text('{"format": "pyprune.layer_costs", "unit": "ms", "layers": %s}' % str(table).replace("'", '"'))
    pruned = prune_filters(model, x, target=Target.latency(0.5, path))
    assert pruning_report(pruned).target_kept <= 0.5
    assert pruned.conv1.out_channels < model.conv1.out_channels // 2
    with pytest.raises(PruningError, match="cost table names layers"):
        prune_filters(model, x, target=Target.latency(0.5, {"nope": 1.0}))
    with pytest.raises(PruningError, match="target keep"):
        Target.macs(0)


def chain(scale):
    """conv a (1 -> 3) -> BN -> ReLU -> conv b (3 -> 1): one group of three units."""
    model = nn.Sequential(nn.Conv2d(1, 3, 1, bias=False), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 1, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([1.0, -2.0, 0.5]).reshape(3, 1, 1, 1))
        model[1].weight.copy_(torch.tensor(scale))
        model[1].bias.zero_()
        model[3].weight.copy_(torch.tensor([4.0, 0.1, 1.0]).reshape(1, 3, 1, 1))
    return model.eval()


def test_group_l1_sums_every_weight_of_a_unit_but_biases_normalised_per_group():
    model = chain([0.5, 1.0, 3.0])
    with torch.no_grad():
        model[1].bias.copy_(torch.tensor([9.0, 0.0, 0.0]))  # biases do not count
    graph = trace_channels(model, (torch.randn(1, 1, 2, 2),))
    group = graph.groups()[0]  # (the last conv's own group reaches the output)
    raw = torch.tensor([1 + 0.5 + 4, 2 + 1.0 + 0.1, 0.5 + 3.0 + 1.0], dtype=torch.float64)
    [scores] = L1().score_units(model, graph, [group])
    torch.testing.assert_close(scores, raw / raw.mean())
    [layer_only] = L1(group=False).score_units(model, graph, [group])
    producers = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(layer_only, producers / producers.mean())
    # group L1 keeps channel 0 (strong consumer weight) where filter L1 would drop it
    assert channel_plan(prune_filters(model, torch.randn(1, 1, 2, 2), 0.34))["layers"]["0"]["out"]["kept"] == [0, 2]
    kept = channel_plan(prune_filters(model, torch.randn(1, 1, 2, 2), 0.34, criterion=L1(group=False)))
    assert kept["layers"]["0"]["out"]["kept"] == [0, 1]


def test_group_l1_leaves_depthwise_filters_out():
    model = nn.Sequential(nn.Conv2d(1, 3, 1, bias=False), nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False),
                          nn.Conv2d(3, 1, 1, bias=False)).eval()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([1.0, 2.0, 0.5]).reshape(3, 1, 1, 1))
        model[1].weight.copy_(torch.tensor([0.1, 0.1, 10.0]).reshape(3, 1, 1, 1).expand(3, 1, 3, 3))
        model[2].weight.copy_(torch.tensor([4.0, 0.1, 1.0]).reshape(1, 3, 1, 1))
    x = torch.randn(1, 1, 4, 4)
    graph = trace_channels(model, (x,))
    [scores] = L1().score_units(model, graph, graph.groups()[:1])
    raw = torch.tensor([1 + 4, 2 + 0.1, 0.5 + 1], dtype=torch.float64)
    torch.testing.assert_close(scores, raw / raw.mean())
    assert channel_plan(prune_filters(model, x, 0.34))["layers"]["0"]["out"]["kept"] == [0, 1]


def test_bn_scale_criterion_and_its_sparsity_penalty():
    model = chain([0.5, 0.01, 3.0])
    pruned = prune_filters(model, torch.randn(1, 1, 2, 2), 0.34, criterion=BNScale())
    assert channel_plan(pruned)["layers"]["0"]["out"]["kept"] == [0, 2]
    x = torch.randn(4, 1, 2, 2)
    model.train()
    with bn_scale_penalty(model, 0.5):
        model(x).sum().backward()
    penalised = model[1].weight.grad.clone()
    model.zero_grad()
    model(x).sum().backward()
    torch.testing.assert_close(penalised - model[1].weight.grad, torch.full((3,), 0.5))
