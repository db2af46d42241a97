"""Building SCIM HTTP responses (``application/scim+json``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from scim_plugin.core.errors import ScimError

SCIM_MEDIA_TYPE = "application/scim+json"


class RawJSON(str):
    """A resource already serialised (a stored document): ``scim_response`` puts it into a list's
    ``Resources`` as it is."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def with_raw_attribute(resource: dict[str, Any], name: str, raw_value: str) -> RawJSON:
    """``resource`` serialised with one more attribute whose value is already JSON (``raw_value``); for a
    value too large to build as Python objects first (a group's members)."""
    head = _dumps(resource)
    return RawJSON(f"{head[:-1]}{',' if len(head) > 2 else ''}{_dumps(name)}:{raw_value}}}")


def _payload(body: Any) -> str:
    if isinstance(body, RawJSON):
        return body
    resources = body.get("Resources") if isinstance(body, dict) else None
    if not resources or not any(isinstance(item, RawJSON) for item in resources):
        return _dumps(body)
    head = _dumps({key: value for key, value in body.items() if key != "Resources"})
    items = ",".join(item if isinstance(item, RawJSON) else _dumps(item) for item in resources)
    return f'{head[:-1]}{"," if len(head) > 2 else ""}"Resources":[{items}]}}'


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    payload = _payload(body)
    response = Response(payload, status=status, mimetype=SCIM_MEDIA_TYPE)
    response.charset = "utf-8"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(error: ScimError) -> Response:
    return scim_response(error.to_dict(), error.status, error.headers)
