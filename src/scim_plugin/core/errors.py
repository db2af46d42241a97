"""SCIM protocol errors (RFC 7644 §3.12).

Every failure a SCIM client can see is one of these exceptions. They carry their HTTP status and
``scimType`` and render the RFC 7644 error body; one error handler on the SCIM blueprint turns them
into responses, so no view formats an error itself.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """Base class: an HTTP status, an optional ``scimType`` keyword and a human-readable detail."""

    status: int = 400
    scim_type: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if scim_type is not None:
            self.scim_type = scim_type
        self.headers: dict[str, str] = dict(headers or {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class TooMany(ScimError):
    scim_type = "tooMany"


class InvalidCursor(ScimError):
    """RFC 9865 §2.1: a cursor this service did not issue, or one from another query."""

    scim_type = "invalidCursor"


class ExpiredCursor(ScimError):
    scim_type = "expiredCursor"


class InvalidCount(ScimError):
    """RFC 9865 §2.1: a cursor page's ``count`` outside 1..maxPageSize."""

    scim_type = "invalidCount"


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"


class Mutability(ScimError):
    scim_type = "mutability"


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidVersion(ScimError):
    scim_type = "invalidVers"


class Sensitive(ScimError):
    status = 403
    scim_type = "sensitive"


class Unauthorized(ScimError):
    status = 401


class Forbidden(ScimError):
    status = 403


class NotFound(ScimError):
    status = 404


class MethodNotAllowed(ScimError):
    status = 405


class Conflict(ScimError):
    status = 409


class PreconditionFailed(ScimError):
    status = 412


class PayloadTooLarge(ScimError):
    status = 413


class TooManyRequests(ScimError):
    status = 429


class InternalError(ScimError):
    status = 500


class NotImplementedFeature(ScimError):
    """An RFC feature this server does not offer (501)."""

    status = 501


class ServiceUnavailable(ScimError):
    status = 503


class HostRefused(ScimError):
    """The host application refused a provisioning change (e.g. deleting a company's last user).

    Raised by host-seam hook implementations; ``status`` defaults to 409 but a host may choose.
    """

    status = 409
