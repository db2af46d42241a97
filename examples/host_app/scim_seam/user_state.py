"""``scim_user_state``, ``scim_link_user``, ``scim_manual_users``, ``scim_count_manual_users``: what the
dashboard holds for a user, told back to the plugin so that SCIM answers the dashboard's truth.

A write this request just made leaves its answer in ``g.scim_states`` (``remember``), so the answer after
a create or a profile change costs no query. Otherwise the user is read with its memberships, and every
reference is given with its id and name (``Names``: one query per kind of row, per company).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import g
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import PermissionSet, Role, Team, User, Workspace
from ..permissions import ALIASES
from .common import _USERS, _company_id, _row_id, _seam, hookimpl
from .grants import _load, _snapshot


def remember(user_id: int, state: Any) -> None:
    """What a write of this request left the user as: the next ``scim_user_state`` answers it."""
    g.setdefault("scim_states", {})[int(user_id)] = state


@hookimpl
def scim_user_state(tenant_id: str, host_user_id: str) -> Any:
    user_id = _row_id(host_user_id)
    if user_id is None:
        return None
    remembered = g.get("scim_states", {}).pop(user_id, None)
    if remembered is not None:
        return remembered
    user = db.session.get(User, user_id)
    if user is None or user.company_id != _company_id(tenant_id):
        return None
    return state_of(user, Names(user.company_id))


@hookimpl
def scim_link_user(tenant_id: str, host_user_id: str) -> bool:
    user_id = _row_id(host_user_id)
    db.session.execute(
        update(_USERS)
        .where(_USERS.c.id == user_id, _USERS.c.company_id == _company_id(tenant_id))
        .values(provisioning_method="scim")
    )
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is not None:
        db.session.refresh(user, ["provisioning_method"])
    return True


@hookimpl
def scim_manual_users(tenant_id: str) -> Iterator[Any]:
    company_id = _company_id(tenant_id)
    names = Names(company_id)
    stmt = (
        select(User)
        .where(User.company_id == company_id, User.provisioning_method == "manual")
        .options(
            selectinload(User.memberships),
            selectinload(User.team_memberships),
            selectinload(User.role_assignments),
        )
        .order_by(User.id)
    )
    seam = _seam()
    for user in db.session.execute(stmt).scalars():
        yield seam.ManualUser(host_user_id=str(user.id), state=state_of(user, names))


@hookimpl
def scim_count_manual_users(tenant_id: str) -> int:
    return db.session.execute(
        select(func.count(User.id)).where(
            User.company_id == _company_id(tenant_id), User.provisioning_method == "manual"
        )
    ).scalar_one()


def state_of(user: User, names: Names) -> Any:
    """The user as the dashboard holds it: its own permissions (what SCIM or an admin set; for a user
    made by hand, its memberships) and what its mapped groups grant, named."""
    seam = _seam()
    own = _load(user.scim_own_permissions)
    if own is None:
        own = _snapshot(user)
    grants = _load(user.scim_group_grants) or seam.Permissions()
    return seam.HostUserState(
        user_name=user.email,
        email=user.email,
        given_name=user.given_name or None,
        family_name=user.family_name or None,
        department=user.department,
        active=bool(user.active),
        permissions=names.named(own),
        group_grants=names.named(grants),
        provisioning_method=user.provisioning_method,
    )


def profile_state(values: dict[str, Any], provisioning_method: str | None, permissions: Any = None) -> Any:
    """The state after a write of the profile columns ``values`` (``grants._profile``)."""
    return _seam().HostUserState(
        user_name=values["email"],
        email=values["email"],
        given_name=values["given_name"] or None,
        family_name=values["family_name"] or None,
        department=values["department"],
        active=bool(values["active"]),
        permissions=permissions,
        provisioning_method=provisioning_method,
    )


class Names:
    """The company's workspaces, roles, permission sets and teams by id and by lower-cased name, each
    kind read once when first needed."""

    _MODELS: dict[str, Any] = {"workspace": Workspace, "role": Role, "set": PermissionSet, "team": Team}

    def __init__(self, company_id: int) -> None:
        self.company_id = company_id
        self._rows: dict[str, tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]] = {}

    def known(self, kind: str, rows: list[tuple[Any, str]]) -> None:
        """Rows the caller already holds (id, name): no query for that kind."""
        by_id = {str(i): (str(i), name) for i, name in rows}
        self._rows[kind] = (by_id, {pair[1].lower(): pair for pair in by_id.values()})

    def ref(self, kind: str, ref: Any) -> Any:
        """``ref`` with the id and name the company has for it, or ``None`` when it has no such row."""
        by_id, by_name = self._load(kind)
        found = by_id.get(str(ref.id)) if ref.id is not None else by_name.get((ref.name or "").lower())
        return _seam().Ref(id=found[0], name=found[1]) if found is not None else None

    def _load(self, kind: str) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
        if kind not in self._rows:
            model = self._MODELS[kind]
            if kind == "team":
                scope = model.workspace_id.in_(
                    select(Workspace.id).where(Workspace.company_id == self.company_id)
                )
            else:
                scope = model.company_id == self.company_id
            self.known(kind, list(db.session.execute(select(model.id, model.name).where(scope)).all()))
        return self._rows[kind]

    def named(self, permissions: Any) -> Any:
        """``permissions`` with every reference named (one the company no longer has is left out) and
        permission aliases in their published spelling."""
        seam = _seam()
        workspaces = []
        for grant in permissions.workspaces:
            workspace = self.ref("workspace", grant.workspace)
            if workspace is None:
                continue
            permission_set = self.ref("set", grant.permission_set) if grant.permission_set else None
            workspaces.append(
                seam.WorkspaceGrant(
                    workspace=workspace,
                    permissions=_canonical(grant.permissions),
                    permission_set=permission_set,
                )
            )
        teams = []
        for grant in permissions.teams:
            team = self.ref("team", grant.team)
            if team is None:
                continue
            workspace = self.ref("workspace", grant.workspace) if grant.workspace is not None else None
            teams.append(
                seam.TeamGrant(team=team, workspace=workspace, permissions=_canonical(grant.permissions))
            )
        roles = tuple(role for role in (self.ref("role", r) for r in permissions.roles) if role is not None)
        return seam.Permissions(
            company_permissions=_canonical(permissions.company_permissions),
            roles=tuple(dict.fromkeys(roles)),
            workspaces=tuple(workspaces),
            teams=tuple(teams),
        )


def _canonical(values: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ALIASES.get(value, value) for value in values))
