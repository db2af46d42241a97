"""Tenant settings and token life cycle, shared by the settings page and the CLI.

Functions flush but never commit: the caller owns the transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from scim_plugin.access.methods import CUSTOM, METHODS, Method
from scim_plugin.access.origin import validate_origin
from scim_plugin.ip import AllowlistError, parse_allowlist
from scim_plugin.seam import IssuedCredential, Ref, ScimEvent, WorkspaceInfo
from scim_plugin.state import ScimState
from scim_plugin.storage.host_sync import EXISTING_USERS, apply_existing_users
from scim_plugin.storage.models import TenantSettings, Token

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """Invalid settings; ``errors`` maps each form field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class SettingsInput:
    default_workspace: str
    service_origin: str
    ip_allowlist: str = ""
    #: None keeps the tenant's method (``custom`` for a new tenant).
    provisioning_method: str | None = None
    #: ``manual`` or ``match`` (``storage.host_sync.EXISTING_USERS``); None keeps the tenant's policy.
    existing_users: str | None = None


@dataclass(frozen=True)
class SavedSettings:
    settings: TenantSettings
    #: The method before this save, when it changed; its tokens were revoked.
    previous_method: str | None = None
    revoked_tokens: int = 0
    #: Users the existing-users policy exposed (``match``) or hid again (``manual``) with this save.
    policy_users: int = 0


def resolve_workspace(state: ScimState, tenant_id: str, value: str) -> WorkspaceInfo | None:
    """Find a workspace by id first, then by name (what an admin or a CLI user typed)."""
    hook = state.hook.scim_resolve_workspace
    return hook(tenant_id=tenant_id, ref=Ref(id=value)) or hook(tenant_id=tenant_id, ref=Ref(name=value))


def validate_settings(
    state: ScimState, tenant_id: str, data: SettingsInput, method: Method = CUSTOM
) -> tuple[WorkspaceInfo, str, str]:
    """Check every field and report all problems at once. The service origin is required for a method
    that sends it, and refused for one that cannot (it would never be checked)."""
    problems: dict[str, str] = {}
    workspace = None
    if not data.default_workspace.strip():
        problems["default_workspace"] = "Choose the workspace new users join."
    else:
        workspace = resolve_workspace(state, tenant_id, data.default_workspace.strip())
        if workspace is None:
            problems["default_workspace"] = (
                f'No workspace "{data.default_workspace.strip()}" in this company.'
            )
    origin = ""
    if not method.requires_origin:
        if data.service_origin.strip():
            problems["service_origin"] = (
                f"{method.label} cannot send X-Request-Origin, so a service origin would never be checked: "
                "leave it empty (the token and the IP allowlist protect this method)."
            )
    elif not data.service_origin.strip():
        problems["service_origin"] = "Enter the service origin your identity provider sends."
    else:
        try:
            origin = validate_origin(data.service_origin)
        except ValueError as exc:
            problems["service_origin"] = str(exc)
    allowlist = ""
    try:
        allowlist = parse_allowlist(data.ip_allowlist).normalized()
    except AllowlistError as exc:
        problems["ip_allowlist"] = exc.describe()
    if problems:
        raise SettingsError(problems)
    assert workspace is not None
    return workspace, origin, allowlist


def save_settings(state: ScimState, tenant_id: str, data: SettingsInput) -> SavedSettings:
    """Validate and store the settings. Changing the provisioning method revokes every token of the
    tenant at once, grace period or not: the old token was given to another client."""
    session = state.db.session
    settings = session.get(TenantSettings, tenant_id)
    current = settings.provisioning_method if settings is not None else None
    wanted = data.provisioning_method or current or CUSTOM.name
    if wanted not in METHODS:
        raise SettingsError(
            {"provisioning_method": "Choose a provisioning method: " + ", ".join(METHODS) + "."}
        )
    method = METHODS[wanted]
    current_policy = settings.existing_users if settings is not None else None
    policy = data.existing_users or current_policy or "manual"
    workspace, origin, allowlist = validate_settings(state, tenant_id, data, method)
    if policy not in EXISTING_USERS:
        raise SettingsError({"existing_users": "Choose how existing users are treated: manual or match."})
    if settings is None:
        settings = TenantSettings(tenant_id=tenant_id, service_origin=origin)
        session.add(settings)
    settings.default_workspace_id = workspace.id
    settings.default_workspace_name = workspace.name
    settings.service_origin = origin
    settings.ip_allowlist = allowlist
    settings.provisioning_method = method.name
    settings.existing_users = policy
    settings.enabled = True
    revoked = 0
    if current is not None and current != method.name:
        revoked = state.hook.scim_revoke_tokens(tenant_id=tenant_id) or 0
    session.flush()
    policy_users = 0
    if policy != (current_policy or "manual"):
        policy_users = apply_existing_users(state, tenant_id, policy)
    changed = current if current is not None and current != method.name else None
    return SavedSettings(settings, previous_method=changed, revoked_tokens=revoked, policy_users=policy_users)


def issue_token(state: ScimState, tenant_id: str, issued_by: str | None) -> IssuedCredential:
    """Issue (or replace) the tenant's token; the settings must exist first."""
    if state.db.session.get(TenantSettings, tenant_id) is None:
        raise SettingsError({"service_origin": "Save the SCIM settings before generating a token."})
    credential = state.hook.scim_issue_token(tenant_id=tenant_id, issued_by=issued_by)
    if credential is None:
        raise RuntimeError("no scim_issue_token implementation answered")
    settings = state.db.session.get(TenantSettings, tenant_id)
    settings.enabled = True
    state.db.session.flush()
    return credential


def disable(state: ScimState, tenant_id: str) -> int:
    """Revoke the tenant's tokens and stop SCIM for it; settings and users are kept."""
    revoked = state.hook.scim_revoke_tokens(tenant_id=tenant_id) or 0
    settings = state.db.session.get(TenantSettings, tenant_id)
    if settings is not None:
        settings.enabled = False
    state.db.session.flush()
    return revoked


def current_token(state: ScimState, tenant_id: str) -> Token | None:
    return state.db.session.execute(
        select(Token).where(Token.tenant_id == tenant_id, Token.status == "active")
    ).scalar_one_or_none()


def emit(state: ScimState, name: str, tenant_id: str | None, /, **data: object) -> None:
    """Tell every ``scim_event`` observer; one observer's failure neither fails the caller nor
    silences the others, so each implementation is called on its own, in pluggy's call order."""
    event = ScimEvent(name=name, tenant_id=tenant_id, data=dict(data))
    for impl in reversed(state.pm.hook.scim_event.get_hookimpls()):
        try:
            impl.function(event=event)
        except Exception:
            log.exception("scim_event observer %s failed for %s", impl.plugin_name, name)
