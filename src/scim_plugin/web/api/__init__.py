"""The SCIM API blueprint: request pipeline, error handling and routes.

Pipeline per request: size limit, on a SQLite file one write request at a time per process, then
authentication (``before_request``), the view (which only flushes), then ``after_request`` writes the
audit record and commits once, so a write and its audit record share one transaction. Every error,
ours or Werkzeug's, leaves as an RFC 7644 error body from :func:`handle_error`; nothing else formats
errors. ``POST /Bulk`` (``bulk.py``) runs each of its operations through the same view,
``handle_error`` and ``finish_request``: one transaction per operation.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from scim_plugin.access.audit import is_read, record_request
from scim_plugin.access.auth import AuthRefused, ScimContext, authenticate
from scim_plugin.access.tenants import emit
from scim_plugin.config import ScimConfig
from scim_plugin.core import errors
from scim_plugin.state import ScimState, get_state
from scim_plugin.web.api.responses import error_response

log = logging.getLogger(__name__)

_HTTP_TO_SCIM = {
    400: errors.InvalidSyntax,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.InvalidSyntax,
}


def create_api_blueprint(config: ScimConfig) -> Blueprint:
    bp = Blueprint("scim_api", __name__, url_prefix=config.url_prefix)
    prefix = config.url_prefix

    from scim_plugin.web.api import bulk, bulk_request, discovery, groups, users

    @bp.before_request
    def authenticate_request() -> None:
        g.scim_started = time.perf_counter()
        g.scim_context = None
        state = get_state()
        # /Bulk has its own limit (SCIM_BULK_MAX_PAYLOAD_BYTES), every other endpoint SCIM_MAX_BODY_BYTES.
        if bulk.is_bulk_request():
            limit = state.config.bulk_max_payload_bytes
            too_large = bulk_request.payload_too_large(state.config)
        else:
            limit = state.config.max_body_bytes
            too_large = f"Request body exceeds {limit} bytes."
        length = request.content_length
        if length is not None and length > limit:
            raise errors.PayloadTooLarge(too_large)
        # A body without Content-Length (chunked) is cut where reading passes the limit: one byte
        # further, so that json_body can tell a body over the limit from one of exactly the limit.
        request.max_content_length = limit if length is not None else limit + 1
        g.scim_body_limit = (limit, too_large)
        # Before authenticating, which may write (a token's last-used time): waiting after such a write,
        # a request would hold the write lock that the admitted one needs.
        if state.writer_queue is not None and not is_read(request) and state.writer_queue.admit_request():
            # Named with its request: /Bulk's operations share this ``g`` and end as requests too.
            g.scim_admitted = (state.writer_queue, request._get_current_object())  # type: ignore[attr-defined]
        g.scim_context = authenticate(state, request)
        if state.rate_limiter is not None:
            g.scim_budget = budget = state.rate_limiter.hit(g.scim_context.tenant_id)
            if budget is not None and not budget.allowed:
                raise errors.TooManyRequests("Too many SCIM requests for this company; retry later.")

    @bp.teardown_request
    def end_write(exc: BaseException | None) -> None:
        queue, admitted = g.get("scim_admitted", (None, None))
        if queue is not None and admitted is request._get_current_object():  # type: ignore[attr-defined]
            del g.scim_admitted
            queue.end_request()

    @bp.after_request
    def audit_and_commit(response: Response) -> Response:
        return finish_request(response)

    @bp.app_errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        # Unmatched URLs and methods under the SCIM prefix never belong to a blueprint, so this
        # handler is app-wide and hands everything outside the prefix back to the host.
        if not _under_prefix(prefix):
            return exc
        return handle_error(exc)

    bp.register_error_handler(Exception, handle_error)

    discovery.register(bp)
    users.register(bp)
    groups.register(bp)
    bulk.register(bp)

    @bp.route("/<path:unknown>", methods=list(METHODS))
    def unknown_endpoint(unknown: str) -> Response:
        # Werkzeug prefers this catch-all over a 405 for a known path with another method.
        allowed = _allowed_methods()
        if allowed:
            raise errors.MethodNotAllowed(
                f"Method {request.method} is not allowed on {request.path}.",
                headers={"Allow": ", ".join(allowed)},
            )
        raise errors.NotFound(f"No SCIM endpoint at /{unknown}.")

    return bp


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods() -> list[str]:
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if not endpoint.endswith(".unknown_endpoint"):
            allowed.append(method)
    return allowed


def _under_prefix(prefix: str) -> bool:
    return request.path == prefix or request.path.startswith(prefix + "/")


def handle_error(exc: Exception) -> Response:
    """The one place where exceptions become SCIM responses."""
    state = get_state()
    state.db.session.rollback()
    if isinstance(exc, AuthRefused) and _database_failure(exc):
        # The token could not be checked because the database failed: a 503 the IdP retries, not a
        # 401 (on which IdPs quarantine the provisioning job).
        log.error("database error while authenticating a SCIM request", exc_info=exc.__context__)
        error = errors.ServiceUnavailable("The directory database is unavailable; retry later.")
    elif isinstance(exc, errors.ScimError):
        error = exc
    elif isinstance(exc, HTTPException):
        cls = _HTTP_TO_SCIM.get(exc.code or 500, errors.ScimError)
        detail = exc.description or exc.name
        if exc.code == 405:
            detail = f"Method {request.method} is not allowed on {request.path}."
        error = cls(detail, status=exc.code)
    elif isinstance(exc, OperationalError | DBAPIError) and getattr(exc, "connection_invalidated", False):
        error = errors.ServiceUnavailable("The directory database is unavailable; retry later.")
    elif isinstance(exc, OperationalError):
        log.exception("database error in SCIM request")
        error = errors.ServiceUnavailable("The directory database is unavailable; retry later.")
    elif isinstance(exc, DataError) or _unpaired_surrogate(exc):
        # The client's value cannot be stored or compared (NUL byte, unpaired surrogate from a JSON
        # ``\ud800`` escape, a number out of range, a string longer than its column): its fault, a 400.
        log.info("SCIM request value rejected by the database: %s", type(exc).__name__)
        error = errors.InvalidValue(
            "A value in the request cannot be stored: it is too long or out of range, or it contains "
            "characters that are not allowed (NUL, unpaired surrogates)."
        )
    else:
        log.exception("unhandled error in SCIM request")
        error = errors.InternalError("Internal server error.")
    g.scim_error = error
    response = error_response(error)
    if error.status == 405:
        response.headers.setdefault("Allow", ", ".join(getattr(exc, "valid_methods", None) or []))
    if getattr(g, "scim_started", None) is None:
        # Raised before the blueprint's own hooks ran (unmatched URL): finish here.
        g.scim_started = time.perf_counter()
        return finish_request(response)
    return response


def _unpaired_surrogate(exc: BaseException) -> bool:
    """A string with a lone surrogate (valid in JSON, not in UTF-8) reached the database driver."""
    return isinstance(exc, UnicodeEncodeError) and "surrogate" in (exc.reason or "")


def _database_failure(exc: BaseException) -> bool:
    """Whether a database error caused ``exc`` (it may be hidden by ``raise ... from None``)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OperationalError | InterfaceError) or (
            isinstance(cause, DBAPIError) and cause.connection_invalidated
        ):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def finish_request(response: Response) -> Response:
    """Write the audit record (in the write's transaction) and commit once."""
    if getattr(g, "scim_finished", False):
        return response
    g.scim_finished = True
    state = get_state()
    error = getattr(g, "scim_error", None)
    context = getattr(g, "scim_context", None)
    try:
        audited = record_request(state, request, response, context=context, error=error)
        state.db.session.commit()
        committed = True
    except Exception as exc:
        committed, audited = False, None
        state.db.session.rollback()
        log.exception("could not commit SCIM request")
        if error is None and response.status_code < 400:
            failure = (
                errors.ServiceUnavailable("The directory database is unavailable; retry later.")
                if isinstance(exc, OperationalError)
                else errors.InternalError("Internal server error.")
            )
            failed = error_response(failure)
            _record_failure(state, failed, context, failure)
            return failed
    if committed and error is None:
        for name, tenant_id, data in g.pop("scim_events", []):
            emit(state, name, tenant_id, **data)
    if committed and audited is not None:
        name = "request.refused" if isinstance(error, AuthRefused) else "request.audited"
        emit(state, name, audited["tenant_id"], **audited)
    budget = getattr(g, "scim_budget", None)
    if budget is not None:
        response.headers.update(budget.headers())
    if isinstance(error, AuthRefused):
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="SCIM"')
    return response


def _record_failure(
    state: ScimState, response: Response, context: ScimContext | None, failure: errors.ScimError
) -> None:
    """Audit a write whose commit failed, in a new transaction (the pool replaces a dead connection)."""
    try:
        record_request(state, request, response, context=context, error=failure)
        state.db.session.commit()
    except Exception:
        state.db.session.rollback()
        log.exception("could not audit the failed SCIM request")
