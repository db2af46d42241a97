"""The dashboard's truth in a SCIM document: the attributes the host owns, written over what a client sent.

The host owns a user's ``userName`` and email, names, ``active``, department, permissions (company
permissions, roles, workspaces, teams), what mapped groups grant and how the account was made; the
plugin keeps everything else a client sent (phone numbers, addresses, the rest of the enterprise
extension). ``apply_host_state`` merges a ``HostUserState`` into a stored document; the storage layer
stores the result, so every response, lookup and filter shows what the dashboard holds.
"""

from __future__ import annotations

import copy
from typing import Any

from scim_plugin.core.identity import identity_key
from scim_plugin.core.schemas import ENTERPRISE_USER_URN, PERMISSIONS_URN
from scim_plugin.seam import HostUserState, Permissions, Ref

# The keys of the permissions extension that ``permissions`` replaces as a whole.
_OWN_KEYS = ("companyPermissions", "roles", "workspaces", "teams")


def _ref(ref: Ref) -> dict[str, Any]:
    return {key: value for key, value in (("value", ref.id), ("display", ref.name)) if value is not None}


def permissions_extension(permissions: Permissions) -> dict[str, Any]:
    """``permissions`` as the permissions extension's attributes (the inverse of ``permissions_from``);
    an empty list is left out, as a client that sends none would."""
    ext: dict[str, Any] = {}
    if permissions.company_permissions:
        ext["companyPermissions"] = list(permissions.company_permissions)
    if permissions.roles:
        ext["roles"] = [_ref(role) for role in permissions.roles]
    workspaces = []
    for grant in permissions.workspaces:
        entry = _ref(grant.workspace)
        if grant.permissions:
            entry["permissions"] = list(grant.permissions)
        if grant.permission_set is not None:
            if grant.permission_set.name is not None:
                entry["permissionSet"] = grant.permission_set.name
            if grant.permission_set.id is not None:
                entry["permissionSetId"] = grant.permission_set.id
        workspaces.append(entry)
    if workspaces:
        ext["workspaces"] = workspaces
    teams = []
    for team in permissions.teams:
        entry = _ref(team.team)
        if team.workspace is not None:
            if team.workspace.id is not None:
                entry["workspace"] = team.workspace.id
            elif team.workspace.name is not None:
                entry["workspaceName"] = team.workspace.name
        if team.permissions:
            entry["permissions"] = list(team.permissions)
        teams.append(entry)
    if teams:
        ext["teams"] = teams
    return ext


def group_grant_entries(grants: Permissions) -> list[dict[str, Any]]:
    """What mapped groups grant, as ``groupGrants`` entries (workspaces, then roles, then permissions)."""
    entries: list[dict[str, Any]] = []
    for grant in grants.workspaces:
        entry = {"type": "workspace", **_ref(grant.workspace)}
        if grant.permissions:
            entry["permissions"] = list(grant.permissions)
        entries.append(entry)
    entries.extend({"type": "role", **_ref(role)} for role in grants.roles)
    entries.extend({"type": "companyPermission", "value": name} for name in grants.company_permissions)
    return entries


def with_permissions(resource: dict[str, Any], permissions: Permissions) -> dict[str, Any]:
    """``resource`` (changed in place and returned) showing ``permissions`` as the user's own."""
    ext = {k: v for k, v in (resource.get(PERMISSIONS_URN) or {}).items() if k not in _OWN_KEYS}
    ext.update(permissions_extension(permissions))
    _set_extension(resource, PERMISSIONS_URN, ext)
    return resource


def apply_host_state(resource: dict[str, Any], state: HostUserState) -> dict[str, Any]:
    """A copy of the stored ``resource`` with the attributes the host owns as ``state`` says.

    A value the host holds in another spelling of the same identity key (case, composition) keeps the
    client's spelling: the document changes only when the dashboard's value is another one.
    """
    out = copy.deepcopy(resource)
    old_name = out.get("userName")
    if not isinstance(old_name, str) or identity_key(old_name) != identity_key(state.user_name):
        out["userName"] = state.user_name
    _merge_email(out, state.email or state.user_name, old_name)
    _merge_names(out, state.given_name, state.family_name)
    out["active"] = state.active
    enterprise = dict(out.get(ENTERPRISE_USER_URN) or {})
    if (state.department or None) != enterprise.get("department"):
        if state.department:
            enterprise["department"] = state.department
        else:
            enterprise.pop("department", None)
        _set_extension(out, ENTERPRISE_USER_URN, enterprise)
    ext = dict(out.get(PERMISSIONS_URN) or {})
    if state.permissions is not None:
        ext = {k: v for k, v in ext.items() if k not in _OWN_KEYS}
        ext.update(permissions_extension(state.permissions))
    if state.group_grants is not None:
        ext.pop("groupGrants", None)
        entries = group_grant_entries(state.group_grants)
        if entries:
            ext["groupGrants"] = entries
    if state.provisioning_method is not None:
        ext["provisioningMethod"] = state.provisioning_method
    _set_extension(out, PERMISSIONS_URN, ext)
    return out


def _merge_email(resource: dict[str, Any], email: str, old_user_name: Any) -> None:
    """The dashboard's email in ``emails``: unchanged when an entry already holds it; else it replaces
    the entry that held the old userName (the dashboard changed the address the user signs in with).
    Other addresses the client sent are the client's: left alone."""
    key = identity_key(email)
    emails = [entry for entry in resource.get("emails") or [] if isinstance(entry, dict)]
    if any(isinstance(e.get("value"), str) and identity_key(e["value"]) == key for e in emails):
        return
    if not isinstance(old_user_name, str) or identity_key(old_user_name) == identity_key(
        resource["userName"]
    ):
        return
    old_key = identity_key(old_user_name)
    for entry in emails:
        if isinstance(entry.get("value"), str) and identity_key(entry["value"]) == old_key:
            entry["value"] = email


def _merge_names(resource: dict[str, Any], given: str | None, family: str | None) -> None:
    name = dict(resource.get("name") or {})
    changed = False
    for key, value in (("givenName", given or None), ("familyName", family or None)):
        if name.get(key) != value:
            changed = True
            if value is None:
                name.pop(key, None)
            else:
                name[key] = value
    if not changed:
        return
    if "formatted" in name:
        # Written by the client from the names it knew: rebuilt from the dashboard's.
        formatted = " ".join(part for part in (name.get("givenName"), name.get("familyName")) if part)
        if formatted:
            name["formatted"] = formatted
        else:
            name.pop("formatted")
    if name:
        resource["name"] = name
    else:
        resource.pop("name", None)


def _set_extension(resource: dict[str, Any], urn: str, ext: dict[str, Any]) -> None:
    """``resource[urn] = ext``, listed in ``schemas``; an empty extension is removed with its URN."""
    schemas = [s for s in resource.get("schemas") or [] if isinstance(s, str)]
    if ext:
        resource[urn] = ext
        if urn not in schemas:
            schemas.append(urn)
    else:
        resource.pop(urn, None)
        schemas = [s for s in schemas if s != urn]
    resource["schemas"] = schemas
