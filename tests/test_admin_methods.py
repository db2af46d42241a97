"""The settings page's provisioning methods (issue 18): tabs, IdP setup guides, switching with a
confirmation, Test connection and the per-method status panel. Driven through the real app."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from scim_plugin.storage.models import AuditRecord, TenantSettings, Token
from tests.conftest import ScimClient, issue_idp_token, login
from tests.test_admin_page import ACME, PAGE, TOKEN_RE, _company_id, generate, post_form, workspace_id
from tests.test_idp_replays import ENTRA_POST

TEST = "/settings/admin/scim/test-connection"


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    assert login(client, *ACME).status_code == 302
    return client


def idp_form(app: Flask, method: str, **extra: str) -> dict[str, str]:
    return {
        "provisioning_method": method,
        "default_workspace": workspace_id(app, "acme", "Production"),
        "ip_allowlist": "",
        "action": "generate",
        **extra,
    }


def generate_for(admin: FlaskClient, app: Flask, method: str, **extra: str) -> tuple[str, str]:
    response = post_form(admin, PAGE, idp_form(app, method, **extra))
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    (token,) = set(TOKEN_RE.findall(page))
    return page, token


def acme_id(app: Flask) -> str:
    return str(_company_id(app, "acme"))


def settings(app: Flask) -> TenantSettings:
    with app.app_context():
        row = app.extensions["scim"].db.session.get(TenantSettings, acme_id(app))
        assert row is not None
        app.extensions["scim"].db.session.expunge(row)
        return row


def test_three_tabs_custom_shown_until_a_method_is_chosen(admin: FlaskClient) -> None:
    page = admin.get(PAGE).get_data(as_text=True)
    for name, label in (("okta", "Okta"), ("entra", "Microsoft Entra ID"), ("custom", "Custom")):
        assert f'id="tab-{name}" href="/settings/admin/scim/?method={name}"' in page
        assert f">{label}</a>" in page
    assert 'aria-current="page" class="is-current">Custom' in page
    assert 'id="service_origin"' in page and 'id="scim-guide"' not in page


def test_entra_tab_is_a_setup_guide(admin: FlaskClient) -> None:
    page = admin.get(PAGE + "?method=entra").get_data(as_text=True)
    assert 'aria-current="page" class="is-current">Microsoft Entra ID' in page
    assert 'id="service_origin"' not in page  # Entra cannot send it: not asked
    guide = page[page.index('id="scim-guide"') :]
    assert '<code id="guide-tenant-url">http://localhost/scim/v2?aadOptscim062020</code>' in guide
    assert '<code id="guide-matching">userName</code>' in guide
    assert 'data-copy="guide-tenant-url"' in guide and 'data-copy="guide-matching"' in guide
    assert "Secret Token" in guide and "Generate a token above" in guide
    assert "userPrincipalName" in guide and "emails[type eq &#34;work&#34;].value" in guide
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" in guide


def test_okta_tab_is_a_setup_guide(admin: FlaskClient) -> None:
    guide = admin.get(PAGE + "?method=okta").get_data(as_text=True)
    guide = guide[guide.index('id="scim-guide"') :]
    assert '<code id="guide-base-url">http://localhost/scim/v2</code>' in guide
    assert '<code id="guide-unique-id">userName</code>' in guide
    assert '<code id="guide-auth-mode">HTTP Header</code>' in guide
    assert "Push New Users, Push Profile Updates, Push Groups" in guide
    for action in ("Create Users", "Update User\n      Attributes", "Deactivate Users"):
        assert action in guide


@pytest.mark.parametrize("method", ["entra", "okta"])
def test_generate_on_an_idp_tab(admin: FlaskClient, app: Flask, method: str) -> None:
    page, token = generate_for(admin, app, method, service_origin="ignored.example")
    assert page.count(token) == 1  # shown once, in the new-token card
    assert "It cannot send <code>X-Request-Origin</code>" in page
    saved = settings(app)
    assert (saved.provisioning_method, saved.service_origin) == (method, "")
    scim = ScimClient(admin, token, origin=None)
    assert scim.get("/Users").status_code == 200
    again = admin.get(PAGE).get_data(as_text=True)
    assert token not in again
    assert (
        f'aria-current="page" class="is-current">{ {"entra": "Microsoft Entra ID", "okta": "Okta"}[method] }'
        in again
    )
    assert "(in use)" in again and 'id="test-connection"' in again


def test_switching_asks_then_revokes_the_old_token_and_says_so(admin: FlaskClient, app: Flask) -> None:
    _, custom_token = generate(admin, app)
    custom = ScimClient(admin, custom_token)
    assert custom.get("/Users").status_code == 200
    page = admin.get(PAGE + "?method=entra").get_data(as_text=True)
    assert "This company provisions with\n      <strong>Custom</strong>" in page
    assert 'data-confirm="Switch this company to Microsoft Entra ID?' in page
    assert "Switch to Microsoft Entra ID and generate a token" in page
    # Without the confirmation (no script): the page asks, nothing changes.
    asked = post_form(admin, PAGE, idp_form(app, "entra"))
    body = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Switch this company to Microsoft Entra ID?" in body
    assert TOKEN_RE.search(body) is None
    assert settings(app).provisioning_method == "custom" and custom.get("/Users").status_code == 200
    # Confirmed: the Custom token stops at once, Entra gets its token, the page says so.
    page, entra_token = generate_for(admin, app, "entra", confirm="yes")
    assert "Switched from Custom to Microsoft Entra ID. The Custom token was revoked" in page
    assert custom.get("/Users").status_code == 401
    assert ScimClient(admin, entra_token, origin=None).get("/Users").status_code == 200
    with app.app_context():
        statuses = sorted(
            t.status for t in app.extensions["scim"].db.session.execute(select(Token)).scalars()
        )
    assert statuses == ["active", "revoked"]


def test_switching_back_to_custom_needs_an_origin(admin: FlaskClient, app: Flask) -> None:
    generate_for(admin, app, "okta")
    response = post_form(admin, PAGE, idp_form(app, "custom", confirm="yes", service_origin=""))
    assert response.status_code == 400
    assert "Enter the service origin" in response.get_data(as_text=True)
    assert settings(app).provisioning_method == "okta"  # nothing changed


@pytest.mark.parametrize("method", ["entra", "okta", "custom"])
def test_test_connection_succeeds_with_the_token(admin: FlaskClient, app: Flask, method: str) -> None:
    if method == "custom":
        _, token = generate(admin, app)
    else:
        _, token = generate_for(admin, app, method, ip_allowlist="203.0.113.0/24")
    response = post_form(admin, TEST, {"token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Connection works" in page, page
    results = page[page.index('id="test-results"') :]
    assert results.count('class="check-ok"') == {"entra": 2, "okta": 3, "custom": 2}[method]
    assert "check-bad" not in results and token not in page
    with app.app_context():
        row = app.extensions["scim"].db.session.execute(select(Token)).scalar_one()
        assert row.last_used_at is None  # the page's test is not the IdP calling


def test_test_connection_reports_a_wrong_token(admin: FlaskClient, app: Flask) -> None:
    _, token = generate_for(admin, app, "entra")
    page = post_form(admin, TEST, {"token": token[:-2] + "xx"}).get_data(as_text=True)
    assert "The connection test failed." in page and page.count('class="check-bad"') == 1
    assert "Refused: check the token you pasted here" in page
    empty = post_form(admin, TEST, {"token": ""}).get_data(as_text=True)
    assert "Paste the token you gave your identity provider" in empty


def test_test_connection_refuses_another_companys_token(admin: FlaskClient, app: Flask) -> None:
    generate_for(admin, app, "entra")
    globex_token = issue_idp_token(app, "entra", "globex", "--ip-allowlist", "203.0.113.9")
    page = post_form(admin, TEST, {"token": globex_token}).get_data(as_text=True)
    assert "The connection test failed." in page
    with app.app_context():
        record = app.extensions["scim"].db.session.execute(select(AuditRecord)).scalars().all()[-1]
    assert record.status == 401 and record.tenant_id == str(_company_id(app, "globex"))
    assert record.reason == "connection test: connection test with another company's token"


def test_test_connection_needs_csrf(admin: FlaskClient, app: Flask) -> None:
    _, token = generate_for(admin, app, "entra")
    assert admin.post(TEST, data={"token": token}).status_code == 400


def test_status_panel_tells_working_from_misconfigured(admin: FlaskClient, app: Flask) -> None:
    _, token = generate_for(admin, app, "entra")
    panel = _panel(admin)
    assert 'data-verdict="waiting"' in panel and "0 users, 0 groups" in panel
    scim = ScimClient(admin, token, origin=None)
    assert scim.post("/Users", json=ENTRA_POST).status_code == 201
    panel = _panel(admin)
    assert 'data-verdict="working"' in panel and "Connected and working" in panel
    assert "1 user, 0 groups" in panel
    # The operator narrows the allowlist; Entra's next call is refused and the panel says why.
    post_form(admin, PAGE, idp_form(app, "entra", action="save", ip_allowlist="203.0.113.0/24"))
    assert scim.get("/Users").status_code == 401
    panel = _panel(admin)
    assert 'data-verdict="failing"' in panel
    assert "The caller&#39;s address (127.0.0.1) is not in the IP allowlist." in panel
    # The other tabs are not in use and show nothing of Entra's.
    okta = _panel(admin, "okta")
    assert 'data-verdict="inactive"' in okta and "0 users" in okta and "method-refusals" not in okta


def _panel(client: FlaskClient, method: str | None = None) -> Any:
    page = client.get(PAGE + (f"?method={method}" if method else "")).get_data(as_text=True)
    start = page.index('id="scim-connection"')
    return page[start : page.index('id="scim-groups"')]
