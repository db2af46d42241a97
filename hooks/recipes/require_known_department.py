"""Refuse users whose ``department`` is not one the company knows (``scim_create_user``/``scim_update_user``).

Enable with ``SCIM_PLUGINS = ["examples.host_app.scim_seam", "hooks.recipes.require_known_department"]``
and set ``KNOWN_DEPARTMENTS = ["Engineering", "Marketing", ...]`` (matched without regard to case; not a
``SCIM_*`` key, since the plugin refuses ``SCIM_*`` keys it does not know).

Both implementations run first (``tryfirst=True``) and return ``None`` when the department is fine, so the
host's seam still creates or updates the user; raising ``InvalidValue`` refuses the request with a 400
and nothing is written. A user without a department is accepted.
"""

from __future__ import annotations

from flask import current_app

from scim_plugin import hookimpl
from scim_plugin.errors import InvalidValue
from scim_plugin.seam import UserChange


def check_department(user: UserChange) -> None:
    known = {name.casefold() for name in current_app.config.get("KNOWN_DEPARTMENTS", ())}
    if user.department is not None and user.department.casefold() not in known:
        raise InvalidValue(f'Unknown department "{user.department}".')


@hookimpl(tryfirst=True)
def scim_create_user(tenant_id: str, user: UserChange) -> None:
    check_department(user)


@hookimpl(tryfirst=True)
def scim_update_user(tenant_id: str, host_user_id: str, user: UserChange) -> None:
    check_department(user)
