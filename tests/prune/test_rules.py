"""Channel rules at the edges: slice bounds counted from the end, integer and tensor indexing
on channel and non-channel axes, transposed convolutions. Each pruned model is checked against
the original with the removed filters zeroed: the two agree exactly only if every kept channel
reached the layer it feeds in the right place."""

import pytest

torch = pytest.importorskip("torch")
from small_nets import hook_weight_norm  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from pyprune.prune import (  # noqa: E402
    APoZ,
    L1,
    PruningError,
    PruningWarning,
    Target,
    apply_channel_plan,
    channel_plan,
    prune_filters,
    pruning_report,
)
from pyprune.modes import copy_model  # noqa: E402
from pyprune.prune.pruners import pruner_for  # noqa: E402
from pyprune.prune.weight_norm import is_weight_normalised  # noqa: E402

X = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(0))


def conv(cin, cout, k=1, **kwargs):
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=False, **kwargs)


def zeroed(model, pruned):
    """`model` with the output channels pruning removed set to zero (as if their filters and
    biases were)."""
    result = copy_model(model)
    for name, entry in channel_plan(pruned)["layers"].items():
        if "out" not in entry:
            continue
        module = result.get_submodule(name)
        gone = torch.tensor(sorted(set(range(entry["out"]["size"])) - set(entry["out"]["kept"])), dtype=torch.long)
        dim = -1 if isinstance(module, nn.Linear) else 1
        module.register_forward_hook(lambda m, args, out, dim=dim, gone=gone: out.index_fill(dim, gone, 0))
    return result


def check_pruned(model, amount=0.5, x=X, criterion=None):
    """Prune, check the pruned model against the zeroed original, return it."""
    pruned = prune_filters(model.eval(), x, amount, criterion=criterion)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), zeroed(model, pruned)(x), rtol=1e-5, atol=1e-5)
    return pruned


def reasons(pruned):
    return [reason for group in pruning_report(pruned).blocked for reason in group.reasons]


class TailSlices(nn.Module):
    """Slices of a concatenation by bounds counted from the end: an attribute negated in the
    code (x[:, -self.tail:]), one stored negative (x[:, self.cut:]), one ending the slice."""

    def __init__(self):
        super().__init__()
        self.a, self.b = conv(3, 8), conv(3, 6)
        self.tail, self.cut, self.front = 9, -5, 4
        self.h1, self.h2, self.h3 = conv(9, 4), conv(5, 4), conv(10, 4)

    def forward(self, x):
        y = torch.relu(torch.cat([self.a(x), self.b(x)], 1))
        return self.h1(y[:, -self.tail:]) + self.h2(y[:, self.cut:]) + self.h3(y[:, :-self.front])


def test_slice_bounds_counted_from_the_end_are_rewritten_to_the_channels_kept_behind_them():
    model = TailSlices()
    with pytest.warns(PruningWarning, match="1 units are blocked"):  # so that tail never becomes -0
        pruned = check_pruned(model)
    plan = channel_plan(pruned)["layers"]
    a_kept, b_kept = plan["a"]["out"]["kept"], plan["b"]["out"]["kept"]
    y_kept = a_kept + [8 + i for i in b_kept]
    assert pruned.tail == sum(i >= 14 - 9 for i in y_kept) < 9
    assert pruned.cut == -sum(i >= 14 - 5 for i in y_kept)
    assert pruned.front == sum(i >= 14 - 4 for i in y_kept)
    assert pruned.h1.in_channels == pruned.tail and pruned.h2.in_channels == -pruned.cut


class FrontOnly(nn.Module):
    """x[:, :-self.tail] with a tail whose channels all score lowest: one must stay, or the
    bound would become -0 (an empty slice)."""

    def __init__(self):
        super().__init__()
        self.a, self.head, self.whole = conv(3, 8), conv(5, 4), conv(8, 4)
        self.tail = 3
        with torch.no_grad():
            self.a.weight[5:] *= 1e-3

    def forward(self, x):
        y = torch.relu(self.a(x))
        return self.head(y[:, :-self.tail]) + self.whole(y)


def test_a_bound_counted_from_the_end_keeps_one_channel_behind_it():
    with pytest.warns(PruningWarning, match="removed 75.0%: 1 units are blocked"):
        pruned = check_pruned(FrontOnly(), amount=0.9)
    assert pruned.tail == 1 and channel_plan(pruned)["layers"]["a"]["out"]["kept"][-1] == 7
    assert any("never becomes -0" in r for r in reasons(pruned))


class FixedTail(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.head = conv(3, 8), conv(3, 4)

    def forward(self, x):
        return self.head(self.a(x)[:, -3:])


def test_a_negative_bound_fixed_in_the_code_blocks_the_channels_behind_it():
    with pytest.warns(PruningWarning, match="3 units are blocked"):
        pruned = check_pruned(FixedTail())
    assert channel_plan(pruned)["layers"]["a"]["out"]["kept"][-3:] == [5, 6, 7]
    assert pruned.a.out_channels == 6  # half of the five in front go, rounded down
    assert any("slices the channels at 3 from the end, a bound fixed in the code" in r for r in reasons(pruned))


class NonChannelPicks(nn.Module):
    """Integer and tensor indexing along axes without channels: the batch, a row, the last
    column (negative), a list of rows; the channels flow on to the head."""

    def __init__(self):
        super().__init__()
        self.a, self.b = conv(3, 8, 3), conv(8, 6)
        self.head = nn.Linear(6, 5)

    def forward(self, x):
        y = torch.relu(self.a(x))
        y = self.b(y[0].unsqueeze(0).expand(x.shape[0], -1, -1, -1))
        rows = y[:, :, 0] + y[..., -1] + y[:, :, [1, 0, 2, 3, 4, 5]].mean(2)
        return self.head(rows.mean(-1))


def test_indexing_axes_without_channels_lets_the_channels_through():
    pruned = check_pruned(NonChannelPicks())
    assert (pruned.a.out_channels, pruned.b.out_channels, pruned.head.in_features) == (4, 3, 3)
    assert not pruning_report(pruned).warning


class ChannelPicks(nn.Module):
    """Picking channels by integer (negative and not) or by a list: those that fix which
    channel is picked stay."""

    def __init__(self, pick):
        super().__init__()
        self.a, self.head = conv(3, 8), conv(8, 4)
        self.pick = pick

    def forward(self, x):
        y = torch.relu(self.a(x))
        return self.head(y) + self.pick(y)[:, None].mean((2, 3), keepdim=True)


@pytest.mark.parametrize("pick,fixed,reason", [
    (lambda y: y[:, 2], [0, 1, 2], "picks channel 2, an index fixed in the code"),
    (lambda y: y[:, -2], [6, 7], "picks channel -2, an index fixed in the code"),
    (lambda y: y[:, [1, 4]].sum(1), list(range(8)), "picks channels by indices fixed in the code"),
])
def test_indexing_the_channels_blocks_the_channels_that_fix_the_pick(pick, fixed, reason):
    if len(fixed) < 8:
        with pytest.warns(PruningWarning, match=f"{len(fixed)} units are blocked"):
            pruned = check_pruned(ChannelPicks(pick))
        kept = channel_plan(pruned)["layers"]["a"]["out"]["kept"]
        assert set(fixed) <= set(kept) and len(kept) == 8 - (8 - len(fixed)) // 2  # half of the others go
    else:
        with pytest.warns(PruningWarning, match="removed 0.0%"):
            pruned = check_pruned(ChannelPicks(pick))
    assert any(reason in r for r in reasons(pruned))


class Decoder(nn.Module):
    """Convolution, transposed convolution (upsampling), convolution."""

    def __init__(self, groups=1, bias=True):
        super().__init__()
        self.a = conv(3, 8, 3)
        self.up = nn.ConvTranspose2d(8, 6, 2, 2, groups=groups, bias=bias)
        self.b = conv(6, 4, 3)

    def forward(self, x):
        return self.b(torch.relu(self.up(torch.relu(self.a(x)))))


@pytest.mark.parametrize("criterion", [None, L1(group=False), lambda w: w.abs().flatten(1).sum(1)],
                         ids=["group L1", "filter L1", "function of the weight"])
@pytest.mark.parametrize("bias", [True, False])
def test_transposed_convolutions_are_pruned_on_both_sides(bias, criterion):
    model = Decoder(bias=bias)
    with torch.no_grad():  # outputs 1, 3 and 4 of the transposed convolution (its weight's dim 1) matter least
        model.up.weight[:, [1, 3, 4]] *= 1e-3
        model.b.weight[:, [1, 3, 4]] *= 1e-3
    pruned = check_pruned(model, criterion=criterion)
    up = pruned.up
    assert (up.in_channels, up.out_channels, tuple(up.weight.shape)) == (4, 3, (4, 3, 2, 2))
    assert up.bias is None if not bias else up.bias.shape == (3,)
    assert pruned.a.out_channels == 4 and pruned.b.in_channels == 3
    assert channel_plan(pruned)["layers"]["up"]["out"]["kept"] == [0, 2, 5]
    rebuilt = apply_channel_plan(model, channel_plan(pruned))  # the plan rebuilds it
    rebuilt.load_state_dict(pruned.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(X), pruned(X))


class DepthwiseUp(nn.Module):
    """A depthwise transposed convolution (times `multiplier`) upsampling a convolution's output."""

    def __init__(self, multiplier=1):
        super().__init__()
        self.a = conv(3, 8, 3)
        self.up = nn.ConvTranspose2d(8, 8 * multiplier, 4, 2, 1, groups=8)
        self.b = conv(8 * multiplier, 4, 3)

    def forward(self, x):
        return self.b(self.up(torch.relu(self.a(x))))


def test_grouped_transposed_convolutions_lose_the_same_positions_in_every_group():
    model = Decoder(groups=2)
    with torch.no_grad():  # output 1 of each group of the transposed convolution matters least
        model.up.weight[:, 1] *= 1e-3
        model.b.weight[:, [1, 4]] *= 1e-3
    pruned = check_pruned(model)
    up = pruned.up
    assert (up.in_channels, up.out_channels, up.groups, tuple(up.weight.shape)) == (4, 4, 2, (4, 2, 2, 2))
    assert channel_plan(pruned)["layers"]["up"]["out"]["kept"] == [0, 2, 3, 5]
    assert pruned.b.in_channels == 4
    with pytest.raises(PruningError, match="kept output channels differ between groups"):
        pruner_for(Decoder(groups=2).up).prune(Decoder(groups=2).up, [0, 1], None)


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_transposed_convolutions_carry_their_input_channels(multiplier):
    pruned = check_pruned(DepthwiseUp(multiplier))
    up = pruned.up
    assert (up.in_channels, up.out_channels, up.groups) == (4, 4 * multiplier, 4)
    assert pruned.a.out_channels == 4 and pruned.b.in_channels == 4 * multiplier
    assert tuple(up.weight.shape) == (4, multiplier, 4, 4)
    rebuilt = apply_channel_plan(DepthwiseUp(multiplier), channel_plan(pruned))
    rebuilt.load_state_dict(pruned.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(X), pruned(X))


class Sequence1d(nn.Module):
    """A speech model's blocks (MatchboxNet, TC-ResNet): depthwise separable nn.Conv1d with
    BatchNorm1d over (N, C, T), a transposed Conv1d upsampling the time axis, a Conv3d head."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(3, 8, 3, padding=1)
        self.dw = nn.Conv1d(8, 8, 5, padding=2, groups=8)
        self.pw = nn.Conv1d(8, 8, 1, bias=False)
        self.bn = nn.BatchNorm1d(8)
        self.up = nn.ConvTranspose1d(8, 6, 4, 2, 1)
        self.c = nn.Conv1d(6, 8, 3, padding=1)
        self.head = nn.Conv3d(8, 2, 1)

    def forward(self, x):
        t = x.flatten(2)  # (N, 3, H * W)
        y = torch.relu(self.bn(self.pw(self.dw(torch.relu(self.a(t))))))
        y = torch.relu(self.c(torch.relu(self.up(y))))
        return self.head(y.unsqueeze(-1).unsqueeze(-1))


def test_1d_and_3d_convolutions_are_pruned():
    torch.manual_seed(0)
    model = Sequence1d().eval()
    with torch.no_grad():
        model.bn.running_var.uniform_(0.5, 1.5)
    pruned = check_pruned(model)
    assert (pruned.a.out_channels, pruned.dw.groups, pruned.pw.out_channels, pruned.bn.num_features) == (4, 4, 4, 4)
    assert (pruned.up.in_channels, pruned.up.out_channels, pruned.c.in_channels) == (4, 3, 3)
    assert (pruned.c.out_channels, pruned.head.in_channels) == (4, 4)
    rebuilt = apply_channel_plan(Sequence1d().eval(), channel_plan(pruned))
    rebuilt.load_state_dict(pruned.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(X), pruned(X))


def test_1d_and_3d_layers_are_found_by_apoz():
    """APoZ finds the activation after each layer by the layer's op: those of 1-d and 3-d
    convolutions were missing, and it refused every such layer ("saw no activation")."""
    torch.manual_seed(0)
    pruned = check_pruned(Sequence1d().eval(), criterion=APoZ([X]))
    assert (pruned.a.out_channels, pruned.pw.out_channels, pruned.up.out_channels) == (4, 4, 3)


class Decoder3d(nn.Module):
    """A 3-d U-Net's decoder step: a strided Conv3d, its BatchNorm3d, a ConvTranspose3d (kernel 3,
    stride 2, output padding 1) back up, the skip concatenated, a Conv3d."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv3d(3, 8, 3, 2, 1)
        self.bn = nn.BatchNorm3d(8)
        self.up = nn.ConvTranspose3d(8, 6, 3, 2, 1, 1)
        self.out = nn.Conv3d(9, 4, 3, padding=1)

    def forward(self, x):
        v = x.unsqueeze(2).expand(-1, -1, 4, -1, -1)  # (N, 3, 4, H, W)
        y = torch.relu(self.up(torch.relu(self.bn(self.down(v)))))
        return self.out(torch.cat([y, v], 1))


def test_3d_transposed_convolutions_are_pruned():
    """nn.ConvTranspose3d had a pruner but no rule for its op: its input channels were blocked
    ("pruning does not understand") and the layer before it was left whole."""
    torch.manual_seed(0)
    model = Decoder3d().eval()
    with torch.no_grad():
        model.bn.running_var.uniform_(0.5, 1.5)
    pruned = check_pruned(model)
    assert (pruned.down.out_channels, pruned.bn.num_features, pruned.up.in_channels) == (4, 4, 4)
    assert (pruned.up.out_channels, pruned.out.in_channels) == (3, 6)


class WeightNormed(nn.Module):
    """A vocoder's layers (HiFi-GAN, TCN), every one weight-normalised: Conv1d, an upsampling
    ConvTranspose1d (normalised per input channel), a dilated Conv1d, a Linear over channels."""

    def __init__(self, norm):
        super().__init__()
        self.a = norm(nn.Conv1d(3, 8, 3, padding=1))
        self.up = norm(nn.ConvTranspose1d(8, 6, 4, 2, 1))
        self.c = norm(nn.Conv1d(6, 8, 3, padding=2, dilation=2))
        self.head = norm(nn.Linear(8, 2))

    def forward(self, x):
        y = torch.tanh(self.up(torch.tanh(self.a(x.flatten(2)))))
        return self.head(torch.tanh(self.c(y)).transpose(1, 2))


@pytest.mark.parametrize("norm", [nn.utils.parametrizations.weight_norm, hook_weight_norm],
                         ids=["parametrization", "hook"])
def test_weight_normalised_layers_keep_their_weights_exactly_and_stay_normalised(norm):
    torch.manual_seed(0)
    model = WeightNormed(norm).eval()
    pruned = check_pruned(model)  # cutting v alone would rescale the kept weights of c and head
    assert (pruned.a.out_channels, pruned.up.in_channels, pruned.up.out_channels, pruned.c.in_channels) == (4, 4, 3, 3)
    assert (pruned.c.out_channels, pruned.head.in_features, pruned.head.out_features) == (4, 4, 2)
    assert all(is_weight_normalised(m, "weight") for m in (pruned.a, pruned.up, pruned.c, pruned.head))
    assert model.a.out_channels == 8 and tuple(model.c.weight.shape) == (8, 6, 3)  # the model is untouched
    rebuilt = apply_channel_plan(WeightNormed(norm).eval(), channel_plan(pruned))
    rebuilt.load_state_dict(pruned.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(X), pruned(X))
    halved = prune_filters(model, X, target=Target.params(0.5))  # the weights count as their layers'
    assert 0.475 <= pruning_report(halved).target_kept <= 0.5
    assert sum(p.numel() for p in halved.parameters()) <= 0.5 * sum(p.numel() for p in model.parameters())


class ClassToken(nn.Module):
    """A ViT's class token concatenated before its patch tokens, then a channel MLP: each of the
    token's channels goes with the patch channel it sits above."""

    def __init__(self):
        super().__init__()
        self.patches = nn.Conv2d(3, 8, 2, 2, bias=False)
        self.token = nn.Parameter(torch.randn(1, 1, 8))
        self.fc1, self.fc2 = nn.Linear(8, 16, bias=False), nn.Linear(16, 4)

    def forward(self, x):
        t = self.patches(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.token.expand(t.shape[0], -1, -1), t], 1)
        return self.fc2(torch.relu(self.fc1(t)))[:, 0]


def test_a_class_token_concatenated_with_the_patches_is_cut_with_their_channels():
    torch.manual_seed(0)
    model = ClassToken().eval()
    pruned = prune_filters(model, X, 0.5)
    kept = channel_plan(pruned)["layers"]["patches"]["out"]["kept"]
    assert pruned.patches.out_channels == 4 and pruned.fc1.in_features == 4
    torch.testing.assert_close(pruned.token, model.token[..., kept])
    with torch.no_grad():
        original = zeroed(model, pruned)
        original.token[..., sorted(set(range(8)) - set(kept))] = 0
        torch.testing.assert_close(pruned(X), original(X), rtol=1e-5, atol=1e-5)


class LinearAttention(nn.Module):
    """MobileViTv2's separable self-attention: one 1x1 convolution gives a query of one channel
    and key and value of self.dim each, split by [1, self.dim, self.dim]; each key channel weighs
    the value channel it sits above."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.qkv, self.out = nn.Conv2d(dim, 1 + 2 * dim, 1), nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        query, key, value = self.qkv(x).flatten(2).split([1, self.dim, self.dim], dim=1)
        context = (key * torch.softmax(query, dim=-1)).sum(-1, keepdim=True)
        return self.out((torch.relu(value) * context.expand_as(value)).unflatten(2, x.shape[2:]))


class SeparableAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.attn, self.head = conv(3, 8, 3), LinearAttention(8), conv(8, 2)

    def forward(self, x):
        y = torch.relu(self.stem(x))
        return self.head(y + self.attn(y))


def test_split_sizes_held_one_by_one_by_attributes_follow_them_and_a_fixed_size_keeps_its_channels():
    pruned = check_pruned(SeparableAttention())
    assert (pruned.attn.dim, pruned.attn.qkv.out_channels, pruned.attn.out.in_channels) == (4, 9, 4)
    assert any("splits off 1 channels" in r for r in reasons(pruned))


class SpeakerMasks(nn.Module):
    """Conv-TasNet's masks: one convolution's output chunked per speaker, stacked along a new dim
    and picked back by index or unbind, each multiplying the encoder's channels."""

    def __init__(self, how):
        super().__init__()
        self.how = how
        self.enc, self.mask, self.dec = conv(3, 8, 3), conv(8, 16), conv(8, 2)

    def forward(self, x):
        w = torch.relu(self.enc(x))
        m = torch.sigmoid(torch.stack(torch.chunk(self.mask(w), 2, dim=1), dim=0))
        masks = m.unbind(0) if self.how == "unbind" else [m[i] for i in range(2)]
        return [self.dec(w * mask) for mask in masks]


@pytest.mark.parametrize("how", ["index", "unbind"])
def test_slices_of_a_stack_of_one_channel_set_are_picked_without_blocking(how):
    pruned = check_pruned(SpeakerMasks(how))
    assert (pruned.enc.out_channels, pruned.mask.out_channels, pruned.dec.in_channels) == (4, 8, 4)


class AliasedExcitation(nn.Module):
    """A Paddle port's squeeze-excitation (PicoDet's ESNet): torch.multiply, an alias of mul."""

    def __init__(self):
        super().__init__()
        self.a, self.se, self.b = conv(3, 8, 3), nn.Conv2d(8, 8, 1), conv(8, 2)

    def forward(self, x):
        y = torch.relu(self.a(x))
        return self.b(torch.multiply(y, torch.sigmoid(self.se(y.mean((2, 3), keepdim=True)))))


def test_channels_pass_through_aliases_of_the_ops_they_name():
    pruned = check_pruned(AliasedExcitation())
    assert (pruned.a.out_channels, pruned.se.in_channels, pruned.se.out_channels, pruned.b.in_channels) == (4, 4, 4, 4)


class UnpoolingSegmenter(nn.Module):
    """ENet's bottlenecks: a downsampling one whose max-pool shortcut is widened by concatenated
    zeros (their count read from the tensors), and an upsampling one unpooling with those indices."""

    def __init__(self):
        super().__init__()
        self.stem, self.ext, self.mid, self.up, self.head = conv(3, 8, 3), conv(8, 16, 3), conv(16, 8), conv(8, 8, 3), conv(8, 2)
        self.pool, self.unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)

    def forward(self, x):
        y = torch.relu(self.stem(x))
        main, indices = self.pool(y)
        ext = self.ext(main)
        zeros = torch.zeros(main.shape[0], ext.shape[1] - main.shape[1], *main.shape[2:])
        z = torch.relu(torch.cat([main, zeros], 1) + ext)
        return self.head(self.unpool(torch.relu(self.mid(z)), indices, output_size=y.shape) + self.up(y))


def test_a_shortcut_widened_by_zeros_and_unpooling_with_indices_are_cut():
    pruned = check_pruned(UnpoolingSegmenter())
    assert reasons(pruned) == ["its channels reach the model output"]  # nothing else blocks
    assert pruned.ext.out_channels == pruned.mid.in_channels == 8  # the least important: the zeros' half


class Integral(nn.Module):
    """GFL's distribution integral (NanoDet's, PicoDet's heads): a softmax over bins, then
    F.linear with a 1-d projection buffer, a dot product per row."""

    def __init__(self):
        super().__init__()
        self.a, self.reg = conv(3, 8, 3), conv(8, 16)
        self.register_buffer("project", torch.linspace(0, 7, 8))

    def forward(self, x):
        bins = self.reg(torch.relu(self.a(x))).permute(0, 2, 3, 1).reshape(-1, 2, 8)
        return F.linear(torch.softmax(bins, -1), self.project)


def test_a_linear_map_with_a_1d_weight_is_a_dot_product_over_the_bins():
    with pytest.warns(PruningWarning, match="8 units are blocked"):  # the bins, mixed two sides to a row
        pruned = prune_filters(Integral().eval(), X, 0.5)
    assert pruned.a.out_channels == 4 and pruned.reg.in_channels == 4
    assert pruned.reg.out_channels == 16 and pruned.project.shape == (8,)  # the bins reach the output


class TokenMixing(nn.Module):
    """MLP-Mixer's and ResMLP's token mixing: a linear layer over the tokens of (N, C, tokens),
    row by row, between a convolution and channel layers."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 2, 2)  # 9 tokens of X
        # no bias: a removed channel would carry it on, unlike the zeroed original's
        self.tokens = nn.Linear(9, 9, bias=False)
        self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        t = self.stem(x).flatten(2)
        y = (t + self.tokens(t)).transpose(1, 2)
        y = y + self.fc2(torch.relu(self.fc1(y)))
        return self.head(y.mean(1))


def test_a_linear_layer_over_tokens_passes_the_channels_through():
    pruned = check_pruned(TokenMixing())
    assert (pruned.stem.out_channels, pruned.fc1.in_features, pruned.fc2.out_features, pruned.head.in_features) == \
        (4, 4, 4, 4)
    assert (pruned.tokens.in_features, pruned.tokens.out_features, pruned.fc1.out_features) == (9, 9, 8)


class GlobalContext(nn.Module):
    """GCNet's context block: the features pooled by a softmax map over space as a matrix product
    (x as (B, 1, C, HW) times the map as (B, 1, HW, 1)), a bottleneck added back; then the
    channels contracted with a parameter, and with a tensor the forward computes."""

    def __init__(self):
        super().__init__()
        self.a = conv(3, 8, 3)
        self.mask = nn.Conv2d(8, 1, 1)
        self.t1, self.t2 = nn.Conv2d(8, 4, 1), nn.Conv2d(4, 8, 1)
        self.mix = nn.Parameter(torch.randn(8, 5))
        self.b = conv(8, 4, 3)
        self.c, self.d, self.e = conv(3, 6, 3), conv(3, 6, 1), conv(6, 2)

    def forward(self, x):
        y = torch.relu(self.a(x))
        b, c, h, w = y.shape
        attn = self.mask(y).view(b, 1, h * w).softmax(2).unsqueeze(-1)
        context = torch.matmul(y.view(b, c, h * w).unsqueeze(1), attn).view(b, c, 1, 1)
        y = y + self.t2(torch.relu(self.t1(context)))
        mixed = torch.matmul(y.flatten(2).transpose(1, 2), self.mix)
        gram = torch.bmm(self.c(x).flatten(2), x.flatten(2).transpose(1, 2))  # c's channels on rows
        kept = torch.bmm(self.d(x).flatten(2).transpose(1, 2), x.flatten(2)[:, :1].expand(-1, 6, -1))
        return self.b(y), mixed, self.e(gram.unsqueeze(-1)), kept


def test_matrix_products_carry_rows_and_columns_and_merge_the_contracted_channels():
    with pytest.warns(PruningWarning, match="6 units are blocked"):  # d's
        pruned = check_pruned(GlobalContext())
    assert (pruned.a.out_channels, pruned.t2.out_channels, pruned.t1.in_channels, pruned.b.in_channels) == (4, 4, 4, 4)
    assert tuple(pruned.mix.shape) == (4, 5) and pruned.mask.in_channels == 4
    assert (pruned.c.out_channels, pruned.e.in_channels) == (3, 3)  # on the product's rows
    assert pruned.d.out_channels == 6  # contracted with a tensor of the forward: left whole
    assert any("contracted with" in r for r in reasons(pruned))


class Widening(nn.Module):
    """Residual blocks that widen by zero channels padded to the shortcut (BlazeFace): by an
    attribute of the block, on both sides by one attribute, or by a count fixed in the code."""

    def __init__(self, fixed=False):
        super().__init__()
        self.a = conv(3, 6, 3)
        self.b = conv(6, 10, 3)
        self.c = conv(10, 14, 3)
        self.d = conv(14, 2)
        self.pad, self.side, self.fixed = None if fixed else 4, 2, fixed

    def forward(self, x):
        x = torch.relu(self.a(x))
        x = torch.relu(self.b(x) + nn.functional.pad(x, (0, 0, 0, 0, 0, 4 if self.fixed else self.pad)))
        return self.d(self.c(x) + nn.functional.pad(x, (0, 0, 0, 0, self.side, self.side)))


@pytest.mark.parametrize("fixed", [False, True])
def test_channels_padded_to_a_shortcut_go_with_what_they_meet(fixed):
    model = Widening(fixed)
    with torch.no_grad():  # the channels meeting the padded ones matter least
        model.b.weight[6:] *= 1e-3
        model.c.weight[[0, 1, 8, 9, 10, 11, 12, 13]] *= 1e-3
    if fixed:  # the four padded channels stay; of the others, the side pads and two of a's go
        with pytest.warns(PruningWarning, match="4 units are blocked"):
            pruned = check_pruned(model)
        assert pruned.side == 0 and pruned.a.out_channels == 4 and pruned.c.out_channels == pruned.b.out_channels == 8
        assert "pads the channels by 4, a count fixed in the code" in " ".join(reasons(pruned))
    else:
        pruned = check_pruned(model)
        assert pruned.side == 0 and pruned.c.out_channels == pruned.b.out_channels == 6
        assert pruned.pad == 0 and pruned.a.out_channels == 6


class Normalised(nn.Module):
    """F.normalize over the channels (SwiftFormer's additive attention, cosine heads): the norm,
    one value per position, expanded back over the channels it divides."""

    def __init__(self):
        super().__init__()
        self.a, self.head = conv(3, 8), conv(8, 2)

    def forward(self, x):
        return self.head(nn.functional.normalize(torch.relu(self.a(x)), dim=1))


def test_channels_divided_by_their_norm_can_go():
    pruned = check_pruned(Normalised())  # the norm of what is kept is the zeroed original's
    assert pruned.a.out_channels == 4 and pruned.head.in_channels == 4


class ViewedTo(nn.Module):
    """A classifier's input viewed to a width the module holds (x.view(-1, self.features)),
    an entry of a list of stage widths (ShakeShake's view(-1, self.in_chs[3])), or a number."""

    def __init__(self, how):
        super().__init__()
        self.how, self.a, self.fc = how, conv(3, 8, 3), nn.Linear(8, 2)
        self.features, self.widths = (8, [4, 16]) if how == "attribute" else (None, [4, 8])

    def forward(self, x):
        y = torch.relu(self.a(x)).mean((2, 3), keepdim=True)
        width = {"attribute": self.features, "entry": self.widths[1], "number": 8}[self.how]
        return self.fc(y.view(-1, width))


@pytest.mark.parametrize("how", ["attribute", "entry", "number"])
def test_a_view_to_a_width_the_module_holds_follows_the_channels(how):
    if how == "number":  # the cut forward fails: the channels stay
        with pytest.warns(PruningWarning, match="removed 0.0%"):
            pruned = check_pruned(ViewedTo(how))
        assert pruned.a.out_channels == 8
        return
    pruned = check_pruned(ViewedTo(how))
    assert pruned.a.out_channels == pruned.fc.in_features == 4
    assert (pruned.features, pruned.widths) == ((4, [4, 16]) if how == "attribute" else (None, [4, 4]))
    assert channel_plan(pruned)["layers"][""]["attributes"] == ({"features": 4} if how == "attribute" else {"widths": [4, 4]})


class PartialConv(nn.Module):
    """FasterNet's partial convolution in its inference form: a 3x3 convolution of the first
    channels written back in place into a clone (the channels it reads it replaces)."""

    def __init__(self):
        super().__init__()
        self.stem, self.dim_conv3 = conv(3, 8, 3), 4
        self.partial_conv3 = conv(4, 4, 3)
        self.mlp, self.head = conv(8, 8), conv(8, 2)
        with torch.no_grad():  # two of the partial channels and two of the others matter least
            least = [0, 1, 6, 7]
            for weight in (self.stem.weight, self.mlp.weight):
                weight[least] *= 1e-3
            for weight in (self.mlp.weight, self.head.weight):
                weight[:, least] *= 1e-3
            self.partial_conv3.weight[[0, 1]] *= 1e-3
            self.partial_conv3.weight[:, [0, 1]] *= 1e-3

    def forward(self, x):
        x = self.stem(x).clone()
        x[:, :self.dim_conv3, :, :] = self.partial_conv3(x[:, :self.dim_conv3, :, :])
        return self.head(x + self.mlp(x))


def test_channels_written_back_in_place_go_with_those_they_replace():
    pruned = check_pruned(PartialConv())
    assert channel_plan(pruned)["layers"]["stem"]["out"]["kept"] == [2, 3, 4, 5]
    assert pruned.dim_conv3 == 2 and (pruned.partial_conv3.in_channels, pruned.partial_conv3.out_channels) == (2, 2)


class PaddedShortcut(nn.Module):
    """CIFAR ResNet's option-A shortcut: the stream subsampled and padded with zero channels on
    both sides by counts the code fixes (a lambda's planes // 4), so half of the widened
    stream's group is blocked."""

    def __init__(self):
        super().__init__()
        self.a, self.b = conv(3, 4, 3), conv(4, 4, 3)
        self.c, self.e, self.head = conv(4, 8, 3, stride=2), conv(8, 8, 3), conv(8, 2)

    def forward(self, x):
        x = torch.relu(self.a(x))
        x = torch.relu(self.b(x) + x)
        x = torch.relu(self.c(x) + nn.functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 2, 2)))
        return self.head(torch.relu(self.e(x) + x))


def test_blocked_units_do_not_make_the_others_go_in_their_place():
    """Half of what may go goes: the stem keeps two of its four channels (it kept one, the
    least a layer keeps, when the four padded zeros counted towards the half)."""
    with pytest.warns(PruningWarning, match="4 units are blocked"):
        pruned = check_pruned(PaddedShortcut())
    assert (pruned.a.out_channels, pruned.b.out_channels, pruned.c.out_channels, pruned.e.out_channels) == (2, 2, 6, 6)


class ShuffledThenCropped(nn.Module):
    """Sub-pixel upsampling spelled out as a view and a permute (a convolution's channels become
    pixels), cropped by a fixed size."""

    def __init__(self):
        super().__init__()
        self.a = conv(3, 8, 3)
        self.b = conv(8, 16, 3)
        self.c = conv(4, 2, 3)

    def forward(self, x):
        y = self.b(torch.relu(self.a(x)))
        n, c, h, w = y.shape
        y = y.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // 4, 2 * h, 2 * w)
        return self.c(y[:, :, :10])


def test_a_slice_of_channels_moved_to_pixels_names_the_dim_it_cuts():
    with pytest.warns(PruningWarning):
        pruned = check_pruned(ShuffledThenCropped())
    assert pruned.a.out_channels == 4 and pruned.b.out_channels == 16
    assert any("slices dim 2 (holding channels a reshape moved there) at 10" in r for r in reasons(pruned))


class Gated(nn.Module):
    """A gated linear unit over channels: the first half times the sigmoid of the second."""

    def __init__(self):
        super().__init__()
        self.a = conv(3, 8, 3)
        self.b = conv(4, 2, 3)

    def forward(self, x):
        return self.b(nn.functional.glu(self.a(x), dim=1))


def test_a_gated_linear_unit_removes_a_channel_with_its_gate():
    model = Gated()
    with torch.no_grad():  # channel 2 and its gate 6 matter least
        model.a.weight[[2, 6]] *= 1e-3
    pruned = check_pruned(model)
    kept = channel_plan(pruned)["layers"]["a"]["out"]["kept"]
    assert len(kept) == 4 and 2 not in kept and 6 not in kept
    assert [k + 4 for k in kept[:2]] == kept[2:]  # a channel and its gate stay or go together
    assert pruned.b.in_channels == 2


class PReLUs(nn.Module):
    """A PReLU with a slope per channel between two convolutions, one with a single slope last."""

    def __init__(self):
        super().__init__()
        self.a, self.act, self.b, self.last = conv(3, 8), nn.PReLU(8), conv(8, 4), nn.PReLU()

    def forward(self, x):
        return self.last(self.b(self.act(self.a(x))))


def test_prelu_slopes_are_cut_with_their_channels():
    model = PReLUs()
    with torch.no_grad():
        model.act.weight.copy_(torch.linspace(0.1, 0.8, 8))
    pruned = check_pruned(model)
    kept = channel_plan(pruned)["layers"]["a"]["out"]["kept"]
    assert len(kept) == 4 and pruned.b.in_channels == 4
    torch.testing.assert_close(pruned.act.weight, model.act.weight[kept])
    assert pruned.last.weight.shape == (1,)


class Scans(nn.Module):
    """Running sums along the width, an arctangent and bicubic upsampling pass the channels
    through; a running product along the channels mixes them."""

    def __init__(self, along_channels):
        super().__init__()
        self.a, self.b = conv(3, 8), conv(8, 4)
        self.along_channels = along_channels

    def forward(self, x):
        y = torch.atan(self.a(x)).cumsum(3) * 0.1
        y = nn.functional.interpolate(y, scale_factor=2, mode="bicubic")
        return self.b(y.cumprod(1) if self.along_channels else y)


def test_scans_along_other_dims_let_the_channels_through():
    pruned = check_pruned(Scans(along_channels=False))
    assert (pruned.a.out_channels, pruned.b.in_channels) == (4, 4)
    assert not pruning_report(pruned).warning


def test_a_scan_along_the_channels_blocks_them():
    with pytest.warns(PruningWarning, match="removed 0.0%"):
        pruned = check_pruned(Scans(along_channels=True))
    assert pruned.a.out_channels == 8
    assert any("mixed by" in r and "cumprod" in r for r in reasons(pruned))


class PooledOverChannels(nn.Module):
    """A 3-d pooling of an unsqueezed tensor: its depth is the channel dim (a hand-written local
    response norm's window over neighbouring channels)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = conv(3, 8), conv(6, 4)

    def forward(self, x):
        y = nn.functional.avg_pool3d(torch.relu(self.a(x)).unsqueeze(1), (3, 1, 1), stride=1).squeeze(1)
        return self.b(y)


def test_a_3d_pooling_over_the_channels_blocks_them():
    with pytest.warns(PruningWarning, match="removed 0.0%"):
        pruned = prune_filters(PooledOverChannels().eval(), (X,), 0.5)
    assert pruned.a.out_channels == 8
    assert any("mixed spatially by" in r and "avg_pool3d" in r for r in reasons(pruned))


class ShuffleModules(nn.Module):
    """nn.ChannelShuffle and F.channel_shuffle between convolutions (ShuffleNet's shuffle as a
    module, as models written after torch had one use it)."""

    def __init__(self):
        super().__init__()
        self.a, self.shuffle, self.b, self.c = conv(3, 12), nn.ChannelShuffle(3), conv(12, 8, 3), conv(8, 4)

    def forward(self, x):
        return self.c(nn.functional.channel_shuffle(self.b(self.shuffle(torch.relu(self.a(x)))), 2))


def test_channel_shuffle_modules_prune_a_channel_of_every_group_together():
    model = ShuffleModules()
    pruned = check_pruned(model)
    assert (pruned.a.out_channels, pruned.b.in_channels, pruned.b.out_channels, pruned.c.in_channels) == (6, 6, 4, 4)
    # a channel goes with its places in the other groups: 3 groups of 4 lose the same 2 places
    plan = channel_plan(pruned)["layers"]
    kept_a, kept_b = plan["a"]["out"]["kept"], plan["b"]["out"]["kept"]
    assert len({k % 4 for k in kept_a}) == 2 and len({k % 4 for k in kept_b}) == 2
    assert reasons(pruned) == ["its channels reach the model output"]


class Pointwise(nn.Module):
    """Element-wise operators outside pruning's own list between two convolutions: ones torch
    tags pointwise (softshrink, hardshrink, sinc, xlogy) and log-sigmoid, which it does not."""

    def __init__(self):
        super().__init__()
        self.a, self.b = conv(3, 8), conv(8, 4)

    def forward(self, x):
        y = self.a(x)
        y = nn.functional.softshrink(nn.functional.hardshrink(y, 0.05), 0.05) + torch.sinc(y)
        return self.b(nn.functional.logsigmoid(y) + torch.xlogy(y, 2.0))


def test_operators_torch_tags_pointwise_let_the_channels_through():
    pruned = prune_filters(Pointwise().eval(), X, 0.5)  # f(0) != 0 for some: not checked against zeroed filters
    assert pruned.a.out_channels == 4 and pruned.b.in_channels == 4
    assert reasons(pruned) == ["its channels reach the model output"]


class SubPixel(nn.Module):
    """Sub-pixel upsampling (ESPCN, EDSR, SRResNet): a convolution of 4 x 4 channels shuffled
    into 4 channels of twice the size, read by a 3x3 convolution."""

    def __init__(self):
        super().__init__()
        self.a, self.up, self.tail = conv(3, 16, 3), nn.PixelShuffle(2), conv(4, 2, 3)

    def forward(self, x):
        return self.tail(torch.relu(self.up(self.a(x))))


def test_channels_shuffled_into_pixels_go_four_by_four():
    pruned = check_pruned(SubPixel())
    kept = channel_plan(pruned)["layers"]["a"]["out"]["kept"]
    assert pruned.tail.in_channels == 2 and len(kept) == 8
    assert {k // 4 for k in kept} == {k // 4 for k in kept[::4]} and all(k % 4 == i % 4 for i, k in enumerate(kept))


class Distilling(nn.Module):
    """IMDN's progressive distillation: three splits by the same two size attributes, the
    distilled parts concatenated, each remaining part read by the next convolution only. The
    remaining parts matter least, so an amount taken over the group as a whole would take all
    of them from `c2` and `c3`."""

    def __init__(self):
        super().__init__()
        self.distilled, self.remaining = 2, 6
        self.c1, self.c2, self.c3 = conv(3, 8, 3), conv(6, 8, 3), conv(6, 2, 3)
        self.fuse = conv(6, 3)
        with torch.no_grad():
            self.c1.weight[2:] *= 1e-3
            self.c2.weight[2:] *= 1e-3

    def forward(self, x):
        d1, r1 = torch.split(torch.relu(self.c1(x)), (self.distilled, self.remaining), dim=1)
        d2, r2 = torch.split(torch.relu(self.c2(r1)), (self.distilled, self.remaining), dim=1)
        return self.fuse(torch.cat([d1, d2, self.c3(r2)], 1))


def test_split_sizes_one_attribute_holds_for_several_splits_lose_the_same_positions():
    pruned = check_pruned(Distilling(), amount=0.8)
    plan = channel_plan(pruned)["layers"]
    k1, k2 = plan["c1"]["out"]["kept"], plan["c2"]["out"]["kept"]
    assert k1 == k2 and (pruned.distilled, pruned.remaining) == (1, 1)  # a layer keeps an input channel
    assert pruned.c2.in_channels == pruned.c3.in_channels == 1


class HalfNormed(nn.Module):
    """MODNet's IBNorm: two attributes hold half the channels each, and the code slices by one
    of them (batch norm on the first half, instance norm on the rest)."""

    def __init__(self):
        super().__init__()
        self.a, self.head = conv(3, 8), conv(8, 2)
        self.bnorm_channels, self.inorm_channels = 4, 4
        self.bnorm = nn.BatchNorm2d(4)
        self.inorm = nn.InstanceNorm2d(4)

    def forward(self, x):
        y = torch.relu(self.a(x))
        y = torch.cat([self.bnorm(y[:, :self.bnorm_channels]), self.inorm(y[:, self.bnorm_channels:])], 1)
        return self.head(y)


def test_a_bound_two_attributes_hold_follows_the_one_the_code_reads():
    pruned = check_pruned(HalfNormed().eval())
    assert pruned.a.out_channels == 4 and pruned.bnorm_channels == pruned.bnorm.num_features
    assert pruned.inorm_channels == 4  # not read by the forward: left as it was


class SeriesActivation(nn.ReLU):
    """VanillaNet's activation: a module of its own (no pruner knows it) whose forward runs a
    depthwise F.conv2d with its weight, the groups held by an attribute."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, 1, 3, 3))
        self.dim = dim

    def forward(self, x):
        return F.conv2d(super().forward(x), self.weight, None, padding=1, groups=self.dim)


class Vanilla(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.act, self.head = conv(3, 8), SeriesActivation(8), conv(8, 2)

    def forward(self, x):
        return self.head(self.act(self.a(x)))


def test_a_functional_depthwise_convolution_follows_its_groups_attribute():
    pruned = check_pruned(Vanilla())
    assert pruned.a.out_channels == pruned.act.dim == pruned.act.weight.shape[0] == 4
    assert all("no pruner" not in r for r in reasons(pruned))


class Resized1d(nn.Module):
    """1-d features upsampled (a vocoder's, SeaFormer's axial tokens) plus a positional table of
    one row per channel, interpolated to their length."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv1d(3, 8, 3, padding=1), nn.Conv1d(8, 2, 1)
        self.pos = nn.Parameter(torch.randn(1, 8, 5))

    def forward(self, x):
        y = F.interpolate(self.a(x.flatten(2)), scale_factor=2, mode="linear")
        return self.b(torch.relu(y + F.interpolate(self.pos, size=y.shape[-1], mode="linear")))


def test_channels_resized_along_one_dim_and_a_resized_table_go_together():
    """Against the original with the removed channels' filters, biases and table rows zeroed (the
    table is added after the convolution, so zeroing its output alone would leave the rows)."""
    model = Resized1d().eval()
    pruned = prune_filters(model, X, 0.5)
    assert pruned.a.out_channels == pruned.b.in_channels == pruned.pos.shape[1] == 4
    gone = sorted(set(range(8)) - set(channel_plan(pruned)["layers"]["a"]["out"]["kept"]))
    reference = copy_model(model)
    with torch.no_grad():
        for t in (reference.a.weight, reference.a.bias):
            t[gone] = 0
        reference.pos[:, gone] = 0
        torch.testing.assert_close(pruned(X), reference(X), rtol=1e-5, atol=1e-5)


class CastWeights(nn.Module):
    """Whisper's layers: F.linear and F.conv1d of their weights cast to the input's dtype (the
    same one here), nn.Linear and nn.Conv1d subclasses."""

    class Linear(nn.Linear):
        def forward(self, x):
            return F.linear(x, self.weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))

    class Conv1d(nn.Conv1d):
        def _conv_forward(self, x, weight, bias):
            return super()._conv_forward(x, weight.to(x.dtype), None if bias is None else bias.to(x.dtype))

    def __init__(self):
        super().__init__()
        self.a, self.fc, self.head = self.Conv1d(3, 8, 3, padding=1), self.Linear(8, 6), self.Linear(6, 2)

    def forward(self, x):
        y = F.gelu(self.a(x.flatten(2))).permute(0, 2, 1)
        return self.head(F.gelu(self.fc(y)))


def test_weights_cast_to_their_own_dtype_are_the_layers_weights():
    pruned = check_pruned(CastWeights())
    assert pruned.a.out_channels == pruned.fc.in_features == 4 and pruned.fc.out_features == pruned.head.in_features == 3
