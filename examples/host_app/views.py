"""The dashboard's pages: overview, company users, workspaces and the admin settings index."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from .auth import admin_required, login_required
from .extensions import db
from .models import User, Workspace, WorkspaceMembership
from .plugins import admin_menu
from .user_edits import (
    check_csrf,
    company_user,
    csrf_token,
    delete_user,
    edit_choices,
    provisioning,
    save_edit,
)

bp = Blueprint("dashboard", __name__)
PAGE_SIZE = 50


def layout_context() -> dict[str, Any]:
    user = g.get("user")
    return {
        "current_user": user,
        "admin_menu": admin_menu(user) if user is not None else [],
        "csrf_token": csrf_token,
    }


#: Every dashboard page: its own assets only, never framed (the SCIM settings page sends its own).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(response: Response) -> Response:
    """Framing and content headers on every response; a page that set its own keeps them."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@bp.route("/favicon.ico")
def favicon() -> Any:
    # Browsers ask for /favicon.ico whatever the page links; answer it rather than 404 on every page.
    return send_from_directory(current_app.static_folder or "static", "favicon.ico", max_age=86400)


@bp.route("/")
def index() -> Any:
    return redirect(url_for("dashboard.home"))


@bp.route("/dashboard")
@login_required
def home() -> Any:
    company_id = g.user.company_id
    counts = db.session.execute(
        select(
            func.count(User.id),
            # CASE, not FILTER (WHERE ...): MariaDB and MySQL have no FILTER clause.
            func.count(case((User.active.is_(True), 1))),
            func.count(case((User.provisioning_method == "scim", 1))),
        ).where(User.company_id == company_id)
    ).one()
    recent = (
        db.session.execute(
            select(User)
            .where(User.company_id == company_id)
            .order_by(User.created_at.desc(), User.id.desc())
            .limit(8)
        )
        .scalars()
        .all()
    )
    return render_template("dashboard.html", counts=counts, recent=recent, workspaces=_workspaces(company_id))


@bp.route("/users")
@admin_required
def users() -> Any:
    page = max(request.args.get("page", 1, type=int), 1)
    query = request.args.get("q", "").strip()
    stmt = select(User).where(User.company_id == g.user.company_id)
    if query:
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(func.lower(User.email).like(pattern, escape="\\"))
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = (
        db.session.execute(
            stmt.options(selectinload(User.memberships).selectinload(WorkspaceMembership.workspace))
            .order_by(User.email)
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
        .scalars()
        .all()
    )
    sources = provisioning(g.user.company_id, list(rows))
    return render_template(
        "users.html", users=rows, sources=sources, total=total, page=page, page_size=PAGE_SIZE, q=query
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_detail(user_id: int) -> Any:
    user = company_user(user_id, for_update=request.method == "POST")
    if request.method == "POST":
        check_csrf()
        save_edit(user)
        return redirect(url_for("dashboard.user_detail", user_id=user_id))
    source = provisioning(user.company_id, [user]).get(user.id)
    own = {m.workspace_id: m for m in user.memberships}
    return render_template("user.html", user=user, source=source, own=own, **edit_choices(user.company_id))


@bp.route("/users/<int:user_id>/delete", methods=["POST"])
@admin_required
def user_delete(user_id: int) -> Any:
    check_csrf()
    return delete_user(company_user(user_id, for_update=True))


@bp.route("/workspaces")
@login_required
def workspaces() -> Any:
    return render_template("workspaces.html", workspaces=_workspaces(g.user.company_id))


@bp.route("/settings/admin")
@admin_required
def admin_settings() -> Any:
    return render_template("admin_settings.html")


def _workspaces(company_id: int) -> list[dict[str, Any]]:
    members = (
        select(WorkspaceMembership.workspace_id, func.count().label("n"))
        .group_by(WorkspaceMembership.workspace_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Workspace, func.coalesce(members.c.n, 0))
        .outerjoin(members, members.c.workspace_id == Workspace.id)
        .where(Workspace.company_id == company_id)
        .options(selectinload(Workspace.teams))
        .order_by(Workspace.name)
    ).all()
    return [{"workspace": ws, "members": n} for ws, n in rows]
