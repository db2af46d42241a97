"""Braze's shapes of a user: its nested ``permissions`` object and its response style.

Braze's ``permissions`` object and the flat permissions extension (``PERMISSIONS_URN``) carry the same
data; the table in :mod:`scim_plugin.core.resources` maps one onto the other. ``normalize_input`` reads
Braze bodies through :func:`extension_from_braze_permissions`; :func:`to_braze` renders a canonical user
the way Braze answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from scim_plugin.core.errors import InvalidValue
from scim_plugin.core.schemas import (
    COMMON_ATTRIBUTES,
    ENTERPRISE_USER_URN,
    PERMISSIONS_URN,
    USER_SCHEMA,
    USER_URN,
)
from scim_plugin.core.values import clone_json, parse_datetime

_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_braze_datetime(value: str | datetime | None) -> str:
    """Braze's date rendering: ``"N/A"`` when unset, else ``"YYYY Mon DD, H:MM AM/PM"`` in UTC.

    Example: ``"2024 Nov 11, 4:20 PM"``. Month names are fixed English so the output never depends on
    the process locale. Raises ``ValueError`` for a string that is not a date-time.
    """
    if value is None or value == "":
        return "N/A"
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment.year} {_MONTHS[moment.month - 1]} {moment.day:02d}, {hour}:{moment.minute:02d} {half}"


def _lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in obj.items() if isinstance(key, str)}


def _compact(obj: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if value is not None}


def _braze_object(raw: Any, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidValue(f"'{path}' must be an object.")
    return _lower_keys(raw)


def _braze_list(raw: Any, path: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidValue(f"'{path}' must be a list.")
    return raw


def _braze_strings(raw: Any, path: str) -> list[str]:
    values = _braze_list(raw, path)
    if not all(isinstance(value, str) for value in values):
        raise InvalidValue(f"'{path}' must be a list of strings.")
    return list(values)


def _braze_ref(obj: dict[str, Any], id_key: str, name_key: str, path: str) -> tuple[str | None, str | None]:
    """The (id, name) pair that points at a Braze object; at least one must be given."""
    ident, name = obj.get(id_key.lower()), obj.get(name_key.lower())
    for key, value in ((id_key, ident), (name_key, name)):
        if value is not None and not isinstance(value, str):
            raise InvalidValue(f"'{path}.{key}' must be a string.")
    if not ident and not name:
        raise InvalidValue(f"'{path}' needs '{id_key}' or '{name_key}'.")
    return ident or None, name or None


def extension_from_braze_permissions(obj: Any) -> dict[str, Any]:
    """Convert a Braze ``permissions`` object into the permissions extension's flat shape.

    Only structure is checked here (objects, lists, strings, id-or-name); ``normalize_input`` then applies
    the usual type checks and limits to the result. Keys are matched case-insensitively.

    :raises InvalidValue: the object is malformed; the detail names the Braze path.
    """
    perms = _braze_object(obj, "permissions")
    out: dict[str, Any] = {}
    if "companypermissions" in perms:
        out["companyPermissions"] = _braze_strings(
            perms["companypermissions"], "permissions.companyPermissions"
        )
    if "roles" in perms:
        roles = []
        for index, raw in enumerate(_braze_list(perms["roles"], "permissions.roles")):
            path = f"permissions.roles[{index}]"
            ident, name = _braze_ref(_braze_object(raw, path), "roleId", "roleName", path)
            roles.append(_compact({"value": ident, "display": name}))
        out["roles"] = roles
    workspaces: list[dict[str, Any]] = []
    teams: list[dict[str, Any]] = []
    for index, raw in enumerate(_braze_list(perms.get("appgroup"), "permissions.appGroup")):
        path = f"permissions.appGroup[{index}]"
        group = _braze_object(raw, path)
        ws_id, ws_name = _braze_ref(group, "appGroupId", "appGroupName", path)
        workspace: dict[str, Any] = _compact({"value": ws_id, "display": ws_name})
        if group.get("appgrouppermissions") is not None:
            workspace["permissions"] = _braze_strings(
                group["appgrouppermissions"], f"{path}.appGroupPermissions"
            )
        sets = _braze_list(group.get("appgrouppermissionsets"), f"{path}.appGroupPermissionSets")
        if len(sets) > 1:
            raise InvalidValue(f"'{path}.appGroupPermissionSets' must hold exactly one permission set.")
        if sets:
            set_path = f"{path}.appGroupPermissionSets[0]"
            # appGroupPermissionSetID (request tables) and ...Id (responses) meet here: keys are lowered.
            set_id, set_name = _braze_ref(
                _braze_object(sets[0], set_path),
                "appGroupPermissionSetId",
                "appGroupPermissionSetName",
                set_path,
            )
            workspace.update(_compact({"permissionSet": set_name, "permissionSetId": set_id}))
        workspaces.append(workspace)
        for team_index, team_raw in enumerate(_braze_list(group.get("team"), f"{path}.team")):
            team_path = f"{path}.team[{team_index}]"
            team = _braze_object(team_raw, team_path)
            team_id, team_name = _braze_ref(team, "teamId", "teamName", team_path)
            entry = _compact(
                {"value": team_id, "display": team_name, "workspace": ws_id, "workspaceName": ws_name}
            )
            if team.get("teampermissions") is not None:
                entry["permissions"] = _braze_strings(team["teampermissions"], f"{team_path}.teamPermissions")
            teams.append(entry)
    if "appgroup" in perms:
        out["workspaces"] = workspaces
    if teams:
        out["teams"] = teams
    return out


def _team_belongs(team: dict[str, Any], workspace: dict[str, Any]) -> bool:
    if team.get("workspace") is not None and team.get("workspace") == workspace.get("value"):
        return True
    team_ws_name, ws_name = team.get("workspaceName"), workspace.get("display")
    return (
        isinstance(team_ws_name, str) and isinstance(ws_name, str) and team_ws_name.lower() == ws_name.lower()
    )


def braze_permissions_from_extension(ext: dict[str, Any] | None) -> dict[str, Any]:
    """Render the permissions extension as Braze's nested ``permissions`` object.

    ``companyPermissions``, ``roles`` and ``appGroup`` are always present (possibly empty). A team is
    placed under the workspace whose id (or, failing that, name) it names; a team whose workspace has no
    entry of its own gets a workspace entry built from the team's ``workspace``/``workspaceName``.
    """
    ext = ext or {}
    roles = [
        {**_compact({"roleName": role.get("display"), "roleId": role.get("value")}), "appGroup": []}
        for role in ext.get("roles", [])
    ]
    app_groups: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (extension entry, Braze entry)
    for workspace in ext.get("workspaces", []):
        entry = _compact({"appGroupId": workspace.get("value"), "appGroupName": workspace.get("display")})
        if "permissions" in workspace:
            entry["appGroupPermissions"] = list(workspace["permissions"])
        permission_set = _compact(
            {
                "appGroupPermissionSetName": workspace.get("permissionSet"),
                "appGroupPermissionSetId": workspace.get("permissionSetId"),
            }
        )
        if permission_set:
            entry["appGroupPermissionSets"] = [permission_set]
        app_groups.append((workspace, entry))
    for team in ext.get("teams", []):
        target = next((entry for ws, entry in app_groups if _team_belongs(team, ws)), None)
        if target is None:
            parent = {"value": team.get("workspace"), "display": team.get("workspaceName")}
            target = _compact({"appGroupId": parent["value"], "appGroupName": parent["display"]})
            app_groups.append((parent, target))
        target.setdefault("team", []).append(
            {
                **_compact({"teamId": team.get("value"), "teamName": team.get("display")}),
                "teamPermissions": list(team.get("permissions", [])),
            }
        )
    return {
        "companyPermissions": list(ext.get("companyPermissions", [])),
        "roles": roles,
        "appGroup": [entry for _, entry in app_groups],
    }


def to_braze(resource: dict[str, Any]) -> dict[str, Any]:
    """Render a canonical User the way Braze's SCIM API does (Braze SCIM reference §2.2 to §2.5).

    ``schemas`` lists only the core User URN; ``department`` (from the Enterprise extension),
    ``lastSignInAt`` and ``createdAt`` (from ``meta.created``), both in Braze's date format, and
    ``permissions`` (Braze's nested object) sit at the top level. ``id``, ``userName`` and ``name`` come
    first, as in Braze's examples; the other core attributes and ``externalId`` follow, since Braze
    clients ignore what they do not know. ``meta``, ``password`` and the other Enterprise attributes are
    left out: Braze has no place for them outside an extension.
    """
    enterprise = resource.get(ENTERPRISE_USER_URN) or {}
    permissions = resource.get(PERMISSIONS_URN) or {}
    meta = resource.get("meta") or {}
    out: dict[str, Any] = {"schemas": [USER_URN]}
    for key in ("id", "userName", "name"):
        if key in resource:
            out[key] = clone_json(resource[key])
    if "department" in enterprise:
        out["department"] = enterprise["department"]
    out["lastSignInAt"] = format_braze_datetime(permissions.get("lastSignInAt"))
    out["createdAt"] = format_braze_datetime(meta.get("created"))
    out["permissions"] = braze_permissions_from_extension(permissions)
    for attr in (*COMMON_ATTRIBUTES, *USER_SCHEMA.attributes):
        if (
            attr.name in resource
            and attr.name not in out
            and attr.name != "meta"
            and attr.returned != "never"
        ):
            out[attr.name] = clone_json(resource[attr.name])
    return out
