"""List ordering and cursor pagination (RFC 9865).

Every list is ordered by an optional ``sortBy`` key, then ``created_at``, then ``id``: a total order, so
index pages are stable and a cursor can name a position in it. A cursor is an itsdangerous-signed
(keyed from ``SECRET_KEY``, timed) record of

* the *scope*: a digest of the tenant, the endpoint and the query's filter, sort and count, so a cursor
  replayed on another query or by another tenant is refused (``invalidCursor``);
* the *position*: the key values of the row a page ended (or began) on, and which resource type of a
  multi-type search it belongs to. The next page is ``WHERE (keys) > (position) ORDER BY keys LIMIT n``:
  a keyset seek on the ``(tenant_id, created_at, id)`` index that costs the same on the first page and
  on the last one of a million rows, and that neither skips nor repeats rows when others are inserted
  or deleted between pages;
* the total counted on the first page (see :func:`cursor_list`).

Ascending keys put NULLs last and descending keys NULLs first, everywhere in the plugin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, bindparam, false, func, or_, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from scim_plugin.core import errors
from scim_plugin.state import signing_keys
from scim_plugin.storage.models import MYSQL_DIALECTS

_SALT = "scim-plugin.cursor"


@dataclass(frozen=True)
class SortKey:
    """One key of a list's order. ``nullable=False`` lets a run of keys compare as a row value."""

    expr: Any
    descending: bool = False
    nullable: bool = True

    def flipped(self) -> SortKey:
        return SortKey(self.expr, not self.descending, self.nullable)

    def order_by(self) -> Any:
        if not self.nullable:
            # No NULLS clause: SQLite walks an index only for its default NULL placement.
            return self.expr.desc() if self.descending else self.expr.asc()
        return NullsOutside(self.expr, self.descending)


class NullsOutside(ColumnElement[Any]):
    """``expr ASC NULLS LAST`` or ``expr DESC NULLS FIRST``: NULLs after every value, either way read.
    MariaDB and MySQL have no NULLS clause (they sort NULL as the smallest value): ``expr IS NULL`` goes
    first there."""

    inherit_cache = True
    _traverse_internals = [
        ("expr", InternalTraversal.dp_clauseelement),
        ("descending", InternalTraversal.dp_boolean),
    ]

    def __init__(self, expr: Any, descending: bool) -> None:
        self.expr = expr
        self.descending = descending


@compiles(NullsOutside)
def _nulls_clause(element: NullsOutside, compiler: Any, **kw: Any) -> str:
    expr = element.expr
    return compiler.process(
        expr.desc().nulls_first() if element.descending else expr.asc().nulls_last(), **kw
    )


@compiles(NullsOutside, "mysql")
@compiles(NullsOutside, "mariadb")
def _nulls_flag_first(element: NullsOutside, compiler: Any, **kw: Any) -> str:
    direction = "DESC" if element.descending else "ASC"
    flag = compiler.process(element.expr.is_(None), **kw)
    return f"{flag} {direction}, {compiler.process(element.expr, **kw)} {direction}"


def list_keys(sort_column: Any, descending: bool, created: Any, ident: Any) -> list[SortKey]:
    """The total order of a list: ``sortBy`` (if any), then creation time, then id."""
    keys = [SortKey(sort_column, descending)] if sort_column is not None else []
    return [*keys, SortKey(created, nullable=False), SortKey(ident, nullable=False)]


def order_by(keys: Sequence[SortKey]) -> list[Any]:
    return [key.order_by() for key in keys]


def _bind(key: SortKey, value: Any) -> Any:
    return bindparam(None, value, type_=key.expr.type)


def _after_one(key: SortKey, value: Any) -> Any:
    """Rows that come strictly after ``value`` in ``key``'s order."""
    if key.descending:
        return key.expr.is_not(None) if value is None else key.expr < _bind(key, value)
    if value is None:
        return false()
    after = key.expr > _bind(key, value)
    return or_(after, key.expr.is_(None)) if key.nullable else after


def _equal(key: SortKey, value: Any) -> Any:
    return key.expr.is_(None) if value is None else key.expr == _bind(key, value)


def after(keys: Sequence[SortKey], values: Sequence[Any], *, inclusive: bool = False) -> Any:
    """Rows after the position ``values`` in the order ``keys`` (lexicographic).

    A trailing run of non-null keys in one direction becomes a row-value comparison, which both
    PostgreSQL and SQLite answer with a range scan on the ``(tenant_id, created_at, id)`` index.
    """
    clauses = []
    equal: list[Any] = []
    for index, (key, value) in enumerate(zip(keys, values, strict=True)):
        tail = keys[index:]
        if len(tail) > 1 and all(not k.nullable and k.descending == key.descending for k in tail):
            left = tuple_(*(k.expr for k in tail))
            right = tuple_(*(_bind(k, v) for k, v in zip(tail, values[index:], strict=True)))
            if key.descending:
                clauses.append(and_(*equal, left <= right if inclusive else left < right))
            else:
                clauses.append(and_(*equal, left >= right if inclusive else left > right))
            return or_(*clauses)
        clauses.append(and_(*equal, _after_one(key, value)))
        equal.append(_equal(key, value))
    if inclusive:
        clauses.append(and_(*equal))
    return or_(*clauses)


# -- cursors -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a page begins or ends: the resource type's segment and the key values of a row."""

    segment: int
    values: tuple[Any, ...]
    backwards: bool = False
    inclusive: bool = False


def _dump(value: Any) -> Any:
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def _load(value: Any) -> Any:
    if isinstance(value, dict):
        return datetime.fromisoformat(value["t"])
    return value


def query_scope(tenant_id: str, endpoint: str, filter_text: str | None, sort: str, count: int) -> str:
    """A digest of what a cursor is bound to (RFC 9865: the same query, only the cursor changes)."""
    raw = json.dumps([tenant_id, endpoint, (filter_text or "").strip(), sort, count])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


class CursorCodec:
    """Signs and reads cursors; keys are ``SECRET_KEY`` then ``SECRET_KEY_FALLBACKS``."""

    def __init__(self, timeout: int) -> None:
        self.timeout = timeout
        # itsdangerous signs with the last key and accepts any; ours come newest first.
        self._serializer = URLSafeTimedSerializer(list(reversed(signing_keys())), salt=_SALT)

    def issue(self, scope: str, position: Position, total: int | None) -> str:
        payload = {
            "s": scope,
            "g": position.segment,
            "v": [_dump(v) for v in position.values],
            "b": int(position.backwards),
            "i": int(position.inclusive),
            "n": total,
        }
        return str(self._serializer.dumps(payload))

    def read(self, cursor: str, scope: str) -> tuple[Position, int | None]:
        try:
            payload = self._serializer.loads(cursor, max_age=self.timeout)
        except SignatureExpired:
            raise errors.ExpiredCursor(
                f"The cursor has expired: request pages within {self.timeout} seconds of each other, "
                "or start again with an empty cursor."
            ) from None
        except BadData:
            raise errors.InvalidCursor(
                "The cursor is not one this service issued: send an empty cursor for the first page, then "
                "the nextCursor or previousCursor of a response."
            ) from None
        if not isinstance(payload, dict) or payload.get("s") != scope:
            raise errors.InvalidCursor(
                "The cursor belongs to another query: repeat the filter, sortBy, sortOrder and count of the "
                "request that returned it, changing only the cursor."
            )
        position = Position(
            segment=int(payload["g"]),
            values=tuple(_load(v) for v in payload["v"]),
            backwards=bool(payload["b"]),
            inclusive=bool(payload["i"]),
        )
        total = payload.get("n")
        return position, total if isinstance(total, int) else None


# -- pages -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One resource type of a list: its model, its WHERE clause and its order.

    ``columns``: select these plain columns (rows with attribute access) instead of ORM objects, which
    cost a third of a page of 100 to build.
    """

    model: Any
    condition: Any
    keys: Sequence[SortKey]
    columns: tuple[Any, ...] = ()

    def select(self, *extra: Any) -> Any:
        return select(*(self.columns or (self.model,)), *extra)

    def rows(self, session: Session, statement: Any) -> Any:
        """Run one of this segment's reads. Plain columns skip the ORM's row processing (a sixth of a
        page of 100): they run on the session's connection, after anything pending is flushed."""
        if not self.columns:
            return session.execute(statement)
        if session.new or session.dirty or session.deleted:
            session.flush()
        return session.connection(bind_arguments={"mapper": self.model}).execute(statement)

    def split(self, row: Any) -> tuple[Any, tuple[Any, ...]]:
        """(the listed item, the key values selected after it)."""
        width = len(self.columns) if self.columns else 1
        return (row if self.columns else row[0]), tuple(row[width:])


@dataclass(frozen=True)
class CursorPage:
    items: list[tuple[int, Any]]  # (segment, row) in list order
    total: int
    next_cursor: str | None
    previous_cursor: str | None


def _seek(
    session: Session, segment: Segment, start: Position | None, backwards: bool, limit: int
) -> list[tuple[Any, tuple[Any, ...]]]:
    """Up to ``limit`` rows from ``start`` on (nearest first), with their key values."""
    keys = [key.flipped() for key in segment.keys] if backwards else list(segment.keys)
    condition = segment.condition
    if start is not None:
        condition = and_(condition, after(keys, start.values, inclusive=start.inclusive))
    statement = segment.select(*(key.expr for key in segment.keys)).where(condition)
    statement = statement.order_by(*order_by(keys)).limit(limit)
    return [segment.split(row) for row in segment.rows(session, statement).all()]


def cursor_list(
    session: Session,
    segments: Sequence[Segment],
    codec: CursorCodec,
    scope: str,
    cursor: str,
    count: int,
) -> CursorPage:
    """One cursor page over ``segments`` (listed in order) and the cursors around it.

    ``totalResults`` is counted on the first page and carried in the cursors (RFC 9865 §2 allows an
    estimate): counting a million rows on every page would cost more than the page itself.
    """
    position, total = codec.read(cursor, scope) if cursor else (None, None)
    backwards = position is not None and position.backwards
    found: list[tuple[int, Any, tuple[Any, ...]]] = []
    first = position.segment if position is not None else 0
    order = range(first, -1, -1) if backwards else range(first, len(segments))
    for index in order:
        start = position if position is not None and index == first else None
        for row, values in _seek(session, segments[index], start, backwards, count + 1 - len(found)):
            found.append((index, row, values))
        if len(found) > count:
            break
    more = len(found) > count
    found = found[:count]
    if backwards:
        found.reverse()
    if total is None:
        total = len(found) if position is None and not more else sum(_count(session, s) for s in segments)

    def at(item: tuple[int, Any, tuple[Any, ...]], back: bool) -> str:
        return codec.issue(scope, Position(item[0], item[2], back), total)

    def around(back: bool) -> str | None:
        # An empty page (its rows deleted meanwhile) turns around at the position it was asked for.
        assert position is not None
        return codec.issue(scope, Position(position.segment, position.values, back, inclusive=True), total)

    if backwards:
        previous = at(found[0], True) if more else None
        following = at(found[-1], False) if found else around(False)
    else:
        following = at(found[-1], False) if more else None
        previous = None if position is None else (at(found[0], True) if found else around(True))
    return CursorPage([(index, row) for index, row, _ in found], total, following, previous)


def _count(session: Session, segment: Segment) -> int:
    return session.execute(
        select(func.count()).select_from(segment.model).where(segment.condition)
    ).scalar_one()


def _slice(session: Session, segment: Segment, offset: int, limit: int) -> list[Any]:
    keys = order_by(segment.keys)
    dialect = session.get_bind(mapper=segment.model).dialect.name
    if offset and dialect in MYSQL_DIALECTS:
        # InnoDB reads each skipped row with its document (or sorts them all): page the primary keys on
        # the (tenant, order) index first, then read the page's rows only.
        # The page carries its sort keys, and the outer ORDER BY reads them there: ordered by the
        # documents' table, MariaDB sorted the joined rows, documents included, in a temporary table.
        [primary] = segment.model.__table__.primary_key.columns
        labels = [f"page_key_{i}" for i in range(len(segment.keys))]
        page = (
            select(
                primary.label("page_id"),
                *(k.expr.label(n) for k, n in zip(segment.keys, labels, strict=True)),
            )
            .where(segment.condition)
            .order_by(*keys)
            .offset(offset)
            .limit(limit)
            .subquery()
        )
        outer = [replace(k, expr=page.c[n]) for k, n in zip(segment.keys, labels, strict=True)]
        statement = segment.select().join(page, primary == page.c.page_id).order_by(*order_by(outer))
        rows = segment.rows(session, statement).all()
        return [segment.split(row)[0] for row in rows]
    statement = segment.select().where(segment.condition).order_by(*keys)
    rows = segment.rows(session, statement.offset(offset).limit(limit)).all()
    return [segment.split(row)[0] for row in rows]


def index_list(
    session: Session, segments: Sequence[Segment], offset: int, limit: int
) -> tuple[int, list[tuple[int, Any]]]:
    """An index page (RFC 7644 §3.4.2.4) over ``segments``: each is counted, then only its slice read.

    One segment is read first: a first page that is not full already tells the total (every IdP
    lookup by userName or externalId), so the COUNT, a round trip, runs only otherwise.
    """
    if len(segments) == 1:
        rows = _slice(session, segments[0], offset, limit) if limit > 0 else []
        total = len(rows) if offset == 0 and len(rows) < limit else _count(session, segments[0])
        return total, [(0, row) for row in rows]
    items: list[tuple[int, Any]] = []
    skipped = 0
    total = 0
    for index, segment in enumerate(segments):
        count = _count(session, segment)
        total += count
        wanted = limit - len(items)
        start = max(offset - skipped, 0)
        if wanted > 0 and start < count:
            items += [(index, row) for row in _slice(session, segment, start, wanted)]
        skipped += count
    return total, items
