"""channel_plan / apply_channel_plan: the pruned architecture as JSON, rebuilt from the original."""

import json

import pytest

torch = pytest.importorskip("torch")
from batchnorm import randomize_batchnorms  # noqa: E402
from small_nets import ResNetStyle  # noqa: E402

from pyprune.models import MobileNetV1, MobileNetV2, ShuffleNetV1  # noqa: E402
from pyprune.prune import PruningError, apply_channel_plan, channel_plan, prune_filters  # noqa: E402

FACTORIES = {
    "mobilenet_v1": lambda: MobileNetV1(num_classes=10, width=0.25),
    "mobilenet_v2": lambda: MobileNetV2(num_classes=10, width=0.35),
    "shufflenet_v1": lambda: ShuffleNetV1(num_classes=10, groups=3, width=0.5),
    "resnet_style": ResNetStyle,
}


@pytest.mark.parametrize("name", FACTORIES)
def test_round_trip_through_json_gives_identical_outputs(name):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    pruned = prune_filters(randomize_batchnorms(FACTORIES[name]()), x, 0.4).eval()
    text = json.dumps(channel_plan(pruned))
    rebuilt = apply_channel_plan(FACTORIES[name](), json.loads(text))
    rebuilt.load_state_dict(pruned.state_dict())
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), pruned(x))
    assert channel_plan(rebuilt) == channel_plan(pruned)


def test_plans_of_repeated_pruning_stay_relative_to_the_original():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    twice = prune_filters(prune_filters(ResNetStyle(), x, 0.5), x, 0.5)
    plan = channel_plan(twice)
    assert plan["layers"]["stem.0"]["out"]["size"] == 16 and len(plan["layers"]["stem.0"]["out"]["kept"]) == 4
    rebuilt = apply_channel_plan(ResNetStyle(), plan)
    rebuilt.load_state_dict(twice.state_dict())
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), twice.eval()(x))


def test_bad_plans_are_refused():
    x = torch.randn(1, 3, 32, 32)
    plan = channel_plan(prune_filters(ResNetStyle(), x, 0.5))
    with pytest.raises(PruningError, match="architecture"):
        apply_channel_plan(ResNetStyle(width=8), plan)
    with pytest.raises(PruningError, match="does not have"):
        apply_channel_plan(MobileNetV1(num_classes=10, width=0.25), plan)
    with pytest.raises(PruningError, match="format"):
        apply_channel_plan(ResNetStyle(), {"layers": {}})
    with pytest.raises(PruningError, match="version"):
        apply_channel_plan(ResNetStyle(), {**plan, "version": 99})
    with pytest.raises(PruningError, match="unpruned"):
        apply_channel_plan(prune_filters(ResNetStyle(), x, 0.5), plan)
