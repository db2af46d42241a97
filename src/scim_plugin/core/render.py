"""Canonical resources to response bodies: ``attributes`` and ``excludedAttributes`` (RFC 7644 §3.4.2.5).

A projection is compiled once into a plan per resource type and request; rendering a page then walks the
plan, not the schema, which keeps a thousand-resource page cheap. ``password`` and other writeOnly
attributes are never rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scim_plugin.core.attributes import Attribute, ResourceType, Schema
from scim_plugin.core.schemas import (
    COMMON_ATTRIBUTES,
    resolve_path,
)
from scim_plugin.core.values import _MISSING, _assemble, _Missing, clone_json

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
