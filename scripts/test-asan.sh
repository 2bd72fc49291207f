#!/bin/bash
# test-asan.sh - build pyprune with AddressSanitizer + UBSan into its own venv and run the
# kernel and graph operator tests against it (or a Python script). Python itself is not
# instrumented, so the sanitizer runtimes are preloaded.
#
#   bash scripts/test-asan.sh [extra pytest args...]
#   ASAN_TESTS="tests/graph" bash scripts/test-asan.sh     # other test folders
#   bash scripts/test-asan.sh --python SCRIPT [ARGS...]   # a script instead of the tests
#
# The graph operators' tests compare with torch: the venv gets the pinned CPU torch for them.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ASAN_VENV:-$REPO/.venv-asan}"
cd "$REPO"

# The venv is (re)filled when this list changes; its marker file holds the list installed.
# It holds pyprune's own dependencies (numpy, safetensors): pyprune is installed without them.
packages="numpy safetensors pytest hypothesis scikit-build-core pybind11 cmake ninja"
if [ "$(cat "$VENV/.dev-packages" 2>/dev/null)" != "$packages" ]; then
    sh scripts/check-system.sh python3
    python3 -m venv "$VENV"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --disable-pip-version-check -q $packages
    echo "$packages" > "$VENV/.dev-packages"
fi
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    "$VENV/bin/pip" install --disable-pip-version-check -q torch==2.13.0
fi
# -v: CMake's and Ninja's progress through the build, which takes minutes. -O1, as the
# sanitizers' documentation advises, outside the SIMD kernels (which are always -O3). -g1: line
# tables, all a sanitizer's stack trace needs (file and line of every frame), for about half the
# compile time of -g's full debug information. Without NDEBUG, so the asserts run too,
# pybind11's among them (the GIL held at every reference count).
# The AVX-512 kernels only where this CPU runs them (F, BW, DQ and VL, as the dispatcher asks):
# elsewhere they would be built, never checked.
avx512=ON
for flag in avx512f avx512bw avx512dq avx512vl; do grep -qw "$flag" /proc/cpuinfo || avx512=OFF; done
"$VENV/bin/pip" install --disable-pip-version-check -v --no-build-isolation --no-deps . \
    -C build-dir=build/asan -C cmake.build-type=RelWithDebInfo \
    -C "cmake.define.CMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" -C cmake.define.PYPRUNE_SANITIZE=ON \
    -C cmake.define.PYPRUNE_AVX512=$avx512

if [ "${1:-}" = --python ]; then
    shift
    command=("$VENV/bin/python" "$@")
else
    # shellcheck disable=SC2206
    command=("$VENV/bin/pytest" ${ASAN_TESTS:-tests/kernels tests/graph} -q -p no:cacheprovider "$@")
fi
preload="$(g++ -print-file-name=libasan.so):$(g++ -print-file-name=libubsan.so)"
# Leak checking would report the interpreter's own allocations; errors abort the run.
LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "${command[@]}"
