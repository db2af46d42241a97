"""The dashboard's own data: companies (tenants), workspaces, teams, roles and dashboard users.

The shapes follow Braze's permissions model: a user has company-level permissions, roles, and per
workspace either a list of permissions or a permission set, plus per-team permissions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DDL, JSON, Boolean, DateTime, ForeignKey, Index, String, UniqueConstraint, event, func
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import MYSQL_TABLE, db


def utcnow() -> datetime:
    return datetime.now(UTC)


class Company(db.Model):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    workspaces: Mapped[list[Workspace]] = relationship(back_populates="company", order_by="Workspace.name")
    roles: Mapped[list[Role]] = relationship(back_populates="company", order_by="Role.name")
    permission_sets: Mapped[list[PermissionSet]] = relationship(order_by="PermissionSet.name")


class Workspace(db.Model):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("company_id", "name"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))

    company: Mapped[Company] = relationship(back_populates="workspaces")
    teams: Mapped[list[Team]] = relationship(back_populates="workspace", order_by="Team.name")


class Team(db.Model):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "name"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))

    workspace: Mapped[Workspace] = relationship(back_populates="teams")


class PermissionSet(db.Model):
    """A named bundle of workspace permissions (Braze "appGroupPermissionSets")."""

    __tablename__ = "permission_sets"
    __table_args__ = (UniqueConstraint("company_id", "name"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)


class Role(db.Model):
    """A named permission bundle granting workspace access (Braze "roles")."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("company_id", "name"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # [{"workspace_id": 1, "permissions": [...]}]: what the role grants.
    grants: Mapped[list[dict]] = mapped_column(JSON, default=list)

    company: Mapped[Company] = relationship(back_populates="roles")


class User(db.Model):
    """A dashboard user. Emails are unique across the whole instance, as on Braze."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    company_permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    provisioning_method: Mapped[str] = mapped_column(String(16), default="manual")
    # What SCIM asked for the user itself, and what its mapped SCIM groups grant (seam Permissions as
    # JSON). The membership rows below are always own + group grants, recomputed when either changes, so
    # leaving a group removes exactly what only that group granted.
    scim_own_permissions: Mapped[dict | None] = mapped_column(JSON)
    scim_group_grants: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    # Microseconds on MariaDB and MySQL too (their DATETIME drops them unless asked): SCIM shows this time.
    last_sign_in_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    )

    company: Mapped[Company] = relationship()
    memberships: Mapped[list[WorkspaceMembership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="WorkspaceMembership.workspace_id"
    )
    team_memberships: Mapped[list[TeamMembership]] = relationship(
        cascade="all, delete-orphan", order_by="TeamMembership.team_id"
    )
    role_assignments: Mapped[list[RoleAssignment]] = relationship(
        cascade="all, delete-orphan", order_by="RoleAssignment.role_id"
    )

    @property
    def is_admin(self) -> bool:
        return "admin" in (self.company_permissions or [])

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.email

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash or "", password)


# Emails are unique whatever their case; the index also answers the lookup by lower(email) that
# provisioning runs on every create (a table scan without it).
Index("uq_users_email_lower", func.lower(User.email), unique=True).ddl_if(dialect=("sqlite", "postgresql"))
# MariaDB indexes no expression (MySQL 8 would): the same index on a generated column there.
event.listen(
    User.__table__,
    "after_create",
    DDL(
        "ALTER TABLE users ADD COLUMN email_lower VARCHAR(320) COLLATE utf8mb4_bin "
        "GENERATED ALWAYS AS (lower(email)) VIRTUAL, ADD UNIQUE INDEX uq_users_email_lower (email_lower)"
    ).execute_if(dialect=("mysql", "mariadb")),
)


class WorkspaceMembership(db.Model):
    __tablename__ = "workspace_memberships"
    __table_args__ = (UniqueConstraint("user_id", "workspace_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"), index=True)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    permission_set_id: Mapped[int | None] = mapped_column(ForeignKey("permission_sets.id"))

    user: Mapped[User] = relationship(back_populates="memberships")
    workspace: Mapped[Workspace] = relationship()
    permission_set: Mapped[PermissionSet | None] = relationship()


class TeamMembership(db.Model):
    __tablename__ = "team_memberships"
    __table_args__ = (UniqueConstraint("user_id", "team_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)

    team: Mapped[Team] = relationship()


class RoleAssignment(db.Model):
    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role_id"), MYSQL_TABLE)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)

    role: Mapped[Role] = relationship()
