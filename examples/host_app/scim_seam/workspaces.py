"""The company's workspaces and the values its permissions may take, as the settings page and the
group-mapping form offer them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import (
    PermissionSet,
    Role,
    Team,
    Workspace,
)
from ..permissions import ALIASES, COMPANY_PERMISSIONS, TEAM_PERMISSIONS, WORKSPACE_PERMISSIONS
from .common import (
    _company_id,
    _find,
    _seam,
    hookimpl,
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


@hookimpl
def scim_value_aliases(tenant_id: str) -> dict[str, dict[str, str]]:
    """The other spellings of workspace and team permissions that ``_check_permissions`` accepts."""
    from scim_plugin.core.schemas import PERMISSIONS_URN

    keys = ("workspaces.permissions", "teams.permissions")
    return {f"{PERMISSIONS_URN}:{key}": dict(ALIASES) for key in keys}


@hookimpl
def scim_canonical_values(tenant_id: str) -> dict[str, list[str]]:
    """Publish the tenant's workspaces, teams, roles, permission sets and permission strings."""
    from scim_plugin.core.schemas import PERMISSIONS_URN

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
