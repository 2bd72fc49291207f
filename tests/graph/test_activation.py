"""The activation operator against torch on tensors of every rank, with NaN and infinities; the
activation attributes every compute operator parses the same way."""

import math

import numpy as np
import pytest
from operator_cases import ACTIVATIONS, run, torch_activation

import pyprune

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("attrs", ACTIVATIONS, ids=lambda a: "-".join(str(v) for v in a.values()) or "default")
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 3, 4, 5), (1, 2, 1, 3, 1, 4), (40, 1031)], ids=str)
def test_matches_torch(attrs, shape, rng):
    x = np.asarray(rng.standard_normal(shape) * 5, np.float32)
    got = run("activation", attrs, [x])[0]
    assert got.shape == x.shape and got.dtype == np.float32
    want = torch_activation(torch.from_numpy(x).double(), attrs).numpy()
    rtol = 5e-7
    if attrs.get("activation") == "gelu_tanh":  # float32 rounds the tanh argument u (f32-vunary.inc)
        xs = x.astype(np.float64)
        rtol += 3 * 2.0**-24 * np.abs(2 * 0.7978845608028654 * (xs + 0.044715 * xs**3))
    assert np.all(np.abs(got - want) <= rtol * np.abs(want) + 1e-30)


@pytest.mark.parametrize("attrs", ACTIVATIONS[1:], ids=lambda a: "-".join(str(v) for v in a.values()))
def test_nan_and_infinities(attrs):
    x = np.float32([np.nan, np.inf, -np.inf, 0.0, -0.0])
    got = run("activation", attrs, [x])[0]
    assert np.isnan(got[0])
    want = torch_activation(torch.from_numpy(x[1:]).double(), attrs).numpy()
    # torch's -inf * 0 = NaN where the limit is 0 (silu, gelu, gelu_tanh, hardswish at -inf)
    want = np.where(np.isnan(want), 0.0, want)
    np.testing.assert_array_equal(got[1:], want)


def test_large_tensors_are_threaded_alike(rng):
    x = rng.standard_normal(300_007).astype(np.float32)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 3):
            pyprune.set_num_threads(threads)
            results.append(run("activation", {"activation": "gelu"}, [x])[0])
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("attrs,match", [
    ({"activation": "swish"}, "attribute 'activation' must be one of none, relu, relu6"),
    ({"activation": 3}, "attribute 'activation' must be a string"),
    ({"activation": "relu", "activation_max": 6.0}, "apply only to activation 'clamp', not 'relu'"),
    ({"activation_min": 0.0}, "apply only to activation 'clamp', not 'none'"),
    ({"activation": "silu", "activation_alpha": 0.1}, "applies only to activation 'leaky_relu' and 'elu', not 'silu'"),
    ({"activation": "clamp", "activation_min": 1, "activation_max": 0}, "must not exceed 'activation_max'"),
    ({"activation": "clamp", "activation_min": math.nan}, "attribute 'activation_min' must be in"),
    ({"activation": "leaky_relu", "activation_alpha": math.inf}, "attribute 'activation_alpha' must be in"),
    ({"activation": "clamp", "activation_min": "low"}, "attribute 'activation_min' must be a number"),
    ({"kind": "relu"}, "unknown attribute 'kind'"),
])
def test_bad_attributes_are_refused_naming_the_node(attrs, match):
    for op, inputs, constants in [("activation", [np.zeros(3, np.float32)], {}),
                                  ("linear", [np.zeros((1, 2), np.float32), None], {1: np.ones((2, 2), np.float32)})]:
        with pytest.raises(ValueError, match=match) as refused:
            run(op, attrs, inputs, constants)
        assert str(refused.value).startswith(f"{op}: ")


def test_integer_bounds_and_slopes_are_accepted():
    x = np.float32([-3, -1, 0.5, 4])
    np.testing.assert_array_equal(run("activation", {"activation": "clamp", "activation_min": -1, "activation_max": 2},
                                      [x])[0], np.float32([-1, -1, 0.5, 2]))
    np.testing.assert_array_equal(run("activation", {"activation": "leaky_relu", "activation_alpha": 2}, [x])[0],
                                  np.float32([-6, -2, 0.5, 4]))


def test_one_input_only():
    with pytest.raises(ValueError, match="activation takes 1 input, got 2"):
        run("activation", {}, [np.zeros(2, np.float32), np.zeros(2, np.float32)])
