"""Fuzz target: the C++ Huffman decoders (pyprune.kernels.huffman_decode, every ukernel, and
SharedWeights.decode / .nonzeros) on blocks built from the input, valid ones
corrupted in input-chosen ways.

Contract checked: a decoder returns or raises ValueError, never anything else, never a crash;
every ukernel agrees with the reference (the same symbols, or all refuse); an uncorrupted block
decodes to the symbols it was made from. Run: python fuzz/fuzz_huffman.py [libFuzzer options]
(scripts/fuzz.sh runs it for a bounded time).
"""

import sys

import atheris
import numpy as np

from pyprune import kernels
from pyprune.compress.huffman import HuffmanCode, encode

# The decoders are C++ that gcc cannot instrument for libFuzzer: the input drives a generator
# of valid and corrupted blocks instead, and the harness's own branches (which corruption,
# which outcome) are what libFuzzer sees as coverage.

UKERNELS = [k["name"] for k in kernels.testing.huffdec_ukernels() if k["isa"] in kernels.available_isas()]


@atheris.instrument_func
def _decode_all(block: np.ndarray, n: int, lengths: np.ndarray) -> np.ndarray | None:
    """The symbols every ukernel decodes (they must agree), None if they all refuse."""
    results = []
    for name in UKERNELS:
        try:
            results.append(kernels.huffman_decode(block, n, lengths, name))
        except ValueError:
            results.append(None)
    first = results[0]
    for name, r in zip(UKERNELS, results):
        if (first is None) != (r is None) or (r is not None and not np.array_equal(first, r)):
            raise AssertionError(f"ukernel {name} disagrees with {UKERNELS[0]} on a block of {n} symbols")
    return first


@atheris.instrument_func
def _corrupt(fdp: atheris.FuzzedDataProvider, block: bytearray, lengths: np.ndarray, n: int) -> tuple[int, bool]:
    """Input-chosen corruptions of a valid block; (symbol count, whether anything changed)."""
    changed = False
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        what = fdp.ConsumeIntInRange(0, 5)
        if what == 0 and block:  # flip a bit
            i = fdp.ConsumeIntInRange(0, len(block) - 1)
            block[i] ^= 1 << fdp.ConsumeIntInRange(0, 7)
        elif what == 1 and block:  # cut the end
            del block[fdp.ConsumeIntInRange(0, len(block) - 1):]
        elif what == 2:  # bytes appended
            block += fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 8))
        elif what == 3:  # another symbol count
            n = fdp.ConsumeIntInRange(0, 2 * n + 64)
        elif what == 4 and lengths.size:  # a code length changed
            lengths[fdp.ConsumeIntInRange(0, lengths.size - 1)] = fdp.ConsumeIntInRange(0, 15)
        else:  # a stream size in the header changed
            if len(block) >= 5:
                block[fdp.ConsumeIntInRange(1, 4)] = fdp.ConsumeInt(1) & 0xFF
        changed = True
    return n, changed


@atheris.instrument_func
def _shared(fdp: atheris.FuzzedDataProvider, symbols: np.ndarray) -> None:
    """SharedWeights.decode / .nonzeros on values (and gaps) made of the input."""
    codebook = np.array(fdp.ConsumeFloatListInRange(fdp.ConsumeIntInRange(0, 300), -1e3, 1e3), np.float32)
    values, value_code = symbols, HuffmanCode.for_symbols(symbols)
    block = np.frombuffer(encode(values, value_code), np.uint8)
    size = fdp.ConsumeIntInRange(0, 4 * len(values) + 16)
    args = dict(values=block, value_symbols=len(values), value_lengths=value_code.lengths, codebook=codebook, size=size)
    if fdp.ConsumeBool():
        index_bits = fdp.ConsumeIntInRange(0, 9)
        gaps = np.frombuffer(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 2 * len(values) + 8)), np.uint8)
        gap_code = HuffmanCode.for_symbols(gaps)
        args.update(gaps=np.frombuffer(encode(gaps, gap_code), np.uint8), gap_symbols=len(gaps) + fdp.ConsumeIntInRange(-2, 2),
                    gap_lengths=gap_code.lengths, index_bits=index_bits)
        try:
            kernels.SharedWeights(**args).nonzeros()
        except ValueError:
            pass
    try:
        kernels.SharedWeights(**args).decode()
    except ValueError:
        pass


@atheris.instrument_func
def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 2)
    alphabet = np.uint16(fdp.ConsumeIntInRange(1, 256))
    symbols = (np.frombuffer(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096)), np.uint8) % alphabet).astype(np.uint8)
    if mode == 2:
        _shared(fdp, symbols)
        return
    if mode == 0:  # a valid block, then corrupted
        code = HuffmanCode.for_symbols(symbols)
        lengths = np.array(code.lengths, np.uint8)
        block = bytearray(encode(symbols, code, streams=fdp.ConsumeIntInRange(1, 4)))
        n, changed = _corrupt(fdp, block, lengths, len(symbols))
    else:  # anything at all
        lengths = np.frombuffer(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300)), np.uint8)
        n, changed = fdp.ConsumeIntInRange(0, 1 << 16), True
        block = bytearray(fdp.ConsumeBytes(fdp.remaining_bytes()))
    got = _decode_all(np.frombuffer(bytes(block), np.uint8), n, lengths)
    if not changed and (got is None or not np.array_equal(got, symbols)):
        raise AssertionError("a valid block does not decode to its symbols")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
