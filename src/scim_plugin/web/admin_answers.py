"""What every answer of the settings page carries (framing and content headers), and the answer to a
form whose CSRF token had expired.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from scim_plugin.access.methods import METHODS
from scim_plugin.state import get_state
from scim_plugin.web.admin_guard import STALE_FORM, StaleForm, _admin
from scim_plugin.web.admin_render import FIELDS, _page_number, _render
from scim_plugin.web.mapping_form import _mapping_form


def security_headers(response: Response) -> Response:
    """Every response of the settings page (and its assets): never framed (clickjacking would let
    another site make the admin reset or disable), and only the page's own scripts and styles run."""
    state = get_state()
    response.headers["Content-Security-Policy"] = state.config.admin_csp
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def stale_form(_exc: StaleForm) -> Response:
    """A form whose CSRF token had expired: nothing was done; show it again with what was typed."""
    identity = _admin()
    context: dict[str, Any] = {}
    if request.endpoint == "scim_admin.save":
        method = request.form.get("provisioning_method")
        context["form"] = {key: request.form.get(key, "") for key in FIELDS}
        context["tab"] = method if method in METHODS else None
    elif request.endpoint == "scim_admin.map_group":
        context["page"] = _page_number(request.form.get("page"))
        context["group_id"] = request.form.get("group_id") or "-"
        context["group_form"] = _mapping_form(request.form)
    return _render(identity, form_error=STALE_FORM, status=400, **context)
