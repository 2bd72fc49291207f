"""The operator set's torch specification (reference.py): the attributes mean what the design
says they mean."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from pyprune.capture import reference  # noqa: E402
from pyprune.capture.reference import OPS  # noqa: E402
from pyprune.graph import ir  # noqa: E402


@pytest.fixture
def x():
    return torch.randn(2, 4, 7, 6, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kind,module", [("relu", torch.nn.ReLU()), ("relu6", torch.nn.ReLU6()),
                                         ("hardswish", torch.nn.Hardswish()), ("hardsigmoid", torch.nn.Hardsigmoid()),
                                         ("silu", torch.nn.SiLU()), ("sigmoid", torch.nn.Sigmoid()),
                                         ("tanh", torch.nn.Tanh()), ("gelu", torch.nn.GELU()),
                                         ("gelu_tanh", torch.nn.GELU("tanh")), ("mish", torch.nn.Mish()),
                                         ("elu", torch.nn.ELU())])
def test_activations(x, kind, module):
    torch.testing.assert_close(OPS["activation"]({"activation": kind}, x), module(x))


def test_parametrised_activations(x):
    clamp = {"activation": "clamp", "activation_min": -0.5, "activation_max": 0.5}
    torch.testing.assert_close(OPS["activation"](clamp, x), F.hardtanh(x, -0.5, 0.5))
    leaky = {"activation": "leaky_relu", "activation_alpha": 0.2}
    torch.testing.assert_close(OPS["activation"](leaky, x), F.leaky_relu(x, 0.2))
    torch.testing.assert_close(OPS["add"]({"activation": "relu"}, x, -x.flip(0)), torch.relu(x - x.flip(0)))


def test_conv2d_padding_is_top_left_bottom_right_and_fuses_bias_residual_activation(x):
    w, b = torch.randn(5, 4, 3, 2), torch.randn(5)
    attrs = {"stride": [2, 1], "padding": [0, 1, 2, 3], "dilation": [1, 2], "groups": 1, "activation": "relu"}
    residual = torch.randn(2, 5, 4, 8)
    want = torch.relu(F.conv2d(F.pad(x, [1, 3, 0, 2]), w, b, (2, 1), 0, (1, 2)) + residual)
    torch.testing.assert_close(OPS["conv2d"](attrs, x, w, b, residual), want)


def test_separable_conv2d_is_depthwise_then_pointwise(x):
    dw, db, pw, pb = torch.randn(4, 1, 3, 3), torch.randn(4), torch.randn(6, 4, 1, 1), torch.randn(6)
    attrs = {"stride": [2, 2], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 4, "algorithm": "separable",
             "depthwise_activation": "relu6", "activation": "clamp", "activation_min": -1.0, "activation_max": 1.0}
    want = F.hardtanh(F.conv2d(F.relu6(F.conv2d(x, dw, db, 2, 1, groups=4)), pw, pb), -1.0, 1.0)
    torch.testing.assert_close(OPS["conv2d"](attrs, x, dw, db, pw, pb), want)


def test_shape_ops(x):
    assert OPS["reshape"]({"shape": [-2, -1, -4]}, x).shape == (2, 24, 7)  # dims 0 and 2 of the input
    assert OPS["expand"]({"shape": [3, -1, -1, 7, -1]}, x[:, :, :1]).shape == (3, 2, 4, 7, 6)
    torch.testing.assert_close(OPS["slice"]({"axis": 2, "start": 1, "end": 2**63 - 1, "step": 3}, x), x[:, :, 1::3])
    parts = OPS["split"]({"axis": 1, "sizes": [1, 3]}, x)
    assert [p.shape[1] for p in parts] == [1, 3]
    assert OPS["permute"]({"dims": [0, 2, 3, 1]}, x).is_contiguous()


def test_pads_are_begin_end_per_dim_in_dim_order(x):
    pads = [0, 0, 0, 1, 2, 3, 4, 5]
    torch.testing.assert_close(OPS["pad"]({"pads": pads, "mode": "constant", "value": 1.5}, x),
                               F.pad(x, [4, 5, 2, 3, 0, 1], value=1.5))
    torch.testing.assert_close(OPS["pad"]({"pads": [0, 0, 0, 0, 2, 1, 0, 3], "mode": "reflect"}, x),
                               F.pad(x, [0, 3, 2, 1], mode="reflect"))


def test_norms(x):
    w, b = torch.randn(4), torch.randn(4)
    want = F.layer_norm(x.permute(0, 2, 3, 1), (4,), w, b, 1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(OPS["channel_norm"]({"eps": 1e-6}, x, w, b), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(OPS["layer_norm"]({"axes": 2, "eps": 1e-5}, x), F.layer_norm(x, (7, 6)))
    torch.testing.assert_close(OPS["batch_norm"]({}, x, w, b), x * w[:, None, None] + b[:, None, None])


def test_pools_and_resizes(x):
    attrs = {"kernel": [3, 2], "stride": [2, 1], "padding": [1, 0, 1, 0], "ceil_mode": 1, "count_include_pad": 0,
             "divisor": 0}
    torch.testing.assert_close(OPS["avg_pool2d"](attrs, x),
                               F.avg_pool2d(x, (3, 2), (2, 1), (1, 0), True, False))
    torch.testing.assert_close(OPS["upsample"]({"mode": "nearest", "scale": [2.0, 1.5]}, x),
                               F.interpolate(x, scale_factor=(2.0, 1.5), mode="nearest"))
    with pytest.raises(ValueError, match="symmetric"):
        OPS["max_pool2d"]({"kernel": [2, 2], "padding": [1, 0, 0, 0]}, x)


def test_graphs_run_with_constants_and_torch_calls():
    g = ir.Graph([ir.TensorSpec("x", (2, 3))], ["z"],
                 [ir.Node("mul", ["x", "k"], ["y"]), ir.Node("aten.flip.default", ["y"], ["z"])],
                 {"k": np.float32(2.0) * np.ones(3, np.float32)})
    x = torch.randn(2, 3)
    (z,) = reference.run(g, [x], {"z": lambda inputs: inputs[0].flip(0)})
    torch.testing.assert_close(z, (x * 2).flip(0))
    with pytest.raises(ValueError, match="not in the operator set"):
        reference.run(g, [x])
    with pytest.raises(ValueError, match="takes 1 inputs, got 2"):
        reference.run(g, [x, x])


def test_take_puts_the_index_shape_in_place_of_the_axis(x):
    table, ids = torch.randn(9, 5), torch.tensor([[3.0, 0.0, 8.0], [3.0, 3.0, 1.0]])
    torch.testing.assert_close(OPS["take"]({"axis": 0}, table, ids), F.embedding(ids.long(), table))
    assert OPS["take"]({"axis": 2}, x, ids.clamp(max=6)).shape == (2, 4, 2, 3, 6)
    torch.testing.assert_close(OPS["take"]({"axis": 1}, x, torch.tensor(2.0)), x[:, 2])
