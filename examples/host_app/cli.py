"""``flask --app examples.host_app demo init``: create the tables and seed two companies."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .extensions import db
from .models import Company, PermissionSet, Role, Team, User, Workspace

demo_cli = AppGroup("demo", help="The example host's demo data.")

DEMO_COMPANIES = {
    "acme": ("Acme Corp", ["Production", "Staging", "Marketing Sandbox"]),
    "globex": ("Globex", ["Main", "EU", "Labs"]),
}


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
    db.session.commit()
    for slug in DEMO_COMPANIES:
        click.echo(f"company {slug}: sign in as admin@{slug}.example / {demo_password(slug)}")
    if scim is not None:
        click.echo(
            f"SCIM API base path: {scim.config.url_prefix} (for example http://127.0.0.1:5000{scim.config.url_prefix})"
        )


def register(app: Flask) -> None:
    app.cli.add_command(demo_cli)
