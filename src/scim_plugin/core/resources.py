"""Request bodies to canonical resources (RFC 7643, RFC 7644 §3.3).

The way back is in :mod:`~scim_plugin.core.render` (projection), :mod:`~scim_plugin.core.braze` (Braze's
response style and permissions object) and :mod:`~scim_plugin.core.replace` (PUT).

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
remove it before storing. ``render.render`` never returns it.

**Braze ``permissions`` ↔ the permissions extension** (``PERMISSIONS_URN``), used by ``normalize_input``
(with ``braze_compat``) and ``braze.to_braze``:

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

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from scim_plugin.core.attributes import Attribute, ResourceType, Schema
from scim_plugin.core.braze import extension_from_braze_permissions
from scim_plugin.core.errors import InvalidSyntax, InvalidValue
from scim_plugin.core.schemas import (
    PERMISSIONS_URN,
    resolve_path,
)
from scim_plugin.core.values import _MISSING, _assemble, _Missing, format_datetime, parse_datetime

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


# -- date-times


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
