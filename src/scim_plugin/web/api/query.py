"""Reading SCIM requests: JSON bodies and list/search parameters (RFC 7644 §3.4.2, §3.4.3)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flask
from flask import Request

from scim_plugin.config import ScimConfig
from scim_plugin.core import errors
from scim_plugin.core.filters import parse_filter
from scim_plugin.state import get_state
from scim_plugin.storage.paging import CursorCodec, CursorPage, Segment, cursor_list, query_scope
from scim_plugin.storage.user_store import ListQuery
from scim_plugin.web.api.discovery import LIST_RESPONSE

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
_LAST_START = 2**62


def json_body(request: Request) -> Any:
    """The parsed JSON body; SCIM and plain JSON media types (any charset) are accepted."""
    mimetype = request.mimetype or ""
    if mimetype and "json" not in mimetype:
        raise errors.InvalidSyntax(
            f"Unsupported Content-Type {mimetype!r}: send application/scim+json or application/json."
        )
    raw = request.get_data(cache=True)
    if request.content_length is None:
        # Chunked: a Content-Length over the limit was refused before reading; this body was read
        # up to one byte past it (see authenticate_request).
        limit, too_large = flask.g.get("scim_body_limit", (None, ""))
        if limit is not None and len(raw) > limit:
            raise errors.PayloadTooLarge(too_large)
    if not raw.strip():
        raise errors.InvalidSyntax("The request body is empty; a JSON object is required.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.InvalidSyntax(f"The request body is not valid JSON: {exc}.") from None


def _integer(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise errors.InvalidValue(f"{name} must be an integer.")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise errors.InvalidValue(f"{name} must be an integer, got {value!r}.") from None


def _names(name: str, value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise errors.InvalidValue(f"{name} must be a comma-separated string or a list of strings.")


def list_query(
    params: Mapping[str, Any], config: ScimConfig
) -> tuple[ListQuery, list[str] | None, list[str] | None]:
    """A ListQuery plus the ``attributes``/``excludedAttributes`` projection, from query args or a body.

    Parameter names are matched case-insensitively, as some clients send ``StartIndex``.
    """
    lowered = {str(key).lower(): value for key, value in params.items()}
    filter_text = lowered.get("filter")
    node = None
    if filter_text not in (None, ""):
        if not isinstance(filter_text, str):
            raise errors.InvalidFilter("filter must be a string.")
        node = parse_filter(
            filter_text, max_length=config.max_filter_length, max_depth=config.max_filter_depth
        )
    start = _integer("startIndex", lowered.get("startindex"))
    count = _integer("count", lowered.get("count"))
    if count is None:
        count = config.default_page_size
    cursor = _cursor(lowered)
    if cursor is not None:
        if start is not None:
            raise errors.InvalidValue("Send either startIndex (index paging) or cursor (RFC 9865), not both.")
        if not 1 <= count <= config.max_results:
            raise errors.InvalidCount(f"count must be from 1 to {config.max_results} with a cursor.")
    elif count > config.max_results:
        raise errors.TooMany(f"count may not exceed {config.max_results}.")
    sort_by = lowered.get("sortby") or None
    if sort_by is not None and not isinstance(sort_by, str):
        raise errors.InvalidValue("sortBy must be a string.")
    order = lowered.get("sortorder") or "ascending"
    if not isinstance(order, str) or order.lower() not in ("ascending", "descending"):
        raise errors.InvalidValue("sortOrder must be 'ascending' or 'descending'.")
    query = ListQuery(
        filter=node,
        # Past any possible row count, and still inside the databases' 64-bit OFFSET: an empty page.
        start_index=min(max(start or 1, 1), _LAST_START),
        count=max(count, 0),
        sort_by=sort_by,
        descending=order.lower() == "descending",
        cursor=cursor,
        filter_text=filter_text if node is not None else None,
    )
    return (
        query,
        _names("attributes", lowered.get("attributes")),
        _names("excludedAttributes", lowered.get("excludedattributes")),
    )


def _cursor(lowered: Mapping[str, Any]) -> str | None:
    """The ``cursor`` parameter: absent (index paging), empty (first page) or a cursor string."""
    if "cursor" not in lowered:
        return None
    value = lowered["cursor"]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise errors.InvalidCursor("cursor must be a string.")
    return value.strip()


def search_body(request: Request) -> dict[str, Any]:
    body = json_body(request)
    if not isinstance(body, dict):
        raise errors.InvalidSyntax("A SearchRequest must be a JSON object.")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or SEARCH_REQUEST not in schemas):
        raise errors.InvalidValue(f"schemas must contain {SEARCH_REQUEST}.")
    return {k: v for k, v in body.items() if k != "schemas"}


PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch_operations(request: Request) -> Any:
    """The raw ``Operations`` of a PatchOp body (validated by the PATCH engine itself)."""
    body = json_body(request)
    if not isinstance(body, dict):
        raise errors.InvalidSyntax("A PATCH body must be a JSON object.")
    schemas = body.get("schemas")
    if schemas is not None and (
        not isinstance(schemas, list)
        or not any(isinstance(s, str) and s.lower() == PATCH_OP.lower() for s in schemas)
    ):
        raise errors.InvalidValue(f"schemas must contain {PATCH_OP}.")
    operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if operations is None:
        raise errors.InvalidSyntax("A PATCH body needs an Operations list.")
    return operations


def projection(request: Request, config: ScimConfig) -> tuple[list[str] | None, list[str] | None]:
    """``attributes`` and ``excludedAttributes`` from the query string of a single-resource request."""
    if not request.args:
        return None, None  # most requests: no list-query parsing for a query string that is not there
    _, attributes, excluded = list_query(
        {k: v for k, v in request.args.items() if k.lower() in ("attributes", "excludedattributes")}, config
    )
    return attributes, excluded


def refuse_search_path(resource_id: str) -> None:
    """``/<type>/.search`` only answers POST: any other method is a 405, not an unknown resource."""
    if resource_id == ".search":
        raise errors.MethodNotAllowed(
            f"Method {flask.request.method} is not allowed on {flask.request.path}.",
            headers={"Allow": "POST"},
        )


def cursor_page(segments: Sequence[Segment], query: ListQuery, endpoint: str) -> CursorPage:
    """The RFC 9865 page ``query.cursor`` asks for; cursors are bound to tenant, endpoint and query."""
    state = get_state()
    sort = f"{(query.sort_by or '').strip().lower()}|{'desc' if query.descending else 'asc'}"
    scope = query_scope(flask.g.scim_context.tenant_id, endpoint, query.filter_text, sort, query.count)
    codec = CursorCodec(state.config.cursor_timeout)
    return cursor_list(state.db.session, segments, codec, scope, query.cursor or "", query.count)


def list_body(
    resources: list[dict[str, Any]], query: ListQuery, total: int, page: CursorPage | None = None
) -> dict[str, Any]:
    """A ListResponse: ``startIndex`` for index paging, ``nextCursor``/``previousCursor`` for cursors."""
    body: dict[str, Any] = {"schemas": [LIST_RESPONSE], "totalResults": total, "itemsPerPage": len(resources)}
    if page is None:
        body["startIndex"] = query.start_index
    else:
        if page.next_cursor is not None:
            body["nextCursor"] = page.next_cursor
        if page.previous_cursor is not None:
            body["previousCursor"] = page.previous_cursor
    body["Resources"] = resources
    return body


def patch_reply(etag_value: str, resource: Callable[[], flask.Response], status: int) -> flask.Response:
    """A PATCH's answer: ``200`` with the resource, or ``204`` when ``status`` (the resource type's
    ``SCIM_*PATCH_RESPONSE``) says so and the client named no ``attributes`` to see (RFC 7644 §3.5.2)."""
    attributes, _ = projection(flask.request, get_state().config)
    if status == 204 and attributes is None:
        return flask.Response(status=204, headers={"ETag": etag_value})
    return resource()
