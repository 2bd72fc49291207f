"""ISA detection, the PYPRUNE_ISA override and thread settings."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import pyprune
from pyprune import _core, kernels


def run_with_isa(forced, cwd, code="import pyprune; print(pyprune.isa())"):
    env = {k: v for k, v in os.environ.items() if k != "PYPRUNE_ISA"}
    if forced is not None:
        env["PYPRUNE_ISA"] = forced
    # Run away from the source tree, whose pyprune/ has no built extension.
    try:
        return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True)
    except OSError as e:  # an emulated interpreter (qemu-user) cannot start itself
        pytest.skip(f"cannot start {sys.executable}: {e}")


def isa_in_subprocess(forced, cwd):
    result = run_with_isa(forced, cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_isa_is_the_best_available():
    assert kernels.available_isas()[0] == "scalar"
    if "PYPRUNE_ISA" not in os.environ:
        assert pyprune.isa() == kernels.available_isas()[-1]
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        assert kernels.available_isas() == ["scalar", "neon"]
    elif machine in ("x86_64", "amd64"):
        # Ordered: a CPU with AVX-512 runs the AVX2 kernels too.
        assert kernels.available_isas() in (["scalar"], ["scalar", "avx2"], ["scalar", "avx2", "avx512"])


@pytest.mark.parametrize("forced,expected", [("scalar", "scalar"), (None, None)])
def test_pyprune_isa_can_only_lower_the_level(forced, expected, tmp_path):
    best = kernels.available_isas()[-1]
    assert isa_in_subprocess(forced, tmp_path) == (expected or best)
    assert isa_in_subprocess(best, tmp_path) == best


TABLES_TESTS = Path(__file__).with_name("test_ukernel_tables.py")


@pytest.mark.parametrize("forced", ["scalar", "avx2", "avx512", "neon"])
def test_a_forced_isa_runs_its_own_rows_or_the_next_lower(forced, tmp_path):
    """What a CPU without the better ISAs runs (an AVX2-only CPU: PYPRUNE_ISA=avx2): the
    dispatch tests of the operator lists, which check every case's kernel and its result,
    run again in a process with PYPRUNE_ISA=forced."""
    if forced not in kernels.available_isas():
        pytest.skip(f"{forced} not available on this CPU")
    root = TABLES_TESTS.parents[2]
    code = (f"import sys, pytest; sys.exit(pytest.main([{str(TABLES_TESTS)!r}, '-q', '-p', 'no:cacheprovider', "
            f"'--rootdir', {str(root)!r}, '-c', {str(root / 'pyproject.toml')!r}]))")
    result = run_with_isa(forced, tmp_path, code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert isa_in_subprocess(forced, tmp_path) == forced


KNOWN_ISAS = ("scalar", "avx2", "avx512", "neon")
# Every use of the kernels asks for the active ISA first; an invalid PYPRUNE_ISA fails each.
FIRST_USES = {
    "isa": "pyprune.isa()",
    "depthwise": "pyprune.kernels.depthwise_conv2d(np.ones((1, 2, 5, 5), np.float32), np.ones((2, 1, 3, 3), np.float32))",
    "gemm": "pyprune.kernels.pointwise_conv2d(np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2), np.float32))",
    "sparse": "pyprune.kernels.sparse_conv2d(np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 1, 1), np.float32))",
}


def unusable_isas():
    """Typos and case changes of every ISA, empty, unknown ones, and known ones this CPU lacks."""
    typos = {variant for isa in KNOWN_ISAS for variant in (isa.upper(), isa.capitalize(), isa[:-1], f" {isa}", f"{isa} ")}
    return sorted(typos | {"", "sse", "avx512f", "AVX-512"} | (set(KNOWN_ISAS) - set(kernels.available_isas())))


@pytest.mark.parametrize("forced", unusable_isas())
def test_an_unusable_pyprune_isa_is_an_error_naming_the_choices(forced, tmp_path):
    """Never a silent fall to the slow reference kernels: the error names what was asked for,
    whether it is an ISA at all, and the ones this CPU runs."""
    checks = "\n".join(f"""
try:
    {call}
    print("{use}: ran")
except RuntimeError as e:
    print("{use}:", e)""" for use, call in FIRST_USES.items())
    result = run_with_isa(forced, tmp_path, "import numpy as np\nimport pyprune\n" + checks)
    assert result.returncode == 0, result.stderr  # importing pyprune is fine: the kernels refuse
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == list(FIRST_USES)
    available = ", ".join(kernels.available_isas())
    for line in lines:
        message = line.split(": ", 1)[1]
        assert message.startswith(f"PYPRUNE_ISA={forced!r} is not ")
        if forced in KNOWN_ISAS:
            assert "is not available on this CPU" in message
        assert f"one of: {available} (this CPU's; unset PYPRUNE_ISA for the fastest, {kernels.available_isas()[-1]})" \
            in message


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
