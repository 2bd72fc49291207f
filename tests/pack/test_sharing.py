"""Weight sharing, relative-gap positions and codebook fine-tuning."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyprune.compress import encode_gaps, kmeans_1d, share_weights


@pytest.mark.parametrize("bits", [1, 2, 5, 8])
@pytest.mark.parametrize("density", [1.0, 0.3, 0.0])
def test_sharing_keeps_zeros_and_bounds_the_codebook(bits, density, rng):
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    w[rng.random(w.shape) >= density] = 0
    shared = share_weights(w, bits)
    got = shared.unpack()
    assert got.shape == w.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got == 0, w == 0)
    assert len(np.unique(got)) <= 2**bits and len(shared.codebook) <= 2**bits
    if density == 1.0:
        assert not shared.has_zero
    again = share_weights(w.copy(), bits)
    np.testing.assert_array_equal(again.codebook, shared.codebook)
    np.testing.assert_array_equal(again.indices, shared.indices)


def test_sharing_error_shrinks_with_bits(rng):
    w = rng.standard_normal(20000).astype(np.float32)
    errors = [np.abs(share_weights(w, b).unpack() - w).mean() for b in (2, 4, 6, 8)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.01


def test_kmeans_is_lloyd_fixed_point(rng):
    x = rng.standard_normal(5000)
    c = kmeans_1d(x, 16)
    labels = np.argmin(np.abs(x[:, None] - c[None]), axis=1)
    np.testing.assert_allclose(c, [x[labels == i].mean() for i in range(len(c))], rtol=1e-6, atol=1e-9)
    assert np.all(np.diff(c) > 0)


def test_sharing_rejects_bad_input():
    with pytest.raises(ValueError, match="bits must be an int in \\[1, 8\\]"):
        share_weights(np.ones(4, np.float32), 9)
    with pytest.raises(ValueError, match="finite"):
        share_weights(np.array([1.0, np.nan], np.float32), 4)


@settings(max_examples=100, deadline=None)
@given(mask=st.lists(st.booleans(), max_size=3000), index_bits=st.integers(1, 8), run=st.integers(0, 2000))
def test_gaps_round_trip(mask, index_bits, run):
    m = np.array(mask + [False] * run + [True], bool)  # long runs of zeros need fillers
    gaps = encode_gaps(m, index_bits)
    assert gaps.gaps.max(initial=0) <= gaps.filler
    np.testing.assert_array_equal(gaps.mask(), m)
    assert (gaps.gaps != gaps.filler).sum() == m.sum()


def test_tied_codebook_trains_and_bakes():
    torch = pytest.importorskip("torch")
    from pyprune.pack import bake_shared_weights, tie_shared_weights

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 4))
    with torch.no_grad():
        model[0].weight[:, 0] = 0
    assert tie_shared_weights(model, {"conv": 4, "linear": 3}) == ["0", "2"]
    codebook = model[0].parametrizations.weight[0].codebook
    assert codebook.numel() <= 15
    optimizer = torch.optim.SGD([p for n, p in model.named_parameters() if "codebook" in n], lr=0.1)
    before = codebook.detach().clone()
    loss = model(torch.randn(2, 3, 6, 6)).square().sum()
    loss.backward()
    optimizer.step()
    assert not torch.equal(before, codebook.detach())
    w = model[0].weight
    assert (w[:, 0] == 0).all() and len(torch.unique(w)) <= 16
    assert len(torch.unique(model[2].weight)) <= 8
    bake_shared_weights(model)
    assert isinstance(model[0].weight, torch.nn.Parameter) and not hasattr(model[0], "parametrizations")
    torch.testing.assert_close(model[0].weight, w)


def test_already_shared_weights_are_kept_exactly(rng):
    codebook = rng.standard_normal(63).astype(np.float32)
    w = rng.choice(codebook, size=5000).astype(np.float32)
    w[rng.random(5000) < 0.8] = 0
    shared = share_weights(w, 6)
    np.testing.assert_array_equal(shared.unpack(), w)
