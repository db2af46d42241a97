"""Provisioning methods: scim_tenants.provisioning_method, and the method on each audit record

``custom`` (token, service origin and optional IP allowlist: every tenant before this revision, so the
column's server default makes them ``custom``), ``entra`` or ``okta`` (token and optional IP allowlist: those
IdPs cannot send a custom header). Audit records name the method the tenant used when the request came;
older records keep ``NULL``. An index on (tenant, method, time) serves the settings page's status panel.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 22:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scim_tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "provisioning_method",
                sa.String(length=16),
                nullable=False,
                server_default=sa.text("'custom'"),
            )
        )
    with op.batch_alter_table("scim_audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provisioning_method", sa.String(length=16), nullable=True))
        batch_op.create_index(
            "ix_scim_audit_tenant_method_created",
            ["tenant_id", "provisioning_method", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("scim_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_scim_audit_tenant_method_created")
        batch_op.drop_column("provisioning_method")
    with op.batch_alter_table("scim_tenants", schema=None) as batch_op:
        batch_op.drop_column("provisioning_method")
