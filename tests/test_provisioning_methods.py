"""Provisioning methods (issue 18): Entra ID and Okta tenants connect the way those IdPs really do, with
the token alone and no ``X-Request-Origin``; a ``custom`` tenant still requires the origin.

The replays are the suite's own exact Entra and Okta requests (``test_idp_replays``, ``test_groups``),
run again through a client that sends no origin header, against ``entra`` and ``okta`` tenants.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from scim_plugin.storage.models import AuditRecord, TenantSettings, Token
from tests import test_groups, test_idp_replays
from tests.conftest import ORIGIN, ScimClient, _empty_tables, issue_idp_token, issue_token, make_app
from tests.test_admin_page import _company_id
from tests.test_users_api import LIST, assert_error


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"SCIM_GROUP_PATCH_RESPONSE": 200}  # as test_groups, whose replays run here too


def acme_id(app: Flask) -> str:
    return str(_company_id(app, "acme"))


def idp_client(app: Flask, method: str, tenant: str = "acme") -> ScimClient:
    return ScimClient(app.test_client(), issue_idp_token(app, method, tenant), origin=None)


def audit(app: Flask) -> list[AuditRecord]:
    with app.app_context():
        session = app.extensions["scim"].db.session
        return list(session.execute(select(AuditRecord).order_by(AuditRecord.id)).scalars())


ENTRA_REPLAYS = [
    test_idp_replays.test_entra_full_cycle,
    test_idp_replays.test_entra_postman_lowercase_path_and_projection,
    test_idp_replays.test_entra_string_boolean_in_value_filter,
]
OKTA_REPLAYS = [
    test_idp_replays.test_okta_spec_test,
    test_idp_replays.test_okta_profile_update_deactivate_reactivate,
    test_idp_replays.test_okta_import_pages_cover_everyone_once,
]


def _run(replay: Any, app: Flask, scim: ScimClient) -> None:
    params = replay.__code__.co_varnames[: replay.__code__.co_argcount]
    replay(*[{"app": app, "scim": scim}[name] for name in params])


@pytest.mark.parametrize("replay", ENTRA_REPLAYS, ids=lambda f: f.__name__)
def test_entra_replays_without_origin_on_an_entra_tenant(app: Flask, replay: Any) -> None:
    _run(replay, app, idp_client(app, "entra"))


@pytest.mark.parametrize("replay", OKTA_REPLAYS, ids=lambda f: f.__name__)
def test_okta_replays_without_origin_on_an_okta_tenant(app: Flask, replay: Any) -> None:
    _run(replay, app, idp_client(app, "okta"))


def test_entra_group_flow_without_origin(app: Flask) -> None:
    scim = idp_client(app, "entra")
    test_groups.test_replay_entra_group_flow(app, scim)


def test_okta_group_push_without_origin(app: Flask) -> None:
    test_groups.test_replay_okta_group_push(idp_client(app, "okta"))


def test_entra_test_connection_calls(app: Flask) -> None:
    """What Entra's "Test Connection" sends: a random GUID on the matching attribute (and on a group's
    displayName); both must be 200 with an empty ListResponse. The tenant URL may carry the
    ``aadOptscim062020`` flag as a query string."""
    scim = idp_client(app, "entra")
    guid = str(uuid.uuid4())
    by_user_name, by_display_name = quote(f'userName eq "{guid}"'), quote(f'displayName eq "{guid}"')
    for path in (
        f"/Users?filter={by_user_name}",
        f"/Users?aadOptscim062020&filter={by_user_name}",
        f"/Groups?excludedAttributes=members&filter={by_display_name}",
    ):
        r = scim.get(path, headers={"User-Agent": "Azure Active Directory SCIM Client"})
        assert r.status_code == 200, (path, r.get_json())
        body = r.get_json()
        assert body["schemas"] == [LIST] and body["totalResults"] == 0 and body["Resources"] == []


def test_okta_test_api_credentials_calls(app: Flask) -> None:
    scim = idp_client(app, "okta")
    okta = {"User-Agent": "Okta SCIM Client 1.0.0", "Accept": "application/scim+json"}
    for path in ("/Users?startIndex=1&count=1", "/Groups?startIndex=1&count=1"):
        r = scim.get(path, headers=okta)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert all(isinstance(body[k], int) for k in ("totalResults", "startIndex", "itemsPerPage"))


@pytest.mark.parametrize("method", ["entra", "okta"])
def test_an_idp_tenant_ignores_whatever_origin_is_sent(app: Flask, method: str) -> None:
    scim = idp_client(app, method)
    for origin in ("anything.example", ORIGIN, ""):
        r = scim.get("/Users", headers={"X-Request-Origin": origin})
        assert r.status_code == 200, origin


@pytest.mark.parametrize("method", ["entra", "okta"])
def test_an_idp_tenant_still_needs_a_valid_token_and_an_allowed_address(app: Flask, method: str) -> None:
    client = app.test_client()
    assert_error(client.get("/scim/v2/Users"), 401)
    assert_error(client.get("/scim/v2/Users", headers={"Authorization": "Bearer nope"}), 401)
    token = issue_idp_token(app, method, "acme", "--ip-allowlist", "203.0.113.0/24")
    scim = ScimClient(client, token, origin=None)
    assert_error(scim.get("/Users"), 401)  # the test client calls from 127.0.0.1
    refused = audit(app)[-1]
    assert refused.status == 401 and refused.reason == "client IP 127.0.0.1 not allowed"
    assert refused.provisioning_method == method
    allowed = ScimClient(client, issue_idp_token(app, method, "acme", "--ip-allowlist", "127.0.0.1"), None)
    assert allowed.get("/Users").status_code == 200


REPLAYED_ON_CUSTOM = [
    ("GET", "/Users?filter=" + quote('userName eq "6a2f1c3e-0f59-4a5b-9e0b-0d7b1f6b9c11"'), None),
    ("GET", "/Users?startIndex=1&count=1", None),
    ("POST", "/Users", test_idp_replays.ENTRA_POST),
    ("POST", "/Users", test_idp_replays.OKTA_POST),
    ("POST", "/Groups", {"displayName": "Group1DisplayName", "members": []}),
]


@pytest.mark.parametrize(("verb", "path", "body"), REPLAYED_ON_CUSTOM)
def test_the_same_requests_without_origin_are_refused_on_a_custom_tenant(
    app: Flask, client: FlaskClient, verb: str, path: str, body: Any
) -> None:
    scim = ScimClient(client, issue_token(app), origin=None)
    r = scim.request(verb, path, json=body)
    assert_error(r, 401)
    detail = r.get_json()["detail"]
    # The same uniform refusal as any other failed check.
    wrong = ScimClient(client, scim.token, origin="other.example").request(verb, path, json=body)
    assert wrong.status_code == 401 and wrong.get_json()["detail"] == detail
    record = audit(app)[-1]
    assert record.reason == "wrong X-Request-Origin" and record.provisioning_method == "custom"
    assert audit(app)[-2].reason == "missing X-Request-Origin"
    assert ScimClient(client, scim.token).get("/Users").status_code == 200


def test_audit_records_name_the_method(app: Flask) -> None:
    entra = idp_client(app, "entra")
    assert entra.post("/Users", json=test_idp_replays.ENTRA_POST).status_code == 201
    okta = idp_client(app, "okta", "globex")
    assert okta.post("/Users", json=test_idp_replays.OKTA_POST).status_code == 201
    custom = ScimClient(app.test_client(), issue_token(app, "acme"))  # acme switches to custom
    assert custom.post("/Users", json={"userName": "c@acme.example"}).status_code == 201
    assert [(r.status, r.provisioning_method) for r in audit(app)] == [
        (201, "entra"),
        (201, "okta"),
        (201, "custom"),
    ]


def test_switching_method_revokes_the_old_token_at_once_even_with_a_grace_period(
    _schema: None, database_url: str, tmp_path: Any
) -> None:
    _empty_tables(database_url)
    app = make_app(database_url, tmp_path, SCIM_TOKEN_ROTATION_GRACE=3600)
    assert app.test_cli_runner().invoke(args=["demo", "init"]).exit_code == 0
    client = app.test_client()
    custom = ScimClient(client, issue_token(app))
    assert custom.get("/Users").status_code == 200
    # A reset within the method keeps the old token for the grace period...
    rotated = ScimClient(client, issue_token(app))
    assert custom.get("/Users").status_code == 200 and rotated.get("/Users").status_code == 200
    # ...a switch of method does not: both earlier tokens stop at once.
    result = app.test_cli_runner().invoke(
        args=["scim", "token", "issue", "--tenant", "acme", "--method", "entra"]
    )
    assert result.exit_code == 0, result.output
    assert "revoked 2 token(s) of the previous method" in result.stderr
    entra = ScimClient(client, result.stdout.strip(), origin=None)
    assert custom.get("/Users").status_code == 401 and rotated.get("/Users").status_code == 401
    assert entra.get("/Users").status_code == 200
    with app.app_context():
        session = app.extensions["scim"].db.session
        settings = session.get(TenantSettings, acme_id(app))
        assert settings is not None and settings.provisioning_method == "entra"
        assert settings.service_origin == ""
        statuses = sorted(t.status for t in session.execute(select(Token)).scalars())
        assert statuses == ["active", "revoked", "revoked"]


# -- the CLI ---------------------------------------------------------------------------------------------


def _cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["scim", "token", "issue", "--tenant", "acme", *args])


def test_cli_method_defaults_to_custom_and_custom_needs_an_origin(app: Flask) -> None:
    result = _cli(app)
    assert result.exit_code == 2 and "--origin is required for --method custom" in result.output
    result = _cli(app, "--origin", ORIGIN)
    assert result.exit_code == 0 and result.stdout.count("\n") == 1  # the token alone
    with app.app_context():
        settings = app.extensions["scim"].db.session.get(TenantSettings, acme_id(app))
        assert settings.provisioning_method == "custom" and settings.service_origin == ORIGIN


@pytest.mark.parametrize("method", ["entra", "okta"])
def test_cli_refuses_an_origin_for_an_idp_method(app: Flask, method: str) -> None:
    result = _cli(app, "--method", method, "--origin", ORIGIN)
    assert result.exit_code == 2
    assert f"--origin does not apply to --method {method}" in result.output
    assert "cannot send X-Request-Origin" in result.output
    with app.app_context():
        assert app.extensions["scim"].db.session.get(TenantSettings, acme_id(app)) is None  # nothing written


def test_cli_refuses_an_unknown_method(app: Flask) -> None:
    result = _cli(app, "--method", "onelogin", "--origin", ORIGIN)
    assert result.exit_code == 2 and "'onelogin' is not one of 'okta', 'entra', 'custom'" in result.output


def test_cli_idp_method_prints_the_token_alone(app: Flask) -> None:
    result = _cli(app, "--method", "okta", "--default-workspace", "Staging", "--ip-allowlist", "10.0.0.0/8")
    assert result.exit_code == 0, result.output
    (token,) = result.stdout.split()
    assert ScimClient(app.test_client(), token, origin=None).get("/Users").status_code == 401  # not 10/8
    with app.app_context():
        settings = app.extensions["scim"].db.session.get(TenantSettings, acme_id(app))
        assert (settings.provisioning_method, settings.default_workspace_name) == ("okta", "Staging")
        assert settings.ip_allowlist == "10.0.0.0/8"
