"""``scim_delete_user``: the dashboard user goes, unless it is its company's last."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm.util import identity_key

from ..extensions import db
from ..models import (
    User,
)
from . import mysql, postgresql
from .common import (
    _ANOTHER_USER,
    _SAME_COMPANY,
    _USER_IN_COMPANY,
    _USERS,
    _company_id,
    _errors,
    hookimpl,
)

# The user goes only if another user of the company stays: the rule is checked in the DELETE itself.
_DELETE_USER = delete(_USERS).where(*_SAME_COMPANY, _ANOTHER_USER.exists())


@hookimpl
def scim_delete_user(tenant_id: str, host_user_id: str) -> bool:
    if not host_user_id.isdigit():
        raise _errors().NotFound("The dashboard user behind this SCIM user no longer exists.")
    params = {"company_id": _company_id(tenant_id), "user_id": int(host_user_id)}
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        # One DELETE, scoped to the company and refusing its last user, instead of loading the user to
        # check whose it is and counting what is left. SQLite's driver runs plain SELECTs outside the
        # transaction, and its one writer lock orders the DELETEs: the check sees every earlier delete.
        deleted = db.session.execute(_DELETE_USER, params).rowcount == 1
    elif dialect in ("mysql", "mariadb"):
        deleted = mysql._delete_under_company_lock(params)
    else:
        deleted = postgresql._delete_with_row_locks(params)
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
