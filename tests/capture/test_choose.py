"""Choosing where each node runs by measurement: the candidates that take a node, the winner,
the sparse policy, and the separable pair measured fused against apart."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pyprune import kernels  # noqa: E402
from pyprune.capture import choose as C  # noqa: E402
from pyprune.capture import optimize, reference  # noqa: E402
from pyprune.capture.lower import Input, Lowered, Origin, TorchCall  # noqa: E402
from pyprune.graph import ir  # noqa: E402
from pyprune.nn import SparsePolicy  # noqa: E402


def lowered(nodes, constants, x_shape=(1, 8, 10, 10), calls=None):
    g = ir.Graph([ir.TensorSpec("x", x_shape)], [nodes[-1].outputs[0]], copy.deepcopy(nodes),
                 {k: np.asarray(v, np.float32) for k, v in constants.items()}, True)
    x = torch.randn(*x_shape, generator=torch.Generator().manual_seed(0))
    env = reference.evaluate(g, [x], calls)
    origins = {n.outputs[0]: [Origin(n.name, f"aten.{n.op}.default")] for n in nodes}
    return Lowered(g, [], dict(calls or {}), origins, None, {}), env


def conv(x, out, w, name, **attrs):
    return ir.Node("conv2d", [x, w], [out], {"stride": [1, 1], "padding": [0, 0, 0, 0], "dilation": [1, 1],
                                             "groups": 1, **attrs}, name)


def pruned(shape, density, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * (rng.random(shape) < density)).astype(np.float32)


def check_winner(choice):
    """Torch won where it beat the engine's fastest candidate by more than leaving the engine
    costs."""
    assert choice.candidates and choice.seconds == min(choice.candidates.values())
    engine = min(v for k, v in choice.candidates.items() if k != "torch")
    assert (choice.runs == C.TORCH) == C.torch_takes(choice.candidates["torch"], engine)


@pytest.mark.parametrize("torch_threads,engine_ms,torch_ms,runs", [
    (1, 1.0, 0.5, C.TORCH),
    (1, 1.0, 0.95, C.PYPRUNE),  # faster by less than the margin
    (1, 0.05, 0.03, C.PYPRUNE),  # faster by less than the boundary's cost
    (1, 0.05, 0.023, C.TORCH),
    (2, 1.0, 0.5, C.PYPRUNE),  # torch's spinning threads would cost more than it saves
    (2, 4.0, 0.5, C.TORCH),
    (2, 0.5, 1.0, C.PYPRUNE),
])
def test_torch_takes_a_node_only_by_more_than_leaving_the_engine_costs(torch_threads, engine_ms, torch_ms, runs,
                                                                       monkeypatch):
    low, env = lowered([conv("x", "y", "w", "pw")], {"w": pruned((8, 8, 1, 1), 1.0)})
    timed = {"gemm": engine_ms * 1e-3, "torch": torch_ms * 1e-3, "fn": torch_ms * 1e-3}  # winograd refuses a 1x1
    monkeypatch.setattr(C, "time_calls", lambda fns, repeats: {label: timed[label] for label in fns})
    monkeypatch.setattr(C, "settle", lambda: None)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(torch_threads)
        choice = C.choose(low, env, sparse=None, repeats=1)["y"]
    finally:
        torch.set_num_threads(before)
    assert choice.runs == runs, choice
    assert ("by less than leaving the engine costs" in choice.why) == (runs == C.PYPRUNE and torch_ms < engine_ms)
    assert ("spinning threads" in choice.why) == (torch_threads > 1 and torch_ms < engine_ms)


@pytest.mark.parametrize("torch_threads,turns", [(1, [{"gemm", "torch"}]), (2, [{"gemm"}, {"fn"}])])
def test_candidates_take_turns_and_torch_with_them_when_it_has_one_thread(torch_threads, turns, monkeypatch):
    low, env = lowered([conv("x", "y", "w", "pw")], {"w": pruned((8, 8, 1, 1), 1.0)})
    seen = []
    monkeypatch.setattr(C, "time_calls", lambda fns, repeats: seen.append(set(fns)) or {k: 1e-3 for k in fns})
    monkeypatch.setattr(C, "settle", lambda: None)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(torch_threads)
        C.choose(low, env, sparse=None, repeats=1)
    finally:
        torch.set_num_threads(before)
    assert seen == turns


def test_dense_convolutions_try_their_algorithms_and_torch():
    low, env = lowered([conv("x", "y", "w", "pw"), conv("y", "z", "dw", "dw", groups=8, padding=[1, 1, 1, 1])],
                       {"w": pruned((8, 8, 1, 1), 1.0), "dw": pruned((8, 1, 3, 3), 1.0)})
    choices = C.choose(low, env, sparse=None, repeats=2)
    assert set(choices["y"].candidates) >= {"gemm", "torch"} and not any("sparse" in k for k in choices["y"].candidates)
    assert "depthwise" in choices["z"].candidates and "depthwise" not in choices["y"].candidates
    for key, choice in choices.items():
        check_winner(choice)
        node = next(n for n in low.graph.nodes if n.outputs[0] == key)
        if choice.runs == C.PYPRUNE:
            winner = min((k for k in choice.candidates if k != "torch"), key=choice.candidates.get)
            assert node.attrs["algorithm"] == winner.split(" ")[0]
        else:
            assert "algorithm" not in node.attrs


def test_nodes_the_same_but_for_their_inputs_values_are_measured_once(monkeypatch):
    """An unrolled recurrent net repeats its step's layer, with a copy of its weights each."""
    w, other = pruned((8, 8, 1, 1), 1.0), pruned((8, 8, 1, 1), 1.0, seed=1)
    nodes = [conv("x", "a", "w0", "step0"), conv("a", "b", "w1", "step1"), conv("b", "c", "w2", "step2"),
             conv("c", "d", "w3", "other"), conv("d", "e", "w0", "strided", stride=[2, 2])]
    low, env = lowered(nodes, {"w0": w, "w1": w.copy(), "w2": w.copy(), "w3": other})
    timed = []
    monkeypatch.setattr(C, "time_calls", lambda fns, repeats: timed.append(set(fns)) or {k: 1e-3 for k in fns})
    monkeypatch.setattr(C, "settle", lambda: None)
    choices = C.choose(low, env, sparse=None, repeats=1)
    assert sum("gemm" in turn for turn in timed) == 3  # step0 (for step1 and step2 too), other, strided
    for key in ("b", "c"):
        assert choices[key].candidates == choices["a"].candidates and choices[key].runs == choices["a"].runs
        assert choices[key].why == choices["a"].why + "; measured as the same node 'step0'"
    assert [n.attrs.get("algorithm") for n in low.graph.nodes[:3]] == [low.graph.nodes[0].attrs.get("algorithm")] * 3
    assert "measured as" not in choices["d"].why + choices["e"].why


def test_the_sparse_policy_decides_which_layers_try_sparse_kernels():
    low, env = lowered([conv("x", "y", "w", "sparse_layer")], {"w": pruned((64, 8, 1, 1), 0.1)})
    tried = C.choose(low, env, sparse=SparsePolicy(), repeats=2)["y"]
    blocks = kernels.capabilities().sparse_blocks
    assert {f"sparse block {b}" for b in blocks} <= set(tried.candidates)
    low, env = lowered([conv("x", "y", "w", "sparse_layer")], {"w": pruned((64, 8, 1, 1), 0.9)})
    assert not any("sparse" in k for k in C.choose(low, env, sparse=SparsePolicy(), repeats=2)["y"].candidates)
    forced = C.choose(low, env, sparse=SparsePolicy(layers={"sparse_layer": True}), repeats=2)["y"]
    assert forced.runs == C.PYPRUNE and set(forced.candidates) == {f"sparse block {b}" for b in blocks}
    assert low.graph.nodes[0].attrs["algorithm"] == "sparse"


def test_nodes_the_engine_refuses_and_torch_calls_stay_torch():
    nodes = [ir.Node("unary", ["x"], ["a"], {"kind": "no_such_kind"}), ir.Node("aten.flip.default", ["x"], ["b"]),
             ir.Node("aten.argmax.default", ["x"], ["i"]), ir.Node("add", ["x", "i"], ["c"])]
    g = ir.Graph([ir.TensorSpec("x", (2, 3))], ["a", "b", "c"], nodes, {}, True)
    low = Lowered(g, [], {"b": TorchCall(torch.flip, (Input(0), [0]), {}),
                          "i": TorchCall(torch.argmax, (Input(0),), {}, "why it is torch's")}, {}, None, {})
    x = torch.randn(2, 3)
    env = {"x": x, "a": x, "b": x.flip(0), "i": x.argmax(), "c": x}
    choices = C.choose(low, env, repeats=1)
    assert choices["a"].runs == C.TORCH and choices["a"].why.startswith("the engine refuses it")
    assert choices["b"].runs == C.TORCH and choices["b"].why == "size arithmetic on run-time sizes"
    assert choices["i"].runs == C.TORCH and choices["i"].why == "why it is torch's"
    assert choices["c"].runs == C.TORCH and choices["c"].why == "an input is no float32 tensor"


def test_separable_nodes_measure_fused_against_apart():
    rng = np.random.default_rng(0)
    c = {"dw": rng.standard_normal((8, 1, 3, 3)), "db": np.zeros(8), "pw": rng.standard_normal((16, 8, 1, 1)),
         "pb": np.ones(16)}
    fused = ir.Node("conv2d", ["x", "dw", "db", "pw", "pb"], ["y"],
                    {"stride": [1, 1], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 8,
                     "depthwise_activation": "relu6", "activation": "relu", "algorithm": "separable"}, "block.1")
    low, env = lowered([fused], c)
    low.origins["y"] = [Origin("block.0", "aten.conv2d.default"), Origin("block.0", "aten.hardtanh.default"),
                        Origin("block.1", "aten.conv2d.default"), Origin("block.1", "aten.relu.default")]
    want = reference.run(low.graph, [env["x"]])[0]
    choices = C.choose(low, env, repeats=2)
    torch.testing.assert_close(reference.run(low.graph, [env["x"]])[0], want)
    if len(low.graph.nodes) == 2:  # apart won: each half with its own origins and module
        dw, pw = low.graph.nodes
        assert dw.name == "block.0" and [o.module for o in low.origins[dw.outputs[0]]] == ["block.0"] * 2
        assert all("separable" in c.why for c in choices.values())
    else:
        assert [n.outputs[0] for n in low.graph.nodes] == ["y"] and len(low.origins["y"]) == 4
    for choice in choices.values():
        check_winner(choice)


@pytest.mark.parametrize("fused_ms,fuses", [(0.85, True), (0.95, False), (1.2, False)])
def test_a_separable_pair_fuses_only_by_more_than_the_margin(fused_ms, fuses, monkeypatch):
    rng = np.random.default_rng(0)
    c = {"dw": rng.standard_normal((8, 1, 3, 3)), "db": np.zeros(8), "pw": rng.standard_normal((16, 8, 1, 1)),
         "pb": np.ones(16)}
    fused = ir.Node("conv2d", ["x", "dw", "db", "pw", "pb"], ["y"],
                    {"stride": [1, 1], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 8,
                     "algorithm": "separable"}, "block.1")
    low, env = lowered([fused], c)
    # the pair apart: 0.2 ms + 0.8 ms
    timed = {"separable": fused_ms, "depthwise": 0.2, None: 0.8}
    monkeypatch.setattr(C, "_measure", lambda graph, node, *rest: C.Choice(
        C.PYPRUNE, "fastest measured", {"gemm": timed[node.attrs.get("algorithm", "depthwise" if "groups" in node.attrs
                                                                   and node.attrs["groups"] > 1 else None)] * 1e-3}))
    choices = C.choose(low, env, repeats=1)
    assert (len(low.graph.nodes) == 1) == fuses
    if not fuses:
        assert all("the fused separable node was not 10% faster" in c.why for c in choices.values())


def test_split_separable_undoes_the_fusion():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.ReLU6(), nn.Conv2d(4, 6, 1), nn.ReLU())
    from capture_helpers import lowered as capture_lowered

    low = capture_lowered(model.eval(), torch.randn(1, 4, 8, 8))
    optimize.optimize(low)
    (node,) = [n for n in low.graph.nodes if n.attrs.get("algorithm") == "separable"]
    x = torch.randn(3, 4, 8, 8)
    want = reference.run(low.graph, [x])[0]
    C.split_separable(low, node)
    assert [n.op for n in low.graph.nodes] == ["conv2d", "conv2d"]
    torch.testing.assert_close(reference.run(low.graph, [x])[0], want)
    assert isinstance(C.separable_supported(), bool)
