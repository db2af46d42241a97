"""The settings page's status panel: per provisioning method, when that IdP last called, what it
manages and its last refusals, so an admin can tell "connected and working" from "misconfigured".

Read from the audit trail (writes and refusals are always recorded, each naming the tenant's method) and
from the current token's last use (written at most once per ``SCIM_TOKEN_LAST_USED_INTERVAL``, so reads
count too). A handful of indexed queries, each bounded by ``LIMIT``; nothing is counted in Python.
A refusal older than a method's last :data:`SCANNED_RECORDS` records is no longer shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from scim_plugin.access.methods import METHODS
from scim_plugin.state import ScimState
from scim_plugin.storage.models import AuditRecord, ScimGroup, ScimUser, Token

RECENT_REFUSALS = 5
#: How many of a method's latest audit records the panel reads.
SCANNED_RECORDS = 1000

#: The audit trail's reasons, in an admin's words.
REASONS = {
    "missing X-Request-Origin": "The request had no X-Request-Origin header (the Custom method requires it).",
    "wrong X-Request-Origin": "X-Request-Origin did not match the service origin.",
    "SCIM provisioning disabled for tenant": "Provisioning is disabled for this company.",
    "stored IP allowlist invalid": "The saved IP allowlist could not be read: save it again.",
}


def explain(reason: str | None) -> str:
    """A refusal's reason as the admin reads it; unknown reasons are shown as recorded."""
    if not reason:
        return ""
    test = reason.startswith("connection test: ")
    core = reason.removeprefix("connection test: ")
    if core.startswith("client IP "):
        text = f"The caller's address ({core.split()[2]}) is not in the IP allowlist."
    elif core.startswith("token "):
        text = f"The token was refused ({core}): a reset or a change of method revokes the earlier token."
    else:
        text = REASONS.get(core, core)
    return f"Test connection: {text}" if test else text


@dataclass(frozen=True)
class Refusal:
    at: datetime
    client_ip: str | None
    request: str
    reason: str


@dataclass
class MethodStatus:
    method: str
    active: bool
    last_call: datetime | None = None
    users: int = 0
    groups: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``working``, ``failing`` (the last thing heard is a refusal), ``waiting`` or ``inactive``."""
        if not self.active:
            return "inactive"
        if self.refusals and (self.last_call is None or self.refusals[0].at >= self.last_call):
            return "failing"
        return "working" if self.last_call else "waiting"


def method_statuses(state: ScimState, tenant_id: str, active_method: str | None) -> dict[str, MethodStatus]:
    session = state.db.session
    statuses = {name: MethodStatus(name, name == active_method) for name in METHODS}
    audit = AuditRecord.__table__.c
    for name, status in statuses.items():
        # The method's latest records, on ix_scim_audit_tenant_method_created: a bounded range scan, however
        # long the trail, then the last success and the last refusals among them.
        latest = (
            select(
                audit.id,
                audit.created_at,
                audit.client_ip,
                audit.method,
                audit.path,
                audit.status,
                audit.reason,
            )
            .where(audit.tenant_id == tenant_id, audit.provisioning_method == name)
            .order_by(audit.created_at.desc())
            .limit(SCANNED_RECORDS)
            .subquery()
        )
        status.last_call = session.execute(
            select(func.max(latest.c.created_at)).where(latest.c.status < 400)
        ).scalar()
        status.refusals = [
            Refusal(row.created_at, row.client_ip, f"{row.method} {row.path}", explain(row.reason))
            for row in session.execute(
                select(latest)
                .where(latest.c.status.in_((401, 403)))
                .order_by(latest.c.created_at.desc(), latest.c.id.desc())
                .limit(RECENT_REFUSALS)
            )
        ]
    active = statuses.get(active_method or "")
    if active is not None:
        used = session.execute(
            select(func.max(Token.last_used_at)).where(
                Token.tenant_id == tenant_id, Token.status.in_(("active", "grace"))
            )
        ).scalar()
        if used is not None and (active.last_call is None or used > active.last_call):
            active.last_call = used
        # One bridge per company: the active method manages every SCIM user and group of it.
        active.users = session.execute(
            select(func.count()).select_from(ScimUser).where(ScimUser.tenant_id == tenant_id)
        ).scalar_one()
        active.groups = session.execute(
            select(func.count()).select_from(ScimGroup).where(ScimGroup.tenant_id == tenant_id)
        ).scalar_one()
    return statuses
