"""pyprune.convert on the reference models and on models mixing supported and unsupported layers."""

import pytest

torch = pytest.importorskip("torch")
from batchnorm import randomize_batchnorms  # noqa: E402
from torch import nn  # noqa: E402

import pyprune  # noqa: E402
from pyprune.models import MobileNetV1, MobileNetV2, ShuffleNetV1  # noqa: E402
from pyprune.nn import Conv2d, ConversionError, DepthwiseConv2d, PointwiseConv2d, SeparableConv2d, convert  # noqa: E402


def kinds(model):
    return {type(m) for m in model.modules()}


@pytest.mark.parametrize(
    "factory,size",
    [
        (lambda: MobileNetV1(num_classes=10, width=0.25), 64),
        (lambda: MobileNetV2(num_classes=10, width=0.35), 64),
        (lambda: ShuffleNetV1(num_classes=10, groups=3, width=0.5), 64),
        (lambda: MobileNetV1(num_classes=1000), 224),
    ],
    ids=["mobilenet_v1", "mobilenet_v2", "shufflenet_v1", "mobilenet_v1_full"],
)
def test_reference_models_convert_and_match(factory, size):
    torch.manual_seed(0)
    model = randomize_batchnorms(factory())
    x = torch.randn(2, 3, size, size)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = convert(model, x)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-3, atol=1e-4)
        x2 = torch.randn(1, 3, size, size)  # another input than the checked one
        torch.testing.assert_close(fast(x2), model(x2), rtol=1e-3, atol=1e-4)
    # The original is untouched and no convolution or BatchNorm2d is left in the copy.
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert any(isinstance(m, nn.Conv2d) for m in model.modules())
    assert not {nn.Conv2d, nn.BatchNorm2d} & kinds(fast)
    assert {DepthwiseConv2d, SeparableConv2d, Conv2d} & kinds(fast)
    assert "max |converted - original|" in str(fast.conversion_report)


def test_separable_pairs_are_fused_only_when_asked():
    model = randomize_batchnorms(MobileNetV1(num_classes=10, width=0.25))
    x = torch.randn(1, 3, 32, 32)
    assert SeparableConv2d in kinds(convert(model, x))
    unfused = convert(model, x, fuse_separable=False)
    assert SeparableConv2d not in kinds(unfused) and {DepthwiseConv2d, PointwiseConv2d} <= kinds(unfused)


class Mixed(nn.Module):
    """Supported convolutions around ones pyprune does not take (dilated, reflect-padded),
    an LSTM-free but unusual op mix, and a functional ReLU."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.dilated = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.reflect = nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect")
        self.pw = nn.Conv2d(8, 16, 1)
        self.bn = nn.BatchNorm2d(16)
        self.up = nn.Upsample(scale_factor=2)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = self.reflect(self.dilated(x)) * 0.5
        x = self.up(self.bn(self.pw(x)))
        return self.head(x.mean((2, 3)))


def test_unsupported_layers_stay_torch_and_keep_working():
    model = randomize_batchnorms(Mixed())
    x = torch.randn(2, 3, 12, 12)
    fast = convert(model, x, verbose=True)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), rtol=1e-3, atol=1e-4)
    report = {name: became for name, _, became in fast.conversion_report.rows}
    assert report["stem"].startswith("Conv2d (folded + ReLU)")
    assert "dilation" in report["dilated"] and report["dilated"].startswith("kept")
    assert "padding_mode" in report["reflect"]
    assert report["pw"].startswith("PointwiseConv2d (folded + BatchNorm2d)")
    assert isinstance(fast.dilated, nn.Conv2d)


def test_top_level_alias_and_bad_input():
    assert pyprune.convert is convert
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        convert(lambda x: x, torch.zeros(1))

    class Untraceable(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(ValueError, match="torch.fx can trace"):
        convert(Untraceable(), torch.ones(1, 1, 4, 4))


def test_mismatch_raises(monkeypatch):
    model = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, groups=2)).eval()
    monkeypatch.setattr(DepthwiseConv2d, "forward", lambda self, x: x + 1.0)
    with pytest.raises(ConversionError, match="differs from the original"):
        convert(model, torch.randn(1, 2, 5, 5))
