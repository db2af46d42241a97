"""What the settings page's actions write to the audit trail, with the admin who acted.

Each function is called by a view just before it commits its change, so the record and the change commit
(or roll back) together. Settings are compared field by field: a record names only what changed, with its
old and new value. Nothing here is ever a token or a secret (a token is named by its public id).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from scim_plugin.access import tenants
from scim_plugin.access.audit import record_admin_action
from scim_plugin.seam import AdminIdentity, IssuedCredential
from scim_plugin.state import get_state
from scim_plugin.storage.group_mapping import GroupGrants, GroupInfo
from scim_plugin.storage.models import TenantSettings

#: The settings a "settings.changed" record compares (the method and the policy have records of their own).
SETTINGS_FIELDS = ("default_workspace_name", "default_workspace_id", "service_origin", "ip_allowlist")


def snapshot(settings: TenantSettings | None) -> dict[str, Any]:
    """The settings as they are before a save (taken first: the save changes the same row)."""
    names = (*SETTINGS_FIELDS, "existing_users", "provisioning_method")
    return {name: getattr(settings, name) for name in names} if settings is not None else {}


def settings_saved(identity: AdminIdentity, before: dict[str, Any], saved: tenants.SavedSettings) -> None:
    """Record the changed settings, a changed existing-users policy and a switched method, one each."""
    after = snapshot(saved.settings)
    changes = {
        name: {"old": before.get(name), "new": after[name]}
        for name in SETTINGS_FIELDS
        if before.get(name) != after[name]
    }
    if changes:
        _record(identity, "settings.changed", {"changes": changes})
    policy = {"old": before.get("existing_users"), "new": after["existing_users"]}
    if (policy["old"] or "manual") != policy["new"]:
        _record(
            identity, "policy.changed", {"changes": {"existing_users": policy}, "users": saved.policy_users}
        )
    if saved.previous_method is not None:
        method = {"old": saved.previous_method, "new": after["provisioning_method"]}
        _record(
            identity,
            "method.switched",
            {"changes": {"provisioning_method": method}, "revoked_tokens": saved.revoked_tokens},
        )


def token_issued(identity: AdminIdentity, credential: IssuedCredential, *, reset: bool = False) -> None:
    """A new token: its public id and hint only."""
    action = "token.reset" if reset else "token.generated"
    _record(identity, action, {"hint": credential.hint}, token_id=credential.token_id)


def disabled(identity: AdminIdentity, revoked: int) -> None:
    _record(identity, "provisioning.disabled", {"revoked_tokens": revoked})


def mapping_saved(identity: AdminIdentity, before: GroupGrants, info: GroupInfo) -> None:
    _record(
        identity,
        "mapping.saved",
        {"group": info.display_name, "old": _grants(before), "new": _grants(info.grants)},
        group_id=info.id,
    )


def mapping_removed(identity: AdminIdentity, group: GroupInfo) -> None:
    _record(
        identity,
        "mapping.removed",
        {"group": group.display_name, "old": _grants(group.grants), "new": None},
        group_id=group.id,
    )


def _grants(grants: GroupGrants) -> dict[str, Any] | None:
    return asdict(grants) if grants.mapped else None


def _record(
    identity: AdminIdentity,
    action: str,
    details: dict[str, Any],
    *,
    token_id: str | None = None,
    group_id: str | None = None,
) -> None:
    record_admin_action(
        get_state(),
        identity,
        action,
        details=details,
        token_id=token_id,
        resource_type="Group" if group_id else None,
        resource_id=group_id,
    )
