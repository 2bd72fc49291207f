"""Real packed files to mutate: fuzz/seeds.py's (every encoding, a channel plan, example
inputs, module versions), written once per session."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _fuzz_module(name):
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", REPO / "fuzz" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def seeds():
    """The fuzz/seeds module (small_model, X, write_seeds)."""
    pytest.importorskip("torch")
    return _fuzz_module("seeds")


@pytest.fixture(scope="session")
def fuzz_module():
    """Loads a module of fuzz/ by name ("fuzz_pack", ...)."""
    return _fuzz_module


@pytest.fixture(scope="session")
def real_files(seeds, tmp_path_factory):
    """{name: bytes} of the seed files; each loads into seeds.small_model()."""
    paths = seeds.write_seeds(tmp_path_factory.mktemp("seeds"))
    return {name: path.read_bytes() for name, path in paths.items()}
