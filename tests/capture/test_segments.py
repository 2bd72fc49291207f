"""Engine segments inside an fx module: the schedule groups engine nodes, every value reaches
its readers, outputs keep the model's structure, inputs are checked."""

import copy
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pyprune.capture import reference  # noqa: E402
from pyprune.capture.export import capture  # noqa: E402
from pyprune.capture.lower import lower  # noqa: E402
from pyprune.capture.segments import EngineSegment, TorchOp, build, schedule  # noqa: E402
from pyprune.graph import ir  # noqa: E402


def test_schedule_runs_every_ready_engine_node_before_a_torch_node():
    n = [ir.Node("relu", ["x"], ["a"]), ir.Node("flip", ["a"], ["b"]), ir.Node("relu", ["x"], ["c"]),
         ir.Node("add", ["b", "c"], ["d"]), ir.Node("relu", ["a"], ["e"])]
    on_engine = {"a": True, "b": False, "c": True, "d": True, "e": True}
    order = [node.outputs[0] for node in schedule(n, on_engine)]
    assert order == ["a", "c", "e", "b", "d"]
    # dependencies always hold, whatever the placement
    for placement in ({k: False for k in on_engine}, {k: k != "a" for k in on_engine}):
        seen = {"x"}
        for node in schedule(n, placement):
            assert set(node.inputs) <= seen
            seen |= set(node.outputs)


class Branches(nn.Module):
    """Engine-friendly convolutions around torch-only ops, returning a dict and a list."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)

    def forward(self, x, y):
        h = torch.relu(self.a(x))
        bessel = torch.special.i0(h)  # not in the operator set
        return {"sum": self.b(bessel) + y, "parts": [h.mean((2, 3)), torch.lgamma(bessel)]}


def converted(placement):
    torch.manual_seed(0)
    model = Branches().eval()
    x, y = torch.randn(2, 3, 6, 6), torch.randn(2, 4, 6, 6)
    captured = capture(model, (x, y))
    low = lower(captured.program, (x, y))
    env = reference.evaluate(low.graph, [x, y], low.calls)
    shapes = {k: tuple(v.shape) for k, v in env.items() if isinstance(v, torch.Tensor)}
    on_engine = {n.outputs[0]: n.outputs[0] not in low.calls and placement(n) for n in low.graph.nodes}
    return model, build(low, on_engine, shapes), (x, y)


@pytest.mark.parametrize("placement", [lambda n: True, lambda n: n.op != "conv2d", lambda n: False],
                         ids=["engine", "mixed", "torch"])
def test_outputs_keep_the_model_structure(placement):
    model, module, (x, y) = converted(placement)
    for inputs in ((x, y), (x[:1], y[:1])):
        with torch.inference_mode():
            got, want = module(*inputs), model(*inputs)
        assert set(got) == {"sum", "parts"} and isinstance(got["parts"], list)
        torch.testing.assert_close(got["sum"], want["sum"], rtol=1e-5, atol=1e-5)
        for g, w in zip(got["parts"], want["parts"]):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
    segments = [m for m in module.modules() if isinstance(m, EngineSegment)]
    torch_ops = [m for m in module.modules() if isinstance(m, TorchOp)]
    if placement(ir.Node("conv2d", [], ["x"])) and placement(ir.Node("add", [], ["x"])):
        assert torch_ops == [] and len(segments) >= 1
    for segment in segments:
        assert not set(segment.graph.constants) & {s.name for s in segment.graph.inputs}


def test_inputs_of_other_shapes_are_refused():
    _, module, (x, y) = converted(lambda n: True)
    with pytest.raises(ValueError, match=r"input 0 has shape \(2, 3, 7, 6\), but the model was converted for "
                                         r"shape \(any batch, 3, 6, 6\)"):
        module(torch.randn(2, 3, 7, 6), y)


def test_converted_modules_copy_and_pickle():
    model, module, (x, y) = converted(lambda n: True)
    for twin in (copy.deepcopy(module), pickle.loads(pickle.dumps(module))):
        with torch.inference_mode():
            torch.testing.assert_close(twin(x, y)["sum"], model(x, y)["sum"], rtol=1e-5, atol=1e-5)


def test_engine_segment_runs_its_graph():
    g = ir.Graph([ir.TensorSpec("x", (1, 4))], ["y", "z"],
                 [ir.Node("mul", ["x", "k"], ["y"]), ir.Node("add", ["y", "x"], ["z"])],
                 {"k": np.full(4, 3.0, np.float32)}, True)
    segment = EngineSegment(g)
    x = torch.randn(5, 4)
    y, z = segment(x)
    torch.testing.assert_close(y, x * 3)
    torch.testing.assert_close(z, x * 4)
    assert "2 nodes: mul x1, add x1" in repr(segment)
