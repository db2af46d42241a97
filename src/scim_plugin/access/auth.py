"""Authentication of SCIM requests: bearer token, service origin and client address.

Which checks apply depends on the tenant's provisioning method (:mod:`~scim_plugin.access.methods`): the
service origin is checked for ``custom`` tenants only; Entra ID and Okta cannot send it, so for them the
header is ignored, whatever it says. The token and the IP allowlist are checked for every method.

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

from scim_plugin.access.methods import CONNECTION_TEST_KEY, method_named
from scim_plugin.access.tokens import parse_authorization_header
from scim_plugin.core.errors import Unauthorized
from scim_plugin.ip import IpAllowlist, parse_allowlist
from scim_plugin.seam import TokenRejected
from scim_plugin.state import ScimState
from scim_plugin.storage.models import SNAPSHOT_COLUMNS, TenantSettings, TenantSnapshot

log = logging.getLogger(__name__)

REFUSAL_DETAIL = (
    "Authentication failed: check the SCIM token, the X-Request-Origin header and the IP allowlist."
)
ORIGIN_HEADERS = ("X-Request-Origin", "X-Origin-Request")


class AuthRefused(Unauthorized):
    """A refused SCIM request: the public detail is always the same, ``reason`` is the real one."""

    def __init__(
        self,
        reason: str,
        *,
        tenant_id: str | None = None,
        token_id: str | None = None,
        provisioning_method: str | None = None,
    ) -> None:
        super().__init__(REFUSAL_DETAIL, headers={"WWW-Authenticate": 'Bearer realm="SCIM"'})
        self.reason = reason
        self.tenant_id = tenant_id
        self.token_id = token_id
        self.provisioning_method = provisioning_method


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


def connection_test_tenant(request: Request) -> str | None:
    """The tenant whose settings page is testing the connection with this request, if it is one."""
    value = request.environ.get(CONNECTION_TEST_KEY)
    return value if isinstance(value, str) else None


def is_connection_test(request: Request) -> bool:
    return connection_test_tenant(request) is not None


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
        raise AuthRefused(
            exc.reason, tenant_id=exc.tenant_id, provisioning_method=exc.provisioning_method
        ) from None
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
    if settings is None:
        raise AuthRefused("SCIM provisioning disabled for tenant", tenant_id=tenant_id, token_id=token_id)
    method = method_named(settings.provisioning_method)
    refused = {"tenant_id": tenant_id, "token_id": token_id, "provisioning_method": method.name}
    if not settings.enabled:
        raise AuthRefused("SCIM provisioning disabled for tenant", **refused)

    if method.requires_origin:
        presented = next((request.headers[h] for h in ORIGIN_HEADERS if h in request.headers), None)
        denied, opinion = _gate(
            state.hook.scim_origin_allowed,
            tenant_id=tenant_id,
            presented=presented,
            expected=settings.service_origin,
        )
        if denied or not opinion:
            reason = "missing X-Request-Origin" if presented is None else "wrong X-Request-Origin"
            raise AuthRefused(reason, **refused)

    try:
        allowlist = cached_allowlist(settings.ip_allowlist or "")
    except ValueError:
        raise AuthRefused("stored IP allowlist invalid", **refused) from None
    tested = connection_test_tenant(request)
    if tested is not None and tested != tenant_id:
        raise AuthRefused("connection test with another company's token", **refused)
    if tested is None:
        denied, _ = _gate(
            state.hook.scim_ip_allowed, tenant_id=tenant_id, address=address, allowlist=allowlist
        )
        if denied:
            raise AuthRefused(f"client IP {address} not allowed", **refused)
    # Only now is this a use of the token: a refusal above must not count as one.
    state.hook.scim_token_used(tenant_id=tenant_id, token_id=token_id, address=address)
    return ScimContext(tenant_id=tenant_id, token_id=token_id, settings=settings, client_ip=address)
