"""A pure-Python canonical Huffman decoder of pyprune's block format: the oracle of the C++
decoders (obviously correct, slow)."""

import numpy as np


def canonical_codes(lengths):
    """{(length, code): symbol}, codes assigned shorter first, by symbol within a length."""
    table, code = {}, 0
    for length in range(1, 12):
        for symbol, l in enumerate(lengths):
            if l == length:
                table[(length, code)] = symbol
                code += 1
        code <<= 1
    return table


def decode(block: bytes, n: int, lengths) -> np.ndarray:
    """The n symbols of a block; ValueError if it is not a valid one."""
    lengths = [int(l) for l in lengths]
    if any(l > 11 for l in lengths) or sum(2.0 ** -l for l in lengths if l) > 1:
        raise ValueError("bad lengths")
    codes = canonical_codes(lengths)
    if len(block) < 1 or not 1 <= block[0] <= 4 or len(block) < 1 + 4 * block[0]:
        raise ValueError("bad header")
    s_count = block[0]
    sizes = [int.from_bytes(block[1 + 4 * s : 5 + 4 * s], "little") for s in range(s_count)]
    if 1 + 4 * s_count + sum(sizes) != len(block):
        raise ValueError("bad header")
    q = -(-n // s_count)
    out, offset = [], 1 + 4 * s_count
    for s in range(s_count):
        data = block[offset : offset + sizes[s]]
        offset += sizes[s]
        bits = "".join(f"{b:08b}" for b in data)
        pos = 0
        for _ in range(max(0, min(q, n - s * q))):
            code, length = 0, 0
            while (length, code) not in codes:
                if length == 11:
                    raise ValueError("invalid code")
                if pos == len(bits):
                    raise ValueError("truncated")
                code, length, pos = code << 1 | int(bits[pos]), length + 1, pos + 1
            out.append(codes[(length, code)])
        if (pos + 7) // 8 != len(data):
            raise ValueError("trailing bytes")
    return np.array(out, np.uint8)
