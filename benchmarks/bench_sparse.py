"""Sparse (pruned) pointwise layers and a sparse MobileNetV1, pyprune against dense torch, with
pyprune's dense GEMM, torch's CSR matmul and (for block sparsity) the unstructured kernel
alongside:

    pytest benchmarks/bench_sparse.py -k "90 and t1"       # timings + ratio table
    pytest benchmarks --benchmark-disable                   # correctness only
"""

import functools

import pytest

from pyprune.bench import MOBILENET_V1_POINTWISE, model_case
from pyprune.bench.cases import sparse_pointwise_case
from pyprune.bench.suites import SPARSITY_LEVELS

sparse_pointwise = functools.lru_cache(maxsize=None)(sparse_pointwise_case)
model = functools.lru_cache(maxsize=None)(model_case)
LAYERS = list(enumerate(MOBILENET_V1_POINTWISE))
CASES = [(level, 1) for level in SPARSITY_LEVELS] + [(90, 4)]


@pytest.mark.parametrize("impl", ["pyprune", "pyprune dense", "torch csr", "torch"])
@pytest.mark.parametrize("level,block", CASES, ids=[f"{level}-{block}x1" for level, block in CASES])
@pytest.mark.parametrize("index,layer", LAYERS, ids=[f"{i:02d}" for i, _ in LAYERS])
def test_sparse_pointwise(run_case, index, layer, level, block, impl):
    run_case(sparse_pointwise(layer, level / 100, block), impl, f"sparse {level}% {block}x1 {index:02d} {layer}")


@pytest.mark.parametrize("impl", ["pyprune", "torch"])
def test_sparse_mobilenet(run_case, impl):
    run_case(model("MobileNetV1", 0.9), impl, "model MobileNetV1 90% sparse 1x1")
