"""Arguments chosen to break the drivers: strides and sizes whose products overflow, integers
beyond 64 bits, sizes declared far beyond the data. Each must give the right result or a
ValueError/TypeError naming the argument, never a crash, a hang or a huge allocation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from isolated import run_python
from pyprune import kernels


@pytest.mark.parametrize("stride", [2**31, 2**32, 2**40 + 3, 2**62, 2**63 - 1])
@pytest.mark.parametrize("cin", [4, 8])
@pytest.mark.parametrize("k,padding", [(1, 0), (3, 1)])
def test_huge_strides_give_the_one_output_pixel(stride, cin, k, padding, rng):
    x = rng.standard_normal((2, cin, 12, 12), dtype=np.float32)
    w = rng.standard_normal((5, cin, k, k), dtype=np.float32)
    w[rng.random(w.shape) < 0.5] = 0
    want = reference.conv2d(x, w, padding=padding)  # stride 1, then the first pixel
    for y in (kernels.sparse_conv2d(x, w, stride=stride, padding=padding),
              kernels.conv2d(x, w, stride=stride, padding=padding)):
        assert y.shape == (2, 5, 1, 1)
        np.testing.assert_allclose(y[:, :, 0, 0], want[:, :, 0, 0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride", [5, 11, 13])
def test_strides_beyond_the_kernel(stride, rng):
    x = rng.standard_normal((1, 3, 29, 31), dtype=np.float32)
    w = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    want = reference.conv2d(x, w, stride=stride, padding=1)
    np.testing.assert_allclose(kernels.sparse_conv2d(x, w, stride=stride, padding=1), want, rtol=1e-5, atol=1e-5)


def test_a_stride_far_past_the_input_allocates_nothing_large():
    result = run_python("""
        import resource
        import numpy as np
        from pyprune import kernels
        x = np.ones((1, 8, 12, 12), np.float32)
        w = np.ones((8, 8, 3, 3), np.float32)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for stride in (8000, 100003, 2**31):
            assert kernels.sparse_conv2d(x, w, stride=stride, padding=1).shape == (1, 8, 1, 1)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 64, f"grew by {result.stdout.strip()} MB"


BIG = {"2**64": 2**64, "2**100": 2**100, "-2**64": -(2**64), "2**20000": 2**20000}


@pytest.mark.parametrize("value", BIG.values(), ids=BIG.keys())
@pytest.mark.parametrize("argument", ["stride", "padding"])
def test_integers_beyond_64_bits_are_refused_by_name(argument, value):
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((2, 1, 3, 3), np.float32)
    calls = [
        lambda: kernels.conv2d(x, w[:, :1].repeat(2, 1), **{argument: value}),
        lambda: kernels.sparse_conv2d(x, w[:, :1].repeat(2, 1), **{argument: value}),
        lambda: kernels.depthwise_conv2d(x, w, **{argument: value}),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=f"^{argument} "):
            call()


@pytest.mark.parametrize("value", BIG.values(), ids=BIG.keys())
@pytest.mark.parametrize("argument", ["padding", "tile"])
def test_winograd_integers_beyond_64_bits_are_refused_by_name(argument, value):
    w = np.ones((2, 2, 3, 3), np.float32)
    calls = [lambda: kernels.PackedWinogradConv2d(w, **{argument: value})]
    if argument == "padding":
        calls += [lambda: kernels.PackedWinogradConv2d(w, padding=(1, value)),
                  lambda: kernels.PackedWinogradConv2d(w, padding=(0, 1, value, 1)),
                  lambda: kernels.capabilities().winograd_rejects(3, padding=value)]
    for call in calls:
        with pytest.raises(ValueError, match=f"^{argument} "):
            call()
    for name in ("kernel_size", "stride", "dilation", "groups"):
        args = {"kernel_size": 3, name: value}
        with pytest.raises(ValueError, match=f"^{name} "):
            kernels.capabilities().winograd_rejects(**args)


@settings(max_examples=60, deadline=None)
@given(argument=st.sampled_from(["padding", "tile"]),
       value=st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
                       st.lists(st.integers(-(2**70), 2**70), max_size=5), st.tuples(st.floats(), st.integers())))
def test_any_winograd_argument_is_an_answer_or_a_named_error(argument, value):
    x, w = np.ones((1, 4, 6, 6), np.float32), np.ones((3, 4, 3, 3), np.float32)
    try:
        kernels.PackedWinogradConv2d(w, **{argument: value})(x)
    except (TypeError, ValueError) as e:
        assert argument in str(e) or "x of size" in str(e), str(e)


@settings(max_examples=60, deadline=None)
@given(argument=st.sampled_from(["kernel_size", "stride", "dilation", "groups", "padding"]),
       value=st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
                       st.lists(st.integers(-(2**70), 2**70), max_size=5), st.none()))
def test_winograd_rejects_answers_or_names_the_argument(argument, value):
    try:
        reason = kernels.capabilities().winograd_rejects(**{"kernel_size": 3, argument: value})
    except (TypeError, ValueError) as e:
        assert str(e).startswith(argument), str(e)
    else:
        assert reason is None or reason.startswith(argument), reason


@settings(max_examples=60, deadline=None)
@given(argument=st.sampled_from(["stride", "padding", "groups", "block"]),
       value=st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3)))
def test_any_argument_value_is_an_answer_or_a_named_error(argument, value):
    x, w = np.ones((1, 4, 6, 6), np.float32), np.ones((4, 4, 3, 3), np.float32)
    call = {"groups": lambda: kernels.conv2d(x, w[:, :1], groups=value, padding=1),
            "block": lambda: kernels.sparse_conv2d(x, w, block=value)}.get(
        argument, lambda: kernels.sparse_conv2d(x, w, **{argument: value}))
    try:
        call()
    except (TypeError, ValueError) as e:
        assert argument in str(e) or "x of size" in str(e), str(e)


def test_sparse_arrays_declaring_a_huge_matrix_are_refused_before_allocating():
    values, deltas, counts = np.zeros(1, np.float32), np.zeros(0, np.int32), np.zeros(1, np.uint32)
    with pytest.raises(ValueError, match="a layer may have"):
        kernels.PackedSparseConv2d.from_arrays(1, 2**29, 1, 1, 0, 1, values, deltas, counts)
    with pytest.raises(ValueError, match="a layer may have"):
        kernels.PackedSparseConv2d.from_arrays(3, 2**26, 3, 1, 0, 1, values, deltas, np.zeros(3, np.uint32))


def test_a_winograd_weight_whose_transform_is_too_large_is_refused_before_allocating():
    # np.zeros maps the 600 MB weight lazily: only what the operator touches becomes resident.
    result = run_python("""
        import resource
        import numpy as np
        from pyprune import kernels
        w = np.zeros((4096, 4096, 3, 3), np.float32)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for tile in kernels.capabilities().winograd.tiles:
            try:
                kernels.PackedWinogradConv2d(w, tile=tile)
            except ValueError as e:
                assert "a layer may have" in str(e), str(e)
            else:
                raise AssertionError("accepted")
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 64, f"grew by {result.stdout.strip()} MB"


@pytest.mark.parametrize("symbols", [2**33, 2**40, 10**15])
def test_huffman_symbol_counts_beyond_the_stream_are_refused_before_allocating(symbols):
    stream, lengths = np.zeros(6, np.uint8), np.ones(2, np.uint8)
    with pytest.raises(ValueError, match="ends before its last symbol"):
        kernels.huffman_decode(stream, symbols, lengths)
    with pytest.raises(ValueError, match="ends before its last symbol"):
        kernels.SharedWeights(stream, symbols, lengths, np.ones(2, np.float32), symbols)


def test_separable_errors_name_the_pointwise_arguments():
    dw = np.ones((4, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match="pw_weight must have shape"):
        kernels.PackedSeparableConv2d(dw, np.ones((8, 5, 1, 1), np.float32))
    with pytest.raises(ValueError, match="pw_bias must have shape"):
        kernels.PackedSeparableConv2d(dw, np.ones((8, 4, 1, 1), np.float32), pw_bias=np.ones(7, np.float32))
    with pytest.raises(TypeError, match="pw_weight must have dtype float32"):
        kernels.PackedSeparableConv2d(dw, np.ones((8, 4, 1, 1), np.float64))
    with pytest.raises(ValueError, match="dw_bias must have shape"):
        kernels.PackedSeparableConv2d(dw, np.ones((8, 4, 1, 1), np.float32), dw_bias=np.ones(3, np.float32))


def test_sparse_kernels_multiply_only_stored_weights():
    """The sparse kernels' definition: a zero weight is not stored, so inf or NaN reaching an
    output only through zero weights leaves it finite, where torch computes 0 x inf = NaN. A
    stored weight propagates NaN as the dense kernels do."""
    x = np.ones((1, 2, 4, 4), np.float32)
    x[0, 1, 2, 2] = np.nan
    x[0, 1, 1, 1] = np.inf
    w = np.zeros((2, 2, 1, 1), np.float32)
    w[0, 0] = 1.0  # output 0 reads channel 0 only
    w[1, 1] = 1.0  # output 1 reads channel 1, which holds NaN and inf
    sparse = kernels.sparse_conv2d(x, w)
    assert np.isfinite(sparse[0, 0]).all()
    assert np.isnan(sparse[0, 1, 2, 2]) and np.isposinf(sparse[0, 1, 1, 1])
    dense = kernels.conv2d(x, w)
    assert np.isnan(dense[0, 0, 2, 2]) and np.isnan(dense[0, 0, 1, 1])  # 0 x NaN, 0 x inf
