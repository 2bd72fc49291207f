#!/bin/sh
# check-system.sh [PYTHON] - before the first build, name the Debian packages that are missing
# instead of failing minutes later in venv or CMake: Python 3.9+ with its venv module (ensurepip)
# and its headers, and a C++ compiler. `make` runs it before creating .venv.
PYTHON="${1:-python3}"
if ! command -v "$PYTHON" >/dev/null; then
    echo "pyprune: $PYTHON not found; install it with: sudo apt-get install python3" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
    echo "pyprune: needs Python 3.9 or newer, $PYTHON is $("$PYTHON" -V 2>&1)" >&2
    exit 1
fi
missing=
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing="$missing python3-venv"
"$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.isfile(os.path.join(sysconfig.get_path("include"), "Python.h")))' \
    || missing="$missing python3-dev"
command -v "${CXX:-c++}" >/dev/null || missing="$missing build-essential"
if [ -n "$missing" ]; then
    echo "pyprune: the build needs$missing; install with: sudo apt-get install$missing" >&2
    exit 1
fi
