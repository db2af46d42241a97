"""The plugin's own tables (all prefixed ``scim_``).

They live on their own metadata, so the plugin's Alembic history (``migrations/``) never touches the
host's tables, but they are used through the host's Flask-SQLAlchemy session: a provisioning write and
the host's own changes commit or roll back together. Tenants are the host's companies, referred to by
an opaque string id; the plugin never assumes the host's table names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    event,
    false,
    text,
    true,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# MariaDB and MySQL (``docs/mariadb.md``): utf8mb4, and a binary collation for every string, so equality
# and uniqueness are exact as on PostgreSQL and SQLite. The ``*_norm`` key columns hold what
# ``core.identity`` folded (NFC, case folding, PRECIS): a ``_ci`` collation would fold them again, its own
# way (``ß`` = ``s``, accents ignored), and refuse keys the plugin holds apart.
MYSQL_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
MYSQL_DIALECTS = ("mysql", "mariadb")
# A rendered document can outgrow TEXT's 64 KB there.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL_DIALECTS)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        # MySQL's DATETIME drops the microseconds unless asked: keys and dates would compare otherwise.
        if dialect.name in MYSQL_DIALECTS:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class ScimBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    __table_args__: Any = MYSQL_TABLE


class TenantSettings(ScimBase):
    """Per-tenant SCIM settings, edited on the "SCIM Provisioning" page."""

    __tablename__ = "scim_tenants"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_workspace_id: Mapped[str | None] = mapped_column(String(64))
    default_workspace_name: Mapped[str | None] = mapped_column(String(255))
    # How the company's identity provider proves itself (``access.methods``): ``custom`` also sends the
    # service origin; ``entra`` and ``okta`` cannot send custom headers and rely on the token alone.
    provisioning_method: Mapped[str] = mapped_column(
        String(16), default="custom", server_default=text("'custom'")
    )
    # Empty for the IdP methods, which send no origin.
    service_origin: Mapped[str] = mapped_column(String(255))
    ip_allowlist: Mapped[str] = mapped_column(Text, default="")
    # None: use SCIM_RESPONSE_STYLE.
    response_style: Mapped[str | None] = mapped_column(String(16))
    # What happens to dashboard users made by hand (``access.tenants.EXISTING_USERS``): ``manual`` keeps
    # them out of SCIM (Braze's behaviour); ``match`` exposes them to lookups and lists, and the first SCIM
    # write to one, or a POST of its email, takes it over.
    existing_users: Mapped[str] = mapped_column(String(8), default="manual", server_default=text("'manual'"))
    # Set when the tenant's first group is created (never cleared): until then a user read needs no
    # group-membership query.
    has_groups: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class TenantSnapshot:
    """A tenant's settings as one SCIM request sees them: read once with its token, never written
    (the settings page and the CLI edit ``TenantSettings``)."""

    tenant_id: str
    enabled: bool
    provisioning_method: str
    default_workspace_id: str | None
    default_workspace_name: str | None
    service_origin: str
    ip_allowlist: str
    response_style: str | None
    has_groups: bool
    existing_users: str

    @classmethod
    def of(cls, row: Any, prefix: str = "") -> TenantSnapshot:
        """From a ``TenantSettings`` row, or any row with its columns (``SNAPSHOT_COLUMNS``), labelled
        ``prefix`` + name when selected beside other tables' columns."""
        return cls(**{name: getattr(row, prefix + name) for name in SNAPSHOT_FIELDS})


SNAPSHOT_FIELDS = tuple(field.name for field in fields(TenantSnapshot))
# Selected as table columns: a Core statement skips the ORM's per-statement work on every request.
SNAPSHOT_COLUMNS = tuple(TenantSettings.__table__.c[name] for name in SNAPSHOT_FIELDS)


class Token(ScimBase):
    """A SCIM bearer token's verifier; the token itself is never stored.

    ``status`` is ``active`` (at most one per tenant, enforced by a partial unique index), ``grace``
    (replaced, valid until ``expires_at``) or ``revoked``.
    """

    __tablename__ = "scim_tokens"
    __table_args__ = (
        Index(
            "uq_scim_tokens_active_tenant",
            "tenant_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ).ddl_if(dialect=("sqlite", "postgresql")),
        MYSQL_TABLE,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    token_id: Mapped[str] = mapped_column(String(64), unique=True)
    verifier: Mapped[str] = mapped_column(String(64))
    hint: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="active")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_ip: Mapped[str | None] = mapped_column(String(64))


class ScimUser(ScimBase):
    """The SCIM view of a provisioned user, linked to the host user.

    ``resource`` holds the canonical SCIM document; the ``*_norm`` columns are lower-cased copies of
    the attributes IdPs filter on, so those filters run on indexes. ``body`` is that document as a
    response shows it by default (``user_documents.rendered_body``), so list pages splice stored text.
    """

    __tablename__ = "scim_users"
    __table_args__ = (
        Index("uq_scim_users_tenant_user_name", "tenant_id", "user_name_norm", unique=True),
        Index("ix_scim_users_tenant_external_id", "tenant_id", "external_id"),
        Index("ix_scim_users_tenant_display_name", "tenant_id", "display_name_norm"),
        Index("ix_scim_users_tenant_host_user", "tenant_id", "host_user_id"),
        Index("ix_scim_users_tenant_created", "tenant_id", "created_at", "id"),
        MYSQL_TABLE,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    host_user_id: Mapped[str | None] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(320))
    user_name_norm: Mapped[str] = mapped_column(String(320))
    external_id: Mapped[str | None] = mapped_column(String(255))
    display_name_norm: Mapped[str | None] = mapped_column(String(255))
    given_name_norm: Mapped[str | None] = mapped_column(String(255))
    family_name_norm: Mapped[str | None] = mapped_column(String(255))
    # None when the client removed the attribute (the host then keeps the user active).
    active: Mapped[bool | None] = mapped_column(Boolean)
    resource: Mapped[dict[str, Any]] = mapped_column(JSON)
    # False for a dashboard user made by hand that the ``match`` policy exposes: no SCIM client has
    # written it yet. The first write links it (``scim_link_user``) and sets this.
    managed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # When a SCIM client last wrote the user (``updated_at`` also moves for the dashboard's own changes).
    scim_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The company's provisioning method at that write (``custom``, ``entra``, ``okta``).
    scim_method: Mapped[str | None] = mapped_column(String(16))
    # None for rows written before revision 0004: they are rendered from ``resource``.
    body: Mapped[str | None] = mapped_column(LongText)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ScimUserValue(ScimBase):
    """One value of a multi-valued attribute (``emails``, ``phoneNumbers``...), for filtering in SQL."""

    __tablename__ = "scim_user_values"
    __table_args__ = (
        Index("ix_scim_user_values_lookup", "tenant_id", "attribute", "value_norm"),
        MYSQL_TABLE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("scim_users.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    attribute: Mapped[str] = mapped_column(String(64))
    type: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(String(512))
    value_norm: Mapped[str | None] = mapped_column(String(512))
    # None when the client did not say: "primary eq false" must not match an unstated value.
    primary: Mapped[bool | None] = mapped_column(Boolean)


class ScimGroup(ScimBase):
    """A SCIM Group of a tenant. ``resource`` is the group's document *without* its members.

    Members live in ``scim_group_members`` (one row per member) and are changed with set-based SQL, so
    a membership change never loads or rewrites the member list. ``displayName`` is unique per tenant,
    case-insensitively (``display_name_norm`` is the folded copy, under a unique index).
    """

    __tablename__ = "scim_groups"
    __table_args__ = (
        Index("uq_scim_groups_tenant_display_name", "tenant_id", "display_name_norm", unique=True),
        Index("ix_scim_groups_tenant_external_id", "tenant_id", "external_id"),
        Index("ix_scim_groups_tenant_created", "tenant_id", "created_at", "id"),
        MYSQL_TABLE,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(255))
    display_name_norm: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255))
    resource: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Kept by the membership statements themselves (``member_count = member_count + added``), so a
    # response can tell a group's size without counting a 50,000-row member list.
    member_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ScimGroupMember(ScimBase):
    """One user in one group. Deleting the group or the user deletes the row (ON DELETE CASCADE)."""

    __tablename__ = "scim_group_members"
    __table_args__ = (Index("ix_scim_group_members_tenant_member", "tenant_id", "member_id"), MYSQL_TABLE)

    group_id: Mapped[str] = mapped_column(ForeignKey("scim_groups.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("scim_users.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))


class ScimGroupMapping(ScimBase):
    """What membership of a group grants in the host (Braze's "SCIM group role mapping").

    ``grants`` has the shape of the permissions extension (``companyPermissions``, ``roles``,
    ``workspaces``), so it converts to the seam's ``Permissions`` like a user's own permissions do.
    """

    __tablename__ = "scim_group_mappings"

    group_id: Mapped[str] = mapped_column(ForeignKey("scim_groups.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    grants: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


#: What an audit record is (``AuditRecord.kind``): a SCIM request that wrote (or tried to), one that only
#: read, one refused before it reached a resource (401, 403), or an action of an admin on the settings page.
AUDIT_KINDS = ("write", "read", "refusal", "admin")


class AuditRecord(ScimBase):
    """One SCIM request or admin action: who, from where, what, the outcome and why. Never a token or a
    secret."""

    __tablename__ = "scim_audit"
    __table_args__ = (
        # The activity page: a company's records newest first, paged on (created_at, id).
        Index("ix_scim_audit_tenant_created_id", "tenant_id", "created_at", "id"),
        # The same, filtered by kind or by resource type.
        Index("ix_scim_audit_tenant_kind_created", "tenant_id", "kind", "created_at", "id"),
        Index("ix_scim_audit_tenant_type_created", "tenant_id", "resource_type", "created_at", "id"),
        # The settings page's status panel: one method's latest records, newest first.
        Index("ix_scim_audit_tenant_method_created", "tenant_id", "provisioning_method", "created_at"),
        MYSQL_TABLE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    token_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column(Integer)
    resource_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(255))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # One per HTTP request: the operations of a /Bulk request carry the /Bulk request's. None before 0005.
    request_id: Mapped[str | None] = mapped_column(String(32))
    # The tenant's provisioning method when the request was made; None when the tenant was not known
    # (an unrecognised token) or before 0006.
    provisioning_method: Mapped[str | None] = mapped_column(String(16))
    # One of AUDIT_KINDS (records from before 0008 were given theirs by the migration).
    kind: Mapped[str] = mapped_column(String(8), default="write", server_default=text("'write'"))
    # ``User`` or ``Group`` when the record is about one (``resource_id`` names it); None otherwise.
    resource_type: Mapped[str | None] = mapped_column(String(16))
    # Admin actions: the host user who acted (``AdminIdentity.user_id`` and ``display``), what they did
    # (``access.audit.ADMIN_ACTIONS``) and its details (old and new values; never a token or a secret).
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# MariaDB has no partial index (nor MySQL): the one active token per tenant is a unique index on a
# generated column that holds the tenant only while the token is active (NULLs never collide).
MYSQL_ACTIVE_TOKEN = (
    "ALTER TABLE scim_tokens ADD COLUMN active_tenant_id VARCHAR(64) COLLATE utf8mb4_bin "
    "GENERATED ALWAYS AS (CASE WHEN status = 'active' THEN tenant_id END) VIRTUAL, "
    "ADD UNIQUE INDEX uq_scim_tokens_active_tenant (active_tenant_id)"
)
event.listen(Token.__table__, "after_create", DDL(MYSQL_ACTIVE_TOKEN).execute_if(dialect=MYSQL_DIALECTS))
