"""One truth: the existing-users policy, SCIM's take-over of dashboard users, identity keys under PRECIS

``scim_tenants.existing_users`` (``manual`` for every tenant before this revision: Braze's behaviour);
``scim_users.managed`` (false for a dashboard user the ``match`` policy exposes; every earlier row was
written by a SCIM client, so true), ``scim_users.scim_changed_at`` (when a client last wrote the user;
earlier rows take their ``updated_at``, which only SCIM writes moved until now) and ``scim_method`` (the
company's provisioning method at that write; unknown for earlier rows).

The key columns are recomputed under the RFC 8265 mapping (``scim_plugin.core.identity``): ASCII keys do
not change; a non-ASCII one may (composed and decomposed forms, full-width letters, ``ß`` folded to
``ss``). Two rows of a tenant whose keys now coincide cannot both hold the key: the older keeps it, the
newer keeps its old key, and the migration prints both so an operator can merge them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# MariaDB and MySQL keep the microseconds only when asked (a no-op elsewhere).
_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("scim_tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "existing_users", sa.String(length=8), nullable=False, server_default=sa.text("'manual'")
            )
        )
    with op.batch_alter_table("scim_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("managed", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("scim_changed_at", _DATETIME, nullable=True))
        batch_op.add_column(sa.Column("scim_method", sa.String(length=16), nullable=True))
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE scim_users SET scim_changed_at = updated_at"))
    _rekey(bind, "scim_users", "user_name", "user_name_norm", unique=True)
    _rekey(bind, "scim_users", None, "display_name_norm")
    _rekey(bind, "scim_users", None, "given_name_norm")
    _rekey(bind, "scim_users", None, "family_name_norm")
    _rekey(bind, "scim_user_values", "value", "value_norm")
    _rekey(bind, "scim_groups", "display_name", "display_name_norm", unique=True)


def _rekey(bind: sa.Connection, table: str, source: str | None, key: str, *, unique: bool = False) -> None:
    """Recompute ``key`` from ``source`` (or from itself: the folded copy of a value not stored apart).
    All rows at once: four short columns a row, a few megabytes for 100,000 users."""
    from scim_plugin.core.identity import identity_key

    source = source or key
    rows = bind.execute(
        sa.text(
            # ``key`` is a reserved word on MySQL: the aliases avoid it.
            f"SELECT id, tenant_id, {source} AS source_value, {key} AS old_key FROM {table} "
            f"WHERE {source} IS NOT NULL ORDER BY " + ("created_at, id" if unique else "id")
        )
    ).all()
    length = _LENGTHS.get(key, 255)
    keyed = [(row, identity_key(row.source_value)[:length]) for row in rows]
    # Keys that stay as they are hold their place first.
    taken = {(row.tenant_id, new) for row, new in keyed if new == row.old_key}
    for row, new in keyed:
        if new == row.old_key:
            continue
        if unique:
            if (row.tenant_id, new) in taken:
                print(f"{table} {row.id}: keeps {row.old_key!r}, as {new!r} is another row's")
                continue
            taken.add((row.tenant_id, new))
        bind.execute(sa.text(f"UPDATE {table} SET {key} = :key WHERE id = :id"), {"id": row.id, "key": new})


_LENGTHS = {"user_name_norm": 320, "value_norm": 512}


def downgrade() -> None:
    with op.batch_alter_table("scim_users", schema=None) as batch_op:
        batch_op.drop_column("scim_method")
        batch_op.drop_column("scim_changed_at")
        batch_op.drop_column("managed")
    with op.batch_alter_table("scim_tenants", schema=None) as batch_op:
        batch_op.drop_column("existing_users")
