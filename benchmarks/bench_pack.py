"""Packed files: Deep Compression of a LeNet-5-style network on digits (>= 35x smaller than its
state_dict at <= 1 point accuracy loss), load time of a packed MobileNetV1 against torch.load,
and compressed-in-memory layers. The full figures: `python -m pyprune.bench.compression`."""

import tempfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from pyprune import pack  # noqa: E402
from pyprune.bench import compression  # noqa: E402
from pyprune.models import MobileNetV1  # noqa: E402


def test_lenet_digits_ratio_and_accuracy(request):
    # Short training when benchmarks only run as tests; the full run trains as long as needed.
    quick = request.config.getoption("benchmark_disable")
    result = compression.lenet_digits(*((4, 2) if quick else (40, 30)))
    print(result.report)
    assert result.ratio >= 35
    assert result.packed_accuracy >= result.accuracy - (5 if quick else 1)


@pytest.fixture(scope="module")
def mobilenet_files():
    torch.manual_seed(0)
    model = MobileNetV1().eval()
    with tempfile.TemporaryDirectory() as tmp:
        packed, saved = Path(tmp) / "m.pyprune", Path(tmp) / "m.pt"
        pack.save(model, packed)
        torch.save(model.state_dict(), saved)
        yield packed, saved


@pytest.mark.parametrize("impl", ["pyprune.pack.load", "torch.load"])
def test_load_mobilenet_v1(benchmark, mobilenet_files, impl):
    packed, saved = mobilenet_files
    benchmark.group = "load MobileNetV1 (torch modules)"
    if impl == "torch.load":
        benchmark(lambda: MobileNetV1().load_state_dict(torch.load(saved, weights_only=True)))
    else:
        benchmark(lambda: pack.load(packed, MobileNetV1, fast=False))


@pytest.mark.parametrize("keep_compressed", [False, True], ids=["normal", "keep_compressed"])
def test_forward_mobilenet_v1(benchmark, mobilenet_files, keep_compressed):
    packed, _ = mobilenet_files
    model = pack.load(packed, MobileNetV1, fast=False, keep_compressed=keep_compressed)
    x = torch.randn(1, 3, 224, 224)
    benchmark.group = "MobileNetV1 forward, weights decoded per layer or resident"
    with torch.inference_mode():
        benchmark(model, x)
