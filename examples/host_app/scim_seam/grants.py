"""SCIM permissions to the dashboard's rows and back: workspace memberships, teams, roles and company
permissions, resolved against the company (a name the company does not have is refused, never created),
and the union with what mapped groups grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import (
    PermissionSet,
    Role,
    RoleAssignment,
    Team,
    TeamMembership,
    User,
    Workspace,
    WorkspaceMembership,
)
from ..permissions import COMPANY_PERMISSIONS, TEAM_PERMISSIONS, WORKSPACE_PERMISSIONS
from .common import (
    _check_permissions,
    _errors,
    _find,
    _row_id,
    _seam,
    _workspace_id,
)


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


def _profile(change: Any) -> dict[str, Any]:
    """The profile columns (``_PROFILE_COLUMNS``) as ``change`` sets them."""
    return {
        "email": change.user_name,
        "given_name": change.given_name or "",
        "family_name": change.family_name or "",
        "department": change.department,
        "active": change.active,
    }
