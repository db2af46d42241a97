"""Rendering the settings page: one function (``_render``) gathers what the template shows (settings,
token facts, the method's status, group mappings, recent activity) in a bounded number of queries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Response,
    make_response,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from scim_plugin.access import tenants
from scim_plugin.access.methods import CUSTOM, METHODS, method_named
from scim_plugin.access.tokens import mask
from scim_plugin.seam import AdminIdentity
from scim_plugin.state import get_state
from scim_plugin.storage import group_mapping
from scim_plugin.storage.host_sync import manual_user_count
from scim_plugin.storage.models import AuditRecord, TenantSettings, Token, utcnow
from scim_plugin.web.admin_guard import (
    _csrf_token,
    _new_form_nonce,
)
from scim_plugin.web.connection_test import CheckResult
from scim_plugin.web.mapping_form import _form_from_grants
from scim_plugin.web.method_status import method_statuses

RECENT_ACTIVITY = 20


FIELDS = ("default_workspace", "service_origin", "ip_allowlist", "existing_users")


#: Entra ID's flag for its current PATCH dialect, appended to the Tenant URL (peers-and-idps.md §4.1).
ENTRA_FLAG = "aadOptscim062020"


#: Groups listed per page of the "Group mappings" section.
GROUPS_PER_PAGE = 25


#: How the error summary names each field of the settings form, and the element its link focuses.
SETTINGS_FIELDS = {
    "default_workspace": ("Default workspace", "default_workspace"),
    "service_origin": ("Service origin", "service_origin"),
    "ip_allowlist": ("IP allowlist", "ip_allowlist"),
    "existing_users": ("Existing users", "existing_users-manual"),
    "provisioning_method": ("Provisioning method", None),
}


#: The same for the group-mapping form (``mapping``: the form as a whole).
MAPPING_FIELDS = {
    "workspace": ("Workspace", "map-workspace"),
    "permission_set": ("Permission set", "map-permission_set"),
    "permissions": ("Workspace permissions", "map-permissions"),
    "role": ("Role", "map-role"),
    "company_permissions": ("Company permissions", "map-company_permissions"),
    "mapping": ("Group mapping", "map-group-form"),
}


def _error_summary(
    errors: dict[str, str], group_errors: dict[str, str], *, origin_shown: bool, editing: bool
) -> list[dict[str, str | None]]:
    """What the summary at the top of a refused form lists: each problem, named, with a link to its
    field when the field is on the page."""
    entries: list[dict[str, str | None]] = []
    for key, message in errors.items():
        label, target = SETTINGS_FIELDS.get(key, (None, None))
        if key == "service_origin" and not origin_shown:
            target = None
        entries.append({"label": label, "message": message, "target": target})
    for key, message in group_errors.items():
        label, target = MAPPING_FIELDS.get(key, (None, None))
        entries.append({"label": label, "message": message, "target": target if editing else "scim-groups"})
    return entries


def _endpoint_url() -> str:
    return request.url_root.rstrip("/") + get_state().config.url_prefix


def _grace_tokens(tenant_id: str, now: datetime) -> list[Token]:
    """Replaced tokens still inside their rotation grace period."""
    rows = (
        get_state()
        .db.session.execute(
            select(Token)
            .where(Token.tenant_id == tenant_id, Token.status == "grace")
            .order_by(Token.created_at.desc())
        )
        .scalars()
    )
    return [t for t in rows if t.expires_at is not None and t.expires_at > now]


def _describe_seconds(seconds: int) -> str:
    if seconds % 86400 == 0:
        n, unit = seconds // 86400, "day"
    elif seconds % 3600 == 0:
        n, unit = seconds // 3600, "hour"
    elif seconds % 60 == 0:
        n, unit = seconds // 60, "minute"
    else:
        n, unit = seconds, "second"
    return f"{n} {unit}{'' if n == 1 else 's'}"


def _page_number(value: str | None) -> int:
    try:
        return min(max(int(value or 1), 1), 1_000_000)
    except ValueError:
        return 1


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _groups_context(
    identity: AdminIdentity,
    page: int,
    group_id: str | None,
    group_form: dict[str, Any] | None,
    group_errors: dict[str, str] | None,
) -> dict[str, Any]:
    """The "Group mappings" section: one page of groups, and the group being edited (if any)."""
    state = get_state()
    tenant_id = identity.tenant_id
    total, groups = group_mapping.group_page(
        state, tenant_id, offset=(page - 1) * GROUPS_PER_PAGE, limit=GROUPS_PER_PAGE
    )
    pages = max(1, -(-total // GROUPS_PER_PAGE))
    if page > pages:  # past the end (groups were deleted meanwhile): show the last page
        page = pages
        total, groups = group_mapping.group_page(
            state, tenant_id, offset=(page - 1) * GROUPS_PER_PAGE, limit=GROUPS_PER_PAGE
        )
    selected = group_mapping.get_group(state, tenant_id, group_id) if group_id else None
    supported = group_mapping.mapping_supported(state)
    return {
        "groups": groups,
        "groups_total": total,
        "groups_page": page,
        "groups_pages": pages,
        "groups_first": (page - 1) * GROUPS_PER_PAGE + 1,
        "mapping_supported": supported,
        "group_id": group_id,
        "selected": selected,
        "choices": group_mapping.mapping_choices(state, tenant_id) if selected and supported else None,
        "group_form": group_form
        if group_form is not None
        else (_form_from_grants(selected.grants) if selected else {}),
        "group_errors": group_errors or {},
    }


def _render(
    identity: AdminIdentity,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    new_token: str | None = None,
    confirm: str | None = None,
    notice: dict[str, str] | None = None,
    status: int = 200,
    page: int = 1,
    group_id: str | None = None,
    group_form: dict[str, Any] | None = None,
    group_errors: dict[str, str] | None = None,
    tab: str | None = None,
    test_results: list[CheckResult] | None = None,
    form_error: str | None = None,
    rotated: bool = False,
) -> Response:
    """The settings page. ``form_error`` is a problem of the form as a whole (it had expired);
    ``rotated``: ``new_token`` replaced a live token (say when the previous one stops working)."""
    state = get_state()
    tenant_id = identity.tenant_id
    groups = _groups_context(identity, page, group_id, group_form, group_errors)
    if group_id and groups["selected"] is None:
        # Deleted meanwhile, mistyped, or another company's: all the same "not found".
        notice = {
            "text": "That group does not exist in this company (any more): nothing was changed.",
            "kind": "error",
        }
        status = 404 if status == 200 else status
    settings = state.db.session.get(TenantSettings, tenant_id)
    token = tenants.current_token(state, tenant_id)
    now = utcnow()
    activity = (
        state.db.session.execute(
            select(AuditRecord)
            # SCIM requests only: admin actions are on the activity page, which this section links to.
            .where(AuditRecord.tenant_id == tenant_id, AuditRecord.kind != "admin")
            .order_by(AuditRecord.created_at.desc(), AuditRecord.id.desc())
            .limit(RECENT_ACTIVITY)
        )
        .scalars()
        .all()
    )
    if form is None:
        form = {
            "default_workspace": (settings.default_workspace_id or "") if settings else "",
            "service_origin": settings.service_origin if settings else "",
            "ip_allowlist": settings.ip_allowlist if settings else "",
            "existing_users": settings.existing_users if settings else "manual",
        }
    active_method = method_named(settings.provisioning_method) if settings else None
    shown = METHODS.get(tab or "") or active_method or CUSTOM
    endpoint = _endpoint_url()
    grace = state.config.token_rotation_grace
    grace_tokens = _grace_tokens(tenant_id, now)
    editing = bool(groups["selected"] and groups["mapping_supported"] and not confirm)
    summary = _error_summary(
        errors or {}, group_errors or {}, origin_shown=shown.requires_origin, editing=editing
    )
    if form_error:
        summary.insert(0, {"label": None, "message": form_error, "target": None})
    refused = status >= 400 and status != 404
    # A page answering a POST (a new token, a refused form) points its history entry at the GET URL of
    # what it shows, so the address bar is the page's and a reload never resubmits.
    replace_url = None
    if new_token or refused:
        replace_url = url_for(
            "scim_admin.settings_page",
            method=shown.name if shown is not (active_method or CUSTOM) else None,
            group=groups["selected"].id if editing else None,
            page=groups["groups_page"] if groups["groups_page"] > 1 else None,
        )
    context: dict[str, Any] = {
        "layout": state.config.admin_layout,
        "identity": identity,
        "settings": settings,
        "enabled": bool(token and settings and settings.enabled),
        "workspaces": state.hook.scim_list_workspaces(tenant_id=tenant_id) or [],
        # Before the admin chooses "match": how many users it would expose (None: the host does not say).
        "manual_users": manual_user_count(state, tenant_id),
        "form": form,
        "errors": errors or {},
        "token": token,
        "masked_token": mask(token.hint) if token else None,
        "mask": mask,
        "grace_tokens": grace_tokens,
        "rotated": rotated,
        # The token just replaced, when it keeps working for the grace period (newest grace first).
        "previous_token": grace_tokens[0] if rotated and grace_tokens else None,
        "error_summary": summary,
        "replace_url": replace_url,
        "editing": editing,
        "new_token": new_token,
        "confirm": confirm,
        "notice": notice,
        "endpoint": endpoint,
        "entra_tenant_url": f"{endpoint}?{ENTRA_FLAG}",
        "entra_flag": ENTRA_FLAG,
        "methods": METHODS,
        "tab": shown,
        "active_method": active_method,
        # Switching to the shown tab's method revokes a live token of another method: ask first.
        "switching": bool(token and active_method and active_method is not shown),
        "statuses": method_statuses(state, tenant_id, active_method.name if active_method else None),
        "test_results": test_results,
        "grace_seconds": grace,
        "grace_text": _describe_seconds(grace) if grace else "",
        "activity": activity,
        "csrf_token": _csrf_token(),
        "form_nonce": _new_form_nonce(),
        "page_url": url_for("scim_admin.settings_page"),
        **groups,
    }
    response = make_response(render_template("scim_plugin/settings.html", **context), status)
    # The page may carry a token once: never let a cache or the back button bring it back.
    response.headers["Cache-Control"] = "no-store, max-age=0"
    response.headers["Pragma"] = "no-cache"
    return response
