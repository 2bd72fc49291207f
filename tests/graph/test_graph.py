"""The C++ executor (kernels.Graph): validation of hostile graphs, shape inference, the memory
plan, outputs, profiling and concurrent runs."""

import gc
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyprune
from graph_cases import OPERATORS, chain, coded, evaluate, example_inputs, graphs, needs_add, tensor_shapes
from isolated import run_python
from pyprune import kernels
from pyprune.graph import compile, ir

LIMIT = 4 << 30  # kMaxActivationBytes


def aligned(nbytes):
    return -(-nbytes // 64) * 64


def reshape_node(x, y, shape=(-2, -1), name="r"):
    return ("reshape", name, [x], [y], {"shape": list(shape)})


def add_node(a, b, y, name="a"):
    return ("add", name, [a, b], [y], {})


# ---- validation: every class of malformed graph, generated ---------------------------------------


@st.composite
def raw_graphs(draw):
    """(nodes, tensors, inputs, outputs, constants) of a valid graph of reshapes (and adds)."""
    n_inputs = draw(st.integers(1, 3))
    constants = {n_inputs + k: np.ones((2, 4), np.float32) for k in range(draw(st.integers(0, 2)))}
    defined = list(range(n_inputs)) + list(constants)
    nodes = []
    for i in range(draw(st.integers(1, 8))):
        y = len(defined)
        if "add" in OPERATORS and draw(st.booleans()):
            nodes.append(add_node(draw(st.sampled_from(defined)), draw(st.sampled_from(defined)), y, f"n{i}"))
        else:
            nodes.append(reshape_node(draw(st.sampled_from(defined)), y, name=f"n{i}"))
        defined.append(y)
    outputs = draw(st.lists(st.sampled_from(defined), min_size=1, max_size=3))
    return nodes, len(defined), list(range(n_inputs)), outputs, constants


MUTATIONS = {}


def mutation(name):
    def register(f):
        MUTATIONS[name] = f
        return f
    return register


@mutation("unknown op")
def _unknown_op(g, draw):
    i = draw(st.integers(0, len(g[0]) - 1))
    op = draw(st.text(min_size=1, max_size=12).filter(lambda s: s not in OPERATORS and "\0" not in s))
    g[0][i] = (op,) + g[0][i][1:]
    return rf"node {i} \(.*\): unknown op"


@mutation("tensor id out of range")
def _out_of_range(g, draw):
    nodes, tensors = g[0], g[1]
    bad = draw(st.integers(tensors, 2**63 - 1))
    where = draw(st.sampled_from(["node input", "node output", "graph input", "graph output"]))
    if where.startswith("node"):
        i = draw(st.integers(0, len(nodes) - 1))
        j = 2 if where == "node input" else 3
        ids = list(nodes[i][j])
        ids[draw(st.integers(0, len(ids) - 1))] = bad
        nodes[i] = nodes[i][:j] + (ids,) + nodes[i][j + 1:]
        return rf"node {i} .*out of range for {tensors} tensors"
    ids = g[2] if where == "graph input" else g[3]
    ids[draw(st.integers(0, len(ids) - 1))] = bad
    return rf"{where} .*out of range for {tensors} tensors"


@mutation("tensor produced twice")
def _produced_twice(g, draw):
    nodes = g[0]
    i = draw(st.integers(0, len(nodes) - 1))
    earlier = g[2] + list(g[4]) + [t for node in nodes[:i] for t in node[3]]
    nodes[i] = nodes[i][:3] + ([draw(st.sampled_from(earlier))],) + nodes[i][4:]
    return rf"node {i} .*: output 0 \(tensor \d+\) is already"


@mutation("input used before it is produced")
def _used_before_produced(g, draw):
    nodes = g[0]
    i = draw(st.integers(0, len(nodes) - 1))
    later = [t for node in nodes[i:] for t in node[3]]  # its own output included: a cycle
    nodes[i] = nodes[i][:2] + ([draw(st.sampled_from(later))] + nodes[i][2][1:],) + nodes[i][3:]
    return rf"node {i} .*: input 0 \(tensor \d+\) is used before any node produces it"


@mutation("graph output never produced")
def _never_produced(g, draw):
    g[1] += 1  # a tensor nothing defines
    g[3].append(g[1] - 1)
    return rf"graph output {len(g[3]) - 1} \(tensor {g[1] - 1}\) is never produced"


@mutation("input and constant overlap")
def _input_is_constant(g, draw):
    g[4][draw(st.sampled_from(g[2]))] = np.ones(3, np.float32)
    return r"constant tensor \d+ is already graph input"


@mutation("input listed twice")
def _input_twice(g, draw):
    g[2].append(draw(st.sampled_from(g[2])))
    return r"graph input \d+ is tensor \d+, already graph input"


@mutation("bad attributes")
def _bad_attributes(g, draw):
    nodes = g[0]
    reshapes = [i for i, node in enumerate(nodes) if node[0] == "reshape"]
    if not reshapes:
        nodes.append(reshape_node(g[2][0], g[1]))
        g[1] += 1
        reshapes = [len(nodes) - 1]
    i = draw(st.sampled_from(reshapes))
    attrs = draw(st.sampled_from([{"shape": [-1, -1]}, {"shape": [0]}, {"shape": [2, -10]}, {}, {"shape": 3},
                                  {"shape": [1] * 9}, {"shape": [-1], "axis": 1}, {"shape": "1"}]))
    nodes[i] = nodes[i][:4] + (attrs,)
    return rf"node {i} \(reshape '[^']*'\): (unknown )?attribute"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=raw_graphs(), kind=st.sampled_from(sorted(MUTATIONS)), data=st.data())
def test_each_class_of_malformed_graph_is_refused_naming_the_fault(graph, kind, data):
    kernels.Graph(*graph)  # valid as generated
    g = list(graph)
    g[0], g[2], g[3], g[4] = list(g[0]), list(g[2]), list(g[3]), dict(g[4])
    message = MUTATIONS[kind](g, data.draw)
    with pytest.raises(ValueError, match="(?s)" + message):
        kernels.Graph(*g)


def test_limits_on_nodes_and_tensors_are_checked_before_anything_is_built():
    with pytest.raises(ValueError, match="at most 100000 tensors, got 100001"):
        kernels.Graph([reshape_node(0, 1)], 100_001, [0], [1], {})
    with pytest.raises(ValueError, match="at most 100000 nodes, got 100001"):
        kernels.Graph([reshape_node(0, 1)] * 100_001, 2, [0], [1], {})
    with pytest.raises(ValueError, match="at least one output"):
        kernels.Graph([reshape_node(0, 1)], 2, [0], [], {})
    with pytest.raises(ValueError, match="a node has at least one output"):
        kernels.Graph([("reshape", "r", [0], [], {"shape": [-1]})], 2, [0], [0], {})


def test_graphs_at_the_limits_build_and_run():
    n = 100_000 - 1
    nodes = [reshape_node(i, i + 1, name="") for i in range(n)]
    g = kernels.Graph(nodes, n + 1, [0], [n], {})
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(g.run([x])[0], x)


BAD_ARGUMENTS = [
    (lambda: kernels.Graph("nodes", 2, [0], [1], {}), TypeError, "nodes must be a list"),
    (lambda: kernels.Graph([("reshape", "r", [0])], 2, [0], [1], {}), ValueError, r"nodes\[0\] must be \(op"),
    (lambda: kernels.Graph([(1, "r", [0], [1], {})], 2, [0], [1], {}), TypeError, r"nodes\[0\] op must be a str"),
    (lambda: kernels.Graph([("reshape", None, [0], [1], {})], 2, [0], [1], {}), TypeError, r"nodes\[0\] name"),
    (lambda: kernels.Graph([("reshape", "r", [-1], [1], {})], 2, [0], [1], {}), ValueError,
     r"nodes\[0\] inputs\[0\] must be at least 0"),
    (lambda: kernels.Graph([("reshape", "r", [True], [1], {})], 2, [0], [1], {}), TypeError,
     r"nodes\[0\] inputs\[0\] must be an int"),
    (lambda: kernels.Graph([("reshape", "r", [0], [2**64], {})], 2, [0], [1], {}), ValueError,
     r"nodes\[0\] outputs\[0\] is out of range"),
    (lambda: kernels.Graph([("reshape", "r", [0], [1], [])], 2, [0], [1], {}), TypeError,
     r"nodes\[0\] attrs must be a dict"),
    (lambda: kernels.Graph([("reshape", "r", [0], [1], {"shape": True})], 2, [0], [1], {}), ValueError,
     r"nodes\[0\]: attribute 'shape' must not be a bool"),
    (lambda: kernels.Graph([("reshape", "r", [0], [1], {1: 2})], 2, [0], [1], {}), TypeError,
     r"nodes\[0\]: attribute names must be strings"),
    (lambda: kernels.Graph([("re\0shape", "r", [0], [1], {})], 2, [0], [1], {}), ValueError,
     r"nodes\[0\] op must not contain NUL characters"),
    (lambda: kernels.Graph([("reshape", "\0", [0], [1], {})], 2, [0], [1], {}), ValueError,
     r"nodes\[0\] name must not contain NUL characters"),
    (lambda: kernels.Graph([("reshape", "r", [0], [1], {"s\0": 1})], 2, [0], [1], {}), ValueError,
     r"nodes\[0\]: attribute names must not contain NUL characters"),
    (lambda: kernels.Graph([("reshape", "r", [0], [1], {"shape": "\0"})], 2, [0], [1], {}), ValueError,
     r"nodes\[0\]: attribute 'shape' must not contain NUL characters"),
    (lambda: kernels.Graph([], -1, [0], [0], {}), ValueError, "tensors must be at least 0"),
    (lambda: kernels.Graph([], 1, 0, [0], {}), TypeError, "inputs must be a list"),
    (lambda: kernels.Graph([], 1, [0], [0], []), TypeError, "constants must be a mapping"),
    (lambda: kernels.Graph([], 2, [0], [1], {1: "w"}), TypeError, r"constants\[1\] must have dtype float32"),
    (lambda: kernels.Graph([], 2, [0], [1], {1: np.ones(3)}), TypeError, r"constants\[1\] must have dtype float32"),
    (lambda: kernels.Graph([], 2, [0], [1], {-1: np.ones(3, np.float32)}), ValueError,
     "constants key must be at least 0"),
    (lambda: kernels.Graph([], 2, [0], [1], {1: np.ones((1,) * 9, np.float32)}), ValueError,
     r"constants\[1\] has rank 9"),
]


@pytest.mark.parametrize("call,error,message", BAD_ARGUMENTS)
def test_bad_arguments_are_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- shapes ------------------------------------------------------------------------------------


def test_reshape_targets_refer_to_input_dims():
    g = kernels.Graph([reshape_node(0, 1, (-3, -2, -1)), reshape_node(1, 2, (-1,))], 3, [0], [1, 2], {})
    for shape in [(2, 3, 4), (5, 1, 7), (1, 6, 0)]:
        assert g.output_shapes([shape]) == [(shape[1], shape[0], shape[2]), (int(np.prod(shape)),)]
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    y, z = g.run([x])
    np.testing.assert_array_equal(y, x.reshape(3, 2, 4))
    np.testing.assert_array_equal(z, x.ravel())


@pytest.mark.parametrize("shape,input_shape,message", [
    ((7, -1), (2, 3), r"cannot reshape to \(7, -1\) a tensor of shape \(2, 3\)"),
    ((4,), (2, 3), r"cannot reshape to \(4,\)"),
    ((-1, -3), (3, 0), r"cannot reshape to \(-1, d1\) a tensor of shape \(3, 0\)"),  # -1 is ambiguous
    ((-4,), (2, 3), r"shape entry 0 is dim 2 of the input, which has shape \(2, 3\)"),
])
def test_shape_rules_refuse_inputs_naming_the_node(shape, input_shape, message):
    g = kernels.Graph([reshape_node(0, 1, shape, "head.flatten")], 2, [0], [1], {})
    with pytest.raises(ValueError, match=r"node 0 \(reshape 'head.flatten'\): " + message):
        g.output_shapes([input_shape])


@pytest.mark.parametrize("target", [(2**40, 2**40), (2**62, 4, -1), (2**32, 2**32, 2**32)])
def test_huge_reshape_targets_are_refused(target):
    g = kernels.Graph([reshape_node(0, 1, target)], 2, [0], [1], {})
    with pytest.raises(ValueError, match="the reshape target is too large|cannot reshape"):
        g.output_shapes([(2, 3)])


@pytest.mark.parametrize("shapes,message", [
    ([(2, 3), (1,)], "the graph takes 1 inputs, got 2 shapes"),
    ([(1,) * 9], r"input_shapes\[0\] has rank 9"),
    ([(2**40, 2**40)], r"input 0 of shape \(1099511627776, 1099511627776\) is too large"),
    ([(-1, 3)], r"input_shapes\[0\]\[0\] must be at least 0"),
    ([(2**64, 1)], r"input_shapes\[0\]\[0\] is out of range"),
])
def test_input_shapes_are_checked(shapes, message):
    g = kernels.Graph([reshape_node(0, 1)], 2, [0], [1], {})
    with pytest.raises(ValueError, match=message):
        g.output_shapes(shapes)


def test_activations_beyond_the_limit_are_refused_before_allocating():
    """An output copied from a huge input, a huge chain: refused while planning, from shapes only,
    and the process never grows."""
    result = run_python(f"""
        import resource
        from pyprune import kernels
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        g = kernels.Graph([("reshape", "r", [0], [1], {{"shape": [-1]}})], 2, [0], [1], {{}})
        assert g.output_shapes([(2**29, 2)]) == [(2**30,)]  # 4 GiB of output: the limit
        for shape in [(2**29 + 16, 2), (2**40, 3)]:
            try:
                g.output_shapes([shape])
                raise SystemExit("planned " + str(shape))
            except ValueError as e:
                assert "bytes of activations for these input shapes, more than the limit of {LIMIT}" in str(e), e
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    assert result.returncode == 0, result.stderr + result.stdout
    assert int(result.stdout) < 64, f"grew by {result.stdout.strip()} MB"


@needs_add
def test_the_limit_counts_the_arena_and_the_outputs():
    g = compile(chain(2, 1))  # x -> t0 (arena) -> t1 (output)
    n = (LIMIT // 2) // 4
    assert g.arena_bytes([(1, n)]) == n * 4
    with pytest.raises(ValueError, match=f"needs at least {(n + 16) * 8} bytes"):
        g.arena_bytes([(1, n + 16)])


# ---- the memory plan ---------------------------------------------------------------------------


THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


@needs_add
@pytest.mark.skipif(not THP_MODE.exists() or "[never]" in THP_MODE.read_text(),
                    reason="no transparent huge pages on this machine")
def test_an_arena_of_megabytes_is_on_huge_pages():
    # In a process of its own: the growth of its huge pages is the arena's.
    result = run_python("""
        import numpy as np
        from pyprune.graph import compile, ir

        def huge_kb():
            with open("/proc/self/smaps_rollup") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("AnonHugePages:"))

        n = 4 << 20  # 16 MiB per tensor
        nodes = [ir.Node("add", ["x", "x"], ["t0"], {}, "a"), ir.Node("add", ["t0", "t0"], ["t1"], {}, "b")]
        g = compile(ir.Graph([ir.TensorSpec("x", (1, n))], ["t1"], nodes))
        x = np.ones((1, n), np.float32)
        before = huge_kb()
        g.run([x])
        print(huge_kb() - before)
    """)
    assert result.returncode == 0, result.stderr + result.stdout
    assert int(result.stdout) >= 8 << 10, f"{result.stdout.strip()} KiB more on huge pages"


@needs_add
@pytest.mark.parametrize("n", [2, 3, 4, 10, 100])
def test_a_chain_needs_three_buffers_whatever_its_length(n, rng):
    # A buffer is not written by the step right after the one that last read it.
    length = 1000
    g = compile(chain(n, length))
    assert g.arena_bytes([(1, length)]) == min(n - 1, 3) * aligned(length * 4)
    x = rng.standard_normal((1, length), dtype=np.float32)
    np.testing.assert_array_equal(g.run([x])[0], x * np.float32(2**n))


@needs_add
def test_a_view_extends_its_inputs_lifetime(rng):
    # a = x + x; v = view(a); b = x + x; c = b + b; out = v + c. Without v keeping a alive, b or c
    # would take a's memory.
    nodes = [ir.Node("add", ["x", "x"], ["a"]), ir.Node("reshape", ["a"], ["v"], {"shape": [-2, -3, -4]}),
             ir.Node("add", ["x", "x"], ["b"]), ir.Node("add", ["b", "b"], ["c"]),
             ir.Node("add", ["v", "c"], ["out"])]
    graph = ir.Graph([ir.TensorSpec("x", (2, 8, 8))], ["out"], nodes, dynamic_batch=True)
    g = compile(graph)
    x = rng.standard_normal((2, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(g.run([x])[0], evaluate(graph, [x])[0])
    assert g.arena_bytes([(2, 8, 8)]) == 3 * aligned(2 * 64 * 4)  # a (as v), b, c


def test_views_copy_nothing():
    g = compile(chain(50, 1000, op="reshape"))
    assert g.arena_bytes([(1, 1000)]) == 0
    assert g.profile([np.ones((1, 1000), np.float32)], repeats=3) == [0.0] * 50


@settings(max_examples=150, deadline=None)
@given(graph=graphs(), seed=st.integers(0, 2**32 - 1))
def test_random_graphs_compute_what_numpy_computes(graph, seed):
    """Views of views, tensors read long after they are made, outputs that are inputs, constants
    or repeated: any overlap of live tensors in the arena would change a result."""
    rng = np.random.default_rng(seed)
    g = compile(graph)
    inputs = example_inputs(graph, rng)
    got = g.run(inputs)
    for y, want in zip(got, evaluate(graph, inputs)):
        np.testing.assert_array_equal(y, want)
    shapes = tensor_shapes(graph, inputs)
    everything = sum(aligned(int(np.prod(shapes[n.outputs[0]])) * 4) for n in graph.nodes if n.op != "reshape")
    assert g.arena_bytes([x.shape for x in inputs]) <= everything


# ---- outputs -----------------------------------------------------------------------------------


def test_outputs_that_are_inputs_constants_or_repeated_are_copies(rng):
    c = rng.standard_normal((2, 3), dtype=np.float32)
    g = kernels.Graph([reshape_node(0, 2, (-1,)), reshape_node(1, 3, (-1,))], 4, [0], [0, 1, 2, 2, 3], {1: c})
    x = rng.standard_normal((2, 3), dtype=np.float32)
    outs = g.run([x])
    for y, want in zip(outs, [x, c, x.ravel(), x.ravel(), c.ravel()]):
        np.testing.assert_array_equal(y, want)
    assert not any(np.shares_memory(y, z) for y in outs for z in [x, c] + [o for o in outs if o is not y])


def test_outputs_are_written_where_the_caller_says(rng):
    g = kernels.Graph([reshape_node(0, 1, (-1,))], 2, [0], [1, 0], {})
    x = rng.standard_normal((2, 3), dtype=np.float32)
    outs = [np.full(6, np.nan, np.float32), np.full((2, 3), np.nan, np.float32)]
    assert all(y is out for y, out in zip(g.run([x], outputs=outs), outs))
    np.testing.assert_array_equal(outs[0], x.ravel())
    np.testing.assert_array_equal(outs[1], x)


@pytest.mark.parametrize("outputs,error,message", [
    (lambda x: [np.zeros(6, np.float32)], ValueError, "outputs must hold 2 arrays, got 1"),
    (lambda x: [np.zeros(5, np.float32), np.zeros((2, 3), np.float32)], ValueError,
     r"outputs\[0\] must have shape \(6,\), got \(5,\)"),
    (lambda x: [np.zeros(6), np.zeros((2, 3), np.float32)], TypeError, r"outputs\[0\] must have dtype float32"),
    (lambda x: [np.zeros(12, np.float32)[::2], np.zeros((2, 3), np.float32)], ValueError,
     r"outputs\[0\] must be C-contiguous"),
    (lambda x: [x.reshape(6), np.zeros((2, 3), np.float32)], ValueError,
     r"outputs\[0\] must not share memory with the inputs"),
    (lambda x: [_shared[:6], _shared[3:9].reshape(2, 3)], ValueError,
     r"outputs\[1\] must not share memory with another output"),
    (lambda x: [_readonly(6), np.zeros((2, 3), np.float32)], ValueError, r"outputs\[0\] must be writeable"),
])
def test_bad_outputs_are_refused_by_name(outputs, error, message):
    g = kernels.Graph([reshape_node(0, 1, (-1,))], 2, [0], [1, 0], {})
    x = np.ones((2, 3), np.float32)
    with pytest.raises(error, match=message):
        g.run([x], outputs=outputs(x))


_shared = np.zeros(9, np.float32)


def _readonly(n):
    a = np.zeros(n, np.float32)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("inputs,error,message", [
    ([], ValueError, "inputs must hold 1 arrays, got 0"),
    ([np.ones((2, 3))], TypeError, r"inputs\[0\] must have dtype float32"),
    ([np.ones((1,) * 9, np.float32)], ValueError, r"inputs\[0\] has rank 9"),
    ([np.ones((2, 2), np.float32)], ValueError, r"cannot reshape to \(d0, 3\)"),
])
def test_bad_inputs_are_refused_by_name(inputs, error, message):
    g = kernels.Graph([reshape_node(0, 1, (-2, 3))], 2, [0], [1], {})
    with pytest.raises(error, match=message):
        g.run(inputs)


def test_empty_tensors_run():
    g = kernels.Graph([reshape_node(0, 1, (-2, 8))], 2, [0], [1, 0], {})
    y, x = g.run([np.zeros((0, 4, 2), np.float32)])
    assert y.shape == (0, 8) and x.shape == (0, 4, 2)


# ---- coded constants ---------------------------------------------------------------------------


def test_coded_constants_are_decoded_where_they_are_read(rng):
    w = rng.integers(-3, 4, (2, 3)).astype(np.float32)
    shared = coded(w)
    nodes = [reshape_node(1, 2, (-1,))] + ([add_node(0, 1, 3)] if "add" in OPERATORS else [])
    outputs = [1, 2] + ([3] if "add" in OPERATORS else [])
    g = kernels.Graph(nodes, 4, [0], outputs, {1: (shared, (2, 3))})
    x = rng.standard_normal((2, 3), dtype=np.float32)
    outs = g.run([x])
    np.testing.assert_array_equal(outs[0], w)
    np.testing.assert_array_equal(outs[1], w.ravel())
    if "add" in OPERATORS:
        np.testing.assert_array_equal(outs[2], x + w)
        assert g.arena_bytes([(2, 3)]) == aligned(6 * 4)  # the decoded weights, while the add runs


def test_coded_constants_must_match_their_shape(rng):
    shared = coded(np.arange(6, dtype=np.float32))
    with pytest.raises(ValueError, match=r"constant tensor 1 of shape \(2, 2\) holds 6 values, not 4"):
        kernels.Graph([], 2, [0], [1], {1: (shared, (2, 2))})
    with pytest.raises(TypeError, match=r"constants\[1\] must be a \(SharedWeights, shape\) pair"):
        kernels.Graph([], 2, [0], [1], {1: shared})


def test_the_graph_keeps_its_constants():
    w = np.arange(6, dtype=np.float32)
    shared = coded(w)
    g = kernels.Graph([], 3, [0], [1, 2], {1: w, 2: (shared, (6,))})
    del shared
    w[:] = -1  # the graph has its own copy of dense constants
    outs = g.run([np.zeros(1, np.float32)])
    np.testing.assert_array_equal(outs[0], np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(outs[1], np.arange(6, dtype=np.float32))


def test_a_read_only_constant_is_read_where_it_is_and_kept_alive():
    """A writeable array is copied (its owner may change it); a read-only one, as a packed
    file's weights are, is held by the graph instead of copied."""
    writeable, read_only = np.arange(6, dtype=np.float32), np.arange(6, dtype=np.float32) * 2
    read_only.flags.writeable = False
    counts = sys.getrefcount(writeable), sys.getrefcount(read_only)
    g = kernels.Graph([], 3, [0], [1, 2], {1: writeable, 2: read_only})
    assert (sys.getrefcount(writeable), sys.getrefcount(read_only)) == (counts[0], counts[1] + 1)
    del read_only
    gc.collect()
    outs = g.run([np.zeros(1, np.float32)])
    np.testing.assert_array_equal(outs[1], np.arange(6, dtype=np.float32) * 2)
    held = outs[1]  # a copy in the output, and the graph's reference goes with the graph
    del g, outs
    gc.collect()
    np.testing.assert_array_equal(held, np.arange(6, dtype=np.float32) * 2)


# ---- reports -----------------------------------------------------------------------------------


@needs_add
def test_describe_and_profile_every_node(rng):
    g = compile(ir.Graph([ir.TensorSpec("x", (2, 6))], ["z"],
                         [ir.Node("add", ["x", "x"], ["y"], name="block.add"),
                          ir.Node("reshape", ["y"], ["z"], {"shape": [-2, 3, -1]}, "head.view")]))
    nodes = g.describe([(2, 6)])
    assert [(n.op, n.name, n.output_shapes) for n in nodes] == [("add", "block.add", ((2, 6),)),
                                                                ("reshape", "head.view", ((2, 3, 2),))]
    assert nodes[1].kernel == "reshape to (d0, 3, -1)" and nodes[1].macs == 0
    seconds = g.profile([rng.standard_normal((2, 6), dtype=np.float32)], repeats=5)
    assert len(seconds) == 2 and seconds[0] > 0 and seconds[1] == 0
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        g.profile([np.ones((2, 6), np.float32)], repeats=0)
    with pytest.raises(ValueError, match=r"repeats must be in \[1, 10000\]"):
        g.profile([np.ones((2, 6), np.float32)], repeats=10**6)
    # a run times each of its nodes where asked (a view takes no time), and writes nothing else
    x = rng.standard_normal((2, 6), dtype=np.float32)
    seconds = np.full(2, -1.0)
    (z,) = g.run([x], node_seconds=seconds)
    np.testing.assert_array_equal(z, (x + x).reshape(2, 3, 2))
    assert seconds[0] > 0 and seconds[1] == 0
    for wrong, error, message in ((np.zeros(3), ValueError, "node_seconds must hold 2 floats, one per node, got 3"),
                                  (np.zeros(2, np.float32), TypeError, "node_seconds must have dtype float64"),
                                  (np.zeros(2)[::-1], ValueError, "node_seconds must be C-contiguous")):
        with pytest.raises(error, match=message):
            g.run([x], node_seconds=wrong)
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="node_seconds must be writeable"):
        g.run([x], node_seconds=frozen)


# ---- threads -----------------------------------------------------------------------------------


@needs_add
def test_results_do_not_depend_on_the_thread_count(rng):
    g = compile(chain(6, 50_000))
    x = rng.standard_normal((3, 50_000), dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(1)
        want = g.run([x])[0]
        for threads in (2, 3, 4):
            pyprune.set_num_threads(threads)
            np.testing.assert_array_equal(g.run([x])[0], want)
    finally:
        pyprune.set_num_threads(before)


@needs_add
def test_nodes_of_little_work_run_on_one_thread(rng):
    """A node of little work, or every node of a graph of little work in all, runs on the
    calling thread alone (handing half of it to another core costs more than it saves); the
    others share the threads. Either way the results are the same."""
    g = compile(chain(6, 50_000))
    assert [n.one_thread for n in g.describe([(1, 50_000)])] == [True] * 6  # 6 x 50 K outputs in all
    assert [n.one_thread for n in g.describe([(4, 50_000)])] == [False] * 6
    mixed = compile(ir.Graph([ir.TensorSpec("x", (1, 1_000_000)), ir.TensorSpec("s", (1, 1000))], ["y", "t"],
                             [ir.Node("add", ["x", "x"], ["y"], name="large"), ir.Node("add", ["s", "s"], ["t"], name="small")]))
    assert [n.one_thread for n in mixed.describe([(1, 1_000_000), (1, 1000)])] == [False, True]
    # 80 K multiply-adds into 640 outputs (a DETR decoder's linear layer) stay whole; 330 K do not
    weights = {"narrow": rng.standard_normal((64, 128), dtype=np.float32),
               "wide": rng.standard_normal((256, 128), dtype=np.float32)}
    linears = compile(ir.Graph([ir.TensorSpec("x", (1, 1_000_000)), ir.TensorSpec("q", (10, 128))], ["y", "a", "b"],
                               [ir.Node("add", ["x", "x"], ["y"], name="large"),
                                ir.Node("linear", ["q", "narrow"], ["a"], name="narrow"),
                                ir.Node("linear", ["q", "wide"], ["b"], name="wide")], weights))
    assert [n.one_thread for n in linears.describe([(1, 1_000_000), (10, 128)])] == [False, True, False]
    x, small = rng.standard_normal((1, 1_000_000), dtype=np.float32), rng.standard_normal((1, 1000), dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(2)
        y, t = mixed.run([x, small])
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(y, x + x)
    np.testing.assert_array_equal(t, small + small)


def test_concurrent_runs_of_one_graph_with_different_shapes(rng):
    """Several Python threads run the same graph at once, each with its own batch size (more
    signatures than the plan cache keeps): each gets its own results."""
    graph = chain(8, 64, op="add" if "add" in OPERATORS else "reshape")
    g = compile(graph)
    inputs = [rng.standard_normal((batch, 64), dtype=np.float32) for batch in range(1, 9)]
    want = [evaluate(graph, [x])[0] for x in inputs]
    errors = []

    def worker(k):
        try:
            for i in range(40):
                j = (k + i) % len(inputs)
                np.testing.assert_array_equal(g.run([inputs[j]])[0], want[j])
        except Exception as e:  # reported on the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
