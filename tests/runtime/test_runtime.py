"""pyprune.runtime: packed files loaded and run with numpy alone. Round trips against the
engine and numpy, keep_compressed, thread counts, batch sizes, other sizes, reports, and the
import without torch."""

import numpy as np
import pytest
from isolated import run_python
from packed_files import with_metadata
from runtime_cases import HAS_CNN_OPS, cnn_graph, constants_graph, folded, needs_cnn_ops, write

from pyprune import kernels, pack, runtime
from pyprune.graph import Engine, ir
from pyprune.pack import PackError


def decoded(path):
    """The file's graph as the reader gives it (constants decoded)."""
    return pack.graph(pack.read(path))


def test_a_graph_round_trips_through_a_file(tmp_path, rng):
    graph = constants_graph(rng)
    net = runtime.load(write(tmp_path / "g.pyprune", graph))
    x = rng.standard_normal((2, 3, 4), dtype=np.float32)
    outputs = net(x)
    assert isinstance(outputs, tuple) and len(outputs) == len(graph.outputs)
    np.testing.assert_array_equal(outputs[0], x.reshape(2, 12))
    stored = decoded(tmp_path / "g.pyprune").constants
    for name, y in zip(graph.outputs[1:], outputs[1:]):
        np.testing.assert_array_equal(y, stored[name])  # exactly what the file decodes to
        original = graph.constants[name]
        if name in ("conv.bias", "scale"):  # small tensors are stored raw
            np.testing.assert_array_equal(y, original)
        else:  # shared weights: close to the originals, zeros kept
            assert np.abs(y - original).max() < 0.2 * np.abs(original).max()
            np.testing.assert_array_equal(y == 0, original == 0)


def test_lossless_files_give_the_constants_back_bit_for_bit(tmp_path, rng):
    graph = constants_graph(rng)
    net = runtime.load(write(tmp_path / "g.pyprune", graph, lossless=True))
    outputs = net.run(rng.standard_normal((2, 3, 4), dtype=np.float32))
    for name, y in zip(graph.outputs[1:], outputs[1:]):
        np.testing.assert_array_equal(y.view(np.uint32), graph.constants[name].view(np.uint32))


def test_run_gives_a_tuple_and_call_unwraps_one_output(tmp_path, rng):
    graph = ir.Graph([ir.TensorSpec("x", (1, 6))], ["y"], [ir.Node("reshape", ["x"], ["y"], {"shape": [-2, 2, 3]})],
                     dynamic_batch=True)
    net = runtime.load(write(tmp_path / "g.pyprune", graph))
    x = rng.standard_normal((1, 6), dtype=np.float32)
    assert isinstance(net(x), np.ndarray) and net(x).shape == (1, 2, 3)
    (y,) = net.run(x)
    np.testing.assert_array_equal(y, x.reshape(1, 2, 3))
    assert net.input_names == ["x"] and net.input_shapes == [(1, 6)]
    assert net.output_names == ["y"] and net.output_shapes == [(1, 2, 3)]


def test_a_dynamic_batch_runs_any_batch_size_and_a_static_one_its_own(tmp_path, rng):
    graph = constants_graph(rng, batch=2)
    net = runtime.load(write(tmp_path / "dynamic.pyprune", graph))
    for batch in (1, 7, 2, 5, 3, 8):  # more shapes than the plan cache holds
        x = rng.standard_normal((batch, 3, 4), dtype=np.float32)
        np.testing.assert_array_equal(net(x)[0], x.reshape(batch, 12))
        assert net.output_shapes_for(x.shape)[0] == (batch, 12)
    static = ir.Graph(graph.inputs, graph.outputs, graph.nodes, graph.constants, dynamic_batch=False)
    net = runtime.load(write(tmp_path / "static.pyprune", static))
    with pytest.raises(ValueError, match="input 'x' must have batch 2: the graph was captured with a static batch"):
        net(rng.standard_normal((3, 3, 4), dtype=np.float32))


@pytest.mark.parametrize("inputs,error,message", [
    ((), TypeError, r"the graph takes 1 inputs \(x\), got 0"),
    ((np.ones((2, 12), np.float32),), ValueError, r"input 'x' must have 3 dims"),
    ((np.ones((2, 3, 4)),), TypeError, r"inputs\[0\] must have dtype float32"),
    ((np.ones((2, 3, 4), np.float32), np.ones((2, 3, 4), np.float32)), TypeError, r"takes 1 inputs \(x\), got 2"),
])
def test_bad_inputs_are_refused_by_name(tmp_path, rng, inputs, error, message):
    net = runtime.load(write(tmp_path / "g.pyprune", constants_graph(rng)))
    with pytest.raises(error, match=message):
        net(*inputs)


def test_inputs_that_are_not_contiguous_are_copied(tmp_path, rng):
    net = runtime.load(write(tmp_path / "g.pyprune", constants_graph(rng)))
    x = rng.standard_normal((4, 3, 2), dtype=np.float32).T
    np.testing.assert_array_equal(net(x)[0], x.reshape(2, 12))


@needs_cnn_ops
@pytest.mark.parametrize("lossless", [False, True])
def test_a_cnn_runs_as_the_engine_runs_its_decoded_graph(tmp_path, rng, lossless):
    graph = cnn_graph(rng)
    path = write(tmp_path / "cnn.pyprune", graph, lossless=lossless)
    net = runtime.load(path)
    engine = Engine(decoded(path))
    for batch, size in [(1, 16), (3, 16), (2, 20)]:  # other batch sizes and spatial sizes
        x = rng.standard_normal((batch, 3, size, size), dtype=np.float32)
        np.testing.assert_array_equal(net(x), engine(x))
    if lossless:
        x = rng.standard_normal((1, 3, 16, 16), dtype=np.float32)
        np.testing.assert_array_equal(net(x), Engine(graph)(x))


@needs_cnn_ops
def test_folded_weights_are_stored_as_scales_of_the_state_dicts(tmp_path, rng):
    """A batch norm folded into a weight costs its scale: the file holds each weight once, and
    the graph computes what folding the decoded weights computes."""
    graph, state = folded(cnn_graph(rng), rng, ["stem.weight", "dw.weight", "fc.weight"])
    path = write(tmp_path / "folded.pyprune", graph, state)
    section = pack.read(path).metadata["graph"]
    assert sorted(r["encoding"] for r in section["tensors"].values()) == ["scaled"] * 3
    unfolded = write(tmp_path / "unfolded.pyprune", cnn_graph(np.random.default_rng(0)))
    assert path.stat().st_size < unfolded.stat().st_size + 1024
    x = rng.standard_normal((2, 3, 16, 16), dtype=np.float32)
    np.testing.assert_array_equal(runtime.load(path)(x), Engine(decoded(path))(x))


@needs_cnn_ops
def test_keep_compressed_gives_the_same_outputs_with_less_memory(tmp_path, rng):
    graph = cnn_graph(rng, classes=1000)
    path = write(tmp_path / "cnn.pyprune", graph)
    dense, coded = runtime.load(path), runtime.load(path, keep_compressed=True)
    assert coded.weight_bytes < dense.weight_bytes / 3
    for batch in (1, 2):
        x = rng.standard_normal((batch, 3, 16, 16), dtype=np.float32)
        np.testing.assert_allclose(coded(x), dense(x), rtol=1e-5, atol=1e-5)


def test_keep_compressed_keeps_less_resident_memory(tmp_path, rng):
    """Two processes load the same file: the one keeping the weights coded grows less by about
    the decoded weights' size (a 2048 x 2048 linear weight, 16 MiB decoded)."""
    weight = np.repeat(rng.standard_normal((1, 2048), dtype=np.float32), 2048, axis=0) * \
        rng.integers(0, 4, (2048, 1)).astype(np.float32)  # few distinct values: codes of a few bits
    graph = ir.Graph([ir.TensorSpec("x", (1, 4))], ["y", "w"], [ir.Node("reshape", ["x"], ["y"], {"shape": [-1]})],
                     {"w": weight}, dynamic_batch=True)
    path = write(tmp_path / "big.pyprune", graph)
    grown = {}
    for keep in (False, True):
        result = run_python(f"""
            import gc, numpy as np
            from pyprune import runtime
            def resident():
                with open("/proc/self/statm") as f:
                    return int(f.read().split()[1]) * 4096
            before = resident()
            net = runtime.load({str(path)!r}, keep_compressed={keep})
            gc.collect()
            print(resident() - before)
        """)
        assert result.returncode == 0, result.stderr
        grown[keep] = int(result.stdout)
    assert grown[False] - grown[True] > 12 << 20, grown


def test_a_files_weights_are_in_memory_once(tmp_path, rng):
    """The decoded weights are read-only arrays the engine reads where they are: compiling a
    file's graph of 16 MiB of weights adds no second copy of them."""
    weight = rng.standard_normal((2048, 2048), dtype=np.float32)
    graph = ir.Graph([ir.TensorSpec("x", (1, 4))], ["y", "w"], [ir.Node("reshape", ["x"], ["y"], {"shape": [-1]})],
                     {"w": weight}, dynamic_batch=True)
    path = write(tmp_path / "big.pyprune", graph)
    result = run_python(f"""
        import gc
        from pyprune.pack.reading import graph, read
        from pyprune.runtime import Net
        def resident():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * 4096
        decoded = graph(read({str(path)!r}))
        gc.collect()
        before = resident()
        net = Net(decoded)
        gc.collect()
        print(resident() - before)
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 4 << 20, int(result.stdout) >> 20


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_do_not_depend_on_the_thread_count(tmp_path, rng, threads):
    graph = cnn_graph(rng) if HAS_CNN_OPS else constants_graph(rng)
    path = write(tmp_path / "g.pyprune", graph)
    x = rng.standard_normal(graph.inputs[0].shape, dtype=np.float32)
    want = runtime.load(path, num_threads=1).run(x)
    before = kernels.get_num_threads()
    try:
        net = runtime.load(path, num_threads=threads)
        for got, expected in zip(net.run(x), want):
            np.testing.assert_array_equal(got, expected)
        assert kernels.get_num_threads() == threads and net.num_threads == threads
    finally:
        kernels.set_num_threads(before)


@pytest.mark.parametrize("threads", [0, -1, 10**6, 1.0, True, "2"])
def test_bad_thread_counts_are_refused_before_reading(tmp_path, threads):
    with pytest.raises(ValueError, match="num_threads must be an int in 1.."):
        runtime.load(tmp_path / "does-not-matter.pyprune", num_threads=threads)


def test_describe_and_profile_name_every_node(tmp_path, rng):
    graph = constants_graph(rng)
    net = runtime.load(write(tmp_path / "g.pyprune", graph))
    (node,) = net.describe()
    assert (node.name, node.op, node.input_shapes, node.output_shapes, node.macs) == \
        ("flatten", "reshape", ((2, 3, 4),), ((2, 12),), 0)
    assert net.describe((5, 3, 4))[0].output_shapes == ((5, 12),)
    (timed,) = net.profile(rng.standard_normal((3, 3, 4), dtype=np.float32), repeats=3)
    assert timed.node.output_shapes == ((3, 12),) and timed.seconds == 0  # a view runs nothing
    assert net.arena_bytes() == 0
    assert net.weight_bytes == sum(c.nbytes for c in decoded(tmp_path / "g.pyprune").constants.values())


@needs_cnn_ops
def test_describe_gives_kernels_shapes_and_macs_of_a_cnn(tmp_path, rng):
    net = runtime.load(write(tmp_path / "cnn.pyprune", cnn_graph(rng)))
    nodes = {n.name: n for n in net.describe()}
    stem = nodes["stem"]
    assert stem.op == "conv2d" and stem.input_shapes[:2] == ((1, 3, 16, 16), (8, 3, 3, 3))
    assert stem.output_shapes == ((1, 8, 8, 8),) and stem.macs == 8 * 8 * 8 * 3 * 9
    assert nodes["features.0.pw"].input_shapes[2] == (1, 8, 8, 8)  # the residual
    assert nodes["classifier"].output_shapes == ((1, 10),) and nodes["classifier"].macs == 80
    assert all(n.one_thread for n in nodes.values())  # too little work in all to share
    assert all(n.kernel for n in nodes.values())
    times = net.profile(rng.standard_normal((1, 3, 16, 16), dtype=np.float32), repeats=3)
    assert [t.node.name for t in times] == list(nodes) and all(t.seconds > 0 for t in times)


def test_a_file_without_a_graph_is_refused_saying_so(tmp_path):
    graph = ir.Graph([ir.TensorSpec("x", (1, 6))], ["y"], [ir.Node("reshape", ["x"], ["y"], {"shape": [-1]})])
    path = write(tmp_path / "g.pyprune", graph)
    path.write_bytes(with_metadata(path.read_bytes(), lambda m: m.update(graph=None)))
    with pytest.raises(PackError, match="the file holds no graph"):
        runtime.load(path)


def test_importing_and_running_needs_no_torch(tmp_path, rng):
    path = write(tmp_path / "g.pyprune", constants_graph(rng))
    result = run_python(f"""
        import sys
        sys.modules["torch"] = None  # any import of torch fails
        import numpy as np
        import pyprune.runtime
        net = pyprune.runtime.load({str(path)!r})
        print(net(np.ones((2, 3, 4), np.float32))[0].shape)
        print(sorted(m for m in sys.modules if m.startswith("pyprune.") and m.split(".")[1] in
                     ("nn", "capture", "prune", "demo")))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["(2, 12)", "[]"]
