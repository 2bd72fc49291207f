"""Schedules and the prune -> fine-tune loop."""

import pytest

torch = pytest.importorskip("torch")
from small_nets import VGGStyle  # noqa: E402
from torch import nn  # noqa: E402

from pyprune.stats import count  # noqa: E402
from pyprune.prune import (  # noqa: E402
    FilterPruning,
    GradualCubic,
    Iterative,
    MagnitudePruning,
    OneShot,
    PruningError,
    mask_of,
    prune_and_finetune,
)


def test_schedule_targets():
    assert OneShot().targets(0.5) == [0.5]
    assert Iterative(3).targets(0.875) == pytest.approx([0.5, 0.75, 0.875])
    # Zhu & Gupta with s_i = 0, s_f = 0.8, n = 4: 0.8 * (1 - (1 - t/4)^3)
    assert GradualCubic(4).targets(0.8) == pytest.approx([0.8 * (1 - 0.75 ** 3), 0.8 * (1 - 0.5 ** 3),
                                                          0.8 * (1 - 0.25 ** 3), 0.8])
    assert GradualCubic(2, initial=0.2).targets(0.6) == pytest.approx([0.6 - 0.4 / 8, 0.6])
    with pytest.raises(PruningError, match="steps"):
        Iterative(0)
    with pytest.raises(PruningError, match="initial"):
        GradualCubic(3, initial=1.5)


class Recorder:
    def __init__(self):
        self.calls = []

    def train(self, model, epochs):
        self.calls.append(epochs)

    def eval(self, model):
        return float(len(self.calls))


def test_filter_pruning_loop_reaches_the_target_and_records_history(capsys):
    model = VGGStyle().eval()
    x = torch.randn(1, 3, 16, 16)
    recorder = Recorder()
    pruned, history = prune_and_finetune(model, x, 0.75, method=FilterPruning(), schedule=Iterative(2),
                                         train_fn=recorder.train, eval_fn=recorder.eval, epochs=3, progress=True)
    assert [c.out_channels for c in pruned.modules() if isinstance(c, nn.Conv2d)] == [2, 4, 8]
    assert recorder.calls == [3, 3]
    assert [s.metric for s in history.steps] == [0.0, 1.0, 2.0]
    assert history.steps[0].params > history.steps[1].params > history.steps[2].params
    assert history.steps[2].macs < history.steps[0].macs / 10
    assert [c.out_channels for c in model.modules() if isinstance(c, nn.Conv2d)] == [8, 16, 32]
    table = str(history)
    assert "sparsity" in table and len(table.splitlines()) == 4


def test_magnitude_loop_follows_the_gradual_schedule_and_ends_permanent(tmp_path):
    model = VGGStyle()
    x = torch.randn(1, 3, 16, 16)
    _, history = prune_and_finetune(model, x, 0.8, method=MagnitudePruning(block=2), schedule=GradualCubic(3),
                                    train_fn=lambda m, e: None, eval_fn=lambda m: 1.0, progress=False)
    pruned, _ = prune_and_finetune(model, x, 0.8, method=MagnitudePruning(), train_fn=lambda m, e: None,
                                   eval_fn=lambda m: 1.0, progress=False)
    assert all(mask_of(m) is None for m in pruned.modules())
    targets = GradualCubic(3).targets(0.8)
    assert [s.target for s in history.steps[1:]] == targets
    # convolution and linear weights are most of the parameters: sparsity follows the targets
    for step, target in zip(history.steps[1:], targets):
        assert target * 0.9 < step.sparsity <= target
    assert history.plot(tmp_path / "history.png").stat().st_size > 1000


def test_history_counts_the_macs_of_the_nonzero_weights_as_sparsity_grows():
    """Masks keep every parameter in place: MACs must still fall with the sparsity, as the
    non-zero weights' MACs do (pyprune.stats nonzero_macs)."""
    model = VGGStyle()
    x = torch.randn(1, 3, 16, 16)
    seen = []

    def evaluate(m):
        seen.append(count(m, x))
        return 0.0

    pruned, history = prune_and_finetune(model, x, 0.8, method=MagnitudePruning(), schedule=Iterative(3),
                                         train_fn=lambda m, e: None, eval_fn=evaluate, progress=False,
                                         metric_name="top-1 (%)")
    assert [s.macs for s in history.steps] == [c.nonzero_macs for c in seen]
    assert history.steps[-1].macs == count(pruned, x).nonzero_macs
    macs = [s.macs for s in history.steps]
    assert macs == sorted(macs, reverse=True) and len(set(macs)) == len(macs)
    assert len({s.params for s in history.steps}) == 1  # masks: nothing removed
    # the 3x3 convolutions (every weight does as many MACs as the others of its layer) dominate
    assert macs[-1] / macs[0] == pytest.approx(1 - history.steps[-1].sparsity, abs=0.1)
    lines = str(history).splitlines()
    assert "non-zero MACs" in lines[0]
    assert [int(line.split()[5].replace(",", "")) for line in lines[1:]] == macs
    fig = history.figure()
    assert fig.axes[0].get_ylabel() == "top-1 (%)" and "MACs" in fig.axes[1].get_ylabel()


def test_loop_rejects_bad_arguments():
    with pytest.raises(PruningError, match="target"):
        prune_and_finetune(VGGStyle(), torch.randn(1, 3, 8, 8), 1.0, method=FilterPruning(),
                           train_fn=lambda m, e: None, eval_fn=lambda m: 0.0)
    with pytest.raises(TypeError, match="method"):
        prune_and_finetune(VGGStyle(), torch.randn(1, 3, 8, 8), 0.5, method="filters",
                           train_fn=lambda m, e: None, eval_fn=lambda m: 0.0)
