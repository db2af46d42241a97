"""scim_audit.request_id: which HTTP request a record belongs to

One id per request; the operations of a ``POST /Bulk`` carry the id of the /Bulk request, whose own record
has it too. Records written before this revision keep ``NULL``. No index: it is read by export, not looked up.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scim_audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scim_audit", schema=None) as batch_op:
        batch_op.drop_column("request_id")
