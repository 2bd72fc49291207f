"""Canonical Huffman decoding: every C++ decoder (one row of u8-huffdec.inc each) against a
pure-Python decoder, round trips over many symbol distributions and stream layouts, code
construction, the weight-shared layer decoders, and hostile input (which must raise, never
crash or run out of bounds: this file runs under AddressSanitizer in CI)."""

import heapq

import numpy as np
import pytest
from conftest import SMALL_SWEEP
from hypothesis import given, settings
from hypothesis import strategies as st

import huffman_reference
from pyprune import _core, kernels
from pyprune.compress import huffman
from pyprune.compress.huffman import HuffmanCode, code_lengths, encode
from pyprune.compress.sharing import share_weights
from pyprune.compress.sparse import encode_gaps

UKERNELS = _core.testing.huffdec_ukernels()
NAMES = [u["name"] for u in UKERNELS]
AVAILABLE = kernels.available_isas()


@pytest.fixture(params=UKERNELS, ids=NAMES)
def ukernel(request):
    if request.param["isa"] not in AVAILABLE:
        pytest.skip(f"{request.param['isa']} not available on this CPU")
    return request.param["name"]


def distributions(rng, n):
    """(name, symbols) pairs: the shapes real streams take, and the corner cases."""
    geometric = np.exp(-np.arange(32) / 3.0)
    fib = np.array([1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584], float)
    yield "5-bit indices", rng.choice(32, n, p=geometric / geometric.sum()).astype(np.uint8)
    yield "uniform 256", rng.integers(0, 256, n, dtype=np.uint8)
    yield "one symbol", np.full(n, 7, np.uint8)
    yield "two symbols", rng.choice([3, 200], n, p=[0.9, 0.1]).astype(np.uint8)
    # Fibonacci frequencies make the unlimited Huffman code deeper than 11 bits.
    yield "max length", rng.choice(len(fib), n, p=fib / fib.sum()).astype(np.uint8)
    yield "gaps", np.minimum(rng.geometric(0.3, n) - 1, 255).astype(np.uint8)


SIZES = (0, 1, 2, 3, 5, 31, 255, 1024, 1027, 4099) if SMALL_SWEEP else (0, 1, 2, 3, 4, 5, 7, 31, 64, 255, 256, 1023, 1024, 1025, 1027, 4099, 20011)


@pytest.mark.parametrize("n", SIZES)
def test_round_trip_every_distribution_and_stream_count(ukernel, n, rng):
    for name, symbols in distributions(rng, n):
        code = HuffmanCode.for_symbols(symbols)
        for streams in (1, 2, 3, 4):
            block = encode(symbols, code, streams)
            got = huffman.decode(block, n, code, ukernel)
            np.testing.assert_array_equal(got, symbols, err_msg=f"{name}, {streams} streams")


@pytest.mark.parametrize("n", (0, 1, 5, 300, 1031))
def test_python_decoder_agrees(n, rng):
    for name, symbols in distributions(rng, n):
        code = HuffmanCode.for_symbols(symbols)
        for streams in (1, 4):
            block = encode(symbols, code, streams)
            np.testing.assert_array_equal(huffman_reference.decode(block, n, code.lengths), symbols, err_msg=name)
            np.testing.assert_array_equal(huffman.decode(block, n, code, NAMES[-1]), symbols, err_msg=name)


def test_huge_stream(ukernel, rng):
    n = 300_000 if SMALL_SWEEP else 3_000_000
    p = np.exp(-np.arange(32) / 3.0)
    symbols = rng.choice(32, n, p=p / p.sum()).astype(np.uint8)
    code = HuffmanCode.for_symbols(symbols)
    np.testing.assert_array_equal(huffman.decode(encode(symbols, code), n, code, ukernel), symbols)


def test_codes_at_maximum_length_and_every_tail(ukernel):
    # 12 symbols with lengths 1..11, 11: a complete code reaching the 11-bit limit.
    lengths = np.array(list(range(1, 12)) + [11], np.uint8)
    code = HuffmanCode(lengths)
    for n in range(0, 70):
        for first in (0, 10, 11):
            symbols = (np.arange(n) * 5 + first) % 12
            symbols = symbols.astype(np.uint8)
            for streams in (1, 4):
                got = huffman.decode(encode(symbols, code, streams), n, code, ukernel)
                np.testing.assert_array_equal(got, symbols)


@settings(max_examples=40 if SMALL_SWEEP else 150, deadline=None)
@given(symbols=st.lists(st.integers(0, 255), max_size=600), skew=st.integers(0, 3), streams=st.integers(1, 4))
def test_round_trip_property(symbols, skew, streams):
    data = (np.array(symbols, np.int64) >> skew).astype(np.uint8)  # fewer distinct symbols
    code = HuffmanCode.for_symbols(data)
    block = encode(data, code, streams)
    for u in UKERNELS:
        if u["isa"] in AVAILABLE:
            np.testing.assert_array_equal(huffman.decode(block, len(data), code, u["name"]), data)


def _huffman_cost(freq):
    """Bits of an unlimited Huffman code (heap merge)."""
    heap = [f for f in freq if f > 0]
    if len(heap) < 2:
        return sum(heap)
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        cost += a + b
        heapq.heappush(heap, a + b)
    return cost


@settings(max_examples=60, deadline=None)
@given(freq=st.lists(st.integers(0, 10**6), min_size=1, max_size=256), max_bits=st.integers(8, 11))
def test_code_lengths_are_limited_complete_and_optimal(freq, max_bits):
    lengths = code_lengths(np.array(freq), max_bits).astype(int)
    used = np.array(freq) > 0
    assert (lengths[~used] == 0).all() and (lengths[used] >= 1).all() and lengths.max(initial=0) <= max_bits
    kraft = sum(2.0 ** -l for l in lengths if l)
    assert kraft <= 1
    if used.sum() >= 2:
        assert kraft == 1  # complete: no bit pattern is wasted
        cost = int(np.dot(freq, lengths))
        assert cost >= _huffman_cost(freq)
        if lengths.max() < max_bits:  # the limit did not bind: as good as Huffman
            assert cost == _huffman_cost(freq)


# ---- hostile input ---------------------------------------------------------------------------

GOOD = np.random.default_rng(5).choice(32, 5000, p=np.exp(-np.arange(32) / 3) / np.exp(-np.arange(32) / 3).sum()).astype(np.uint8)
GOOD_CODE = HuffmanCode.for_symbols(GOOD)
GOOD_BLOCK = encode(GOOD, GOOD_CODE)


def _outcome(block, n, lengths, name):
    try:
        return huffman.decode(block, n, HuffmanCode(np.asarray(lengths, np.uint8)), name).tobytes()
    except ValueError as e:
        assert str(e).startswith("data: "), e
        return "error"


@settings(max_examples=50 if SMALL_SWEEP else 200, deadline=None)
@given(data=st.binary(max_size=300), n=st.integers(0, 3000), lengths=st.lists(st.integers(0, 12), max_size=40))
def test_random_bytes_never_crash_and_every_decoder_agrees(data, n, lengths):
    outcomes = {_outcome(data, n, lengths, u["name"]) for u in UKERNELS if u["isa"] in AVAILABLE}
    assert len(outcomes) == 1


@settings(max_examples=50 if SMALL_SWEEP else 200, deadline=None)
@given(position=st.integers(0, len(GOOD_BLOCK) - 1), value=st.integers(0, 255), cut=st.integers(0, 40),
       extra=st.integers(-3, 3))
def test_corrupted_block_never_crashes_and_every_decoder_agrees(position, value, cut, extra):
    block = bytearray(GOOD_BLOCK)
    block[position] = value
    block = bytes(block[: len(block) - cut])
    outcomes = {_outcome(block, len(GOOD) + extra, GOOD_CODE.lengths, u["name"]) for u in UKERNELS if u["isa"] in AVAILABLE}
    assert len(outcomes) == 1


@pytest.mark.parametrize(
    "block,n,match",
    [
        (b"", 0, "stream header"),
        (b"\x05" + bytes(20), 0, "stream header"),
        (b"\x00", 0, "stream header"),
        (b"\x02\x01\x00\x00\x00", 1, "stream header"),
        (GOOD_BLOCK[:-1], len(GOOD), "stream header"),  # the sizes promise more than is there
        (GOOD_BLOCK + b"\x00", len(GOOD), "stream header"),
        (GOOD_BLOCK[:1] + (1 << 31).to_bytes(4, "little") + GOOD_BLOCK[5:], len(GOOD), "stream header"),
        (GOOD_BLOCK, len(GOOD) + 100, "ends before its last symbol"),
        (GOOD_BLOCK, len(GOOD) - 100, "bytes left after"),
    ],
)
def test_bad_blocks_raise(ukernel, block, n, match):
    with pytest.raises(ValueError, match=match):
        huffman.decode(block, n, GOOD_CODE, ukernel)


def test_moved_stream_offsets_raise(ukernel):
    sizes = np.frombuffer(GOOD_BLOCK[1:17], "<u4").copy()
    sizes[0] += 3
    sizes[1] -= 3  # same total, so only decoding can tell
    block = GOOD_BLOCK[:1] + sizes.astype("<u4").tobytes() + GOOD_BLOCK[17:]
    with pytest.raises(ValueError, match="data: "):
        huffman.decode(block, len(GOOD), GOOD_CODE, ukernel)


def test_invalid_code_pattern_raises(ukernel):
    code = HuffmanCode(np.array([1], np.uint8))  # one symbol: "0"; "1" is no code
    with pytest.raises(ValueError, match="no code"):
        huffman.decode(b"\x01\x10\x00\x00\x00" + b"\xff" * 16, 100, code, ukernel)


@pytest.mark.parametrize(
    "lengths,match",
    [([1, 1, 1], "not a valid Huffman code"), ([12, 1], "not a valid Huffman code"), ([1] * 257, "at most 256")],
)
def test_bad_code_lengths_raise(lengths, match):
    with pytest.raises(ValueError, match=match):
        _core.huffman_decode(np.zeros(5, np.uint8), 0, np.array(lengths, np.uint8))


def test_unknown_ukernel_and_negative_count():
    with pytest.raises(ValueError, match="unknown ukernel"):
        _core.huffman_decode(np.zeros(5, np.uint8), 0, np.ones(2, np.uint8), "nope")
    with pytest.raises(ValueError, match="symbols must not be negative"):
        _core.huffman_decode(np.zeros(5, np.uint8), -1, np.ones(2, np.uint8))


# ---- weight-shared layers -----------------------------------------------------------------------


def _layer(weight, bits, index_bits, sparse):
    shared = share_weights(weight, bits)
    idx = shared.indices.ravel()
    if sparse:
        nonzero = idx != 0 if shared.has_zero else np.ones(idx.size, bool)
        gaps = encode_gaps(nonzero, index_bits).gaps
        values = idx[nonzero]
    else:
        gaps, values = None, idx
    vcode = HuffmanCode.for_symbols(values)
    args = dict(values=np.frombuffer(encode(values, vcode), np.uint8), value_symbols=values.size,
                value_lengths=vcode.lengths, codebook=shared.codebook, size=idx.size)
    if sparse:
        gcode = HuffmanCode.for_symbols(gaps)
        args.update(gaps=np.frombuffer(encode(gaps, gcode), np.uint8), gap_symbols=gaps.size,
                    gap_lengths=gcode.lengths, index_bits=index_bits)
    return shared, args


@pytest.mark.parametrize("density", [1.0, 0.5, 0.1, 0.01, 0.0])
@pytest.mark.parametrize("index_bits", [1, 3, 8])
def test_shared_weights_decode_dense_and_sparse(density, index_bits, rng):
    weight = rng.standard_normal((24, 9, 3, 3)).astype(np.float32)
    weight[rng.random(weight.shape) >= density] = 0
    for sparse in (False, True):
        shared, args = _layer(weight, 5, index_bits, sparse)
        want = shared.unpack().ravel()
        np.testing.assert_array_equal(kernels.SharedWeights(**args).decode(), want)
        if sparse:
            positions, values = kernels.SharedWeights(**args).nonzeros()
            np.testing.assert_array_equal(positions, np.flatnonzero(want))
            np.testing.assert_array_equal(values, want[want != 0])


def test_shared_weights_hostile_streams(rng):
    weight = rng.standard_normal(2000).astype(np.float32)
    weight[rng.random(2000) < 0.8] = 0
    _, args = _layer(weight, 4, 4, True)
    bad = [
        (dict(size=args["size"] - 50), "gaps run past the end"),
        (dict(value_symbols=args["value_symbols"] - 1), "bytes left after|do not match|past the end"),
        (dict(codebook=args["codebook"][:3]), "outside the codebook"),
        (dict(index_bits=2), "outside the codebook or gap range"),
        (dict(gaps=args["gaps"][:-2]), "stream header"),
    ]
    for change, match in bad:
        with pytest.raises(ValueError, match=match):
            kernels.SharedWeights(**{**args, **change}).decode()
    with pytest.raises(ValueError, match="out must have shape"):
        kernels.SharedWeights(**args).decode(out=np.zeros(5, np.float32))
    _, dense_args = _layer(weight, 4, 4, False)
    with pytest.raises(ValueError, match="gaps must be given"):
        kernels.SharedWeights(**dense_args).nonzeros()
