"""Depthwise layers of MobileNetV1/V2 and EfficientNet-B0: pyprune vs torch F.conv2d.

    pytest benchmarks -k mobilenet_v1 --benchmark-group-by=group     # timings + ratio table
    pytest benchmarks --benchmark-disable                             # correctness only
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from pyprune import kernels  # noqa: E402
from pyprune.bench import DEPTHWISE_SUITES  # noqa: E402

CASES = [(suite, i, layer) for suite, layers in DEPTHWISE_SUITES.items() for i, layer in enumerate(layers)]


@pytest.fixture(params=[1, 2], ids=lambda t: f"t{t}")
def threads(request):
    before = (kernels.get_num_threads(), torch.get_num_threads())
    kernels.set_num_threads(request.param)
    torch.set_num_threads(request.param)
    yield request.param
    kernels.set_num_threads(before[0])
    torch.set_num_threads(before[1])


@pytest.mark.parametrize("impl", ["pyprune", "torch"])
@pytest.mark.parametrize("suite,index,layer", CASES, ids=[f"{s}-{i:02d}-{layer}" for s, i, layer in CASES])
def test_depthwise(record, benchmark, suite, index, layer, impl, threads):
    rng = np.random.default_rng(index)
    c, k = layer.channels, layer.kernel
    x = rng.standard_normal((1, c, layer.size, layer.size), dtype=np.float32)
    w = rng.standard_normal((c, 1, k, k), dtype=np.float32)
    b = rng.standard_normal(c, dtype=np.float32)
    out = np.empty((1, c, layer.output_size, layer.output_size), np.float32)
    tx, tw, tb = map(torch.from_numpy, (x, w, b))
    want = F.conv2d(tx, tw, tb, layer.stride, layer.padding, groups=c).numpy()
    if impl == "pyprune":
        fn = lambda: kernels.depthwise_conv2d(x, w, b, stride=layer.stride, padding=layer.padding, out=out)  # noqa: E731
    else:
        fn = lambda: F.conv2d(tx, tw, tb, layer.stride, layer.padding, groups=c)  # noqa: E731
    np.testing.assert_allclose(np.asarray(fn()), want, rtol=1e-3, atol=1e-3)
    benchmark.group = f"dw {suite} {index:02d} {layer} t{threads}"
    benchmark.extra_info.update(isa=kernels.isa(), macs=layer.macs)
    with torch.inference_mode():
        record(impl, fn)
