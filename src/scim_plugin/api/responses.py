"""Building SCIM HTTP responses (``application/scim+json``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from ..errors import ScimError

SCIM_MEDIA_TYPE = "application/scim+json"


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = Response(payload, status=status, mimetype=SCIM_MEDIA_TYPE)
    response.charset = "utf-8"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(error: ScimError) -> Response:
    return scim_response(error.to_dict(), error.status, error.headers)
