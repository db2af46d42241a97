"""The plugin inside the host: loading, configuration, extension mode."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from scim_plugin import ScimPlugin
from scim_plugin.config import ConfigError

from .conftest import login, make_app


def rules(app: Flask) -> set[str]:
    return {rule.rule for rule in app.url_map.iter_rules()}


def test_host_loads_plugin_from_configuration(app):
    pm = app.extensions["host_plugins"]
    assert pm.has_plugin("scim_plugin.plugin")
    assert "scim" in app.extensions
    assert "/scim/v2/Users" in rules(app)
    assert "/settings/admin/scim/" in rules(app)


def test_host_loads_plugin_from_entry_point(database_url, tmp_path, _schema):
    app = make_app(database_url, tmp_path, HOST_PLUGINS="", HOST_LOAD_ENTRYPOINTS=True)
    pm = app.extensions["host_plugins"]
    assert pm.get_plugin("scim") is not None, "the dashboard.plugins entry point 'scim' was not loaded"
    assert "/scim/v2/Users" in rules(app)


def test_plugin_named_by_config_and_entry_point_is_registered_once(database_url, tmp_path, _schema):
    app = make_app(database_url, tmp_path, HOST_PLUGINS="scim_plugin.plugin", HOST_LOAD_ENTRYPOINTS=True)
    pm = app.extensions["host_plugins"]
    assert len([p for p in pm.get_plugins() if getattr(p, "__name__", "") == "scim_plugin.plugin"]) == 1


def test_host_without_plugin_has_no_scim_routes_or_menu_entry(database_url, tmp_path, _schema, app):
    bare = make_app(database_url, tmp_path, HOST_PLUGINS="", HOST_LOAD_ENTRYPOINTS=False)
    assert "scim" not in bare.extensions
    assert not any(rule.startswith("/scim") or "scim" in rule for rule in rules(bare))
    client = bare.test_client()
    assert client.get("/scim/v2/Users").status_code == 404
    login(client, "admin@acme.example", "acme-demo-password")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Admin Settings" in page
    assert "SCIM Provisioning" not in page


def test_admin_sees_menu_entry(client):
    login(client, "admin@acme.example", "acme-demo-password")
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'data-menu-key="scim-provisioning"' in page


def test_non_admin_does_not_see_menu_entry(app, client):
    from examples.host_app.extensions import db
    from examples.host_app.models import Company, User

    with app.app_context():
        company = db.session.query(Company).filter_by(slug="acme").one()
        user = User(company_id=company.id, email="member@acme.example", given_name="M", family_name="Ember")
        user.set_password("member-password")
        db.session.add(user)
        db.session.commit()
    login(client, "member@acme.example", "member-password")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Settings" in page
    assert "SCIM Provisioning" not in page
    assert client.get("/settings/admin/scim/").status_code == 403


def test_init_app_twice_fails_clearly(app):
    with pytest.raises(RuntimeError, match="already initialised"):
        ScimPlugin().init_app(app)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SCIM_MAX_RESULTS", 0),
        ("SCIM_MAX_RESULTS", "many"),
        ("SCIM_URL_PREFIX", "scim/v2/"),
        ("SCIM_TRUSTED_PROXIES", "10.0.0.1/abc"),
        ("SCIM_RATE_LIMIT", "lots"),
        ("SCIM_PATCH_RESPONSE", 201),
        ("SCIM_GROUP_PATCH_RESPONSE", 200.5),
        ("SCIM_RESPONSE_STYLE", "xml"),
        ("SCIM_AUDIT_READS", "yes"),
        ("SCIM_TOKEN_ROTATION_GRACE", -1),
        ("SCIM_UNKNOWN_SETTING", 1),
    ],
)
def test_invalid_config_fails_at_start_up_naming_the_key(database_url, tmp_path, _schema, key, value):
    with pytest.raises(ConfigError) as excinfo:
        make_app(database_url, tmp_path, **{key: value})
    assert excinfo.value.key == key
    assert key in str(excinfo.value)


def test_plain_flask_extension(tmp_path):
    app = Flask("plain")
    app.config.update(
        SECRET_KEY="x",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'plain.db'}",
        SCIM_URL_PREFIX="/api/scim",
    )
    db = SQLAlchemy()
    db.init_app(app)
    ScimPlugin(app)
    state = app.extensions["scim"]
    assert state.config.url_prefix == "/api/scim"
    assert "/api/scim/Users" in rules(app)
    assert state.pm.has_plugin("scim.tokens")
    with pytest.raises(RuntimeError, match="already initialised"):
        ScimPlugin(app)


def test_plain_extension_without_sqlalchemy_fails_at_init():
    app = Flask("nodb")
    with pytest.raises(RuntimeError, match="Flask-SQLAlchemy"):
        ScimPlugin(app)


def test_blocked_builtin_is_not_registered(database_url, tmp_path, _schema):
    app = make_app(database_url, tmp_path, SCIM_BLOCKED_PLUGINS=["scim.origin"])
    pm = app.extensions["scim"].pm
    assert pm.is_blocked("scim.origin")
    assert not pm.has_plugin("scim.origin")
    assert pm.has_plugin("scim.tokens")


def test_unknown_scim_route_answers_scim_json(scim):
    response = scim.get("/Nope")
    assert response.status_code == 404
    assert response.mimetype == "application/scim+json"
    assert response.get_json()["status"] == "404"


def test_scim_api_ignores_the_dashboard_session(client, scim):
    """The example host reads its session cookie for dashboard pages only: a SCIM answer neither depends
    on it (no ``Vary: Cookie`` for a cache to key on) nor is authenticated by it."""
    assert login(client, "admin@acme.example", "acme-demo-password").status_code == 302
    assert "Cookie" in client.get("/dashboard").headers.get("Vary", "")

    listed = scim.get("/Users")
    assert listed.status_code == 200
    assert "Cookie" not in listed.headers.get("Vary", "")
    created = scim.post("/Users", json={"userName": "vary@acme.example"})
    assert created.status_code == 201
    assert "Cookie" not in created.headers.get("Vary", "")

    signed_in_only = client.get("/scim/v2/Users")  # the admin's session cookie, no bearer token
    assert signed_in_only.status_code == 401
    assert "Cookie" not in signed_in_only.headers.get("Vary", "")
