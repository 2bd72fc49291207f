"""pyprune/_core/*.pyi are generated from the built extension and must match it."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pybind11_stubgen")
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "generate_stubs.py"


def test_stubs_match_the_extension():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
