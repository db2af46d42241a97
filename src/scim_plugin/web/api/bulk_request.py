"""A /Bulk request read and ordered (RFC 7644 §3.7): its operations checked, then scheduled so that an
operation runs after those whose ``bulkId`` it references; a reference cycle is an error, not a hang.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scim_plugin.config import ScimConfig
from scim_plugin.core import errors

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


METHODS = ("POST", "PUT", "PATCH", "DELETE")


REFERENCE = "bulkId:"


_PATH = re.compile(r"/(Users|Groups)(?:/([^/?#]+))?")


@dataclass(frozen=True)
class Operation:
    """One checked entry of ``Operations``; ``index`` is its place in the request."""

    index: int
    method: str
    path: str
    bulk_id: str | None
    version: str | None
    data: dict[str, Any] | None
    references: frozenset[str]


def payload_too_large(config: ScimConfig) -> str:
    return f"The size of the bulk operation exceeds the maxPayloadSize ({config.bulk_max_payload_bytes})."


def parse_request(body: Any, config: ScimConfig) -> tuple[list[Operation], int | None]:
    """The operations and ``failOnErrors`` of a BulkRequest, or the error that refuses all of it."""
    if not isinstance(body, dict):
        raise errors.InvalidSyntax("A BulkRequest must be a JSON object.")
    fields = {str(key).lower(): value for key, value in body.items()}
    _check_schemas(fields.get("schemas"))
    raw = fields.get("operations")
    if raw is None:
        raise errors.InvalidSyntax("A BulkRequest needs an Operations list.")
    if not isinstance(raw, list) or not raw:
        raise errors.InvalidValue("Operations must be a non-empty list of operations.")
    if len(raw) > config.bulk_max_operations:
        raise errors.PayloadTooLarge(
            f"The number of operations exceeds the maxOperations ({config.bulk_max_operations})."
        )
    operations = [_operation(index, item) for index, item in enumerate(raw)]
    _check_unique(operations)
    return operations, _fail_on_errors(fields.get("failonerrors"))


def _check_schemas(schemas: Any) -> None:
    # Optional, as on the other endpoints; when sent it must name the BulkRequest.
    if schemas is not None and (
        not isinstance(schemas, list)
        or not any(isinstance(s, str) and s.lower() == BULK_REQUEST.lower() for s in schemas)
    ):
        raise errors.InvalidValue(f"schemas must contain {BULK_REQUEST}.")


def _fail_on_errors(value: Any) -> int | None:
    if value is None:
        return None
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses; so does a 5,000-digit one.
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) <= 4000:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "..."
        raise errors.InvalidValue(f"failOnErrors must be a positive integer, got {shown!r}.")
    return value


def _operation(index: int, item: Any) -> Operation:
    where = f"Operations[{index}]"
    if not isinstance(item, dict):
        raise errors.InvalidSyntax(f"{where} must be a JSON object.")
    fields = {str(key).lower(): value for key, value in item.items()}
    method = fields.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise errors.InvalidValue(f"{where}.method must be POST, PUT, PATCH or DELETE, got {method!r}.")
    method = method.upper()
    path = _path(where, method, fields.get("path"))
    bulk_id = _optional_text(where, "bulkId", fields.get("bulkid"))
    if method == "POST" and bulk_id is None:
        raise errors.InvalidValue(f"{where}: a POST operation needs a bulkId (RFC 7644 §3.7).")
    version = _optional_text(where, "version", fields.get("version"))
    data = None if method == "DELETE" else fields.get("data")
    if method != "DELETE" and not isinstance(data, dict):
        raise errors.InvalidValue(f"{where}.data must be a JSON object for {method}.")
    references = frozenset(_references(_resource_id(path))) | frozenset(_references(data))
    return Operation(index, method, path, bulk_id, version, data, references)


def _path(where: str, method: str, path: Any) -> str:
    match = _PATH.fullmatch(path) if isinstance(path, str) else None
    if match is None:
        raise errors.InvalidValue(
            f"{where}.path must be /Users, /Users/{{id}}, /Groups or /Groups/{{id}}, got {path!r}."
        )
    endpoint, resource_id = match.groups()
    if method == "POST" and resource_id is not None:
        raise errors.InvalidValue(
            f"{where}: POST creates a resource, so its path is /{endpoint}, not {path!r}."
        )
    if method != "POST" and resource_id is None:
        raise errors.InvalidValue(f"{where}: {method} needs a resource path such as /{endpoint}/{{id}}.")
    return path


def _optional_text(where: str, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise errors.InvalidValue(f"{where}.{name} must be a non-empty string, got {value!r}.")
    return value


def _check_unique(operations: list[Operation]) -> None:
    seen: dict[str, int] = {}
    for op in operations:
        if op.bulk_id is None:
            continue
        if op.bulk_id in seen:
            raise errors.InvalidValue(
                f'bulkId "{op.bulk_id}" is used by Operations[{seen[op.bulk_id]}] and '
                f"Operations[{op.index}]; bulkIds must be unique within a request."
            )
        seen[op.bulk_id] = op.index


def _resource_id(path: str) -> str | None:
    return path.split("/", 2)[2] if path.count("/") == 2 else None


def _references(value: Any) -> Iterator[str]:
    """The bulkIds that ``bulkId:<id>`` strings anywhere in ``value`` name."""
    if isinstance(value, str):
        if value.startswith(REFERENCE):
            yield value[len(REFERENCE) :]
    elif isinstance(value, dict):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def schedule(operations: list[Operation]) -> list[tuple[Operation, list[str] | None]]:
    """Request order, except that an operation comes after the POSTs whose bulkIds it references.

    Operations caught in a reference cycle, or waiting on one, come last, each with the cycle
    (the bulkIds around it) that stops it; the others with ``None``.
    """
    defines = {op.bulk_id: op.index for op in operations if op.method == "POST" and op.bulk_id}
    needs = {op.index: {defines[r] for r in op.references if r in defines} for op in operations}
    waiting = {index: len(deps) for index, deps in needs.items()}
    dependents: dict[int, list[int]] = {index: [] for index in needs}
    for index, deps in needs.items():
        for dep in deps:
            dependents[dep].append(index)
    # Kahn's algorithm, always taking the earliest ready operation, keeps the client's order otherwise.
    ready = [index for index, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for dependent in dependents[index]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, dependent)
    stuck = set(needs) - set(order)
    planned: list[tuple[Operation, list[str] | None]] = [(operations[i], None) for i in order]
    planned += [(operations[i], _cycle(operations, needs, stuck, i)) for i in sorted(stuck)]
    return planned


def _cycle(operations: list[Operation], needs: dict[int, set[int]], stuck: set[int], start: int) -> list[str]:
    """The bulkIds of the cycle ``start`` runs into (first one repeated at the end)."""
    # Every stuck operation waits on another stuck one, so following those dependencies ends in a loop.
    path, seen, node = [start], {start: 0}, start
    while True:
        node = min(needs[node] & stuck)
        if node in seen:
            return [str(operations[i].bulk_id) for i in [*path[seen[node] :], node]]
        seen[node] = len(path)
        path.append(node)


def _reference_error(detail: str) -> errors.ScimError:
    return errors.ScimError(detail, status=409, scim_type="invalidValue")
