"""Per-tenant ``canonicalValues`` merged into the published schemas (see ``scim_canonical_values``)."""

from __future__ import annotations

from dataclasses import replace

from scim_plugin.core.attributes import Attribute, Schema

MAX_VALUES = 500


def with_canonical_values(schema: Schema, values: dict[str, list[str]]) -> Schema:
    """A copy of ``schema`` whose attributes named in ``values`` carry those canonical values.

    Keys are ``<schema urn>:<attr>`` or ``<schema urn>:<attr>.<sub>`` (case-insensitive); keys for other
    schemas and unknown attributes are ignored. Lists are capped so a huge tenant cannot bloat /Schemas.
    """
    prefix = schema.id.lower() + ":"
    wanted = {
        key.lower()[len(prefix) :]: tuple(dict.fromkeys(str(v) for v in items))[:MAX_VALUES]
        for key, items in values.items()
        if key.lower().startswith(prefix)
    }
    if not wanted:
        return schema

    def patched(attr: Attribute, path: str) -> Attribute:
        subs = tuple(patched(sub, f"{path}.{sub.name.lower()}") for sub in attr.sub_attributes)
        canonical = wanted.get(path, attr.canonical_values)
        if subs == attr.sub_attributes and canonical == attr.canonical_values:
            return attr
        return replace(attr, sub_attributes=subs, canonical_values=canonical)

    return replace(schema, attributes=tuple(patched(a, a.name.lower()) for a in schema.attributes))
