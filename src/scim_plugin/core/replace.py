"""PUT support (RFC 7644 §3.5.1): what a replacement may not change, and what it keeps.

``check_immutable`` refuses a change to an immutable attribute that already has a value; ``merge_for_put``
carries readOnly attributes (and readOnly sub-attributes of kept entries) from the stored resource into
the replacement, since a client cannot send them.
"""

from __future__ import annotations

import copy
from typing import Any

from scim_plugin.core.attributes import Attribute, ResourceType
from scim_plugin.core.errors import Mutability
from scim_plugin.core.identity import identity_key
from scim_plugin.core.schemas import (
    COMMON_ATTRIBUTES,
)
from scim_plugin.core.values import _assemble


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
        return identity_key(value)
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
