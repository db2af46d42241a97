"""Authentication of SCIM requests: bearer token, service origin and client address.

Every refusal answers the same 401 so a caller cannot tell which check failed; the real reason is
kept on the exception for the audit trail. Gate hooks fail closed: an exception in any of them is a
refusal, never a pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import Request, g
from sqlalchemy import bindparam, select

from .errors import Unauthorized
from .extension import ScimState
from .ip import IpAllowlist, parse_allowlist
from .models import SNAPSHOT_COLUMNS, TenantSettings, TenantSnapshot
from .tokens import parse_authorization_header

log = logging.getLogger(__name__)

REFUSAL_DETAIL = (
    "Authentication failed: check the SCIM token, the X-Request-Origin header and the IP allowlist."
)
ORIGIN_HEADERS = ("X-Request-Origin", "X-Origin-Request")


class TokenRejected(Exception):
    """A token implementation recognised the token and refuses it; ``reason`` is for the audit trail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthRefused(Unauthorized):
    """A refused SCIM request: the public detail is always the same, ``reason`` is the real one."""

    def __init__(self, reason: str, *, tenant_id: str | None = None, token_id: str | None = None) -> None:
        super().__init__(REFUSAL_DETAIL, headers={"WWW-Authenticate": 'Bearer realm="SCIM"'})
        self.reason = reason
        self.tenant_id = tenant_id
        self.token_id = token_id


@dataclass(frozen=True)
class ScimContext:
    """Who is calling: the tenant the token belongs to and its settings (as read for this request)."""

    tenant_id: str
    token_id: str
    settings: TenantSnapshot
    client_ip: str | None


_TENANT = select(*SNAPSHOT_COLUMNS).where(TenantSettings.__table__.c.tenant_id == bindparam("tenant_id"))


@lru_cache(maxsize=1024)
def cached_allowlist(text: str) -> IpAllowlist:
    # Saved allowlists were validated on save; parsing once per distinct text keeps requests cheap.
    return parse_allowlist(text)


def client_ip(state: ScimState, request: Request) -> str | None:
    address = state.hook.scim_client_ip(request=request, trusted_proxies=state.config.trusted_proxies)
    return address or request.remote_addr


def _gate(results_of: Any, **kwargs: Any) -> tuple[bool, bool]:
    """Run a veto hook; returns (denied, any_opinion). An exception denies."""
    try:
        results = results_of(**kwargs)
    except Exception:
        log.exception("SCIM gate hook raised; refusing the request")
        return True, True
    return any(r is False for r in results), any(r is not None for r in results)


def authenticate(state: ScimState, request: Request) -> ScimContext:
    """Check the request's credentials or raise :class:`AuthRefused`."""
    address = client_ip(state, request)
    g.scim_client_ip = address
    token = parse_authorization_header(request.headers.get("Authorization"))
    if token is None:
        raise AuthRefused("missing bearer token")
    try:
        identity = state.hook.scim_verify_token(token=token)
    except TokenRejected as exc:
        raise AuthRefused(exc.reason) from None
    except Exception:
        log.exception("SCIM token verification raised; refusing the request")
        raise AuthRefused("token verification failed") from None
    if identity is None:
        raise AuthRefused("token not recognised")
    tenant_id, token_id = identity.tenant_id, identity.token_id

    settings = identity.settings
    if isinstance(settings, TenantSettings):
        settings = TenantSnapshot.of(settings)
    if not isinstance(settings, TenantSnapshot) or settings.tenant_id != tenant_id:
        found = state.db.session.execute(_TENANT, {"tenant_id": tenant_id}).first()
        settings = TenantSnapshot.of(found) if found is not None else None
    if settings is None or not settings.enabled:
        raise AuthRefused("SCIM provisioning disabled for tenant", tenant_id=tenant_id, token_id=token_id)

    presented = next((request.headers[h] for h in ORIGIN_HEADERS if h in request.headers), None)
    denied, opinion = _gate(
        state.hook.scim_origin_allowed,
        tenant_id=tenant_id,
        presented=presented,
        expected=settings.service_origin,
    )
    if denied or not opinion:
        reason = "missing X-Request-Origin" if presented is None else "wrong X-Request-Origin"
        raise AuthRefused(reason, tenant_id=tenant_id, token_id=token_id)

    try:
        allowlist = cached_allowlist(settings.ip_allowlist or "")
    except ValueError:
        raise AuthRefused("stored IP allowlist invalid", tenant_id=tenant_id, token_id=token_id) from None
    denied, _ = _gate(state.hook.scim_ip_allowed, tenant_id=tenant_id, address=address, allowlist=allowlist)
    if denied:
        raise AuthRefused(f"client IP {address} not allowed", tenant_id=tenant_id, token_id=token_id)
    return ScimContext(tenant_id=tenant_id, token_id=token_id, settings=settings, client_ip=address)
