"""The settings page, product-grade (issue 21, points 1 to 10), server side (Flask test client).

The layout, focus and keyboard behaviour is tested in a real browser in ``test_admin_page_browser.py``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from examples.host_app.extensions import db as host_db
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from scim_plugin.storage.models import ScimGroupMapping, TenantSettings, Token

from .conftest import login
from .test_admin_page import (
    ACME,
    PAGE,
    RESET,
    TOKEN_RE,
    counts,
    field_error,
    generate,
    hidden,
    post_form,
    reset,
    scim_get,
    settings_form,
    workspace_id,
)

MAP = "/settings/admin/scim/groups/map"


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    assert login(client, *ACME).status_code == 302
    return client


def summary_of(page: str) -> str:
    """The error summary at the top of a refused form."""
    start = page.index('id="error-summary"')
    return page[page.rindex("<div", 0, start) : page.index("</div>", start)]


def saved_origin(app: Flask) -> str | None:
    with app.app_context():
        settings = host_db.session.execute(select(TenantSettings)).scalar_one_or_none()
        return settings.service_origin if settings else None


# --- 1. the service origin is a host, host:port or http(s) URL ---------------------------------------------


def test_an_origin_that_is_no_host_is_refused_in_product_words(admin: FlaskClient, app: Flask) -> None:
    response = post_form(admin, PAGE, settings_form(workspace_id(app, "acme", "Production"), "idp_example!!"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    message = field_error(page, "service_origin")
    assert "&#34;idp_example!!&#34; is not a host name" in message
    assert "host and port" in message and "http(s) URL" in message
    assert TOKEN_RE.search(page) is None
    assert counts(app) == (0, 0)
    # The hint says which forms are accepted before anything goes wrong.
    hint = re.search(r'id="service_origin-help">(.*?)</p>', admin.get(PAGE).get_data(as_text=True), re.S)
    assert hint and "host name" in hint.group(1) and "host and port" in hint.group(1)
    assert "http(s) URL" in hint.group(1)


@pytest.mark.parametrize(
    ("typed", "saved"),
    [
        ("Okta.Example.com", "okta.example.com"),
        ("idp.example.com:8443", "idp.example.com:8443"),
        ("https://IdP.example.com:8443/app/scim?x=1", "idp.example.com:8443"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ],
)
def test_hosts_host_ports_and_url_origins_are_saved(
    admin: FlaskClient, app: Flask, typed: str, saved: str
) -> None:
    response, token = generate(admin, app, origin=typed)
    assert saved_origin(app) == saved
    # The page tells the admin exactly what to send, and that value works.
    assert f"X-Request-Origin: {saved}" in response.get_data(as_text=True)
    assert scim_get(admin, token, origin=saved).status_code == 200


# --- 2. every bad allowlist entry is named, in product words ---------------------------------------------


def test_every_bad_allowlist_entry_is_named_without_parser_text(admin: FlaskClient, app: Flask) -> None:
    allowlist = "10.0.0.300\n10.0.0.0/8\nfoo"
    response = post_form(
        admin, PAGE, settings_form(workspace_id(app, "acme", "Production"), allowlist=allowlist)
    )
    assert response.status_code == 400
    message = field_error(response.get_data(as_text=True), "ip_allowlist")
    assert message == (
        "&#34;10.0.0.300&#34; is not an IP address, range or CIDR block; "
        "&#34;foo&#34; is not an IP address, range or CIDR block."
    )
    assert "Octet" not in message and "permitted" not in message
    assert counts(app) == (0, 0)


# --- 3. inputs in error are marked (the red border itself is checked in the browser) -----------------------


def test_text_inputs_in_error_sit_in_a_marked_field(admin: FlaskClient, app: Flask) -> None:
    response = post_form(admin, PAGE, settings_form(workspace_id(app, "acme", "Production"), "idp_example!!"))
    page = response.get_data(as_text=True)
    assert re.search(r'<div class="field has-error">\s*<label for="service_origin">', page)
    with admin.get("/settings/admin/scim/static/scim.css") as served:
        css = served.get_data(as_text=True)
    # As specific as ``.scim .field input[type=text]``, and after it: the red border wins.
    assert css.index(".scim .field.has-error input[type=text]") > css.index(".scim .field input[type=text]")


# --- 4. a refusal is not a use ---------------------------------------------------------------------------


def test_a_refused_call_does_not_hide_the_successful_calls_after_it(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    assert scim_get(admin, token, origin="wrong.example.com").status_code == 401
    with app.app_context():
        assert host_db.session.execute(select(Token.last_used_at)).scalar_one() is None
    assert scim_get(admin, token).status_code == 200
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Never used yet" not in page
    assert re.search(r"Last used</dt>\s*<dd><time[^>]*>[^<]+</time> from <code>127\.0\.0\.1</code>", page)


class TestRefusedAddress:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SCIM_TOKEN_LAST_USED_INTERVAL": 3600}

    def test_an_address_outside_the_allowlist_is_not_a_use(self, admin: FlaskClient, app: Flask) -> None:
        response = post_form(
            admin,
            PAGE,
            settings_form(workspace_id(app, "acme", "Production"), allowlist="203.0.113.0/24"),
        )
        token = TOKEN_RE.search(response.get_data(as_text=True)).group(0)
        assert scim_get(admin, token).status_code == 401  # from 127.0.0.1
        assert "Never used yet" in admin.get(PAGE).get_data(as_text=True)
        # Allow the address: the next call is recorded although the hour-long interval has not passed.
        post_form(
            admin,
            PAGE,
            settings_form(workspace_id(app, "acme", "Production"), allowlist="127.0.0.1", action="save"),
        )
        assert scim_get(admin, token).status_code == 200
        assert "Never used yet" not in admin.get(PAGE).get_data(as_text=True)


# --- 5. what the phone layout needs from the markup (the layout itself is checked in the browser) ------


def test_every_table_cell_names_its_column_for_the_phone_cards(admin: FlaskClient, app: Flask) -> None:
    from tests.conftest import ScimClient, issue_token

    token = issue_token(app)
    ScimClient(app.test_client(), token).post(
        "/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Provisioning-Administrators-Of-The-Northern-Region and friends",
        },
    )
    assert ScimClient(app.test_client(), token, origin="wrong.example").get("/Users").status_code == 401
    page = admin.get(PAGE).get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    for table in ("scim-activity", "scim-group-list"):
        body = page[page.index(f'id="{table}"') : page.index("</table>", page.index(f'id="{table}"'))]
        assert 'class="scim-activity stack"' in page and 'class="scim-table stack"' in page
        cells = re.findall(r"<td[^>]*>", body)
        assert cells
        assert all("data-label=" in cell or "row-actions" in cell for cell in cells), cells
    activity = page[page.index('id="scim-activity"') :]
    for label in ("Time (UTC)", "Request", "Status", "From", "Reason"):
        assert f'data-label="{label}"' in activity
    # Only a name with an overlong word may break inside a word.
    assert re.search(r'<th scope="row" class="group-name long-word">Provisioning-Administrators', page)


# --- 6. a stale or missing CSRF token re-renders the form --------------------------------------------------


@pytest.mark.parametrize("csrf", [None, "stale-token-from-an-old-session"])
def test_a_stale_form_is_shown_again_with_what_was_typed(
    admin: FlaskClient, app: Flask, csrf: str | None
) -> None:
    page = admin.get(PAGE).get_data(as_text=True)
    data = {
        **settings_form(workspace_id(app, "acme", "Staging"), "typed.example.com", "10.1.2.3"),
        "form_nonce": hidden(page, "form_nonce"),
    }
    if csrf is not None:
        data["csrf_token"] = csrf
    response = admin.post(PAGE, data=data)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "Bad Request" not in body
    assert "This form had expired" in summary_of(body)
    assert 'value="typed.example.com"' in body
    assert ">10.1.2.3</textarea>" in body
    staging = workspace_id(app, "acme", "Staging")
    assert f'<option value="{staging}" selected>' in body
    assert counts(app) == (0, 0)
    # The page carries a fresh, valid token: submitting it again works.
    again = admin.post(
        PAGE,
        data={**data, "csrf_token": hidden(body, "csrf_token"), "form_nonce": hidden(body, "form_nonce")},
    )
    assert again.status_code == 200 and TOKEN_RE.search(again.get_data(as_text=True))


def test_a_stale_reset_changes_nothing(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    page = admin.get(PAGE).get_data(as_text=True)
    response = admin.post(
        RESET, data={"csrf_token": "old", "form_nonce": hidden(page, "form_nonce"), "confirm": "yes"}
    )
    assert response.status_code == 400
    assert "This form had expired" in response.get_data(as_text=True)
    assert TOKEN_RE.search(response.get_data(as_text=True)) is None
    assert scim_get(admin, token).status_code == 200


def test_a_stale_group_mapping_keeps_what_was_chosen(admin: FlaskClient, app: Flask) -> None:
    from tests.conftest import ScimClient, issue_token

    scim = ScimClient(app.test_client(), issue_token(app))
    group = scim.post(
        "/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crew"}
    ).get_json()
    response = admin.post(
        MAP, data={"group_id": group["id"], "role": "Campaign Manager", "csrf_token": "old"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This form had expired" in summary_of(page)
    assert '<option value="Campaign Manager" selected>' in page  # the choice is kept, in the group's form
    assert 'id="map-group-form"' in page
    with app.app_context():
        assert host_db.session.execute(select(ScimGroupMapping)).first() is None  # nothing was mapped


# --- 7. PRG, and an error summary that names the fields -------------------------------------------------


def test_success_redirects_to_the_page_with_a_message(admin: FlaskClient, app: Flask) -> None:
    generate(admin, app)
    response = post_form(admin, PAGE, settings_form(workspace_id(app, "acme", "Staging"), action="save"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(PAGE)
    page = admin.get(PAGE).get_data(as_text=True)
    assert re.search(r'role="status">Settings saved\.', page)


def test_an_error_summary_names_each_field_with_a_link(admin: FlaskClient, app: Flask) -> None:
    response = post_form(admin, PAGE, settings_form("", origin="idp_example!!", allowlist="foo"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    summary = summary_of(page)
    opening = summary[: summary.index(">")]
    assert 'role="alert"' in opening and 'tabindex="-1"' in opening and "autofocus" in opening
    # It comes first, before the settings card.
    assert page.index('id="error-summary"') < page.index('id="settings-title"')
    for field, label in [
        ("default_workspace", "Default workspace"),
        ("service_origin", "Service origin"),
        ("ip_allowlist", "IP allowlist"),
    ]:
        assert re.search(rf'<a href="#{field}" data-focus="{field}"><strong>{label}:</strong> ', summary)
        assert f'id="{field}"' in page  # the link's target exists
    assert "3 problems" in summary
    # The history entry becomes the page's GET URL (no POST URL left in the address bar).
    assert f'data-replace-url="{PAGE}"' in page


def test_a_group_mapping_error_is_summarised_too(admin: FlaskClient, app: Flask) -> None:
    from tests.conftest import ScimClient, issue_token

    scim = ScimClient(app.test_client(), issue_token(app))
    group = scim.post(
        "/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crew"}
    ).get_json()
    response = post_form(admin, MAP, {"group_id": group["id"], "role": "Overlord"})
    assert response.status_code == 400
    summary = summary_of(response.get_data(as_text=True))
    assert '<a href="#map-role" data-focus="map-role"><strong>Role:</strong> No role' in summary
    assert f'data-replace-url="{PAGE}?group={group["id"]}"' in response.get_data(as_text=True)


# --- 8. one clear state after Generate / Reset ----------------------------------------------------------


def test_generate_shows_one_state_with_the_whole_token(admin: FlaskClient, app: Flask) -> None:
    response, token = generate(admin, app)
    page = response.get_data(as_text=True)
    assert page.count(token) == 1
    # The whole token in a wrapping block (no cut-off single-line input), with its copy button.
    assert re.search(
        rf'<textarea id="scim-token-new" readonly[^>]*class="mono token-block secret"[^>]*>{token}<',
        page,
    )
    assert 'data-copy="scim-token-new"' in page
    assert re.search(r'<textarea id="scim-endpoint-new" readonly[^>]*>http://localhost/scim/v2<', page)
    # No second "API access" panel with the masked token and another endpoint field.
    assert 'id="scim-credentials"' not in page
    assert 'id="scim-token-masked"' not in page
    assert 'id="scim-endpoint"' not in page
    assert "previous token" not in page.lower().split('id="scim-new-token"')[1].split("</section>")[0]
    # Shown once: the next GET shows the masked token only.
    again = admin.get(PAGE).get_data(as_text=True)
    assert token not in again and 'id="scim-token-masked"' in again


def test_reset_says_the_previous_token_stopped_working(admin: FlaskClient, app: Flask) -> None:
    _, old = generate(admin, app)
    response, new = reset(admin)
    page = response.get_data(as_text=True)
    note = re.search(r'id="previous-token-note">(.*?)</p>', page, re.S)
    assert note and "The previous token stopped working" in note.group(1)
    assert 'id="scim-credentials"' not in page
    assert scim_get(admin, old).status_code == 401
    assert scim_get(admin, new).status_code == 200


class TestResetWithGrace:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SCIM_TOKEN_ROTATION_GRACE": 3600}

    def test_reset_says_until_when_the_previous_token_works(self, admin: FlaskClient, app: Flask) -> None:
        _, old = generate(admin, app)
        response, _ = reset(admin)
        with app.app_context():
            expires = host_db.session.execute(
                select(Token.expires_at).where(Token.status == "grace")
            ).scalar_one()
        note = re.search(r'id="previous-token-note">(.*?)</p>', response.get_data(as_text=True), re.S)
        assert note and "keeps working until" in note.group(1)
        assert expires.strftime("%Y-%m-%d %H:%M UTC") in note.group(1)
        assert "1 hour grace period" in note.group(1)
        assert scim_get(admin, old).status_code == 200


def test_the_token_is_never_logged(admin: FlaskClient, app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    _, token = generate(admin, app)
    _, new = reset(admin)
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert token not in logged and new not in logged
    assert token[22:] not in logged


def test_an_issued_credential_keeps_its_token_out_of_its_repr() -> None:
    from scim_plugin.seam import IssuedCredential

    credential = IssuedCredential(token="scim_secret-value", token_id="tid", hint="alue")
    assert "secret-value" not in repr(credential) and "tid" in repr(credential)


# --- 9. favicon ------------------------------------------------------------------------------------------


def test_favicon_is_served_and_linked(admin: FlaskClient) -> None:
    with admin.get("/favicon.ico") as icon:
        assert icon.status_code == 200
        assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = admin.get(PAGE).get_data(as_text=True)
    links = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert links
    for href in links:
        with admin.get(href) as linked:
            assert linked.status_code == 200


def test_the_settings_menu_script_is_served(admin: FlaskClient) -> None:
    page = admin.get(PAGE).get_data(as_text=True)
    src = re.search(r'<script src="([^"]*host\.js)"', page)
    assert src
    with admin.get(src.group(1)) as served:
        script = served.get_data(as_text=True)
    assert '"Escape"' in script


# --- 10. framing and content security headers -----------------------------------------------------------


def _csp(response: Any) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize(
    "path", [PAGE, "/settings/admin/scim/static/scim.css", "/dashboard", "/users", "/login"]
)
def test_every_admin_and_host_page_refuses_framing(admin: FlaskClient, path: str) -> None:
    with admin.get(path) as response:
        assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = _csp(response)
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["script-src"] == "script-src 'self'"
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_refused_and_error_answers_carry_the_headers_too(admin: FlaskClient, app: Flask) -> None:
    response = post_form(admin, PAGE, settings_form("", origin=""))
    assert response.status_code == 400
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    stale = admin.post(PAGE, data=settings_form(""))
    assert stale.status_code == 400 and stale.headers["X-Frame-Options"] == "DENY"


def test_the_page_has_no_inline_script_or_style(admin: FlaskClient, app: Flask) -> None:
    # What the policy ('self' only) would block: inline <script>, <style>, style= and on*= handlers.
    for page in (admin.get(PAGE).get_data(as_text=True), generate(admin, app)[0].get_data(as_text=True)):
        assert not re.search(r"<script(?![^>]*\bsrc=)", page)
        assert "<style" not in page
        assert not re.search(r"\sstyle=", page)
        assert not re.search(r"\son[a-z]+=", page)


class TestCustomPolicy:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SCIM_ADMIN_CSP": "default-src 'self' https://cdn.example; frame-ancestors 'none'"}

    def test_a_host_can_widen_the_policy(self, admin: FlaskClient) -> None:
        response = admin.get(PAGE)
        assert response.headers["Content-Security-Policy"].startswith(
            "default-src 'self' https://cdn.example"
        )


def test_a_policy_without_frame_ancestors_is_refused(database_url: str, tmp_path: Any) -> None:
    from scim_plugin.config import ConfigError

    from .conftest import make_app

    with pytest.raises(ConfigError, match="SCIM_ADMIN_CSP"):
        make_app(database_url, tmp_path, SCIM_ADMIN_CSP="default-src 'self'")
