"""The host contract: the hooks this dashboard offers to its plugins.

The host's plugin manager is named ``dashboard``; a plugin marks its implementations with
``pluggy.HookimplMarker("dashboard")`` and never needs to import the host. Plugins are loaded from the
``HOST_PLUGINS`` configuration list (module names) and from the ``dashboard.plugins`` entry-point group.
``hooks/host_hooks.md`` documents every hook below; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict

import pluggy
from flask import Blueprint, Flask, Request

PROJECT_NAME = "dashboard"
ENTRY_POINT_GROUP = "dashboard.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class HostUser(Protocol):
    """What the host tells plugins about a signed-in dashboard user."""

    id: int
    email: str
    company_id: int
    is_admin: bool


class MenuItem(TypedDict):
    """An entry of the Settings > Admin Settings menu."""

    key: str
    label: str
    endpoint: str


@hookspec
def dashboard_init_app(app: Flask) -> None:
    """Initialise the plugin for ``app`` (read configuration, register extensions and CLI commands).

    Called once per application, after the host's own extensions (database, sessions) are set up and
    before any blueprint is registered. Observers only: the return value is ignored. An exception aborts
    start-up, which is how a plugin reports invalid configuration.
    """


@hookspec
def dashboard_register_blueprints(app: Flask) -> list[Blueprint] | None:
    """Blueprints to mount on ``app``.

    Results are flattened in plugin order; ``None`` means the plugin adds no routes. Each blueprint
    carries its own ``url_prefix``.
    """


@hookspec
def dashboard_admin_settings_menu(user: HostUser) -> list[MenuItem] | None:
    """Entries for the Settings > Admin Settings menu as ``user`` should see it.

    Results are flattened and sorted by label; ``None`` means nothing to add for this user (for example
    because the user is not an administrator).
    """


@hookspec(firstresult=True)
def dashboard_issue_token(company_id: int, purpose: str, issued_by: HostUser | None) -> str | None:
    """Issue a new credential of kind ``purpose`` for the company and return it in plain text, once.

    The first non-``None`` result wins, so a host can replace a plugin's token service by registering
    its own implementation with ``tryfirst=True``. ``None`` means "not a purpose I issue".
    Issuing replaces the company's previous credential of the same purpose.
    """


@hookspec
def dashboard_check_client_ip(request: Request, company_id: int, purpose: str) -> bool | None:
    """May ``request`` (its client address) act for the company for ``purpose``?

    Veto rule: any ``False`` denies; otherwise any ``True`` allows; ``None`` is no opinion, and all
    ``None`` allows. Callers must treat an exception from any implementation as a denial.
    """


@hookspec
def dashboard_user_changed(company_id: int, user_id: int) -> None:
    """The dashboard changed one of its users (an admin edited its workspaces, permissions, roles,
    names or active state, or created it by hand).

    Called after the host wrote its rows and before it commits, in the same transaction: an
    implementation that writes (the SCIM plugin stores what it answers about the user) commits or rolls
    back with the change. Observers only: the return value is ignored; an exception aborts the change.
    """


@hookspec
def dashboard_user_deleted(company_id: int, user_id: int) -> None:
    """The dashboard deleted one of its users. Called in the delete's transaction, before the commit;
    observers only, as for ``dashboard_user_changed``."""


@hookspec
def dashboard_user_provisioning(company_id: int, user_ids: list[int]) -> dict[int, dict[str, Any]] | None:
    """How each of these users is provisioned, for the Company Users pages: by user id, a dict with
    ``source`` (words, such as "SCIM (Microsoft Entra ID)") and ``changed_at`` (when that source last
    changed the user, or ``None``). Results are merged in plugin order; ``None`` or a missing user means
    the plugin does not provision it (the user was made by hand).
    """


def combine_veto(results: list[Any]) -> bool:
    """Apply the veto rule to the results of a gate hook (see ``dashboard_check_client_ip``)."""
    return not any(result is False for result in results)
