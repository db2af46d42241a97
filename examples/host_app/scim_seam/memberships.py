"""A new user's workspace memberships, inserted by statements that check the workspace themselves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select

from ..extensions import db
from ..models import (
    WorkspaceMembership,
)
from .common import (
    _USERS,
    _WORKSPACES,
    _errors,
    _seam,
)

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


_INSERT_MEMBERSHIP_ROWS = insert(_MEMBERSHIPS).from_select(
    _MEMBERSHIP_COLUMNS, _membership_of(bindparam("m_user", type_=_USERS.c.id.type))
)
# RETURNING, not the row count: drivers need not count the rows of an INSERT ... SELECT.
_INSERT_MEMBERSHIP = _INSERT_MEMBERSHIP_ROWS.returning(_MEMBERSHIPS.c.user_id)


def insert_membership(params: dict[str, Any]) -> bool:
    """Insert the membership ``params`` describe; ``False`` when the company has no such workspace."""
    if db.session.get_bind().dialect.insert_returning:
        return db.session.execute(_INSERT_MEMBERSHIP, params).first() is not None
    # MySQL: no RETURNING; its driver counts the rows an INSERT ... SELECT wrote.
    return db.session.execute(_INSERT_MEMBERSHIP_ROWS, params).rowcount == 1


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
