"""Layers of the standard networks, pyprune against torch (and fused against unfused):

    pytest benchmarks -k "depthwise and mobilenet_v1 and t1"      # timings + ratio table
    pytest benchmarks --benchmark-disable                         # correctness only
"""

import functools

import pytest

from pyprune.bench import DEPTHWISE_SUITES, MOBILENET_V1_POINTWISE, depthwise_case, pointwise_case, separable_case
from pyprune.bench.layers import MOBILENET_V1

DEPTHWISE = [(suite, i, layer) for suite, layers in DEPTHWISE_SUITES.items() for i, layer in enumerate(layers)]
SEPARABLE = list(enumerate(zip(MOBILENET_V1, MOBILENET_V1_POINTWISE)))

# Both implementations of a layer share one case (the same inputs).
depthwise = functools.lru_cache(maxsize=None)(depthwise_case)
pointwise = functools.lru_cache(maxsize=None)(pointwise_case)
separable = functools.lru_cache(maxsize=None)(separable_case)


@pytest.mark.parametrize("impl", ["pyprune", "torch"])
@pytest.mark.parametrize("suite,index,layer", DEPTHWISE, ids=[f"{s}-{i:02d}" for s, i, _ in DEPTHWISE])
def test_depthwise(run_case, suite, index, layer, impl):
    run_case(depthwise(layer), impl, f"depthwise {suite} {index:02d} {layer}")


@pytest.mark.parametrize("impl", ["pyprune", "torch"])
@pytest.mark.parametrize("index,layer", list(enumerate(MOBILENET_V1_POINTWISE)), ids=lambda v: f"{v:02d}" if isinstance(v, int) else "")
def test_pointwise(run_case, index, layer, impl):
    run_case(pointwise(layer), impl, f"pointwise mobilenet_v1 {index:02d} {layer}")


@pytest.mark.parametrize("impl", ["pyprune", "unfused", "torch"])
@pytest.mark.parametrize("index,layers", SEPARABLE, ids=lambda v: f"{v:02d}" if isinstance(v, int) else "")
def test_separable(run_case, index, layers, impl):
    run_case(separable(*layers), impl, f"separable mobilenet_v1 {index:02d} {layers[0]}")
