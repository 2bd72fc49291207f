"""Code run in a fresh interpreter: a crash or a hang there fails a test instead of the run."""

import subprocess
import sys
import tempfile
import textwrap

import pytest


def run_python(code, timeout=120, env=None):
    """Runs `code` (dedented) with this interpreter, away from the source tree (whose pyprune/
    may have no built extension); skips where the interpreter cannot start itself (qemu-user)."""
    with tempfile.TemporaryDirectory() as cwd:
        try:
            return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                                  timeout=timeout, cwd=cwd, env=env)
        except OSError as e:
            pytest.skip(f"cannot start {sys.executable}: {e}")
