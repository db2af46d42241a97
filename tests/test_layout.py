"""The package's shape: layers that import only downwards (import-linter), short modules, documented
layers, and the old module paths that code outside the plugin may still use."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "scim_plugin"
LAYERS = ("core", "storage", "access", "web")
MAX_LINES = 400


def lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the contracts of ``cwd/pyproject.toml``, on the package under ``pythonpath``."""
    executable = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert executable, "import-linter is part of the test extras (pip install -e '.[test]')"
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [executable, "--no-cache", "--no-logo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "violation", "contract"),
    [
        # The circle this layout ended: a lower layer reaching the wiring or the web layer.
        ("storage/paging.py", "import scim_plugin.extension", "Layers"),
        ("access/tokens.py", "import scim_plugin.web.admin", "Layers"),
        ("core/filters.py", "import sqlalchemy", "The protocol core runs without"),
        ("web/admin.py", "import scim_plugin.errors", "The old module paths"),
    ],
)
def test_a_violation_breaks_the_contract(tmp_path: Path, module: str, violation: str, contract: str) -> None:
    """The contracts are not vacuous: one upward import in a copy of the package breaks the check."""
    shutil.copytree(PACKAGE, tmp_path / "src" / "scim_plugin", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "scim_plugin" / module
    target.write_text(target.read_text() + f"\n{violation}  # deliberate\n")
    result = lint_imports(tmp_path, tmp_path / "src")
    assert result.returncode == 1, result.stdout
    broken = result.stdout[result.stdout.index("Contracts:") :]
    assert "1 broken" in broken
    assert contract in result.stdout.split("Broken contracts")[1]


def _modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_long_module_says_why(path: Path) -> None:
    lines = path.read_text().count("\n")
    if lines <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert f"Longer than {MAX_LINES} lines because" in docstring, (
        f"{path.relative_to(ROOT)} has {lines} lines: split it, or say in its docstring why it is one piece"
    )


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_says_what_it_owns(layer: str) -> None:
    docstring = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
    assert docstring and "Owns" in docstring


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("scim_plugin.errors", "scim_plugin.core.errors", "ScimError"),
        ("scim_plugin.group_mapping", "scim_plugin.storage.group_mapping", "map_group"),
        ("scim_plugin.auth", "scim_plugin.access.auth", "AuthRefused"),
    ],
)
def test_an_old_module_path_is_the_same_module(old: str, new: str, name: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def test_the_documented_python_api() -> None:
    import scim_plugin
    from scim_plugin import seam
    from scim_plugin.auth import TokenRejected as old_path
    from scim_plugin.extension import ScimPlugin

    assert scim_plugin.ScimPlugin is ScimPlugin
    assert callable(scim_plugin.hookimpl) and callable(scim_plugin.get_state)
    assert seam.TokenRejected is old_path
