"""The settings page's "Test connection": the calls an identity provider's own test makes, against the
company's own endpoint, with the token the admin gives.

The calls are dispatched in-process through the whole WSGI application (authentication, rate limit, audit,
the API views), never over the network: a server behind a proxy often cannot reach its own public URL, and a
single-worker server would wait on itself. They carry ``CONNECTION_TEST_KEY``
(:mod:`scim_plugin.access.methods`) set to the admin's tenant, which no HTTP client can set: authentication
then refuses another company's token, skips the IP allowlist (the calls come from this server, not from the
IdP) and does not count them as a use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import current_app, request
from werkzeug.test import Client

from scim_plugin.access.methods import CONNECTION_TEST_KEY, ENTRA, OKTA, Method
from scim_plugin.state import get_state

__all__ = ["CheckResult", "run_connection_test"]


@dataclass(frozen=True)
class Call:
    description: str
    path: str
    headers: dict[str, str]
    #: What the IdP requires of the answer besides 200 and a ListResponse.
    expect_empty: bool


@dataclass(frozen=True)
class CheckResult:
    description: str
    request: str
    status: int
    ok: bool
    explanation: str


LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_ENTRA_AGENT = {"User-Agent": "Azure Active Directory SCIM Client"}
_OKTA_AGENT = {"User-Agent": "Okta SCIM Client 1.0.0", "Accept": "application/scim+json"}


def _eq(attribute: str, value: str) -> str:
    return quote(f'{attribute} eq "{value}"')


def _calls(method: Method) -> list[Call]:
    probe = str(uuid.uuid4())
    if method is ENTRA:
        # Entra's Test Connection queries the matching attribute for a random GUID, and a group likewise.
        return [
            Call(
                "Look up a random user by userName",
                f"/Users?filter={_eq('userName', probe)}",
                _ENTRA_AGENT,
                True,
            ),
            Call(
                "Look up a random group by displayName",
                f"/Groups?excludedAttributes=members&filter={_eq('displayName', probe)}",
                _ENTRA_AGENT,
                True,
            ),
        ]
    if method is OKTA:
        # Okta's Test API Credentials reads the first user; assigning a user starts with a userName lookup;
        # Push Groups reads the first group.
        return [
            Call("Read the first page of users", "/Users?startIndex=1&count=1", _OKTA_AGENT, False),
            Call(
                "Look up a user that does not exist",
                f"/Users?filter={_eq('userName', probe)}&startIndex=1&count=100",
                _OKTA_AGENT,
                True,
            ),
            Call("Read the first page of groups", "/Groups?startIndex=1&count=1", _OKTA_AGENT, False),
        ]
    return [
        Call("Read the first page of users", "/Users?startIndex=1&count=1", {}, False),
        Call("Look up a user that does not exist", f"/Users?filter={_eq('userName', probe)}", {}, True),
    ]


def _explain(status: int, body: Any, call: Call) -> tuple[bool, str]:
    if status == 401:
        # The custom method's origin is the saved one, so a refusal here is the token's.
        return False, "Refused: check the token you pasted here (a reset or a change of method revokes it)."
    if status == 429:
        return False, "Rate limited: the company's request budget is spent for now; try again shortly."
    if status != 200:
        detail = body.get("detail") if isinstance(body, dict) else None
        return False, f"Unexpected status {status}" + (f": {detail}" if detail else ".")
    if not isinstance(body, dict) or LIST_RESPONSE not in body.get("schemas", []):
        return False, "The answer is not a SCIM ListResponse."
    if not all(isinstance(body.get(key), int) for key in ("totalResults", "startIndex", "itemsPerPage")):
        return False, "totalResults, startIndex and itemsPerPage must be integers."
    if call.expect_empty and body["totalResults"] != 0:
        return False, "A random value matched a resource; the identity provider would link the wrong one."
    return True, f"OK: {body['totalResults']} result(s)."


def run_connection_test(
    tenant_id: str, method: Method, token: str, origin: str | None = None
) -> list[CheckResult]:
    """Make ``method``'s test calls with ``token`` (and, for ``custom``, ``origin``); one result per call."""
    state = get_state()
    client = Client(current_app.wsgi_app)
    base_url = request.url_root.rstrip("/") + state.config.url_prefix
    results = []
    for call in _calls(method):
        headers = {"Authorization": f"Bearer {token}", **call.headers}
        if method.requires_origin and origin:
            headers["X-Request-Origin"] = origin
        response = client.get(
            base_url + call.path,
            headers=headers,
            environ_overrides={CONNECTION_TEST_KEY: tenant_id, "REMOTE_ADDR": request.remote_addr or ""},
        )
        try:
            body = response.get_json(force=True, silent=True)
        finally:
            response.close()
        ok, explanation = _explain(response.status_code, body, call)
        results.append(
            CheckResult(call.description, f"GET {call.path}", response.status_code, ok, explanation)
        )
        if response.status_code == 401:
            break  # every further call would be refused the same way
    return results
