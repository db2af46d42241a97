"""Seeding N users quickly, the way ``POST /Users`` would have stored them.

``POST /Users`` at 100,000 users would take longer than the benchmark itself, so users are bulk-inserted
in-process with the plugin's own code for everything but the transaction:

* the SCIM document is ``resources.normalize_input(body, USER_RESOURCE)`` with ``active`` defaulted, as
  ``UserStore.create`` does, with what the dashboard then holds written over it
  (``host_view.apply_host_state``: the default workspace it joined, ``provisioningMethod``), and the
  indexed columns are ``UserStore._columns(document)``; the user is managed by SCIM, changed now, by
  the tenant's provisioning method;
* ``scim_user_values`` gets one row per entry of the multi-valued attributes, as ``_write_values`` does;
* the host side gets what the example host's ``scim_create_user`` writes: a ``users`` row
  (``provisioning_method='scim'``, no company permissions) and a ``workspace_memberships`` row for the
  tenant's default workspace (the plugin hands the default workspace to the host when none is given);
  host columns the seam derives from the permissions rather than from the document (for example
  ``scim_own_permissions``) are copied from user 0, as every seeded user has the same permissions.

User 0 of a tenant is created through the real API (``app.test_client()`` POST with the bench token),
and :func:`verify_against_api` checks that the bulk path builds exactly the rows the API stored for it
(ids, timestamps and host ids aside). The ceiling's users get the same ``userName`` values.

The member phase's large group is created through the API too, and its members (seeded users) are
bulk-inserted into ``scim_group_members``; the API then has to count exactly that many.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from examples.host_app.extensions import db as host_db
from examples.host_app.models import Company, User, Workspace, WorkspaceMembership
from flask import Flask
from sqlalchemy import func, insert, select, update

from scim_plugin.core.host_view import apply_host_state
from scim_plugin.core.resources import normalize_input
from scim_plugin.core.schemas import ENTERPRISE_USER_URN, USER_RESOURCE
from scim_plugin.seam import HostUserState, Permissions, Ref, WorkspaceGrant
from scim_plugin.storage.models import ScimGroup, ScimGroupMember, ScimUser, ScimUserValue, TenantSettings
from scim_plugin.storage.sql_filters import VALUE_TABLE_ATTRIBUTES, fold
from scim_plugin.storage.user_store import UserStore

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BATCH = 5000


def user_name(i: int, prefix: str = "user") -> str:
    return f"{prefix}{i:06d}@bench.example"


def user_body(i: int, prefix: str = "user") -> dict[str, Any]:
    """The SCIM body of seeded user ``i`` (what an IdP would POST)."""
    name = user_name(i, prefix)
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER_URN],
        "userName": name,
        "externalId": f"ext-{i:06d}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "displayName": f"Given{i} Family{i}",
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
        ENTERPRISE_USER_URN: {"department": "engineering"},
    }


def _value_rows(user_id: str, tenant_id: str, resource: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for attribute in VALUE_TABLE_ATTRIBUTES:
        for entry in resource.get(attribute) or []:
            if not isinstance(entry, dict):
                continue
            value = entry.get("value")
            text = value if isinstance(value, str) else None
            rows.append(
                {
                    "user_id": user_id,
                    "tenant_id": tenant_id,
                    "attribute": attribute,
                    "type": fold(entry["type"])[:64] if isinstance(entry.get("type"), str) else None,
                    "value": text[:512] if text else None,
                    "value_norm": fold(text)[:512] if text else None,
                    "primary": entry["primary"] if isinstance(entry.get("primary"), bool) else None,
                }
            )
    return rows


@dataclass(frozen=True)
class Tenant:
    """What seeding needs of a tenant: its id, default workspace and provisioning method."""

    id: str
    workspace_id: int | None
    workspace_name: str | None
    method: str


def build_user(
    i: int, tenant: Tenant, prefix: str = "user"
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """(scim_users row without host_user_id, scim_user_values rows, host users row) for user ``i``."""
    resource = normalize_input(user_body(i, prefix), USER_RESOURCE)
    resource.pop("password", None)
    resource.setdefault("active", True)
    for key in ("id", "meta", "groups"):
        resource.pop(key, None)
    name = resource.get("name") or {}
    host = {
        "company_id": int(tenant.id),
        "email": resource["userName"],
        "given_name": name.get("givenName") or "",
        "family_name": name.get("familyName") or "",
        "department": (resource.get(ENTERPRISE_USER_URN) or {}).get("department"),
        "active": bool(resource.get("active", True)),
        "company_permissions": [],
        "provisioning_method": "scim",
    }
    workspaces = ()
    if tenant.workspace_id is not None:
        joined = Ref(id=str(tenant.workspace_id), name=tenant.workspace_name)
        workspaces = (WorkspaceGrant(workspace=joined),)
    resource = apply_host_state(
        resource,
        HostUserState(
            user_name=host["email"],
            email=host["email"],
            given_name=host["given_name"],
            family_name=host["family_name"],
            department=host["department"],
            active=host["active"],
            permissions=Permissions(workspaces=workspaces),
            provisioning_method="scim",
        ),
    )
    now = datetime.now(UTC)
    user_id = str(uuid.uuid4())
    row = {
        "id": user_id,
        "tenant_id": tenant.id,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "resource": resource,
        "managed": True,
        "scim_changed_at": now,
        "scim_method": tenant.method,
        **UserStore._columns(resource),
    }
    return row, _value_rows(user_id, tenant.id, resource), {**host, "created_at": now}


def tenant_of(app: Flask, slug: str) -> Tenant:
    with app.app_context():
        company_id = host_db.session.execute(select(Company.id).where(Company.slug == slug)).scalar_one()
        settings = host_db.session.get(TenantSettings, str(company_id))
        workspace = int(settings.default_workspace_id) if settings and settings.default_workspace_id else None
        workspace_name = host_db.session.get(Workspace, workspace).name if workspace is not None else None
        method = settings.provisioning_method if settings else "custom"
        return Tenant(str(company_id), workspace, workspace_name, method)


HOST_SKIP = ("id", "created_at", "last_sign_in_at")


def host_template(app: Flask, slug: str) -> dict[str, Any]:
    """The host columns that the seam derives from more than the document (``scim_own_permissions``...).

    They are copied from user 0, which came through the API: every seeded user has the same permissions
    (none given: the tenant's default workspace), so what the host stored for user 0 holds for all.
    """
    tenant_id = tenant_of(app, slug).id
    with app.app_context():
        host_id = host_db.session.execute(
            select(ScimUser.host_user_id).where(
                ScimUser.tenant_id == tenant_id, ScimUser.user_name == user_name(0)
            )
        ).scalar_one()
        row = host_db.session.execute(select(User.__table__).where(User.id == int(host_id))).one()._asdict()
    return {k: v for k, v in row.items() if k not in HOST_SKIP}


def seed_plugin(app: Flask, slug: str, start: int, stop: int, prefix: str = "user") -> None:
    """Bulk-insert users ``start..stop-1`` of tenant ``slug`` (user 0 must come from the API).

    ``prefix`` starts their userNames: other than ``user``, a pool apart from the tenant's users.
    """
    tenant = tenant_of(app, slug)
    workspace_id = tenant.workspace_id
    template = host_template(app, slug)
    with app.app_context():
        session = host_db.session
        for low in range(start, stop, BATCH):
            built = [build_user(i, tenant, prefix) for i in range(low, min(low + BATCH, stop))]
            session.execute(insert(User), [{**template, **host} for _, _, host in built])
            emails = [host["email"] for _, _, host in built]
            host_ids = dict(session.execute(select(User.email, User.id).where(User.email.in_(emails))).all())
            if workspace_id is not None:
                session.execute(
                    insert(WorkspaceMembership),
                    [
                        {"user_id": host_ids[e], "workspace_id": workspace_id, "permissions": []}
                        for e in emails
                    ],
                )
            rows = []
            for row, _, host in built:
                rows.append({**row, "host_user_id": str(host_ids[host["email"]])})
            session.execute(insert(ScimUser), rows)
            session.execute(insert(ScimUserValue), [v for _, values, _ in built for v in values])
            session.commit()


def post_via_api(app: Flask, token: str, i: int) -> dict[str, Any]:
    client = app.test_client()
    response = client.post(
        "/scim/v2/Users",
        json=user_body(i),
        headers={"Authorization": f"Bearer {token}", "X-Request-Origin": "idp.example.com"},
    )
    if response.status_code != 201:
        raise RuntimeError(
            f"seeding user {i} through the API failed: {response.status_code} {response.data!r}"
        )
    return response.get_json()


def _same_column(key: str, api: Any, bulk: Any) -> bool:
    if key == "body" and isinstance(api, str) and isinstance(bulk, str):
        # The stored document's JSON text keeps the request's key order (the test client sorts keys):
        # the same fingerprint and the same document are the same body.
        (api_prefix, _, api_json), (bulk_prefix, _, bulk_json) = api.partition(":"), bulk.partition(":")
        return api_prefix == bulk_prefix and json.loads(api_json) == json.loads(bulk_json)
    return bool(api == bulk)


def verify_against_api(app: Flask, slug: str, i: int) -> list[str]:
    """Differences between what the API stored for user ``i`` and what the bulk path would store."""
    tenant = tenant_of(app, slug)
    tenant_id, workspace_id = tenant.id, tenant.workspace_id
    row, values, host = build_user(i, tenant)
    problems = []
    with app.app_context():
        session = host_db.session
        stored = session.execute(
            select(ScimUser).where(ScimUser.tenant_id == tenant_id, ScimUser.user_name == user_name(i))
        ).scalar_one()
        columns = [c.key for c in ScimUser.__table__.columns]
        for key in columns:
            if key in ("id", "created_at", "updated_at", "scim_changed_at", "host_user_id"):  # times, ids
                continue
            if key not in row:
                problems.append(f"scim_users.{key}: not written by the bulk path")
            elif not _same_column(key, getattr(stored, key), row[key]):
                problems.append(f"scim_users.{key}: api={getattr(stored, key)!r} bulk={row[key]!r}")
        stored_values = [
            {c: getattr(v, c) for c in ("tenant_id", "attribute", "type", "value", "value_norm", "primary")}
            for v in session.execute(
                select(ScimUserValue).where(ScimUserValue.user_id == stored.id)
            ).scalars()
        ]
        bulk_values = [{k: v for k, v in value.items() if k != "user_id"} for value in values]
        if stored_values != bulk_values:
            problems.append(f"scim_user_values: api={stored_values!r} bulk={bulk_values!r}")
        host_user = session.get(User, int(stored.host_user_id))
        derived = set(host)
        for key in (c.key for c in User.__table__.columns):
            if key in HOST_SKIP:
                continue
            if key in derived and getattr(host_user, key) != host[key]:
                problems.append(f"users.{key}: api={getattr(host_user, key)!r} bulk={host[key]!r}")
        copied = sorted(set(host_template(app, slug)) - derived)
        if copied:
            print(f"seed: host columns copied from user 0: {', '.join(copied)}")
        memberships = [(m.workspace_id, m.permissions, m.permission_set_id) for m in host_user.memberships]
        expected = [(workspace_id, [], None)] if workspace_id is not None else []
        if memberships != expected:
            problems.append(f"workspace_memberships: api={memberships!r} bulk={expected!r}")
    return problems


def seed_ceiling(app: Flask, start: int, stop: int, prefix: str = "user") -> None:
    from .ceiling import CeilingUser, db

    with app.app_context():
        for low in range(start, stop, BATCH):
            now = datetime.now(UTC)
            db.session.execute(
                insert(CeilingUser),
                [
                    {
                        "id": str(uuid.uuid4()),
                        "email": user_name(i, prefix),
                        "given_name": f"Given{i}",
                        "family_name": f"Family{i}",
                        "active": True,
                        "created_at": now,
                    }
                    for i in range(low, min(low + BATCH, stop))
                ],
            )
            db.session.commit()


def plugin_users(app: Flask, slug: str, pattern: str) -> list[tuple[str, str]]:
    """(id, userName) of the tenant's users whose folded userName is LIKE ``pattern``, oldest first."""
    tenant_id = tenant_of(app, slug).id
    with app.app_context():
        return [
            (r.id, r.user_name)
            for r in host_db.session.execute(
                select(ScimUser.id, ScimUser.user_name)
                .where(ScimUser.tenant_id == tenant_id, ScimUser.user_name_norm.like(pattern))
                .order_by(ScimUser.user_name_norm)
            )
        ]


def plugin_count(app: Flask, slug: str) -> int:
    tenant_id = tenant_of(app, slug).id
    with app.app_context():
        return host_db.session.execute(
            select(func.count()).select_from(ScimUser).where(ScimUser.tenant_id == tenant_id)
        ).scalar_one()


def ceiling_users(app: Flask, pattern: str) -> list[tuple[str, str]]:
    from .ceiling import CeilingUser, db

    with app.app_context():
        return [
            (r.id, r.email)
            for r in db.session.execute(
                select(CeilingUser.id, CeilingUser.email)
                .where(func.lower(CeilingUser.email).like(pattern))
                .order_by(CeilingUser.email)
            )
        ]


def ceiling_count(app: Flask) -> int:
    from .ceiling import CeilingUser, db

    with app.app_context():
        return db.session.execute(select(func.count()).select_from(CeilingUser)).scalar_one()


# -- a large group (the member phase) --------------------------------------------------------------------


def post_group_via_api(app: Flask, token: str, display_name: str) -> str:
    """Create an empty group through the real API (as an IdP would, before adding members); its id."""
    response = app.test_client().post(
        "/scim/v2/Groups",
        json={"schemas": [CORE_GROUP], "displayName": display_name},
        headers={"Authorization": f"Bearer {token}", "X-Request-Origin": "idp.example.com"},
    )
    if response.status_code != 201:
        raise RuntimeError(f"creating group {display_name!r}: {response.status_code} {response.data!r}")
    return response.get_json()["id"]


def seed_group_members(app: Flask, slug: str, group_id: str, user_ids: list[str]) -> None:
    """Bulk-insert ``user_ids`` as members of the group: the ``scim_group_members`` rows a membership
    ``add`` writes (an unmapped group: no host grants, so nothing else is written; as in
    ``tests/test_groups_scale.py``)."""
    tenant_id = tenant_of(app, slug).id
    with app.app_context():
        for low in range(0, len(user_ids), BATCH):
            host_db.session.execute(
                insert(ScimGroupMember),
                [
                    {"group_id": group_id, "member_id": m, "tenant_id": tenant_id}
                    for m in user_ids[low : low + BATCH]
                ],
            )
        # The count the membership statements keep (scim_groups.member_count).
        host_db.session.execute(
            update(ScimGroup)
            .where(ScimGroup.id == group_id)
            .values(member_count=ScimGroup.member_count + len(user_ids))
        )
        host_db.session.commit()


def group_members_via_api(app: Flask, token: str, group_id: str) -> int:
    """How many members the API sees in the group (``GET /Users?filter=groups.value eq ...&count=0``)."""
    response = app.test_client().get(
        "/scim/v2/Users",
        query_string={"filter": f'groups.value eq "{group_id}"', "count": 0},
        headers={"Authorization": f"Bearer {token}", "X-Request-Origin": "idp.example.com"},
    )
    if response.status_code != 200:
        raise RuntimeError(f"reading group {group_id} failed: {response.status_code} {response.data!r}")
    return response.get_json()["totalResults"]
