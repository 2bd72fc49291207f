"""Every public module of pyprune imports on its own in a fresh interpreter, so no import cycle
hides behind a module that happened to be imported first; with torch blocked, the torch-free
modules still import and every other one raises MissingDependencyError saying what to install."""

import json
import os
import pkgutil
import subprocess
import sys

import pytest

import pyprune

# Each module is imported in its own process, forked from an interpreter that has imported
# only numpy and torch (or blocked torch), so that each pays only for pyprune's own imports.
ZYGOTE = r"""
import importlib, json, os, sys
import numpy
if sys.argv[1] == "blocked":
    sys.modules["torch"] = None
else:
    import torch
assert not any(name.split(".")[0] == "pyprune" for name in sys.modules)
results = {}
for name in sys.argv[2:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            outcome = ["ok", ""]
        except BaseException as e:
            outcome = [type(e).__name__, str(e)]
        os.write(write, json.dumps(outcome).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        data = f.read()
    os.waitpid(pid, 0)
    results[name] = json.loads(data) if data else ["crashed", ""]
print(json.dumps(results))
"""

# The modules that need no torch (and their submodules).
TORCH_FREE = ("pyprune.activation", "pyprune.bench", "pyprune.cli", "pyprune.compress", "pyprune.kernels",
              "pyprune.graph", "pyprune.progress", "pyprune.timing", "pyprune.pack.format", "pyprune.pack.grammar",
              "pyprune.pack.graph_section", "pyprune.pack.layers", "pyprune.pack.reading", "pyprune.pack.report",
              "pyprune.pack.schema", "pyprune.runtime")


def public_modules():
    names = ["pyprune"]
    for info in pkgutil.walk_packages(pyprune.__path__, "pyprune."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def under(name, packages):
    return any(name == p or name.startswith(p + ".") for p in packages)


MODULES = public_modules()


def import_each(mode, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("imports")  # away from the source tree, which has no _core
    try:
        result = subprocess.run([sys.executable, "-c", ZYGOTE, mode, *MODULES], cwd=cwd, capture_output=True,
                                text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "error"})
    except OSError as e:  # an emulated interpreter (qemu-user) cannot start itself
        pytest.skip(f"cannot start {sys.executable}: {e}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def with_torch(tmp_path_factory):
    pytest.importorskip("torch")
    return import_each("torch", tmp_path_factory)


@pytest.fixture(scope="module")
def without_torch(tmp_path_factory):
    return import_each("blocked", tmp_path_factory)


def test_the_walk_finds_every_part():
    for name in ("pyprune.kernels", "pyprune.stats", "pyprune.prune.loop", "pyprune.cli.convert", "pyprune.timing"):
        assert name in MODULES
    assert not [name for name in MODULES if "._" in name]


@pytest.mark.parametrize("name", MODULES)
def test_imports_alone_in_a_fresh_interpreter(with_torch, name):
    assert with_torch[name] == ["ok", ""]


@pytest.mark.parametrize("name", MODULES)
def test_without_torch_imports_or_says_what_to_install(without_torch, name):
    kind, message = without_torch[name]
    if name in ("pyprune", "pyprune.pack") or under(name, TORCH_FREE):
        assert kind == "ok", message
    else:
        extra = "demo" if under(name, ("pyprune.demo",)) else "torch"
        assert kind == "MissingDependencyError"
        assert message.endswith(f"needs torch, which is not installed: pip install 'pyprune[{extra}]'")
