"""``POST /Bulk`` (RFC 7644 §3.7): many operations in one request, each in its own transaction.

The whole BulkRequest is checked before anything runs (a malformed one is a ``400`` and writes nothing).
Then each operation runs the ordinary view (``users.create_user``, ``groups.patch_group``...) in an inner
request context made from the /Bulk request's environ with the operation's method, path, body and
``If-Match``. The inner context shares the /Bulk request's app context, hence its ``g`` (the
authenticated ``scim_context``) and its database session, and goes through the same ``handle_error``
and ``finish_request`` as a single request: the operation's own audit record and commit, its events
after that commit, a rollback of that operation alone when it fails. Operations are reordered only as
far as ``bulkId`` references need: one that references ``bulkId:x`` runs after the POST that defines
``x``.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from scim_plugin.access.audit import request_id
from scim_plugin.core import errors
from scim_plugin.state import get_state
from scim_plugin.web.api import finish_request, handle_error
from scim_plugin.web.api.bulk_request import (
    REFERENCE,
    Operation,
    _reference_error,
    _resource_id,
    parse_request,
    schedule,
)
from scim_plugin.web.api.discovery import base_url
from scim_plugin.web.api.query import json_body
from scim_plugin.web.api.responses import SCIM_MEDIA_TYPE, scim_response

BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ENDPOINT = "bulk"
# What an operation must not inherit from the /Bulk request's environ: its body, conditions and URL.
_NOT_INHERITED = frozenset(
    {
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTP_CONTENT_TYPE",
        "HTTP_CONTENT_LENGTH",
        "HTTP_CONTENT_ENCODING",
        "HTTP_TRANSFER_ENCODING",
        "wsgi.input_terminated",
        "REQUEST_URI",
        "RAW_URI",
        "werkzeug.request",
        "werkzeug.debug.preserve_context",
    }
)


@dataclass(frozen=True)
class Outcome:
    """What one operation did, as the BulkResponse reports it."""

    operation: Operation
    status: int
    resource_id: str | None = None
    location: str | None = None
    version: str | None = None
    error: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.status >= 400

    def to_scim(self) -> dict[str, Any]:
        body: dict[str, Any] = {"method": self.operation.method}
        if self.operation.bulk_id is not None:
            body["bulkId"] = self.operation.bulk_id
        if self.version:
            body["version"] = self.version
        if self.location:
            body["location"] = self.location
        body["status"] = str(self.status)
        if self.error is not None:
            body["response"] = self.error
        return body


def is_bulk_request() -> bool:
    """Is the current request routed to ``POST /Bulk`` (whatever the blueprint's registered name)?"""
    return (request.endpoint or "").rpartition(".")[2] == ENDPOINT


# -- reading the BulkRequest ------------------------------------------------------------------------


# -- ordering -------------------------------------------------------------------------------------------


# -- running ------------------------------------------------------------------------------------------


class BulkRun:
    """Runs the planned operations one by one and collects their outcomes."""

    def __init__(self, operations: list[Operation], fail_on_errors: int | None) -> None:
        self.operations = operations
        self.fail_on_errors = fail_on_errors
        self.defined = {op.bulk_id for op in operations if op.method == "POST" and op.bulk_id}
        self.done: dict[str, Outcome] = {}
        # The /Bulk request's own rate-limit hit (before_request) pays for its first operation.
        self.prepaid = 1
        self.budget = g.get("scim_budget")

    def run(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        failures = 0
        with _operation_globals() as fresh_globals:
            for op, cycle in schedule(self.operations):
                fresh_globals()
                outcome = self._one(op, cycle)
                outcomes.append(outcome)
                if op.bulk_id is not None:
                    self.done[op.bulk_id] = outcome
                failures += outcome.failed
                if outcome.status == 429 or (self.fail_on_errors and failures >= self.fail_on_errors):
                    break
        if self.budget is not None:
            g.scim_budget = self.budget  # the response's X-RateLimit-* headers
        return sorted(outcomes, key=lambda outcome: outcome.operation.index)

    def _one(self, op: Operation, cycle: list[str] | None) -> Outcome:
        problem = self._problem(op, cycle)
        path = op.path if problem else self._resolve_path(op.path)
        data = op.data if problem else self._resolve(op.data)
        with current_app.request_context(_environ(op, path, data)):
            # Each operation's data is held to what a single request may carry.
            request.max_content_length = get_state().config.max_body_bytes
            try:
                self._spend_budget()
                if problem is not None:
                    raise problem
                response = current_app.make_response(current_app.dispatch_request())
            except Exception as exc:
                response = handle_error(exc)
            response = finish_request(response)
            return _outcome(op, None if problem else path, response)

    def _problem(self, op: Operation, cycle: list[str] | None) -> errors.ScimError | None:
        """Why the operation cannot run: a bulkId it references is circular, unknown or failed."""
        if cycle is not None:
            chain = " -> ".join(REFERENCE + bulk_id for bulk_id in cycle)
            role = "is part of" if op.bulk_id in cycle else "depends on"
            return _reference_error(
                f"Circular bulkId references ({chain}) cannot be resolved; this operation {role} them. "
                "Create the resources first, then link them in a later operation."
            )
        for bulk_id in sorted(op.references):
            if bulk_id not in self.defined:
                return _reference_error(
                    f'"{REFERENCE}{bulk_id}" does not name a POST operation of this request.'
                )
            outcome = self.done.get(bulk_id)
            if outcome is None or outcome.failed or outcome.resource_id is None:
                return _reference_error(
                    f'"{REFERENCE}{bulk_id}" cannot be resolved: the operation that creates it failed.'
                )
        return None

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(REFERENCE):
            return self.done[value[len(REFERENCE) :]].resource_id
        if isinstance(value, dict):
            return {key: self._resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._resolve(item) for item in value]
        return value

    def _resolve_path(self, path: str) -> str:
        resource_id = _resource_id(path)
        if resource_id is None or not resource_id.startswith(REFERENCE):
            return path
        return f"{path.rsplit('/', 1)[0]}/{self._resolve(resource_id)}"

    def _spend_budget(self) -> None:
        """Each operation counts against the tenant's budget as a single request would."""
        if self.prepaid:
            self.prepaid -= 1
            return
        limiter = get_state().rate_limiter
        budget = limiter.hit(g.scim_context.tenant_id) if limiter is not None else None
        if budget is None:
            return
        self.budget = budget
        if not budget.allowed:
            raise errors.TooManyRequests(
                f"Too many SCIM requests for this company; retry in {budget.retry_after} s. "
                "The operations after this one were not processed."
            )


@contextmanager
def _operation_globals() -> Iterator[Callable[[], None]]:
    """Yields a function that gives the next operation ``g`` as authentication left it.

    ``g`` belongs to the app context, which the operations share with the /Bulk request: without
    this, one operation's error, resource id, events or host state would leak into the next, and
    ``finish_request`` would think the request finished after the first operation.
    """
    saved = dict(vars(g))

    def fresh_globals() -> None:
        vars(g).clear()
        vars(g).update(saved)
        g.scim_started = time.perf_counter()

    try:
        yield fresh_globals
    finally:
        vars(g).clear()
        vars(g).update(saved)


def _environ(op: Operation, path: str, data: dict[str, Any] | None) -> dict[str, Any]:
    """The /Bulk request's environ (client address, headers, host) with the operation's request line."""
    environ = {
        key: value
        for key, value in request.environ.items()
        if key not in _NOT_INHERITED and not key.startswith("HTTP_IF_")
    }
    # ASCII escapes keep lone surrogates (valid JSON) encodable; the view reports them as it would.
    body = b"" if data is None else json.dumps(data).encode("ascii")
    target = get_state().config.url_prefix + path
    environ.update(
        {
            "REQUEST_METHOD": op.method,
            "PATH_INFO": target.encode("utf-8").decode("latin-1"),  # WSGI strings are latin-1
            "QUERY_STRING": "",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
    )
    if data is not None:
        environ["CONTENT_TYPE"] = SCIM_MEDIA_TYPE
    if op.version is not None and op.method != "POST":
        environ["HTTP_IF_MATCH"] = op.version
    return environ


def _outcome(op: Operation, path: str | None, response: Response) -> Outcome:
    """The BulkResponse entry; ``path`` is the resolved path (``None`` when it could not be resolved)."""
    # RFC 7644 §3.7: every operation has a location, except a POST that failed.
    location = f"{base_url()}{path}" if path is not None and op.method != "POST" else None
    if response.status_code >= 400:
        return Outcome(op, response.status_code, location=location, error=response.get_json(silent=True))
    return Outcome(
        op,
        response.status_code,
        resource_id=g.get("scim_resource_id"),
        location=response.headers.get("Location") or location,
        version=response.headers.get("ETag"),
    )


# -- the endpoint ---------------------------------------------------------------------------------------


def bulk() -> Response:
    state = get_state()
    if state.config.bulk_max_operations == 0:
        raise errors.NotImplementedFeature("/Bulk is not supported by this server.")
    operations, fail_on_errors = parse_request(json_body(request), state.config)
    # What authentication wrote (the token's last use) is no operation's to roll back.
    state.db.session.commit()
    request_id()  # made now, so that every operation's audit record names this request
    outcomes = BulkRun(operations, fail_on_errors).run()
    return scim_response({"schemas": [BULK_RESPONSE], "Operations": [o.to_scim() for o in outcomes]})


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/Bulk", endpoint=ENDPOINT, view_func=bulk, methods=["POST"])
