#!/bin/bash
# test-aarch64.sh - install the cross-built aarch64 wheel as the README tells Raspberry Pi users
# to (pip into a venv of the system's Python 3.11) and run pyprune's kernel and runtime tests from
# that venv, under QEMU user-mode emulation with Debian 12's aarch64 userland (that of Raspberry Pi
# OS 64-bit), without torch.
#
#   bash scripts/test-aarch64.sh [extra pytest args...]
#
# Uses the newest dist/pyprune-*-cp311-cp311-manylinux*_aarch64.whl (scripts/build-aarch64-wheel.sh)
# unless WHEEL is set, and what scripts/aarch64-env.sh prepares (needs root once if Debian
# packages are missing). pip installs the wheel with its dependencies, pinned, from the prepared
# guest wheels (no index). Checks first that the venv's pyprune is the wheel's, an aarch64 build
# that runs NEON ("neon" ISA and NEON microkernels listed). Then packs files on this x86-64 host
# (tests/runtime_files.py, run by PACKING_PYTHON, default .venv/bin/python with pyprune installed:
# `make install`) with the outputs the host's runtime computes, or takes those that
# tests/runtime_files.py wrote into the folder PACKED_FILES on another x86-64 machine, and runs in
# the guest, in one shard per core (A64_JOBS)
#   pytest tests/kernels tests/runtime tests/pack/test_graph_section.py -q -p no:cacheprovider
# with PYPRUNE_HOST_FILES naming those files (the guest runs them and compares) and
# PYPRUNE_TEST_SWEEP=small (trimmed shape sweeps; set PYPRUNE_TEST_SWEEP=full for all).
# torch is absent in the guest: the runtime needs none, torch tests skip. QEMU_CPU picks the CPU
# model (default cortex-a72, i.e. Raspberry Pi 4).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=aarch64-env.sh
source "$REPO/scripts/aarch64-env.sh"
set -euo pipefail
cd "$REPO"

if [ -z "${WHEEL:-}" ]; then
    WHEEL="$(ls -t dist/pyprune-*-cp311-cp311-manylinux*_aarch64.whl 2>/dev/null | head -1 || true)"
fi
[ -f "${WHEEL:-}" ] || { echo "test-aarch64: no aarch64 wheel: run scripts/build-aarch64-wheel.sh" >&2; exit 1; }
WHEEL="$(realpath "$WHEEL")"

# The venv, as on the board: `python3 -m venv`, then pip. Here the venv is made without pip and
# Debian's pip wheel (the one `python3 -m venv` installs) runs from its file: venv's ensurepip
# starts the aarch64 Python as a child process, which qemu-user cannot do without binfmt_misc.
VENV="$PYPRUNE_A64/board-venv"
rm -rf "$VENV"
a64_run "$A64_PYTHON" -m venv --without-pip "$VENV"
pip_wheel=("$A64_ROOT"/usr/share/python-wheels/pip-*.whl)
start=$SECONDS
# No configuration of this machine: the board's pip sees only the wheels given.
PIP_CONFIG_FILE=/dev/null a64_run "$VENV/bin/python" "${pip_wheel[0]}/pip" install --isolated \
    --disable-pip-version-check --no-compile --no-index --find-links "$A64_WHEELS" \
    "$WHEEL" "${GUEST_WHEELS[@]}"
echo "test-aarch64: pip installed $(basename "$WHEEL") into $VENV in $((SECONDS - start)) s" >&2

HOST_FILES="$PYPRUNE_A64/host-files"
rm -rf "$HOST_FILES"
if [ -n "${PACKED_FILES:-}" ]; then
    compgen -G "$PACKED_FILES/*.pyprune" >/dev/null \
        || { echo "test-aarch64: PACKED_FILES=$PACKED_FILES holds no .pyprune file" >&2; exit 1; }
    cp -r "$PACKED_FILES" "$HOST_FILES"
    echo "test-aarch64: packed on x86-64 elsewhere: $(cd "$HOST_FILES" && echo *.pyprune)" >&2
else
    PACKING_PYTHON="${PACKING_PYTHON:-$REPO/.venv/bin/python}"
    "$PACKING_PYTHON" -c 'import pyprune.runtime' 2>/dev/null \
        || { echo "test-aarch64: $PACKING_PYTHON cannot import pyprune.runtime: run make install" >&2; exit 1; }
    mkdir -p "$HOST_FILES"
    "$PACKING_PYTHON" "$REPO/tests/runtime_files.py" "$HOST_FILES" >/dev/null
    echo "test-aarch64: packed on the host: $(cd "$HOST_FILES" && echo *.pyprune)" >&2
fi

SWEEP="${PYPRUNE_TEST_SWEEP:-small}"
[ "$SWEEP" = full ] && SWEEP=

# Run from outside the repository, whose pyprune/ has no aarch64 extension: the venv's pyprune,
# installed from the wheel, must be the one imported.
cd "$PYPRUNE_A64"
a64_run "$VENV/bin/python" - "$VENV" <<'PY'
import os, platform, sys
import pyprune
from pyprune import _core, kernels
venv = os.path.realpath(sys.argv[1])
for module in (pyprune, _core):
    assert os.path.realpath(module.__file__).startswith(venv + os.sep), \
        f"{module.__name__} comes from {module.__file__}, not from the wheel installed in {venv}"
assert platform.machine() == "aarch64", platform.machine()
assert kernels.isa() == "neon", f"isa() is {kernels.isa()!r}, expected 'neon'"
names = [u["name"] for u in _core.testing.dwconv2d_ukernels() if u["isa"] == "neon"]
for k, s in [(3, 1), (3, 2), (5, 1), (5, 2)]:
    prefix = f"pp_f32_dwconv2d_chw_{k}x{k}s{s}_"
    assert any(n.startswith(prefix) for n in names), f"no NEON {k}x{k} s{s} kernel in {names}"
for table in (_core.testing.gemm_ukernels(), _core.testing.gemv_ukernels(), _core.testing.spmm_ukernels(),
              _core.testing.winograd_input_ukernels(), _core.testing.winograd_output_ukernels()):
    neon = [u["name"] for u in table if u["isa"] == "neon"]
    assert neon, f"no NEON kernel in {[u['name'] for u in table]}"
    names += neon
print(f"test-aarch64: {platform.machine()} Python {platform.python_version()}, pyprune from "
      f"{pyprune.__file__}, isa {kernels.isa()}, NEON kernels: {', '.join(names)}")
PY

# The GEMM kernel is chosen per core at run time from MIDR_EL1: an emulated Cortex-A53 (Pi 3,
# Zero 2 W) runs the in-order row, a Cortex-A72 (Pi 4) the production one.
for cpu in cortex-a53 cortex-a72; do
    QEMU_CPU=$cpu a64_run "$VENV/bin/python" - "$cpu" <<'PY'
import sys
import numpy as np
from pyprune import _core, kernels
in_order = sys.argv[1] == "cortex-a53"
assert kernels.in_order_cores() is in_order, (sys.argv[1], kernels.in_order_cores())
rows = [u for u in _core.testing.gemm_ukernels() if u["isa"] == "neon" and (u["in_order"] if in_order else u["production"])]
x = np.random.default_rng(0).standard_normal((1, 8, 5, 7), dtype=np.float32)
w = np.random.default_rng(1).standard_normal((16, 8, 1, 1), dtype=np.float32)
op = kernels.PackedConv2d(w)
assert op.ukernel == rows[0]["name"], (sys.argv[1], op.ukernel, rows)
np.testing.assert_allclose(op(x), np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x), rtol=1e-4, atol=1e-4)
print(f"test-aarch64: {sys.argv[1]}: the GEMM runs {op.ukernel}")
PY
done

# One emulated pytest per core (A64_JOBS), each a shard of the tests (tests/conftest.py), its
# output kept until all have ended. A shard that -k leaves without tests (exit 5) is no failure.
jobs="${A64_JOBS:-$(nproc)}"
logs="$(mktemp -d)"
start=$SECONDS
pids=()
for ((shard = 0; shard < jobs; shard++)); do
    PYPRUNE_TEST_SHARD="$shard/$jobs" PYPRUNE_TEST_SWEEP="$SWEEP" PYPRUNE_HOST_FILES="$HOST_FILES" \
        a64_run "$VENV/bin/python" -m pytest \
        "$REPO/tests/kernels" "$REPO/tests/runtime" "$REPO/tests/pack/test_graph_section.py" -q \
        -p no:cacheprovider --rootdir "$REPO" -c "$REPO/pyproject.toml" "$@" > "$logs/$shard.log" 2>&1 &
    pids+=($!)
done
status=0
empty=0
for ((shard = 0; shard < jobs; shard++)); do
    rc=0
    wait "${pids[shard]}" || rc=$?
    case $rc in
        0) ;;
        5) empty=$((empty + 1)) ;;
        *) status=1 ;;
    esac
    echo "=== test-aarch64: shard $shard of $jobs (exit $rc)"
    cat "$logs/$shard.log"
done
rm -rf "$logs"
[ "$empty" -lt "$jobs" ] || status=5
echo "test-aarch64: pytest under emulation took $((SECONDS - start)) s ($jobs shards)" >&2
exit "$status"
