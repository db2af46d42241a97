"""initial scim tables

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 14:04:10.282255
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# MariaDB and MySQL only (no-ops elsewhere): utf8mb4 with exact comparison, and microseconds kept.
_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _on_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:

    op.create_table(
        "scim_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("token_id", sa.String(length=64), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_audit")),
        **_MYSQL,
    )
    with op.batch_alter_table("scim_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scim_audit_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_scim_audit_tenant_created", ["tenant_id", "created_at"], unique=False)

    op.create_table(
        "scim_tenants",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("default_workspace_id", sa.String(length=64), nullable=True),
        sa.Column("default_workspace_name", sa.String(length=255), nullable=True),
        sa.Column("service_origin", sa.String(length=255), nullable=False),
        sa.Column("ip_allowlist", sa.Text(), nullable=False),
        sa.Column("response_style", sa.String(length=16), nullable=True),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("updated_at", _DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_scim_tenants")),
        **_MYSQL,
    )
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("verifier", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("expires_at", _DATETIME, nullable=True),
        sa.Column("revoked_at", _DATETIME, nullable=True),
        sa.Column("last_used_at", _DATETIME, nullable=True),
        sa.Column("last_used_ip", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_tokens")),
        sa.UniqueConstraint("token_id", name=op.f("uq_scim_tokens_token_id")),
        **_MYSQL,
    )
    with op.batch_alter_table("scim_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scim_tokens_tenant_id"), ["tenant_id"], unique=False)
        if not _on_mysql():
            batch_op.create_index(
                "uq_scim_tokens_active_tenant",
                ["tenant_id"],
                unique=True,
                sqlite_where=sa.text("status = 'active'"),
                postgresql_where=sa.text("status = 'active'"),
            )
    if _on_mysql():
        # No partial indexes there: a generated column holds the tenant while the token is active.
        op.execute(
            "ALTER TABLE scim_tokens ADD COLUMN active_tenant_id VARCHAR(64) COLLATE utf8mb4_bin "
            "GENERATED ALWAYS AS (CASE WHEN status = 'active' THEN tenant_id END) VIRTUAL, "
            "ADD UNIQUE INDEX uq_scim_tokens_active_tenant (active_tenant_id)"
        )

    op.create_table(
        "scim_users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("host_user_id", sa.String(length=64), nullable=True),
        sa.Column("user_name", sa.String(length=320), nullable=False),
        sa.Column("user_name_norm", sa.String(length=320), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("display_name_norm", sa.String(length=255), nullable=True),
        sa.Column("given_name_norm", sa.String(length=255), nullable=True),
        sa.Column("family_name_norm", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("resource", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("updated_at", _DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_users")),
        **_MYSQL,
    )
    with op.batch_alter_table("scim_users", schema=None) as batch_op:
        batch_op.create_index("ix_scim_users_tenant_created", ["tenant_id", "created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_scim_users_tenant_display_name", ["tenant_id", "display_name_norm"], unique=False
        )
        batch_op.create_index("ix_scim_users_tenant_external_id", ["tenant_id", "external_id"], unique=False)
        batch_op.create_index("ix_scim_users_tenant_host_user", ["tenant_id", "host_user_id"], unique=False)
        batch_op.create_index("uq_scim_users_tenant_user_name", ["tenant_id", "user_name_norm"], unique=True)

    op.create_table(
        "scim_user_values",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("value", sa.String(length=512), nullable=True),
        sa.Column("value_norm", sa.String(length=512), nullable=True),
        sa.Column("primary", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["scim_users.id"],
            name=op.f("fk_scim_user_values_user_id_scim_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_user_values")),
        **_MYSQL,
    )
    with op.batch_alter_table("scim_user_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scim_user_values_lookup", ["tenant_id", "attribute", "value_norm"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_scim_user_values_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    # MariaDB and MySQL: DROP TABLE takes its indexes, which the foreign keys need until then.
    keep_indexes = _on_mysql()
    if not keep_indexes:
        with op.batch_alter_table("scim_user_values", schema=None) as batch_op:
            batch_op.drop_index(batch_op.f("ix_scim_user_values_user_id"))
            batch_op.drop_index("ix_scim_user_values_lookup")

    op.drop_table("scim_user_values")
    if not keep_indexes:
        with op.batch_alter_table("scim_users", schema=None) as batch_op:
            batch_op.drop_index("uq_scim_users_tenant_user_name")
            batch_op.drop_index("ix_scim_users_tenant_host_user")
            batch_op.drop_index("ix_scim_users_tenant_external_id")
            batch_op.drop_index("ix_scim_users_tenant_display_name")
            batch_op.drop_index("ix_scim_users_tenant_created")

    op.drop_table("scim_users")
    if not keep_indexes:
        with op.batch_alter_table("scim_tokens", schema=None) as batch_op:
            batch_op.drop_index(
                "uq_scim_tokens_active_tenant",
                sqlite_where=sa.text("status = 'active'"),
                postgresql_where=sa.text("status = 'active'"),
            )
            batch_op.drop_index(batch_op.f("ix_scim_tokens_tenant_id"))

    op.drop_table("scim_tokens")
    op.drop_table("scim_tenants")
    if not keep_indexes:
        with op.batch_alter_table("scim_audit", schema=None) as batch_op:
            batch_op.drop_index("ix_scim_audit_tenant_created")
            batch_op.drop_index(batch_op.f("ix_scim_audit_created_at"))

    op.drop_table("scim_audit")
