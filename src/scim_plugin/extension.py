"""The Flask extension object: ``ScimPlugin().init_app(app)``.

Works on its own (a plain Flask app with Flask-SQLAlchemy) or inside a pluggy host, where
:mod:`scim_plugin.plugin` calls ``init_app`` from the host's ``dashboard_init_app`` hook and hands the
blueprints to ``dashboard_register_blueprints`` instead of registering them itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import pluggy
from flask import Blueprint, Flask
from flask_sqlalchemy import SQLAlchemy

from scim_plugin import hookspecs
from scim_plugin.access.audit import AuditBuffer
from scim_plugin.access.builtin import BUILTIN_PLUGINS
from scim_plugin.access.ratelimit import TenantRateLimiter
from scim_plugin.config import ScimConfig
from scim_plugin.markers import ENTRY_POINT_GROUP, PROJECT_NAME
from scim_plugin.state import EXTENSION_KEY, ScimState
from scim_plugin.storage import sqlite_writers


def create_plugin_manager(config: ScimConfig, extra: Iterable[Any] = ()) -> pluggy.PluginManager:
    """A plugin manager with the ``scim_*`` hookspecs, the built-ins and the configured plugins."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in config.blocked_plugins:
        pm.set_blocked(name)
    for name, module_name in BUILTIN_PLUGINS.items():
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module_name), name=name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for module_name in config.plugins:
        if pm.is_blocked(module_name) or pm.has_plugin(module_name):
            continue
        pm.register(importlib.import_module(module_name), name=module_name)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


class ScimPlugin:
    """Flask extension for SCIM 2.0 provisioning.

    ``db`` is the host's Flask-SQLAlchemy instance (found in ``app.extensions`` when omitted);
    ``plugins`` are extra ``scim_*`` hook implementations to register (objects or modules).
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db: SQLAlchemy | None = None,
        plugins: Iterable[Any] = (),
        register_blueprints: bool = True,
    ) -> None:
        self._db = db
        self._plugins = tuple(plugins)
        self._register_blueprints = register_blueprints
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> ScimState:
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "scim-plugin is already initialised on this app: call init_app once per app "
                "(is the plugin both listed in HOST_PLUGINS and initialised by hand?)"
            )
        config = ScimConfig.from_mapping(app.config)
        db = self._db or app.extensions.get("sqlalchemy")
        if db is None:
            raise RuntimeError("scim-plugin needs Flask-SQLAlchemy: call db.init_app(app) before ScimPlugin")
        state = ScimState(
            config=config,
            pm=create_plugin_manager(config, self._plugins),
            db=db,
            audit_buffer=AuditBuffer(),
            rate_limiter=TenantRateLimiter(config.rate_limit, config.rate_limit_storage_uri),
        )
        app.extensions[EXTENSION_KEY] = state
        if config.sqlite_writer_queue:
            with app.app_context():
                queues = {bind: sqlite_writers.install(engine) for bind, engine in db.engines.items()}
            state.writer_queue = queues.get(None)  # the default bind's, where the plugin's tables live

        from scim_plugin.cli import scim_cli

        app.cli.add_command(scim_cli)
        if self._register_blueprints:
            for blueprint in create_blueprints(config):
                app.register_blueprint(blueprint)
        return state


def create_blueprints(config: ScimConfig) -> list[Blueprint]:
    """The SCIM API blueprint and the admin settings blueprint, mounted at the configured prefixes."""
    from scim_plugin.web.admin import create_admin_blueprint
    from scim_plugin.web.api import create_api_blueprint

    return [create_api_blueprint(config), create_admin_blueprint(config)]
