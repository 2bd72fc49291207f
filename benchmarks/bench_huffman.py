"""Huffman decoding, 1 thread: pyprune's decoders against zlib's Huffman-only inflate (and
bitarray, dahuffman when installed) on 5-bit cluster indices of 3.5 bits entropy.
`python -m pyprune.bench.compression` prints the same as a table with ratios."""

import pytest

from pyprune import kernels
from pyprune.bench.compression import decode_peers, index_stream

PEERS = {p.name: p for p in decode_peers()}
# The pure-Python peers decode a slice: the whole stream would take them minutes.
SYMBOLS = {"bitarray": 200_000, "dahuffman": 20_000}


@pytest.fixture(scope="module")
def one_thread():
    before = kernels.get_num_threads()
    kernels.set_num_threads(1)
    yield
    kernels.set_num_threads(before)


@pytest.mark.parametrize("name", list(PEERS))
def test_decode(benchmark, one_thread, name):
    peer = PEERS[name]
    n = SYMBOLS.get(name, 2_000_000)
    symbols = index_stream(n)
    coded = peer.prepare(symbols)
    assert peer.check(peer.decode(coded), symbols)
    benchmark.group = "huffman decode 5-bit, 3.5 bits entropy, t1"
    benchmark.extra_info.update(symbols=n)
    benchmark(peer.decode, coded)
    if benchmark.stats is not None:
        benchmark.extra_info["M symbols/s"] = n / benchmark.stats.stats.median / 1e6
