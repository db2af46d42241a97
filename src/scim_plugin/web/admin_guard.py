"""What every POST of the settings page passes first: the signed-in admin, CSRF, and one-time form
nonces, so that a reload or "Back" never issues a token twice; and the redirect that ends a POST.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import (
    Response,
    abort,
    redirect,
    request,
    session,
    url_for,
)

from scim_plugin.seam import AdminIdentity
from scim_plugin.state import get_state

CSRF_KEY = "scim_csrf"


NONCES_KEY = "scim_form_nonces"


NOTICE_KEY = "scim_notice"


#: Unused form nonces kept per session (one per rendered page, shared by its forms): enough for a few
#: open tabs, small enough for a cookie.
MAX_NONCES = 12


RESUBMITTED = (
    "That form had already been submitted (or was too old), so nothing was changed. A token is shown "
    "only once: if you did not copy it, reset the token."
)


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


class StaleForm(Exception):
    """A POST whose CSRF token is missing or not this session's (an old tab, a new sign-in, a forgery).

    Nothing is changed; the blueprint's handler renders the form again, with what was typed, a message
    and a fresh token (400), instead of a bare "Bad Request".
    """


STALE_FORM = (
    "This form had expired (the page was open for a long time, or you signed in again), so nothing was "
    "changed. Check what you entered and submit it again."
)


def _check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    expected = session.get(CSRF_KEY, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise StaleForm()


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
