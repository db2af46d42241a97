"""Request bodies to canonical resources and back (RFC 7643, RFC 7644 §3.3, §3.4.2.5, §3.5.1).

**Canonical form** (shared by every module): a plain JSON dict. Core and common attributes (``id``,
``externalId``, ``meta``) sit at the top level under their canonical names (``userName``, ``name`` →
``{"givenName": ...}``, ``emails`` → list of dicts); extension attributes sit in a dict under the extension
URN; ``schemas`` lists the core URN and each extension present. An unassigned attribute is an absent key,
never ``None``, ``[]`` or ``{}``. Date-times are UTC strings such as ``2024-11-11T16:20:00Z``.

**Input tolerance** (``normalize_input``), on top of RFC 7644 §3.3:

* attribute names are case-insensitive and rewritten to canonical case, sub-attributes included;
* ``"urn:...:enterprise:2.0:User:department": "x"``, an extension object under its URN, a Braze-style
  top-level ``department`` and dotted keys such as ``"name.givenName"`` all land in the same place; when an
  attribute is given twice, the later key wins;
* ``"True"``/``"false"`` strings (any case, as Entra ID sends) are accepted for booleans;
* a single object for a multi-valued complex attribute is wrapped in a list; a bare string for a
  single-valued complex attribute with a ``value`` sub-attribute (Entra's ``"manager": "123"``) becomes
  ``{"value": "123"}``;
* several ``primary: true`` entries in one multi-valued attribute: the first stays primary, the others are
  set to ``false`` (RFC 7643 §2.4 allows at most one);
* readOnly attributes (``id``, ``meta``, ``groups``, ``lastSignInAt`` ...) are dropped silently; unknown
  attributes are ignored; ``null`` means "not given";
* ``schemas`` may omit the core URN or be missing; it may not name a schema this resource type does not
  have, except the Microsoft URNs in ``TOLERATED_FOREIGN_SCHEMAS`` (Entra adds one to group bodies).

``password`` is writeOnly: it is kept in the canonical dict so the caller can hash it, and the caller must
remove it before storing. ``render`` never returns it.

**Braze ``permissions`` ↔ the permissions extension** (``PERMISSIONS_URN``), used by ``normalize_input``
(with ``braze_compat``) and ``to_braze``:

=======================================================  =====================================================
Braze (nested)                                           extension (flat)
=======================================================  =====================================================
``companyPermissions: [s]``                              ``companyPermissions: [s]``
``roles[] {roleId, roleName}``                           ``roles[] {value: roleId, display: roleName}``
``appGroup[] {appGroupId, appGroupName,``                ``workspaces[] {value: appGroupId,``
``appGroupPermissions}``                                 ``display: appGroupName, permissions}``
``appGroup[].appGroupPermissionSets[0]``                 ``workspaces[].permissionSet`` (name),
``{appGroupPermissionSetName, appGroupPermissionSetID}`` ``workspaces[].permissionSetId``
``appGroup[].team[] {teamId, teamName,``                 ``teams[] {value: teamId, display: teamName,``
``teamPermissions}``                                     ``permissions, workspace: parent appGroupId,``
                                                         ``workspaceName: parent appGroupName}``
=======================================================  =====================================================

Only what the client gave is stored: a workspace named but not identified has a ``display`` and no
``value``. Braze keys are matched case-insensitively (Braze itself writes both ``appGroupPermissionSetID``
and ``...Id``). The role expansion Braze adds to responses (``roles[].appGroup``) is computed by Braze from
its own role definitions; it is ignored on input and rendered as ``[]``. Braze allows exactly one
permission set per workspace, so more than one is rejected rather than silently dropped.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from .attributes import Attribute, ResourceType, Schema
from .errors import InvalidSyntax, InvalidValue, Mutability
from .schemas import (
    COMMON_ATTRIBUTES,
    ENTERPRISE_USER_URN,
    PERMISSIONS_URN,
    USER_SCHEMA,
    USER_URN,
    resolve_path,
)

BRAZE_DEPARTMENTS: Final[tuple[str, ...]] = (
    "agency",
    "bi",
    "c_suite",
    "engineering",
    "finance",
    "marketing",
    "pm",
)
"""Braze's department strings; enforce them only when the host asks for Braze's closed list."""

TOLERATED_FOREIGN_SCHEMAS: Final[frozenset[str]] = frozenset(
    {
        # Entra ID adds these to POST /Groups and /Users bodies of some apps; they carry no attributes.
        "http://schemas.microsoft.com/2006/11/resourcemanagement/adscim/2.0/group",
        "http://schemas.microsoft.com/2006/11/resourcemanagement/adscim/2.0/user",
    }
)
"""Lower-cased schema URNs that ``normalize_input`` accepts in ``schemas`` and then ignores."""


@dataclass(frozen=True)
class Limits:
    """Sanity limits applied to request bodies; exceeding one is an ``InvalidValue`` error."""

    max_string_length: int = 2048
    """Characters in a string or reference value."""
    max_binary_length: int = 65536
    """Characters in a base64 ``binary`` value (certificates are longer than ordinary strings)."""
    max_multi_values: int = 100
    """Entries in a multi-valued attribute."""
    max_members: int = 100_000
    """Entries in a Group's ``members``; large groups are legitimate and pushed whole by Okta."""
    max_depth: int = 10
    """Nesting of objects and arrays in the body (Braze's permissions object needs 7)."""


DEFAULT_LIMITS: Final = Limits()

_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Missing:
    """Sentinel type: "no value" as distinct from every JSON value."""


_MISSING: Final = _Missing()


# -- date-times


def parse_datetime(text: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 date-time into an aware datetime; naive input is taken as UTC.

    Raises ``ValueError`` if ``text`` is not a date-time.
    """
    value = text.strip()
    if not value or len(value) > 64:
        raise ValueError(f"not a date-time: {text!r}")
    # RFC 3339 allows lower-case 't' and 'z'; fromisoformat only accepts the upper-case forms.
    if len(value) > 10 and value[10] == "t":
        value = value[:10] + "T" + value[11:]
    if value[-1] in "zZ":
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """The canonical form of a date-time: UTC with a ``Z`` suffix, e.g. ``2024-11-11T16:20:00Z``."""
    if value.tzinfo is not UTC:  # what the database hands back already is UTC: no conversion
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    # A UTC ISO string ends in "+00:00".
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")[:-6] + "Z"


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


# -- normalize_input


def normalize_input(
    body: Any,
    resource_type: ResourceType,
    *,
    braze_compat: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Validate a POST or PUT body and return it in canonical form (see the module docstring).

    :param body: the parsed JSON body.
    :param resource_type: the resource type the body is for.
    :param braze_compat: convert a top-level Braze ``permissions`` object into the permissions extension.
    :param limits: the sanity limits to enforce.
    :raises InvalidSyntax: the body is not a JSON object.
    :raises InvalidValue: a value has the wrong type or breaks a limit, ``schemas`` names an unknown
        schema, or a required attribute is missing or empty. The detail names the attribute path.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    _check_depth(body, limits.max_depth)
    core = resource_type.schema
    extensions = {ext.id.lower(): ext for ext, _ in resource_type.extensions}
    containers: dict[str, dict[str, Any]] = {schema.id: {} for schema in resource_type.schemas}
    normalizer = _Normalizer(limits)
    permissions_ext = resource_type.schema_by_urn(PERMISSIONS_URN)

    for key, raw in body.items():
        lowered = key.lower()
        if lowered == "schemas":
            _check_declared_schemas(raw, resource_type)
        elif lowered in extensions or lowered == core.id.lower():
            schema = extensions.get(lowered, core)
            if raw is None:
                continue
            if not isinstance(raw, dict):
                raise InvalidValue(f"'{schema.id}' must be an object.")
            for sub_key, sub_raw in raw.items():
                normalizer.assign(resource_type, containers, f"{schema.id}:{sub_key}", sub_raw)
        elif braze_compat and lowered == "permissions" and permissions_ext is not None:
            if raw is None:
                continue
            for name, value in extension_from_braze_permissions(raw).items():
                normalizer.assign(resource_type, containers, f"{permissions_ext.id}:{name}", value)
        else:
            normalizer.assign(resource_type, containers, key, raw)

    _check_required(core, containers[core.id])
    for ext, required in resource_type.extensions:
        if required and not containers[ext.id]:
            raise InvalidValue(f"The extension '{ext.id}' is required.")
        if containers[ext.id]:
            _check_required(ext, containers[ext.id])
    return _assemble(resource_type, containers)


class _Normalizer:
    """Type checks and canonicalisation of attribute values, with the limits in force."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def assign(
        self,
        resource_type: ResourceType,
        containers: dict[str, dict[str, Any]],
        key: str,
        raw: Any,
    ) -> None:
        """Put the value of body key ``key`` (plain, dotted or URN-qualified) where it belongs."""
        found = resolve_path(resource_type, key)
        if found is None:
            return  # unknown attributes are ignored (RFC 7644 §3.3 leaves this to the server)
        attr, sub = found.attribute, found.sub
        if attr.mutability == "readOnly" or (sub is not None and sub.mutability == "readOnly"):
            return  # RFC 7644 §3.3: readOnly values in a request are ignored
        container = containers[found.schema.id]
        prefix = f"{found.schema.id}:" if found.is_extension else ""
        path = f"{prefix}{attr.name}"
        if sub is None:
            value = self.value(attr, raw, path)
            if isinstance(value, _Missing):
                container.pop(attr.name, None)
            else:
                container[attr.name] = value
            return
        if attr.multi_valued:
            raise InvalidValue(
                f"'{path}.{sub.name}' names a sub-attribute of the multi-valued attribute '{path}'; "
                f"send '{path}' as a list instead."
            )
        value = self.value(sub, raw, f"{path}.{sub.name}")
        current = container.get(attr.name)
        merged = dict(current) if isinstance(current, dict) else {}
        if isinstance(value, _Missing):
            merged.pop(sub.name, None)
        else:
            merged[sub.name] = value
        if merged:
            container[attr.name] = merged
        else:
            container.pop(attr.name, None)

    def value(self, attr: Attribute, raw: Any, path: str) -> Any:
        """The canonical value of ``attr`` (multi-valued or not), or ``_MISSING`` when unassigned."""
        if raw is None:
            return _MISSING
        if not attr.multi_valued:
            return self.single(attr, raw, path)
        if isinstance(raw, dict) and attr.type == "complex":
            raw = [raw]  # tolerance: one object where a list of objects was expected
        if not isinstance(raw, list):
            raise InvalidValue(f"Attribute '{path}' is multi-valued and must be a list.")
        limit = self.limits.max_members if attr.name == "members" else self.limits.max_multi_values
        if len(raw) > limit:
            raise InvalidValue(f"Attribute '{path}' has more than {limit} values.")
        items = []
        for index, item in enumerate(raw):
            value = self.single(attr, item, f"{path}[{index}]")
            if not isinstance(value, _Missing):
                items.append(value)
        if not items:
            return _MISSING
        if attr.type == "complex":
            _keep_one_primary(items)
        return items

    def single(self, attr: Attribute, raw: Any, path: str) -> Any:
        """One value of ``attr`` (one entry, for a multi-valued attribute)."""
        if raw is None:
            return _MISSING
        if attr.type == "complex":
            return self.complex(attr, raw, path)
        return self.scalar(attr, raw, path)

    def complex(self, attr: Attribute, raw: Any, path: str) -> Any:
        """One complex value: sub-attribute names canonicalised, readOnly and unknown ones dropped."""
        if isinstance(raw, str) and not attr.multi_valued and attr.sub("value") is not None:
            # Entra sends "manager": "<id>" (and "" to mean no manager).
            raw = {"value": raw} if raw else {}
        if not isinstance(raw, dict):
            raise InvalidValue(f"Attribute '{path}' must be an object.")
        out: dict[str, Any] = {}
        for key, sub_raw in raw.items():
            sub = attr.sub(key)
            if sub is None or sub.mutability == "readOnly":
                continue
            value = self.value(sub, sub_raw, f"{path}.{sub.name}")
            if isinstance(value, _Missing):
                out.pop(sub.name, None)
            else:
                out[sub.name] = value
        if not out:
            return _MISSING
        for sub in attr.sub_attributes:
            if sub.required and sub.name not in out:
                raise InvalidValue(f"Attribute '{path}.{sub.name}' is required.")
        return out

    def scalar(self, attr: Attribute, raw: Any, path: str) -> Any:
        """One simple value, type-checked against ``attr.type`` (RFC 7643 §2.3)."""
        kind = attr.type
        if kind in ("string", "reference", "binary"):
            if not isinstance(raw, str):
                raise InvalidValue(f"Attribute '{path}' must be a string.")
            limit = self.limits.max_binary_length if kind == "binary" else self.limits.max_string_length
            if len(raw) > limit:
                raise InvalidValue(f"Attribute '{path}' is longer than {limit} characters.")
            return raw
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
                return raw.strip().lower() == "true"  # Entra sends "True"/"False"
            raise InvalidValue(f"Attribute '{path}' must be a boolean.")
        # bool is an int subclass in Python, but true/false is never a number in JSON.
        if kind == "integer":
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            if isinstance(raw, float) and raw.is_integer():
                return int(raw)
            raise InvalidValue(f"Attribute '{path}' must be an integer.")
        if kind == "decimal":
            if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
                return raw
            raise InvalidValue(f"Attribute '{path}' must be a number.")
        if kind == "dateTime":
            if isinstance(raw, str):
                try:
                    return format_datetime(parse_datetime(raw))
                except ValueError:
                    pass
            raise InvalidValue(f"Attribute '{path}' must be an RFC 3339 date-time string.")
        raise InvalidValue(f"Attribute '{path}' has an unsupported type '{kind}'.")  # pragma: no cover


def _keep_one_primary(items: list[Any]) -> None:
    """Leave at most one ``primary: true`` entry: the first one wins."""
    seen = False
    for item in items:
        if isinstance(item, dict) and item.get("primary") is True:
            if seen:
                item["primary"] = False
            seen = True


def _check_depth(body: Any, max_depth: int) -> None:
    """Refuse bodies whose objects and arrays nest deeper than ``max_depth``."""
    # Iterative, so a hostile body cannot exhaust the interpreter's recursion limit here.
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            raise InvalidValue(f"The request body is nested more than {max_depth} levels deep.")
        stack.extend((child, depth + 1) for child in children)


def _check_declared_schemas(raw: Any, resource_type: ResourceType) -> None:
    """Refuse a ``schemas`` value naming a schema the resource type lacks (RFC 7644 §3.3)."""
    if raw is None:
        return
    urns = [raw] if isinstance(raw, str) else raw
    if not isinstance(urns, list) or not all(isinstance(urn, str) for urn in urns):
        raise InvalidValue("'schemas' must be a list of schema URNs.")
    for urn in urns:
        if resource_type.schema_by_urn(urn) is None and urn.lower() not in TOLERATED_FOREIGN_SCHEMAS:
            raise InvalidValue(f"Unknown schema '{urn}' for resource type '{resource_type.name}'.")


def _check_required(schema: Schema, data: dict[str, Any]) -> None:
    """Refuse data missing a required attribute of ``schema``, or holding it as a blank string."""
    prefix = "" if ":extension:" not in schema.id else f"{schema.id}:"
    for attr in schema.attributes:
        if not attr.required:
            continue
        value = data.get(attr.name)
        if value is None:
            raise InvalidValue(f"Missing required attribute '{prefix}{attr.name}'.")
        if isinstance(value, str) and not value.strip():
            raise InvalidValue(f"Required attribute '{prefix}{attr.name}' must not be empty.")


def _assemble(resource_type: ResourceType, containers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A canonical resource from per-schema containers, with ``schemas`` listing what is present."""
    core = resource_type.schema
    present = [ext for ext, _ in resource_type.extensions if containers.get(ext.id)]
    resource: dict[str, Any] = {"schemas": [core.id, *(ext.id for ext in present)]}
    resource.update(containers.get(core.id, {}))
    for ext in present:
        resource[ext.id] = containers[ext.id]
    return resource


# -- Braze permissions mapping


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


# -- render (projection)

# Projection keys are (lower-cased schema URN, lower-cased attribute name); the value is the set of
# lower-cased sub-attribute names named, or None when the whole attribute was named.
_Projection = dict[tuple[str, str], set[str] | None]


def _projection(names: Sequence[str] | str | None, resource_type: ResourceType) -> _Projection | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = names.split(",")  # tolerate the raw query-string value
    wanted: _Projection = {}
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        schema = resource_type.schema_by_urn(name)
        if schema is not None:
            # A bare schema URN selects every attribute of that schema (some clients send it).
            members = (*schema.attributes, *(COMMON_ATTRIBUTES if schema is resource_type.schema else ()))
            for attr in members:
                wanted[(schema.id.lower(), attr.name.lower())] = None
            continue
        found = resolve_path(resource_type, name)
        if found is None:
            continue  # unknown names are ignored, not errors
        key = (found.schema.id.lower(), found.attribute.name.lower())
        if found.sub is None:
            wanted[key] = None
        else:
            subs = wanted.get(key, set())
            if subs is not None:  # None: the whole attribute is already named
                subs.add(found.sub.name.lower())
                wanted[key] = subs
    return wanted


def clone_json(value: Any) -> Any:
    """A copy of JSON data (dicts, lists, scalars): ``copy.deepcopy`` without its memo, several times
    faster, which matters when a page renders a thousand resources."""
    if isinstance(value, dict):
        return {key: clone_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone_json(item) for item in value]
    return value


_ALL = None  # a plan entry for a simple attribute: emit the value as it is


def _plan_attribute(
    attr: Attribute, key: tuple[str, str], selected: _Projection | None, excluded: _Projection
) -> frozenset[str] | _Missing | None:
    """How the projection shows ``attr``: ``_MISSING`` (left out), ``None`` (a simple attribute, whole)
    or, for a complex one, the names of the sub-attributes kept."""
    if attr.returned == "never":
        return _MISSING
    chosen: set[str] | None = None
    dropped: set[str] = set()
    if attr.returned != "always":
        if selected is not None:
            if key not in selected:
                return _MISSING
            chosen = selected[key]
        elif attr.returned == "request":
            return _MISSING
        if key in excluded:
            dropped_subs = excluded[key]
            if dropped_subs is None:
                return _MISSING
            dropped = dropped_subs
    if attr.type != "complex":
        return _ALL

    def keep(sub: Attribute) -> bool:
        lowered = sub.name.lower()
        if sub.returned == "never":
            return False
        if sub.returned == "always":
            return True
        if sub.returned == "request" and (chosen is None or lowered not in chosen):
            return False
        return (chosen is None or lowered in chosen) and lowered not in dropped

    kept = frozenset(sub.name for sub in attr.sub_attributes if keep(sub))
    # Every sub-attribute shown: the stored value (normalised on the way in) goes out as it is.
    return _ALL if len(kept) == len(attr.sub_attributes) else kept


# (schema, extension URN or None for the top level, ((attribute name, plan), ...)) per schema.
_Plan = tuple[tuple[Schema, str | None, tuple[tuple[str, frozenset[str] | None], ...]], ...]
_PLANS: dict[tuple[int, tuple[str, ...] | None, tuple[str, ...] | None], tuple[ResourceType, _Plan]] = {}


def _render_plan(
    resource_type: ResourceType, attributes: Sequence[str] | None, excluded: Sequence[str] | None
) -> _Plan:
    """What a projection emits, worked out once per resource type and projection, not per resource."""
    cache_key = (
        id(resource_type),
        tuple(attributes) if attributes else None,
        tuple(excluded) if excluded else None,
    )
    cached = _PLANS.get(cache_key)
    if cached is not None and cached[0] is resource_type:
        return cached[1]
    selected = _projection(attributes, resource_type) if attributes else None
    excluded_map = _projection(excluded, resource_type) or {}
    core = resource_type.schema
    groups: list[tuple[Schema, str | None, tuple[Attribute, ...]]] = [
        (core, None, (*COMMON_ATTRIBUTES, *core.attributes))
    ]
    groups += [(ext, ext.id, ext.attributes) for ext, _ in resource_type.extensions]
    plan: list[tuple[Schema, str | None, tuple[tuple[str, frozenset[str] | None], ...]]] = []
    for schema, container, attrs in groups:
        entries = []
        for attr in attrs:
            shown = _plan_attribute(attr, (schema.id.lower(), attr.name.lower()), selected, excluded_map)
            if not isinstance(shown, _Missing):
                entries.append((attr.name, shown))
        plan.append((schema, container, tuple(entries)))
    if len(_PLANS) > 512:  # projections come from clients: bound the cache
        _PLANS.clear()
    _PLANS[cache_key] = (resource_type, tuple(plan))
    return tuple(plan)


def shows_unchanged(
    resource_type: ResourceType,
    name: str,
    attributes: Sequence[str] | None,
    excluded: Sequence[str] | None,
) -> bool:
    """Does the projection emit the core attribute ``name`` exactly as the resource holds it (present,
    every sub-attribute kept)? Then a caller may serialise that attribute itself."""
    core = _render_plan(resource_type, attributes, excluded)[0]
    return any(entry == name and kept is _ALL for entry, kept in core[2])


def _trim(item: Any, kept: frozenset[str], copy: bool) -> Any:
    if not isinstance(item, dict):
        return _MISSING
    trimmed = {name: clone_json(val) if copy else val for name, val in item.items() if name in kept}
    return trimmed or _MISSING


def render(
    resource: dict[str, Any],
    resource_type: ResourceType,
    *,
    attributes: Sequence[str] | None = None,
    excluded: Sequence[str] | None = None,
    copy: bool = True,
) -> dict[str, Any]:
    """Project a canonical resource for a response (RFC 7644 §3.4.2.5, RFC 7643 §7 ``returned``).

    ``schemas`` and ``returned: always`` attributes (``id``) are always present and ``returned: never``
    ones (``password``) never. Without ``attributes``, every ``default`` attribute is returned; with it,
    only the named ones (``request`` attributes only when named). ``excluded`` then removes attributes or
    sub-attributes, never ``always`` ones. Names may be dotted (``name.givenName``), URN-qualified, or a
    bare schema URN (the whole schema); unknown names are ignored. Only attributes the resource type's
    schemas describe are emitted, and ``schemas`` lists just the extensions present in the output. The
    output shares nothing with ``resource``; with ``copy=False`` it shares its values, for a caller that
    only serialises it (copying cost more than the rest of a list page).
    """
    containers: dict[str, dict[str, Any]] = {}
    for schema, container, entries in _render_plan(resource_type, attributes, excluded):
        data = resource if container is None else resource.get(container)
        if not isinstance(data, dict):
            continue
        out: dict[str, Any] = {}
        for name, kept in entries:
            if name not in data:
                continue
            value = data[name]
            if kept is None:
                out[name] = clone_json(value) if copy and isinstance(value, dict | list) else value
            elif isinstance(value, list):
                items = [t for t in (_trim(v, kept, copy) for v in value) if t is not _MISSING]
                if items:
                    out[name] = items
            else:
                trimmed = _trim(value, kept, copy)
                if trimmed is not _MISSING:
                    out[name] = trimmed
        containers[schema.id] = out
    return _assemble(resource_type, containers)


# -- PUT support (RFC 7644 §3.5.1)


def _schema_groups(
    resource_type: ResourceType,
) -> list[tuple[str | None, tuple[Attribute, ...]]]:
    """(extension URN or None for the top level, attributes) for every place attributes live."""
    groups: list[tuple[str | None, tuple[Attribute, ...]]] = [
        (None, (*COMMON_ATTRIBUTES, *resource_type.schema.attributes))
    ]
    groups.extend((ext.id, ext.attributes) for ext, _ in resource_type.extensions)
    return groups


def _container(resource: dict[str, Any], urn: str | None) -> dict[str, Any]:
    if urn is None:
        return resource
    data = resource.get(urn)
    return data if isinstance(data, dict) else {}


def _comparable(attr: Attribute, value: Any) -> Any:
    """``value`` in a form where equality follows ``caseExact`` (RFC 7643 §2.2)."""
    if isinstance(value, list):
        return [_comparable(attr, item) for item in value]
    if isinstance(value, dict):
        out = {}
        for name, item in value.items():
            sub = attr.sub(name)
            out[name] = _comparable(sub, item) if sub is not None else item
        return out
    if isinstance(value, str) and attr.type == "string" and not attr.case_exact:
        return value.casefold()
    return value


def check_immutable(old: dict[str, Any], new: dict[str, Any], resource_type: ResourceType) -> None:
    """Refuse a PUT that changes an ``immutable`` attribute already set (RFC 7644 §3.5.1).

    Checks top-level and extension attributes, and the immutable sub-attributes of single-valued complex
    attributes. Per-entry immutability inside multi-valued attributes (Group ``members.value``) is not
    checked: replacing an entry is how members change.

    :raises Mutability: naming the attribute.
    """
    for urn, attrs in _schema_groups(resource_type):
        before, after = _container(old, urn), _container(new, urn)
        prefix = f"{urn}:" if urn else ""
        for attr in attrs:
            if attr.name not in before or attr.name not in after:
                continue
            old_value, new_value = before[attr.name], after[attr.name]
            if attr.mutability == "immutable":
                if _comparable(attr, old_value) != _comparable(attr, new_value):
                    raise Mutability(f"Attribute '{prefix}{attr.name}' is immutable and cannot be changed.")
                continue
            if attr.type != "complex" or attr.multi_valued:
                continue
            if not isinstance(old_value, dict) or not isinstance(new_value, dict):
                continue
            for sub in attr.sub_attributes:
                if sub.mutability != "immutable" or sub.name not in old_value or sub.name not in new_value:
                    continue
                if _comparable(sub, old_value[sub.name]) != _comparable(sub, new_value[sub.name]):
                    raise Mutability(
                        f"Attribute '{prefix}{attr.name}.{sub.name}' is immutable and cannot be changed."
                    )


def _carry_read_only_subs(attr: Attribute, old: Any, new: Any) -> Any:
    """Copy server-maintained (readOnly) sub-attributes from ``old`` entries to matching ``new`` ones.

    Entries match on ``value`` (e.g. a group member's ``display`` survives a PUT that resends the member
    without it); a single-valued attribute with no ``value`` sub-attribute matches as a whole.
    """
    read_only = [sub.name for sub in attr.sub_attributes if sub.mutability == "readOnly"]
    if attr.type != "complex" or not read_only or old is None:
        return new
    old_items = [item for item in (old if isinstance(old, list) else [old]) if isinstance(item, dict)]
    new_items = [item for item in (new if isinstance(new, list) else [new]) if isinstance(item, dict)]
    has_value = attr.sub("value") is not None
    for item in new_items:
        if has_value:
            match = next((o for o in old_items if "value" in item and o.get("value") == item["value"]), None)
        else:
            match = old_items[0] if old_items and not attr.multi_valued else None
        if match is None:
            continue
        for name in read_only:
            if name in match and name not in item:
                item[name] = copy.deepcopy(match[name])
    return new


def merge_for_put(old: dict[str, Any], new: dict[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """The resource a PUT produces (RFC 7644 §3.5.1), from the stored ``old`` and normalized ``new``.

    * readOnly attributes (``id``, ``meta``, ``groups``, ``lastSignInAt`` ...) come from ``old``;
    * immutable attributes come from ``new`` when given, else from ``old`` (call ``check_immutable``
      first to refuse a change);
    * readWrite and writeOnly attributes come from ``new``; one omitted from ``new`` is cleared.
      ``password`` therefore appears only when ``new`` carries one, for the caller to hash.

    readOnly sub-attributes of entries that ``new`` resends (a member's ``display``, a manager's
    ``displayName`` while the manager is unchanged) are kept. Keys no schema describes are dropped.
    """
    containers: dict[str, dict[str, Any]] = {}
    for urn, attrs in _schema_groups(resource_type):
        before, after = _container(old, urn), _container(new, urn)
        merged: dict[str, Any] = {}
        for attr in attrs:
            name = attr.name
            if attr.mutability == "readOnly":
                source = before
            elif attr.mutability == "immutable":
                source = after if name in after else before
            else:
                if name in after:
                    merged[name] = _carry_read_only_subs(attr, before.get(name), copy.deepcopy(after[name]))
                continue
            if name in source:
                merged[name] = copy.deepcopy(source[name])
        containers[urn or resource_type.schema.id] = merged
    return _assemble(resource_type, containers)
