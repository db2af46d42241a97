"""Built-in service-origin check (``X-Request-Origin`` against the tenant's service origin)."""

from __future__ import annotations

from scim_plugin.access.origin import origins_match
from scim_plugin.markers import hookimpl


@hookimpl
def scim_origin_allowed(tenant_id: str, presented: str | None, expected: str) -> bool:
    return origins_match(expected, presented)
