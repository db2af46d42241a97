"""counters that save queries: scim_tenants.has_groups, scim_groups.member_count

``has_groups`` lets user reads skip the group-membership query for tenants without groups;
``member_count`` lets group responses know a group's size without counting its members.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scim_tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("has_groups", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("scim_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("member_count", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    # Tenants that already have groups, and the groups' sizes.
    op.execute(
        "UPDATE scim_tenants SET has_groups = "
        "EXISTS (SELECT 1 FROM scim_groups WHERE scim_groups.tenant_id = scim_tenants.tenant_id)"
    )
    op.execute(
        "UPDATE scim_groups SET member_count = "
        "(SELECT count(*) FROM scim_group_members WHERE scim_group_members.group_id = scim_groups.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("scim_groups", schema=None) as batch_op:
        batch_op.drop_column("member_count")
    with op.batch_alter_table("scim_tenants", schema=None) as batch_op:
        batch_op.drop_column("has_groups")
