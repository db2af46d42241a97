"""scim_users.body: each user's default response document, rendered when it is written

List pages then splice stored text instead of decoding, projecting and re-encoding every document.
Existing rows keep ``NULL`` and are rendered from ``resource`` until their next write.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# MariaDB and MySQL: a document can outgrow TEXT's 64 KB (MEDIUMTEXT holds 16 MB); TEXT elsewhere.
_BODY = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("scim_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", _BODY, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scim_users", schema=None) as batch_op:
        batch_op.drop_column("body")
