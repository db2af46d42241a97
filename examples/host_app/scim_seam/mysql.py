"""The user delete on MariaDB and MySQL: under the company's row lock, then a survivor locked.

PostgreSQL's first try (``postgresql._delete_with_row_locks``) cannot be spelled there: those databases
refuse a ``DELETE`` whose subquery reads the table it deletes from (error 1093), and InnoDB keeps the
row locks of a try rolled back to its savepoint, so two such tries would deadlock. One company's deletes
queue on its row instead; each takes the host's rows only under that lock, after the plugin's own (its
groups), always in that order, so they cannot deadlock.
"""

from __future__ import annotations

from sqlalchemy import delete

from ..extensions import db
from .common import _ANOTHER_USER, _SAME_COMPANY, _USERS
from .postgresql import _LOCK_COMPANY

# FOR UPDATE, not a share lock: a share lock read from the company index alone would not lock the row
# itself, so it would not wait for a transaction changing that user. The company lock already orders
# these deletes: the stronger lock makes none of them wait longer.
_SURVIVOR = _ANOTHER_USER.limit(1).with_for_update()
_DELETE = delete(_USERS).where(*_SAME_COMPANY)


def _delete_under_company_lock(params: dict[str, int]) -> bool:
    """Delete the user unless it is its company's last; ``False`` when it is, or is gone."""
    db.session.execute(_LOCK_COMPANY, params)
    if db.session.execute(_SURVIVOR, params).first() is None:
        return False
    return db.session.execute(_DELETE, params).rowcount == 1
