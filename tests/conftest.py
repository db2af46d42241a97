"""Fixtures: the example host with the plugin on a real database (SQLite by default).

Set ``DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) to run the whole suite
on another database. The schema is created once per session, the way an operator would (host tables,
then ``scim db upgrade``); every test starts from empty tables and the seeded demo data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import examples.host_app.models  # noqa: F401  (the host's tables in its metadata before the schema fixture)
import pytest
from examples.host_app import create_app
from examples.host_app.extensions import db as host_db
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from scim_plugin.storage.models import ScimBase

if os.environ.get("SCIM_TEST_NO_RETURNING"):
    # MariaDB standing in for MySQL 8, which has no RETURNING at all (MariaDB has it for INSERT and
    # DELETE): the plugin's and the host's paths without it run on this machine's MariaDB.
    from sqlalchemy.dialects.mysql.base import MySQLDialect

    _initialize = MySQLDialect.initialize

    def _without_returning(self: Any, connection: Any) -> None:
        _initialize(self, connection)
        self.insert_returning = self.update_returning = self.delete_returning = False

    MySQLDialect.initialize = _without_returning  # type: ignore[method-assign]

ORIGIN = "idp.example.com"
SECRET = "test-secret-key-for-signing-tokens"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def _schema(database_url: str) -> Iterator[None]:
    """Drop leftovers, create the host's tables, then migrate the plugin's (as an operator would)."""
    from scim_plugin.storage import migrate

    engine = create_engine(database_url)
    with engine.begin() as conn:
        ScimBase.metadata.drop_all(conn)
        host_db.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_scim"))
        host_db.metadata.create_all(conn)
    migrate.upgrade(engine)
    yield
    engine.dispose()


def _empty_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        for metadata in (ScimBase.metadata, host_db.metadata):
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()


_made_apps: list[Flask] = []


@pytest.fixture(autouse=True)
def _dispose_apps() -> Iterator[None]:
    """Close the connection pools of every app a test made (PostgreSQL warns about leaked ones)."""
    yield
    while _made_apps:
        made = _made_apps.pop()
        with made.app_context():
            host_db.session.remove()
            host_db.engine.dispose()


def make_app(database_url: str, tmp_path: Any, **config: Any) -> Flask:
    settings = {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "HOST_PLUGINS": "scim_plugin.plugin",
        "HOST_LOAD_ENTRYPOINTS": False,
    }
    settings.update(config)
    os.environ.setdefault("HOST_INSTANCE_PATH", str(tmp_path))
    made = create_app(settings)
    _made_apps.append(made)
    return made


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a test module to change the app's configuration."""
    return {}


@pytest.fixture
def app(_schema: None, database_url: str, tmp_path: Any, app_config: dict[str, Any]) -> Iterator[Flask]:
    _empty_tables(database_url)
    application = make_app(database_url, tmp_path, **app_config)
    result = application.test_cli_runner().invoke(args=["demo", "init"])
    assert result.exit_code == 0, result.output
    yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def issue_token(app: Flask, tenant: str = "acme", origin: str = ORIGIN, *extra: str) -> str:
    result = app.test_cli_runner().invoke(
        args=["scim", "token", "issue", "--tenant", tenant, "--origin", origin, *extra]
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def issue_idp_token(app: Flask, method: str, tenant: str = "acme", *extra: str) -> str:
    """A token of an ``entra`` or ``okta`` tenant: no origin, as those IdPs connect."""
    result = app.test_cli_runner().invoke(
        args=["scim", "token", "issue", "--tenant", tenant, "--method", method, *extra]
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@dataclass
class ScimClient:
    """A test client that sends what an IdP sends: bearer token and (unless ``origin`` is None, as for
    Entra ID and Okta, which cannot send it) the service origin."""

    client: FlaskClient
    token: str
    origin: str | None = ORIGIN
    prefix: str = "/scim/v2"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.origin is not None:
            headers["X-Request-Origin"] = self.origin
        headers.update(extra or {})
        return headers

    def request(
        self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        if json is not None:
            kwargs["json"] = json
        return self.client.open(self.prefix + path, method=method, headers=self.headers(headers), **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def token(app: Flask) -> str:
    return issue_token(app)


@pytest.fixture
def scim(client: FlaskClient, token: str) -> ScimClient:
    return ScimClient(client, token)


def login(client: FlaskClient, email: str, password: str) -> Any:
    return client.post("/login", data={"email": email, "password": password})


@pytest.fixture
def register(app: Flask) -> Iterator[Callable[[Any], Any]]:
    """Register throwaway ``scim_*`` plugins on the app's plugin manager; all are removed afterwards."""
    pm = app.extensions["scim"].pm
    added: list[Any] = []

    def _register(plugin: Any) -> Any:
        pm.register(plugin)
        added.append(plugin)
        return plugin

    yield _register
    for plugin in added:
        if pm.is_registered(plugin):
            pm.unregister(plugin)
