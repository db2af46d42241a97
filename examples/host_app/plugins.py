"""The host's plugin manager: hookspecs, loading from configuration and entry points."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import pluggy
from flask import Flask, current_app

from . import hookspecs


def create_plugin_manager(module_names: Iterable[str], *, load_entrypoints: bool) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
    for name in module_names:
        module = importlib.import_module(name)
        # The same module may come from the entry point and from HOST_PLUGINS: register it once.
        if not pm.is_registered(module):
            pm.register(module, name=name)
    # A hook implementation whose name the host does not define is a bug: fail at start-up.
    pm.check_pending()
    return pm


def init_plugins(app: Flask) -> pluggy.PluginManager:
    names = app.config["HOST_PLUGINS"]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    pm = create_plugin_manager(names, load_entrypoints=app.config["HOST_LOAD_ENTRYPOINTS"])
    app.extensions["host_plugins"] = pm
    return pm


def plugin_manager(app: Flask | None = None) -> pluggy.PluginManager:
    return (app or current_app).extensions["host_plugins"]


def admin_menu(user: Any) -> list[dict[str, str]]:
    """The Settings > Admin Settings entries ``user`` may see: the host's own, then the plugins'."""
    entries: list[dict[str, str]] = []
    if user is not None and user.is_admin:
        entries.append({"key": "company-users", "label": "Company Users", "endpoint": "dashboard.users"})
    for contributed in plugin_manager().hook.dashboard_admin_settings_menu(user=user):
        entries.extend(contributed or [])
    return sorted(entries, key=lambda entry: entry["label"].lower())
