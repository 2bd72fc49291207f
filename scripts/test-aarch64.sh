#!/bin/bash
# test-aarch64.sh - run pyprune's kernel tests on the cross-built aarch64 wheel, under QEMU
# user-mode emulation with Debian 12's aarch64 Python 3.11 (the Raspberry Pi OS 64-bit userland).
#
#   bash scripts/test-aarch64.sh [extra pytest args...]
#
# Uses the newest dist/pyprune-*-cp311-cp311-manylinux*_aarch64.whl (scripts/build-aarch64-wheel.sh)
# unless WHEEL is set, and what scripts/aarch64-env.sh prepares (needs root once if Debian
# packages are missing). Checks first that the extension is an aarch64 build that runs NEON
# ("neon" ISA and NEON depthwise microkernels listed), then runs
#   pytest tests/kernels -q -p no:cacheprovider
# with PYPRUNE_TEST_SWEEP=small (trimmed shape sweeps; set PYPRUNE_TEST_SWEEP=full for all).
# torch is absent in the guest, so torch tests skip. QEMU_CPU picks the CPU model (default
# cortex-a72, i.e. Raspberry Pi 4).
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

SITE="$PYPRUNE_A64/pyprune-site"
rm -rf "$SITE"
"$A64_VENV/bin/python" -m zipfile -e "$WHEEL" "$SITE"
echo "test-aarch64: $(basename "$WHEEL") unpacked into $SITE" >&2

export A64_PYTHONPATH="$SITE:$REPO/tests"
SWEEP="${PYPRUNE_TEST_SWEEP:-small}"
[ "$SWEEP" = full ] && SWEEP=

# The tests must run the installed aarch64 wheel, never the source tree's pyprune/ (which has
# no aarch64 extension): run from outside the repository.
cd "$PYPRUNE_A64"
a64_python - <<'PY'
import platform
import pyprune
from pyprune import _core, kernels
assert platform.machine() == "aarch64", platform.machine()
assert kernels.isa() == "neon", f"isa() is {kernels.isa()!r}, expected 'neon'"
names = [u["name"] for u in _core.testing.dwconv2d_ukernels() if u["isa"] == "neon"]
for k, s in [(3, 1), (3, 2), (5, 1), (5, 2)]:
    prefix = f"pp_f32_dwconv2d_chw_{k}x{k}s{s}_"
    assert any(n.startswith(prefix) for n in names), f"no NEON {k}x{k} s{s} kernel in {names}"
for table in (_core.testing.gemm_ukernels(), _core.testing.spmm_ukernels(), _core.testing.winograd_input_ukernels(),
              _core.testing.winograd_output_ukernels()):
    neon = [u["name"] for u in table if u["isa"] == "neon"]
    assert neon, f"no NEON kernel in {[u['name'] for u in table]}"
    names += neon
print(f"test-aarch64: {platform.machine()} Python {platform.python_version()}, pyprune from "
      f"{pyprune.__file__}, isa {kernels.isa()}, NEON kernels: {', '.join(names)}")
PY

start=$SECONDS
PYPRUNE_TEST_SWEEP="$SWEEP" a64_python -m pytest "$REPO/tests/kernels" -q -p no:cacheprovider \
    --rootdir "$REPO" -c "$REPO/pyproject.toml" "$@"
echo "test-aarch64: pytest under emulation took $((SECONDS - start)) s" >&2
