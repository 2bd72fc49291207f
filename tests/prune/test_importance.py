"""Importance criteria against scores computed by hand on tiny layers."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pyprune.prune import APoZ, FPGM, L0, L1, L2, Random, Taylor  # noqa: E402
from pyprune.prune.importance import WeightCriterion, as_importance, normalised  # noqa: E402


def conv_with(weight):
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2], bias=False)
    with torch.no_grad():
        conv.weight.copy_(weight)
    return conv


# Three 1x1 filters over two inputs: (1, -2), (0, 0.5), (3, 4).
FILTERS = torch.tensor([[1.0, -2.0], [0.0, 0.5], [3.0, 4.0]]).reshape(3, 2, 1, 1)


@pytest.mark.parametrize("criterion,want", [
    (L0(), [2.0, 1.0, 2.0]),
    (L1(), [3, 0.5, 7]),
    (L2(), [5 ** 0.5, 0.5, 5]),
])
def test_norms(criterion, want):
    torch.testing.assert_close(criterion(conv_with(FILTERS), "c"), torch.tensor(want))


def test_fpgm_is_the_sum_of_distances_to_the_other_filters():
    d01 = (1 + 2.5 ** 2) ** 0.5
    d02 = (4 + 36) ** 0.5
    d12 = (9 + 3.5 ** 2) ** 0.5
    want = torch.tensor([d01 + d02, d01 + d12, d02 + d12])
    torch.testing.assert_close(FPGM()(conv_with(FILTERS), "c"), want)


def test_random_is_seeded_per_layer():
    conv = conv_with(FILTERS)
    assert torch.equal(Random(3)(conv, "a"), Random(3)(conv, "a"))
    assert not torch.equal(Random(3)(conv, "a"), Random(3)(conv, "b"))
    assert not torch.equal(Random(3)(conv, "a"), Random(4)(conv, "a"))


def test_taylor_is_mean_activation_times_gradient():
    # model: conv (2 channels, 1x1, no bias) then sum; loss = sum of outputs * target weights
    conv = conv_with(torch.tensor([[1.0], [-2.0]]).reshape(2, 1, 1, 1))
    model = nn.Sequential(conv)
    x = torch.tensor([[[[1.0, 3.0]]], [[[2.0, -1.0]]]])  # 2 examples, 1 channel, 1x2
    w = torch.tensor([1.0, 0.5])

    def loss_fn(out, target):
        return (out.sum(dim=(2, 3)) * w).sum() * target

    taylor = Taylor([(x, 2.0)], loss_fn)
    taylor.prepare(model, {"0": conv})
    # activation a[n, c, p] = conv_w[c] * x[n, p]; dL/da = 2 * w[c]; |mean_p a*g| averaged over n
    a = torch.tensor([1.0, -2.0]).reshape(1, 2, 1) * x.reshape(2, 1, 2)
    per_example = (a * (2 * w).reshape(1, 2, 1)).mean(dim=2).abs()
    torch.testing.assert_close(taylor(conv, "0"), per_example.mean(dim=0))
    assert conv.weight.grad is None  # gradients cleared


def test_taylor_scores_frozen_weights_and_leaves_them_frozen():
    """YOLO's distribution decoder holds a fixed projection (requires_grad=False): its filters
    are scored by weight x gradient as any other's."""
    conv = conv_with(torch.tensor([[1.0], [-2.0]]).reshape(2, 1, 1, 1))
    conv.weight.requires_grad_(False)
    x = torch.tensor([[[[1.0, 3.0]]]])
    w = torch.tensor([1.0, 0.5])
    taylor = Taylor([(x, 1.0)], lambda out, target: (out.sum(dim=(2, 3)) * w).sum() * target)
    taylor.prepare(nn.Sequential(conv), {"0": conv})
    # dL/dweight[c] = w[c] * sum of x = 4 w[c]: |weight x gradient| per filter
    torch.testing.assert_close(taylor.slices(conv.weight, 0, "0.weight"), torch.tensor([4.0, 4.0]))
    assert not conv.weight.requires_grad and conv.weight.grad is None


def test_apoz_counts_zeros_after_the_following_relu():
    conv = conv_with(torch.tensor([[1.0], [-1.0], [0.0]]).reshape(3, 1, 1, 1))
    model = nn.Sequential(conv, nn.BatchNorm2d(3).eval(), nn.ReLU())
    x = torch.tensor([[[[1.0, -1.0, 2.0, 3.0]]]])  # after ReLU: ch0 1 zero of 4, ch1 3 of 4, ch2 4 of 4
    apoz = APoZ([x])
    apoz.prepare(model.eval(), {"0": conv})
    torch.testing.assert_close(apoz(conv, "0"), torch.tensor([0.75, 0.25, 0.0]))


def token_linear():
    """A linear layer of 3 outputs over tokens (batch, tokens, features), as a transformer's
    MLP applies it: output channel c is the last dim."""
    linear = nn.Linear(1, 3, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0], [-1.0], [0.0]]))
    return linear


# One example of 4 tokens (more tokens than channels: a per-token score would have 4 entries).
TOKENS = torch.tensor([[[1.0], [-1.0], [2.0], [3.0]]])


def test_apoz_of_a_linear_layer_over_tokens_scores_its_output_features():
    linear = token_linear()
    apoz = APoZ([TOKENS])  # after ReLU: feature 0 1 zero of 4 tokens, feature 1 3 of 4, feature 2 4 of 4
    apoz.prepare(nn.Sequential(linear, nn.ReLU()).eval(), {"0": linear})
    torch.testing.assert_close(apoz(linear, "0"), torch.tensor([0.75, 0.25, 0.0]))


def test_taylor_of_a_linear_layer_over_tokens_scores_its_output_features():
    linear = token_linear()
    w = torch.tensor([1.0, 0.5, 2.0])
    taylor = Taylor([(TOKENS, 1.0)], lambda out, target: (out * w).sum() * target, group=False)
    taylor.prepare(nn.Sequential(linear).eval(), {"0": linear})
    # activation a[t, c] = weight[c] * x[t], dL/da = w[c]: |mean over tokens of a * g| per feature
    want = (TOKENS[0] * torch.tensor([1.0, -1.0, 0.0]) * w).mean(dim=0).abs()
    torch.testing.assert_close(taylor(linear, "0"), want)


def test_plain_functions_become_criteria_and_scores_normalise_to_mean_one():
    criterion = as_importance(lambda w: w.flatten(1).amax(dim=1))
    assert isinstance(criterion, WeightCriterion)
    torch.testing.assert_close(criterion(conv_with(FILTERS), "c"), torch.tensor([1.0, 0.5, 4.0]))
    want = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64)
    torch.testing.assert_close(normalised(torch.tensor([1.0, 2.0, 3.0])), want)
    with pytest.raises(TypeError, match="criterion"):
        as_importance("l1")
