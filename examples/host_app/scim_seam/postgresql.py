"""The fast paths for server databases, kept apart from the plain hooks that call them.

- A create with one workspace writes the user and its membership in one round trip (PostgreSQL's writable
  CTE), where the plain path needs two.
- A delete on a server database (anything but SQLite) takes row locks that let one company's deletes run
  side by side (``SKIP LOCKED``, ``FOR KEY SHARE``) and falls back to the company lock only when it must.

A host on SQLite alone can drop this module and the two branches that call it.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, true
from sqlalchemy.dialects import postgresql

from ..extensions import db
from ..models import (
    Company,
)
from .common import (
    _ANOTHER_USER,
    _SAME_COMPANY,
    _USER_IN_COMPANY,
    _USERS,
    _WORKSPACES,
)
from .memberships import (
    _MEMBERSHIP_COLUMNS,
    _MEMBERSHIPS,
    _membership_of,
)


@functools.lru_cache(maxsize=8)
def _insert_user_with_membership(user_columns: tuple[str, ...]) -> Any:
    """PostgreSQL: the user (parameters ``u_<column>``) in a writable CTE of the INSERT of its one
    membership, which returns the new id, or nothing when the company has no such workspace or the email
    is taken. No parameter is named as a column: SQLAlchemy would add that column to the outer INSERT."""
    new_user = (
        postgresql.insert(_USERS)
        .values({key: bindparam(f"u_{key}") for key in user_columns})
        .on_conflict_do_nothing()  # a taken email writes nothing and keeps the transaction usable
        .returning(_USERS.c.id)
        .cte("new_user")
    )
    chosen = _membership_of(new_user.c.id).join_from(new_user, _WORKSPACES, true())
    return (
        insert(_MEMBERSHIPS)
        .from_select(_MEMBERSHIP_COLUMNS, chosen)
        .returning(_MEMBERSHIPS.c.user_id)
        .add_cte(new_user)
    )


_LOCK_COMPANY = (
    select(Company.__table__.c.id).where(Company.__table__.c.id == bindparam("company_id")).with_for_update()
)


# PostgreSQL, first try: the user row and a survivor locked without waiting for anyone (the survivor
# ``FOR KEY SHARE``, which only a DELETE or a change of its email conflicts with), so concurrent deletes
# in one company run side by side. A survivor kept locked until commit cannot go meanwhile, so the
# company keeps a user whatever else commits; a locking read sees the latest rows, not the snapshot.
_DELETE_USER_UNCONTENDED = delete(_USERS).where(
    _USERS.c.id.in_(_USER_IN_COMPANY.with_for_update(skip_locked=True)),
    _ANOTHER_USER.limit(1).with_for_update(read=True, key_share=True, skip_locked=True).exists(),
)


# Second try, under the company row lock: wait for the rows the first try skipped.
_DELETE_USER_WAITING = delete(_USERS).where(
    *_SAME_COMPANY, _ANOTHER_USER.limit(1).with_for_update(read=True, key_share=True).exists()
)


_FIRST_TRY = "scim_host_delete"


def _delete_with_row_locks(params: dict[str, int]) -> bool:
    """Delete the user unless it is its company's last; ``False`` when it is, or is gone.

    A company row lock taken by every delete would make the company's deletes queue one behind
    another (an IdP deprovisions many users of one company at once). So the first try waits for
    nothing: it skips rows other transactions hold. Only when it deletes nothing (the last user, or
    the rows it needs are busy) does a second try lock the company, which orders such tries, and
    wait. The first try runs in a savepoint whose rollback frees what it locked: a try that waits for
    the company lock while holding a row another one waits for would deadlock.
    """
    db.session.execute(text(f"SAVEPOINT {_FIRST_TRY}"))
    if db.session.execute(_DELETE_USER_UNCONTENDED, params).rowcount == 1:
        return True  # the savepoint ends with the transaction: no RELEASE round trip
    db.session.execute(text(f"ROLLBACK TO SAVEPOINT {_FIRST_TRY}"))
    db.session.execute(_LOCK_COMPANY, params)
    return db.session.execute(_DELETE_USER_WAITING, params).rowcount == 1
