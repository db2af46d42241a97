"""Upgrading a database that already holds provisioning data: revision 0001 with rows, then head.

The rows are written with plain SQL as revision 0001 stored them (not through today's models), so a later
revision that reshapes a table must carry them over. When head is still 0001 the upgrade is a no-op and
the test still checks that the app serves those rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import examples.host_app.models  # noqa: F401  (registers the host tables)
from examples.host_app.extensions import db as host_db
from sqlalchemy import inspect, text

from scim_plugin.access.tokens import issue_token as new_token
from scim_plugin.storage import migrate

from .conftest import ORIGIN, SECRET, ScimClient, make_app
from .test_migrations import empty_engine  # noqa: F401  (fixture)

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _user(i: int) -> dict[str, Any]:
    return {
        "schemas": [CORE, ENTERPRISE],
        "userName": f"Person{i}@Example.com",
        "externalId": f"ext-{i}",
        "displayName": f"Person Nº{i}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "emails": [
            {"value": f"person{i}@example.com", "type": "work", "primary": True},
            {"value": f"p{i}@home.example", "type": "home"},
        ],
        "active": i % 3 != 0,
        ENTERPRISE: {"department": "finance" if i % 2 else "sales"},
    }


def _seed_0001(engine: Any) -> tuple[str, list[str]]:
    """Host rows, then the plugin's rows at revision 0001 with plain SQL; returns (token, user ids)."""
    issued = new_token([SECRET])
    with engine.begin() as conn:
        tables = host_db.metadata.tables
        # No explicit ids: PostgreSQL's sequences must stay ahead of the rows the app inserts later.
        company = conn.execute(
            tables["companies"].insert(), {"slug": "acme", "name": "Acme"}
        ).inserted_primary_key[0]
        conn.execute(tables["workspaces"].insert(), {"company_id": company, "name": "Production"})
        conn.execute(
            tables["users"].insert(),
            {"company_id": company, "email": "admin@acme.example", "company_permissions": []},
        )
        host_ids = [
            conn.execute(
                tables["users"].insert(),
                {
                    "company_id": company,
                    "email": _user(i)["userName"],
                    "provisioning_method": "scim",
                    "company_permissions": [],
                },
            ).inserted_primary_key[0]
            for i in range(5)
        ]
        tenant = str(company)
        conn.execute(
            text(
                "INSERT INTO scim_tenants (tenant_id, enabled, default_workspace_id, default_workspace_name,"
                " service_origin, ip_allowlist, response_style, created_at, updated_at)"
                " VALUES (:tenant, :yes, NULL, 'Production', :origin, '', NULL, :t, :t)"
            ),
            {"tenant": tenant, "yes": True, "origin": ORIGIN, "t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO scim_tokens (tenant_id, token_id, verifier, hint, status, created_at,"
                " created_by,"
                " expires_at, revoked_at, last_used_at, last_used_ip)"
                " VALUES (:tenant, :old_id, :old_verifier, 'abcd', 'revoked', :t, 'admin@acme.example',"
                " NULL, :t2,"
                " :t2, '10.0.0.1'),"
                " (:tenant, :token_id, :verifier, :hint, 'active', :t2, 'admin@acme.example',"
                " NULL, NULL, NULL, NULL)"
            ),
            {
                "tenant": tenant,
                "old_id": "old-token-id",
                "old_verifier": "0" * 64,
                "token_id": issued.token_id,
                "verifier": issued.verifier,
                "hint": issued.hint,
                "t": T0,
                "t2": T0 + timedelta(days=30),
            },
        )
        ids = []
        primary = conn.dialect.identifier_preparer.quote("primary")  # a reserved word, quoted per database
        for i in range(5):
            doc = _user(i)
            user_id = f"00000000-0000-4000-8000-00000000000{i}"
            ids.append(user_id)
            conn.execute(
                text(
                    "INSERT INTO scim_users (id, tenant_id, host_user_id, user_name, user_name_norm,"
                    " external_id,"
                    " display_name_norm, given_name_norm, family_name_norm, active, resource, version,"
                    " created_at, updated_at)"
                    " VALUES (:id, :tenant, :host, :un, :un_norm, :ext, :dn, :gn, :fn, :active, :resource,"
                    " :version,"
                    " :created, :updated)"
                ),
                {
                    "id": user_id,
                    "tenant": tenant,
                    "host": str(host_ids[i]),
                    "un": doc["userName"],
                    "un_norm": doc["userName"].casefold(),
                    "ext": doc["externalId"],
                    "dn": doc["displayName"].casefold(),
                    "gn": doc["name"]["givenName"].casefold(),
                    "fn": doc["name"]["familyName"].casefold(),
                    "active": doc["active"],
                    "resource": json.dumps({k: v for k, v in doc.items()}),
                    "version": 3 + i,
                    "created": T0 + timedelta(minutes=i),
                    "updated": T0 + timedelta(days=1, minutes=i),
                },
            )
            for email in doc["emails"]:
                conn.execute(
                    text(
                        "INSERT INTO scim_user_values (user_id, tenant_id, attribute, type, value,"
                        f" value_norm, {primary}) VALUES (:uid, :tenant, 'emails', :type, :value, :norm,"
                        " :primary)"
                    ),
                    {
                        "tenant": tenant,
                        "uid": user_id,
                        "type": email["type"],
                        "value": email["value"],
                        "norm": email["value"].casefold(),
                        "primary": email.get("primary"),
                    },
                )
        for i in range(20):
            conn.execute(
                text(
                    "INSERT INTO scim_audit (created_at, tenant_id, token_id, client_ip, method, path,"
                    " status,"
                    " resource_id, reason, duration_ms) VALUES (:t, :tenant, :tok, '10.0.0.1', 'POST',"
                    " '/scim/v2/Users', :status, :rid, :reason, 12)"
                ),
                {
                    "tenant": tenant,
                    "t": T0 + timedelta(hours=i),
                    "tok": issued.token_id,
                    "status": 201 if i % 4 else 401,
                    "rid": ids[i % 5] if i % 4 else None,
                    "reason": None if i % 4 else "wrong X-Request-Origin",
                },
            )
    return issued.token, ids


def _counts(engine: Any) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("scim_tenants", "scim_tokens", "scim_users", "scim_user_values", "scim_audit")
        }


def test_upgrade_from_0001_with_data_to_head(empty_engine, database_url, tmp_path):  # noqa: F811
    engine = empty_engine
    host_db.metadata.create_all(engine)
    migrate.upgrade(engine, "0001")
    assert migrate.current(engine) == "0001"
    token, ids = _seed_0001(engine)
    counts = _counts(engine)
    with engine.connect() as conn:
        users_before = conn.execute(
            text(
                "SELECT id, user_name, version, created_at, updated_at, resource FROM scim_users ORDER BY id"
            )
        ).all()

    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert _counts(engine) == counts
    with engine.connect() as conn:
        users_after = conn.execute(
            text(
                "SELECT id, user_name, version, created_at, updated_at, resource FROM scim_users ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in users_after] == [tuple(r) for r in users_before]
    if migrate.head() != "0001":
        # The new revision's tables exist and start empty.
        new_tables = {t for t in inspect(engine).get_table_names() if t.startswith("scim_")} - set(counts)
        with engine.connect() as conn:
            for table in new_tables:
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0

    # The app serves the old rows and writes new ones on the upgraded schema.
    options: dict[str, Any] = {"pool_pre_ping": True}
    if engine.dialect.name == "postgresql":
        options["connect_args"] = {"options": engine.url.query.get("options") or _search_path(engine)}
    app = make_app(
        str(engine.url.render_as_string(hide_password=False)), tmp_path, SQLALCHEMY_ENGINE_OPTIONS=options
    )
    scim = ScimClient(app.test_client(), token)
    listed = scim.get("/Users?sortBy=userName")
    assert listed.status_code == 200, listed.get_json()
    body = listed.get_json()
    assert body["totalResults"] == 5
    assert [r["userName"] for r in body["Resources"]] == [f"Person{i}@Example.com" for i in range(5)]
    one = scim.get(f"/Users/{ids[2]}")
    assert one.status_code == 200
    assert one.headers["ETag"] == 'W/"5"'
    assert one.get_json()["meta"]["created"].startswith("2026-01-05T09:32")
    found = scim.get('/Users?filter=emails.value eq "P3@HOME.example"').get_json()
    assert [r["id"] for r in found["Resources"]] == [ids[3]]
    assert scim.get('/Users?filter=userName eq "person1@example.com"').get_json()["totalResults"] == 1
    patched = scim.patch(
        f"/Users/{ids[1]}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
        },
        headers={"If-Match": 'W/"4"'},
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.headers["ETag"] == 'W/"5"'
    created = scim.post("/Users", json={"userName": "new@example.com"})
    assert created.status_code == 201, created.get_json()
    assert scim.post("/Users", json={"userName": "PERSON0@example.com"}).status_code == 409
    assert scim.delete(f"/Users/{ids[4]}").status_code == 204
    if migrate.head() != "0001" and (scim.get("/ResourceTypes/Group").status_code == 200):
        group = scim.post("/Groups", json={"displayName": "Upgraded", "members": [{"value": ids[0]}]})
        assert group.status_code == 201, group.get_json()
    with engine.connect() as conn:
        request_ids = conn.execute(text("SELECT request_id FROM scim_audit ORDER BY id")).scalars().all()
    # Records from before revision 0005 name no request; each write since names its own.
    old = counts["scim_audit"]
    assert request_ids[:old] == [None] * old
    assert len(request_ids) > old and all(request_ids[old:])
    assert len(set(request_ids[old:])) == len(request_ids) - old
    with app.app_context():
        host_db.session.remove()
        host_db.engine.dispose()


def _search_path(engine: Any) -> str:
    """The ``-csearch_path=...`` option the throwaway-schema engine was created with."""
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"-csearch_path={schema}"
