"""The audit trail: SCIM requests and the admins' actions on the settings page.

Writes, refusals and errors are recorded in the request's own transaction, so a write and its record
commit or roll back together. Successful reads are recorded only with ``SCIM_AUDIT_READS``, and never
with a database write on the read path: they go to an in-process buffer that a background thread
flushes in batches. Admin actions (:func:`record_admin_action`) are written in the transaction of the
change they record, with the admin who acted. Records never contain tokens or request bodies.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Request, Response, g, request
from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine

from scim_plugin.access.methods import CONNECTION_TEST_KEY
from scim_plugin.storage.models import AuditRecord, utcnow

if TYPE_CHECKING:
    from scim_plugin.access.auth import ScimContext
    from scim_plugin.core.errors import ScimError
    from scim_plugin.seam import AdminIdentity
    from scim_plugin.state import ScimState

log = logging.getLogger(__name__)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_ONLY_POSTS = ("/.search",)
#: Statuses of a request refused before it reached a resource (the settings page's "refusals").
REFUSED = frozenset({401, 403})
#: What an admin can do on the settings page, as ``AuditRecord.action`` names it.
ADMIN_ACTIONS = (
    "token.generated",
    "token.reset",
    "provisioning.disabled",
    "settings.changed",
    "policy.changed",
    "method.switched",
    "mapping.saved",
    "mapping.removed",
)
#: The path segment that names a resource type.
RESOURCE_TYPES = {"Users": "User", "Groups": "Group"}


class AuditBuffer:
    """Batches read records: flushed by a background thread when full or old, and at exit."""

    def __init__(self, max_items: int = 200, max_age: float = 2.0) -> None:
        self.max_items = max_items
        self.max_age = max_age
        self._items: list[dict[str, Any]] = []
        self._oldest = 0.0
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        atexit.register(self.flush)

    def add(self, engine: Engine, fields: dict[str, Any]) -> None:
        with self._lock:
            self._engine = engine
            if not self._items:
                self._oldest = time.monotonic()
            self._items.append(fields)
            due = len(self._items) >= self.max_items or time.monotonic() - self._oldest >= self.max_age
        if due:
            threading.Thread(target=self.flush, name="scim-audit-flush", daemon=True).start()

    def flush(self) -> int:
        with self._lock:
            items, self._items = self._items, []
            engine = self._engine
        if not items or engine is None:
            return 0
        try:
            with engine.begin() as connection:
                connection.execute(insert(AuditRecord), items)
        except Exception:
            log.exception("could not write %d buffered SCIM audit records", len(items))
            return 0
        return len(items)


def request_id() -> str:
    """This request's id in the audit trail, made on first use (most reads are never recorded)."""
    return g.setdefault("scim_request_id", uuid.uuid4().hex)


def is_read(request: Request) -> bool:
    return request.method not in WRITE_METHODS or request.path.endswith(READ_ONLY_POSTS)


def kind_of(request: Request, status: int) -> str:
    """A request's ``AuditRecord.kind``: ``refusal``, ``write`` or ``read`` (admin actions are ``admin``)."""
    if status in REFUSED:
        return "refusal"
    return "read" if is_read(request) else "write"


def resource_type_of(path: str) -> str | None:
    """``User`` or ``Group`` when the path is under /Users or /Groups (a /Bulk operation's own path)."""
    for segment in path.split("/"):
        if segment in RESOURCE_TYPES:
            return RESOURCE_TYPES[segment]
    return None


# Built once: building it per request costs more than running it. ``inline``: no ``RETURNING id``, which
# nothing reads and which costs a result set per write.
_INSERT = insert(AuditRecord.__table__).inline()


def record_request(
    state: ScimState,
    request: Request,
    response: Response,
    *,
    context: ScimContext | None,
    error: ScimError | None,
) -> dict[str, Any] | None:
    """Record the request as the rules above say; returns the record's fields, or ``None``."""
    failed = error is not None or response.status_code >= 400
    read = is_read(request) and not failed
    if read and not state.config.audit_reads:
        return None
    started = getattr(g, "scim_started", None)
    reason: Any = getattr(error, "reason", None) or (error.detail if error is not None else None)
    if error is None and not failed:
        reason = getattr(g, "scim_audit_note", None)  # what a successful write did beyond the obvious
    if reason and CONNECTION_TEST_KEY in request.environ:
        reason = f"connection test: {reason}"
    fields: dict[str, Any] = {
        "created_at": utcnow(),
        "tenant_id": context.tenant_id if context else getattr(error, "tenant_id", None),
        "token_id": context.token_id if context else getattr(error, "token_id", None),
        "client_ip": getattr(g, "scim_client_ip", None) or request.remote_addr,
        "method": request.method,
        "path": request.path[:512],
        "status": response.status_code,
        "resource_id": getattr(g, "scim_resource_id", None),
        "reason": str(reason)[:255] if reason else None,
        "duration_ms": int((time.perf_counter() - started) * 1000) if started is not None else None,
        "request_id": request_id(),
        "provisioning_method": context.settings.provisioning_method
        if context
        else getattr(error, "provisioning_method", None),
        "kind": kind_of(request, response.status_code),
        "resource_type": resource_type_of(request.path),
    }
    if read:
        state.audit_buffer.add(state.db.engine, fields)
    else:
        # A plain INSERT in the write's transaction: the ORM's unit of work costs more than the row.
        state.db.session.execute(_INSERT, fields)
    return fields


def record_admin_action(
    state: ScimState,
    identity: AdminIdentity,
    action: str,
    *,
    details: dict[str, Any] | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    token_id: str | None = None,
) -> None:
    """Record what the signed-in admin did, in the session's transaction: the change's own commit writes
    it, and its rollback drops it. ``details`` hold old and new values, never a token or a secret."""
    if action not in ADMIN_ACTIONS:
        raise ValueError(f"unknown admin action {action!r}")
    state.db.session.execute(
        _INSERT,
        {
            "created_at": utcnow(),
            "tenant_id": identity.tenant_id,
            "token_id": token_id,
            "client_ip": request.remote_addr,
            "method": request.method,
            "path": request.path[:512],
            "status": 200,
            "resource_id": resource_id,
            "resource_type": resource_type,
            "reason": None,
            "duration_ms": None,
            "request_id": request_id(),
            "provisioning_method": None,
            "kind": "admin",
            "actor_id": identity.user_id[:64],
            "actor": identity.display[:255],
            "action": action,
            "details": details,
        },
    )


def prune(state: ScimState) -> int:
    """Delete records older than ``SCIM_AUDIT_RETENTION_DAYS``; returns how many."""
    cutoff = utcnow() - timedelta(days=state.config.audit_retention_days)
    result = state.db.session.execute(delete(AuditRecord).where(AuditRecord.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
