"""The "SCIM Provisioning" page under Settings > Admin Settings.

Only the tenant's company admins reach it (anyone else: 403, signed out: 401). Every state change is a
POST carrying the session's CSRF token.

How a new token is shown exactly once
-------------------------------------
The token is rendered in the response to the POST that issued it ("Generate SCIM token", "Reset
token"), marked ``Cache-Control: no-store``, and never stored anywhere: the database keeps only its
verifier. We deliberately do not use Post/Redirect/Get for that one response, because PRG would mean
parking the clear token somewhere between the POST and the GET:

* Flask's default session is a signed (not encrypted) cookie: the token would travel in, and stay in,
  a replayable cookie.
* An in-process dict breaks with several worker processes.
* A database row means a table (and migration) holding a recoverable secret, however short-lived.

Instead, two things stop a reload or "Back" from issuing a token silently:

1. Every state-changing form carries a one-time *form nonce* (in addition to the CSRF token). The
   session keeps the few most recent unused nonces; a POST consumes its nonce before doing anything.
   A resubmitted form (browser "Confirm Form Resubmission", a replayed request) presents a nonce that
   was already spent, so nothing is issued: it is redirected (303) to the page, which shows the token
   masked and says the form had already been submitted. Nonces are not secrets, so keeping them in the
   signed session cookie is fine; replaying an old cookie only lets the admin who owns it do what they
   could do anyway, with their valid CSRF token.
2. The token page rewrites its history entry to the page's GET URL (``history.replaceState``), so a
   reload or a later "Back" fetches the page with GET and shows the masked token, without asking to
   resubmit anything.

Other messages ("Settings saved") follow Post/Redirect/Get through a one-shot session key that the next
GET pops (no secret is ever put there).

Group mappings
--------------
The page lists the tenant's SCIM groups, :data:`GROUPS_PER_PAGE` at a time (``?page=``), with their member
count and what each grants: one count and one page query whatever the number of groups (member counts are
a column kept by the membership statements). ``?group=<id>`` opens the mapping form of one group; its
choices (workspaces, permission sets, roles, company permissions) come from the host through the seam
(:func:`scim_plugin.group_mapping.mapping_choices`) and are checked again on POST. Saving or removing a
mapping goes through :mod:`scim_plugin.group_mapping` and commits once: the mapping and every member's
host memberships change together, or (a form error, the host refusing any member) nothing does. Groups are
always looked up by id *within the signed-in admin's tenant*, so another company's group id is just
"not found".
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from . import group_mapping, tenants
from .config import ScimConfig
from .connection_test import CheckResult, run_connection_test
from .extension import get_state
from .method_status import method_statuses
from .methods import CUSTOM, METHODS, method_named
from .models import AuditRecord, TenantSettings, Token, utcnow
from .seam import AdminIdentity
from .tokens import mask

CSRF_KEY = "scim_csrf"
NONCES_KEY = "scim_form_nonces"
NOTICE_KEY = "scim_notice"
#: Unused form nonces kept per session (one per rendered page, shared by its forms): enough for a few
#: open tabs, small enough for a cookie.
MAX_NONCES = 12
RECENT_ACTIVITY = 20
FIELDS = ("default_workspace", "service_origin", "ip_allowlist")
#: Entra ID's flag for its current PATCH dialect, appended to the Tenant URL (peers-and-idps.md §4.1).
ENTRA_FLAG = "aadOptscim062020"

#: Groups listed per page of the "Group mappings" section.
GROUPS_PER_PAGE = 25
MAPPING_FIELDS = ("workspace", "permission_set", "permissions", "role", "company_permissions")

RESUBMITTED = (
    "That form had already been submitted (or was too old), so nothing was changed. A token is shown "
    "only once: if you did not copy it, reset the token."
)


def create_admin_blueprint(config: ScimConfig) -> Blueprint:
    bp = Blueprint(
        "scim_admin",
        __name__,
        url_prefix=config.admin_url_prefix,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    bp.add_url_rule("/", view_func=settings_page, methods=["GET"])
    bp.add_url_rule("/", endpoint="save", view_func=save_and_generate, methods=["POST"])
    bp.add_url_rule("/reset", view_func=reset_token, methods=["POST"])
    bp.add_url_rule("/disable", view_func=disable_provisioning, methods=["POST"])
    bp.add_url_rule("/test-connection", view_func=test_connection, methods=["POST"])
    bp.add_url_rule("/groups/map", view_func=map_group, methods=["POST"])
    bp.add_url_rule("/groups/unmap", view_func=unmap_group, methods=["POST"])
    return bp


# --- access and request protection -------------------------------------------------------------------


def _admin() -> AdminIdentity:
    identity = get_state().hook.scim_current_admin()
    if identity is None:
        abort(401)
    if not identity.is_admin:
        abort(403)
    return identity


def _csrf_token() -> str:
    if CSRF_KEY not in session:
        session[CSRF_KEY] = secrets.token_urlsafe(32)
    return session[CSRF_KEY]


def _check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    expected = session.get(CSRF_KEY, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form expired; reload the page and try again.")


def _new_form_nonce() -> str:
    nonce = secrets.token_urlsafe(16)
    nonces = [*session.get(NONCES_KEY, []), nonce][-MAX_NONCES:]
    session[NONCES_KEY] = nonces
    return nonce


def _spend_form_nonce() -> bool:
    """Consume the form's one-time nonce; False if it was already used (a resubmission) or unknown."""
    sent = request.form.get("form_nonce", "")
    nonces = list(session.get(NONCES_KEY, []))
    match = next((n for n in nonces if hmac.compare_digest(n.encode(), sent.encode())), None)
    if not sent or match is None:
        return False
    nonces.remove(match)
    session[NONCES_KEY] = nonces
    return True


def _guard_post() -> AdminIdentity | Response:
    """Admin check, CSRF check, then the one-time nonce: a spent nonce redirects to the page."""
    identity = _admin()
    _check_csrf()
    if not _spend_form_nonce():
        return _redirect_to_page(RESUBMITTED, kind="warning")
    return identity


def _guard_confirmed(step: str, **context: Any) -> AdminIdentity | Response:
    """:func:`_guard_post` for an action that asks first (reset, disable, remove a group mapping).

    The page's script asks in a dialog and sends ``confirm=yes``; without it (no JavaScript) the page
    itself asks (``step``, rendered with ``context``) and nothing changes yet.
    """
    guarded = _guard_post()
    if isinstance(guarded, Response):
        return guarded
    if request.form.get("confirm") != "yes":
        return _render(guarded, confirm=step, **context)
    return guarded


def _redirect_to_page(
    notice: str | None = None, *, kind: str = "success", page: int = 1, anchor: str | None = None
) -> Response:
    if notice:
        # With an anchor the notice is shown in that section, where the browser scrolls to.
        session[NOTICE_KEY] = {"text": notice, "kind": kind, "section": anchor or ""}
    args: dict[str, Any] = {"page": page} if page > 1 else {}
    if anchor:
        args["_anchor"] = anchor
    return redirect(url_for("scim_admin.settings_page", **args), code=303)


# --- rendering -------------------------------------------------------------------------------------------


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


def _split(values: list[str]) -> list[str]:
    """Names from checkboxes or comma-separated text fields, trimmed and de-duplicated."""
    return list(dict.fromkeys(part.strip() for value in values for part in value.split(",") if part.strip()))


def _mapping_form(source: MultiDict[str, str]) -> dict[str, Any]:
    form: dict[str, Any] = {key: source.get(key, "").strip() for key in MAPPING_FIELDS}
    form["company_permissions"] = _split(source.getlist("company_permissions"))
    return form


def _form_from_grants(grants: group_mapping.GroupGrants) -> dict[str, Any]:
    return {
        "workspace": grants.workspace_id or "",
        "permission_set": grants.permission_set or "",
        "permissions": ", ".join(grants.permissions),
        "role": grants.role or "",
        "company_permissions": list(grants.company_permissions),
    }


def _check_mapping(form: dict[str, Any], choices: group_mapping.MappingChoices) -> dict[str, str]:
    """Every problem with the submitted mapping, by field (``mapping``: the form as a whole).

    Names are checked against what the host offers; where it publishes no list, the host checks them
    when it applies the grants (a refusal then rolls everything back).
    """
    problems: dict[str, str] = {}

    def unknown(values: list[str], known: tuple[str, ...] | None) -> list[str]:
        return [] if known is None else [v for v in values if v not in known]

    workspace, permission_set = form["workspace"], form["permission_set"]
    permissions = _split([form["permissions"]])
    if workspace and workspace not in {ws.id for ws in choices.workspaces}:
        problems["workspace"] = "Choose one of this company\u2019s workspaces."
    if permission_set:
        if unknown([permission_set], choices.permission_sets):
            problems["permission_set"] = f"No permission set \u201c{permission_set}\u201d in this company."
        elif not workspace:
            problems["permission_set"] = "A permission set applies to a workspace: choose the workspace too."
    if permissions:
        if bad := unknown(permissions, choices.workspace_permissions):
            problems["permissions"] = "Unknown workspace permission: " + ", ".join(bad) + "."
        elif permission_set:
            problems["permissions"] = "Give either a permission set or workspace permissions, not both."
        elif not workspace:
            problems["permissions"] = "Permissions apply to a workspace: choose the workspace too."
    if form["role"] and unknown([form["role"]], choices.roles):
        problems["role"] = f"No role \u201c{form['role']}\u201d in this company."
    if bad := unknown(form["company_permissions"], choices.company_permissions):
        problems["company_permissions"] = "Unknown company permission: " + ", ".join(bad) + "."
    if not problems and not (workspace or form["role"] or form["company_permissions"]):
        problems["mapping"] = (
            "Choose what the group grants: a workspace, a role or company permissions. "
            "To stop granting anything, remove the mapping."
        )
    return problems


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
) -> Response:
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
            .where(AuditRecord.tenant_id == tenant_id)
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
        }
    active_method = method_named(settings.provisioning_method) if settings else None
    shown = METHODS.get(tab or "") or active_method or CUSTOM
    endpoint = _endpoint_url()
    grace = state.config.token_rotation_grace
    context: dict[str, Any] = {
        "layout": state.config.admin_layout,
        "identity": identity,
        "settings": settings,
        "enabled": bool(token and settings and settings.enabled),
        "workspaces": state.hook.scim_list_workspaces(tenant_id=tenant_id) or [],
        "form": form,
        "errors": errors or {},
        "token": token,
        "masked_token": mask(token.hint) if token else None,
        "mask": mask,
        "grace_tokens": _grace_tokens(tenant_id, now),
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
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- views -----------------------------------------------------------------------------------------------


def settings_page() -> Response:
    identity = _admin()
    return _render(
        identity,
        notice=session.pop(NOTICE_KEY, None),
        page=_page_number(request.args.get("page")),
        group_id=request.args.get("group") or None,
        tab=request.args.get("method"),
    )


def save_and_generate() -> Response:
    guarded = _guard_post()
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    form = {key: request.form.get(key, "") for key in FIELDS}
    method = request.form.get("provisioning_method") or None
    tab = method if method in METHODS else None
    wants_token = request.form.get("action") == "generate"
    current = state.db.session.get(TenantSettings, identity.tenant_id)
    switching = current is not None and method is not None and method != current.provisioning_method
    live_token = tenants.current_token(state, identity.tenant_id) is not None
    if switching and live_token and request.form.get("confirm") != "yes":
        return _render(identity, form=form, confirm="switch", tab=tab)
    if not METHODS.get(method or "", CUSTOM).requires_origin:
        form["service_origin"] = ""  # the IdP tabs have no origin field; nothing would check it
    try:
        saved = tenants.save_settings(
            state, identity.tenant_id, tenants.SettingsInput(**form, provisioning_method=method)
        )
        credential = None
        # "Generate" never replaces a live token (a stale tab must not rotate it): that is "Reset". A
        # change of method revoked the old token, so the new method gets its token at once.
        needs_token = wants_token or saved.previous_method is not None
        if needs_token and tenants.current_token(state, identity.tenant_id) is None:
            credential = tenants.issue_token(state, identity.tenant_id, identity.display)
        state.db.session.commit()
    except tenants.SettingsError as exc:
        state.db.session.rollback()
        return _render(identity, form=form, errors=exc.errors, status=400, tab=tab)
    if saved.previous_method is not None:
        tenants.emit(
            state,
            "method.changed",
            identity.tenant_id,
            previous=saved.previous_method,
            method=saved.settings.provisioning_method,
        )
        current_app.logger.info(
            "SCIM provisioning method of tenant %s changed from %s to %s by %s",
            identity.tenant_id,
            saved.previous_method,
            saved.settings.provisioning_method,
            identity.display,
        )
    notice = None
    if saved.previous_method is not None:
        before, after = method_named(saved.previous_method), method_named(saved.settings.provisioning_method)
        revoked = f" The {before.label} token was revoked: it stopped working immediately."
        notice = {
            "text": f"Switched from {before.label} to {after.label}."
            + (revoked if saved.revoked_tokens else ""),
            "kind": "warning",
        }
    if credential is None:
        if wants_token:
            return _redirect_to_page(
                "Settings saved. A token already exists: use \u201cReset token\u201d to replace it.",
                kind="warning",
            )
        return _redirect_to_page("Settings saved.")
    tenants.emit(
        state, "token.issued", identity.tenant_id, token_id=credential.token_id, issued_by=identity.display
    )
    return _render(identity, new_token=credential.token, notice=notice)


def reset_token() -> Response:
    guarded = _guard_confirmed("reset")
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    try:
        credential = tenants.issue_token(state, identity.tenant_id, identity.display)
        state.db.session.commit()
    except tenants.SettingsError as exc:
        state.db.session.rollback()
        return _render(identity, errors=exc.errors, status=400)
    tenants.emit(
        state, "token.issued", identity.tenant_id, token_id=credential.token_id, issued_by=identity.display
    )
    return _render(identity, new_token=credential.token)


def disable_provisioning() -> Response:
    guarded = _guard_confirmed("disable")
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    revoked = tenants.disable(state, identity.tenant_id)
    state.db.session.commit()
    tenants.emit(state, "token.revoked", identity.tenant_id, count=revoked)
    current_app.logger.info("SCIM provisioning disabled for tenant %s", identity.tenant_id)
    return _redirect_to_page(
        "SCIM provisioning is disabled and the token revoked. Settings and provisioned users are kept; "
        "generate a new token to turn it back on."
    )


def test_connection() -> Response:
    """Make the active method's IdP test calls with the token the admin pasted; nothing is changed, so no
    form nonce is spent (the test may be run again)."""
    identity = _admin()
    _check_csrf()
    state = get_state()
    settings = state.db.session.get(TenantSettings, identity.tenant_id)
    token = request.form.get("token", "").strip()
    if settings is None:
        return _redirect_to_page("Generate a token before testing the connection.", kind="warning")
    method = method_named(settings.provisioning_method)
    if not token:
        results = [
            CheckResult("Token", "", 0, False, "Paste the token you gave your identity provider, then test.")
        ]
    else:
        results = run_connection_test(identity.tenant_id, method, token, settings.service_origin)
    # The pasted token is never echoed back into the page.
    return _render(identity, tab=method.name, test_results=results)


def map_group() -> Response:
    """Save a group's mapping and apply it to every member, in one transaction."""
    guarded = _guard_post()
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    page = _page_number(request.form.get("page"))
    group_id = request.form.get("group_id", "")
    group = group_mapping.get_group(state, identity.tenant_id, group_id)
    if group is None:
        return _render(identity, page=page, group_id=group_id or "-")
    form = _mapping_form(request.form)

    def refuse(problems: dict[str, str]) -> Response:
        state.db.session.rollback()
        return _render(
            identity, page=page, group_id=group.id, group_form=form, group_errors=problems, status=400
        )

    # The host's other spellings (``scim_value_aliases``) become the published names before the checks,
    # so that they pass them and the form shows what is saved.
    permissions, company, role, permission_set = group_mapping.published_spellings(
        state,
        identity.tenant_id,
        permissions=_split([form["permissions"]]),
        company_permissions=form["company_permissions"],
        role=form["role"],
        permission_set=form["permission_set"],
    )
    form.update(
        permissions=", ".join(permissions),
        company_permissions=list(company),
        role=role or "",
        permission_set=permission_set or "",
    )
    problems = _check_mapping(form, group_mapping.mapping_choices(state, identity.tenant_id))
    if problems:
        return refuse(problems)
    try:
        # By display name: unique in the tenant, and exactly the group found by id above.
        info = group_mapping.map_group(
            state,
            identity.tenant_id,
            group.display_name,
            workspace=form["workspace"] or None,
            permissions=_split([form["permissions"]]),
            permission_set=form["permission_set"] or None,
            role=form["role"] or None,
            company_permissions=form["company_permissions"],
        )
        if form["workspace"] and info.grants.workspace_id != form["workspace"]:
            # The service looks workspaces up by name first: never map a namesake of the chosen id.
            raise group_mapping.MappingError("the workspace is ambiguous; rename it in the dashboard")
        state.db.session.commit()
    except group_mapping.MappingError as exc:
        return refuse({"mapping": f"Nothing was changed: {str(exc).rstrip('.')}."})
    except IntegrityError:
        return refuse({"mapping": "Nothing was changed: the group changed meanwhile. Please try again."})
    current_app.logger.info("SCIM group %s mapped by %s", group.id, identity.display)
    return _redirect_to_page(
        f"Saved the mapping of \u201c{info.display_name}\u201d: {_plural(info.members, 'member')} updated.",
        page=page,
        anchor="scim-groups",
    )


def unmap_group() -> Response:
    """Remove a group's mapping (after a confirmation); its members lose what only it granted."""
    page = _page_number(request.form.get("page"))
    group_id = request.form.get("group_id", "")
    guarded = _guard_confirmed("unmap", page=page, group_id=group_id or "-")
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    group = group_mapping.get_group(state, identity.tenant_id, group_id)
    if group is None:
        return _render(identity, page=page, group_id=group_id or "-")
    try:
        removed = group_mapping.unmap_group(state, identity.tenant_id, group.display_name)
        state.db.session.commit()
    except group_mapping.MappingError as exc:
        state.db.session.rollback()
        return _render(
            identity,
            page=page,
            group_id=group.id,
            group_errors={"mapping": f"Nothing was changed: {str(exc).rstrip('.')}."},
            status=400,
        )
    if not removed:
        return _redirect_to_page(
            f"\u201c{group.display_name}\u201d was not mapped: nothing was changed.",
            kind="warning",
            page=page,
            anchor="scim-groups",
        )
    current_app.logger.info("SCIM group %s unmapped by %s", group.id, identity.display)
    return _redirect_to_page(
        f"Removed the mapping of \u201c{group.display_name}\u201d: {_plural(group.members, 'member')} "
        "updated. The group now only records membership.",
        page=page,
        anchor="scim-groups",
    )
