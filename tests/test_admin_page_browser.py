"""The settings page on any screen, in a real headless Chromium (issue 21): desktop and phone (390 x 844)
layouts, keyboard-only use, focus after a refused form, the Settings menu, the content security policy.

Same requirements, skip rule and fixtures as ``test_admin_browser.py``. Screenshots of each state
(initial, form error, token generated, after reset; desktop and phone) go to ``tests/artifacts/``; with
``UPDATE_DOCS_SCREENSHOT=1`` they are copied to ``docs/`` for the README.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests import test_admin_browser as admin_browser
from tests.test_admin_browser import ARTIFACTS, TOKEN_RE, sign_in

browser = admin_browser.browser
server = admin_browser.server

DOCS = ARTIFACTS.parents[1] / "docs"
PAGE = "/settings/admin/scim/"
ORIGIN = "okta.acme.example"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: A group name with one word longer than a phone's column, and one of ordinary words.
LONG_TOKEN = "Provisioning-Administrators-Of-The-Northern-Region-Subsidiaries"
WORDY = "Customer Success and Support Escalations Europe"


def make_context(browser: Any, server: str, viewport: dict[str, int]) -> Any:
    ctx = browser.new_context(base_url=server, viewport=viewport, device_scale_factor=1, locale="en-US")
    ctx.set_default_timeout(10_000)
    return ctx


@pytest.fixture(params=["desktop", "phone"])
def screen(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Any, server: str, screen: str) -> Iterator[Any]:
    ctx = make_context(browser, server, DESKTOP if screen == "desktop" else PHONE)
    opened = ctx.new_page()
    problems: list[str] = []
    # Every console error counts here, CSP violations ("Refused to ...") and 404s included.
    opened.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    opened.on("pageerror", lambda exc: problems.append(str(exc)))
    opened.problems = problems
    yield opened
    ctx.close()


def docs_shot(page: Any, name: str, top: str | None = None) -> None:
    """What the admin sees of a state: the viewport, from the top or from ``top`` (kept small)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    if top is not None:
        page.locator(top).evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(ARTIFACTS / name), full_page=False)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(ARTIFACTS / name, DOCS / name)


def overflowing(page: Any) -> list[str]:
    """Elements reaching past the viewport's right edge (what makes a page scroll sideways)."""
    return page.evaluate(
        """() => { const w = document.documentElement.clientWidth; const out = [];
        for (const el of document.querySelectorAll('body *')) {
          const r = el.getBoundingClientRect();
          if (r.width && r.right > w + 1 && getComputedStyle(el).position !== 'fixed')
            out.push(el.tagName + '#' + el.id + '.' + el.className + ' ' + Math.round(r.right));
        } return out.slice(0, 10); }"""
    )


def assert_no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, (scroll, overflowing(page))


def assert_fully_visible(page: Any, selector: str) -> None:
    """Inside the viewport horizontally and not clipped by a scrolling or hidden-overflow ancestor."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    width = page.evaluate("document.documentElement.clientWidth")
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box)
    clipped = page.locator(selector).first.evaluate(
        """el => { const r = el.getBoundingClientRect();
        for (let p = el.parentElement; p; p = p.parentElement) {
          const s = getComputedStyle(p);
          if (s.overflowX !== 'visible') { const q = p.getBoundingClientRect();
            if (r.left < q.left - 1 || r.right > q.right + 1) return true; } }
        return false; }"""
    )
    assert not clipped, selector


def seed(app: Flask) -> str:
    """A token, two groups (one with a very long word), and audited requests, refusals included."""
    from tests.conftest import ScimClient, issue_token

    token = issue_token(app, "acme", ORIGIN)
    scim = ScimClient(app.test_client(), token, origin=ORIGIN)
    for name in (LONG_TOKEN, WORDY):
        created = scim.post(
            "/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}
        )
        assert created.status_code == 201
    assert ScimClient(app.test_client(), token, origin="wrong.example").get("/Users").status_code == 401
    return token


def test_no_sideways_scroll_menu_reachable_tables_readable(app: Flask, page: Any, screen: str) -> None:
    seed(app)
    sign_in(page, "admin@acme.example", "acme-demo-password")
    for host_page in ("/dashboard", "/users", "/workspaces", "/settings/admin"):  # the host's pages too
        page.goto(host_page)
        assert_no_sideways_scroll(page)
    page.goto(PAGE)
    assert_no_sideways_scroll(page)

    # The header: user name, Sign out and the Settings menu are on screen, and the menu opens on it.
    for selector in (".who-name", "form[action='/logout'] button", ".menu summary"):
        assert_fully_visible(page, selector)
    page.locator(".menu summary").click()
    assert_fully_visible(page, "#admin-settings-menu a")
    assert_no_sideways_scroll(page)
    page.keyboard.press("Escape")

    # Groups: names wrap between words; only the overlong word may break; the Map buttons are whole.
    wordy = page.locator("#scim-group-list th", has_text="Customer Success")
    assert "long-word" not in (wordy.get_attribute("class") or "")
    text_lines = wordy.evaluate(
        """el => { const words = el.textContent.trim().split(/\\s+/); const range = document.createRange();
        const node = el.firstChild; let pos = node.textContent.indexOf(words[0]); const tops = new Set();
        for (const w of words) { pos = node.textContent.indexOf(w, pos);
          range.setStart(node, pos); range.setEnd(node, pos + w.length);
          const rects = range.getClientRects(); if (rects.length !== 1) return -1;  // a word broken in two
          tops.add(Math.round(rects[0].top)); pos += w.length; }
        return tops.size; }"""
    )
    assert text_lines >= 1  # -1: a word was split across lines
    if screen == "phone":
        assert text_lines >= 2  # it did wrap, between words
    assert "long-word" in (
        page.locator("#scim-group-list th", has_text="Provisioning").get_attribute("class") or ""
    )
    for button in page.locator("#scim-group-list a.btn").all():
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= page.evaluate("innerWidth")
    assert_fully_visible(page, "#scim-group-list a.btn")

    # Activity: every column's value is on screen (cards under the breakpoint, a table above it).
    row = page.locator("#scim-activity tbody tr.row-error").first
    for label in ("Status", "From", "Reason"):
        cell = row.locator(f"td[data-label='{label}']")
        assert cell.is_visible()
        box = cell.bounding_box()
        assert box and box["x"] + box["width"] <= page.evaluate("innerWidth") + 1, (label, box)
    assert "wrong X-Request-Origin" in row.inner_text()
    if screen == "phone":
        assert row.evaluate("el => getComputedStyle(el).display") == "block"  # stacked as a card
    assert page.problems == []


def test_each_state_on_screen_with_screenshots(page: Any, screen: str) -> None:
    from playwright.sync_api import expect

    sign_in(page, "admin@acme.example", "acme-demo-password")
    page.goto(PAGE)
    assert_no_sideways_scroll(page)
    docs_shot(page, f"screenshot-{screen}-initial.png")

    # A refused form: the error summary takes the focus and names each field; the address bar is the
    # page's; the text input in error has the red border.
    page.get_by_label("Default workspace").select_option(label="Production")
    page.get_by_label("Service origin").fill("idp_example!!")
    page.get_by_label("IP allowlist").fill("10.0.0.300\nfoo")
    page.get_by_role("button", name="Generate SCIM token").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    expect(summary).to_be_focused()
    assert page.url.endswith(PAGE)
    assert "is not a host name" in summary.inner_text()
    assert '"10.0.0.300" is not an IP address, range or CIDR block; "foo"' in summary.inner_text()
    border = page.get_by_label("Service origin").evaluate("el => getComputedStyle(el).borderTopColor")
    assert border == "rgb(229, 62, 62)"
    assert_no_sideways_scroll(page)
    docs_shot(page, f"screenshot-{screen}-form-error.png")
    # Its link puts the cursor in the field.
    summary.get_by_role("link", name=re.compile("Service origin")).click()
    assert page.evaluate("document.activeElement.id") == "service_origin"

    page.get_by_label("Service origin").fill(ORIGIN)
    page.get_by_label("IP allowlist").fill("")
    page.get_by_role("button", name="Generate SCIM token").click()
    token_box = page.locator("#scim-token-new")
    token_box.wait_for()
    token = token_box.input_value()
    assert TOKEN_RE.fullmatch(token)
    # The whole token is in view: its box neither scrolls nor cuts it off.
    sizes = token_box.evaluate("el => [el.scrollWidth, el.clientWidth, el.scrollHeight, el.clientHeight]")
    assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3] + 1, sizes
    for box in ("#scim-token-new", "#scim-endpoint-new"):
        assert_fully_visible(page, box)
        scroll_width, width = page.locator(box).evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert scroll_width <= width, box
    assert_fully_visible(page, "[data-copy='scim-token-new']")
    assert page.locator("#scim-credentials").count() == 0  # one state: no masked panel beside it
    assert_no_sideways_scroll(page)
    docs_shot(page, f"screenshot-{screen}-token-generated.png", top="#scim-new-token")

    page.get_by_role("link", name="I have copied the token").click()
    page.locator("#scim-token-masked").wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reset token").click()
    page.locator("#previous-token-note").wait_for()
    assert "The previous token stopped working" in page.locator("#previous-token-note").inner_text()
    assert page.locator("#scim-token-new").input_value() != token
    assert_no_sideways_scroll(page)
    docs_shot(page, f"screenshot-{screen}-after-reset.png", top="#scim-new-token")
    # The refused form's 400 is logged as a failed load by design; nothing else may be.
    assert [text for text in page.problems if "status of 400" not in text] == []


def test_keyboard_only_from_the_top_of_the_page_to_a_token(page: Any, screen: str) -> None:
    sign_in(page, "admin@acme.example", "acme-demo-password")
    page.goto(PAGE)
    page.locator("body").focus()
    # Tab from the top until the workspace field has the focus (links and tabs on the way).
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "default_workspace":
            break
    else:
        pytest.fail("Tab never reached the default workspace field")
    page.keyboard.press("ArrowDown")  # select the first workspace
    assert page.evaluate("document.activeElement.value") != ""
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "service_origin"
    page.keyboard.type(ORIGIN)
    for _ in range(6):  # allowlist, the existing-users choice, then the button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "generate-token":
            break
    assert page.evaluate("document.activeElement.id") == "generate-token"
    page.keyboard.press("Enter")
    page.locator("#scim-token-new").wait_for()
    assert TOKEN_RE.fullmatch(page.locator("#scim-token-new").input_value())
    assert page.problems == []


def test_escape_closes_the_settings_menu_and_returns_focus(page: Any) -> None:
    sign_in(page, "admin@acme.example", "acme-demo-password")
    page.goto(PAGE)
    summary = page.locator(".menu summary")
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator(".menu details").evaluate("el => el.open")
    page.keyboard.press("Tab")  # into the menu
    assert page.evaluate("!!document.activeElement.closest('#admin-settings-menu')")
    page.keyboard.press("Escape")
    assert not page.locator(".menu details").evaluate("el => el.open")
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    assert page.problems == []


def test_headers_forbid_framing_and_the_page_violates_no_policy(page: Any, server: str) -> None:
    # Every document reports what its policy blocked to the console (an init script is not subject to it).
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    sign_in(page, "admin@acme.example", "acme-demo-password")
    response = page.goto(PAGE)
    assert response is not None
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.locator("#tab-okta").click()
    page.wait_for_url(re.compile(r"method=okta$"))
    page.locator("#tab-custom").click()
    page.wait_for_url(re.compile(r"method=custom$"))
    assert page.problems == []  # no violation, no failed load, no script error

    # Framed by another page: the browser refuses to render it.
    page.set_content(f'<iframe id="framed" src="{server}{PAGE}"></iframe>')
    page.wait_for_timeout(500)
    assert page.frame_locator("#framed").locator("#scim-title").count() == 0
    assert any("frame-ancestors" in text for text in page.problems), page.problems
