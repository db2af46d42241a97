"""The dashboard's side of scim-plugin's host seam: how SCIM users become dashboard users.

Registered into the plugin's own plugin manager through ``SCIM_PLUGINS`` (only when the SCIM plugin is
loaded). Marked with the plugin's project name, so the host does not import the plugin package; the
errors it raises are the plugin's SCIM errors, imported lazily where a refusal needs one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pluggy
from flask import g
from sqlalchemy import bindparam, delete, func, insert, select, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from .extensions import db
from .models import (
    Company,
    PermissionSet,
    Role,
    RoleAssignment,
    Team,
    TeamMembership,
    User,
    Workspace,
    WorkspaceMembership,
)
from .permissions import ALIASES, COMPANY_PERMISSIONS, TEAM_PERMISSIONS, WORKSPACE_PERMISSIONS

hookimpl = pluggy.HookimplMarker("scim")


def _errors() -> Any:
    from scim_plugin import errors

    return errors


def _seam() -> Any:
    from scim_plugin import seam

    return seam


def _company_id(tenant_id: str) -> int:
    return int(tenant_id)


def _row_id(value: Any) -> int | None:
    """``value`` as one of this host's integer ids, or ``None``: ASCII digits only (``str.isdigit()`` also
    takes "²", which ``int()`` refuses) and within the databases' 64-bit integers."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if number < 2**63 else None


def _find(what: Any, model: Any, ref: Any, *scope: Any) -> Any:
    """``what`` (the row, or a column of it) of the ``model`` row that ``ref`` names by id or by
    case-insensitive name, within ``scope``; ``None`` when there is none. A name several rows of the
    scope share (teams of different workspaces) is refused rather than guessed."""
    if ref.id is not None:
        row_id = _row_id(ref.id)
        if row_id is None:
            return None
        condition = model.id == row_id
    elif ref.name is not None:
        condition = func.lower(model.name) == ref.name.lower()
    else:
        return None
    found = db.session.execute(select(what).where(condition, *scope).limit(2)).scalars().all()
    if len(found) > 1:
        raise _errors().InvalidValue(f"Ambiguous {ref.describe()}: name its workspace or its id.")
    return found[0] if found else None


# Statements of every provisioning request, built once on the tables: a Core statement skips the ORM's
# per-statement work.
_WORKSPACES, _USERS = Workspace.__table__, User.__table__
_WORKSPACE_BY_ID = select(_WORKSPACES.c.id).where(
    _WORKSPACES.c.id == bindparam("id"), _WORKSPACES.c.company_id == bindparam("company_id")
)
_WORKSPACE_BY_NAME = select(_WORKSPACES.c.id).where(
    func.lower(_WORKSPACES.c.name) == bindparam("name"), _WORKSPACES.c.company_id == bindparam("company_id")
)


def _workspace_id(ref: Any, company_id: int) -> int | None:
    """The id of the company's workspace ``ref`` names: one prepared statement, no ORM object (every
    provisioned user joins a workspace, so this runs on every create)."""
    if ref.id is not None:
        row_id = _row_id(ref.id)
        if row_id is None:
            return None
        return db.session.execute(_WORKSPACE_BY_ID, {"id": row_id, "company_id": company_id}).scalar()
    if ref.name is not None:
        params = {"name": ref.name.lower(), "company_id": company_id}
        return db.session.execute(_WORKSPACE_BY_NAME, params).scalar()
    return None


def _check_permissions(values: tuple[str, ...], allowed: frozenset[str], what: str) -> list[str]:
    cleaned = []
    for value in values:
        name = ALIASES.get(value, value)
        if name not in allowed:
            raise _errors().InvalidValue(f'Unknown {what} permission "{value}".')
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


@hookimpl
def scim_resolve_tenant(key: str) -> str | None:
    company = db.session.execute(select(Company).where(Company.slug == key)).scalar_one_or_none()
    if company is None and (company_id := _row_id(key)) is not None:
        company = db.session.get(Company, company_id)
    return str(company.id) if company else None


@hookimpl
def scim_current_admin() -> Any:
    user = g.get("user")
    if user is None:
        return None
    return _seam().AdminIdentity(
        user_id=str(user.id), display=user.email, tenant_id=str(user.company_id), is_admin=user.is_admin
    )


@hookimpl
def scim_list_workspaces(tenant_id: str) -> list[Any]:
    rows = db.session.execute(
        select(Workspace).where(Workspace.company_id == _company_id(tenant_id)).order_by(Workspace.name)
    ).scalars()
    return [_seam().WorkspaceInfo(id=str(ws.id), name=ws.name) for ws in rows]


@hookimpl
def scim_resolve_workspace(tenant_id: str, ref: Any) -> Any:
    workspace = _find(Workspace, Workspace, ref, Workspace.company_id == _company_id(tenant_id))
    return _seam().WorkspaceInfo(id=str(workspace.id), name=workspace.name) if workspace else None


_INSERT_USER = insert(_USERS).returning(_USERS.c.id)
_INSERT_ROWS = {
    "teams": insert(TeamMembership.__table__),
    "roles": insert(RoleAssignment.__table__),
}
_MEMBERSHIPS = WorkspaceMembership.__table__
_MEMBERSHIP_COLUMNS = ["user_id", "workspace_id", "permissions", "permission_set_id"]


def _membership_of(user_id: Any) -> Any:
    """The membership row ``user_id`` gets in the workspace ``m_workspace``, if the company has it: the
    INSERT itself checks the workspace (one statement where a lookup and an INSERT were two)."""
    return select(
        user_id,
        _WORKSPACES.c.id,
        bindparam("m_permissions", type_=_MEMBERSHIPS.c.permissions.type),
        bindparam("m_permission_set_id", type_=_MEMBERSHIPS.c.permission_set_id.type),
    ).where(_WORKSPACES.c.id == bindparam("m_workspace"), _WORKSPACES.c.company_id == bindparam("m_company"))


# RETURNING, not the row count: drivers need not count the rows of an INSERT ... SELECT.
_INSERT_MEMBERSHIP = (
    insert(_MEMBERSHIPS)
    .from_select(_MEMBERSHIP_COLUMNS, _membership_of(bindparam("m_user", type_=_USERS.c.id.type)))
    .returning(_MEMBERSHIPS.c.user_id)
)


@functools.lru_cache(maxsize=8)
def _insert_user_with_membership(user_columns: tuple[str, ...]) -> Any:
    """PostgreSQL: the user (parameters ``u_<column>``) in a writable CTE of the INSERT of its one
    membership, which returns the new id, or nothing when the company has no such workspace. No
    parameter is named as a column: SQLAlchemy would add that column to the outer INSERT."""
    new_user = (
        insert(_USERS)
        .values({key: bindparam(f"u_{key}") for key in user_columns})
        .returning(_USERS.c.id)
        .cte("new_user")
    )
    chosen = _membership_of(new_user.c.id).join_from(new_user, _WORKSPACES, true())
    return (
        insert(_MEMBERSHIPS)
        .from_select(_MEMBERSHIP_COLUMNS, chosen)
        .returning(_MEMBERSHIPS.c.user_id)
        .add_cte(new_user)
    )


def _membership_params(company_id: int, workspace_id: int, granted: Any) -> dict[str, Any]:
    permissions, set_id = granted
    return {
        "m_workspace": workspace_id,
        "m_company": company_id,
        "m_permissions": permissions,
        "m_permission_set_id": set_id,
    }


def _unknown_workspace(workspace_id: int, unchecked: dict[int, Any]) -> Exception:
    """The refusal of a membership its INSERT did not write: named as the client wrote it, or by id for
    a workspace found by name that went before the INSERT (deleted meanwhile)."""
    ref = unchecked.get(workspace_id) or _seam().Ref(id=str(workspace_id))
    return _errors().InvalidValue(f"Unknown workspace {ref.describe()}.")


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
    try:
        if len(memberships) == 1 and db.session.get_bind().dialect.name == "postgresql":
            # The usual create (one workspace): the user and its membership in one round trip.
            workspace_id, granted = memberships.pop()
            params = {f"u_{key}": value for key, value in values.items()}
            params.update(_membership_params(company_id, workspace_id, granted))
            host_id = db.session.execute(_insert_user_with_membership(tuple(values)), params).scalar()
            if host_id is None:
                raise _unknown_workspace(workspace_id, unchecked)
        else:
            host_id = db.session.execute(_INSERT_USER, values).scalar_one()
    except IntegrityError as exc:
        # The unique index on lower(email) answers "is it taken?" in the INSERT itself (no lookup
        # first, and no race between a lookup and the INSERT); the plugin rolls the request back.
        if "email" not in str(exc.orig).lower():
            raise
        raise _errors().Uniqueness(f'A dashboard user with email "{email}" already exists.') from None
    for workspace_id, granted in memberships:
        params = {"m_user": host_id, **_membership_params(company_id, workspace_id, granted)}
        if db.session.execute(_INSERT_MEMBERSHIP, params).first() is None:
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
    return str(host_id)


# A change that leaves permissions alone (Entra's active/name PATCHes) sets the profile columns in one
# UPDATE: loading the user and flushing it through the ORM cost ~0.7 ms in-process, inside the write.
_PROFILE_COLUMNS = ("email", "given_name", "family_name", "department", "active")
_UPDATE_PROFILE = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("p_id"), _USERS.c.company_id == bindparam("p_company"))
    .values({column: bindparam(f"p_{column}") for column in _PROFILE_COLUMNS})
    .returning(_USERS.c.id, _USERS.c.company_id, _USERS.c.last_sign_in_at)
)


@hookimpl
def scim_update_user(tenant_id: str, host_user_id: str, user: Any) -> bool:
    user_id = _row_id(host_user_id)
    # A user the session already holds goes through the ORM: a Core UPDATE would leave its copy stale.
    in_session = user_id is not None and db.session.identity_map.get(identity_key(User, user_id)) is not None
    if user.permissions is None and user_id is not None and not in_session:
        params = {"p_id": user_id, "p_company": _company_id(tenant_id)}
        params.update({f"p_{column}": value for column, value in _profile(user).items()})
        row = db.session.execute(_UPDATE_PROFILE, params).first()
        if row is None:
            raise _errors().NotFound("The dashboard user behind this SCIM user no longer exists.")
        g.setdefault("updated_host_users", {})[user_id] = row  # what scim_host_user_info needs
        return True
    host_user = _host_user(tenant_id, host_user_id)
    _apply(host_user, user)
    db.session.flush()
    return True


def _profile(change: Any) -> dict[str, Any]:
    """The profile columns (``_PROFILE_COLUMNS``) as ``change`` sets them."""
    return {
        "email": change.user_name,
        "given_name": change.given_name or "",
        "family_name": change.family_name or "",
        "department": change.department,
        "active": change.active,
    }


_LOCK_COMPANY = (
    select(Company.__table__.c.id).where(Company.__table__.c.id == bindparam("company_id")).with_for_update()
)
_OTHER_USERS = _USERS.alias("other_users")
_SAME_COMPANY = (_USERS.c.id == bindparam("user_id"), _USERS.c.company_id == bindparam("company_id"))
_ANOTHER_USER = select(_OTHER_USERS.c.id).where(
    _OTHER_USERS.c.company_id == bindparam("company_id"), _OTHER_USERS.c.id != bindparam("user_id")
)
# The user goes only if another user of the company stays: the rule is checked in the DELETE itself.
_DELETE_USER = delete(_USERS).where(*_SAME_COMPANY, _ANOTHER_USER.exists())
# PostgreSQL, first try: the user row and a survivor locked without waiting for anyone (the survivor
# ``FOR KEY SHARE``, which only a DELETE or a change of its email conflicts with), so concurrent deletes
# in one company run side by side. A survivor kept locked until commit cannot go meanwhile, so the
# company keeps a user whatever else commits; a locking read sees the latest rows, not the snapshot.
_DELETE_USER_UNCONTENDED = delete(_USERS).where(
    _USERS.c.id.in_(select(_USERS.c.id).where(*_SAME_COMPANY).with_for_update(skip_locked=True)),
    _ANOTHER_USER.limit(1).with_for_update(read=True, key_share=True, skip_locked=True).exists(),
)
# Second try, under the company row lock: wait for the rows the first try skipped.
_DELETE_USER_WAITING = delete(_USERS).where(
    *_SAME_COMPANY, _ANOTHER_USER.limit(1).with_for_update(read=True, key_share=True).exists()
)
_USER_IN_COMPANY = select(_USERS.c.id).where(*_SAME_COMPANY)
_FIRST_TRY = "scim_host_delete"


@hookimpl
def scim_delete_user(tenant_id: str, host_user_id: str) -> bool:
    if not host_user_id.isdigit():
        raise _errors().NotFound("The dashboard user behind this SCIM user no longer exists.")
    params = {"company_id": _company_id(tenant_id), "user_id": int(host_user_id)}
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite:
        # One DELETE, scoped to the company and refusing its last user, instead of loading the user to
        # check whose it is and counting what is left. SQLite's driver runs plain SELECTs outside the
        # transaction, and its one writer lock orders the DELETEs: the check sees every earlier delete.
        deleted = db.session.execute(_DELETE_USER, params).rowcount == 1
    else:
        deleted = _delete_with_row_locks(params)
    if not deleted:
        if db.session.execute(_USER_IN_COMPANY, params).first() is None:
            raise _errors().NotFound("The dashboard user behind this SCIM user no longer exists.")
        raise _errors().HostRefused("Failed to delete user: a company must keep at least one dashboard user.")
    # The memberships go with the user: their foreign keys cascade (on SQLite too, where the app turns
    # foreign keys on for every connection).
    loaded = db.session.identity_map.get(identity_key(User, params["user_id"]))
    if loaded is not None:  # loaded earlier in this request: it no longer exists
        db.session.expunge(loaded)
    return True


def _delete_with_row_locks(params: dict[str, int]) -> bool:
    """Delete the user unless it is its company's last; ``False`` when it is, or is gone.

    A company row lock taken by every delete would make the company's deletes queue one behind
    another (an IdP deprovisions many users of one company at once). So the first try waits for
    nothing: it skips rows other transactions hold. Only when it deletes nothing (the last user, or
    the rows it needs are busy) does a second try lock the company, which orders such tries, and
    wait. The first try runs in a savepoint whose rollback frees what it locked: a try that waits for
    the company lock while holding a row another one waits for would deadlock.
    """
    db.session.execute(text(f"SAVEPOINT {_FIRST_TRY}"))
    if db.session.execute(_DELETE_USER_UNCONTENDED, params).rowcount == 1:
        return True  # the savepoint ends with the transaction: no RELEASE round trip
    db.session.execute(text(f"ROLLBACK TO SAVEPOINT {_FIRST_TRY}"))
    db.session.execute(_LOCK_COMPANY, params)
    return db.session.execute(_DELETE_USER_WAITING, params).rowcount == 1


@hookimpl
def scim_value_aliases(tenant_id: str) -> dict[str, dict[str, str]]:
    """The other spellings of workspace and team permissions that ``_check_permissions`` accepts."""
    from scim_plugin.schemas import PERMISSIONS_URN

    keys = ("workspaces.permissions", "teams.permissions")
    return {f"{PERMISSIONS_URN}:{key}": dict(ALIASES) for key in keys}


@hookimpl
def scim_canonical_values(tenant_id: str) -> dict[str, list[str]]:
    """Publish the tenant's workspaces, teams, roles, permission sets and permission strings."""
    from scim_plugin.schemas import PERMISSIONS_URN

    company_id = _company_id(tenant_id)
    workspaces = db.session.execute(
        select(Workspace.id, Workspace.name).where(Workspace.company_id == company_id).order_by(Workspace.id)
    ).all()
    teams = db.session.execute(
        select(Team.id, Team.name, Team.workspace_id)
        .join(Workspace, Team.workspace_id == Workspace.id)
        .where(Workspace.company_id == company_id)
        .order_by(Team.id)
    ).all()
    roles = db.session.execute(select(Role.id, Role.name).where(Role.company_id == company_id)).all()
    sets = db.session.execute(
        select(PermissionSet.id, PermissionSet.name).where(PermissionSet.company_id == company_id)
    ).all()
    team_workspaces = [ws for ws in workspaces if any(team.workspace_id == ws.id for team in teams)]
    urn = PERMISSIONS_URN
    return {
        f"{urn}:companyPermissions": sorted(COMPANY_PERMISSIONS),
        f"{urn}:roles.value": [str(r.id) for r in roles],
        f"{urn}:roles.display": [r.name for r in roles],
        f"{urn}:workspaces.value": [str(w.id) for w in workspaces],
        f"{urn}:workspaces.display": [w.name for w in workspaces],
        f"{urn}:workspaces.permissions": sorted(WORKSPACE_PERMISSIONS),
        f"{urn}:workspaces.permissionSet": [p.name for p in sets],
        f"{urn}:workspaces.permissionSetId": [str(p.id) for p in sets],
        f"{urn}:teams.value": [str(t.id) for t in teams],
        f"{urn}:teams.display": [t.name for t in teams],
        f"{urn}:teams.permissions": sorted(TEAM_PERMISSIONS),
        # A team is named together with its workspace: only workspaces that have teams make sense.
        f"{urn}:teams.workspace": [str(w.id) for w in team_workspaces],
        f"{urn}:teams.workspaceName": [w.name for w in team_workspaces],
    }


_SIGN_IN = select(_USERS.c.company_id, _USERS.c.last_sign_in_at).where(_USERS.c.id == bindparam("id"))


@hookimpl
def scim_host_user_info(tenant_id: str, host_user_id: str) -> Any:
    if int(host_user_id) in g.get("new_host_users", ()):
        return _seam().HostUserInfo(last_sign_in_at=None)  # created by this request: never signed in
    host_user = db.session.identity_map.get(identity_key(User, int(host_user_id)))
    if host_user is None:
        host_user = g.get("updated_host_users", {}).get(int(host_user_id))
    if host_user is None:
        # Two columns, not the whole user: this runs on every GET of a SCIM user.
        host_user = db.session.execute(_SIGN_IN, {"id": int(host_user_id)}).first()
    if host_user is None or host_user.company_id != _company_id(tenant_id):
        return None
    return _seam().HostUserInfo(last_sign_in_at=host_user.last_sign_in_at)


def _host_user(tenant_id: str, host_user_id: str) -> User:
    host_user = db.session.get(User, int(host_user_id))
    if host_user is None or host_user.company_id != _company_id(tenant_id):
        raise _errors().NotFound("The dashboard user behind this SCIM user no longer exists.")
    # The session holds loaded objects weakly: keep this one for the request, so that the plugin's
    # later scim_host_user_info (lastSignInAt for the response) finds it without a second query.
    g.setdefault("host_users", []).append(host_user)
    return host_user


@hookimpl
def scim_apply_group_grants(tenant_id: str, host_user_id: str, grants: Any) -> bool:
    """Memberships become the user's own permissions plus what its mapped groups grant now."""
    host_user = _host_user(tenant_id, host_user_id)
    own = _load(host_user.scim_own_permissions)
    if own is None:
        # First grant for a user whose own permissions SCIM never set: what it has now is its own.
        own = _snapshot(host_user)
        host_user.scim_own_permissions = _dump(own)
    host_user.scim_group_grants = _dump(grants)
    _apply_permissions(host_user, own, grants)
    db.session.flush()
    return True


def _dump(permissions: Any) -> dict[str, Any]:
    def ref(r: Any) -> dict[str, Any]:
        return {"id": r.id, "name": r.name}

    return {
        "company_permissions": list(permissions.company_permissions),
        "roles": [ref(r) for r in permissions.roles],
        "workspaces": [
            {
                "workspace": ref(w.workspace),
                "permissions": list(w.permissions),
                "permission_set": ref(w.permission_set) if w.permission_set is not None else None,
            }
            for w in permissions.workspaces
        ],
        "teams": [
            {
                "team": ref(t.team),
                "workspace": ref(t.workspace) if t.workspace is not None else None,
                "permissions": list(t.permissions),
            }
            for t in permissions.teams
        ],
    }


def _load(data: dict[str, Any] | None) -> Any:
    if data is None:
        return None
    seam = _seam()

    def ref(d: dict[str, Any] | None) -> Any:
        return seam.Ref(id=d["id"], name=d["name"]) if d is not None else None

    return seam.Permissions(
        company_permissions=tuple(data.get("company_permissions", ())),
        roles=tuple(ref(r) for r in data.get("roles", ())),
        workspaces=tuple(
            seam.WorkspaceGrant(
                workspace=ref(w["workspace"]),
                permissions=tuple(w.get("permissions", ())),
                permission_set=ref(w.get("permission_set")),
            )
            for w in data.get("workspaces", ())
        ),
        teams=tuple(
            seam.TeamGrant(
                team=ref(t["team"]),
                workspace=ref(t.get("workspace")),
                permissions=tuple(t.get("permissions", ())),
            )
            for t in data.get("teams", ())
        ),
    )


def _snapshot(host_user: User) -> Any:
    """The user's current memberships as seam Permissions (by id)."""
    seam = _seam()
    return seam.Permissions(
        company_permissions=tuple(host_user.company_permissions or ()),
        roles=tuple(seam.Ref(id=str(a.role_id)) for a in host_user.role_assignments),
        workspaces=tuple(
            seam.WorkspaceGrant(
                workspace=seam.Ref(id=str(m.workspace_id)),
                permissions=tuple(m.permissions or ()),
                permission_set=seam.Ref(id=str(m.permission_set_id)) if m.permission_set_id else None,
            )
            for m in host_user.memberships
        ),
        teams=tuple(
            seam.TeamGrant(
                team=seam.Ref(id=str(t.team_id)),
                workspace=seam.Ref(id=str(t.team.workspace_id)),
                permissions=tuple(t.permissions or ()),
            )
            for t in host_user.team_memberships
        ),
    )


def _apply(host_user: User, change: Any) -> None:
    for column, value in _profile(change).items():
        setattr(host_user, column, value)
    if change.permissions is not None:
        host_user.scim_own_permissions = _dump(change.permissions)
        _apply_permissions(host_user, change.permissions, _load(host_user.scim_group_grants))


@dataclass
class _Grants:
    """What a user's permissions come to, checked against the company: ids, not ORM objects."""

    company_permissions: list[str]
    role_ids: list[int]
    memberships: dict[int, tuple[list[str], int | None]]  # workspace id -> (permissions, set id)
    teams: list[tuple[int, list[str]]]  # (team id, permissions)


def _id_of(model: Any, ref: Any, *scope: Any) -> int | None:
    """The id of the row ``ref`` names (``_find``); no ORM object."""
    return _find(model.id, model, ref, *scope)  # type: ignore[no-any-return]


def _resolve(
    company_id: int, permissions: Any, group_grants: Any = None, *, unchecked: dict[int, Any] | None = None
) -> _Grants:
    """Check ``permissions`` (plus what mapped groups grant) and resolve every reference.

    ``group_grants`` is added on top: permissions and roles are unioned, a workspace both grant gets the
    union of the permission lists, and the user's own permission set wins over a group's.
    With ``unchecked``, a workspace granted by id is not looked up: its id goes into the dict (with its
    reference) and the caller's INSERT checks it (``_INSERT_MEMBERSHIP``, ``scim_create_user``).
    """
    extra = group_grants or _seam().Permissions()
    company_permissions = _check_permissions(
        tuple(permissions.company_permissions) + tuple(extra.company_permissions),
        COMPANY_PERMISSIONS,
        "company",
    )
    role_ids = []
    for ref in (*permissions.roles, *extra.roles):
        role_id = _id_of(Role, ref, Role.company_id == company_id)
        if role_id is None:
            raise _errors().InvalidValue(f"Unknown role {ref.describe()}.")
        role_ids.append(role_id)

    memberships: dict[int, tuple[list[str], int | None]] = {}
    own_workspaces = len(permissions.workspaces)
    for index, grant in enumerate((*permissions.workspaces, *extra.workspaces)):
        ref = grant.workspace
        workspace_id = _row_id(ref.id) if unchecked is not None and ref.id is not None else None
        if workspace_id is not None and unchecked is not None:
            unchecked[workspace_id] = ref
        else:
            workspace_id = _workspace_id(ref, company_id)
        if workspace_id is None:
            raise _errors().InvalidValue(f"Unknown workspace {grant.workspace.describe()}.")
        set_id = None
        if grant.permission_set is not None:
            set_id = _id_of(PermissionSet, grant.permission_set, PermissionSet.company_id == company_id)
            if set_id is None:
                raise _errors().InvalidValue(f"Unknown permission set {grant.permission_set.describe()}.")
        checked = _check_permissions(grant.permissions, WORKSPACE_PERMISSIONS, "workspace")
        if index >= own_workspaces and workspace_id in memberships:
            # A group grant on a workspace the user already has: add to it.
            held, held_set = memberships[workspace_id]
            memberships[workspace_id] = (list(dict.fromkeys([*held, *checked])), held_set or set_id)
            continue
        memberships[workspace_id] = (checked, set_id)

    teams = []
    for grant in permissions.teams:
        # Built per team grant (most users have none), not on every call: an expression costs ~11 us.
        scope = [Team.workspace_id.in_(select(Workspace.id).where(Workspace.company_id == company_id))]
        if grant.workspace is not None:
            workspace_id = _workspace_id(grant.workspace, company_id)
            if workspace_id is None:
                raise _errors().InvalidValue(f"Unknown workspace {grant.workspace.describe()}.")
            scope = [Team.workspace_id == workspace_id]
        team_id = _id_of(Team, grant.team, *scope)
        if team_id is None:
            raise _errors().InvalidValue(f"Unknown team {grant.team.describe()}.")
        team_workspace = db.session.execute(select(Team.workspace_id).where(Team.id == team_id)).scalar_one()
        memberships.setdefault(team_workspace, ([], None))  # a team member belongs to its workspace
        teams.append((team_id, _check_permissions(grant.permissions, TEAM_PERMISSIONS, "team")))
    return _Grants(company_permissions, list(dict.fromkeys(role_ids)), memberships, teams)


def _apply_permissions(host_user: User, permissions: Any, group_grants: Any = None) -> None:
    """Replace the user's company permissions, roles, workspace and team memberships."""
    grants = _resolve(host_user.company_id, permissions, group_grants)
    host_user.company_permissions = grants.company_permissions
    existing_roles = {assignment.role_id: assignment for assignment in host_user.role_assignments}
    host_user.role_assignments = [
        existing_roles.get(role_id) or RoleAssignment(role_id=role_id) for role_id in grants.role_ids
    ]
    # Existing rows are updated in place: replacing them would insert before deleting and trip the
    # (user, workspace) unique constraint.
    old_memberships = {m.workspace_id: m for m in host_user.memberships}
    old_teams = {t.team_id: t for t in host_user.team_memberships}
    memberships = []
    for workspace_id, (granted, set_id) in grants.memberships.items():
        row = old_memberships.get(workspace_id) or WorkspaceMembership(workspace_id=workspace_id)
        row.permissions, row.permission_set_id = granted, set_id
        memberships.append(row)
    teams = []
    for team_id, granted in grants.teams:
        row = old_teams.get(team_id) or TeamMembership(team_id=team_id)
        row.permissions = granted
        teams.append(row)
    # Replace rather than mutate, so removed workspaces and teams go away (PUT semantics).
    host_user.memberships = memberships
    host_user.team_memberships = teams
