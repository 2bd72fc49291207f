"""The layers of pyprune, checked on the source of every module (its imports, parsed, including
those inside functions): only the kernels import the extension; the kernels know nothing of the
torch modules or the graph, the graph nothing of torch, the torch modules nothing of pruning,
the library nothing of the command line, the demo and the benchmarks (the applications built on
it), and these nothing of each other but what the command line runs."""

import ast
from pathlib import Path

import pyprune

ROOT = Path(pyprune.__file__).parent
APPLICATIONS = ("pyprune.cli", "pyprune.demo", "pyprune.bench")


def module_name(path: Path) -> str:
    parts = ("pyprune", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, name: str, is_package: bool = False) -> set[str]:
    """Every module `source` (the module `name`) imports, wherever the import statement is:
    for `from a import b`, both a and a.b (b may be a submodule); relative imports resolved;
    importlib.import_module("...") with a literal name included."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant):
            found.add(node.args[0].value)
    return found


def within(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


IMPORTS = {
    module_name(path): imports_of(path.read_text(), module_name(path), path.name == "__init__.py")
    for path in sorted(ROOT.rglob("*.py"))
}


def test_the_parser_sees_every_kind_of_import():
    source = """
import os, pyprune.kernels
from . import timing
from .. import stats
from pyprune.nn import convert
def later():
    import importlib
    from pyprune.bench.timing import median_seconds
    importlib.import_module("pyprune.demo")
"""
    found = imports_of(source, "pyprune.prune.loop")
    assert {"os", "pyprune.kernels", "pyprune.prune.timing", "pyprune.stats", "pyprune.nn.convert",
            "pyprune.bench.timing", "pyprune.demo"} <= found
    assert "pyprune.cli.x" in imports_of("from .x import y", "pyprune.cli", is_package=True)
    assert len(IMPORTS) > 40 and "pyprune.prune.loop" in IMPORTS


def offenders(importers, forbidden):
    """{module: the forbidden modules it imports} for the modules `importers` accepts."""
    found = {name: sorted(m for m in imports if within(m, forbidden)) for name, imports in IMPORTS.items()
             if importers(name)}
    return {name: modules for name, modules in found.items() if modules}


def test_kernels_know_nothing_of_the_torch_modules():
    assert offenders(lambda name: name == "pyprune.kernels", ["pyprune.nn"]) == {}


def test_torch_modules_know_nothing_of_pruning():
    assert offenders(lambda name: within(name, ["pyprune.nn"]), ["pyprune.prune"]) == {}


def test_the_library_knows_nothing_of_the_applications():
    library = lambda name: not within(name, [*APPLICATIONS, "pyprune.__main__"])  # noqa: E731
    assert offenders(library, APPLICATIONS) == {}


def test_the_applications_are_independent_of_each_other():
    """Only the command line, which runs them, knows the demo and the benchmarks."""
    for application in ("pyprune.demo", "pyprune.bench"):
        others = [a for a in APPLICATIONS if a != application]
        assert offenders(lambda name: within(name, [application]), others) == {}


def test_only_the_entry_point_knows_the_command_line():
    assert offenders(lambda name: not within(name, ["pyprune.cli", "pyprune.__main__"]), ["pyprune.cli"]) == {}


def test_only_kernels_imports_the_extension():
    assert offenders(lambda name: name != "pyprune.kernels", ["pyprune._core"]) == {}


def test_the_kernels_know_nothing_of_the_graph_and_the_graph_nothing_of_torch():
    assert offenders(lambda name: name == "pyprune.kernels", ["pyprune.graph"]) == {}
    assert offenders(lambda name: within(name, ["pyprune.graph"]), ["torch", "pyprune.nn", "pyprune.capture"]) == {}


def test_the_runtime_knows_nothing_of_torch():
    """What runs a packed file on a board: no torch, no torch modules, no capture, no pruning."""
    torch_parts = ["torch", "pyprune.nn", "pyprune.capture", "pyprune.prune", "pyprune.pack.api", "pyprune.pack.tied"]
    runtime_parts = ["pyprune.runtime", "pyprune.pack.reading", "pyprune.pack.graph_section", "pyprune.pack.grammar",
                     "pyprune.pack.layers", "pyprune.pack.format", "pyprune.bench.packed"]
    assert offenders(lambda name: within(name, runtime_parts), torch_parts) == {}
