"""The activity page's words: what a record was, in an admin's terms.

Requests are named by method and path; refusals say why (the status panel's wording,
:func:`~scim_plugin.web.method_status.explain`); admin actions say what changed, from what to what.
"""

from __future__ import annotations

from typing import Any

from scim_plugin.access.methods import METHODS
from scim_plugin.storage.models import AuditRecord
from scim_plugin.web.method_status import explain

#: The page's names for the record kinds (also the kind filter's choices).
KIND_LABELS = {
    "write": "API write",
    "refusal": "Refusal",
    "admin": "Admin action",
    "read": "API read",
}

ACTION_LABELS = {
    "token.generated": "Generated a SCIM token",
    "token.reset": "Reset the SCIM token (the previous one stops working)",
    "provisioning.disabled": "Disabled SCIM provisioning and revoked the token",
    "settings.changed": "Changed the settings",
    "policy.changed": "Changed how existing dashboard users are treated",
    "method.switched": "Switched the provisioning method",
    "mapping.saved": "Saved a group mapping",
    "mapping.removed": "Removed a group mapping",
}

FIELD_LABELS = {
    "default_workspace_name": "Default workspace",
    "default_workspace_id": "Default workspace id",
    "service_origin": "Service origin",
    "ip_allowlist": "IP allowlist",
    "existing_users": "Existing users",
    "provisioning_method": "Provisioning method",
}

GRANT_LABELS = {
    "workspace": "workspace",
    "permissions": "permissions",
    "permission_set": "permission set",
    "role": "role",
    "company_permissions": "company permissions",
}


def summary(record: AuditRecord) -> str:
    """One line: what happened."""
    if record.kind == "admin":
        return ACTION_LABELS.get(record.action or "", record.action or "Admin action")
    return f"{record.method} {record.path}"


def why(record: AuditRecord) -> str:
    """A refusal's or a failure's reason in words; empty when there is none."""
    return explain(record.reason)


def changes(record: AuditRecord) -> list[str]:
    """An admin action's old and new values, one line each (empty for a request)."""
    details: dict[str, Any] = record.details or {}
    lines = [
        f"{FIELD_LABELS.get(name, name)}: {_value(name, change.get('old'))} \u2192 "
        f"{_value(name, change.get('new'))}"
        for name, change in (details.get("changes") or {}).items()
        if name != "default_workspace_id"  # the name says it (the id moves with it)
    ]
    if record.action in ("mapping.saved", "mapping.removed"):
        lines.append(f"Before: {_grants(details.get('old'))}")
        lines.append(f"After: {_grants(details.get('new'))}")
    if "users" in details:
        lines.append(f"Dashboard users concerned: {details['users']}")
    if details.get("revoked_tokens"):
        lines.append(f"Tokens revoked: {details['revoked_tokens']}")
    if "hint" in details:
        lines.append(f"Token ending in \u2026{details['hint']}")
    return lines


def _value(name: str, value: Any) -> str:
    if value in (None, ""):
        return "(none)"
    if name == "provisioning_method" and value in METHODS:
        return METHODS[value].label
    return str(value)


def _grants(grants: dict[str, Any] | None) -> str:
    if not grants:
        return "not mapped (membership only)"
    parts = []
    for key, label in GRANT_LABELS.items():
        value = grants.get(key)
        if value:
            parts.append(f"{label} {', '.join(value) if isinstance(value, list | tuple) else value}")
    return "; ".join(parts) or "not mapped (membership only)"
