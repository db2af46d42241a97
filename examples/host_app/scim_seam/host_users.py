"""An existing dashboard user: what SCIM shows of it (last sign-in) and the grants of its mapped groups."""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from sqlalchemy import bindparam, select
from sqlalchemy.orm.util import identity_key

from ..extensions import db
from ..models import (
    User,
)
from .common import (
    _USERS,
    _company_id,
    _errors,
    _seam,
    hookimpl,
)
from .grants import (
    _apply_permissions,
    _dump,
    _load,
    _snapshot,
)

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
def scim_host_user_url(tenant_id: str, host_user_id: str) -> str | None:
    """The dashboard's page of the user (company admins only, as the activity page's readers)."""
    if not host_user_id.isdigit():
        return None
    return url_for("dashboard.user_detail", user_id=int(host_user_id))


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
