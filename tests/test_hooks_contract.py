"""The hook contract in ``hooks/`` is enforced: documented, not stale, tested, and correctly spelt.

Modelled on Datasette's ``test_plugin_hooks_are_documented`` and ``test_plugin_hooks_have_tests``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy
import pytest
from examples.host_app import hookspecs as host_hookspecs

import scim_plugin.plugin
from scim_plugin import hookimpl
from scim_plugin import hookspecs as scim_hookspecs
from scim_plugin.access.builtin import BUILTIN_PLUGINS

from .conftest import make_app

ROOT = Path(__file__).resolve().parent.parent
HOOKS_DIR = ROOT / "hooks"
TESTS_DIR = ROOT / "tests"
SEAM = "examples.host_app.scim_seam"

# (spec module, pluggy project name, reference page)
CONTRACTS = [
    (scim_hookspecs, "scim", HOOKS_DIR / "scim_hooks.md"),
    (host_hookspecs, "dashboard", HOOKS_DIR / "host_hooks.md"),
]


def hookspecs_of(module: types.ModuleType, project: str) -> dict[str, Callable[..., Any]]:
    """The functions of ``module`` marked with ``HookspecMarker(project)``."""
    return {
        name: fn
        for name, fn in vars(module).items()
        if callable(fn) and getattr(fn, f"{project}_spec", None) is not None
    }


def signature_heading(fn: Callable[..., Any]) -> str:
    return f"{fn.__name__}({', '.join(inspect.signature(fn).parameters)})"


def section_headings(page: Path) -> list[str]:
    """The ``## `` headings of a Markdown page, ignoring fenced code blocks."""
    headings, fenced = [], False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            headings.append(line[3:].strip())
    return headings


ALL_HOOKS = [
    pytest.param(fn, page, id=name)
    for module, project, page in CONTRACTS
    for name, fn in hookspecs_of(module, project).items()
]


def test_contracts_are_not_empty() -> None:
    assert len(hookspecs_of(scim_hookspecs, "scim")) >= 15
    assert len(hookspecs_of(host_hookspecs, "dashboard")) == 8


@pytest.mark.parametrize(("spec", "page"), ALL_HOOKS)
def test_every_hook_is_documented_under_its_signature(spec: Callable[..., Any], page: Path) -> None:
    assert signature_heading(spec) in section_headings(page), (
        f"{page.relative_to(ROOT)} needs a section headed '## {signature_heading(spec)}'"
    )


@pytest.mark.parametrize(("module", "project", "page"), CONTRACTS, ids=["scim", "host"])
def test_every_heading_names_an_existing_hook(module: types.ModuleType, project: str, page: Path) -> None:
    expected = {signature_heading(fn) for fn in hookspecs_of(module, project).values()}
    stale = [heading for heading in section_headings(page) if heading not in expected]
    assert not stale, f"{page.relative_to(ROOT)} documents hooks that do not exist (or wrong signatures)"
    # One section per hook, no duplicates.
    assert len(section_headings(page)) == len(expected)


def _test_function_names() -> set[str]:
    pattern = re.compile(r"^\s*def (test_hook_\w+)\(", re.MULTILINE)
    return {name for path in TESTS_DIR.glob("test_*.py") for name in pattern.findall(path.read_text())}


@pytest.mark.parametrize(("spec", "page"), ALL_HOOKS)
def test_every_hook_has_a_test(spec: Callable[..., Any], page: Path) -> None:
    assert f"test_hook_{spec.__name__}" in _test_function_names(), (
        f"write a test named test_hook_{spec.__name__} (tests/test_hooks.py)"
    )


# -- Spelling: pluggy's validation ----------------------------------------------------------------------


def test_plugin_matches_the_host_contract() -> None:
    pm = pluggy.PluginManager("dashboard")
    pm.add_hookspecs(host_hookspecs)
    pm.register(scim_plugin.plugin, name="scim_plugin.plugin")
    pm.check_pending()
    for name in hookspecs_of(host_hookspecs, "dashboard"):
        assert getattr(pm.hook, name).get_hookimpls(), f"scim_plugin.plugin does not implement {name}"


def test_host_seam_and_builtins_match_the_scim_contract() -> None:
    pm = pluggy.PluginManager("scim")
    pm.add_hookspecs(scim_hookspecs)
    seam = importlib.import_module(SEAM)
    pm.register(seam, name=SEAM)
    for name, module_name in BUILTIN_PLUGINS.items():
        pm.register(importlib.import_module(module_name), name=name)
    pm.check_pending()
    seam_hooks = {
        impl.function.__name__ for caller in pm.get_hookcallers(seam) for impl in caller.get_hookimpls()
    }
    assert {
        "scim_create_user",
        "scim_update_user",
        "scim_delete_user",
        "scim_resolve_workspace",
        "scim_list_workspaces",
        "scim_host_user_info",
        "scim_resolve_tenant",
        "scim_current_admin",
    } <= seam_hooks


def _module(name: str, **functions: Callable[..., Any]) -> types.ModuleType:
    module = types.ModuleType(name)
    for attr, fn in functions.items():
        setattr(module, attr, fn)
    return module


def test_misspelt_hook_name_fails_check_pending() -> None:
    @hookimpl
    def scim_ip_alowed(tenant_id: str, address: str | None) -> bool:
        return True

    pm = pluggy.PluginManager("scim")
    pm.add_hookspecs(scim_hookspecs)
    pm.register(_module("misspelt", scim_ip_alowed=scim_ip_alowed))
    with pytest.raises(pluggy.PluginValidationError, match="scim_ip_alowed"):
        pm.check_pending()


def test_unknown_argument_fails_at_registration() -> None:
    @hookimpl
    def scim_ip_allowed(tenant_id: str, ip: str) -> bool:
        return True

    pm = pluggy.PluginManager("scim")
    pm.add_hookspecs(scim_hookspecs)
    with pytest.raises(pluggy.PluginValidationError, match="ip"):
        pm.register(_module("wrong_argument", scim_ip_allowed=scim_ip_allowed))


def test_misspelt_hook_in_scim_plugins_fails_at_start_up(
    database_url: str, tmp_path: Path, _schema: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    @hookimpl
    def scim_evnt(event: Any) -> None:
        pass

    monkeypatch.setitem(
        sys.modules, "misspelt_scim_plugin", _module("misspelt_scim_plugin", scim_evnt=scim_evnt)
    )
    with pytest.raises(pluggy.PluginValidationError, match="scim_evnt"):
        make_app(database_url, tmp_path, SCIM_PLUGINS=[SEAM, "misspelt_scim_plugin"])


# -- The README's lists stay true -----------------------------------------------------------------------


def test_readme_lists_the_builtin_plugins_and_recipes() -> None:
    readme = (HOOKS_DIR / "README.md").read_text()
    for name, module_name in BUILTIN_PLUGINS.items():
        assert f"`{name}`" in readme and f"`{module_name}`" in readme
    recipes = sorted(p.name for p in (HOOKS_DIR / "recipes").glob("*.py") if p.name != "__init__.py")
    assert recipes
    for recipe in recipes:
        assert f"(recipes/{recipe})" in readme, f"hooks/README.md should link recipes/{recipe}"
        importlib.import_module(f"hooks.recipes.{recipe.removesuffix('.py')}")
