"""Built-in SCIM token service: issue, verify and revoke tokens stored as verifiers.

One indexed lookup by ``token_id`` per request, after the token's signature has been checked without
touching the database. The last-used time and address of an accepted request (``scim_token_used``) are
written at most once per ``SCIM_TOKEN_LAST_USED_INTERVAL`` per token and process, so reads never turn into
writes.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import request
from sqlalchemy import bindparam, select, update

from scim_plugin.access.auth import is_connection_test
from scim_plugin.access.tokens import TokenInvalid, issue_token, parse_token, verify_secret
from scim_plugin.markers import hookimpl
from scim_plugin.seam import IssuedCredential, TokenIdentity, TokenRejected
from scim_plugin.state import get_state, signing_keys
from scim_plugin.storage.models import SNAPSHOT_COLUMNS, TenantSettings, TenantSnapshot, Token, utcnow


@hookimpl
def scim_issue_token(tenant_id: str, issued_by: str | None) -> IssuedCredential:
    state = get_state()
    session = state.db.session
    now = utcnow()
    grace = state.config.token_rotation_grace
    # Retire the previous tokens first: the partial unique index allows one active token per tenant.
    # With a grace period only the token being replaced keeps working for a while; a token still in
    # the grace period of an earlier reset ends now.
    session.execute(
        update(Token)
        .where(Token.tenant_id == tenant_id, Token.status.in_(("grace",) if grace else ("active", "grace")))
        .values(status="revoked", revoked_at=now, expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if grace:
        session.execute(
            update(Token)
            .where(Token.tenant_id == tenant_id, Token.status == "active")
            .values(status="grace", expires_at=now + timedelta(seconds=grace))
            .execution_options(synchronize_session=False)
        )
    issued = issue_token(signing_keys())
    session.add(
        Token(
            tenant_id=tenant_id,
            token_id=issued.token_id,
            verifier=issued.verifier,
            hint=issued.hint,
            status="active",
            created_at=now,
            created_by=issued_by,
        )
    )
    session.flush()
    return IssuedCredential(token=issued.token, token_id=issued.token_id, hint=issued.hint)


# The token's row and, in the same round trip, its tenant's settings (handed on as a snapshot, so
# authentication reads nothing more). Built once, on the tables: constructing the statement per request,
# or running it through the ORM, costs more than running it.
_TOKENS = Token.__table__
_TOKEN_AND_TENANT = (
    select(
        _TOKENS.c.id,
        _TOKENS.c.tenant_id,
        _TOKENS.c.verifier,
        _TOKENS.c.status,
        _TOKENS.c.expires_at,
        *(column.label(f"tenant_{column.key}") for column in SNAPSHOT_COLUMNS),
    )
    .outerjoin(TenantSettings.__table__, TenantSettings.__table__.c.tenant_id == _TOKENS.c.tenant_id)
    .where(_TOKENS.c.token_id == bindparam("token_id"))
)


@hookimpl
def scim_verify_token(token: str) -> TokenIdentity:
    state = get_state()
    try:
        presented = parse_token(token, signing_keys())
    except TokenInvalid as exc:
        raise TokenRejected(f"token {exc.reason}") from None
    row = state.db.session.execute(_TOKEN_AND_TENANT, {"token_id": presented.token_id}).one_or_none()
    if row is None:
        raise TokenRejected("token unknown")
    if not verify_secret(presented.secret, row.verifier):
        raise TokenRejected("token secret mismatch")
    now = utcnow()
    # The secret verified: the token is this tenant's, so its refusal belongs on the tenant's trail.
    owner = {"tenant_id": row.tenant_id, "provisioning_method": row.tenant_provisioning_method}
    if row.status == "revoked":
        raise TokenRejected("token revoked", **owner)
    if row.status == "grace" and (row.expires_at is None or row.expires_at <= now):
        raise TokenRejected("token replaced (grace period over)", **owner)
    # The use is recorded in ``scim_token_used``, once the origin and address checks passed too.
    settings = TenantSnapshot.of(row, "tenant_") if row.tenant_tenant_id is not None else None
    return TokenIdentity(tenant_id=row.tenant_id, token_id=presented.token_id, settings=settings)


@hookimpl
def scim_revoke_tokens(tenant_id: str) -> int:
    result = get_state().db.session.execute(
        update(Token)
        .where(Token.tenant_id == tenant_id, Token.status.in_(("active", "grace")))
        .values(status="revoked", revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@hookimpl
def scim_token_used(token_id: str, address: str | None) -> None:
    """Write last-used time and address, at most once per interval per token in this process.

    Only accepted requests get here: a refused one must not start the interval, or the accepted calls
    right after it would never be recorded.
    """
    state = get_state()
    if is_connection_test(request):  # the settings page calling, not the identity provider
        return
    interval = state.config.token_last_used_interval
    clock = time.monotonic()
    last = state.last_used_written.get(token_id)
    if last is not None and clock - last < interval:
        return
    state.last_used_written[token_id] = clock
    state.db.session.execute(
        update(Token)
        .where(Token.token_id == token_id)
        .values(last_used_at=utcnow(), last_used_ip=address)
        .execution_options(synchronize_session=False)
    )
