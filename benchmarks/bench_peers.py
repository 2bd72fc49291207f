"""pyprune against onnxruntime, ncnn and torch (pyprune.bench.peers): whole models on
pyprune.runtime and pyprune.convert, MobileNetV1's depthwise and pointwise layers on pyprune's
modules. Every implementation is checked against torch, then all are timed in this process
(medians of interleaved rounds) and the tables printed at the end:

    pip install 'pyprune[peers]'
    pytest benchmarks/bench_peers.py                          # the tables (many minutes)
    pytest benchmarks/bench_peers.py --benchmark-disable      # checks only: small models, one round

A peer that is not installed is skipped with the pip command that brings it.
`python -m pyprune.bench.peers` prints the same tables without pytest, then memory and the
runtime's overhead.
"""

import functools

import pytest

from pyprune.bench import peers

ROUNDS = 15
# With --benchmark-disable (as CI runs it): narrow models at 64x64, two layers of each suite.
QUICK_MODELS = {
    "MobileNetV1": {"width": 0.25, "num_classes": 10},
    "MobileNetV2": {"width": 0.25, "num_classes": 10},
    "ResNet18": {"width": 8, "num_classes": 10},
    "YOLOv8": {"width": 4, "outputs": 16},
}
QUICK_SIZE = 64
QUICK_LAYERS = 2


@pytest.fixture
def quick(request):
    return bool(request.config.getoption("benchmark_disable"))


@functools.lru_cache(maxsize=None)
def model(name, quick):
    return peers.model_peers(name, QUICK_SIZE, **QUICK_MODELS[name]) if quick else peers.model_peers(name)


@functools.lru_cache(maxsize=None)
def layers(suite, quick):
    return [peers.layer_peers(layer) for layer in peers.LAYER_SUITES[suite][: QUICK_LAYERS if quick else None]]


def rounds(quick):
    return 1 if quick else ROUNDS


@pytest.mark.parametrize("impl", ["runtime", "convert", *peers.PEERS])
@pytest.mark.parametrize("name", list(peers.MODELS))
def test_model_matches_torch(threads, quick, name, impl):
    case = model(name, quick)
    if impl in case.missing:
        pytest.skip(case.missing[impl])
    peers.check(case, threads, [impl])


@pytest.mark.parametrize("impl", ["pyprune", *peers.PEERS])
@pytest.mark.parametrize("suite", list(peers.LAYER_SUITES))
def test_layers_match_torch(threads, quick, suite, impl):
    for case in layers(suite, quick):
        if impl in case.missing:
            pytest.skip(case.missing[impl])
        peers.check(case, threads, [impl])


@pytest.mark.parametrize("name", list(peers.MODELS))
def test_model(threads, quick, record_peers, name):
    case = model(name, quick)
    row = peers.compare_peers(case, threads, rounds(quick), min_batch_seconds=0 if quick else 2e-3)
    record_peers(peers.title("whole models", threads, rounds(quick)), [row], case.missing)


@pytest.mark.parametrize("suite", list(peers.LAYER_SUITES))
def test_layers(threads, quick, record_peers, suite):
    cases = layers(suite, quick)
    rows = [peers.compare_peers(case, threads, rounds(quick), min_batch_seconds=0 if quick else 2e-3) for case in cases]
    record_peers(peers.title(f"MobileNetV1's {suite} layers", threads, rounds(quick)), rows, cases[0].missing,
                 total=True)
