"""Real data: a small CNN on scikit-learn's digits loses half its filters and recovers."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
from small_nets import VGGStyle, accuracy, train  # noqa: E402

from pyprune.prune import L1, prune_filters  # noqa: E402
from pyprune.stats import count  # noqa: E402


@pytest.fixture
def one_thread():
    """Batches of 8x8 images are too small to share: extra threads only wait on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_half_the_filters_pruned_by_l1_recover_after_fine_tuning(one_thread):
    torch.manual_seed(0)
    model = VGGStyle(in_channels=1, widths=(16, 32, 64))
    train(model, epochs=12)
    trained = accuracy(model)
    assert trained > 0.95
    x = torch.zeros(1, 1, 8, 8)
    pruned = prune_filters(model, x, 0.5, criterion=L1())
    assert count(pruned, x).params < 0.3 * count(model, x).params
    train(pruned, epochs=6, lr=1e-3, seed=1)
    assert accuracy(pruned) >= trained - 0.01
