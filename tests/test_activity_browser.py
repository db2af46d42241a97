"""The activity page in a real headless Chromium (Playwright), against a real HTTP server.

At desktop width and at 390 x 844: reached from the settings page, nothing scrolls sideways, the filters
work, and paging works by keyboard alone. Same requirements and skip rule as ``test_admin_browser.py``.
With ``UPDATE_DOCS_SCREENSHOT=1`` the desktop screenshot is copied to ``docs/screenshot-activity.png``.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

from flask import Flask

from scim_plugin.storage.models import utcnow
from tests import test_admin_browser as admin_browser
from tests.test_admin_browser import ARTIFACTS, shot, sign_in, watched_page

from .conftest import ORIGIN, ScimClient, issue_token
from .test_activity import add_records, tenant
from .test_admin_groups import new_group, new_user
from .test_admin_page import ACME

browser = admin_browser.browser
server = admin_browser.server
context = admin_browser.context

DOCS = ARTIFACTS.parents[1] / "docs"
ACTIVITY = "/settings/admin/scim/activity"
PHONE = {"width": 390, "height": 844}


def seed(app: Flask) -> None:
    """A month of trail: writes every day, refusals on some, a real user and group, admin actions."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for day in range(30):
        for i in range(1 + (day * 7) % 5):
            rows.append({"created_at": now - timedelta(days=day, minutes=i * 7 + 3)})
        if day in (2, 3, 11):
            rows.append(
                {
                    "created_at": now - timedelta(days=day, hours=2),
                    "status": 401,
                    "kind": "refusal",
                    "reason": "wrong X-Request-Origin",
                    "client_ip": "203.0.113.9",
                }
            )
    add_records(app, tenant(app), rows)
    scim = ScimClient(app.test_client(), issue_token(app))
    crew = [new_user(scim, f"person{i}@acme.example") for i in range(3)]
    new_group(scim, "Crew", crew)
    assert ScimClient(app.test_client(), scim.token, origin="evil.example").get("/Users").status_code == 401
    add_records(
        app,
        tenant(app),
        [
            {
                "created_at": utcnow(),
                "kind": "admin",
                "status": 200,
                "resource_type": None,
                "method": "POST",
                "path": "/settings/admin/scim/",
                "actor": ACME[0],
                "action": "settings.changed",
                "details": {"changes": {"service_origin": {"old": "old.example", "new": ORIGIN}}},
            }
        ],
    )


def overflow(page: Any) -> dict[str, int]:
    """How far the page's own content reaches past the viewport (0: nothing sticks out)."""
    return page.evaluate(
        """() => {
          const main = document.querySelector('.scim-activity-page');
          let right = 0;
          for (const el of main.querySelectorAll('*')) {
            const box = el.getBoundingClientRect();
            if (box.width) right = Math.max(right, box.right);
          }
          let header = 0;
          for (const el of document.querySelectorAll('body > header, body > header *')) {
            const box = el.getBoundingClientRect();
            if (box.width) header = Math.max(header, box.right);
          }
          return {content: Math.ceil(right) - window.innerWidth,
                  main: main.scrollWidth - main.clientWidth,
                  document: document.documentElement.scrollWidth - window.innerWidth,
                  header: Math.ceil(header) - window.innerWidth};
        }"""
    )


def rows(page: Any) -> list[str]:
    return page.locator("#activity-records tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.recordId)"
    )


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never got the focus")


def test_activity_page_at_desktop(app: Flask, context: Any, server: str) -> None:
    seed(app)
    page, errors = watched_page(context)
    sign_in(page, *ACME)
    page.goto("/settings/admin/scim/")
    page.get_by_role("link", name="All activity").click()
    page.wait_for_url(re.compile(r"/settings/admin/scim/activity$"))
    assert page.get_by_role("heading", name="SCIM activity").is_visible()
    chart = page.get_by_role("img", name="SCIM requests and refusals per day")
    assert chart.is_visible()
    assert page.locator("#activity-chart g.day").count() == 30
    assert len(rows(page)) == 50
    assert page.get_by_role("link", name="person0@acme.example").first.is_visible()
    assert page.get_by_text("X-Request-Origin did not match the service origin.").first.is_visible()
    assert page.get_by_text("Service origin: old.example \u2192 " + ORIGIN).is_visible()
    assert overflow(page)["document"] <= 0
    shot(page, "activity-desktop.png")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        page.screenshot(path=str(DOCS / "screenshot-activity.png"), full_page=False)

    # Filters: refusals only.
    page.get_by_label("Kind").select_option("refusal")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"kind=refusal"))
    kinds = page.locator("#activity-records tbody .kind-tag").all_inner_texts()
    assert kinds and set(kinds) == {"Refusal"} and len(kinds) == 4
    # The numbers open from the keyboard.
    page.locator(".activity-numbers summary").focus()
    page.keyboard.press("Enter")
    assert page.locator("#activity-per-day").is_visible()
    assert errors == []


def test_activity_page_at_phone_width_by_keyboard(app: Flask, browser: Any, server: str) -> None:
    seed(app)
    ctx = browser.new_context(base_url=server, viewport=PHONE, device_scale_factor=1, locale="en-US")
    ctx.set_default_timeout(10_000)
    try:
        page, errors = watched_page(ctx)
        sign_in(page, *ACME)
        page.goto(ACTIVITY)
        reach = overflow(page)
        assert reach["content"] <= 0 and reach["main"] <= 0, reach
        # Nothing of this page makes the document scroll sideways: only the host's header could (its
        # layout is the host's; once it fits, this is "no horizontal scroll" outright).
        assert reach["document"] <= max(reach["header"], 0), reach
        # Every column is still there, labelled, on each record's card (the admin action's, newest).
        first = page.locator("#activity-records tbody tr").first
        for label in ("Time (UTC)", "Kind", "What", "Resource", "Status", "By / from", "Details"):
            cell = first.locator(f'td[data-label="{label}"]')
            assert cell.is_visible()
            assert cell.evaluate("td => getComputedStyle(td, '::before').content") == f'"{label}"'
        assert first.get_by_text("Service origin: old.example \u2192 " + ORIGIN).is_visible()
        shot(page, "activity-phone.png")
        newest = rows(page)
        # Filters by keyboard: type a status class, submit with Enter.
        tab_to(page, "#filter-status")
        page.keyboard.type("4xx")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"status=4xx"))
        statuses = page.locator("#activity-records tbody .status").all_inner_texts()
        assert statuses and all(s.startswith("4") for s in statuses)
        assert overflow(page)["content"] <= 0
        # Paging by keyboard: back to everything, then Tab to "Older records" and press Enter.
        page.goto(ACTIVITY)
        tab_to(page, "#activity-older", limit=200)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"after="))
        older = rows(page)
        assert older and not set(older) & set(newest)
        assert max(int(i) for i in older) < max(int(i) for i in newest)
        assert overflow(page)["content"] <= 0
        assert errors == []
    finally:
        ctx.close()
