"""``flask --app examples.host_app demo init``: create the tables and seed two companies."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .extensions import db
from .models import Company, PermissionSet, Role, Team, User, Workspace, WorkspaceMembership

demo_cli = AppGroup("demo", help="The example host's demo data.")

DEMO_COMPANIES = {
    "acme": ("Acme Corp", ["Production", "Staging", "Marketing Sandbox"]),
    "globex": ("Globex", ["Main", "EU", "Labs"]),
}


# Users an admin created by hand before SCIM was turned on: what the existing-users policy is about
# (``manual`` keeps them out of SCIM; ``match`` lets the identity provider find and take them over).
HAND_MADE_USERS = (
    ("grace", "Grace", "Hopper", "Engineering"),
    ("linus", "Linus", "Pauling", "Research"),
    ("marie", "Marie", "Curie", None),
)


def _seed_hand_made_users(company: Company, slug: str, workspaces: list[Workspace]) -> None:
    for index, (local, given, family, department) in enumerate(HAND_MADE_USERS):
        email = f"{local}@{slug}.example"
        if db.session.execute(select(User.id).where(User.email == email)).first() is not None:
            continue
        user = User(
            company=company,
            email=email,
            given_name=given,
            family_name=family,
            department=department,
            provisioning_method="manual",
            company_permissions=[],
        )
        workspace = workspaces[index % len(workspaces)]
        user.memberships = [WorkspaceMembership(workspace=workspace, permissions=["basic_access"])]
        db.session.add(user)


def demo_password(slug: str) -> str:
    return f"{slug}-demo-password"


@demo_cli.command("init")
def demo_init() -> None:
    """Create/migrate the host's and the plugin's tables and seed demo data (idempotent)."""
    db.create_all()
    scim = current_app.extensions.get("scim")
    if scim is not None:
        from scim_plugin.storage import migrate

        migrate.upgrade(db.engine)
    for slug, (name, workspace_names) in DEMO_COMPANIES.items():
        company = db.session.execute(select(Company).where(Company.slug == slug)).scalar_one_or_none()
        if company is None:
            company = Company(slug=slug, name=name)
            db.session.add(company)
            db.session.flush()
        workspaces = []
        for ws_name in workspace_names:
            ws = db.session.execute(
                select(Workspace).where(Workspace.company_id == company.id, Workspace.name == ws_name)
            ).scalar_one_or_none() or Workspace(company=company, name=ws_name)
            db.session.add(ws)
            workspaces.append(ws)
        db.session.flush()
        if not db.session.execute(select(Team).where(Team.workspace_id == workspaces[0].id)).first():
            db.session.add(Team(workspace=workspaces[0], name="Growth"))
        if not db.session.execute(select(Role).where(Role.company_id == company.id)).first():
            db.session.add(
                Role(
                    company=company,
                    name="Campaign Manager",
                    grants=[
                        {
                            "workspace_id": workspaces[0].id,
                            "permissions": ["view_campaigns", "edit_campaigns"],
                        }
                    ],
                )
            )
        if not db.session.execute(
            select(PermissionSet).where(PermissionSet.company_id == company.id)
        ).first():
            db.session.add(
                PermissionSet(
                    company_id=company.id, name="Read Only", permissions=["view_campaigns", "view_segments"]
                )
            )
        email = f"admin@{slug}.example"
        admin = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if admin is None:
            admin = User(
                company=company,
                email=email,
                given_name="Ada",
                family_name="Admin",
                company_permissions=["admin"],
                provisioning_method="manual",
            )
            admin.set_password(demo_password(slug))
            db.session.add(admin)
        _seed_hand_made_users(company, slug, workspaces)
    db.session.commit()
    for slug in DEMO_COMPANIES:
        click.echo(f"company {slug}: sign in as admin@{slug}.example / {demo_password(slug)}")
    if scim is not None:
        click.echo(
            f"SCIM API base path: {scim.config.url_prefix} (for example http://127.0.0.1:5000{scim.config.url_prefix})"
        )


def register(app: Flask) -> None:
    app.cli.add_command(demo_cli)
