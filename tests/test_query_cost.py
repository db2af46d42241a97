"""What a list request costs in SQL: the COUNT runs only when the page cannot tell the total."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def statements(app) -> Iterator[list[str]]:
    seen: list[str] = []
    with app.app_context():
        engine = app.extensions["scim"].db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def counts(seen: list[str]) -> int:
    return sum("count(" in statement and "scim_users" in statement for statement in seen)


def test_lookup_by_user_name_needs_no_count(app, scim):
    for i in range(3):
        assert scim.post("/Users", json={"userName": f"u{i}@example.com"}).status_code == 201
    with statements(app) as seen:
        found = scim.get('/Users?filter=userName eq "U1@example.com"').get_json()
    assert found["totalResults"] == 1 and found["Resources"][0]["userName"] == "u1@example.com"
    assert counts(seen) == 0


def test_full_or_later_pages_still_count(app, scim):
    for i in range(3):
        assert scim.post("/Users", json={"userName": f"u{i}@example.com"}).status_code == 201
    with statements(app) as seen:
        page = scim.get("/Users?count=2").get_json()
    assert (page["totalResults"], page["itemsPerPage"]) == (3, 2)
    assert counts(seen) == 1
    with statements(app) as seen:
        beyond = scim.get("/Users?startIndex=10&count=2").get_json()
    assert (beyond["totalResults"], beyond["itemsPerPage"]) == (3, 0)
    assert counts(seen) == 1
    assert scim.get("/Users?count=0").get_json()["totalResults"] == 3


def test_an_idp_lookup_is_two_statements_until_the_company_has_groups(app, scim):
    """Token and tenant settings in one query, the user in another; no group query before any group."""
    user = scim.post("/Users", json={"userName": "u@example.com"}).get_json()
    with statements(app) as seen:
        found = scim.get('/Users?filter=userName eq "u@example.com"').get_json()
    assert found["totalResults"] == 1 and "groups" not in found["Resources"][0]
    queries = [s for s in seen if s.lstrip().startswith("select")]
    assert len(queries) == 2, queries
    assert "scim_tokens" in queries[0] and "scim_tenants" in queries[0]
    assert not [s for s in seen if "scim_group" in s]

    group = scim.post("/Groups", json={"displayName": "Team", "members": [{"value": user["id"]}]}).get_json()
    with statements(app) as seen:
        found = scim.get('/Users?filter=userName eq "u@example.com"').get_json()
    assert found["Resources"][0]["groups"][0]["value"] == group["id"]
    assert len([s for s in seen if "scim_group_members" in s]) == 1
    # The flag survives the group: it only ever saves a query, never hides a membership.
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert "groups" not in scim.get(f"/Users/{user['id']}").get_json()


def test_a_get_by_id_reads_token_and_tenant_once(app, scim):
    user = scim.post("/Users", json={"userName": "u@example.com"}).get_json()
    with statements(app) as seen:
        assert scim.get(f"/Users/{user['id']}").status_code == 200
    assert sum("scim_tenants" in s for s in seen) == 1, seen


def test_the_user_name_lookup_fast_path_answers_like_the_filter(app, scim):
    """``userName eq`` (any case, URN-qualified too) skips the filter compiler but not its meaning."""
    made = scim.post("/Users", json={"userName": "Straße.User@Example.com"}).get_json()
    for text in (
        'userName eq "straße.user@example.com"',
        'USERNAME eq "STRASSE.USER@EXAMPLE.COM"',
        'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "Straße.User@Example.com"',
    ):
        found = scim.get("/Users", query_string={"filter": text}).get_json()
        assert [r["id"] for r in found["Resources"]] == [made["id"]], text
        assert found["totalResults"] == 1 and found["startIndex"] == 1
    assert scim.get('/Users?filter=userName eq "nobody@example.com"').get_json()["totalResults"] == 0
    # Another tenant's lookup finds nothing.
    from .conftest import ScimClient, issue_token

    globex = ScimClient(scim.client, issue_token(app, "globex"))
    assert globex.get('/Users?filter=userName eq "straße.user@example.com"').get_json()["totalResults"] == 0


def test_a_provisioning_write_costs_one_statement_per_table_it_writes(app, scim):
    """On PostgreSQL a new user's SCIM row and its value rows are one statement (the host's user and its
    membership another), and a DELETE leaves the user's groups in its own statement; SQLite (no writable
    CTEs) writes them one by one. A DELETE's dependent rows cascade in the database on both."""
    with app.app_context():
        postgresql = app.extensions["scim"].db.engine.dialect.name == "postgresql"
    emails = [{"value": f"jane{i}@mail.example"} for i in range(2)]
    with statements(app) as seen:
        user = scim.post("/Users", json={"userName": "jane@example.com", "emails": emails}).get_json()
    scim_writes = [s for s in seen if s.lstrip().startswith(("insert", "with")) and "scim_user" in s]
    assert len(scim_writes) == (1 if postgresql else 2), scim_writes
    # The example host: its user and the membership of the default workspace, which the INSERT checks
    # is the company's (no lookup first); on PostgreSQL both in one statement.
    host_writes = [s for s in seen if "into users" in s or "into workspace_memberships" in s]
    assert len(host_writes) == (1 if postgresql else 2), host_writes
    assert not [s for s in seen if s.lstrip().startswith("select") and "from workspaces" in s], seen
    # The audit record: one plain INSERT, without a RETURNING of an id that nothing reads.
    audit_writes = [s for s in seen if "into scim_audit" in s]
    assert len(audit_writes) == 1 and "returning" not in audit_writes[0], audit_writes
    group = scim.post("/Groups", json={"displayName": "Team", "members": [{"value": user["id"]}]}).get_json()
    with statements(app) as seen:
        assert scim.delete(f"/Users/{user['id']}").status_code == 204
    # One statement moves the user's groups on; its membership rows, its value rows and the host's
    # membership rows cascade in the database (on SQLite too: the example host enforces foreign keys).
    group_writes = [s for s in seen if "scim_group" in s]
    assert len(group_writes) == 1, group_writes
    cascaded = ("scim_user_values", "workspace_memberships", "team_memberships", "role_assignments")
    assert not [s for s in seen if s.lstrip().startswith("delete") and any(t in s for t in cascaded)], seen
    writes = [s for s in seen if s.lstrip().startswith(("insert", "update", "delete", "with"))]
    assert len(writes) == (3 if postgresql else 4), (
        writes
    )  # groups (with the row on PostgreSQL), SCIM row, host user, audit
    assert scim.get(f"/Groups/{group['id']}").get_json()["meta"]["version"] == 'W/"2"'


def test_every_statement_of_a_provisioning_round_is_compiled_once(app, scim):
    """SQLAlchemy compiles a statement once and reuses it, unless it has no cache key (a multi-row
    ``VALUES`` has none): compiling it on every request cost a PostgreSQL create more than a round trip.
    The second round of the same requests must find every statement compiled already."""
    from sqlalchemy.engine.interfaces import CacheStats

    with app.app_context():
        engine = app.extensions["scim"].db.engine
    seen: list[tuple[str, CacheStats]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if context is not None and context.compiled is not None:
            seen.append((" ".join(statement.split())[:100], context.cache_hit))

    patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

    def provisioning_round(n: int) -> None:
        emails = [{"value": f"r{n}.{i}@mail.example", "primary": i == 0} for i in range(3)]
        created = scim.post("/Users", json={"userName": f"round{n}@example.com", "emails": emails})
        assert created.status_code == 201, created.get_json()
        user = created.get_json()
        url = f"/Users/{user['id']}"
        assert scim.get(url).status_code == 200
        assert scim.get(f'/Users?filter=userName eq "round{n}@example.com"').status_code == 200
        assert scim.get("/Users?startIndex=1&count=10").status_code == 200
        for ops in (
            [{"op": "replace", "path": "active", "value": False}],
            [{"op": "replace", "path": "name.givenName", "value": f"Given {n}"}],
        ):
            assert scim.patch(url, json={"schemas": [patch_op], "Operations": ops}).status_code == 200
        put = {"userName": f"round{n}@example.com", "name": {"familyName": f"Put {n}"}, "emails": emails}
        assert scim.put(url, json=put).status_code == 200
        group = scim.post("/Groups", json={"displayName": f"Round {n}", "members": [{"value": user["id"]}]})
        group_url = f"/Groups/{group.get_json()['id']}"
        other = scim.post("/Users", json={"userName": f"other{n}@example.com"}).get_json()
        for op in ("add", "remove"):
            body = {
                "schemas": [patch_op],
                "Operations": [{"op": op, "path": "members", "value": [{"value": other["id"]}]}],
            }
            assert scim.patch(group_url, json=body).status_code in (200, 204)
        assert scim.get(group_url).status_code == 200
        assert scim.delete(url).status_code == 204
        assert scim.delete(group_url).status_code == 204

    provisioning_round(1)
    event.listen(engine, "before_cursor_execute", record)
    try:
        provisioning_round(2)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen
    assert [s for s in seen if s[1] is not CacheStats.CACHE_HIT] == []
