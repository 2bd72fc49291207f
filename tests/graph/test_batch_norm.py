"""The batch_norm operator (act(x * scale[c] + shift[c]) along dim 1) against torch's BatchNorm
in inference form, for ranks 2 to 5, and its fused activations; what it refuses."""

import numpy as np
import pytest
from operator_cases import run

import pyprune

torch = pytest.importorskip("torch")


def batch_norm(x, scale, shift, **attrs):
    return run("batch_norm", attrs, [x, None, None], {1: scale, 2: shift})[0]


@pytest.mark.parametrize("shape", [(1, 3), (4, 7), (2, 5, 9), (1, 16, 7, 7), (3, 6, 5, 11), (2, 3, 2, 3, 4),
                                   (2, 1, 130, 140)], ids=str)
def test_matches_torch_batch_norm_in_inference(shape, rng):
    c = shape[1]
    bn = {1: torch.nn.BatchNorm1d, 2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm2d, 4: torch.nn.BatchNorm3d}[len(shape) - 1](c)
    with torch.no_grad():
        for t in (bn.weight, bn.bias, bn.running_mean):
            t.copy_(torch.from_numpy(rng.standard_normal(c, dtype=np.float32)))
        bn.running_var.copy_(torch.from_numpy(rng.random(c, dtype=np.float32) + 0.5))
    bn.eval()
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
    shift = (bn.bias - bn.running_mean * torch.from_numpy(scale)).detach().numpy()
    x = rng.standard_normal(shape, dtype=np.float32)
    with torch.no_grad():
        want = bn(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(batch_norm(x, scale, shift), want, rtol=1e-5, atol=1e-5)


def test_exact_affine_and_special_values(rng):
    x = rng.standard_normal((2, 3, 4), dtype=np.float32)
    x[0, 1, 2] = np.nan
    x[1, 2, 0] = np.inf
    scale, shift = np.float32([2, -0.5, 0]), np.float32([1, 0, 3])
    with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as in torch
        want = x * scale[None, :, None] + shift[None, :, None]
    np.testing.assert_array_equal(batch_norm(x, scale, shift), want)


ACTIVATIONS = {"relu": torch.relu, "relu6": torch.nn.functional.relu6, "silu": torch.nn.functional.silu,
               "leaky_relu": lambda y: torch.nn.functional.leaky_relu(y, 0.2), "hardswish": torch.nn.functional.hardswish,
               "clamp": lambda y: torch.clamp(y, -0.5, 1.5)}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(2, 5), (3, 2500), (2, 37, 1, 1), (1, 3, 7, 9), (2, 4, 61, 70), (1, 2, 3, 2100)],
                         ids=str)
def test_the_fused_activation_follows_the_affine_map(name, shape, rng):
    # (N, C) features and planes of one value (rows of channels), planes shorter and longer than a
    # task's piece, ragged against every vector width
    c = shape[1]
    x = rng.standard_normal(shape, dtype=np.float32) * 3
    x.flat[::97] = np.nan
    scale, shift = rng.standard_normal(c, dtype=np.float32), rng.standard_normal(c, dtype=np.float32)
    attrs = {"activation": name}
    if name == "clamp":
        attrs.update(activation_min=-0.5, activation_max=1.5)
    if name == "leaky_relu":
        attrs["activation_alpha"] = 0.2
    view = (1, c) + (1,) * (len(shape) - 2)
    want = ACTIVATIONS[name](torch.from_numpy(x * scale.reshape(view) + shift.reshape(view))).numpy()
    got = batch_norm(x, scale, shift, **attrs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # NaN where torch has NaN
    assert np.isnan(got).sum() == np.isnan(want).sum() > 0


def test_results_do_not_depend_on_the_thread_count(rng):
    x = rng.standard_normal((3, 40, 33, 17), dtype=np.float32)
    scale, shift = rng.standard_normal(40, dtype=np.float32), rng.standard_normal(40, dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 4):
            pyprune.set_num_threads(threads)
            results.append(batch_norm(x, scale, shift, activation="gelu"))
    finally:
        pyprune.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


def test_bad_inputs_are_refused_naming_the_node(rng):
    x = rng.standard_normal((2, 3, 4), dtype=np.float32)
    c = np.ones(3, np.float32)
    cases = [
        (lambda: run("batch_norm", {}, [x, c, c]), "input 1 \\(scale\\) must be a constant"),
        (lambda: run("batch_norm", {}, [x, None, None], {1: c[None], 2: c}), "scale must have shape \\(C,\\)"),
        (lambda: run("batch_norm", {}, [x, None, None], {1: c, 2: np.ones(4, np.float32)}), "same shape"),
        (lambda: run("batch_norm", {"eps": 1e-5}, [x, None, None], {1: c, 2: c}), "unknown attribute 'eps'"),
        (lambda: run("batch_norm", {}, [x, None], {1: c}), "takes 3 inputs"),
        (lambda: batch_norm(x, c, c, activation="swish"), "activation"),
        (lambda: batch_norm(np.ones((2, 4), np.float32), c, c), "x must have 3 channels in dim 1"),
        (lambda: batch_norm(np.ones(3, np.float32), c, c), "x must have 3 channels in dim 1"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
