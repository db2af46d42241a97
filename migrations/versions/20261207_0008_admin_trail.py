"""The admin's trail: a kind on every audit record, admin actions with their actor and details

``scim_audit.kind`` (``write``, ``read``, ``refusal`` or ``admin``): earlier records get theirs from their
status, method and path, as the request recorder would have chosen it. ``resource_type`` (``User``,
``Group``) comes from the path. ``actor_id``, ``actor``, ``action`` and ``details`` (JSON: old and new values)
are set on admin actions only. The (tenant, created_at) index becomes (tenant, created_at, id), the
activity page's keyset order; two more serve its filters by kind and by resource type.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scim_audit", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), nullable=False, server_default=sa.text("'write'"))
        )
        batch_op.add_column(sa.Column("resource_type", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("actor_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("actor", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("action", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
    bind = op.get_bind()
    # The rules of ``access.audit.kind_of``, in SQL: set-based, one statement per column.
    bind.execute(
        sa.text(
            "UPDATE scim_audit SET kind = CASE"
            " WHEN status IN (401, 403) THEN 'refusal'"
            " WHEN method IN ('POST', 'PUT', 'PATCH', 'DELETE') AND path NOT LIKE '%/.search' THEN 'write'"
            " ELSE 'read' END"
        )
    )
    bind.execute(
        sa.text(
            "UPDATE scim_audit SET resource_type = CASE"
            " WHEN path LIKE '%/Users/%' OR path LIKE '%/Users' THEN 'User'"
            " WHEN path LIKE '%/Groups/%' OR path LIKE '%/Groups' THEN 'Group'"
            " END"
        )
    )
    with op.batch_alter_table("scim_audit", schema=None) as batch_op:
        # The new indexes first: InnoDB refuses to drop the last index that serves tenant_id's foreign key.
        batch_op.create_index("ix_scim_audit_tenant_created_id", ["tenant_id", "created_at", "id"])
        batch_op.create_index("ix_scim_audit_tenant_kind_created", ["tenant_id", "kind", "created_at", "id"])
        batch_op.create_index(
            "ix_scim_audit_tenant_type_created", ["tenant_id", "resource_type", "created_at", "id"]
        )
        batch_op.drop_index("ix_scim_audit_tenant_created")


def downgrade() -> None:
    bind = op.get_bind()
    # Admin actions have no place in the earlier schema (it knows only requests).
    bind.execute(sa.text("DELETE FROM scim_audit WHERE kind = 'admin'"))
    with op.batch_alter_table("scim_audit", schema=None) as batch_op:
        batch_op.create_index("ix_scim_audit_tenant_created", ["tenant_id", "created_at"], unique=False)
        batch_op.drop_index("ix_scim_audit_tenant_type_created")
        batch_op.drop_index("ix_scim_audit_tenant_kind_created")
        batch_op.drop_index("ix_scim_audit_tenant_created_id")
        batch_op.drop_column("details")
        batch_op.drop_column("action")
        batch_op.drop_column("actor")
        batch_op.drop_column("actor_id")
        batch_op.drop_column("resource_type")
        batch_op.drop_column("kind")
