"""Bad input gives a clear PruningError naming the problem, and the model is left as it was."""

import copy

import pytest

torch = pytest.importorskip("torch")
from small_nets import VGGStyle  # noqa: E402
from torch import nn  # noqa: E402

from pyprune.prune import PruningError, PruningWarning, prune_filters, pruning_report  # noqa: E402
from pyprune.prune.pruners import pruner_for  # noqa: E402

X = torch.randn(1, 3, 16, 16)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x) if x.sum() > 0 else x


class WithResponseNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = nn.LocalResponseNorm(3)
        self.other = nn.Conv2d(8, 8, 1)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.head(self.other(self.norm(self.conv(x))))


class HardCodedView(nn.Module):
    """Flattens with a fixed feature count: pruning the last convolution would break it, the
    first one not."""

    def __init__(self):
        super().__init__()
        self.first = nn.Conv2d(3, 8, 3, padding=1)
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(32, 2)

    def forward(self, x):
        return self.fc(self.pool(self.conv(torch.relu(self.first(x)))).view(-1, 32))


def unchanged(model, before):
    return all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and \
        model.state_dict().keys() == before.keys()


@pytest.mark.parametrize("amount,match", [
    (1.0, r"amount must be a number in \[0, 1\)"),
    (-0.1, "amount"),
    ("half", "amount"),
    ({"features.0.0": 1.5}, "amount for layer 'features.0.0'"),
    ({"features.9": 0.5}, "'features.9', which the model does not have"),
    ({"features.2": 0.5}, "'features.2' has no channels"),
    ({"classifier.1": 0.5}, "'classifier.1' cannot be pruned: its channels reach the model output"),
])
def test_bad_amounts(amount, match):
    model = VGGStyle()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(PruningError, match=match):
        prune_filters(model, X, amount)
    assert unchanged(model, before)


def test_bad_ignore_and_round_to():
    with pytest.raises(PruningError, match="ignore names layer 'nope'"):
        prune_filters(VGGStyle(), X, 0.5, ignore=["nope"])
    with pytest.raises(PruningError, match="ignore names layer 'Conv2d'"):
        prune_filters(VGGStyle(), X, 0.5, ignore=[nn.Conv2d(1, 1, 1)])
    with pytest.raises(PruningError, match="round_to"):
        prune_filters(VGGStyle(), X, 0.5, round_to=0)
    assert isinstance(PruningError("x"), ValueError)


def test_untraceable_models_are_refused():
    with pytest.raises(PruningError, match="torch.export can capture"):
        prune_filters(DataDependent(), X, 0.5)


def test_unknown_layers_block_their_channels_and_are_named():
    model = WithResponseNorm()
    with pytest.warns(PruningWarning, match="removed 25.0%"):
        pruned = prune_filters(model, X, 0.5)
    assert pruned.conv.out_channels == 8 and pruned.other.out_channels == 4
    with pytest.raises(PruningError, match=r"'conv' cannot be pruned.*'norm' \(LocalResponseNorm\)"):
        prune_filters(model, X, {"conv": 0.5})


def test_channels_whose_removal_breaks_the_forward_stay_and_the_rest_go():
    model = HardCodedView()
    before = copy.deepcopy(model.state_dict())
    x = torch.randn(2, 3, 8, 8)
    with pytest.warns(PruningWarning, match="removed 25.0%"):
        pruned = prune_filters(model, x, 0.5)
    assert pruned.first.out_channels == 4 and pruned.conv.out_channels == 8
    assert pruned(x).shape == (2, 2) and unchanged(model, before)
    assert "group conv: left whole\n  8 units: removing them breaks the forward (RuntimeError: mat1 and mat2" \
        in str(pruning_report(pruned))


def test_a_pruner_never_removes_every_channel():
    conv = nn.Conv2d(3, 4, 1)
    with pytest.raises(PruningError, match="every output channel"):
        pruner_for(conv).prune(conv, [], None)
    grouped = nn.Conv2d(4, 4, 1, groups=2)
    with pytest.raises(PruningError, match="differ between groups"):
        pruner_for(grouped).prune(grouped, [0, 3], None)
