"""An example host: a small multi-company dashboard that loads plugins through pluggy.

``create_app()`` is the factory (``flask --app examples.host_app run``, or
``gunicorn 'examples.host_app:create_app()'``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import make_url

from .extensions import db
from .plugins import init_plugins

DEFAULT_PLUGINS = "scim_plugin.plugin"


def _secret_key(app: Flask) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _enforce_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("HOST_INSTANCE_PATH") or None)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL")
        or f"sqlite:///{Path(app.instance_path) / 'host_app.db'}",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        HOST_PLUGINS=os.environ.get("HOST_PLUGINS", DEFAULT_PLUGINS),
        HOST_LOAD_ENTRYPOINTS=os.environ.get("HOST_LOAD_ENTRYPOINTS", "1") not in ("0", "false", ""),
        # The host's side of the SCIM seam; only read when the SCIM plugin is loaded.
        SCIM_PLUGINS=["examples.host_app.scim_seam"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    # FLASK_SCIM_RATE_LIMIT=... and the like configure the app from the environment.
    app.config.from_prefixed_env()
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app)

    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() in ("mysql", "mariadb"):
        # InnoDB's REPEATABLE READ reads a transaction's first snapshot even after it waited on a row
        # lock: a check made then would see rows another transaction has deleted. READ COMMITTED is
        # PostgreSQL's level, the one the plugin's row locks are written for (docs/mariadb.md).
        options = {"isolation_level": "READ COMMITTED", **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            # SQLite enforces foreign keys (ON DELETE CASCADE included) only when each connection asks.
            event.listen(db.engine, "connect", _enforce_foreign_keys)
    pm = init_plugins(app)
    pm.hook.dashboard_init_app(app=app)

    from . import auth, cli, views

    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    for blueprints in pm.hook.dashboard_register_blueprints(app=app):
        for blueprint in blueprints or []:
            app.register_blueprint(blueprint)
    app.before_request(auth.load_user)
    app.after_request(views.security_headers)
    app.context_processor(views.layout_context)
    cli.register(app)
    return app
