"""Structured filter pruning on the reference models and small test networks."""

import pytest

torch = pytest.importorskip("torch")
from batchnorm import randomize_batchnorms  # noqa: E402
from small_nets import ResNetStyle, VGGStyle  # noqa: E402
from torch import nn  # noqa: E402

import pyprune  # noqa: E402
from pyprune.models import MobileNetV1, MobileNetV2, ShuffleNetV1  # noqa: E402
from pyprune.prune import (  # noqa: E402
    APoZ,
    FPGM,
    ModulePruner,
    Taylor,
    channel_plan,
    prune_filters,
    register_pruner,
)
from pyprune.stats import count  # noqa: E402

MODELS = {
    "mobilenet_v1": lambda: MobileNetV1(num_classes=10, width=0.25),
    "mobilenet_v2": lambda: MobileNetV2(num_classes=10, width=0.35),
    "shufflenet_v1": lambda: ShuffleNetV1(num_classes=10, groups=3, width=0.5),
    "resnet_style": lambda: ResNetStyle(),
    "vgg_style": lambda: VGGStyle(),
}


def build(name):
    torch.manual_seed(0)
    return randomize_batchnorms(MODELS[name]()).eval()


def convs(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


@pytest.fixture
def x():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", MODELS)
def test_pruned_models_run_and_shrink_and_the_original_is_untouched(name, x):
    model = build(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pruned = prune_filters(model, x, 0.5)
    with torch.no_grad():
        assert pruned(x).shape == model(x).shape == (2, 10)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    old, new = count(model, x), count(pruned, x)
    assert new.params < 0.75 * old.params and new.macs < 0.75 * old.macs
    for conv in convs(pruned).values():  # grouped convolutions stay valid
        assert conv.in_channels % conv.groups == 0 and conv.out_channels % conv.groups == 0


@pytest.mark.parametrize("name", MODELS)
def test_amount_zero_leaves_outputs_exactly_unchanged(name, x):
    model = build(name)
    pruned = prune_filters(model, x, 0.0)
    with torch.no_grad():
        assert torch.equal(pruned(x), model(x))
    assert channel_plan(pruned)["layers"] == {}


def test_half_of_a_plain_network_is_the_network_at_half_width(x):
    """Every group halves, so the result counts exactly as the same net built half as wide."""
    pruned = prune_filters(build("vgg_style"), x, 0.5)
    want = count(VGGStyle(widths=(4, 8, 16)), x)
    got = count(pruned, x)
    assert (got.params, got.macs) == (want.params, want.macs)
    assert pruned.classifier[1].in_features == 16 * 4  # each channel is 4 flattened features


def test_residual_network_at_half_width_and_coupled_layers_keep_the_same_channels(x):
    pruned = prune_filters(build("resnet_style"), x, 0.5)
    want, got = count(ResNetStyle(width=8), x), count(pruned, x)
    assert (got.params, got.macs) == (want.params, want.macs)
    plan = channel_plan(pruned)["layers"]
    stage1 = [plan[n]["out"]["kept"] for n in ("stem.0", "layer1.0.conv2", "layer1.1.conv2")]
    stage2 = [plan[n]["out"]["kept"] for n in ("layer2.0.shortcut.0", "layer2.0.conv2", "layer2.1.conv2")]
    assert stage1[0] == stage1[1] == stage1[2] and stage2[0] == stage2[1] == stage2[2]
    assert plan["layer1.0.bn2"]["out"]["kept"] == stage1[0]


def test_mobilenet_v1_halves_every_convolution_and_quarters_pointwise_macs(x):
    model = build("mobilenet_v1")
    pruned = prune_filters(model, x, 0.5)
    for name, conv in convs(model).items():
        assert convs(pruned)[name].out_channels == conv.out_channels // 2
    old, new = count(model, x), count(pruned, x)
    pointwise = [n for n, c in convs(model).items() if c.kernel_size == (1, 1)]
    assert sum(new[n].macs for n in pointwise) * 4 == sum(old[n].macs for n in pointwise)
    assert pruned.classifier.in_features == model.classifier.in_features // 2


def test_mobilenet_v2_residual_projections_share_channels(x):
    model = build("mobilenet_v2")
    plan = channel_plan(prune_filters(model, x, 0.5))["layers"]
    projections = [f"features.{i}.block.2.0" for i in (4, 5, 6)]  # one stage, two residual additions
    kept = [plan[n]["out"]["kept"] for n in projections]
    assert kept[0] == kept[1] == kept[2] and len(kept[0]) == convs(model)[projections[0]].out_channels // 2


def test_shufflenet_shuffled_channels_stay_whole_and_residual_stream_shrinks_by_groups(x):
    model = build("shufflenet_v1")
    pruned = prune_filters(model, x, 0.5)
    before, after = convs(model), convs(pruned)
    # reduce -> shuffle -> depthwise -> grouped expand: the shuffle ties every channel to the others
    assert after["features.3.depthwise.0"].out_channels == before["features.3.depthwise.0"].out_channels
    # the stage's residual stream (concatenation with the pooled input, then additions) halves
    assert after["features.3.expand.0"].out_channels == before["features.3.expand.0"].out_channels // 2
    assert after["features.0.0"].out_channels == 12


def test_ignored_layers_keep_their_shape(x):
    model = build("mobilenet_v1")
    pruned = prune_filters(model, x, 0.5, ignore=["features.2.1.0", model.features[4][1][0]])
    for name in ("features.2.1.0", "features.4.1.0"):
        assert (convs(pruned)[name].in_channels, convs(pruned)[name].out_channels) == \
               (convs(model)[name].in_channels, convs(model)[name].out_channels)
    # channels feeding an ignored layer stay too; the others halve
    assert convs(pruned)["features.3.1.0"].out_channels == convs(model)["features.3.1.0"].out_channels
    assert convs(pruned)["features.5.1.0"].out_channels == convs(model)["features.5.1.0"].out_channels // 2


def test_per_layer_amounts_and_round_to(x):
    model = build("vgg_style")
    pruned = prune_filters(model, x, {"features.1.0": 0.5})
    assert [c.out_channels for c in convs(pruned).values()] == [8, 8, 32]
    rounded = prune_filters(model, x, 0.3, round_to=4)  # keeps 6 -> 8, 12, 23 -> 24
    assert [c.out_channels for c in convs(rounded).values()] == [8, 12, 24]


def test_every_layer_keeps_a_channel(x):
    pruned = prune_filters(VGGStyle(widths=(1, 2, 4)).eval(), x, 0.99)
    assert [c.out_channels for c in convs(pruned).values()] == [1, 1, 1]


@pytest.mark.parametrize("criterion", ["fpgm", "taylor", "apoz", "function"])
def test_other_criteria_choose_filters(criterion, x):
    model = build("vgg_style")
    y = torch.arange(2) % 10
    chosen = {"fpgm": FPGM(), "taylor": Taylor([(x, y)], nn.functional.cross_entropy), "apoz": APoZ([x]),
              "function": lambda w: -w.abs().flatten(1).sum(1)}[criterion]
    pruned = prune_filters(model, x, 0.5, criterion=chosen)
    assert [c.out_channels for c in convs(pruned).values()] == [4, 8, 16]
    assert all(p.grad is None for p in model.parameters())


def test_lowest_l1_filters_go():
    model = nn.Sequential(nn.Conv2d(1, 4, 1, bias=False), nn.ReLU(), nn.Conv2d(4, 1, 1)).eval()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([3.0, -0.1, 2.0, 0.5]).reshape(4, 1, 1, 1))
    pruned = prune_filters(model, torch.randn(1, 1, 4, 4), 0.5)
    assert pruned[0].weight.flatten().tolist() == [3.0, 2.0]
    assert channel_plan(pruned)["layers"]["0"]["out"]["kept"] == [0, 2]
    assert pruned[2].weight.shape == (1, 2, 1, 1)


class Scale(nn.Module):
    """A per-channel learned scale: unknown to pyprune until registered."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.linspace(0.5, 1.5, channels))

    def forward(self, x):
        return x * self.weight.view(1, -1, 1, 1)


class ScaledConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.scale = Scale(8)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.head(self.scale(self.conv(x)))


def test_parameters_scaling_channels_are_cut_with_them_and_registered_layers_are_pruned(x):
    model = ScaledConv().eval()
    pruned = prune_filters(model, x, 0.5)  # the scale's weight is bound to the channels it scales
    assert pruned.conv.out_channels == 4 and pruned.scale.weight.numel() == 4
    kept = channel_plan(pruned)["layers"]["conv"]["out"]["kept"]
    torch.testing.assert_close(pruned.scale.weight, model.scale.weight[kept])

    class ScaleNorm(nn.BatchNorm2d):
        """A registered subclass is pruned by its base type's pruner."""

    model.scale = ScaleNorm(8).eval()
    assert prune_filters(model, x, 0.5).scale.num_features == 4

    class ChannelScale(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(c))

        def forward(self, x):
            if x.dim() != 4:  # control flow: traceable only as a leaf, which registering makes it
                raise ValueError("ChannelScale takes NCHW")
            return x * self.weight.view(1, -1, 1, 1)

    class ChannelScalePruner(ModulePruner):
        follows_input = True

        def in_channels(self, module):
            return module.weight.numel()

        out_channels = in_channels

        def prune(self, module, keep_out, keep_in):
            module.weight = nn.Parameter(module.weight.detach()[keep_out])

    register_pruner(ChannelScale, ChannelScalePruner())
    model.scale = ChannelScale(8)
    pruned = prune_filters(model, x, 0.5)
    assert pruned.scale.weight.numel() == 4 and pruned(x).shape == (2, 2, 32, 32)


def test_pruned_mobilenet_converts_to_pyprune_kernels(x):
    pruned = prune_filters(build("mobilenet_v1"), x, 0.5)
    fast = pyprune.convert(pruned, x)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), pruned(x), rtol=1e-3, atol=1e-4)
