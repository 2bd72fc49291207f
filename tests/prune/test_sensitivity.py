"""Sensitivity analysis: one layer at a time, a table, a plot, ratios within a budget."""

import pytest

torch = pytest.importorskip("torch")
from small_nets import ResNetStyle, VGGStyle  # noqa: E402
from torch import nn  # noqa: E402

from pyprune.prune import Granularity, PruningError, Sensitivity, prune_filters, sensitivity  # noqa: E402


def channels_left(model):
    """A metric that falls as channels go: the fraction of the first two convolutions' filters kept."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return (convs[0].out_channels / 8 + convs[1].out_channels / 16) / 2


def test_each_layer_is_pruned_alone_and_the_model_is_untouched():
    model = VGGStyle().eval()
    x = torch.randn(1, 3, 16, 16)
    result = sensitivity(model, x, channels_left, ratios=(0.25, 0.5), progress=False)
    assert result.baseline == 1.0
    assert list(result.metrics) == ["features.0.0", "features.1.0", "features.3.0"]
    assert result.metrics["features.0.0"] == {0.25: 1 - 0.25 / 2, 0.5: 0.75}
    assert result.metrics["features.3.0"] == {0.25: 1.0, 0.5: 1.0}
    assert channels_left(model) == 1.0
    assert "features.1.0" in str(result) and "50%" in str(result)


class CountWritten(nn.Module):
    """b's channel count is written out in a reshape: pruning sees b prunable, its cut breaks
    the forward."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 4, 1)

    def forward(self, x):
        h = self.b(torch.relu(self.a(x)))
        return self.c(torch.relu(h.reshape(x.shape[0], 8, h.shape[2], h.shape[3])))


def test_a_layer_whose_cut_breaks_the_forward_is_left_out_saying_why():
    model, x = CountWritten().eval(), torch.randn(1, 3, 8, 8)
    result = sensitivity(model, x, lambda m: 0.0, ratios=(0.25, 0.5), progress=False)
    assert list(result.metrics) == ["a"] and list(result.skipped) == ["b"]
    assert "removing them breaks the forward" in result.skipped["b"] and "left out: layer 'b'" in str(result)
    with pytest.raises(PruningError, match="layer 'b' cannot be pruned: removing them breaks the forward"):
        sensitivity(model, x, lambda m: 0.0, ratios=(0.5,), layers=["b"], progress=False)


def test_ratios_within_a_budget_feed_prune_filters():
    result = Sensitivity(0.9, [0.25, 0.5, 0.75], {"a": {0.25: 0.9, 0.5: 0.89, 0.75: 0.5},
                                                  "b": {0.25: 0.7, 0.5: 0.6, 0.75: 0.5},
                                                  "c": {0.25: 0.9, 0.5: 0.9, 0.75: 0.9}})
    assert result.ratios_within(0.02) == {"a": 0.5, "c": 0.75}
    x = torch.randn(1, 3, 16, 16)
    model = VGGStyle().eval()
    ratios = sensitivity(model, x, channels_left, ratios=(0.25, 0.5, 0.75), progress=False).ratios_within(0.13)
    assert ratios == {"features.0.0": 0.25, "features.1.0": 0.25, "features.3.0": 0.75}
    pruned = prune_filters(model, x, ratios)
    assert [m.out_channels for m in pruned.modules() if isinstance(m, nn.Conv2d)] == [6, 12, 8]


def test_weight_granularity_and_plot(tmp_path):
    model = ResNetStyle().eval()
    x = torch.randn(1, 3, 16, 16)

    def zeros(m):
        return float(sum(int((c.weight == 0).sum()) for c in m.modules() if isinstance(c, (nn.Conv2d, nn.Linear))))

    result = sensitivity(model, x, zeros, ratios=(0.5,), layers=["stem.0", "fc"],
                         granularity=Granularity.WEIGHTS, higher_is_better=False, progress=False)
    assert result.metrics["stem.0"][0.5] == 3 * 16 * 9 // 2 and result.metrics["fc"][0.5] == 32 * 10 // 2
    assert result.drop("fc", 0.5) == 160
    assert result.plot(tmp_path / "s.png").stat().st_size > 1000
    with pytest.raises(PruningError, match="not Conv2d or Linear"):
        sensitivity(model, x, zeros, layers=["stem.1"], granularity=Granularity.WEIGHTS, progress=False)
    with pytest.raises(PruningError, match="ratios"):
        sensitivity(model, x, zeros, ratios=(0.0, 1.0), progress=False)


def curves(ax):
    return {line.get_label(): line for line in ax.get_lines()}


@pytest.mark.parametrize("metric_name,higher,label", [
    ("top-1 accuracy (%)", True, "top-1 accuracy (%), higher is better"),
    ("loss", False, "loss, lower is better"),
    (None, True, "eval_fn(model), higher is better"),
])
def test_plot_labels_the_metric_the_baseline_and_the_chosen_ratios(metric_name, higher, label, tmp_path):
    result = Sensitivity(0.9, [0.25, 0.5, 0.75], {"a": {0.25: 0.9, 0.5: 0.89, 0.75: 0.5},
                                                  "b": {0.25: 0.7, 0.5: 0.6, 0.75: 0.5},
                                                  "c": {0.25: 0.9, 0.5: 0.9, 0.75: 0.9}},
                         higher_is_better=higher, metric_name=metric_name)
    chosen = {"a": 0.5, "c": 0.75}
    ax = result.figure(chosen).axes[0]
    assert ax.get_ylabel() == label
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["a", "b", "c", "baseline, unpruned (0.9)", "chosen ratio"]
    lines = curves(ax)
    assert list(lines["baseline, unpruned (0.9)"].get_ydata()) == [0.9, 0.9]
    # one circle per chosen layer, on its curve at its ratio, in its colour
    circles = [line for line in ax.get_lines() if line.get_marker() == "o" and len(line.get_xdata()) == 1]
    assert [(c.get_xdata()[0], c.get_ydata()[0], c.get_color()) for c in circles] == [
        (0.5, 0.89, lines["a"].get_color()), (0.75, 0.9, lines["c"].get_color())]
    # without a choice: no circles and no legend entry for them
    ax = result.figure().axes[0]
    assert "chosen ratio" not in [text.get_text() for text in ax.get_legend().get_texts()]
    assert not [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert result.plot(tmp_path / "s.png", chosen).read_bytes()[:4] == b"\x89PNG"


def test_plot_rejects_a_choice_that_was_not_measured():
    result = Sensitivity(0.9, [0.25, 0.5], {"a": {0.25: 0.9, 0.5: 0.8}})
    with pytest.raises(PruningError, match="'b'"):
        result.figure({"b": 0.25})
    with pytest.raises(PruningError, match="0.3"):
        result.figure({"a": 0.3})


def test_many_layers_keep_the_legend_to_baseline_and_choices():
    metrics = {f"layer{i}": {0.5: 0.5} for i in range(30)}
    ax = Sensitivity(1.0, [0.5], metrics).figure({"layer3": 0.5}).axes[0]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["baseline, unpruned (1)", "chosen ratio"]


def test_sensitivity_passes_the_metric_name_on():
    result = sensitivity(VGGStyle().eval(), torch.randn(1, 3, 16, 16), channels_left, ratios=(0.5,), progress=False,
                         metric_name="channels kept")
    assert result.metric_name == "channels kept"
    assert result.figure().axes[0].get_ylabel() == "channels kept, higher is better"


def test_curves_start_at_the_baseline_so_one_ratio_still_draws_a_line():
    ax = Sensitivity(0.9, [0.5], {"a": {0.5: 0.6}}).figure().axes[0]
    line = curves(ax)["a"]
    assert list(line.get_xdata()) == [0.0, 0.5] and list(line.get_ydata()) == [0.9, 0.6]
    assert ax.get_xlim() == (0, 1)


def test_the_model_is_captured_once_per_call(monkeypatch):
    import pyprune.prune.filters as filters

    captures = []
    trace = filters.trace_channels
    monkeypatch.setattr(filters, "trace_channels", lambda *args: captures.append(1) or trace(*args))
    model, x = VGGStyle().eval(), torch.randn(1, 3, 16, 16)
    result = sensitivity(model, x, channels_left, ratios=(0.25, 0.5, 0.75), progress=False)
    assert len(captures) == 1 and len(result.metrics) == 3
    # the same numbers as pruning each layer from its own capture
    for layer, by_ratio in result.metrics.items():
        for ratio, metric in by_ratio.items():
            assert metric == channels_left(prune_filters(model, x, {layer: ratio}))
    assert len(captures) == 1 + 9
