"""ISA detection, the PYPRUNE_ISA override and thread settings."""

import os
import platform
import subprocess
import sys

import pytest

import pyprune
from pyprune import _core, kernels


def isa_in_subprocess(forced, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYPRUNE_ISA"}
    if forced is not None:
        env["PYPRUNE_ISA"] = forced
    code = "import pyprune; print(pyprune.isa())"
    # Run away from the source tree, whose pyprune/ has no built extension.
    try:
        result = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True)
    except OSError as e:  # an emulated interpreter (qemu-user) cannot start itself
        pytest.skip(f"cannot start {sys.executable}: {e}")
    return result.stdout.strip()


def test_isa_is_the_best_available():
    assert kernels.available_isas()[0] == "scalar"
    if "PYPRUNE_ISA" not in os.environ:
        assert pyprune.isa() == kernels.available_isas()[-1]
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        assert kernels.available_isas() == ["scalar", "neon"]
    elif machine in ("x86_64", "amd64"):
        assert set(kernels.available_isas()) <= {"scalar", "avx2"}


@pytest.mark.parametrize("forced,expected", [("scalar", "scalar"), ("bogus", "scalar"), (None, None)])
def test_pyprune_isa_can_only_lower_the_level(forced, expected, tmp_path):
    best = kernels.available_isas()[-1]
    assert isa_in_subprocess(forced, tmp_path) == (expected or best)
    assert isa_in_subprocess(best, tmp_path) == best


def test_every_dispatched_kernel_exists_for_the_active_isa():
    names = {(u["kernel_size"], u["stride"], u["isa"]) for u in _core.testing.dwconv2d_ukernels()}
    for k in (3, 5):
        for s in (1, 2):
            assert (k, s, "scalar") in names
            for isa in kernels.available_isas():
                assert (k, s, isa) in names, f"no {isa} kernel for {k}x{k} stride {s}"


def test_thread_count_setting():
    before = pyprune.get_num_threads()
    try:
        pyprune.set_num_threads(3)
        assert pyprune.get_num_threads() == 3
        with pytest.raises(ValueError, match="at least 1"):
            pyprune.set_num_threads(0)
        with pytest.raises(TypeError, match="must be an int"):
            pyprune.set_num_threads(2.5)
    finally:
        pyprune.set_num_threads(before)
