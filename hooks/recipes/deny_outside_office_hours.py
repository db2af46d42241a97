"""Refuse SCIM requests outside office hours (a ``scim_ip_allowed`` veto).

Enable with ``SCIM_PLUGINS = ["examples.host_app.scim_seam", "hooks.recipes.deny_outside_office_hours"]``.

The built-in allowlist check still runs: this implementation can only deny more, never allow an address
the allowlist refuses (veto rule). Office hours are read from the app configuration:

- ``OFFICE_HOURS = (8, 18)``: first and last-plus-one hour, in ``OFFICE_TIMEZONE``;
- ``OFFICE_DAYS = (0, 1, 2, 3, 4)``: Monday is 0;
- ``OFFICE_TIMEZONE = "Europe/Paris"`` (default ``UTC``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app

from scim_plugin import hookimpl
from scim_plugin.ip import IpAllowlist


def now() -> datetime:
    """The current time (a test replaces this function)."""
    return datetime.now(UTC)


def in_office_hours(moment: datetime) -> bool:
    config = current_app.config
    first, end = config.get("OFFICE_HOURS", (8, 18))
    days = config.get("OFFICE_DAYS", (0, 1, 2, 3, 4))
    local = moment.astimezone(ZoneInfo(config.get("OFFICE_TIMEZONE", "UTC")))
    return local.weekday() in days and first <= local.hour < end


@hookimpl
def scim_ip_allowed(tenant_id: str, address: str | None, allowlist: IpAllowlist) -> bool | None:
    # False denies; None leaves the decision to the allowlist (True could not overrule it anyway).
    return None if in_office_hours(now()) else False
