#!/bin/bash
# build-aarch64-wheel.sh - cross-build pyprune's CPython 3.11 aarch64 wheel on x86-64 Debian 12
# and repair it into a manylinux wheel that Raspberry Pi OS 64-bit (bookworm: glibc 2.36,
# Python 3.11) installs.
#
#   bash scripts/build-aarch64-wheel.sh
#
# Makes (in the repository):
#   dist/pyprune-<version>-cp311-cp311-linux_aarch64.whl           the raw cross build
#   dist/pyprune-<version>-cp311-cp311-manylinux_2_<N>_aarch64.whl  repaired by auditwheel
# and prints the manylinux tag; fails if that tag needs a glibc newer than MAX_GLIBC.
# CMake builds in build/aarch64. Everything else comes from scripts/aarch64-env.sh (cross
# compiler, aarch64 Python headers, build venv: needs root once if Debian packages are missing).
#
# Environment: PYPRUNE_A64 (cache dir, see aarch64-env.sh), MAX_GLIBC (default 2.36).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAX_GLIBC="${MAX_GLIBC:-2.36}"
# shellcheck source=aarch64-env.sh
source "$REPO/scripts/aarch64-env.sh"
set -euo pipefail
PY="$A64_VENV/bin/python"
cd "$REPO"

version="$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
raw="dist/pyprune-$version-cp311-cp311-linux_aarch64.whl"
rm -f "$raw" dist/pyprune-"$version"-cp311-cp311-manylinux*_aarch64.whl

echo "build-aarch64-wheel: cross-building $raw" >&2
# _PYTHON_HOST_PLATFORM names the wheel's platform; PYTHON_MODULE_EXTENSION names the module
# (without it pybind11 asks the host interpreter and gets an x86_64 suffix).
PATH="$A64_VENV/bin:$PATH" _PYTHON_HOST_PLATFORM=linux-aarch64 \
    "$PY" -m pip wheel . -v --no-build-isolation --no-deps --disable-pip-version-check -w dist \
    --config-settings=cmake.define.CMAKE_TOOLCHAIN_FILE="$REPO/cmake/aarch64-linux-gnu.cmake" \
    --config-settings=cmake.define.Python_INCLUDE_DIR=/usr/include/python3.11 \
    --config-settings=cmake.define.Python_SOABI=cpython-311-aarch64-linux-gnu \
    --config-settings=cmake.define.PYTHON_MODULE_EXTENSION=.cpython-311-aarch64-linux-gnu.so \
    --config-settings=build-dir=build/aarch64
[ -f "$raw" ] || { echo "build-aarch64-wheel: $raw was not made" >&2; exit 1; }

# The module must be an aarch64 ELF with the aarch64 name, the only extension in the wheel; the
# licence must travel with it.
"$PY" - "$raw" <<'PY'
import sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
names = [n for n in wheel.namelist() if n.endswith(".so")]
if names != ["pyprune/_core.cpython-311-aarch64-linux-gnu.so"]:
    sys.exit(f"build-aarch64-wheel: expected only pyprune/_core.cpython-311-aarch64-linux-gnu.so, got {names}")
head = wheel.read(names[0])[:20]
if head[:4] != b"\x7fELF" or int.from_bytes(head[18:20], "little") != 183:  # EM_AARCH64
    sys.exit(f"build-aarch64-wheel: {names[0]} is not an aarch64 ELF")
dist_info = next(n.split("/")[0] for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
metadata, license = wheel.read(f"{dist_info}/METADATA").decode(), f"{dist_info}/licenses/LICENSE"
if "License-Expression: Apache-2.0" not in metadata.splitlines() or license not in wheel.namelist() \
        or b"Apache License" not in wheel.read(license):
    sys.exit("build-aarch64-wheel: the wheel lacks the Apache-2.0 licence expression or LICENSE file")
PY

# auditwheel reads aarch64 ELF files on x86-64; --plat auto picks the lowest manylinux tag the
# symbol versions allow (an explicit aarch64 --plat is refused on an x86-64 host).
"$PY" -m auditwheel show "$raw"
PATH="$A64_VENV/bin:$PATH" "$PY" -m auditwheel repair --plat auto -w dist "$raw"

repaired=(dist/pyprune-"$version"-cp311-cp311-manylinux*_aarch64.whl)
[ -f "${repaired[0]}" ] || { echo "build-aarch64-wheel: auditwheel made no manylinux wheel" >&2; exit 1; }
"$PY" - "${repaired[0]}" "$MAX_GLIBC" <<'PY'
import re, sys
wheel, max_glibc = sys.argv[1], tuple(map(int, sys.argv[2].split(".")))
platforms = wheel[:-len(".whl")].split("-")[-1].split(".")
legacy = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}
needs = []
for plat in platforms:
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_aarch64", plat)
    m2 = re.fullmatch(r"(manylinux2014|manylinux2010|manylinux1)_aarch64", plat)
    if m:
        need = (int(m.group(1)), int(m.group(2)))
    elif m2:
        need = legacy[m2.group(1)]
    else:
        sys.exit(f"build-aarch64-wheel: unexpected platform tag {plat}")
    needs.append(need)
# A wheel tagged with several platforms installs where any one fits; require every one to fit
# so the check does not depend on which tag pip considers.
worst = max(needs)
if worst > max_glibc:
    sys.exit(f"build-aarch64-wheel: {wheel} needs glibc {worst[0]}.{worst[1]} > "
             f"{max_glibc[0]}.{max_glibc[1]} (Raspberry Pi OS bookworm)")
print(f"build-aarch64-wheel: tag {'.'.join(platforms)} (glibc {worst[0]}.{worst[1]} <= "
      f"{max_glibc[0]}.{max_glibc[1]}): {wheel}")
PY
