"""The dashboard's own changes, reaching the SCIM view: what a host calls when an admin edits a user.

The dashboard owns its users. A host that changes one outside SCIM (an admin moves a user to another
workspace, changes a role, deactivates or deletes it) calls ``user_changed`` or ``user_deleted`` in the
same transaction as its own change, after writing its rows; the plugin reads the user's state back
(``scim_user_state``) and stores it, so every SCIM answer and filter shows it, with a new version.
``apply_existing_users`` carries out a company's policy for users made by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from scim_plugin.state import get_state
from scim_plugin.storage.models import ScimUser, TenantSettings
from scim_plugin.storage.user_store import UserStore

EXISTING_USERS = ("manual", "match")


@dataclass(frozen=True)
class Provisioning:
    """How a dashboard user is provisioned, for the host's own pages (``provisioning_of``)."""

    scim_user_id: str
    #: False while the ``match`` policy only exposes the user: no SCIM client has written it yet.
    managed: bool
    #: When a SCIM client last wrote the user; ``None`` for an exposed one.
    scim_changed_at: datetime | None
    #: The company's provisioning method at that write (``custom``, ``entra``, ``okta``), if known.
    method: str | None


def user_changed(tenant_id: str, host_user_id: str) -> bool:
    """The dashboard changed the user: the SCIM view takes what the host holds now.

    Call it after your own writes, in the same transaction (commit them together). Under the ``match``
    policy a user made by hand that SCIM does not know yet is exposed. Returns whether a SCIM user now
    stands for the host user.
    """
    state = get_state()
    store = UserStore(state, tenant_id, None)
    row = store.refresh(host_user_id=str(host_user_id))
    if row is not None:
        return True
    if _policy(state, tenant_id) != "match":
        return False
    view = state.hook.scim_user_state(tenant_id=tenant_id, host_user_id=str(host_user_id))
    if view is None or view.provisioning_method == "scim":
        return False
    return store.expose(str(host_user_id), view) is not None


def user_deleted(tenant_id: str, host_user_id: str) -> bool:
    """The dashboard deleted the user: its SCIM user goes too, so SCIM answers 404 for it, never a stale
    document. Call it in the transaction of the delete; returns whether there was a SCIM user."""
    return UserStore(get_state(), tenant_id, None).forget(str(host_user_id)) is not None


def provisioning_of(tenant_id: str, host_user_ids: Iterable[str]) -> dict[str, Provisioning]:
    """How each of these host users is provisioned (one query), by host user id; absent: by hand."""
    ids = [str(i) for i in host_user_ids]
    if not ids:
        return {}
    rows = get_state().db.session.execute(
        select(
            ScimUser.id,
            ScimUser.host_user_id,
            ScimUser.managed,
            ScimUser.scim_changed_at,
            ScimUser.scim_method,
        ).where(ScimUser.tenant_id == tenant_id, ScimUser.host_user_id.in_(ids))
    )
    return {
        row.host_user_id: Provisioning(row.id, row.managed, row.scim_changed_at, row.scim_method)
        for row in rows
    }


def apply_existing_users(state: Any, tenant_id: str, policy: str) -> int:
    """Carry out the policy for the company's dashboard users made by hand; returns how many users it
    exposed (``match``) or hid again (``manual``: the exposed users no client took over go)."""
    session = state.db.session
    if policy == "manual":
        exposed = select(ScimUser.id).where(ScimUser.tenant_id == tenant_id, ScimUser.managed.is_(False))
        ids = list(session.execute(exposed).scalars())
        store = UserStore(state, tenant_id, None)
        for user_id in ids:
            store.drop(user_id)
        return len(ids)
    manual = state.hook.scim_manual_users(tenant_id=tenant_id)
    if manual is None:
        return 0
    store = UserStore(state, tenant_id, None)
    exposed_count = 0
    for user in manual:
        if store.expose(user.host_user_id, user.state) is not None:
            exposed_count += 1
    session.flush()
    return exposed_count


def manual_user_count(state: Any, tenant_id: str) -> int | None:
    """How many dashboard users made by hand ``match`` would expose (``scim_count_manual_users``)."""
    return state.hook.scim_count_manual_users(tenant_id=tenant_id)  # type: ignore[no-any-return]


def _policy(state: Any, tenant_id: str) -> str:
    found = state.db.session.execute(
        select(TenantSettings.existing_users).where(TenantSettings.tenant_id == tenant_id)
    ).scalar()
    return found or "manual"


__all__ = [
    "EXISTING_USERS",
    "Provisioning",
    "apply_existing_users",
    "manual_user_count",
    "provisioning_of",
    "user_changed",
    "user_deleted",
]
