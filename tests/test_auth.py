"""Who may call the SCIM API: token state x service origin x client address.

Every refusal is the same 401 (RFC 7644 error body and ``WWW-Authenticate: Bearer``), writes nothing,
and leaves the real reason in the audit trail.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from scim_plugin.access.auth import REFUSAL_DETAIL
from scim_plugin.access.tokens import issue_token as mint
from scim_plugin.storage.models import AuditRecord, ScimUser, Token, utcnow

from .conftest import ORIGIN, SECRET, issue_token

NEW_USER = {"userName": "probe@example.com", "name": {"givenName": "P", "familyName": "Robe"}}


def scim_users(app) -> int:
    with app.app_context():
        return (
            app.extensions["scim"].db.session.execute(select(func.count()).select_from(ScimUser)).scalar_one()
        )


def last_reason(app) -> str | None:
    with app.app_context():
        session = app.extensions["scim"].db.session
        return session.execute(
            select(AuditRecord.reason).order_by(AuditRecord.id.desc()).limit(1)
        ).scalar_one()


def post(
    client,
    token: str | None,
    *,
    origin: str | None = ORIGIN,
    origin_header: str = "X-Request-Origin",
    remote: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
):
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if origin is not None:
        sent[origin_header] = origin
    return client.post("/scim/v2/Users", json=NEW_USER, headers=sent, environ_base={"REMOTE_ADDR": remote})


def assert_refused(app, response, reason_part: str) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "401",
        "detail": REFUSAL_DETAIL,
    }
    assert scim_users(app) == 0
    reason = last_reason(app)
    assert reason is not None and reason_part in reason


def test_valid_token_right_origin(app, client, token):
    response = post(client, token)
    assert response.status_code == 201
    assert scim_users(app) == 1


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        ("absent", "missing bearer token"),
        ("malformed", "token malformed"),
        ("forged", "token bad_signature"),
        ("unknown", "token unknown"),
        ("revoked", "token revoked"),
        ("replaced", "token revoked"),
        ("wrong_secret", "token secret mismatch"),
        ("other_scheme", "missing bearer token"),
    ],
)
def test_token_states(app, client, token, make_token, reason):
    if make_token == "absent":
        response = post(client, None)
    elif make_token == "other_scheme":
        response = post(client, None, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    else:
        if make_token == "malformed":
            presented = "not-a-token"
        elif make_token == "forged":
            presented = mint(["some-other-secret-key"]).token
        elif make_token == "unknown":
            presented = mint([SECRET]).token
        elif make_token == "revoked":
            assert (
                app.test_cli_runner().invoke(args=["scim", "token", "revoke", "--tenant", "acme"]).exit_code
                == 0
            )
            presented = token
        elif make_token == "replaced":
            issue_token(app)
            presented = token
        else:
            head, _, secret = token.rpartition(".")
            presented = f"{head}.{'A' * len(secret)}"
        response = post(client, presented)
    assert_refused(app, response, reason)


def test_revoked_tenant_is_disabled_even_for_fresh_looking_requests(app, client, token):
    app.test_cli_runner().invoke(args=["scim", "token", "revoke", "--tenant", "acme"])
    assert_refused(app, post(client, token), "token revoked")


def test_other_tenants_token_cannot_use_this_tenants_origin(app, client, token):
    globex = issue_token(app, "globex", "globex-idp.example.com")
    # Right token for globex but acme's origin: refused (the origin is per tenant).
    assert_refused(app, post(client, globex, origin=ORIGIN), "wrong X-Request-Origin")
    assert post(client, globex, origin="globex-idp.example.com").status_code == 201


@pytest.mark.parametrize(
    ("origin", "header", "ok", "reason"),
    [
        (ORIGIN, "X-Request-Origin", True, None),
        ("https://IDP.Example.com/", "X-Request-Origin", True, None),
        (ORIGIN, "X-Origin-Request", True, None),
        ("evil.example.com", "X-Request-Origin", False, "wrong X-Request-Origin"),
        (None, "X-Request-Origin", False, "missing X-Request-Origin"),
    ],
)
def test_service_origin(app, client, token, origin, header, ok, reason):
    response = post(client, token, origin=origin, origin_header=header)
    if ok:
        assert response.status_code == 201
    else:
        assert_refused(app, response, reason)


class TestIpAllowlist:
    @pytest.fixture
    def app_config(self):
        return {"SCIM_TRUSTED_PROXIES": "10.9.9.9"}

    @pytest.fixture
    def token(self, app):
        return issue_token(
            app, "acme", ORIGIN, "--ip-allowlist", "203.0.113.0/24, 2001:db8::1, 198.51.100.7-198.51.100.9"
        )

    @pytest.mark.parametrize(
        ("remote", "headers", "ok"),
        [
            ("203.0.113.10", {}, True),
            ("198.51.100.8", {}, True),
            ("2001:db8::1", {}, True),
            ("192.0.2.1", {}, False),
            ("2001:db8::2", {}, False),
            # A spoofed header from an untrusted peer is ignored: the peer itself is checked.
            ("192.0.2.1", {"X-Forwarded-For": "203.0.113.10"}, False),
            ("192.0.2.1", {"X-Origin-Request": "203.0.113.10"}, False),
            # Behind the trusted proxy, the forwarded client address is checked.
            ("10.9.9.9", {"X-Forwarded-For": "203.0.113.10"}, True),
            ("10.9.9.9", {"X-Forwarded-For": "192.0.2.1"}, False),
            ("10.9.9.9", {"X-Forwarded-For": "192.0.2.1, 203.0.113.10"}, True),
        ],
    )
    def test_client_address(self, app, client, token, remote, headers, ok):
        response = post(client, token, remote=remote, headers=headers)
        if ok:
            assert response.status_code == 201, response.get_json()
        else:
            assert_refused(app, response, "not allowed")


class TestRotationGrace:
    @pytest.fixture
    def app_config(self):
        return {"SCIM_TOKEN_ROTATION_GRACE": 300}

    def test_old_token_works_during_grace_and_not_after(self, app, client, token):
        new = issue_token(app)
        assert post(client, token).status_code == 201
        with app.app_context():
            session = app.extensions["scim"].db.session
            session.execute(
                update(Token)
                .where(Token.status == "grace")
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            session.commit()
        assert_refused_after = post(client, token)
        assert assert_refused_after.status_code == 401
        assert "grace period over" in last_reason(app)
        assert (
            client.get(
                "/scim/v2/Users", headers={"Authorization": f"Bearer {new}", "X-Request-Origin": ORIGIN}
            ).status_code
            == 200
        )

    def test_revocation_is_immediate_even_with_grace(self, app, client, token):
        app.test_cli_runner().invoke(args=["scim", "token", "revoke", "--tenant", "acme"])
        assert post(client, token).status_code == 401


def test_token_never_stored_or_logged(app, client, token, caplog):
    caplog.set_level("DEBUG")
    assert post(client, token).status_code == 201
    assert post(client, token + "x").status_code == 401
    secret = token.rsplit(".", 1)[1]
    with app.app_context():
        session = app.extensions["scim"].db.session
        dump = []
        for table in ("scim_tokens", "scim_audit", "scim_users", "scim_tenants"):
            dump.extend(str(row) for row in session.execute(select(ScimUser.metadata.tables[table])).all())
    text_dump = "\n".join(dump)
    assert token not in text_dump and secret not in text_dump
    assert token not in caplog.text and secret not in caplog.text


def test_last_used_is_tracked(app, client, token):
    assert post(client, token, remote="127.0.0.1").status_code == 201
    with app.app_context():
        row = (
            app.extensions["scim"]
            .db.session.execute(select(Token).where(Token.status == "active"))
            .scalar_one()
        )
        assert row.last_used_at is not None
        assert row.last_used_ip == "127.0.0.1"
        assert row.created_by == "cli"


def _last_refusal(app) -> tuple[str | None, str | None, str | None]:
    with app.app_context():
        row = (
            app.extensions["scim"]
            .db.session.execute(
                select(AuditRecord.tenant_id, AuditRecord.provisioning_method, AuditRecord.reason)
                .order_by(AuditRecord.id.desc())
                .limit(1)
            )
            .one()
        )
        return row.tenant_id, row.provisioning_method, row.reason


def test_a_revoked_tokens_refusal_lands_on_its_companys_trail(app, client, token):
    """The secret verified, so the token is provably acme's: the admin sees the IdP still calling."""
    issue_token(app)  # replaces ``token`` (no grace configured: revoked at once)
    assert post(client, token).status_code == 401
    tenant_id, method, reason = _last_refusal(app)
    assert reason == "token revoked"
    assert tenant_id is not None and method == "custom"


def test_a_guessed_secret_never_writes_to_a_company_trail(app, client, token):
    head, _, secret = token.rpartition(".")
    assert post(client, f"{head}.{'A' * len(secret)}").status_code == 401
    assert _last_refusal(app) == (None, None, "token secret mismatch")
