"""scim-plugin as a plugin of the host (the ``dashboard`` contract).

The host loads this module (``HOST_PLUGINS = ["scim_plugin.plugin"]`` or the ``dashboard.plugins``
entry point) and calls these implementations. It is the only module that knows the host contract;
``hooks/host_hooks.md`` documents what each returns.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Request

from scim_plugin.access.auth import cached_allowlist, client_ip
from scim_plugin.access.methods import METHODS
from scim_plugin.access.tenants import emit, issue_token
from scim_plugin.extension import ScimPlugin, create_blueprints
from scim_plugin.markers import host_hookimpl
from scim_plugin.state import get_state
from scim_plugin.storage.host_sync import provisioning_of, user_changed, user_deleted
from scim_plugin.storage.models import TenantSettings

PURPOSE = "scim"
MENU_KEY = "scim-provisioning"


@host_hookimpl
def dashboard_init_app(app: Flask) -> None:
    # The host registers our blueprints through dashboard_register_blueprints.
    ScimPlugin(register_blueprints=False).init_app(app)


@host_hookimpl
def dashboard_register_blueprints(app: Flask) -> list[Blueprint]:
    return create_blueprints(get_state(app).config)


@host_hookimpl
def dashboard_admin_settings_menu(user: Any) -> list[dict[str, str]] | None:
    if not getattr(user, "is_admin", False):
        return None
    return [{"key": MENU_KEY, "label": "SCIM Provisioning", "endpoint": "scim_admin.settings_page"}]


@host_hookimpl
def dashboard_issue_token(company_id: int, purpose: str, issued_by: Any) -> str | None:
    if purpose != PURPOSE:
        return None
    state = get_state()
    credential = issue_token(state, str(company_id), getattr(issued_by, "email", None))
    state.db.session.commit()
    emit(state, "token.issued", str(company_id), token_id=credential.token_id)
    return credential.token


@host_hookimpl
def dashboard_check_client_ip(request: Request, company_id: int, purpose: str) -> bool | None:
    if purpose != PURPOSE:
        return None
    state = get_state()
    settings = state.db.session.get(TenantSettings, str(company_id))
    if settings is None:
        return False
    allowlist = cached_allowlist(settings.ip_allowlist or "")
    results = state.hook.scim_ip_allowed(
        tenant_id=str(company_id), address=client_ip(state, request), allowlist=allowlist
    )
    return not any(result is False for result in results)


@host_hookimpl
def dashboard_user_changed(company_id: int, user_id: int) -> None:
    user_changed(str(company_id), str(user_id))


@host_hookimpl
def dashboard_user_deleted(company_id: int, user_id: int) -> None:
    user_deleted(str(company_id), str(user_id))


@host_hookimpl
def dashboard_user_provisioning(company_id: int, user_ids: list[int]) -> dict[int, dict[str, Any]] | None:
    found = provisioning_of(str(company_id), [str(i) for i in user_ids])
    answer: dict[int, dict[str, Any]] = {}
    for host_id, provisioning in found.items():
        if not provisioning.managed:
            continue  # exposed by the match policy, not yet taken over: still the dashboard's own
        method = METHODS.get(provisioning.method or "")
        source = f"SCIM ({method.label})" if method is not None else "SCIM"
        answer[int(host_id)] = {"source": source, "changed_at": provisioning.scim_changed_at}
    return answer or None
