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

from . import tenants
from .config import ScimConfig
from .extension import get_state
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


def _redirect_to_page(notice: str | None = None, *, kind: str = "success") -> Response:
    if notice:
        session[NOTICE_KEY] = {"text": notice, "kind": kind}
    return redirect(url_for("scim_admin.settings_page"), code=303)


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


def _render(
    identity: AdminIdentity,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    new_token: str | None = None,
    confirm: str | None = None,
    notice: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    state = get_state()
    tenant_id = identity.tenant_id
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
        "endpoint": _endpoint_url(),
        "grace_seconds": grace,
        "grace_text": _describe_seconds(grace) if grace else "",
        "activity": activity,
        "csrf_token": _csrf_token(),
        "form_nonce": _new_form_nonce(),
        "page_url": url_for("scim_admin.settings_page"),
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
    return _render(identity, notice=session.pop(NOTICE_KEY, None))


def save_and_generate() -> Response:
    guarded = _guard_post()
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    form = {key: request.form.get(key, "") for key in FIELDS}
    wants_token = request.form.get("action") == "generate"
    try:
        tenants.save_settings(state, identity.tenant_id, tenants.SettingsInput(**form))
        credential = None
        # "Generate" never replaces a live token (a stale tab must not rotate it): that is "Reset".
        if wants_token and tenants.current_token(state, identity.tenant_id) is None:
            credential = tenants.issue_token(state, identity.tenant_id, identity.display)
        state.db.session.commit()
    except tenants.SettingsError as exc:
        state.db.session.rollback()
        return _render(identity, form=form, errors=exc.errors, status=400)
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
    return _render(identity, new_token=credential.token)


def reset_token() -> Response:
    guarded = _guard_post()
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    if request.form.get("confirm") != "yes":
        # Without JavaScript (or a confirm answer) ask on the page itself; nothing changes yet.
        return _render(identity, confirm="reset")
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
    guarded = _guard_post()
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    if request.form.get("confirm") != "yes":
        return _render(identity, confirm="disable")
    revoked = tenants.disable(state, identity.tenant_id)
    state.db.session.commit()
    tenants.emit(state, "token.revoked", identity.tenant_id, count=revoked)
    current_app.logger.info("SCIM provisioning disabled for tenant %s", identity.tenant_id)
    return _redirect_to_page(
        "SCIM provisioning is disabled and the token revoked. Settings and provisioned users are kept; "
        "generate a new token to turn it back on."
    )
