"""The "SCIM Provisioning" admin page, server side (Flask test client)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from examples.host_app.extensions import db as host_db
from examples.host_app.models import Company, User, Workspace
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import func, select

from scim_plugin.storage.models import AuditRecord, ScimUser, TenantSettings, Token

from .conftest import login

PAGE = "/settings/admin/scim/"
RESET = "/settings/admin/scim/reset"
DISABLE = "/settings/admin/scim/disable"
ORIGIN = "idp.example.com"
ACME = ("admin@acme.example", "acme-demo-password")
GLOBEX = ("admin@globex.example", "globex-demo-password")
TOKEN_RE = re.compile(r"scim_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")


# --- helpers ---------------------------------------------------------------------------------------------


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name} on the page"
    return match.group(1)


WORKSPACE = {"acme": "Production", "globex": "Main"}


def workspace_id(app: Flask, company: str, name: str) -> str:
    with app.app_context():
        return str(
            host_db.session.execute(
                select(Workspace.id)
                .join(Company, Company.id == Workspace.company_id)
                .where(Company.slug == company, Workspace.name == name)
            ).scalar_one()
        )


def post_form(client: FlaskClient, url: str, data: dict[str, str]) -> Any:
    """POST ``data`` with the CSRF token and a fresh one-time nonce from the page."""
    page = client.get(PAGE).get_data(as_text=True)
    fields = {"csrf_token": hidden(page, "csrf_token"), "form_nonce": hidden(page, "form_nonce")}
    return client.post(url, data={**fields, **data})


def settings_form(
    workspace: str, origin: str = ORIGIN, allowlist: str = "", action: str = "generate"
) -> dict:
    return {
        "default_workspace": workspace,
        "service_origin": origin,
        "ip_allowlist": allowlist,
        "action": action,
    }


def generate(client: FlaskClient, app: Flask, origin: str = ORIGIN, company: str = "acme") -> tuple[Any, str]:
    response = post_form(client, PAGE, settings_form(workspace_id(app, company, WORKSPACE[company]), origin))
    assert response.status_code == 200, response.get_data(as_text=True)
    tokens = TOKEN_RE.findall(response.get_data(as_text=True))
    assert len(set(tokens)) == 1, tokens
    return response, tokens[0]


def reset(client: FlaskClient) -> tuple[Any, str]:
    response = post_form(client, RESET, {"confirm": "yes"})
    assert response.status_code == 200
    tokens = TOKEN_RE.findall(response.get_data(as_text=True))
    assert len(set(tokens)) == 1
    return response, tokens[0]


def scim_get(client: FlaskClient, token: str, origin: str = ORIGIN, path: str = "/scim/v2/Users") -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}", "X-Request-Origin": origin})


def make_user(app: Flask, email: str, password: str, company: str = "acme", admin: bool = False) -> None:
    with app.app_context():
        company_id = host_db.session.execute(select(Company.id).where(Company.slug == company)).scalar_one()
        user = User(company_id=company_id, email=email, company_permissions=["admin"] if admin else [])
        user.set_password(password)
        host_db.session.add(user)
        host_db.session.commit()


def counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (
            host_db.session.execute(select(func.count()).select_from(TenantSettings)).scalar_one(),
            host_db.session.execute(select(func.count()).select_from(Token)).scalar_one(),
        )


def field_error(page: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    assert match, f"no error shown for {field}"
    return match.group(1)


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    assert login(client, *ACME).status_code == 302
    return client


# --- access ----------------------------------------------------------------------------------------------


def test_menu_entry_visible_for_admin(admin: FlaskClient) -> None:
    page = admin.get("/dashboard").get_data(as_text=True)
    assert f'href="{PAGE}" data-menu-key="scim-provisioning">SCIM Provisioning</a>' in page


def test_non_admin_has_no_menu_entry_and_gets_403(app: Flask, client: FlaskClient) -> None:
    make_user(app, "viewer@acme.example", "viewer-password")
    assert login(client, "viewer@acme.example", "viewer-password").status_code == 302
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert "SCIM Provisioning" not in dashboard.get_data(as_text=True)
    assert "scim-provisioning" not in dashboard.get_data(as_text=True)
    assert client.get(PAGE).status_code == 403
    for url in (PAGE, RESET, DISABLE):
        assert client.post(url, data=settings_form("1")).status_code == 403
    assert counts(app) == (0, 0)


def test_signed_out_gets_401(client: FlaskClient, app: Flask) -> None:
    response = client.get(PAGE)
    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
    for url in (PAGE, RESET, DISABLE):
        assert client.post(url, data={"confirm": "yes"}).status_code in (302, 401)
    assert counts(app) == (0, 0)


def test_admin_page_renders_inside_the_host_layout(admin: FlaskClient) -> None:
    response = admin.get(PAGE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="admin-settings-menu"' in page  # the host's menu
    assert '<h1 id="scim-title">SCIM Provisioning</h1>' in page
    assert "Not configured" in page
    assert '<label for="default_workspace">' in page
    assert '<label for="service_origin">' in page
    assert '<label for="ip_allowlist">' in page
    assert "CIDR" in page  # allowlist formats explained
    assert 'id="generate-token"' in page
    # Everything is served locally: no CDN.
    assert not re.search(r'(src|href)="(https?:)?//', page)


# --- CSRF and resubmission ------------------------------------------------------------------------------


def test_post_without_csrf_is_refused_and_saves_nothing(admin: FlaskClient, app: Flask) -> None:
    page = admin.get(PAGE).get_data(as_text=True)
    form = settings_form(workspace_id(app, "acme", "Production"))
    assert admin.post(PAGE, data=form).status_code == 400
    assert admin.post(PAGE, data={**form, "csrf_token": "forged"}).status_code == 400
    assert admin.post(PAGE, data={**form, "form_nonce": hidden(page, "form_nonce")}).status_code == 400
    assert counts(app) == (0, 0)


def test_csrf_token_from_another_session_is_refused(app: Flask, admin: FlaskClient) -> None:
    other = app.test_client()
    login(other, *ACME)
    page = other.get(PAGE).get_data(as_text=True)
    form = settings_form(workspace_id(app, "acme", "Production"))
    response = admin.post(
        PAGE,
        data={**form, "csrf_token": hidden(page, "csrf_token"), "form_nonce": hidden(page, "form_nonce")},
    )
    assert response.status_code == 400
    assert counts(app) == (0, 0)


def test_resubmitted_generate_does_not_issue_again(admin: FlaskClient, app: Flask) -> None:
    page = admin.get(PAGE).get_data(as_text=True)
    data = {
        **settings_form(workspace_id(app, "acme", "Production")),
        "csrf_token": hidden(page, "csrf_token"),
        "form_nonce": hidden(page, "form_nonce"),
    }
    first = admin.post(PAGE, data=data)
    token = TOKEN_RE.search(first.get_data(as_text=True)).group(0)
    # What a browser sends on "reload" / "Confirm Form Resubmission": the very same form.
    again = admin.post(PAGE, data=data)
    assert again.status_code == 303
    assert again.headers["Location"].endswith(PAGE)
    assert counts(app) == (1, 1)
    follow = admin.get(PAGE).get_data(as_text=True)
    assert "already been submitted" in follow
    assert token not in follow
    assert scim_get(admin, token).status_code == 200


def test_resubmitted_reset_does_not_issue_again(admin: FlaskClient, app: Flask) -> None:
    generate(admin, app)
    page = admin.get(PAGE).get_data(as_text=True)
    data = {
        "csrf_token": hidden(page, "csrf_token"),
        "form_nonce": hidden(page, "form_nonce"),
        "confirm": "yes",
    }
    first = admin.post(RESET, data=data)
    token = TOKEN_RE.search(first.get_data(as_text=True)).group(0)
    again = admin.post(RESET, data=data)
    assert again.status_code == 303
    assert TOKEN_RE.search(again.get_data(as_text=True)) is None
    assert scim_get(admin, token).status_code == 200  # the token shown once is still the live one
    with app.app_context():
        assert host_db.session.execute(select(func.count()).select_from(Token)).scalar_one() == 2


def test_each_page_view_gets_its_own_nonce(admin: FlaskClient, app: Flask) -> None:
    # Two tabs: both forms stay usable, each once.
    tab1 = admin.get(PAGE).get_data(as_text=True)
    tab2 = admin.get(PAGE).get_data(as_text=True)
    assert hidden(tab1, "form_nonce") != hidden(tab2, "form_nonce")
    form = settings_form(workspace_id(app, "acme", "Production"), action="save")
    for tab in (tab1, tab2):
        data = {**form, "csrf_token": hidden(tab, "csrf_token"), "form_nonce": hidden(tab, "form_nonce")}
        response = admin.post(PAGE, data=data)
        assert response.status_code == 303
        assert "Settings saved." in admin.get(PAGE).get_data(as_text=True)


# --- validation ------------------------------------------------------------------------------------------


def test_validation_errors_per_field_keep_what_was_typed(admin: FlaskClient, app: Flask) -> None:
    response = post_form(
        admin,
        PAGE,
        settings_form("999999", origin="https://  bad origin", allowlist="10.0.0.0/8\nnot-an-ip"),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "No workspace" in field_error(page, "default_workspace")
    assert "999999" in field_error(page, "default_workspace")
    assert "whitespace" in field_error(page, "service_origin")
    assert "not-an-ip" in field_error(page, "ip_allowlist")
    # What the admin typed is kept.
    assert 'value="https://  bad origin"' in page
    assert ">10.0.0.0/8\nnot-an-ip</textarea>" in page
    # The fields are marked for assistive technology.
    assert page.count('aria-invalid="true"') == 3
    assert 'aria-describedby="service_origin-help service_origin-error"' in page
    assert TOKEN_RE.search(page) is None
    assert counts(app) == (0, 0)


def test_required_fields_are_enforced_by_the_server(admin: FlaskClient, app: Flask) -> None:
    response = post_form(admin, PAGE, settings_form("", origin="   "))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose the workspace" in field_error(page, "default_workspace")
    assert field_error(page, "service_origin")
    assert counts(app) == (0, 0)


def test_workspace_of_another_company_is_unknown(admin: FlaskClient, app: Flask) -> None:
    response = post_form(admin, PAGE, settings_form(workspace_id(app, "globex", "Main")))
    assert response.status_code == 400
    assert "No workspace" in field_error(response.get_data(as_text=True), "default_workspace")
    assert counts(app) == (0, 0)


def test_valid_allowlist_formats_are_saved(admin: FlaskClient, app: Flask) -> None:
    allowlist = "203.0.113.7, 2001:db8::1\n10.0.0.0/8\n10.0.0.1-10.0.0.50"
    generate_response = post_form(
        admin, PAGE, settings_form(workspace_id(app, "acme", "Staging"), "Okta.Example.com/", allowlist)
    )
    assert generate_response.status_code == 200
    with app.app_context():
        settings = host_db.session.get(TenantSettings, str(_company_id(app, "acme")))
        assert settings.service_origin == "okta.example.com"
        assert settings.default_workspace_name == "Staging"
        for entry in ("203.0.113.7", "2001:db8::1", "10.0.0.0/8", "10.0.0.1-10.0.0.50"):
            assert entry in settings.ip_allowlist


def _company_id(app: Flask, slug: str) -> int:
    with app.app_context():
        return host_db.session.execute(select(Company.id).where(Company.slug == slug)).scalar_one()


# --- generate, show once, reload ------------------------------------------------------------------------


def test_generate_shows_token_once_and_it_works(admin: FlaskClient, app: Flask) -> None:
    response, token = generate(admin, app)
    assert "no-store" in response.headers["Cache-Control"]
    page = response.get_data(as_text=True)
    assert ">http://localhost/scim/v2</textarea>" in page  # absolute endpoint, whole
    assert page.count(token) == 1
    assert 'data-copy="scim-token-new"' in page
    assert 'data-copy="scim-endpoint-new"' in page
    assert "shown\n      only once" in page or "shown only once" in page
    # The page rewrites its history entry to the GET URL so reload does not resubmit.
    assert f'data-replace-url="{PAGE}"' in page

    assert scim_get(admin, token).status_code == 200
    assert scim_get(admin, token, origin="other.example.com").status_code == 401

    # Reload / open again: masked, never in full.
    again = admin.get(PAGE)
    assert "no-store" in again.headers["Cache-Control"]
    reloaded = again.get_data(as_text=True)
    assert token not in reloaded
    assert token[-4:] in reloaded  # the masked form shows the hint
    assert "scim_••••••" + token[-4:] in reloaded
    assert TOKEN_RE.search(reloaded) is None
    assert "Enabled" in reloaded
    assert 'id="reset-token"' in reloaded and 'id="disable-scim"' in reloaded


def test_status_shows_creator_and_last_use(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    page = admin.get(PAGE).get_data(as_text=True)
    assert "by admin@acme.example" in page
    assert "Never used yet" in page
    assert scim_get(admin, token).status_code == 200
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Never used yet" not in page
    assert re.search(r"Last used</dt>\s*<dd><time[^>]*>[^<]+</time> from <code>127\.0\.0\.1</code>", page)


def test_generate_does_not_replace_a_live_token(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    response = post_form(admin, PAGE, settings_form(workspace_id(app, "acme", "Production")))
    assert response.status_code == 303
    assert "Reset token" in admin.get(PAGE).get_data(as_text=True)
    assert scim_get(admin, token).status_code == 200
    assert counts(app) == (1, 1)


def test_saving_settings_keeps_the_token(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    response = post_form(
        admin, PAGE, settings_form(workspace_id(app, "acme", "Staging"), "new.example.com", action="save")
    )
    assert response.status_code == 303
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Settings saved." in page
    assert 'value="new.example.com"' in page
    assert scim_get(admin, token, origin="new.example.com").status_code == 200
    assert scim_get(admin, token, origin=ORIGIN).status_code == 401


# --- reset -----------------------------------------------------------------------------------------------


def test_reset_asks_for_confirmation_first(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    response = post_form(admin, RESET, {})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Reset the SCIM token?" in page
    assert TOKEN_RE.search(page) is None
    assert scim_get(admin, token).status_code == 200
    assert counts(app) == (1, 1)


def test_reset_issues_a_new_token_and_the_old_stops_working(admin: FlaskClient, app: Flask) -> None:
    _, old = generate(admin, app)
    response, new = reset(admin)
    assert new != old
    assert "no-store" in response.headers["Cache-Control"]
    page = response.get_data(as_text=True)
    assert old not in page
    assert "The previous token stopped working" in page
    assert scim_get(admin, new).status_code == 200
    assert scim_get(admin, old).status_code == 401
    assert new not in admin.get(PAGE).get_data(as_text=True)


class TestRotationGrace:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SCIM_TOKEN_ROTATION_GRACE": 300}

    def test_old_token_works_during_the_grace_period(self, admin: FlaskClient, app: Flask) -> None:
        page = admin.get(PAGE).get_data(as_text=True)
        _, old = generate(admin, app)
        page = admin.get(PAGE).get_data(as_text=True)
        assert "keeps working for 5 minutes" in page
        response, new = reset(admin)
        # The one token state says until when the previous token still works.
        note = re.search(r'id="previous-token-note">(.*?)</p>', response.get_data(as_text=True), re.S)
        assert note and "The previous token keeps working until" in note.group(1)
        assert "5 minutes grace period" in note.group(1)
        assert scim_get(admin, new).status_code == 200
        assert scim_get(admin, old).status_code == 200
        page = admin.get(PAGE).get_data(as_text=True)
        assert "Previous token" in page
        assert "scim_••••••" + old[-4:] in page
        assert old not in page and new not in page

    def test_only_the_token_just_replaced_keeps_its_grace(self, admin: FlaskClient, app: Flask) -> None:
        _, first = generate(admin, app)
        _, second = reset(admin)
        _, third = reset(admin)
        assert scim_get(admin, third).status_code == 200
        assert scim_get(admin, second).status_code == 200
        assert scim_get(admin, first).status_code == 401


# --- disable ---------------------------------------------------------------------------------------------


def test_disable_revokes_the_token_and_keeps_settings_and_users(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app, origin="okta.example.com")
    created = admin.post(
        "/scim/v2/Users",
        json={"userName": "jane@acme.example", "name": {"givenName": "Jane", "familyName": "Doe"}},
        headers={"Authorization": f"Bearer {token}", "X-Request-Origin": "okta.example.com"},
    )
    assert created.status_code == 201, created.get_data(as_text=True)

    # Without a confirmation answer nothing happens yet.
    asked = post_form(admin, DISABLE, {})
    assert asked.status_code == 200
    assert "Disable SCIM provisioning?" in asked.get_data(as_text=True)
    assert scim_get(admin, token, "okta.example.com").status_code == 200

    response = post_form(admin, DISABLE, {"confirm": "yes"})
    assert response.status_code == 303
    assert scim_get(admin, token, "okta.example.com").status_code == 401
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Disabled" in page
    assert "provisioning is disabled" in page.lower()
    assert 'value="okta.example.com"' in page  # settings kept
    assert 'id="generate-token"' in page
    with app.app_context():
        settings = host_db.session.get(TenantSettings, str(_company_id(app, "acme")))
        assert settings is not None and settings.service_origin == "okta.example.com"
        assert host_db.session.execute(
            select(ScimUser).where(ScimUser.user_name == "jane@acme.example")
        ).scalar_one_or_none()
        assert host_db.session.execute(
            select(User).where(User.email == "jane@acme.example")
        ).scalar_one_or_none()

    # Generating again turns it back on with a new token.
    _, again = generate(admin, app, origin="okta.example.com")
    assert scim_get(admin, again, "okta.example.com").status_code == 200


# --- audit activity --------------------------------------------------------------------------------------


def test_refused_requests_appear_with_their_reason(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    assert admin.get(PAGE).get_data(as_text=True).count("No SCIM requests yet") == 1
    assert scim_get(admin, token, origin="evil.example.com").status_code == 401
    page = admin.get(PAGE).get_data(as_text=True)
    table = page[page.index('id="scim-activity"') :]
    assert "wrong X-Request-Origin" in table
    assert "/scim/v2/Users" in table
    assert ">401<" in table
    assert "127.0.0.1" in table
    with app.app_context():
        assert host_db.session.execute(select(func.count()).select_from(AuditRecord)).scalar_one() >= 1


# --- escaping --------------------------------------------------------------------------------------------


def test_allowlist_error_echo_is_escaped(admin: FlaskClient, app: Flask) -> None:
    response = post_form(
        admin, PAGE, settings_form(workspace_id(app, "acme", "Production"), allowlist="<b>x</b>")
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in field_error(page, "ip_allowlist")
    assert ">&lt;b&gt;x&lt;/b&gt;</textarea>" in page


@pytest.mark.parametrize("origin", ["<script>alert(1)</script>", 'x"onmouseover="alert(1)'])
def test_service_origin_is_escaped_wherever_it_appears(admin: FlaskClient, app: Flask, origin: str) -> None:
    response = post_form(admin, PAGE, settings_form(workspace_id(app, "acme", "Production"), origin=origin))
    page = response.get_data(as_text=True)
    if response.status_code == 400:  # validation may reject it: then it is echoed, escaped
        assert field_error(page, "service_origin")
    else:
        assert response.status_code == 200
        page += admin.get(PAGE).get_data(as_text=True)
    assert origin not in page
    assert str(escape(origin)) in page


def test_audited_path_is_escaped(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    scim_get(admin, token, origin="evil.example.com", path="/scim/v2/Users/%3Cimg%20src=x%3E")
    page = admin.get(PAGE).get_data(as_text=True)
    assert "<img src=x>" not in page
    assert "/scim/v2/Users/&lt;img src=x&gt;" in page


# --- tenants ---------------------------------------------------------------------------------------------


def test_each_admin_sees_only_their_company(app: Flask, admin: FlaskClient) -> None:
    _, acme_token = generate(admin, app, origin="acme-idp.example.com")
    scim_get(admin, acme_token, origin="wrong.example.com")

    globex = app.test_client()
    assert login(globex, *GLOBEX).status_code == 302
    page = globex.get(PAGE).get_data(as_text=True)
    assert "acme-idp.example.com" not in page
    assert "Not configured" in page
    assert "wrong X-Request-Origin" not in page
    assert "admin@acme.example" not in page
    globex_workspaces = set(re.findall(r'<option value="(\d+)"', page))
    acme_page = admin.get(PAGE).get_data(as_text=True)
    assert globex_workspaces.isdisjoint(re.findall(r'<option value="(\d+)"', acme_page))

    _, globex_token = generate(globex, app, origin="globex-idp.example.com", company="globex")
    # Globex's reset does not touch acme's token.
    reset(globex)
    assert scim_get(admin, acme_token, origin="acme-idp.example.com").status_code == 200
    assert scim_get(globex, globex_token, origin="globex-idp.example.com").status_code == 401
    assert "globex-idp.example.com" not in admin.get(PAGE).get_data(as_text=True)


def test_admin_of_another_company_cannot_act_on_acme(app: Flask, admin: FlaskClient) -> None:
    _, acme_token = generate(admin, app)
    globex = app.test_client()
    login(globex, *GLOBEX)
    post_form(globex, DISABLE, {"confirm": "yes"})
    assert scim_get(admin, acme_token).status_code == 200
