"""groups: scim_groups, scim_group_members, scim_group_mappings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:55:51.362883
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_groups")),
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["scim_groups.id"],
            name=op.f("fk_scim_group_mappings_group_id_scim_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_scim_group_mappings")),
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
    )
    with op.batch_alter_table("scim_group_members", schema=None) as batch_op:
        batch_op.create_index("ix_scim_group_members_tenant_member", ["tenant_id", "member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scim_group_members", schema=None) as batch_op:
        batch_op.drop_index("ix_scim_group_members_tenant_member")

    op.drop_table("scim_group_members")
    with op.batch_alter_table("scim_group_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scim_group_mappings_tenant_id"))

    op.drop_table("scim_group_mappings")
    with op.batch_alter_table("scim_groups", schema=None) as batch_op:
        batch_op.drop_index("uq_scim_groups_tenant_display_name")
        batch_op.drop_index("ix_scim_groups_tenant_external_id")
        batch_op.drop_index("ix_scim_groups_tenant_created")

    op.drop_table("scim_groups")
