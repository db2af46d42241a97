"""The provisioning-method tabs in a real headless Chromium (Playwright), against a real HTTP server.

An IdP admin's path: open each tab, generate a token on Entra ID, run Test connection and see it pass,
switch to Okta (confirming) and see the Entra token refused, then switch to Custom. Same requirements
and skip rule as ``test_admin_browser.py``. Screenshots go to ``tests/artifacts/``; with
``UPDATE_DOCS_SCREENSHOT=1`` they are copied to ``docs/`` for the README and the methods guide.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

from tests import test_admin_browser as admin_browser
from tests.test_admin_browser import ARTIFACTS, TOKEN_RE, shot, sign_in, watched_page

# The same browser, server and context fixtures as the page's other browser tests.
browser = admin_browser.browser
server = admin_browser.server
context = admin_browser.context

DOCS = ARTIFACTS.parents[1] / "docs"
PAGE = "/settings/admin/scim/"


def scim_status(base_url: str, token: str, origin: str | None = None) -> int:
    """GET /Users as an IdP of these methods sends it: no origin header unless given."""
    return admin_browser.scim_status(base_url, token, origin)


def docs_shot(page: Any, name: str) -> None:
    shot(page, name)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(ARTIFACTS / name, DOCS / name)


def accept_dialogs(page: Any) -> list[str]:
    messages: list[str] = []

    def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return messages


def test_idp_admin_sets_up_entra_tests_it_then_switches_to_okta_and_custom(context: Any, server: str) -> None:
    from playwright.sync_api import expect

    page, errors = watched_page(context)
    dialogs = accept_dialogs(page)
    sign_in(page, "admin@acme.example", "acme-demo-password")
    page.goto(PAGE)

    # Custom is the tab shown while no method is chosen; it asks for the service origin.
    expect(page.locator("#tab-custom")).to_have_attribute("aria-current", "page")
    expect(page.get_by_label("Service origin")).to_be_visible()
    docs_shot(page, "screenshot-tab-custom.png")

    # The tabs are links: reachable and followed with the keyboard alone.
    page.locator("#tab-custom").focus()
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "tab-entra"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "tab-okta"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?method=okta$"))
    expect(page.locator("#tab-okta")).to_have_attribute("aria-current", "page")
    guide = page.locator("#scim-guide")
    expect(guide).to_contain_text("SCIM connector base URL")
    expect(guide).to_contain_text("HTTP Header")
    assert page.get_by_label("Service origin").count() == 0  # Okta cannot send it: not asked
    docs_shot(page, "screenshot-tab-okta.png")

    # Entra ID: the guide's Tenant URL carries the recommended flag, and has a working copy button.
    page.locator("#tab-entra").click()
    page.wait_for_url(re.compile(r"\?method=entra$"))
    tenant_url = page.locator("#guide-tenant-url")
    expect(tenant_url).to_have_text(f"{server}/scim/v2?aadOptscim062020")
    page.locator('[data-copy="guide-tenant-url"]').click()
    expect(page.locator('[data-copy="guide-tenant-url"]')).to_contain_text("Copied")
    docs_shot(page, "screenshot-tab-entra.png")

    generate = page.get_by_role("button", name="Generate SCIM token")
    assert generate.is_disabled()
    page.get_by_label("Default workspace").select_option(label="Production")
    assert generate.is_enabled()
    generate.click()
    entra_token = page.locator("#scim-token-new").input_value()
    assert TOKEN_RE.fullmatch(entra_token)
    expect(page.locator("#tab-entra")).to_contain_text("(in use)")
    # Entra never sends X-Request-Origin: the token alone is accepted.
    assert scim_status(server, entra_token) == 200

    # Test connection: the token is filled in from the one just shown; Entra's calls all pass.
    assert page.locator("#test-token").input_value() == entra_token
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("Connection works")
    assert page.locator("#test-results li.check-bad").count() == 0
    assert page.locator("#test-results li.check-ok").count() >= 2
    assert entra_token not in page.content()  # the test's answer never echoes the token
    docs_shot(page, "screenshot-entra-test-connection.png")

    # A wrong token fails the test, and says why.
    page.locator("#test-token").fill(entra_token[:-4] + "AAAA")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("failed")
    assert page.locator("#test-results li.check-bad").count() >= 1

    # Switch to Okta: a confirmation first, then the Entra token is revoked and the page says so.
    page.locator("#tab-okta").click()
    expect(page.locator("#method-in-use")).to_contain_text("Microsoft Entra ID")
    page.get_by_label("Default workspace").select_option(label="Production")
    page.locator("#switch-method").click()
    okta_token_field = page.locator("#scim-token-new")
    okta_token_field.wait_for()
    assert dialogs and "Switch this company to Okta?" in dialogs[-1]
    expect(page.get_by_text(re.compile("Switched from Microsoft Entra ID to Okta"))).to_be_visible()
    okta_token = okta_token_field.input_value()
    assert okta_token != entra_token
    assert scim_status(server, entra_token) == 401
    assert scim_status(server, okta_token) == 200
    expect(page.locator("#tab-okta")).to_contain_text("(in use)")
    docs_shot(page, "screenshot-okta-switched.png")

    # Okta's own test passes too.
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection works")

    # Back to Custom: the origin is required again, the Okta token stops working.
    page.locator("#tab-custom").click()
    page.get_by_label("Default workspace").select_option(label="Production")
    page.get_by_label("Service origin").fill("scripts.acme.example")
    page.locator("#switch-method").click()
    page.locator("#scim-token-new").wait_for()
    assert "Switch this company to Custom?" in dialogs[-1]
    custom_token = page.locator("#scim-token-new").input_value()
    assert scim_status(server, okta_token) == 401
    assert scim_status(server, custom_token, origin="scripts.acme.example") == 200
    assert scim_status(server, custom_token) == 401  # Custom still needs the origin header

    # The status panel of the method in use lists both refusals with their reasons: the revoked Okta
    # token and the request without an origin header.
    page.goto(PAGE)
    refusals = page.locator("#method-refusals")
    expect(refusals).to_contain_text("revoked")
    expect(refusals).to_contain_text("no X-Request-Origin header")
    expect(page.locator("#method-status")).to_have_attribute("data-verdict", "failing")

    assert errors == []
