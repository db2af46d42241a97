"""What every hook of the seam shares: the hook marker, the plugin's errors (imported lazily, so this
package never imports the plugin at import time), and finding the company's rows by id or name.
"""

from __future__ import annotations

from typing import Any

import pluggy
from sqlalchemy import bindparam, func, select

from ..extensions import db
from ..models import (
    User,
    Workspace,
)
from ..permissions import ALIASES

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


# A user of the company, and another user of it: what deleting a user checks.
_OTHER_USERS = _USERS.alias("other_users")
_SAME_COMPANY = (_USERS.c.id == bindparam("user_id"), _USERS.c.company_id == bindparam("company_id"))
_ANOTHER_USER = select(_OTHER_USERS.c.id).where(
    _OTHER_USERS.c.company_id == bindparam("company_id"), _OTHER_USERS.c.id != bindparam("user_id")
)
_USER_IN_COMPANY = select(_USERS.c.id).where(*_SAME_COMPANY)
