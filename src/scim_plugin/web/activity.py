"""The activity page (``/settings/admin/scim/activity``): the company's whole audit trail for its admins.

Every record of the signed-in admin's company, newest first, :data:`PAGE_SIZE` at a time, with a picture
of the last :data:`CHART_DAYS` days above it. Filters (kind, status, resource type, from and to dates)
are query parameters, checked here: a bad one is named in a message and the page shows everything
instead, never an error page. The "older records" link carries an opaque cursor: the last record's time
and id, signed with the app's secret key and bound to the company, so a tampered cursor, or one copied
from another company's page, is refused with a message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response, current_app, make_response, render_template, request, url_for
from itsdangerous import BadData, URLSafeSerializer

from scim_plugin.seam import AdminIdentity
from scim_plugin.state import get_state
from scim_plugin.storage import activity
from scim_plugin.storage.models import AUDIT_KINDS, AuditRecord, utcnow
from scim_plugin.web import activity_text
from scim_plugin.web.activity_chart import draw
from scim_plugin.web.admin_guard import _admin

PAGE_SIZE = 50
CHART_DAYS = 30
RESOURCE_TYPES = ("User", "Group")
_CURSOR_SALT = "scim-activity-cursor"
#: The longest filter value looked at (anything longer is wrong anyway).
_MAX_VALUE = 64


def activity_page() -> Response:
    identity = _admin()
    state = get_state()
    wanted, problems = parse_filters(request.args)
    # The filters the page's links keep: all of them, or none when one was wrong (none was applied).
    query = {} if problems else _filter_query(request.args)
    after = None
    cursor = request.args.get("after")
    if cursor:
        after = read_cursor(cursor, identity.tenant_id)
        if after is None:
            problems.append(
                "That page link is not valid (changed, expired or from another company): "
                "showing the newest records."
            )
    records, next_position = activity.page(state, identity.tenant_id, wanted, after=after, limit=PAGE_SIZE)
    names = activity.resource_names(state, identity.tenant_id, records)
    today = utcnow().date()
    counts = activity.per_day(
        state, identity.tenant_id, first=today - timedelta(days=CHART_DAYS - 1), days=CHART_DAYS
    )
    context: dict[str, Any] = {
        "layout": state.config.admin_layout,
        "identity": identity,
        "rows": [_row(identity, record, names) for record in records],
        "chart": draw(counts),
        "problems": problems,
        "form": {key: (request.args.get(key) or "")[:_MAX_VALUE] for key in FILTER_KEYS},
        "kinds": activity_text.KIND_LABELS,
        "resource_types": RESOURCE_TYPES,
        "filtered": bool(query),
        "first_page": bool(after is None),
        "newest_url": url_for("scim_admin.activity_page", **query),
        "older_url": url_for(
            "scim_admin.activity_page", **query, after=make_cursor(next_position, identity.tenant_id)
        )
        if next_position is not None
        else None,
        "settings_url": url_for("scim_admin.settings_page"),
        "page_url": url_for("scim_admin.activity_page"),
        "page_size": PAGE_SIZE,
    }
    response = make_response(
        render_template("scim_plugin/activity.html", **context), 400 if problems else 200
    )
    return secure(response)


def secure(response: Response) -> Response:
    """The trail is never cached (framing and content headers: ``admin_answers.security_headers``, which
    the blueprint sends on every answer)."""
    response.headers["Cache-Control"] = "no-store, max-age=0"
    response.headers["Pragma"] = "no-cache"
    return response


# --- filters -------------------------------------------------------------------------------------------

FILTER_KEYS = ("kind", "status", "type", "from", "to")


def parse_filters(args: Any) -> tuple[activity.ActivityFilter, list[str]]:
    """The filters the query string asks for, and a message per bad one (which is then ignored)."""
    wanted = activity.ActivityFilter()
    problems: list[str] = []
    kind = (args.get("kind") or "").strip()
    if kind:
        if kind in AUDIT_KINDS:
            wanted = replace(wanted, kind=kind)
        else:
            problems.append("Kind: choose " + ", ".join(activity_text.KIND_LABELS.values()) + ".")
    status = (args.get("status") or "").strip().lower()
    if status:
        if len(status) == 3 and status[0] in "12345" and status[1:] == "xx":
            wanted = replace(wanted, status_class=int(status[0]))
        elif status.isdigit() and len(status) == 3 and 100 <= int(status) <= 599:
            wanted = replace(wanted, status=int(status))
        else:
            problems.append("Status: give an HTTP status such as 409, or a class such as 4xx.")
    resource_type = (args.get("type") or "").strip()
    if resource_type:
        if resource_type in RESOURCE_TYPES:
            wanted = replace(wanted, resource_type=resource_type)
        else:
            problems.append("Resource: choose User or Group.")
    since = _day(args.get("from"), "From", problems)
    until = _day(args.get("to"), "To", problems)
    if since is not None and until is not None and since > until:
        problems.append("From is after To: swap the dates.")
        since = until = None
    if since is not None:
        wanted = replace(wanted, since=datetime(since.year, since.month, since.day, tzinfo=UTC))
    if until is not None:
        end = datetime(until.year, until.month, until.day, tzinfo=UTC)
        # "To" is inclusive: up to the start of the next day (the last day of year 9999 has none).
        wanted = replace(wanted, until=end + timedelta(days=1) if until < date.max else None)
    if problems:
        return activity.ActivityFilter(), problems
    return wanted, problems


def _day(value: str | None, label: str, problems: list[str]) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{label}: give a date as YYYY-MM-DD.")
        return None


def _filter_query(args: Any) -> dict[str, str]:
    """The filters to keep in the page's links (only those given)."""
    return {key: args[key].strip() for key in FILTER_KEYS if (args.get(key) or "").strip()}


# --- cursor --------------------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=_CURSOR_SALT)


def make_cursor(position: activity.Position, tenant_id: str) -> str:
    return _serializer().dumps([tenant_id, position.created_at.isoformat(), position.id])


def read_cursor(cursor: str, tenant_id: str) -> activity.Position | None:
    """The position a cursor names, or None if it was not made by this app for this company."""
    if len(cursor) > 512:
        return None
    try:
        owner, moment, record_id = _serializer().loads(cursor)
        created_at = datetime.fromisoformat(moment)
    except (BadData, ValueError, TypeError):
        return None
    if owner != tenant_id or not isinstance(record_id, int) or created_at.tzinfo is None:
        return None
    return activity.Position(created_at, record_id)


# --- rows ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    record: AuditRecord
    kind: str
    summary: str
    why: str
    changes: list[str]
    resource: str | None  # what the record is about, in words
    resource_url: str | None
    deleted: bool


def _row(
    identity: AdminIdentity, record: AuditRecord, names: dict[tuple[str, str], activity.ResourceName]
) -> Row:
    resource, url, deleted = None, None, False
    if record.resource_id and record.resource_type:
        found = names.get((record.resource_type, record.resource_id))
        if found is None:
            resource = f"{record.resource_type} {record.resource_id}"
            deleted = True
            if record.kind == "admin" and (record.details or {}).get("group"):
                resource = f"Group \u201c{record.details['group']}\u201d"
        elif record.resource_type == "User":
            resource = found.name
            if found.host_user_id:
                url = get_state().hook.scim_host_user_url(
                    tenant_id=identity.tenant_id, host_user_id=found.host_user_id
                )
        else:
            resource = found.name
            url = url_for("scim_admin.settings_page", group=record.resource_id, _anchor="scim-groups")
    return Row(
        record=record,
        kind=activity_text.KIND_LABELS.get(record.kind, record.kind),
        summary=activity_text.summary(record),
        why=activity_text.why(record) if record.kind != "admin" else "",
        changes=activity_text.changes(record),
        resource=resource,
        resource_url=url,
        deleted=deleted,
    )
