"""groups: scim_groups, scim_group_members, scim_group_mappings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:55:51.362883
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# MariaDB and MySQL only (no-ops elsewhere): utf8mb4 with exact comparison, and microseconds kept.
_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _on_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "scim_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("display_name_norm", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("resource", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("updated_at", _DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_groups")),
        **_MYSQL,
    )
    with op.batch_alter_table("scim_groups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scim_groups_tenant_created", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_scim_groups_tenant_external_id", ["tenant_id", "external_id"], unique=False)
        batch_op.create_index(
            "uq_scim_groups_tenant_display_name", ["tenant_id", "display_name_norm"], unique=True
        )

    op.create_table(
        "scim_group_mappings",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("grants", sa.JSON(), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("updated_at", _DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["scim_groups.id"],
            name=op.f("fk_scim_group_mappings_group_id_scim_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_scim_group_mappings")),
        **_MYSQL,
    )
    with op.batch_alter_table("scim_group_mappings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scim_group_mappings_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "scim_group_members",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["scim_groups.id"],
            name=op.f("fk_scim_group_members_group_id_scim_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["scim_users.id"],
            name=op.f("fk_scim_group_members_member_id_scim_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "member_id", name=op.f("pk_scim_group_members")),
        **_MYSQL,
    )
    with op.batch_alter_table("scim_group_members", schema=None) as batch_op:
        batch_op.create_index("ix_scim_group_members_tenant_member", ["tenant_id", "member_id"], unique=False)


def downgrade() -> None:
    # MariaDB and MySQL: DROP TABLE takes its indexes, which the foreign keys need until then.
    keep_indexes = _on_mysql()
    if not keep_indexes:
        with op.batch_alter_table("scim_group_members", schema=None) as batch_op:
            batch_op.drop_index("ix_scim_group_members_tenant_member")

    op.drop_table("scim_group_members")
    if not keep_indexes:
        with op.batch_alter_table("scim_group_mappings", schema=None) as batch_op:
            batch_op.drop_index(batch_op.f("ix_scim_group_mappings_tenant_id"))

    op.drop_table("scim_group_mappings")
    if not keep_indexes:
        with op.batch_alter_table("scim_groups", schema=None) as batch_op:
            batch_op.drop_index("uq_scim_groups_tenant_display_name")
            batch_op.drop_index("ix_scim_groups_tenant_external_id")
            batch_op.drop_index("ix_scim_groups_tenant_created")

    op.drop_table("scim_groups")
