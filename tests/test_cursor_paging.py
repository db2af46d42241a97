"""Cursor pagination (RFC 9865) on /Users, /Groups and the root /.search.

Walks are checked against index paging of the same query (the order both must share), across inserts
and deletes between pages, and for every error RFC 9865 §2.1 names.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import itsdangerous.timed
import pytest
from examples.host_app.extensions import db
from flask import Flask
from sqlalchemy import event, insert

from scim_plugin.storage.models import ScimUser, utcnow
from scim_plugin.storage.paging import CursorCodec, Position
from tests.conftest import ScimClient, issue_token
from tests.test_groups import new_group
from tests.test_groups_scale import statements
from tests.test_users_api import new_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def seed_users(app: Flask, tenant_id: str, n: int, *, tag: str = "seed") -> list[str]:
    """``n`` users by bulk insert; every third shares its creation time with the next (ties by id), some
    lack a displayName and a department (NULL sort keys)."""
    base = utcnow() - timedelta(days=1)
    rows = []
    for i in range(n):
        name = f"{tag}{i:05d}@acme.example"
        resource: dict[str, Any] = {"userName": name, "active": i % 4 != 0}
        display = None if i % 5 == 0 else f"User {(i * 37) % 101:03d}"
        if display:
            resource["displayName"] = display
        if i % 3:
            resource[ENTERPRISE] = {"department": f"Dept {(i * 7) % 13}"}
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "tenant_id": tenant_id,
                "user_name": name,
                "user_name_norm": name,
                "display_name_norm": display.lower() if display else None,
                "active": i % 4 != 0,
                "resource": resource,
                "version": 1,
                "created_at": base + timedelta(seconds=i - i % 3 // 2),
                "updated_at": base,
            }
        )
    with app.app_context():
        db.session.execute(insert(ScimUser), rows)
        db.session.commit()
    return [row["id"] for row in rows]


def tenant_of(app: Flask, scim: ScimClient) -> str:
    user_id = new_user(scim, "anchor@acme.example")["id"]
    with app.app_context():
        return db.session.get(ScimUser, user_id).tenant_id


def walk(scim: ScimClient, query: str, *, limit: int = 500) -> tuple[list[str], list[dict[str, Any]]]:
    """Follow nextCursor from the first page; the ids in order and every page body."""
    ids: list[str] = []
    pages: list[dict[str, Any]] = []
    url = f"/Users?{query}&cursor".replace("?&", "?")
    for _ in range(limit):
        r = scim.get(url)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        pages.append(body)
        ids += [resource["id"] for resource in body["Resources"]]
        if "nextCursor" not in body:
            return ids, pages
        url = (
            f"/Users?{query}&cursor={body['nextCursor']}" if query else f"/Users?cursor={body['nextCursor']}"
        )
    raise AssertionError("no last page")


def index_ids(scim: ScimClient, query: str) -> list[str]:
    r = scim.get(f"/Users?{query}&startIndex=1&count=1000" if query else "/Users?count=1000")
    assert r.status_code == 200, r.get_json()
    return [resource["id"] for resource in r.get_json()["Resources"]]


@pytest.mark.parametrize(
    "query",
    [
        "count=40",
        "count=7&sortBy=displayName",
        "count=9&sortBy=displayName&sortOrder=descending",
        f"count=11&sortBy={ENTERPRISE}:department",
        f"count=11&sortBy={ENTERPRISE}:department&sortOrder=descending",
        "count=13&sortBy=active&sortOrder=descending",
        "count=25&sortBy=meta.created",
        "count=6&filter=userName%20sw%20%22seed001%22&sortBy=userName",
    ],
)
def test_cursor_walk_matches_index_order_both_ways(app: Flask, scim: ScimClient, query: str) -> None:
    seed_users(app, tenant_of(app, scim), 150)
    expected = index_ids(scim, query.split("&", 1)[1] if "&" in query else "")
    ids, pages = walk(scim, query)
    assert ids == expected
    assert len(set(ids)) == len(ids)
    count = int(query.split("&")[0].split("=")[1])
    for body in pages:
        assert body["totalResults"] == len(expected)
        assert body["itemsPerPage"] == len(body["Resources"]) <= count
        assert "startIndex" not in body
    assert "previousCursor" not in pages[0]
    assert all("previousCursor" in body for body in pages[1:])

    # Back from the last page through previousCursor: the same pages, in reverse.
    back: list[list[str]] = []
    body = pages[-1]
    while "previousCursor" in body:
        r = scim.get(f"/Users?{query}&cursor={body['previousCursor']}")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        back.append([resource["id"] for resource in body["Resources"]])
    assert back == [[res["id"] for res in page["Resources"]] for page in reversed(pages[:-1])]
    assert "nextCursor" in body


def test_a_page_that_fits_has_no_cursor_and_counts_without_a_count_query(
    app: Flask, scim: ScimClient
) -> None:
    new_user(scim, "only@acme.example")
    with statements(app) as seen:
        r = scim.get("/Users?cursor&count=10")
    body = r.get_json()
    assert r.status_code == 200 and body["totalResults"] == 1 and len(body["Resources"]) == 1
    assert "nextCursor" not in body and "previousCursor" not in body
    assert not [s for s in seen if "count(" in s.lower()], seen


def test_inserts_and_deletes_between_pages_neither_skip_nor_repeat(app: Flask, scim: ScimClient) -> None:
    tenant_id = tenant_of(app, scim)
    seed_users(app, tenant_id, 100)
    everyone = index_ids(scim, "")
    r = scim.get("/Users?count=20&cursor")
    first = r.get_json()
    seen = [res["id"] for res in first["Resources"]]
    # Delete the row the cursor points at and two users not yet read; add new users (created now, so
    # after everyone else).
    gone = [seen[-1], everyone[30], everyone[70]]
    for user_id in gone:
        assert scim.delete(f"/Users/{user_id}").status_code == 204
    newcomers = [new_user(scim, f"late{i}@acme.example")["id"] for i in range(3)]
    url = f"/Users?count=20&cursor={first['nextCursor']}"
    while True:
        body = scim.get(url).get_json()
        seen += [res["id"] for res in body["Resources"]]
        if "nextCursor" not in body:
            break
        url = f"/Users?count=20&cursor={body['nextCursor']}"
    assert len(seen) == len(set(seen))
    assert seen == [user_id for user_id in everyone if user_id not in gone[1:]] + newcomers


def test_an_emptied_page_turns_around_without_losing_rows(app: Flask, scim: ScimClient) -> None:
    tenant_id = tenant_of(app, scim)
    seed_users(app, tenant_id, 10)
    everyone = index_ids(scim, "")
    first = scim.get("/Users?count=5&cursor").get_json()
    for user_id in everyone[5:]:
        assert scim.delete(f"/Users/{user_id}").status_code == 204
    empty = scim.get(f"/Users?count=5&cursor={first['nextCursor']}").get_json()
    assert empty["Resources"] == [] and "nextCursor" not in empty
    # The previous page includes the row the emptied page was anchored on.
    back = scim.get(f"/Users?count=5&cursor={empty['previousCursor']}").get_json()
    assert [res["id"] for res in back["Resources"]] == everyone[:5]


def test_search_request_body_and_groups_and_root_search(app: Flask, scim: ScimClient) -> None:
    for i in range(7):
        new_group(scim, f"Team {i}")
    for i in range(5):
        new_user(scim, f"u{i}@acme.example")
    body = {"schemas": [SEARCH], "cursor": "", "count": 3, "sortBy": "displayName"}
    r = scim.post("/Users/.search", json=body)
    assert r.status_code == 200 and len(r.get_json()["Resources"]) == 3 and "nextCursor" in r.get_json()
    second = scim.post("/Users/.search", json={**body, "cursor": r.get_json()["nextCursor"]}).get_json()
    assert len(second["Resources"]) == 2 and "nextCursor" not in second

    names = []
    url = "/Groups?cursor&count=3&excludedAttributes=members"
    while url:
        page = scim.get(url).get_json()
        names += [res["displayName"] for res in page["Resources"]]
        more = page.get("nextCursor")
        url = f"/Groups?cursor={more}&count=3&excludedAttributes=members" if more else ""
    assert names == [f"Team {i}" for i in range(7)]

    # Root search: groups then users, one cursor across both, and back again.
    root = {"schemas": [SEARCH], "cursor": "", "count": 4}
    kinds: list[list[str]] = []
    pages = []
    while True:
        page = scim.post("/.search", json=root).get_json()
        pages.append(page)
        kinds.append([res["meta"]["resourceType"] for res in page["Resources"]])
        assert page["totalResults"] == 12
        if "nextCursor" not in page:
            break
        root = {**root, "cursor": page["nextCursor"]}
    assert [kind for page_kinds in kinds for kind in page_kinds] == ["Group"] * 7 + ["User"] * 5
    assert kinds[1] == ["Group", "Group", "Group", "User"]
    back = scim.post("/.search", json={**root, "cursor": pages[-1]["previousCursor"]}).get_json()
    assert back["Resources"] == pages[-2]["Resources"]


def test_cursor_errors(app: Flask, scim: ScimClient, client: Any) -> None:
    seed_users(app, tenant_of(app, scim), 30)
    cursor = scim.get("/Users?count=10&cursor").get_json()["nextCursor"]
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    def error(url: str, scim_type: str) -> str:
        r = scim.get(url)
        assert r.status_code == 400, r.get_json()
        assert r.get_json()["scimType"] == scim_type, r.get_json()
        assert r.get_json()["status"] == "400"
        return r.get_json()["detail"]

    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    assert "empty cursor" in error(f"/Users?count=10&cursor={tampered}", "invalidCursor")
    error("/Users?count=10&cursor=not-a-cursor", "invalidCursor")
    # Bound to the query: another count, filter or sort order is another query.
    assert "another query" in error(f"/Users?count=11&cursor={cursor}", "invalidCursor")
    error(f"/Users?count=10&sortOrder=descending&cursor={cursor}", "invalidCursor")
    error(f"/Users?count=10&filter=active eq true&cursor={cursor}", "invalidCursor")
    # ... and to the endpoint and the tenant.
    r = scim.post("/Groups/.search", json={"count": 10, "cursor": cursor})
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidCursor"
    globex = ScimClient(client, issue_token(app, "globex"))
    r = globex.get(f"/Users?count=10&cursor={cursor}")
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidCursor"

    assert "1 to 1000" in error("/Users?count=0&cursor", "invalidCount")
    error("/Users?count=1001&cursor", "invalidCount")
    r = scim.get(f"/Users?startIndex=11&cursor={cursor}&count=10")
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"
    r = scim.post("/Users/.search", json={"cursor": 5})
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidCursor"


def test_cursors_expire_and_survive_a_secret_key_rotation(
    app: Flask, scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_users(app, tenant_of(app, scim), 30)
    cursor = scim.get("/Users?count=10&cursor").get_json()["nextCursor"]
    timeout = app.extensions["scim"].config.cursor_timeout
    real = time.time
    # The clock moves past the timeout: the same cursor is now expired.
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + timeout + 5)
    r = scim.get(f"/Users?count=10&cursor={cursor}")
    assert r.status_code == 400 and r.get_json()["scimType"] == "expiredCursor", r.get_json()
    assert str(timeout) in r.get_json()["detail"]
    monkeypatch.setattr(itsdangerous.timed.time, "time", real)

    old_key = app.secret_key
    app.config["SECRET_KEY"] = "a-new-key-after-rotation"
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    r = scim.get(f"/Users?count=10&cursor={cursor}")
    assert r.status_code == 200 and len(r.get_json()["Resources"]) == 10


def test_a_forged_position_cannot_leave_the_tenant(app: Flask, scim: ScimClient, client: Any) -> None:
    """Even a cursor signed with the app's key only moves within the query's own WHERE clause."""
    seed_users(app, tenant_of(app, scim), 5)
    globex = ScimClient(client, issue_token(app, "globex"))
    assert globex.get("/Users?cursor&count=10").get_json()["totalResults"] == 0


def get_recording_statements(app: Flask, scim: ScimClient, url: str) -> tuple[Any, list[tuple[str, Any]]]:
    """GET ``url``; the answer and the SQL statements (with their parameters) it ran."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        return scim.get(url), seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_deep_page_is_an_index_seek_not_an_offset_or_a_sort(app: Flask, scim: ScimClient) -> None:
    seed_users(app, tenant_of(app, scim), 3000)
    first = scim.get("/Users?count=100&cursor").get_json()
    url = f"/Users?count=100&cursor={first['nextCursor']}"
    for _ in range(25):
        body = scim.get(url).get_json()
        url = f"/Users?count=100&cursor={body.get('nextCursor')}"
    r, seen = get_recording_statements(app, scim, url)
    assert r.status_code == 200 and len(r.get_json()["Resources"]) == 100
    # The total travels in the cursor: a deep page runs no COUNT over the tenant.
    assert not [s for s, _ in seen if "count(*)" in s.lower() and "scim_users" in s], seen
    assert r.get_json()["totalResults"] == 3001
    [(statement, parameters)] = [(s, p) for s, p in seen if "FROM scim_users" in s and "ORDER BY" in s]
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            )
            assert "USING INDEX ix_scim_users_tenant_created" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        elif conn.dialect.name in ("mysql", "mariadb"):
            # One row per table: the index it reads (``key``), how (``type``: a ``range`` seek) and
            # what else it does (``Extra``: "Using filesort" would be a sort of the tenant's rows).
            [plan] = conn.exec_driver_sql("EXPLAIN " + statement, parameters).mappings().all()
            assert plan["key"] == "ix_scim_users_tenant_created", plan
            assert plan["type"] == "range", plan
            assert "filesort" not in (plan["Extra"] or ""), plan
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "ix_scim_users_tenant_created" in plan, plan
            assert "Sort" not in plan, plan
    assert " OFFSET " not in statement.upper() or conn.dialect.name == "sqlite"


def test_a_deep_index_page_reads_the_skipped_rows_from_the_index_only(app: Flask, scim: ScimClient) -> None:
    """``startIndex`` deep in a tenant: the skipped rows come from the (tenant, created) index, never whole.

    InnoDB's OFFSET reads every skipped row with its document (a list of 100 at 100,000 users ran at
    0.2 requests/s), so on MySQL dialects the page's primary keys are paged on the index first.
    """
    seed_users(app, tenant_of(app, scim), 3000)
    r, seen = get_recording_statements(app, scim, "/Users?startIndex=2501&count=100")
    body = r.get_json()
    assert r.status_code == 200 and len(body["Resources"]) == 100 and body["totalResults"] == 3001, body
    # The page is the one a plain OFFSET gives: the 2,501st to the 2,600th user in creation order.
    every = [u["id"] for u in scim.get("/Users?count=1000&cursor").get_json()["Resources"]]
    cursor = scim.get("/Users?count=1000&cursor").get_json()["nextCursor"]
    every += [u["id"] for u in scim.get(f"/Users?count=1000&cursor={cursor}").get_json()["Resources"]]
    cursor = scim.get(f"/Users?count=1000&cursor={cursor}").get_json()["nextCursor"]
    every += [u["id"] for u in scim.get(f"/Users?count=1000&cursor={cursor}").get_json()["Resources"]]
    assert [u["id"] for u in body["Resources"]] == every[2500:2600]
    [(statement, parameters)] = [(s, p) for s, p in seen if "FROM scim_users" in s and "ORDER BY" in s]
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name in ("mysql", "mariadb"):
            plan = conn.exec_driver_sql("EXPLAIN " + statement, parameters).mappings().all()
            by_table = {(row["select_type"], row["table"]): row for row in plan}
            # The derived table of primary keys: read from the index alone ("Using index"), in its order.
            [derived] = [row for (kind, _), row in by_table.items() if kind == "DERIVED"]
            assert derived["key"] == "ix_scim_users_tenant_created", plan
            assert "Using index" in (derived["Extra"] or ""), plan
            assert "filesort" not in (derived["Extra"] or ""), plan
            # The page is ordered on its own keys: a sort of 100 keys, not a temporary table of the
            # joined rows with their documents.
            [page] = [row for (kind, table), row in by_table.items() if table.startswith("<derived")]
            assert "temporary" not in (page["Extra"] or ""), plan
            # Then only the page's rows, each by its primary key.
            [whole] = [
                row for (kind, table), row in by_table.items() if table == "scim_users" and kind != "DERIVED"
            ]
            assert whole["key"] == "PRIMARY" and whole["type"] == "eq_ref", plan
        elif conn.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            )
            assert "USING INDEX ix_scim_users_tenant_created" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            # PostgreSQL reads only the tenant's rows through an index; for a page 2,500 deep in 3,000
            # rows its planner prefers a bitmap scan and a top-N sort to walking the index (cost-based,
            # with fresh statistics), so the plan's index is not pinned here. The table holds this tenant
            # alone, where a sequential scan is as good: it is off to see which index the query can use.
            conn.exec_driver_sql("ANALYZE scim_users")
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "Seq Scan" not in plan and "Index Cond: ((tenant_id)" in plan, plan


def test_service_provider_config_advertises_cursors(app: Flask, scim: ScimClient) -> None:
    pagination = scim.get("/ServiceProviderConfig").get_json()["pagination"]
    assert pagination["cursor"] is True and pagination["index"] is True
    assert pagination["defaultPaginationMethod"] == "index"
    assert pagination["cursorTimeout"] == app.extensions["scim"].config.cursor_timeout
    assert pagination["maxPageSize"] == 1000


def test_the_codec_refuses_a_cursor_for_another_scope(app: Flask) -> None:
    with app.test_request_context():
        codec = CursorCodec(60)
        cursor = codec.issue("scope-a", Position(0, ("x",)), 3)
        assert codec.read(cursor, "scope-a")[1] == 3
        with pytest.raises(Exception, match="another query"):
            codec.read(cursor, "scope-b")


def test_index_paging_is_unchanged_by_cursor_support(app: Flask, scim: ScimClient) -> None:
    seed_users(app, tenant_of(app, scim), 12)
    body = scim.get("/Users?startIndex=11&count=5").get_json()
    assert body["startIndex"] == 11 and body["totalResults"] == 13 and len(body["Resources"]) == 3
    assert "nextCursor" not in body and "previousCursor" not in body
