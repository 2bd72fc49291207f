"""Running one operator of the operator set alone (kernels.testing.run_operator) and the torch
side of the comparisons: the helpers of tests/graph/."""

import numpy as np
import pytest

from pyprune import kernels

# Fused activations by attribute value, as torch computes them.
ACTIVATIONS = {
    "none": {},
    "relu": {},
    "relu6": {},
    "clamp": {"activation_min": -0.5, "activation_max": 0.75},
    "leaky_relu": {"activation_alpha": 0.2},
    "hardswish": {},
    "hardsigmoid": {},
    "silu": {},
    "sigmoid": {},
    "tanh": {},
    "gelu": {},
    "gelu_tanh": {},
    "mish": {},
    "elu": {"activation_alpha": 0.7},
}


def run(op, attrs, *inputs, constants=None, out=None):
    """The operator's outputs (a list of arrays) for these inputs (None where `constants` gives
    the input at that position), written into `out` when given."""
    return kernels.testing.run_operator(op, attrs, list(inputs), constants or {}, out)


def run1(op, attrs, *inputs, constants=None):
    (y,) = run(op, attrs, *inputs, constants=constants)
    return y


def refused(op, attrs, *inputs, says, constants=None):
    """Asserts the operator refuses these attributes or inputs with a ValueError that names the
    node (run_operator names it after the op) and contains every word of `says`."""
    with pytest.raises(ValueError) as error:
        run(op, attrs, *inputs, constants=constants)
    message = str(error.value)
    assert message.startswith(f"{op}: "), message
    for word in (says,) if isinstance(says, str) else says:
        assert word in message, message
    return message


def activation_attrs(name):
    return {"activation": name, **ACTIVATIONS[name]}


def torch_activation(name, y):
    """`y` (a torch tensor) through the fused activation `name` with ACTIVATIONS' parameters."""
    import torch
    import torch.nn.functional as F

    params = ACTIVATIONS[name]
    return {
        "none": lambda t: t,
        "relu": F.relu,
        "relu6": F.relu6,
        "clamp": lambda t: torch.clamp(t, params.get("activation_min"), params.get("activation_max")),
        "leaky_relu": lambda t: F.leaky_relu(t, params.get("activation_alpha", 0.01)),
        "hardswish": F.hardswish,
        "hardsigmoid": F.hardsigmoid,
        "silu": F.silu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "gelu": F.gelu,
        "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
        "mish": F.mish,
        "elu": lambda t: F.elu(t, params.get("activation_alpha", 1.0)),
    }[name](y)


def assert_close(got, want, rtol=1e-5, atol=1e-6, **kwargs):
    """Shapes equal and values close (NaN where NaN): `want` may be a torch tensor."""
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, **kwargs)


def assert_equal(got, want):
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


def random(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)
