"""Password sign-in for dashboard users (session based)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from .extensions import db
from .models import User, utcnow

bp = Blueprint("auth", __name__)


def load_user() -> None:
    if request.blueprint == "scim_api":
        # The SCIM API authenticates a provisioning client by its bearer token, never by a dashboard
        # session: reading the session there would also mark its answers ``Vary: Cookie``.
        g.user = None
        return
    user_id = session.get("user_id")
    user = db.session.get(User, user_id) if user_id is not None else None
    g.user = user if user is not None and user.active else None


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not g.user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        user = db.session.execute(
            select(User).where(func.lower(User.email) == email.lower())
        ).scalar_one_or_none()
        if user is None or not user.active or not user.check_password(request.form.get("password", "")):
            error = "Wrong email or password."
        else:
            session.clear()
            session["user_id"] = user.id
            user.last_sign_in_at = utcnow()
            db.session.commit()
            target = request.args.get("next", "")
            # Only local paths: never an open redirect.
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("dashboard.home")
            return redirect(target)
    return render_template("login.html", error=error), 401 if error else 200


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
