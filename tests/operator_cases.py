"""What the tests of the compute operators (conv2d, linear, activation, batch_norm) share: running
one operator through the operator set, the activation attributes, and torch's float64 results."""

import math

import numpy as np

from pyprune import kernels

# Every activation the attributes name, with its parameters.
ACTIVATIONS = [
    {},
    {"activation": "none"},
    {"activation": "relu"},
    {"activation": "relu6"},
    {"activation": "clamp", "activation_min": -0.5, "activation_max": 0.75},
    {"activation": "clamp", "activation_min": 0.25},
    {"activation": "leaky_relu", "activation_alpha": 0.2},
    {"activation": "leaky_relu"},
    {"activation": "hardswish"},
    {"activation": "hardsigmoid"},
    {"activation": "silu"},
    {"activation": "sigmoid"},
    {"activation": "tanh"},
    {"activation": "gelu"},
    {"activation": "gelu_tanh"},
    {"activation": "mish"},
    {"activation": "elu", "activation_alpha": 0.7},
    {"activation": "elu"},
]


def run(op, attrs, inputs, constants=None):
    """The operator's outputs; `inputs` holds None where `constants` gives the input."""
    return kernels.testing.run_operator(op, attrs, inputs, constants or {})


def torch_activation(y, attrs):
    """The activation of `attrs` on a float64 torch tensor."""
    import torch
    import torch.nn.functional as F

    name = attrs.get("activation", "none")
    if name == "none":
        return y
    if name in ("relu", "relu6", "clamp"):
        lo = 0.0 if name != "clamp" else attrs.get("activation_min", -math.inf)
        hi = {"relu": math.inf, "relu6": 6.0}.get(name, attrs.get("activation_max", math.inf))
        return y.clamp(lo, hi)
    if name == "leaky_relu":
        return F.leaky_relu(y, float(np.float32(attrs.get("activation_alpha", 0.01))))
    if name == "elu":
        return F.elu(y, float(np.float32(attrs.get("activation_alpha", 1.0))))
    # torch's GELUs compute 1 + erf and 1 + tanh, which cancel for x << 0 even in float64
    if name == "gelu":
        return 0.5 * y * torch.special.erfc(-y / math.sqrt(2))
    if name == "gelu_tanh":
        return y * torch.sigmoid(2 * math.sqrt(2 / math.pi) * (y + 0.044715 * y**3))
    return {"hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "silu": F.silu, "sigmoid": torch.sigmoid,
            "tanh": torch.tanh, "mish": F.mish}[name](y)


def assert_close(got, want, depth):
    """Float32 accumulation over `depth` products, then an activation within a few ulp."""
    tol = 2e-5 * math.sqrt(depth)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
