"""The "SCIM Provisioning" page under Settings > Admin Settings.

Only the tenant's company admins reach it (anyone else: 403, signed out: 401). Every state change is a
POST carrying the session's CSRF token; a POST whose token is missing or stale changes nothing and shows
the form again with what was typed (:class:`~scim_plugin.web.admin_guard.StaleForm`, 400). A refused form
answers 400 with an error summary naming each field; a successful one redirects (303) to the page.
Every response is sent with a Content-Security-Policy (``SCIM_ADMIN_CSP``) and ``X-Frame-Options: DENY``.

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

That response is the page in one state: the endpoint and the whole token, and after a reset what became
of the previous token (stopped, or until when it still works), without the masked "API access" card.
The token never reaches a log: ``IssuedToken`` and ``IssuedCredential`` keep it out of their ``repr``.

Instead of PRG, two things stop a reload or "Back" from issuing a token silently:

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
count and what each grants: one count and one page query whatever the number of groups (member counts are a
column kept by the membership statements). ``?group=<id>`` opens the mapping form of one group; its choices
(workspaces, permission sets, roles, company permissions) come from the host through the seam
(:func:`~scim_plugin.storage.group_mapping.mapping_choices`) and are checked again on POST. Saving or
removing a mapping goes through :mod:`scim_plugin.storage.group_mapping` and commits once: the mapping and
every member's host memberships change together, or (a form error, the host refusing any member) nothing
does. Groups are always looked up by id *within the signed-in admin's tenant*, so another company's group id
is just "not found".
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    request,
    session,
)
from sqlalchemy.exc import IntegrityError

from scim_plugin.access import tenants
from scim_plugin.access.methods import CUSTOM, METHODS, method_named
from scim_plugin.config import ScimConfig
from scim_plugin.seam import AdminIdentity
from scim_plugin.state import get_state
from scim_plugin.storage import group_mapping
from scim_plugin.storage.models import TenantSettings
from scim_plugin.web import admin_trail
from scim_plugin.web.activity import activity_page
from scim_plugin.web.admin_answers import security_headers, stale_form
from scim_plugin.web.admin_guard import (
    NOTICE_KEY,
    StaleForm,
    _admin,
    _check_csrf,
    _guard_post,
    _redirect_to_page,
)
from scim_plugin.web.admin_render import FIELDS, _page_number, _plural, _render
from scim_plugin.web.connection_test import CheckResult, run_connection_test
from scim_plugin.web.mapping_form import _check_mapping, _mapping_form, _split


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
    bp.add_url_rule("/activity", view_func=activity_page, methods=["GET"])
    bp.register_error_handler(StaleForm, stale_form)
    bp.after_request(security_headers)
    return bp


# --- access and request protection -------------------------------------------------------------------


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
    # A form without the field (an older tab) keeps the company's policy.
    form["existing_users"] = form["existing_users"] or None  # type: ignore[assignment]
    method = request.form.get("provisioning_method") or None
    tab = method if method in METHODS else None
    wants_token = request.form.get("action") == "generate"
    current = state.db.session.get(TenantSettings, identity.tenant_id)
    before = admin_trail.snapshot(current)
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
        admin_trail.settings_saved(identity, before, saved)
        if credential is not None:
            admin_trail.token_issued(identity, credential)
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
        return _redirect_to_page("Settings saved." + _policy_note(saved))
    tenants.emit(
        state, "token.issued", identity.tenant_id, token_id=credential.token_id, issued_by=identity.display
    )
    return _render(identity, new_token=credential.token, notice=notice)


def _policy_note(saved: tenants.SavedSettings) -> str:
    """What a change of the existing-users policy did, in words."""
    if not saved.policy_users:
        return ""
    count = saved.policy_users
    users = f"{count} existing dashboard user{'' if count == 1 else 's'}"
    if saved.settings.existing_users == "match":
        return f" {users} can now be found by the identity provider."
    return f" {users} no longer visible to the identity provider."


def reset_token() -> Response:
    guarded = _guard_confirmed("reset")
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    try:
        credential = tenants.issue_token(state, identity.tenant_id, identity.display)
        admin_trail.token_issued(identity, credential, reset=True)
        state.db.session.commit()
    except tenants.SettingsError as exc:
        state.db.session.rollback()
        return _render(identity, errors=exc.errors, status=400)
    tenants.emit(
        state, "token.issued", identity.tenant_id, token_id=credential.token_id, issued_by=identity.display
    )
    return _render(identity, new_token=credential.token, rotated=True)


def disable_provisioning() -> Response:
    guarded = _guard_confirmed("disable")
    if isinstance(guarded, Response):
        return guarded
    identity = guarded
    state = get_state()
    revoked = tenants.disable(state, identity.tenant_id)
    admin_trail.disabled(identity, revoked)
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
        admin_trail.mapping_saved(identity, group.grants, info)
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
        if removed:
            admin_trail.mapping_removed(identity, group)
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
