"""The reference networks have the published architectures' sizes."""

import pytest

torch = pytest.importorskip("torch")

from pyprune.models import MobileNetV1, MobileNetV2, ShuffleNetV1  # noqa: E402


@pytest.mark.parametrize(
    "factory,params_millions",
    [(MobileNetV1, 4.23), (MobileNetV2, 3.50), (lambda: ShuffleNetV1(groups=3), 1.88)],
    ids=["mobilenet_v1", "mobilenet_v2", "shufflenet_v1_g3"],
)
def test_parameter_counts_and_output_shape(factory, params_millions):
    model = factory().eval()
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(params_millions, abs=0.02)
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_width_and_classes():
    model = MobileNetV1(num_classes=10, width=0.25, in_channels=1).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
