"""Attribute and schema definitions (RFC 7643 §2 and §7).

These dataclasses are the single source of truth for what a SCIM resource may contain: validation,
PATCH, projection, filter compilation and the discovery endpoints (``/Schemas``, ``/ResourceTypes``)
all read them. Names are matched case-insensitively, as RFC 7643 §2.1 requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AttrType = Literal["string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary"]
Mutability = Literal["readOnly", "readWrite", "immutable", "writeOnly"]
Returned = Literal["always", "never", "default", "request"]
UniquenessRule = Literal["none", "server", "global"]


@dataclass(frozen=True)
class Attribute:
    """One attribute with its RFC 7643 characteristics (defaults per RFC 7643 §2.2)."""

    name: str
    type: AttrType = "string"
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: Mutability = "readWrite"
    returned: Returned = "default"
    uniqueness: UniquenessRule = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute called ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        for sub in self.sub_attributes:
            if sub.name.lower() == wanted:
                return sub
        return None

    def to_scim(self) -> dict[str, Any]:
        """The attribute as RFC 7643 §7 describes it in a ``/Schemas`` resource."""
        doc: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "mutability": self.mutability,
            "returned": self.returned,
        }
        if self.type in ("string", "reference", "binary"):
            doc["caseExact"] = self.case_exact
        if self.type != "complex":
            doc["uniqueness"] = self.uniqueness
        if self.canonical_values:
            doc["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            doc["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            doc["subAttributes"] = [sub.to_scim() for sub in self.sub_attributes]
        return doc


@dataclass(frozen=True)
class Schema:
    """A schema (core or extension) identified by its URN."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        wanted = name.lower()
        for attr in self.attributes:
            if attr.name.lower() == wanted:
                return attr
        return None

    def to_scim(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [attr.to_scim() for attr in self.attributes],
            "meta": {"resourceType": "Schema", "location": location},
        }


@dataclass(frozen=True)
class AttributePath:
    """A resolved attribute path: ``schema`` holds ``attribute``; ``sub`` is set for ``a.b`` paths."""

    schema: Schema
    attribute: Attribute
    sub: Attribute | None = None

    @property
    def is_extension(self) -> bool:
        return ":extension:" in self.schema.id

    @property
    def target(self) -> Attribute:
        """The attribute the path ends at."""
        return self.sub or self.attribute


@dataclass(frozen=True)
class ResourceType:
    """A resource type (RFC 7643 §6): a core schema plus extensions (``(schema, required)`` pairs)."""

    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[tuple[Schema, bool], ...] = field(default=())

    @property
    def schemas(self) -> tuple[Schema, ...]:
        return (self.schema, *(ext for ext, _ in self.extensions))

    def schema_by_urn(self, urn: str) -> Schema | None:
        wanted = urn.lower()
        for schema in self.schemas:
            if schema.id.lower() == wanted:
                return schema
        return None

    def resolve(self, path: str) -> AttributePath | None:
        """Resolve ``attr``, ``attr.sub``, ``urn:...:attr`` or ``urn:...:attr.sub``; ``None`` if unknown.

        Unqualified names are looked up in the core schema first, then in the extensions, so that
        ``department`` finds the Enterprise extension's attribute (tolerance for clients that omit URNs).
        """
        lowered = path.lower()
        for schema in sorted(self.schemas, key=lambda s: -len(s.id)):
            prefix = schema.id.lower() + ":"
            if lowered.startswith(prefix):
                return self._resolve_in(schema, path[len(prefix) :])
        for schema in self.schemas:
            found = self._resolve_in(schema, path)
            if found is not None:
                return found
        return None

    @staticmethod
    def _resolve_in(schema: Schema, rest: str) -> AttributePath | None:
        name, _, sub_name = rest.partition(".")
        attr = schema.attribute(name)
        if attr is None:
            return None
        if not sub_name:
            return AttributePath(schema, attr)
        sub = attr.sub(sub_name)
        if sub is None:
            return None
        return AttributePath(schema, attr, sub)

    def to_scim(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": [
                {"schema": ext.id, "required": required} for ext, required in self.extensions
            ],
            "meta": {"resourceType": "ResourceType", "location": location},
        }
