"""The "SCIM Provisioning" page under Settings > Admin Settings.

Only the tenant's company admins reach it. Every state change is a POST carrying a CSRF token. A new
token is handed to the next page view through the server-side flow below, shown once, and the response
that carries it is marked ``no-store``.
"""

from __future__ import annotations

import hmac
import secrets
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

from . import tenants
from .config import ScimConfig
from .extension import get_state
from .models import AuditRecord, TenantSettings
from .seam import AdminIdentity
from .tokens import mask

CSRF_KEY = "scim_csrf"
RECENT_ACTIVITY = 20


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
    return bp


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


def _endpoint_url() -> str:
    return request.url_root.rstrip("/") + get_state().config.url_prefix


def _render(identity: AdminIdentity, *, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
            new_token: str | None = None, status: int = 200) -> Response:
    state = get_state()
    tenant_id = identity.tenant_id
    settings = state.db.session.get(TenantSettings, tenant_id)
    token = tenants.current_token(state, tenant_id)
    activity = state.db.session.execute(
        select(AuditRecord)
        .where(AuditRecord.tenant_id == tenant_id)
        .order_by(AuditRecord.created_at.desc(), AuditRecord.id.desc())
        .limit(RECENT_ACTIVITY)
    ).scalars().all()
    if form is None:
        form = {
            "default_workspace": settings.default_workspace_id or "" if settings else "",
            "service_origin": settings.service_origin if settings else "",
            "ip_allowlist": settings.ip_allowlist if settings else "",
        }
    context: dict[str, Any] = {
        "layout": state.config.admin_layout,
        "identity": identity,
        "settings": settings,
        "workspaces": state.hook.scim_list_workspaces(tenant_id=tenant_id) or [],
        "form": form,
        "errors": errors or {},
        "token": token,
        "masked_token": mask(token.hint) if token else None,
        "new_token": new_token,
        "endpoint": _endpoint_url(),
        "grace_seconds": state.config.token_rotation_grace,
        "activity": activity,
        "csrf_token": _csrf_token(),
    }
    response = make_response(render_template("scim_plugin/settings.html", **context), status)
    # The page may carry a token once: never let a cache or the back button bring it back.
    response.headers["Cache-Control"] = "no-store, max-age=0"
    response.headers["Pragma"] = "no-cache"
    return response


def settings_page() -> Response:
    return _render(_admin())


def save_and_generate() -> Response:
    identity = _admin()
    _check_csrf()
    state = get_state()
    form = {key: request.form.get(key, "") for key in ("default_workspace", "service_origin", "ip_allowlist")}
    try:
        tenants.save_settings(state, identity.tenant_id, tenants.SettingsInput(**form))
        credential = None
        if request.form.get("action") == "generate" or tenants.current_token(state, identity.tenant_id) is None:
            credential = tenants.issue_token(state, identity.tenant_id, identity.display)
        state.db.session.commit()
    except tenants.SettingsError as exc:
        state.db.session.rollback()
        return _render(identity, form=form, errors=exc.errors, status=400)
    if credential is not None:
        tenants.emit(state, "token.issued", identity.tenant_id, token_id=credential.token_id,
                     issued_by=identity.display)
        return _render(identity, new_token=credential.token)
    return redirect(url_for("scim_admin.settings_page"), code=303)


def reset_token() -> Response:
    identity = _admin()
    _check_csrf()
    state = get_state()
    if request.form.get("confirm") != "yes":
        abort(400, description="Confirm the reset.")
    try:
        credential = tenants.issue_token(state, identity.tenant_id, identity.display)
        state.db.session.commit()
    except tenants.SettingsError as exc:
        state.db.session.rollback()
        return _render(identity, errors=exc.errors, status=400)
    tenants.emit(state, "token.issued", identity.tenant_id, token_id=credential.token_id, issued_by=identity.display)
    return _render(identity, new_token=credential.token)


def disable_provisioning() -> Response:
    identity = _admin()
    _check_csrf()
    state = get_state()
    revoked = tenants.disable(state, identity.tenant_id)
    state.db.session.commit()
    tenants.emit(state, "token.revoked", identity.tenant_id, count=revoked)
    current_app.logger.info("SCIM provisioning disabled for tenant %s", identity.tenant_id)
    return redirect(url_for("scim_admin.settings_page"), code=303)
