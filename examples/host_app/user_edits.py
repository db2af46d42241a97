"""The dashboard's own edits of a user (Company Users > a user): workspaces and their permissions, roles,
company permissions, names, active state, delete.

Each edit writes the host's rows, then tells the plugins (``dashboard_user_changed`` /
``dashboard_user_deleted``) in the same transaction, and commits once: what SCIM answers about the user
changes with the dashboard, or not at all.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import abort, flash, g, redirect, request, session, url_for
from sqlalchemy import func, select

from .extensions import db
from .models import Role, User, Workspace
from .permissions import COMPANY_PERMISSIONS, WORKSPACE_PERMISSIONS
from .plugins import plugin_manager
from .scim_seam.grants import _apply_permissions, _dump, _load


def csrf_token() -> str:
    """The session's form token (the dashboard's forms carry it; a POST without it is refused)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not hmac.compare_digest(sent, session.get("csrf") or "-"):
        abort(400, "The form expired: reload the page and try again.")


def company_user(user_id: int, *, for_update: bool = False) -> User:
    """The signed-in admin's company's user ``user_id`` (404 otherwise); ``for_update`` to change it: the
    row is locked and read afresh, so an edit starts from what a SCIM write just committed instead of
    writing an older copy back over it (the lock order is the one SCIM writes take: host rows first)."""
    user = db.session.get(User, user_id, with_for_update=for_update, populate_existing=for_update)
    if user is None or user.company_id != g.user.company_id:
        abort(404)
    return user


def edit_choices(company_id: int) -> dict[str, Any]:
    """What the edit form offers: the company's workspaces and roles, and the permission names."""
    return {
        "all_workspaces": db.session.execute(
            select(Workspace).where(Workspace.company_id == company_id).order_by(Workspace.name)
        )
        .scalars()
        .all(),
        "all_roles": db.session.execute(select(Role).where(Role.company_id == company_id).order_by(Role.name))
        .scalars()
        .all(),
        "company_permission_names": sorted(COMPANY_PERMISSIONS),
        "workspace_permission_names": sorted(WORKSPACE_PERMISSIONS),
    }


def save_edit(user: User) -> None:
    """Apply the submitted form to ``user``: its own permissions are what the admin chose; what mapped
    SCIM groups grant stays on top (``scim_group_grants``)."""
    from .scim_seam.common import _seam

    seam = _seam()
    form = request.form
    user.given_name = form.get("given_name", "").strip()[:200]
    user.family_name = form.get("family_name", "").strip()[:200]
    user.department = form.get("department", "").strip()[:64] or None
    if user.id != g.user.id:  # an admin does not lock themselves out
        user.active = form.get("active") == "on"
    choices = edit_choices(user.company_id)
    company_permissions = [p for p in form.getlist("company_permissions") if p in COMPANY_PERMISSIONS]
    if user.id == g.user.id and "admin" in (user.company_permissions or []):
        company_permissions = list(dict.fromkeys(["admin", *company_permissions]))
    role_ids = {str(role.id) for role in choices["all_roles"]}
    workspaces = []
    for workspace in choices["all_workspaces"]:
        if form.get(f"ws_{workspace.id}") != "on":
            continue
        permissions = [
            p for p in form.getlist(f"ws_{workspace.id}_permissions") if p in WORKSPACE_PERMISSIONS
        ]
        ref = seam.Ref(id=str(workspace.id), name=workspace.name)
        workspaces.append(seam.WorkspaceGrant(workspace=ref, permissions=tuple(permissions)))
    own = seam.Permissions(
        company_permissions=tuple(company_permissions),
        roles=tuple(seam.Ref(id=r) for r in form.getlist("roles") if r in role_ids),
        workspaces=tuple(workspaces),
        # Teams are not edited here: the ones the user has stay.
        teams=(_load(user.scim_own_permissions) or seam.Permissions()).teams,
    )
    user.scim_own_permissions = _dump(own)
    _apply_permissions(user, own, _load(user.scim_group_grants))
    db.session.flush()
    plugin_manager().hook.dashboard_user_changed(company_id=user.company_id, user_id=user.id)
    db.session.commit()
    flash("Saved. What the identity provider reads back about this user changed with it.")


def delete_user(user: User) -> Any:
    if user.id == g.user.id:
        flash("You cannot delete yourself.")
        return redirect(url_for("dashboard.user_detail", user_id=user.id))
    others = db.session.execute(
        select(func.count(User.id)).where(User.company_id == user.company_id, User.id != user.id)
    ).scalar_one()
    if not others:
        abort(409)
    company_id, user_id, email = user.company_id, user.id, user.email
    db.session.delete(user)
    db.session.flush()
    plugin_manager().hook.dashboard_user_deleted(company_id=company_id, user_id=user_id)
    db.session.commit()
    flash(f"{email} was deleted.")
    return redirect(url_for("dashboard.users"))


def provisioning(company_id: int, users: list[User]) -> dict[int, dict[str, Any]]:
    """How each user is provisioned, as the plugins say (merged); a user no plugin names was made here."""
    merged: dict[int, dict[str, Any]] = {}
    ids = [user.id for user in users]
    for answer in plugin_manager().hook.dashboard_user_provisioning(company_id=company_id, user_ids=ids):
        merged.update(answer or {})
    return merged
