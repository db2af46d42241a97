"""Replace the built-in token service (``scim.tokens``) with another one.

Enable with::

    SCIM_BLOCKED_PLUGINS = ["scim.tokens"]
    SCIM_PLUGINS = ["examples.host_app.scim_seam", "hooks.recipes.replace_token_service"]

This stand-in keeps tokens in memory, per application, keyed by the SHA-256 of the token (the plain token
is never kept), so tokens do not survive a restart and are not shared between processes; a real
replacement would call a vault or the host's own credential store the same way. Because the built-in
``scim_tokens`` table is no longer written, the settings page shows no "current token" hint.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flask import current_app

from scim_plugin import hookimpl
from scim_plugin.seam import IssuedCredential, TokenIdentity, TokenRejected

PREFIX = "memtok_"
EXTENSION_KEY = "scim_memory_tokens"


@dataclass
class Entry:
    tenant_id: str
    token_id: str
    revoked: bool = False


def _store() -> dict[str, Entry]:
    """The app's tokens, keyed by digest (one dict per app, never a module global)."""
    return current_app.extensions.setdefault(EXTENSION_KEY, {})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@hookimpl
def scim_issue_token(tenant_id: str, issued_by: str | None) -> IssuedCredential:
    scim_revoke_tokens(tenant_id)  # one token per tenant: issuing replaces
    token = PREFIX + secrets.token_urlsafe(32)
    token_id = secrets.token_hex(8)
    _store()[_digest(token)] = Entry(tenant_id=tenant_id, token_id=token_id)
    return IssuedCredential(token=token, token_id=token_id, hint=token[-4:])


@hookimpl
def scim_verify_token(token: str) -> TokenIdentity | None:
    if not token.startswith(PREFIX):
        return None  # not ours: another implementation may know it
    entry = _store().get(_digest(token))
    if entry is None:
        raise TokenRejected("memory token unknown")
    if entry.revoked:
        raise TokenRejected("memory token revoked")
    return TokenIdentity(tenant_id=entry.tenant_id, token_id=entry.token_id)


@hookimpl
def scim_revoke_tokens(tenant_id: str) -> int:
    revoked = 0
    for entry in _store().values():
        if entry.tenant_id == tenant_id and not entry.revoked:
            entry.revoked = True
            revoked += 1
    return revoked
