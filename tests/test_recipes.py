"""Each recipe in ``hooks/recipes/``, loaded through ``SCIM_PLUGINS`` and driven by real SCIM requests."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from examples.host_app.extensions import db
from examples.host_app.models import User
from flask import Flask
from hooks.recipes import deny_outside_office_hours
from sqlalchemy import func, select

from scim_plugin.storage.models import ScimUser, Token

from .conftest import ORIGIN, ScimClient, issue_token

SEAM = "examples.host_app.scim_seam"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def with_recipe(recipe: str, **config: Any) -> dict[str, Any]:
    """App configuration loading ``hooks.recipes.<recipe>``; the host's seam stays in the list."""
    return {"SCIM_PLUGINS": [SEAM, f"hooks.recipes.{recipe}"], **config}


def user_body(user_name: str, department: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [USER_URN], "userName": user_name}
    if department is not None:
        body["schemas"].append(ENTERPRISE_URN)
        body[ENTERPRISE_URN] = {"department": department}
    return body


def host_department(app: Flask, email: str) -> tuple[bool, str | None]:
    with app.app_context():
        user = db.session.execute(
            select(User).where(func.lower(User.email) == email.lower())
        ).scalar_one_or_none()
        return user is not None, user.department if user else None


# -- deny_outside_office_hours --------------------------------------------------------------------------


OFFICE_HOURS = with_recipe("deny_outside_office_hours")
TOKYO_OFFICE = with_recipe("deny_outside_office_hours", OFFICE_TIMEZONE="Asia/Tokyo")


@pytest.mark.parametrize(
    ("app_config", "moment", "status"),
    [
        pytest.param(OFFICE_HOURS, datetime(2026, 6, 2, 10, tzinfo=UTC), 200, id="tuesday-10h"),
        pytest.param(OFFICE_HOURS, datetime(2026, 6, 2, 20, tzinfo=UTC), 401, id="tuesday-20h"),
        pytest.param(OFFICE_HOURS, datetime(2026, 6, 6, 10, tzinfo=UTC), 401, id="saturday-10h"),
        pytest.param(TOKYO_OFFICE, datetime(2026, 6, 2, 1, tzinfo=UTC), 200, id="tokyo-tuesday-10h"),
    ],
)
def test_deny_outside_office_hours(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch, moment: datetime, status: int
) -> None:
    token = issue_token(app)
    monkeypatch.setattr(deny_outside_office_hours, "now", lambda: moment)
    assert ScimClient(client, token).get("/Users").status_code == status


@pytest.mark.parametrize("app_config", [OFFICE_HOURS])
def test_office_hours_cannot_widen_the_allowlist(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issue_token(app, "acme", ORIGIN, "--ip-allowlist", "10.0.0.0/8")
    monkeypatch.setattr(deny_outside_office_hours, "now", lambda: datetime(2026, 6, 2, 10, tzinfo=UTC))
    assert ScimClient(client, token).get("/Users").status_code == 401  # in office hours, wrong address


# -- audit_to_logger ------------------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [with_recipe("audit_to_logger")])
def test_audit_to_logger(app: Flask, scim: ScimClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scim.events")
    r = scim.post("/Users", json=user_body("jane@acme.example"))
    assert r.status_code == 201
    ScimClient(scim.client, "wrong-token").get("/Users")

    logged = [
        (rec.levelno, json.loads(rec.getMessage())) for rec in caplog.records if rec.name == "scim.events"
    ]
    created = [payload for _, payload in logged if payload["event"] == "user.created"]
    assert created == [
        {
            "event": "user.created",
            "tenant": created[0]["tenant"],
            "id": r.get_json()["id"],
            "user_name": "jane@acme.example",
        }
    ]
    assert created[0]["tenant"].isdigit()
    assert any(
        level == logging.WARNING and payload["event"] == "request.refused" for level, payload in logged
    )
    assert "wrong-token" not in caplog.text


# -- require_known_department ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_config", [with_recipe("require_known_department", KNOWN_DEPARTMENTS=["Engineering", "Marketing"])]
)
def test_require_known_department(app: Flask, scim: ScimClient) -> None:
    r = scim.post("/Users", json=user_body("jane@acme.example", "engineering"))
    assert r.status_code == 201, r.get_json()
    assert host_department(app, "jane@acme.example") == (True, "engineering")
    assert scim.post("/Users", json=user_body("nodept@acme.example")).status_code == 201

    # Refused on create: 400 and nothing written.
    r = scim.post("/Users", json=user_body("bob@acme.example", "Skunkworks"))
    assert r.status_code == 400
    assert 'Unknown department "Skunkworks"' in r.get_json()["detail"]
    assert host_department(app, "bob@acme.example") == (False, None)
    with app.app_context():
        assert db.session.execute(select(func.count(ScimUser.id))).scalar_one() == 2

    # Refused on update: the host user keeps its department.
    user_id = scim.get("/Users", query_string={"filter": 'userName eq "jane@acme.example"'}).get_json()[
        "Resources"
    ][0]["id"]
    assert scim.put(f"/Users/{user_id}", json=user_body("jane@acme.example", "Skunkworks")).status_code == 400
    assert host_department(app, "jane@acme.example") == (True, "engineering")
    assert scim.put(f"/Users/{user_id}", json=user_body("jane@acme.example", "Marketing")).status_code == 200
    assert host_department(app, "jane@acme.example") == (True, "Marketing")


# -- replace_token_service ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_config", [with_recipe("replace_token_service", SCIM_BLOCKED_PLUGINS=["scim.tokens"])]
)
def test_replace_token_service(app: Flask, client: Any) -> None:
    pm = app.extensions["scim"].pm
    assert not pm.has_plugin("scim.tokens") and pm.is_blocked("scim.tokens")

    first = issue_token(app)
    assert first.startswith("memtok_")
    assert ScimClient(client, first).get("/Users").status_code == 200
    r = ScimClient(client, first).post("/Users", json=user_body("jane@acme.example"))
    assert r.status_code == 201
    with app.app_context():
        assert db.session.execute(select(func.count(Token.id))).scalar_one() == 0  # built-in table unused
    assert first not in repr(app.extensions["scim_memory_tokens"])  # only digests are kept

    second = issue_token(app)  # issuing replaces
    assert ScimClient(client, first).get("/Users").status_code == 401
    assert ScimClient(client, second).get("/Users").status_code == 200

    result = app.test_cli_runner().invoke(args=["scim", "token", "revoke", "--tenant", "acme"])
    assert result.exit_code == 0
    assert "revoked 1 token(s)" in result.output
    assert ScimClient(client, second).get("/Users").status_code == 401
    assert ScimClient(client, "memtok_made-up").get("/Users").status_code == 401
