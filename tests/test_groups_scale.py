"""Large groups (peers-and-idps.md §3 #8): a membership change costs the same number of SQL statements
for a 50,000-member group as for a 10-member one, and ``excludedAttributes=members`` never reads
``scim_group_members``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from examples.host_app.extensions import db
from flask import Flask
from sqlalchemy import event, insert, update

from scim_plugin.storage.models import ScimGroup, ScimGroupMember, ScimUser, utcnow
from tests.conftest import ScimClient
from tests.test_groups import new_group, patch
from tests.test_users_api import new_user

BIG = 50_000


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def bulk_members(app: Flask, group_id: str, tenant_id: str, n: int) -> None:
    """``n`` SCIM users (without host users) in the group, by bulk insert rather than n POSTs."""
    now = utcnow()
    ids = [str(uuid.uuid4()) for _ in range(n)]
    tag = group_id[:8]
    users = [
        {
            "id": user_id,
            "tenant_id": tenant_id,
            "user_name": f"bulk{i}.{tag}@acme.example",
            "user_name_norm": f"bulk{i}.{tag}@acme.example",
            "resource": {"userName": f"bulk{i}.{tag}@acme.example"},
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i, user_id in enumerate(ids)
    ]
    with app.app_context():
        for start in range(0, n, 5000):
            db.session.execute(insert(ScimUser), users[start : start + 5000])
            db.session.execute(
                insert(ScimGroupMember),
                [
                    {"group_id": group_id, "member_id": m, "tenant_id": tenant_id}
                    for m in ids[start : start + 5000]
                ],
            )
        # The count the membership statements keep (scim_groups.member_count).
        db.session.execute(
            update(ScimGroup).where(ScimGroup.id == group_id).values(member_count=ScimGroup.member_count + n)
        )
        db.session.commit()


def membership_changes(scim: ScimClient, group_id: str, newcomer: str, member: str) -> list[dict[str, Any]]:
    return [
        {"op": "add", "path": "members", "value": [{"value": newcomer}]},
        {"op": "remove", "path": f'members[value eq "{member}"]'},
        {"op": "Remove", "path": "members", "value": [{"value": newcomer}]},
    ]


def test_membership_patch_costs_the_same_for_50k_members_as_for_10(app: Flask, scim: ScimClient) -> None:
    small = new_group(scim, "Small")
    big = new_group(scim, "Big")
    someone = new_user(scim)["id"]
    with app.app_context():
        tenant_id = db.session.get(ScimUser, someone).tenant_id
    bulk_members(app, small["id"], tenant_id, 10)
    bulk_members(app, big["id"], tenant_id, BIG)
    newcomer = new_user(scim, "new@acme.example")["id"]
    patch(scim, small["id"], {"op": "add", "path": "displayName", "value": "Small"})  # warm-up (token use)

    counts = {}
    for group in (small, big):
        with app.app_context():
            first = db.session.execute(
                ScimGroupMember.__table__.select().where(ScimGroupMember.group_id == group["id"]).limit(1)
            ).first()
        for op in membership_changes(scim, group["id"], newcomer, first.member_id):
            with statements(app) as seen:
                r = patch(scim, group["id"], op, query="?excludedAttributes=members")
            assert r.status_code == 204 and not r.get_data(), r.get_data()
            counts.setdefault(group["displayName"], []).append(len(seen))
            # The statements only name the members in the request, never the list, and nothing counts it.
            assert all(len(s) < 2000 for s in seen), max(seen, key=len)[:300]
            assert not [s for s in seen if "count(" in s.lower()], seen
    assert counts["Small"] == counts["Big"], counts
    # Token, group, membership statement, group version and count, audit (docs/api.md: "5 for an add or
    # a remove").
    assert all(n <= 5 for n in counts["Big"]), counts

    with statements(app) as seen:
        r = scim.get("/Groups?excludedAttributes=members")
    assert r.status_code == 200 and r.get_json()["totalResults"] == 2
    assert not [s for s in seen if "scim_group_members" in s], seen
    with statements(app) as seen:
        r = scim.get(f"/Groups/{big['id']}?excludedAttributes=members")
    assert r.status_code == 200 and not [s for s in seen if "scim_group_members" in s]
    # Reading the members of a group above SCIM_MAX_GROUP_MEMBERS_RETURNED (10,000) is refused, not loaded.
    with statements(app) as seen:
        r = scim.get(f"/Groups/{big['id']}")
    assert r.status_code == 400 and r.get_json()["scimType"] == "tooMany"
    # Refused from the count kept on the group row: the member table is not read at all.
    assert not [s for s in seen if "scim_group_members" in s], seen
    # Members page through /Users.
    page = scim.get(f'/Users?filter=groups.value eq "{big["id"]}"&count=50&startIndex=49951').get_json()
    assert page["totalResults"] == BIG - 1 and page["itemsPerPage"] == 49


def test_the_kept_member_count_matches_the_member_rows(app: Flask, scim: ScimClient) -> None:
    """Every path that changes memberships moves ``scim_groups.member_count`` by what it really did."""
    users = [new_user(scim, f"m{i}@acme.example")["id"] for i in range(6)]
    group = new_group(scim, "Counted", members=users[:3] + users[:1])  # a duplicate counts once
    other = new_group(scim, "Other", members=users[:2])
    steps = [
        {"op": "add", "path": "members", "value": [{"value": users[3]}, {"value": users[0]}]},
        {"op": "remove", "path": f'members[value eq "{users[1]}"]'},
        {"op": "remove", "path": "members", "value": [{"value": users[5]}]},  # not a member: no change
        {"op": "replace", "path": "members", "value": [{"value": users[2]}, {"value": users[4]}]},
        {"op": "add", "path": "displayName", "value": "Counted again"},
    ]

    def check() -> None:
        with app.app_context():
            for group_id in (group["id"], other["id"]):
                kept = db.session.get(ScimGroup, group_id).member_count
                real = db.session.query(ScimGroupMember).filter_by(group_id=group_id).count()
                assert kept == real, (group_id, kept, real)

    check()
    for op in steps:
        assert patch(scim, group["id"], op).status_code == 204
        check()
    body = {"displayName": "Counted again", "members": [{"value": u} for u in users[:5]]}
    assert scim.put(f"/Groups/{group['id']}", json=body).status_code == 200
    check()
    assert scim.delete(f"/Users/{users[0]}").status_code == 204  # leaves both groups
    check()
    with app.app_context():
        assert db.session.get(ScimGroup, other["id"]).member_count == 1


def test_a_membership_patch_locks_the_group_only_from_its_update(
    app: Flask, scim: ScimClient, database_url: str
) -> None:
    """An IdP's membership PATCH (members by id, no If-Match) reads the group without ``FOR UPDATE``: its
    row lock comes with the version UPDATE, so concurrent PATCHes of one group wait for each other's
    commit only. A rename, an ``If-Match`` or a group whose members carry grants still lock from the read;
    grants also lock each member's user row, whose document (and version) now shows them.
    (Row locks are PostgreSQL's; SQLite has one writer at a time and its compiler drops ``FOR UPDATE``.
    MariaDB and MySQL, without ON CONFLICT DO NOTHING, lock the group from the read for every PATCH.)"""
    if database_url.startswith("sqlite"):
        pytest.skip("row locks: a server database only (SQLite serialises writers, never emits FOR UPDATE)")
    from_the_read = 0 if database_url.startswith("postgresql") else 1
    someone = new_user(scim)["id"]
    group = new_group(scim, "Locks")

    def locked_reads(*ops: dict[str, Any], table: str | None = "scim_groups", **kwargs: Any) -> list[str]:
        """The ``FOR UPDATE`` reads of one PATCH, of ``table`` (``None``: of any table)."""
        with statements(app) as seen:
            r = patch(scim, group["id"], *ops, **kwargs)
        assert r.status_code in (200, 204), r.get_data(as_text=True)
        return [s for s in seen if "for update" in s.lower() and (table is None or f"FROM {table} " in s)]

    add = {"op": "add", "path": "members", "value": [{"value": someone}]}
    remove = {"op": "remove", "path": f'members[value eq "{someone}"]'}
    assert len(locked_reads(add, table=None)) == len(locked_reads(remove, table=None)) == from_the_read
    assert len(locked_reads({"op": "replace", "path": "displayName", "value": "Locks 2"})) == 1
    version = scim.get(f"/Groups/{group['id']}").headers["ETag"]
    assert len(locked_reads(add, headers={"If-Match": version})) == 1
    assert len(locked_reads({"op": "replace", "path": "members", "value": [{"value": someone}]})) == 1
    # Mapped: the members' grants follow the member list, so even a membership PATCH locks from the read.
    result = app.test_cli_runner().invoke(
        args=["scim", "group", "map", "--tenant", "acme", "--group", "Locks 2", "--workspace", "Production"]
    )
    assert result.exit_code == 0, result.output
    assert len(locked_reads(remove)) == 1 and len(locked_reads(add)) == 1
    assert len(locked_reads(remove, table="scim_users")) == 1
    assert len(locked_reads(add, table="scim_users")) == 1
