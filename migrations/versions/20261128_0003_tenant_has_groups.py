"""scim_tenants.has_groups: lets user reads skip the group-membership query for tenants without groups

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
    # Tenants that already have groups.
    op.execute(
        "UPDATE scim_tenants SET has_groups = "
        "EXISTS (SELECT 1 FROM scim_groups WHERE scim_groups.tenant_id = scim_tenants.tenant_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("scim_tenants", schema=None) as batch_op:
        batch_op.drop_column("has_groups")
