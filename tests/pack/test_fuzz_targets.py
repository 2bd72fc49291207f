"""The fuzz targets (fuzz/, run by scripts/fuzz.sh) stay runnable: each takes the seed files,
simple mutations of them and random bytes without an exception outside its contract."""

import random

import pytest

pytest.importorskip("atheris")


def test_the_reader_target_takes_seeds_and_their_mutations(real_files, fuzz_module):
    target = fuzz_module("fuzz_pack")
    rng = random.Random(0)
    for data in real_files.values():
        target.TestOneInput(data)
        for _ in range(30):
            blob = bytearray(data)
            blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
            target.TestOneInput(bytes(blob))


def test_the_huffman_target_takes_random_inputs(fuzz_module):
    target = fuzz_module("fuzz_huffman")
    rng = random.Random(0)
    for _ in range(500):
        target.TestOneInput(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 400))))
