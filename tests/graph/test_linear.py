"""The linear operator against torch: x of rank 1 to 4, one row (the GEMV of a classifier head)
and many, ragged feature counts, with and without bias, every activation; what it refuses."""

import numpy as np
import pytest
from operator_cases import ACTIVATIONS, assert_close, run, torch_activation

import pyprune

torch = pytest.importorskip("torch")


def linear(x, w, b=None, **attrs):
    inputs, constants = [x, None], {1: w}
    if b is not None:
        inputs.append(None)
        constants[2] = b
    return run("linear", attrs, inputs, constants)[0]


def reference(x, w, b, attrs):
    y = torch.nn.functional.linear(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                   None if b is None else torch.from_numpy(b).double())
    return torch_activation(y, attrs).numpy()


@pytest.mark.parametrize("lead", [(), (1,), (3,), (2, 5), (1, 1, 4)], ids=str)
@pytest.mark.parametrize("in_features,out_features", [(1, 1), (7, 3), (64, 10), (33, 17), (1024, 1000), (5, 129)])
def test_matches_torch(lead, in_features, out_features, rng):
    if in_features * out_features > 100_000 and len(lead) > 1:
        pytest.skip("large head: one and three rows are enough")
    x = rng.standard_normal((*lead, in_features), dtype=np.float32)
    w = rng.standard_normal((out_features, in_features), dtype=np.float32)
    b = rng.standard_normal(out_features, dtype=np.float32)
    for i, attrs in enumerate(ACTIVATIONS[:: 1 if in_features < 100 else 5]):
        bias = b if i % 2 == 0 else None
        got = linear(x, w, bias, **attrs)
        assert got.shape == (*lead, out_features)
        assert_close(got, reference(x, w, bias, attrs), in_features)


def test_one_row_is_the_same_whatever_the_leading_dims(rng):
    """One row runs as a GEMV on x itself, several through transposes: same numbers per row."""
    x = rng.standard_normal((3, 256), dtype=np.float32)
    w = rng.standard_normal((100, 256), dtype=np.float32)
    rows = np.stack([linear(x[i], w, activation="silu") for i in range(3)])
    np.testing.assert_allclose(linear(x, w, activation="silu"), rows, rtol=1e-5, atol=1e-5)


def test_results_do_not_depend_on_the_thread_count(rng):
    x = rng.standard_normal((5, 300), dtype=np.float32)
    w = rng.standard_normal((257, 300), dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 5):
            pyprune.set_num_threads(threads)
            results.append((linear(x, w, activation="gelu"), linear(x[0], w, activation="gelu")))
    finally:
        pyprune.set_num_threads(before)
    for many, one in results[1:]:
        np.testing.assert_array_equal(many, results[0][0])
        np.testing.assert_array_equal(one, results[0][1])


@pytest.mark.parametrize("rows,in_features,out_features", [(203, 300, 450), (37, 2100, 70), (1000, 96, 40)])
def test_many_rows_match_torch_whatever_the_thread_count(rows, in_features, out_features, rng):
    """Rows in several chunks (the last block ragged), panels in several groups and ranges: a
    ConvNeXt block's linear layers over every pixel. Every output comes from one task."""
    x = rng.standard_normal((rows, in_features), dtype=np.float32)
    w = rng.standard_normal((out_features, in_features), dtype=np.float32)
    b = rng.standard_normal(out_features, dtype=np.float32)
    before = pyprune.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 8):
            pyprune.set_num_threads(threads)
            results.append(linear(x, w, b, activation="gelu"))
    finally:
        pyprune.set_num_threads(before)
    assert_close(results[0], reference(x, w, b, {"activation": "gelu"}), in_features)
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])


def test_empty_rows_give_an_empty_output(rng):
    w = rng.standard_normal((4, 3), dtype=np.float32)
    assert linear(np.zeros((0, 3), np.float32), w).shape == (0, 4)


def test_description_and_macs(rng):
    x = np.ones((2, 3, 8), np.float32)
    text, macs = pyprune.kernels.testing.describe_operator("linear", {"activation": "relu"}, [x, None],
                                                            {1: np.ones((5, 8), np.float32)})
    assert text.startswith("linear 8 -> 5 gemv pp_f32_gemv") and " gemm pp_f32_gemm" in text
    assert text.endswith("+ relu") and macs == 6 * 8 * 5


def test_bad_inputs_are_refused_naming_the_node(rng):
    x = rng.standard_normal((2, 8), dtype=np.float32)
    w = rng.standard_normal((5, 8), dtype=np.float32)
    cases = [
        (lambda: run("linear", {}, [x, w]), "input 1 \\(weight\\) must be a constant"),
        (lambda: run("linear", {}, [x, None], {1: w[None]}), "weight must have shape \\(out_features, in_features\\)"),
        (lambda: run("linear", {}, [x, None, None], {1: w, 2: np.zeros(4, np.float32)}), "bias must have shape \\(5,\\)"),
        (lambda: run("linear", {}, [np.ascontiguousarray(x[:, :7]), None], {1: w}), "x must have 8 features"),
        (lambda: run("linear", {"groups": 2}, [x, None], {1: w}), "unknown attribute 'groups'"),
        (lambda: run("linear", {"activation": "swish"}, [x, None], {1: w}), "attribute 'activation' must be one of"),
        (lambda: run("linear", {}, [x]), "takes 2 or 3 inputs"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match) as refused:
            call()
        assert str(refused.value).startswith("linear: ") or "x must have" in str(refused.value)
