"""The activity page's queries: one page of a company's audit records, the resources they name, and the
records per day. Each is one statement on the ``scim_audit`` indexes, bounded by ``LIMIT`` or by the days
it covers; nothing is counted or filtered in Python.

Pages are keyset-paged on (``created_at``, ``id``) descending, the order of
``ix_scim_audit_tenant_created_id``: a page starts strictly after the last record of the one before, so
records with the same time are neither repeated nor skipped, whatever is written meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import String

from scim_plugin.state import ScimState
from scim_plugin.storage.models import AuditRecord, ScimGroup, ScimUser

_AUDIT = AuditRecord.__table__.c


@dataclass(frozen=True)
class ActivityFilter:
    """What the page shows; ``None`` is "any". ``status`` is a code (``409``) or a class (``4`` for 4xx);
    ``since`` is inclusive, ``until`` exclusive (the day after the page's "to" date)."""

    kind: str | None = None
    status: int | None = None
    status_class: int | None = None
    resource_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Position:
    """Where a page ends: the last record's time and id."""

    created_at: datetime
    id: int


def page(
    state: ScimState, tenant_id: str, wanted: ActivityFilter, *, after: Position | None, limit: int
) -> tuple[list[AuditRecord], Position | None]:
    """Up to ``limit`` records newest first, from after ``after``; and where the next page starts (None:
    this is the last page). One query: ``limit + 1`` rows tell whether there is more."""
    query = select(AuditRecord).where(AuditRecord.tenant_id == tenant_id, *_conditions(wanted))
    if after is not None:
        # The first condition bounds the index range; the second skips what the last page showed.
        query = query.where(
            AuditRecord.created_at <= after.created_at,
            or_(AuditRecord.created_at < after.created_at, AuditRecord.id < after.id),
        )
    rows = list(
        state.db.session.execute(
            query.order_by(AuditRecord.created_at.desc(), AuditRecord.id.desc()).limit(limit + 1)
        ).scalars()
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, Position(rows[-1].created_at, rows[-1].id)


def _conditions(wanted: ActivityFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.kind is not None:
        conditions.append(AuditRecord.kind == wanted.kind)
    if wanted.status is not None:
        conditions.append(AuditRecord.status == wanted.status)
    if wanted.status_class is not None:
        low = wanted.status_class * 100
        conditions.append(and_(AuditRecord.status >= low, AuditRecord.status < low + 100))
    if wanted.resource_type is not None:
        conditions.append(AuditRecord.resource_type == wanted.resource_type)
    if wanted.since is not None:
        conditions.append(AuditRecord.created_at >= wanted.since)
    if wanted.until is not None:
        conditions.append(AuditRecord.created_at < wanted.until)
    return conditions


@dataclass(frozen=True)
class ResourceName:
    """What a record's resource is now: its name, and the host user behind a user (None: deleted)."""

    name: str
    host_user_id: str | None = None


def resource_names(
    state: ScimState, tenant_id: str, records: Iterable[AuditRecord]
) -> dict[tuple[str, str], ResourceName]:
    """The users' userName and the groups' displayName of a page's records, by (type, id): one query per
    resource type on the page, whatever its length. A resource missing from the answer was deleted."""
    wanted: dict[str, set[str]] = {"User": set(), "Group": set()}
    for record in records:
        if record.resource_id and record.resource_type in wanted:
            wanted[record.resource_type].add(record.resource_id)
    names: dict[tuple[str, str], ResourceName] = {}
    session = state.db.session
    if wanted["User"]:
        for row in session.execute(
            select(ScimUser.id, ScimUser.user_name, ScimUser.host_user_id).where(
                ScimUser.tenant_id == tenant_id, ScimUser.id.in_(sorted(wanted["User"]))
            )
        ):
            names["User", row.id] = ResourceName(row.user_name, row.host_user_id)
    if wanted["Group"]:
        for row in session.execute(
            select(ScimGroup.id, ScimGroup.display_name).where(
                ScimGroup.tenant_id == tenant_id, ScimGroup.id.in_(sorted(wanted["Group"]))
            )
        ):
            names["Group", row.id] = ResourceName(row.display_name)
    return names


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp column, as ``YYYY-MM-DD`` (a ``date`` on MariaDB/MySQL)."""

    type = String()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    # Stored as UTC text (``UtcDateTime`` converts on the way in).
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    # timestamptz: the session's time zone must not move a record to another day.
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: Any, **kw: Any) -> str:
    # MariaDB and MySQL keep DATETIME as written, which is UTC.
    return f"DATE({compiler.process(element.clauses, **kw)})"


@dataclass(frozen=True)
class DayCount:
    day: date
    requests: int
    refusals: int


def per_day(state: ScimState, tenant_id: str, *, first: date, days: int) -> list[DayCount]:
    """Recorded SCIM requests and refusals per UTC day from ``first``, one entry per day (zeros
    included): one GROUP BY on the company's (created_at) index range."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    day = utc_day(_AUDIT.created_at)
    rows = state.db.session.execute(
        select(
            day.label("day"),
            func.count().label("requests"),
            func.sum(case((_AUDIT.kind == "refusal", 1), else_=0)).label("refusals"),
        )
        .where(
            _AUDIT.tenant_id == tenant_id,
            _AUDIT.kind != "admin",
            _AUDIT.created_at >= start,
            _AUDIT.created_at < start + timedelta(days=days),
        )
        .group_by(day)
    ).all()
    found = {str(row.day)[:10]: (int(row.requests), int(row.refusals or 0)) for row in rows}
    counts = []
    for offset in range(days):
        moment = first + timedelta(days=offset)
        requests, refusals = found.get(moment.isoformat(), (0, 0))
        counts.append(DayCount(moment, requests, refusals))
    return counts
