"""The audit trail of SCIM requests.

Writes, refusals and errors are recorded in the request's own transaction; successful reads only when
``SCIM_AUDIT_READS`` is on. Records never contain tokens or request bodies.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import Request, Response, g

from .models import AuditRecord

if TYPE_CHECKING:
    from .auth import ScimContext
    from .errors import ScimError
    from .extension import ScimState

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def record_request(
    state: ScimState,
    request: Request,
    response: Response,
    *,
    context: ScimContext | None,
    error: ScimError | None,
) -> AuditRecord | None:
    is_write = request.method in WRITE_METHODS
    if not (is_write or error is not None or response.status_code >= 400 or state.config.audit_reads):
        return None
    started = getattr(g, "scim_started", None)
    duration = int((time.perf_counter() - started) * 1000) if started is not None else None
    reason: Any = getattr(error, "reason", None) or (error.detail if error is not None else None)
    record = AuditRecord(
        tenant_id=context.tenant_id if context else getattr(error, "tenant_id", None),
        token_id=context.token_id if context else getattr(error, "token_id", None),
        client_ip=getattr(g, "scim_client_ip", None) or request.remote_addr,
        method=request.method,
        path=request.path[:512],
        status=response.status_code,
        resource_id=getattr(g, "scim_resource_id", None),
        reason=str(reason)[:255] if reason else None,
        duration_ms=duration,
    )
    state.db.session.add(record)
    return record
