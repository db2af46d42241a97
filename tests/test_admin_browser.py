"""The "SCIM Provisioning" page in a real headless Chromium (Playwright), against a real HTTP server.

Needs Debian's Chromium and the ``playwright`` package (no browser download)::

    apt-get update && apt-get install -y chromium
    .venv/bin/pip install playwright        # also in the project's ``test`` extras

Without them the tests skip, except when ``CI`` is set: then they fail, so CI cannot go green without
having run them. Screenshots of the main states go to ``tests/artifacts/`` (git-ignored); the
"token generated" one is copied to ``docs/screenshot-token-generated.png`` for the README when
``UPDATE_DOCS_SCREENSHOT=1`` is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from examples.host_app.extensions import db as host_db
from examples.host_app.models import Company, User
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS_SCREENSHOT = Path(__file__).parents[1] / "docs" / "screenshot-token-generated.png"
ORIGIN = "okta.acme.example"
TOKEN_RE = re.compile(r"scim_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")


def _missing_requirements() -> list[str]:
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install playwright)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    return missing


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing_requirements()
    if missing:
        message = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set, so this is a failure, not a skip)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The test app on a real HTTP server on 127.0.0.1 (a random free port)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="admin-browser-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)
    httpd.server_close()


@pytest.fixture
def context(browser: Any, server: str) -> Iterator[Any]:
    ctx = browser.new_context(
        base_url=server, viewport={"width": 1280, "height": 900}, device_scale_factor=1, locale="en-US"
    )
    # An older Chromium may not know clipboard permissions: the test then checks the button's feedback.
    with contextlib.suppress(Exception):
        ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def scim_status(server: str, token: str, origin: str | None = ORIGIN) -> int:
    """GET /Users with the token, and ``X-Request-Origin`` unless ``origin`` is None (as Entra and Okta)."""
    headers = {"Authorization": f"Bearer {token}"}
    if origin is not None:
        headers["X-Request-Origin"] = origin
    request = urllib.request.Request(f"{server}/scim/v2/Users", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.load(response)
            return response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        exc.close()
        return exc.code


def sign_in(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(re.compile(r"/dashboard$"))


def open_from_menu(page: Any) -> None:
    page.get_by_text("Settings", exact=True).click()
    page.get_by_role("link", name="SCIM Provisioning").click()
    page.wait_for_url(re.compile(r"/settings/admin/scim/$"))


def make_user(app: Flask, email: str, password: str) -> None:
    with app.app_context():
        company_id = host_db.session.execute(select(Company.id).where(Company.slug == "acme")).scalar_one()
        user = User(company_id=company_id, email=email, given_name="Vera", family_name="Viewer")
        user.set_password(password)
        host_db.session.add(user)
        host_db.session.commit()


def watched_page(context: Any) -> tuple[Any, list[str]]:
    """A new page and the script errors it logs ("Failed to load resource" is not one: the 400
    validation answer logs it by design; ``test_admin_page_browser.py`` counts every console error)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    return page, errors


def test_admin_generates_copies_reloads_and_resets(context: Any, server: str) -> None:
    from playwright.sync_api import expect

    page, errors = watched_page(context)

    sign_in(page, "admin@acme.example", "acme-demo-password")
    open_from_menu(page)
    generate = page.get_by_role("button", name="Generate SCIM token")
    assert generate.is_disabled()
    shot(page, "admin-empty-form.png")

    # Invalid input: the server answers with errors next to the fields, keeping what was typed.
    page.get_by_label("Default workspace").select_option(label="Production")
    assert generate.is_disabled()
    page.get_by_label("Service origin").fill(ORIGIN)
    assert generate.is_enabled()
    page.get_by_label("IP allowlist").fill("10.0.0.0/8\nnot-an-address")
    generate.click()
    page.wait_for_selector("#ip_allowlist-error")
    assert "not-an-address" in page.locator("#ip_allowlist-error").inner_text()
    assert page.get_by_label("Service origin").input_value() == ORIGIN
    assert page.get_by_label("IP allowlist").get_attribute("aria-invalid") == "true"
    shot(page, "admin-validation-errors.png")

    # Emptying a required field disables the button again.
    page.get_by_label("Service origin").fill("")
    assert generate.is_disabled()
    page.get_by_label("Service origin").fill(ORIGIN)
    page.get_by_label("IP allowlist").fill("127.0.0.1, 10.0.0.0/8")
    # Keyboard only: Tab from the allowlist reaches the existing-users choice (its checked radio), the
    # next Tab the button, and Enter submits.
    page.get_by_label("IP allowlist").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("[document.activeElement.name, document.activeElement.value]") == [
        "existing_users",
        "manual",
    ]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "generate-token"
    page.keyboard.press("Enter")

    token_field = page.locator("#scim-token-new")
    token_field.wait_for()
    token = token_field.input_value()
    assert TOKEN_RE.fullmatch(token)
    endpoint = page.locator("#scim-endpoint-new").input_value()
    assert endpoint == f"{server}/scim/v2"
    assert page.get_by_text("Copy this token now.").is_visible()
    # The history entry now points at the page's GET URL (a reload will not resubmit).
    assert page.url == f"{server}/settings/admin/scim/"
    shot(page, "admin-token-generated.png")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        # Opt-in: refreshing the tracked README picture on every run would dirty the checkout.
        shutil.copyfile(ARTIFACTS / "admin-token-generated.png", DOCS_SCREENSHOT)

    copy = page.locator('[data-copy="scim-token-new"]')
    assert copy.get_attribute("aria-describedby") == "scim-token-new-copied"
    page.get_by_role("button", name="Copy SCIM token").click()
    expect(page.locator("#scim-token-new-copied")).to_have_text("Copied to the clipboard.")
    expect(copy).to_contain_text("Copied")
    try:
        clipboard = page.evaluate("navigator.clipboard.readText()")
    except Exception:  # clipboard not readable here; the feedback above is what the admin sees
        clipboard = None
    if clipboard is not None:
        assert clipboard == token

    assert scim_status(server, token) == 200
    assert scim_status(server, token, origin="evil.example") == 401

    # Reload: masked, never in full.
    page.reload()
    page.locator("#scim-token-masked").wait_for()
    assert token not in page.content()
    assert page.locator("#scim-token-new").count() == 0
    assert page.locator("#scim-token-masked").input_value().endswith(token[-4:])
    assert "wrong X-Request-Origin" in page.locator("#scim-activity").inner_text()
    shot(page, "admin-masked.png")

    # Going back after leaving the page: masked as well.
    page.get_by_role("link", name="Overview").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.go_back()
    page.locator("#scim-token-masked").wait_for()
    assert token not in page.content()

    # Reset: confirm dialog, new token shown once, the old one refused.
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Reset token").click()
    page.locator("#scim-token-new").wait_for()
    assert dialogs and "Reset the SCIM token?" in dialogs[0]
    new_token = page.locator("#scim-token-new").input_value()
    assert new_token != token
    assert scim_status(server, new_token) == 200
    assert scim_status(server, token) == 401
    shot(page, "admin-token-reset.png")

    page.reload()
    page.locator("#scim-token-masked").wait_for()
    assert new_token not in page.content()

    # Dismissing the confirmation changes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Disable SCIM provisioning").click()
    page.wait_for_timeout(300)
    assert page.locator("#scim-token-new").count() == 0
    assert scim_status(server, new_token) == 200
    assert errors == []


def test_admin_maps_a_group_on_the_page(app: Flask, context: Any, server: str) -> None:
    """Map a group through the real page (no JavaScript needed for it) and see the host follow."""
    from tests.conftest import ScimClient, issue_token

    scim = ScimClient(app.test_client(), issue_token(app))
    user = scim.post(
        "/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ivy@acme.example"},
    )
    assert user.status_code == 201
    group = scim.post(
        "/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Campaign Crew",
            "members": [{"value": user.get_json()["id"]}],
        },
    )
    assert group.status_code == 201

    page, errors = watched_page(context)
    sign_in(page, "admin@acme.example", "acme-demo-password")
    open_from_menu(page)
    row = page.locator("#scim-group-list tbody tr", has_text="Campaign Crew")
    assert "Not mapped" in row.inner_text()
    page.get_by_role("link", name="Map Campaign Crew").click()
    page.locator("#map-group-form").wait_for()

    page.get_by_label("Workspace (optional)", exact=True).select_option(label="Production")
    page.get_by_label("Permission set").select_option(label="Read Only")
    page.get_by_label("Role").select_option(label="Campaign Manager")
    page.get_by_role("checkbox", name="add_remove_app_groups").check()
    shot(page, "admin-group-mapping-form.png")
    page.get_by_role("button", name="Save mapping").click()

    notice = page.get_by_role("status").filter(has_text="Saved the mapping")
    notice.wait_for()
    assert notice.inner_text() == "Saved the mapping of \u201cCampaign Crew\u201d: 1 member updated."
    assert page.url.endswith("/settings/admin/scim/#scim-groups")
    assert "Workspace Production with permission set Read Only" in row.inner_text()
    assert "Role Campaign Manager" in row.inner_text()
    shot(page, "admin-group-mapped.png")
    with app.app_context():
        host = host_db.session.execute(select(User).where(User.email == "ivy@acme.example")).scalar_one()
        memberships = {
            m.workspace.name: m.permission_set.name if m.permission_set else None for m in host.memberships
        }
        assert memberships.get("Production") == "Read Only"
        assert [a.role.name for a in host.role_assignments] == ["Campaign Manager"]
        assert host.company_permissions == ["add_remove_app_groups"]

    # Remove it again: the confirmation dialog, then the group only records membership.
    page.get_by_role("link", name="Edit mapping Campaign Crew").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove mapping").click()
    page.get_by_role("status").filter(has_text="Removed the mapping").wait_for()
    assert "Not mapped" in row.inner_text()
    with app.app_context():
        host = host_db.session.execute(select(User).where(User.email == "ivy@acme.example")).scalar_one()
        assert host.role_assignments == [] and host.company_permissions == []
    assert errors == []


def test_non_admin_sees_no_menu_entry(app: Flask, context: Any, server: str) -> None:
    make_user(app, "viewer@acme.example", "viewer-password")
    page = context.new_page()
    sign_in(page, "viewer@acme.example", "viewer-password")
    page.get_by_text("Settings", exact=True).click()
    assert page.get_by_text("Only company administrators can change admin settings.").is_visible()
    assert page.get_by_role("link", name="SCIM Provisioning").count() == 0
    shot(page, "admin-non-admin.png")
    response = page.goto("/settings/admin/scim/")
    assert response is not None and response.status == 403
