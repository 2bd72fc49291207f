"""pyprune.stats: parameters and MACs per layer, by the textbook formulas."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pyprune.prune import prune_magnitude  # noqa: E402
from pyprune.stats import compare, count  # noqa: E402


def net():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),      # 16x16 -> 8x8
        nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),   # depthwise
        nn.Conv2d(8, 12, 1, groups=4, bias=False),    # grouped pointwise
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 5),
    )


def test_counts_follow_the_formulas():
    result = count(net(), torch.randn(2, 3, 16, 16))  # per example: the batch of 2 is divided out
    assert result["0"].macs == 8 * 3 * 9 * 8 * 8 and result["0"].params == 8 * 3 * 9 + 8
    assert result["1"].macs == 0 and result["1"].params == 16
    assert result["3"].macs == 8 * 1 * 9 * 8 * 8 and result["3"].params == 72
    assert result["4"].macs == 12 * 2 * 8 * 8 and result["4"].params == 24
    assert result["7"].macs == 12 * 5 and result["7"].params == 65
    assert result.params == sum(p.numel() for p in net().parameters())
    assert result.macs == 13824 + 4608 + 1536 + 60
    assert result.nonzero_macs == result.macs  # random weights: none is zero
    assert result["0"].output_shape == (2, 8, 8, 8)
    assert "total" in str(result) and "Conv2d" in str(result)


def test_masked_weights_count_as_zeros_and_compare_tabulates():
    model = net()
    x = torch.randn(1, 3, 16, 16)
    before = count(model, x)
    prune_magnitude(model, 0.5, ignore=["3", "4", "7"])
    after = count(model, x)
    assert after.params == before.params and after["0"].nonzero == before["0"].nonzero - 108
    table = compare(before, after)
    assert table.splitlines()[0].startswith("layer") and "total" in table.splitlines()[-1]
    # layers without parameters (ReLU, pooling, flatten) get no row; the total counts them all
    weighted = [layer.name for layer in before.layers if layer.params]
    assert weighted == ["0", "1", "3", "4", "7"]
    assert [line.split()[0] for line in table.splitlines()[1:-1]] == weighted
    assert [line.split()[0] for line in str(after).splitlines()[1:-1]] == weighted


@pytest.mark.parametrize("kept", [1.0, 0.5, 0.1, 0.0])
def test_nonzero_macs_are_the_macs_of_the_nonzero_weights(kept):
    """Each weight does one MAC per output position of its channel: zeroing weights, by masks
    or for good, removes exactly their MACs (biases and BatchNorm do none)."""
    model = net()
    x = torch.randn(3, 3, 16, 16)
    dense = count(model, x)
    with torch.no_grad():
        for name in ("0", "3", "4", "7"):
            weight = model.get_submodule(name).weight
            weight.mul_(torch.rand_like(weight) < kept)
    prune_magnitude(model, 0.5, ignore=["0", "4", "7"])  # masks on top, in one layer
    result = count(model, x)
    positions = {"0": 8 * 8, "3": 8 * 8, "4": 8 * 8, "7": 1}
    for name, per_weight in positions.items():
        weight = model.get_submodule(name).weight  # masked, as forward sees it
        assert result[name].macs == dense[name].macs == weight.numel() * per_weight
        assert result[name].nonzero_macs == int(torch.count_nonzero(weight)) * per_weight
    assert result.nonzero_macs == sum(result[name].nonzero_macs for name in positions)
    assert result["1"].nonzero_macs == result["2"].nonzero_macs == 0


class Blocks(nn.Module):
    """Layers whose MACs are not a convolution's or a Linear's, and parameters held by blocks."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2)  # 5x5 -> 9x9
        self.lstm = nn.LSTM(6, 5, num_layers=2, bidirectional=True, batch_first=True)
        self.attention = nn.MultiheadAttention(10, 2, kdim=6, vdim=6, batch_first=True)
        self.scale = nn.Parameter(torch.ones(10))  # a layer scale beside the children

    def forward(self, x):
        y = self.up(x).flatten(2).transpose(1, 2)  # 81 steps of 6 features
        seq, _ = self.lstm(y)
        z, _ = self.attention(seq[:, :7], y, y)  # 7 queries over 81 keys
        return z * self.scale


def test_transposed_recurrent_and_attention_layers_count_their_macs():
    model = Blocks()
    result = count(model, torch.randn(2, 4, 5, 5))
    assert result["up"].macs == 4 * (6 // 2) * 9 * 5 * 5  # each input pixel through the kernel
    lstm_weights = sum(w.numel() for name, w in model.lstm.named_parameters() if name.startswith("weight_"))
    assert result["lstm"].macs == lstm_weights * 81 and result["lstm"].output_shape == (2, 81, 10)
    projections = 10 * 10 * 7 + 10 * 6 * 81 * 2 + 10 * 10 * 7  # q, k and v, out
    assert result["attention"].macs == projections + 2 * 7 * 81 * 10
    assert result["attention.out_proj"].macs == 0
    assert result.params == sum(p.numel() for p in model.parameters())  # the block's own scale too
    assert result[""].params == 10 and result[""].kind == "Blocks"
    with torch.no_grad():
        model.attention.q_proj_weight[:5] = 0  # half the query projection's weights
    assert count(model, torch.randn(1, 4, 5, 5))["attention"].nonzero_macs == result["attention"].macs - 50 * 7


def test_packed_sequences_count_steps_per_example():
    gru = nn.GRU(3, 4)
    packed = nn.utils.rnn.pack_padded_sequence(torch.randn(6, 2, 3), [6, 6])
    weights = sum(w.numel() for name, w in gru.named_parameters() if name.startswith("weight_"))
    assert count(gru, (packed,))[""].macs == weights * 6


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # TorchScript is deprecated, not gone
@pytest.mark.parametrize("make", [torch.jit.script, lambda m: torch.jit.trace(m, torch.randn(1, 3, 8, 8))],
                         ids=["scripted", "traced"])
def test_a_torchscript_module_is_refused_naming_what_to_count(make):
    scripted = make(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval())
    with pytest.raises(TypeError, match="count needs the model's Python module .* not a TorchScript"):
        count(scripted, torch.randn(1, 3, 8, 8))
