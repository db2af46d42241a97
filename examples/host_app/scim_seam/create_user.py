"""``scim_create_user``: a SCIM user becomes a dashboard user, with its workspaces, teams and roles."""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    RoleAssignment,
    TeamMembership,
)
from .common import (
    _USERS,
    _WORKSPACE_BY_ID,
    _company_id,
    _errors,
    _seam,
    hookimpl,
)
from .grants import (
    _dump,
    _resolve,
)
from .memberships import (
    _membership_params,
    _unknown_workspace,
    insert_membership,
)
from .postgresql import _insert_user_with_membership
from .user_state import Names, profile_state, remember

_INSERT_USER = insert(_USERS).returning(_USERS.c.id)
# PostgreSQL aborts the whole transaction on a unique violation, after which not even the refusal's
# message could be read on it; DO NOTHING leaves it usable (and returns no id).
_INSERT_USER_OR_NOTHING = postgresql.insert(_USERS).on_conflict_do_nothing().returning(_USERS.c.id)


_INSERT_ROWS = {
    "teams": insert(TeamMembership.__table__),
    "roles": insert(RoleAssignment.__table__),
}


@hookimpl
def scim_create_user(tenant_id: str, user: Any) -> str:
    company_id = _company_id(tenant_id)
    email = user.user_name
    values: dict[str, Any] = {
        "company_id": company_id,
        "email": email,
        "given_name": user.given_name or "",
        "family_name": user.family_name or "",
        "department": user.department,
        "active": user.active,
        "provisioning_method": "scim",
        "company_permissions": [],
    }
    grants = None
    unchecked: dict[int, Any] = {}  # workspaces granted by id: the membership INSERTs check them
    if user.permissions is not None:
        # A new user has no group grants yet: its own permissions are all it has.
        grants = _resolve(company_id, user.permissions, unchecked=unchecked)
        values["scim_own_permissions"] = _dump(user.permissions)
        values["company_permissions"] = grants.company_permissions
    memberships = list(grants.memberships.items()) if grants is not None else []
    # Plain INSERTs: a new user has nothing to load or reconcile, so the ORM's unit of work (which
    # _apply_permissions needs for updates) would only add its bookkeeping.
    on_postgresql = db.session.get_bind().dialect.name == "postgresql"
    try:
        if len(memberships) == 1 and on_postgresql:
            # The usual create (one workspace): the user and its membership in one round trip.
            workspace_id, granted = memberships.pop()
            params = {f"u_{key}": value for key, value in values.items()}
            params.update(_membership_params(company_id, workspace_id, granted))
            host_id = db.session.execute(_insert_user_with_membership(tuple(values)), params).scalar()
            if host_id is None:
                # No row: the workspace is not the company's (a user row written goes with the
                # rollback), or else the email is taken (nothing was written).
                known = {"id": workspace_id, "company_id": company_id}
                if db.session.execute(_WORKSPACE_BY_ID, known).first() is None:
                    raise _unknown_workspace(workspace_id, unchecked)
                raise _errors().Uniqueness(_taken(company_id, email))
        else:
            if on_postgresql:
                host_id = db.session.execute(_INSERT_USER_OR_NOTHING, values).scalar()
            elif db.session.get_bind().dialect.insert_returning:
                host_id = db.session.execute(_INSERT_USER, values).scalar()
            else:  # MySQL: no RETURNING, the driver reports the new id
                host_id = db.session.execute(insert(_USERS), values).inserted_primary_key[0]
            if host_id is None:
                raise _errors().Uniqueness(_taken(company_id, email))
    except IntegrityError as exc:
        # The unique index on lower(email) answers "is it taken?" in the INSERT itself (no lookup
        # first, and no race between a lookup and the INSERT); the plugin rolls the request back.
        # Other databases undo only the failed statement, so the transaction can still be read.
        if "email" not in str(exc.orig).lower():
            raise
        raise _errors().Uniqueness(_taken(company_id, email)) from None
    for workspace_id, granted in memberships:
        params = {"m_user": host_id, **_membership_params(company_id, workspace_id, granted)}
        if not insert_membership(params):
            raise _unknown_workspace(workspace_id, unchecked)
    if grants is not None:
        rows = {
            "teams": [{"user_id": host_id, "team_id": t, "permissions": p} for t, p in grants.teams],
            "roles": [{"user_id": host_id, "role_id": role_id} for role_id in grants.role_ids],
        }
        for kind, statement in _INSERT_ROWS.items():
            if rows[kind]:
                db.session.execute(statement, rows[kind])
    g.setdefault("new_host_users", set()).add(host_id)
    permissions = _seam().Permissions()
    if user.permissions is not None:
        names = Names(company_id)
        # Workspaces given by id and name (the default workspace, from the company's SCIM settings): the
        # membership INSERT checked the id is the company's, and the name is taken as given, so the
        # usual create reads no workspace row.
        given = [grant.workspace for grant in user.permissions.workspaces]
        if all(ref.id is not None and ref.name is not None for ref in given):
            names.known("workspace", [(ref.id, ref.name) for ref in given])
        permissions = names.named(user.permissions)
    remember(host_id, profile_state(values, "scim", permissions))
    return str(host_id)


def _taken(company_id: int, email: str) -> str:
    """The refusal of an email a dashboard user has: for one of this company made by hand, what the
    admin can do about it. Read in the request's own transaction: a second connection per refused
    create would exhaust the pool when an IdP retries a batch of them at once."""
    found = db.session.execute(
        select(_USERS.c.company_id, _USERS.c.provisioning_method).where(
            func.lower(_USERS.c.email) == email.lower()
        )
    ).first()
    if found is not None and found.company_id == company_id and found.provisioning_method == "manual":
        return (
            f'A dashboard user with email "{email}" already exists in this company and is managed '
            "manually. To let the identity provider manage it, set Existing users to Match on the SCIM "
            "Provisioning page (or run flask scim token issue --existing-users match), then send the "
            "request again: it links that account instead of creating one."
        )
    return f'A dashboard user with email "{email}" already exists.'
