"""Unstructured and block magnitude masks: exact sparsity, blocks, persistence through
optimizer steps, and make_permanent."""

import copy

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pyprune.models import MobileNetV1  # noqa: E402
from pyprune.prune import PruningError, Scope, make_permanent, mask_of, prune_magnitude, sparsity  # noqa: E402
from pyprune.prune.masks import block_scores  # noqa: E402


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1, groups=16),
                         nn.Conv2d(16, 12, 1), nn.Flatten(), nn.Linear(12 * 16, 10))


def test_layer_scope_reaches_the_target_in_every_layer_and_keeps_the_largest():
    model = small_net()
    before = copy.deepcopy(model)
    result = prune_magnitude(model, 0.75)
    assert set(result) == {"0", "2", "3", "5"}
    for name, value in result.items():
        assert value == pytest.approx(0.75, abs=0.5 / model.get_submodule(name).weight.numel())
    w, w0 = model[3].weight, before[3].weight
    smallest_kept = w0.abs()[w != 0].min()
    assert bool((w0.abs()[w == 0] <= smallest_kept).all())


def test_global_scope_uses_one_threshold():
    model = small_net()
    with torch.no_grad():
        model[5].weight.fill_(1.0)  # larger than any convolution weight: the head keeps them all
    prune_magnitude(model, 0.25, scope=Scope.GLOBAL)  # fewer than the convolutions' weights
    assert int((model[5].weight == 0).sum()) == 0
    assert sparsity(model) == pytest.approx(0.25, abs=1e-3)


@pytest.mark.parametrize("block", [2, 4, 8])
def test_blocks_of_output_channels_go_together(block):
    model = small_net()
    prune_magnitude(model, 0.5, block=block, include_depthwise=False)
    assert mask_of(model[2]) is None
    weight = model[3].weight.detach().flatten(1)  # 12 output channels: a last short block for 8
    for start in range(0, 12, block):
        rows = (weight[start: start + block] == 0)
        assert bool((rows == rows[:1]).all())


def test_block_scores_are_norms_of_consecutive_output_channels():
    weight = torch.arange(6.0).reshape(3, 2)  # rows (0,1) (2,3) (4,5)
    torch.testing.assert_close(block_scores(weight, 2), torch.tensor([[2.0, 10 ** 0.5], [4.0, 5.0]]))


@pytest.mark.parametrize("make_optimizer", [
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
    lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=1e-2),
    lambda p: torch.optim.AdamW(p, lr=0.1),
], ids=["sgd_momentum", "adam", "adamw"])
def test_masked_weights_stay_zero_through_optimizer_steps(make_optimizer):
    model = small_net()
    optimizer = make_optimizer(model.parameters())
    x = torch.randn(4, 3, 4, 4)

    def step():
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()

    step()  # momentum and Adam state from before the masks
    prune_magnitude(model, 0.6)
    zeros = {name: m.weight == 0 for name, m in model.named_modules() if mask_of(m) is not None}
    for _ in range(3):
        step()
        original = model[3].parametrizations.weight.original
        assert original.grad is not None and bool((original.grad[zeros["3"]] == 0).all())
    for name, was_zero in zeros.items():
        assert bool((model.get_submodule(name).weight[was_zero] == 0).all())
    make_permanent(model)
    assert mask_of(model[3]) is None and isinstance(model[3].weight, nn.Parameter)
    for name, was_zero in zeros.items():
        assert bool((model.get_submodule(name).weight[was_zero] == 0).all())
    assert set(model.state_dict()) == set(small_net().state_dict())


def test_pruning_again_goes_further_and_deepcopy_keeps_masks():
    model = small_net()
    prune_magnitude(model, 0.5)
    prune_magnitude(model, 0.8)
    assert sparsity(model) == pytest.approx(0.8, abs=0.01)
    clone = copy.deepcopy(model)
    assert mask_of(clone[3]) is not None and sparsity(clone) == sparsity(model)


def test_ignore_and_bad_arguments_leave_the_model_untouched():
    model = MobileNetV1(num_classes=10, width=0.25)
    prune_magnitude(model, 0.5, ignore=["classifier"])
    assert mask_of(model.classifier) is None and mask_of(model.features[1][1][0]) is not None
    fresh = small_net()
    state = copy.deepcopy(fresh.state_dict())
    for kwargs, match in [({"sparsity": 1.0}, "sparsity"), ({"sparsity": 0.5, "block": 3}, "block"),
                          ({"sparsity": 0.5, "ignore": ["nope"]}, "nope"),
                          ({"sparsity": 0.5, "scope": "global"}, "Scope")]:
        with pytest.raises(PruningError, match=match):
            prune_magnitude(fresh, **kwargs)
        assert all(mask_of(m) is None for m in fresh.modules())
        assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in state.items())
