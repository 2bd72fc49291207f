"""pyprune.bench.peers and its companions: the error measure and the check that comes before
any timing, the tables, peers that are not installed, the memory of a process of its own and
the runtime's overhead. The peers themselves are exercised by benchmarks/bench_peers.py."""

import subprocess
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pyprune.bench import memory, peers  # noqa: E402
from pyprune.bench.layers import DepthwiseLayer, PointwiseLayer  # noqa: E402
from pyprune.bench.packed import format_overhead, random_inputs, runtime_overhead  # noqa: E402


def constant(value):
    return lambda threads: (lambda: np.full((2, 3), value, np.float32))


def test_relative_error_is_the_largest_difference_over_the_largest_magnitude_output_by_output():
    want = [np.array([1.0, -4.0]), np.array([[0.5]])]
    assert peers.relative_error([w.copy() for w in want], want) == 0
    assert peers.relative_error([np.array([1.0, -3.0]), np.array([[0.5]])], want) == pytest.approx(0.25)
    assert peers.relative_error([np.array([1.0, -4.0]), np.array([[0.4]])], want) == pytest.approx(0.2)
    assert peers.relative_error([np.zeros(2)], [np.zeros(2)]) == 0
    assert peers.relative_error([np.ones(2)], [np.zeros(2)]) == float("inf")
    with pytest.raises(ValueError, match="output 0 has shape"):
        peers.relative_error([np.zeros(3)], [np.zeros(2)])
    with pytest.raises(ValueError, match="1 outputs, expected 2"):
        peers.relative_error([np.zeros(2)], want)


def test_outputs_flattens_tensors_arrays_and_sequences():
    got = peers.outputs((torch.ones(2), [np.zeros(3), (torch.zeros(1, 1),)]))
    assert [a.shape for a in got] == [(2,), (3,), (1, 1)] and all(isinstance(a, np.ndarray) for a in got)


def test_an_implementation_far_from_torch_fails_the_check_and_is_never_timed():
    case = peers.PeerCase("fake", 6, [np.ones((2, 3), np.float32)],
                          {"good": constant(1.0), "close": constant(1.0005), "wrong": constant(1.01)})
    peers.check(case, 1, ["good", "close"])
    with pytest.raises(AssertionError, match="fake: wrong differs from torch by 1.00e-02"):
        peers.compare_peers(case, 1, rounds=1, min_batch_seconds=0)
    case.implementations["wrong"] = lambda threads: (lambda: np.ones((3, 2), np.float32))
    with pytest.raises(AssertionError, match=r"wrong: output 0 has shape \(3, 2\)"):
        peers.check(case, 1)


@pytest.mark.parametrize("threads", [1, 2])
def test_every_implementation_is_timed_with_its_thread_count(threads):
    asked = []

    def implementation(threads):
        asked.append(threads)
        return lambda: np.ones((2, 3), np.float32)

    case = peers.PeerCase("fake", 6, [np.ones((2, 3), np.float32)], {"a": implementation, "b": implementation})
    timing = peers.compare_peers(case, threads, rounds=2, min_batch_seconds=0)
    assert list(timing.ms) == ["a", "b"] and all(ms > 0 for ms in timing.ms.values())
    assert set(asked) == {threads} and (timing.threads, timing.macs) == (threads, 6)


def test_the_table_says_how_many_times_faster_the_subject_is_than_each_other():
    rows = [peers.PeerTiming("layer one", 1, 2_000_000, {"pyprune": 1.0, "torch": 3.0, "ncnn": 0.5}),
            peers.PeerTiming("layer two", 1, 1_000_000, {"pyprune": 2.0, "torch": 3.0, "ncnn": 2.5})]
    text = peers.format_peers("title", rows, {"onnxruntime": "not installed: pip install it"}, total=True)
    lines = text.splitlines()
    assert lines[0] == "title"
    assert lines[1].split() == ["MMACs", "pyprune", "ms", "torch", "ms", "ncnn", "ms", "vs", "torch", "vs", "ncnn"]
    assert lines[2].split() == ["layer", "one", "2.0", "1.000", "3.000", "0.500", "3.00x", "0.50x"]
    assert lines[4].split() == ["sum", "3.0", "3.000", "6.000", "3.000", "2.00x", "1.00x"]
    assert "how many times faster pyprune is" in lines[5]
    assert lines[6] == "onnxruntime left out: not installed: pip install it"


@pytest.mark.parametrize("package", ["ncnn", "pnnx"])
def test_a_peer_missing_a_package_is_left_out_saying_what_to_install(monkeypatch, package):
    for other in peers.PEERS["ncnn"]:  # the others present, installed here or not
        monkeypatch.setitem(sys.modules, other, types.ModuleType(other))
    monkeypatch.setitem(sys.modules, package, None)
    assert peers.not_installed("ncnn") == (f"the ncnn peer needs {package}, which is not installed: "
                                           "pip install 'pyprune[peers]'")
    case = peers.layer_peers(DepthwiseLayer(8, 6, 3, 1), peers=["ncnn"])
    assert "ncnn" in case.missing and "ncnn" not in case.implementations


@pytest.mark.parametrize("layer", [DepthwiseLayer(8, 9, 3, 2), DepthwiseLayer(16, 6, 5, 1), PointwiseLayer(8, 24, 5)])
def test_a_layer_on_pyprunes_module_matches_torch(layer):
    case = peers.layer_peers(layer, peers=())
    assert list(case.implementations) == ["pyprune", "torch"] and case.macs == layer.macs
    peers.check(case, 1)


def test_a_model_on_the_runtime_and_converted_matches_torch():
    case = peers.model_peers("YOLOv8", 64, peers=(), width=2, outputs=4)
    assert list(case.implementations) == ["runtime", "convert", "torch"]
    assert [r.shape for r in case.reference] == [(1, 4, 8, 8), (1, 4, 4, 4), (1, 4, 2, 2)]
    peers.check(case, 2)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    from pyprune import pack
    from pyprune.bench.cases import reference_model

    path = tmp_path_factory.mktemp("peers") / "small.pyprune"
    pack.save(reference_model("MobileNetV1", width=0.25, num_classes=10), path,
              example_inputs=torch.randn(1, 3, 32, 32), lossless=True, graph=True)
    return path


def test_the_runtime_process_runs_without_torch_and_reports_its_own_memory(small_file):
    baseline = memory._peak(memory.BASELINE, [], 32, 1)
    runtime = memory._peak(memory.RUNTIME, [small_file], 32, 3)
    assert not runtime.imports_torch and not baseline.imports_torch
    assert 0 < baseline.megabytes < runtime.megabytes < 1000  # not the parent's peak (this process holds torch)
    assert runtime.final_megabytes <= runtime.megabytes
    report = memory.MemoryReport(3, 32, [baseline, runtime, memory.PeakMemory("other", 2 * runtime.megabytes,
                                                                              runtime.megabytes, True),
                                         memory.PeakMemory("absent", None, None, left_out="why")])
    text = memory.format_memory(report)
    assert "runs 3 forwards (batch 1, 32x32" in text and "2.00x  " in text and "(imports torch)" in text
    assert "absent" in text and "left out: why" in text


def test_the_overhead_splits_a_forward_around_the_kernels(small_file):
    from pyprune import runtime

    net = runtime.load(small_file)
    o = runtime_overhead(net, rounds=3)
    # each forward is split by its own times: the parts are medians of parts that add up
    assert 0 < o.kernels_ms < o.forward_ms and 0 < o.call_ms < o.outside_ms < o.forward_ms
    assert net.run(*random_inputs(net, 0))  # the net runs as it did
    text = format_overhead("small", o)
    assert text.startswith("small: where a forward goes, input 1x3x32x32") and "outside the kernels" in text


def test_help_describes_and_runs_nothing(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pyprune.bench.peers", "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "onnxruntime" in done.stdout and "--sections" in done.stdout
