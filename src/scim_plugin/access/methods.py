"""Provisioning methods: how a company's identity provider proves itself (Braze's Okta, Entra ID and
Custom tabs).

Every method sends the company's bearer token and may be held to an IP allowlist. Only ``custom`` also
sends ``X-Request-Origin`` matching the service origin: Microsoft Entra ID's provisioning configuration has
just a Tenant URL and a Secret Token, and Okta's SCIM connection authenticates with one ``Authorization``
header (or Basic auth, or OAuth), so neither can send a custom header. For those methods the origin header is
neither required nor trusted. One method per company (Braze: "only one SCIM bridge per company").
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONNECTION_TEST_KEY", "CUSTOM", "ENTRA", "METHODS", "OKTA", "Method", "method_named"]


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    #: Whether requests must carry ``X-Request-Origin`` matching the service origin.
    requires_origin: bool


CUSTOM = Method("custom", "Custom", requires_origin=True)
ENTRA = Method("entra", "Microsoft Entra ID", requires_origin=False)
OKTA = Method("okta", "Okta", requires_origin=False)
#: In the order the settings page shows their tabs (Braze's order).
METHODS: dict[str, Method] = {m.name: m for m in (OKTA, ENTRA, CUSTOM)}


def method_named(name: str | None) -> Method:
    """The method stored under ``name``; an unknown or missing name is ``custom``, the strictest."""
    return METHODS.get(name or "", CUSTOM)


#: WSGI environ key set only by the settings page's connection test (to the admin's tenant id), which
#: dispatches the IdP's calls in-process: HTTP clients only reach ``HTTP_*`` keys. Such calls must use
#: that tenant's token; they run from this server, not from the IdP, so the IP allowlist is not applied to
#: them, and they do not count as a use of the token.
CONNECTION_TEST_KEY = "scim_plugin.web.connection_test"
