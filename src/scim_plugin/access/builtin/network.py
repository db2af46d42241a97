"""Built-in client-address resolution and IP allowlist check."""

from __future__ import annotations

from flask import Request

from scim_plugin.ip import IpAllowlist, resolve_client_ip
from scim_plugin.markers import hookimpl
from scim_plugin.state import get_state


@hookimpl
def scim_client_ip(request: Request, trusted_proxies: IpAllowlist) -> str | None:
    # Forwarding headers are only believed when the socket peer is a proxy the operator trusts.
    return resolve_client_ip(
        request.remote_addr,
        request.headers,
        trusted_proxies,
        header_names=get_state().config.client_ip_headers,
    )


@hookimpl
def scim_ip_allowed(tenant_id: str, address: str | None, allowlist: IpAllowlist) -> bool:
    if allowlist.is_empty:
        return True
    return address is not None and allowlist.allows(address)
