"""Group mapping (Braze's "SCIM group role mapping"): what membership of a SCIM group grants in the host.

A company admin maps a group to a workspace (with a permission list or a permission set), a role,
and/or company permissions. Members of mapped groups get the union of their groups' grants on top of
their own permissions, through the host's ``scim_apply_group_grants``. Mapping, re-mapping or unmapping
a group re-applies the grants of every member in the caller's transaction: a refusal from the host for
any member raises :class:`MappingError` and the caller rolls the whole change back.

Plain Python in, value objects out (no JSON), for the CLI (``flask scim group ...``) and the settings
page. Functions flush but never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from scim_plugin.core import errors
from scim_plugin.core.schemas import PERMISSIONS_URN
from scim_plugin.seam import Ref, WorkspaceInfo
from scim_plugin.state import ScimState
from scim_plugin.storage.group_store import GroupStore
from scim_plugin.storage.models import ScimGroup, ScimGroupMapping, utcnow


class MappingError(ValueError):
    """The mapping cannot be saved; the message says why (for the admin)."""


@dataclass(frozen=True)
class GroupGrants:
    """What a mapped group grants. Empty (``mapped`` false) for an unmapped group."""

    workspace: str | None = None
    workspace_id: str | None = None
    permissions: tuple[str, ...] = ()
    permission_set: str | None = None
    role: str | None = None
    company_permissions: tuple[str, ...] = ()

    @property
    def mapped(self) -> bool:
        return bool(self.workspace or self.role or self.company_permissions)


@dataclass(frozen=True)
class GroupInfo:
    """A tenant's SCIM group as the settings page lists it."""

    id: str
    display_name: str
    members: int
    grants: GroupGrants


def _grants_from(stored: dict[str, Any] | None) -> GroupGrants:
    if not stored:
        return GroupGrants()
    workspace = (stored.get("workspaces") or [{}])[0]
    role = (stored.get("roles") or [{}])[0]
    return GroupGrants(
        workspace=workspace.get("display"),
        workspace_id=workspace.get("value"),
        permissions=tuple(workspace.get("permissions") or ()),
        permission_set=workspace.get("permissionSet"),
        role=role.get("display"),
        company_permissions=tuple(stored.get("companyPermissions") or ()),
    )


def _clean(values: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values or () if v and v.strip()))


# A mapping's fields, and the permissions extension's attributes whose values the host publishes for them.
_PUBLISHED = {
    "permission_sets": "workspaces.permissionSet",
    "roles": "roles.display",
    "company_permissions": "companyPermissions",
    "workspace_permissions": "workspaces.permissions",
}


def _aliases(state: ScimState, tenant_id: str) -> dict[str, dict[str, str]]:
    """The host's other spellings (``scim_value_aliases``) by mapping field; empty where it has none."""
    published = state.hook.scim_value_aliases(tenant_id=tenant_id) or {}
    aliases: dict[str, dict[str, str]] = {}
    for name, key in _PUBLISHED.items():
        found = published.get(f"{PERMISSIONS_URN}:{key}")
        # Anything but a mapping is ignored, as ``/Schemas`` ignores what it cannot use.
        aliases[name] = {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}
    return aliases


def published_spellings(
    state: ScimState,
    tenant_id: str,
    *,
    permissions: Iterable[str] | None = None,
    company_permissions: Iterable[str] | None = None,
    role: str | None = None,
    permission_set: str | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...], str | None, str | None]:
    """A mapping's names as the host publishes them: its other spellings replaced, repeats dropped.

    Returns ``(permissions, company_permissions, role, permission_set)``.
    """
    aliases = _aliases(state, tenant_id)

    def names(values: Iterable[str] | None, field_name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(aliases[field_name].get(value, value) for value in _clean(values)))

    def one(value: str | None, field_name: str) -> str | None:
        return aliases[field_name].get(value.strip(), value) if value else value

    return (
        names(permissions, "workspace_permissions"),
        names(company_permissions, "company_permissions"),
        one(role, "roles"),
        one(permission_set, "permission_sets"),
    )


def _listing(tenant_id: str) -> Select[Any]:
    """The tenant's groups with their mapping, by display name: one query, member counts included
    (``member_count`` is kept by the membership statements, never counted per group)."""
    return (
        select(ScimGroup, ScimGroupMapping.grants)
        .outerjoin(ScimGroupMapping, ScimGroupMapping.group_id == ScimGroup.id)
        .where(ScimGroup.tenant_id == tenant_id)
        .order_by(ScimGroup.display_name_norm, ScimGroup.id)
    )


def _infos(rows: Iterable[Any]) -> list[GroupInfo]:
    return [
        GroupInfo(group.id, group.display_name, group.member_count, _grants_from(grants))
        for group, grants in rows
    ]


def list_groups(state: ScimState, tenant_id: str) -> list[GroupInfo]:
    """Every group of the tenant with its member count and mapping, by display name."""
    return _infos(state.db.session.execute(_listing(tenant_id)).all())


def group_page(state: ScimState, tenant_id: str, *, offset: int, limit: int) -> tuple[int, list[GroupInfo]]:
    """How many groups the tenant has, and ``limit`` of them from ``offset`` (the settings page's list).

    Two statements whatever the number of groups: a count on the tenant's index and one page query.
    """
    session = state.db.session
    total = session.execute(
        select(func.count()).select_from(ScimGroup).where(ScimGroup.tenant_id == tenant_id)
    ).scalar_one()
    if total <= offset:
        return total, []
    return total, _infos(session.execute(_listing(tenant_id).offset(offset).limit(limit)).all())


def get_group(state: ScimState, tenant_id: str, group_id: str) -> GroupInfo | None:
    """The tenant's group with this id, or None (another tenant's id is None too)."""
    if not group_id or len(group_id) > 36:
        return None
    row = state.db.session.execute(_listing(tenant_id).where(ScimGroup.id == group_id)).first()
    return _infos([row])[0] if row is not None else None


def mapping_supported(state: ScimState) -> bool:
    """Whether the host applies group grants at all (``scim_apply_group_grants``)."""
    return bool(state.pm.hook.scim_apply_group_grants.get_hookimpls())


@dataclass(frozen=True)
class MappingChoices:
    """What a group can be mapped to, as the host publishes it (for the settings page's form).

    Workspaces come from ``scim_list_workspaces``; the rest from ``scim_canonical_values`` (the
    permissions extension's keys). ``None`` means the host publishes no list for it: the page then takes
    free text, which the host checks when it applies the grants.
    """

    workspaces: tuple[WorkspaceInfo, ...] = ()
    permission_sets: tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None
    company_permissions: tuple[str, ...] | None = None
    workspace_permissions: tuple[str, ...] | None = None


def mapping_choices(state: ScimState, tenant_id: str) -> MappingChoices:
    values = state.hook.scim_canonical_values(tenant_id=tenant_id) or {}

    def listed(name: str) -> tuple[str, ...] | None:
        found = values.get(f"{PERMISSIONS_URN}:{_PUBLISHED[name]}")
        return None if found is None else tuple(dict.fromkeys(str(v) for v in found))

    return MappingChoices(
        workspaces=tuple(state.hook.scim_list_workspaces(tenant_id=tenant_id) or ()),
        permission_sets=listed("permission_sets"),
        roles=listed("roles"),
        company_permissions=listed("company_permissions"),
        workspace_permissions=listed("workspace_permissions"),
    )


def _group(state: ScimState, tenant_id: str, group: str) -> ScimGroup:
    store = GroupStore(state, tenant_id)
    row = store.by_name(group)
    if row is None:
        row = state.db.session.execute(
            select(ScimGroup).where(ScimGroup.tenant_id == tenant_id, ScimGroup.id == group)
        ).scalar_one_or_none()
    if row is None:
        raise MappingError(
            f'no SCIM group "{group}" in this company (groups appear once the IdP pushes them)'
        )
    return row


def _reapply(state: ScimState, tenant_id: str, group_id: str) -> int:
    store = GroupStore(state, tenant_id)
    try:
        return store.apply_grants(store.member_id_list(group_id))
    except errors.ScimError as exc:
        raise MappingError(f"the host refused the grants: {exc.detail}") from None


def map_group(
    state: ScimState,
    tenant_id: str,
    group: str,
    *,
    workspace: str | None = None,
    permissions: Iterable[str] | None = None,
    permission_set: str | None = None,
    role: str | None = None,
    company_permissions: Iterable[str] | None = None,
) -> GroupInfo:
    """Map ``group`` (display name or id) to what it grants, replacing any previous mapping.

    ``permissions`` or ``permission_set`` (not both) go with ``workspace`` (id or name). The workspace
    is checked now (``scim_resolve_workspace``); roles, permission sets and permission names are checked
    by the host when it applies them, which happens at once for the group's current members.
    """
    permissions, company, role, permission_set = published_spellings(
        state,
        tenant_id,
        permissions=permissions,
        company_permissions=company_permissions,
        role=role,
        permission_set=permission_set,
    )
    if not mapping_supported(state):
        raise MappingError(
            "the host does not implement scim_apply_group_grants: groups cannot grant anything"
        )
    if (permissions or permission_set) and not workspace:
        raise MappingError("permissions and a permission set need a workspace")
    if not (workspace or role or company):
        raise MappingError("map the group to a workspace, a role or company permissions")
    if permissions and permission_set:
        raise MappingError("give either workspace permissions or a permission set, not both")
    row = _group(state, tenant_id, group)
    grants: dict[str, Any] = {}
    if company:
        grants["companyPermissions"] = list(company)
    if role:
        grants["roles"] = [{"display": role.strip()}]
    if workspace:
        info = state.hook.scim_resolve_workspace(tenant_id=tenant_id, ref=Ref(name=workspace.strip()))
        if info is None and workspace.strip().isdigit():
            info = state.hook.scim_resolve_workspace(tenant_id=tenant_id, ref=Ref(id=workspace.strip()))
        if info is None:
            raise MappingError(f'unknown workspace "{workspace}"')
        entry: dict[str, Any] = {"value": info.id, "display": info.name}
        if permissions:
            entry["permissions"] = list(permissions)
        if permission_set:
            entry["permissionSet"] = permission_set.strip()
        grants["workspaces"] = [entry]
    session = state.db.session
    mapping = session.get(ScimGroupMapping, row.id)
    if mapping is None:
        session.add(ScimGroupMapping(group_id=row.id, tenant_id=tenant_id, grants=grants))
    else:
        mapping.grants, mapping.updated_at = grants, utcnow()
    session.flush()
    _reapply(state, tenant_id, row.id)
    members = row.member_count
    return GroupInfo(row.id, row.display_name, members, _grants_from(grants))


def unmap_group(state: ScimState, tenant_id: str, group: str) -> bool:
    """Remove the group's mapping; its members lose what only this group granted. False if unmapped."""
    row = _group(state, tenant_id, group)
    session = state.db.session
    mapping = session.get(ScimGroupMapping, row.id)
    if mapping is None or mapping.tenant_id != tenant_id:
        return False
    session.delete(mapping)
    session.flush()
    _reapply(state, tenant_id, row.id)
    return True
