"""pyprune._optional.require: the one error for a missing optional dependency, and none for a
package that is installed but broken."""

import sys

import pytest

from pyprune import MissingDependencyError
from pyprune._optional import require


def test_an_installed_module_is_returned():
    assert require("json", "torch", "x") is sys.modules["json"]
    assert require("email.mime", "torch", "x").__name__ == "email.mime"


@pytest.mark.parametrize("module", ["nosuchpackage", "nosuchpackage.sub"])
def test_a_missing_package_names_who_needs_it_and_the_extra(module):
    with pytest.raises(MissingDependencyError) as info:
        require(module, "demo", "pyprune.demo")
    assert str(info.value) == "pyprune.demo needs nosuchpackage, which is not installed: pip install 'pyprune[demo]'"
    assert isinstance(info.value, ImportError)


def test_a_blocked_package_counts_as_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "blockedpackage", None)
    with pytest.raises(MissingDependencyError, match="needs blockedpackage"):
        require("blockedpackage", "torch", "pyprune.nn")


def test_a_broken_package_raises_its_own_error(tmp_path, monkeypatch):
    (tmp_path / "brokenpackage").mkdir()
    (tmp_path / "brokenpackage" / "__init__.py").write_text("import nosuchdependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="nosuchdependency") as info:
        require("brokenpackage", "torch", "x")
    assert not isinstance(info.value, MissingDependencyError)
    sys.modules.pop("brokenpackage", None)
