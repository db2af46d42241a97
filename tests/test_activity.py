"""The admin's trail: admin actions on the audit trail, and the activity page (Flask test client).

Every admin action writes its record, with the admin and the old and new values, in the transaction of
the change; the activity page pages a company's records with a signed keyset cursor, filters them, names
their resources and draws the last 30 days.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from examples.host_app.extensions import db as host_db
from examples.host_app.models import User
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select, update

from scim_plugin import hookimpl
from scim_plugin.storage.models import AuditRecord, ScimUser, utcnow

from .conftest import ScimClient, login
from .test_admin_groups import MAP, UNMAP, mapping, new_group, new_user, submit
from .test_admin_methods import idp_form
from .test_admin_page import (
    ACME,
    DISABLE,
    GLOBEX,
    PAGE,
    _company_id,
    generate,
    make_user,
    post_form,
    reset,
    settings_form,
    workspace_id,
)
from .test_groups_scale import statements

ACTIVITY = "/settings/admin/scim/activity"
STALE_CURSOR = (
    "That page link is not valid (changed, expired or from another company): showing the newest records."
)


# --- helpers ---------------------------------------------------------------------------------------------


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    assert login(client, *ACME).status_code == 302
    return client


def tenant(app: Flask, slug: str = "acme") -> str:
    return str(_company_id(app, slug))


def records(app: Flask, **where: Any) -> list[AuditRecord]:
    with app.app_context():
        session = app.extensions["scim"].db.session
        query = select(AuditRecord).order_by(AuditRecord.id)
        for name, value in where.items():
            query = query.where(getattr(AuditRecord, name) == value)
        rows = list(session.execute(query).scalars())
        session.expunge_all()
        return rows


def admin_actions(app: Flask) -> list[AuditRecord]:
    return records(app, kind="admin")


def add_records(app: Flask, tenant_id: str, rows: list[dict[str, Any]]) -> None:
    """Audit rows written directly, to control their times (defaults: a 201 write of /Users)."""
    with app.app_context():
        session = app.extensions["scim"].db.session
        for row in rows:
            session.add(
                AuditRecord(
                    **{
                        "tenant_id": tenant_id,
                        "method": "POST",
                        "path": "/scim/v2/Users",
                        "status": 201,
                        "kind": "write",
                        "resource_type": "User",
                        **row,
                    }
                )
            )
        session.commit()


def row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-record-id="(\d+)"', page)]


def older_link(page: str) -> str | None:
    match = re.search(r'<a href="([^"]+)" id="activity-older"', page)
    return match.group(1).replace("&amp;", "&") if match else None


def problems(page: str) -> list[str]:
    block = re.search(r'id="activity-problems">(.*?)</div>', page, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1)) if block else []


def get_page(client: FlaskClient, query: str = "") -> tuple[int, str]:
    response = client.get(ACTIVITY + query)
    return response.status_code, response.get_data(as_text=True)


# --- admin actions on the trail ----------------------------------------------------------------------------


def test_generate_records_settings_and_token_with_the_admin(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    settings_changed, generated = admin_actions(app)
    assert (settings_changed.action, generated.action) == ("settings.changed", "token.generated")
    for record in (settings_changed, generated):
        assert record.actor == ACME[0] and record.actor_id and record.tenant_id == tenant(app)
        assert (record.kind, record.method, record.path) == ("admin", "POST", PAGE)
    changes = settings_changed.details["changes"]
    assert changes["service_origin"] == {"old": None, "new": "idp.example.com"}
    assert changes["default_workspace_name"] == {"old": None, "new": "Production"}
    assert generated.token_id and token.startswith(f"scim_{generated.token_id}")
    assert generated.details == {"hint": token[-4:]}
    # Never the token, nor its secret part, anywhere in a record.
    secret = token.rsplit(".", 1)[1]
    dumped = json.dumps([(r.details, r.reason, r.path) for r in records(app)])
    assert token not in dumped and secret not in dumped


def test_changed_settings_name_old_and_new_values_only(admin: FlaskClient, app: Flask) -> None:
    generate(admin, app)
    before = len(admin_actions(app))
    staging = workspace_id(app, "acme", "Staging")
    response = post_form(
        admin, PAGE, settings_form(staging, "okta.acme.example", "10.0.0.0/8", action="save")
    )
    assert response.status_code == 303
    (changed,) = admin_actions(app)[before:]
    assert changed.action == "settings.changed"
    assert changed.details["changes"] == {
        "default_workspace_name": {"old": "Production", "new": "Staging"},
        "default_workspace_id": {"old": workspace_id(app, "acme", "Production"), "new": staging},
        "service_origin": {"old": "idp.example.com", "new": "okta.acme.example"},
        "ip_allowlist": {"old": "", "new": "10.0.0.0/8"},
    }
    # Saving the same values again records nothing.
    post_form(admin, PAGE, settings_form(staging, "okta.acme.example", "10.0.0.0/8", action="save"))
    assert len(admin_actions(app)) == before + 1


def test_refused_settings_write_no_record(admin: FlaskClient, app: Flask) -> None:
    """The record is in the change's transaction: a form error rolls both back."""
    generate(admin, app)
    before = len(admin_actions(app))
    bad = post_form(admin, PAGE, settings_form(workspace_id(app, "acme", "Production"), allowlist="nope"))
    assert bad.status_code == 400
    assert len(admin_actions(app)) == before


def test_policy_change_is_its_own_record(admin: FlaskClient, app: Flask) -> None:
    generate(admin, app)
    before = len(admin_actions(app))
    form = {
        **settings_form(workspace_id(app, "acme", "Production"), action="save"),
        "existing_users": "match",
    }
    assert post_form(admin, PAGE, form).status_code == 303
    (policy,) = admin_actions(app)[before:]
    assert policy.action == "policy.changed" and policy.actor == ACME[0]
    assert policy.details["changes"] == {"existing_users": {"old": "manual", "new": "match"}}
    assert isinstance(policy.details["users"], int)


def test_reset_and_disable_are_recorded(admin: FlaskClient, app: Flask) -> None:
    generate(admin, app)
    _, new_token = reset(admin)
    assert post_form(admin, DISABLE, {"confirm": "yes"}).status_code == 303
    *_, reset_record, disabled = admin_actions(app)
    assert reset_record.action == "token.reset" and reset_record.details == {"hint": new_token[-4:]}
    assert new_token.startswith(f"scim_{reset_record.token_id}")
    assert disabled.action == "provisioning.disabled" and disabled.details == {"revoked_tokens": 1}
    assert {reset_record.actor, disabled.actor} == {ACME[0]}


def test_method_switch_is_recorded_with_old_and_new_method(admin: FlaskClient, app: Flask) -> None:
    generate(admin, app)
    before = len(admin_actions(app))
    response = post_form(admin, PAGE, idp_form(app, "entra", confirm="yes"))
    assert response.status_code == 200
    new = admin_actions(app)[before:]
    assert [r.action for r in new] == ["settings.changed", "method.switched", "token.generated"]
    assert new[1].details == {
        "changes": {"provisioning_method": {"old": "custom", "new": "entra"}},
        "revoked_tokens": 1,
    }
    assert new[0].details["changes"]["service_origin"] == {"old": "idp.example.com", "new": ""}


def test_mapping_saved_and_removed_are_recorded(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    scim = ScimClient(app.test_client(), token)
    group_id = new_group(scim, "Crew", [new_user(scim, "u0@acme.example")])
    assert submit(admin, MAP, group_id, mapping(role="Campaign Manager")).status_code == 303
    staging = workspace_id(app, "acme", "Staging")
    assert submit(admin, MAP, group_id, mapping(staging, permissions="view_campaigns")).status_code == 303
    assert submit(admin, UNMAP, group_id, {"confirm": "yes"}).status_code == 303
    first, second, removed = [r for r in admin_actions(app) if r.action.startswith("mapping.")]
    assert [r.action for r in (first, second, removed)] == [
        "mapping.saved",
        "mapping.saved",
        "mapping.removed",
    ]
    for record in (first, second, removed):
        assert (record.resource_type, record.resource_id, record.actor) == ("Group", group_id, ACME[0])
        assert record.details["group"] == "Crew"
    assert first.details["old"] is None and first.details["new"]["role"] == "Campaign Manager"
    assert second.details["old"]["role"] == "Campaign Manager"
    assert second.details["new"]["workspace"] == "Staging" and second.details["new"]["role"] is None
    assert removed.details["old"]["permissions"] == ["view_campaigns"] and removed.details["new"] is None


# --- the kinds of request records ---------------------------------------------------------------------------


def test_requests_are_recorded_with_their_kind_and_resource_type(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    scim = ScimClient(app.test_client(), token)
    user_id = new_user(scim, "kind@acme.example")
    group_id = new_group(scim, "Kinds")
    assert scim.get("/Users/missing").status_code == 404
    assert scim.post("/Users/.search", json={"filter": 'userName eq "x"'}).status_code == 200
    assert ScimClient(app.test_client(), token, origin="evil.example").get("/Users").status_code == 401
    assert ScimClient(app.test_client(), token).delete(f"/Users/{user_id}").status_code == 204
    found = [(r.kind, r.resource_type, r.method, r.status) for r in records(app) if r.kind != "admin"]
    assert found == [
        ("write", "User", "POST", 201),
        ("write", "Group", "POST", 201),
        ("read", "User", "GET", 404),
        ("refusal", "User", "GET", 401),
        ("write", "User", "DELETE", 204),
    ]
    assert [r.resource_id for r in records(app, kind="write")] == [user_id, group_id, user_id]


# --- the activity page ----------------------------------------------------------------------------------


def test_page_needs_a_company_admin_and_sends_the_admin_headers(client: FlaskClient, app: Flask) -> None:
    assert client.get(ACTIVITY).status_code == 401
    make_user(app, "viewer@acme.example", "viewer-password")
    assert login(client, "viewer@acme.example", "viewer-password").status_code == 302
    assert client.get(ACTIVITY).status_code == 403
    client.post("/logout")
    assert login(client, *ACME).status_code == 302
    response = client.get(ACTIVITY)
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("no-store")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "No activity yet" in response.get_data(as_text=True)


def test_settings_page_links_to_the_activity_page(admin: FlaskClient, app: Flask) -> None:
    page = admin.get(PAGE).get_data(as_text=True)
    assert f'<a href="{ACTIVITY}" id="scim-activity-link">' in page
    # Its "Recent SCIM activity" keeps to SCIM requests: admin actions are on the activity page.
    generate(admin, app)
    assert admin_actions(app)
    page = admin.get(PAGE).get_data(as_text=True)
    assert "No SCIM requests yet" in page


def test_page_shows_every_kind_in_words_newest_first(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    scim = ScimClient(app.test_client(), token)
    new_user(scim, "words@acme.example")
    assert ScimClient(app.test_client(), token, origin="evil.example").get("/Users").status_code == 401
    status, page = get_page(admin)
    assert status == 200
    ids = row_ids(page)
    assert ids == sorted(ids, reverse=True) and len(ids) == len(records(app))
    assert "Generated a SCIM token" in page and "Changed the settings" in page
    assert "Service origin: (none) \u2192 idp.example.com" in page
    assert escape(ACME[0]) in page
    # The refusal says why in words (the status panel's wording).
    assert "X-Request-Origin did not match the service origin." in page
    assert page.count('class="kind-tag kind-tag-refusal"') == 1
    assert page.count('class="kind-tag kind-tag-write"') == 1


def test_resources_are_named_and_linked_in_one_query_per_type(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    scim = ScimClient(app.test_client(), token)
    kept = new_user(scim, "kept@acme.example")
    gone = new_user(scim, "gone@acme.example")
    group_id = new_group(scim, "Linked", [kept])
    assert scim.delete(f"/Users/{gone}").status_code == 204
    with app.app_context():
        host_id = host_db.session.execute(
            select(User.id).where(User.email == "kept@acme.example")
        ).scalar_one()
    _, page = get_page(admin)
    assert f'<a href="/users/{host_id}">kept@acme.example</a>' in page
    assert f'User {gone} <span class="muted">(deleted)</span>' in page
    assert f'<a href="{PAGE}?group={group_id}#scim-groups">Linked</a>' in page

    def users_and_groups_queries() -> int:
        with statements(app) as seen:
            assert admin.get(ACTIVITY).status_code == 200
        return sum(1 for s in seen if re.search(r"FROM scim_(users|groups)\b", s))

    few = users_and_groups_queries()
    for i in range(12):
        new_user(scim, f"more{i}@acme.example")
    assert users_and_groups_queries() == few == 2  # one per resource type, however many rows


def test_hook_scim_host_user_url(admin: FlaskClient, app: Flask, register: Any) -> None:
    _, token = generate(admin, app)
    new_user(ScimClient(app.test_client(), token), "hooked@acme.example")

    class Elsewhere:
        @hookimpl(tryfirst=True)
        def scim_host_user_url(self, tenant_id: str, host_user_id: str) -> str:
            return f"https://people.example/{tenant_id}/{host_user_id}"

    plugin = register(Elsewhere())
    _, page = get_page(admin)
    assert re.search(rf'<a href="https://people.example/{tenant(app)}/\d+">hooked@acme.example</a>', page)
    app.extensions["scim"].pm.unregister(plugin)
    # The example host's page: /users/<id>; it has none for an id it did not make (its hook says None).
    _, page = get_page(admin)
    assert re.search(r'<a href="/users/\d+">hooked@acme.example</a>', page)
    with app.app_context():
        session = app.extensions["scim"].db.session
        session.execute(
            update(ScimUser).where(ScimUser.user_name == "hooked@acme.example").values(host_user_id="ext-7")
        )
        session.commit()
    _, page = get_page(admin)
    assert ">hooked@acme.example<" in page and ">hooked@acme.example</a>" not in page


# --- paging -----------------------------------------------------------------------------------------------


def test_cursor_pages_through_equal_times_without_repeats_or_gaps(admin: FlaskClient, app: Flask) -> None:
    start = utcnow().replace(microsecond=0) - timedelta(hours=1)
    # 130 records, three at each time: page boundaries fall inside groups of equal timestamps.
    add_records(app, tenant(app), [{"created_at": start + timedelta(seconds=i // 3)} for i in range(130)])
    expected = [r.id for r in sorted(records(app), key=lambda r: (r.created_at, r.id), reverse=True)]
    seen: list[int] = []
    url: str | None = ACTIVITY
    pages = 0
    while url:
        with statements(app) as sql:
            response = admin.get(url)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        (paging,) = [q for q in sql if "FROM scim_audit" in q and "ORDER BY" in q]
        # Keyset: a later page starts after the last record shown (never an offset into the trail).
        assert ("scim_audit.created_at <=" in paging) == (pages > 0) and "LIMIT" in paging
        seen.extend(row_ids(page))
        url = older_link(page)
        pages += 1
        # Written meanwhile: newer records never shift the older pages.
        add_records(app, tenant(app), [{"created_at": utcnow()}])
    assert pages == 3 and seen == expected
    assert len(set(seen)) == 130


def test_cursor_is_opaque_and_tamper_safe(admin: FlaskClient, app: Flask) -> None:
    add_records(app, tenant(app), [{"created_at": utcnow() - timedelta(minutes=i)} for i in range(60)])
    _, first = get_page(admin)
    cursor = parse_qs(urlsplit(older_link(first)).query)["after"][0]
    assert str(max(row_ids(first))) not in cursor.split(".")[0]  # not a plain id
    status, second = get_page(admin, f"?after={cursor}")
    assert status == 200 and len(row_ids(second)) == 10
    for bad in (
        cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),
        "garbage",
        "x" * 600,
        "WzFd.abc",
    ):
        status, page = get_page(admin, f"?after={bad}")
        assert status == 400
        assert problems(page) == [STALE_CURSOR]
        assert row_ids(page) == row_ids(first)  # the newest records instead


def test_cursor_and_records_stay_within_the_company(client: FlaskClient, app: Flask) -> None:
    add_records(
        app, tenant(app, "acme"), [{"created_at": utcnow() - timedelta(minutes=i)} for i in range(55)]
    )
    add_records(
        app,
        tenant(app, "globex"),
        [{"created_at": utcnow() - timedelta(minutes=i), "path": "/globex"} for i in range(3)],
    )
    assert login(client, *ACME).status_code == 302
    _, acme_page = get_page(client)
    acme_ids = set(row_ids(acme_page))
    cursor = parse_qs(urlsplit(older_link(acme_page)).query)["after"][0]
    assert "/globex" not in acme_page
    client.post("/logout")
    assert login(client, *GLOBEX).status_code == 302
    status, globex_page = get_page(client)
    assert status == 200 and len(row_ids(globex_page)) == 3 and not acme_ids & set(row_ids(globex_page))
    status, page = get_page(client, f"?after={cursor}")
    assert status == 400 and "from another company" in problems(page)[0]
    assert set(row_ids(page)) == set(row_ids(globex_page))


# --- filters ----------------------------------------------------------------------------------------------


@pytest.fixture
def mixed(app: Flask) -> dict[str, int]:
    """One record of each shape on known days: returns their ids by name."""
    acme = tenant(app)
    base = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    add_records(
        app,
        acme,
        [
            {"created_at": base, "status": 201},
            {"created_at": base + timedelta(days=1), "status": 409, "reason": "userName already exists"},
            {"created_at": base + timedelta(days=2), "status": 401, "kind": "refusal",
             "reason": "wrong X-Request-Origin"},
            {"created_at": base + timedelta(days=3), "status": 201, "resource_type": "Group",
             "path": "/scim/v2/Groups"},
            {"created_at": base + timedelta(days=4), "status": 200, "kind": "admin", "resource_type": None,
             "action": "token.reset", "actor": "admin@acme.example", "path": PAGE},
        ],
    )  # fmt: skip
    names = ("created", "conflict", "refused", "group", "admin")
    return {name: r.id for name, r in zip(names, records(app), strict=True)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?kind=write", ["group", "conflict", "created"]),
        ("?kind=refusal", ["refused"]),
        ("?kind=admin", ["admin"]),
        ("?status=409", ["conflict"]),
        ("?status=4xx", ["refused", "conflict"]),
        ("?status=2XX&kind=write", ["group", "created"]),
        ("?type=Group", ["group"]),
        ("?type=User", ["refused", "conflict", "created"]),
        ("?from=2026-11-12", ["admin", "group", "refused"]),
        ("?to=2026-11-11", ["conflict", "created"]),
        ("?from=2026-11-11&to=2026-11-12", ["refused", "conflict"]),
        ("?from=2026-11-11&to=2026-11-13&kind=write&type=Group", ["group"]),
        ("?kind=", ["admin", "group", "refused", "conflict", "created"]),
    ],
)
def test_each_filter(admin: FlaskClient, mixed: dict[str, int], query: str, expected: list[str]) -> None:
    status, page = get_page(admin, query)
    assert status == 200, problems(page)
    assert row_ids(page) == [mixed[name] for name in expected]


def test_a_bad_cursor_keeps_good_filters(admin: FlaskClient, app: Flask) -> None:
    add_records(app, tenant(app), [{"created_at": utcnow() - timedelta(minutes=i)} for i in range(3)])
    add_records(app, tenant(app), [{"created_at": utcnow(), "status": 409}])
    status, page = get_page(admin, "?status=409&after=forged")
    assert status == 400 and problems(page) == [STALE_CURSOR]
    assert len(row_ids(page)) == 1 and 'value="409"' in page and "Clear filters" in page


def test_filters_are_kept_by_the_older_link(admin: FlaskClient, app: Flask) -> None:
    add_records(
        app, tenant(app), [{"created_at": utcnow() - timedelta(minutes=i), "status": 409} for i in range(60)]
    )
    add_records(app, tenant(app), [{"created_at": utcnow() - timedelta(minutes=i)} for i in range(5)])
    _, first = get_page(admin, "?status=409")
    link = older_link(first)
    assert link is not None and "status=409" in link
    second = admin.get(link).get_data(as_text=True)
    assert len(row_ids(first)) == 50 and len(row_ids(second)) == 10
    assert 'value="409"' in second


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?kind=everything", "Kind: choose API write, Refusal, Admin action, API read."),
        ("?status=abc", "Status: give an HTTP status such as 409, or a class such as 4xx."),
        ("?status=999", "Status: give an HTTP status such as 409, or a class such as 4xx."),
        ("?type=Widget", "Resource: choose User or Group."),
        ("?from=yesterday", "From: give a date as YYYY-MM-DD."),
        ("?to=2026-13-45", "To: give a date as YYYY-MM-DD."),
        ("?from=2026-11-12&to=2026-11-10", "From is after To: swap the dates."),
        ("?to=9999-12-31&from=0001-01-01", None),
    ],
)
def test_bad_filter_values_give_a_message(
    admin: FlaskClient, mixed: dict[str, int], query: str, message: str | None
) -> None:
    status, page = get_page(admin, query)
    if message is None:  # the extreme dates are valid
        assert status == 200 and len(row_ids(page)) == 5
        return
    assert status == 400 and problems(page) == [escape(message)]
    assert len(row_ids(page)) == 5  # everything, unfiltered


# --- the picture ------------------------------------------------------------------------------------------


def test_chart_counts_requests_and_refusals_per_day(admin: FlaskClient, app: Flask) -> None:
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    acme = tenant(app)
    add_records(
        app,
        acme,
        [
            *({"created_at": today + timedelta(minutes=i)} for i in range(3)),
            {"created_at": today + timedelta(minutes=5), "kind": "refusal", "status": 401},
            {
                "created_at": today - timedelta(days=3),
                "kind": "refusal",
                "status": 403,
            },  # day -3's first moment
            {"created_at": today - timedelta(days=2) - timedelta(microseconds=1)},  # last moment of day -3
            {"created_at": today - timedelta(days=29)},  # the first day shown
            {"created_at": today - timedelta(days=30)},  # too old
            {"created_at": today, "kind": "admin", "status": 200, "action": "token.reset"},  # no request
        ],
    )
    add_records(app, tenant(app, "globex"), [{"created_at": today}])  # another company's
    _, page = get_page(admin)
    days = {
        day: (int(requests), int(refusals))
        for day, requests, refusals in re.findall(
            r'<g class="day" data-day="([\d-]+)" data-requests="(\d+)" data-refusals="(\d+)">', page
        )
    }
    assert len(days) == 30
    assert days[today.date().isoformat()] == (4, 1)
    assert days[(today - timedelta(days=3)).date().isoformat()] == (2, 1)
    assert days[(today - timedelta(days=29)).date().isoformat()] == (1, 0)
    assert sum(r for r, _ in days.values()) == 7 and sum(f for _, f in days.values()) == 2
    assert "7 SCIM requests recorded in the last 30 days, 2 of them refused." in page
    table = page[page.index('id="activity-per-day"') :]
    assert f"<tr><td>{today.date().isoformat()}</td><td>4</td><td>1</td></tr>" in table
    assert '<svg id="activity-chart"' in page and "<script" not in page.split('id="activity-title"')[1]


def test_per_day_sql_groups_by_day() -> None:
    """The day bucket is computed in SQL per dialect (no rows are fetched to Python to count)."""
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    from scim_plugin.storage.activity import utc_day

    column = AuditRecord.__table__.c.created_at
    assert str(utc_day(column).compile(dialect=sqlite.dialect())) == "date(scim_audit.created_at)"
    assert "AT TIME ZONE 'UTC'" in str(utc_day(column).compile(dialect=postgresql.dialect()))
    assert str(utc_day(column).compile(dialect=mysql.dialect())) == "DATE(scim_audit.created_at)"


# --- the export --------------------------------------------------------------------------------------------


def test_export_includes_admin_actions_with_actor_kind_and_values(admin: FlaskClient, app: Flask) -> None:
    _, token = generate(admin, app)
    ScimClient(app.test_client(), token).post("/Users", json={"userName": "exp@acme.example"})
    result = app.test_cli_runner().invoke(args=["scim", "audit", "export", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["kind"], line["action"]) for line in lines] == [
        ("admin", "settings.changed"),
        ("admin", "token.generated"),
        ("write", None),
    ]
    assert lines[0]["actor"] == ACME[0] and lines[0]["actor_id"]
    assert lines[0]["details"]["changes"]["service_origin"] == {"old": None, "new": "idp.example.com"}
    assert lines[2]["resource_type"] == "User" and lines[2]["actor"] is None
    assert token not in result.stdout
    # The page shows the same records.
    _, page = get_page(admin)
    assert sorted(row_ids(page)) == [r.id for r in records(app)]
