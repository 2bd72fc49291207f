"""Packed files written on another machine run here as they ran there. PYPRUNE_HOST_FILES names
a folder of tests/runtime_files.py (scripts/test-aarch64.sh writes one on the x86-64 host and
runs this under QEMU on aarch64, without torch); without it the files are written here first.
Outputs agree to float32 rounding (the kernels differ by ISA); moved data agrees exactly."""

import os
from pathlib import Path

import numpy as np
import pytest
from runtime_files import write_files

from pyprune import kernels, runtime


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    given = os.environ.get("PYPRUNE_HOST_FILES")
    if given:
        return Path(given)
    folder = tmp_path_factory.mktemp("host-files")
    write_files(folder)
    return folder


def cases(folder):
    return sorted(folder.glob("*.pyprune"))


def arrays(path):
    with np.load(path) as f:
        return [f[f"arr_{k}"] for k in range(len(f.files))]


def test_the_folder_holds_files(folder):
    names = {p.name for p in cases(folder)}
    assert {"constants.pyprune", "constants-lossless.pyprune"} <= names, names


@pytest.mark.parametrize("keep_compressed", [False, True])
@pytest.mark.parametrize("threads", [1, 3])
def test_every_file_runs_as_it_ran_where_it_was_written(folder, keep_compressed, threads):
    before = kernels.get_num_threads()
    try:
        for path in cases(folder):
            net = runtime.load(path, keep_compressed=keep_compressed, num_threads=threads)
            inputs = arrays(path.with_suffix(".inputs.npz"))
            outputs, expected = net.run(*inputs), arrays(path.with_suffix(".outputs.npz"))
            assert len(outputs) == len(expected), path.name
            for got, want in zip(outputs, expected):
                scale = max(float(np.abs(want).max(initial=0)), 1.0)
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale, err_msg=path.name)
    finally:
        kernels.set_num_threads(before)


def test_moved_data_and_decoded_weights_agree_exactly(folder):
    path = folder / "constants.pyprune"
    got = runtime.load(path).run(*arrays(path.with_suffix(".inputs.npz")))
    for g, w in zip(got, arrays(path.with_suffix(".outputs.npz"))):
        np.testing.assert_array_equal(g, w)
