"""Evaluating a parsed filter (:mod:`~scim_plugin.core.filters`) against canonical resources.

``evaluate`` runs a filter AST against one resource held as a canonical SCIM dict. It is what PATCH uses
to pick entries of multi-valued attributes (``value_filter_matcher``, ``matches_entry``), and it is the
reference semantics (the test oracle) for the SQL filter compiler in :mod:`scim_plugin.storage.sql_filters`.
Comparisons follow the attribute's type and ``caseExact``; ``ne`` is "not eq", so an absent attribute
matches it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scim_plugin.core.attributes import Attribute, AttributePath, ResourceType
from scim_plugin.core.errors import InvalidFilter
from scim_plugin.core.filters import (
    _MISSING,
    _ORDER_OPS,
    _SUBSTRING_OPS,
    And,
    AttrRef,
    Compare,
    CompValue,
    Node,
    Not,
    Or,
    Present,
)
from scim_plugin.core.identity import identity_key
from scim_plugin.core.schemas import resolve_path

__all__ = [
    "coerce_bool",
    "evaluate",
    "matches_entry",
    "parse_datetime",
    "resolve_ref",
    "validate_value_filter",
    "value_filter_matcher",
]


def resolve_ref(resource_type: ResourceType, ref: AttrRef) -> AttributePath | None:
    """Resolve ``ref`` in ``resource_type``, including ``id``/``externalId``/``meta``; else None."""
    return resolve_path(resource_type, str(ref))


def lookup(data: Any, name: str) -> Any:
    """``data[name]`` with a case-insensitive key match; ``_MISSING`` when absent or not a dict."""
    if not isinstance(data, dict):
        return _MISSING
    if name in data:
        return data[name]
    wanted = name.lower()
    for key, value in data.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return _MISSING


def is_missing(value: Any) -> bool:
    return value is _MISSING


def is_empty(value: Any) -> bool:
    """Unassigned in the RFC 7643 §2.5 sense: absent, null, "", [] or {} (recursively for containers)."""
    if value is _MISSING or value is None or value == "":
        return True
    if isinstance(value, dict):
        return all(is_empty(item) for item in value.values())
    if isinstance(value, list):
        return all(is_empty(item) for item in value)
    return False


def coerce_bool(value: Any) -> bool | None:
    """A bool from a bool or a string boolean in any case (Entra sends ``"False"``); else ``None``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return None


def _as_number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string (``Z`` or offset; naive means UTC), else ``None``."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _is_case_exact(attr: Attribute) -> bool:
    # References compare exactly whatever the schema says (RFC 7643 errata 6001/8472).
    return attr.case_exact or attr.type in ("reference", "binary")


@dataclass(frozen=True)
class _Operand:
    """Where a compared value lives: ``attribute`` (in ``extension`` or top level) and maybe ``sub``."""

    attribute: Attribute
    sub: Attribute | None
    extension: str | None

    @property
    def target(self) -> Attribute:
        """The definition the comparison uses (``value`` for a bare multi-valued complex attribute)."""
        if self.sub is not None:
            return self.sub
        if self.attribute.type == "complex" and self.attribute.multi_valued:
            return self.attribute.sub("value") or self.attribute
        return self.attribute


def _operand(ref: AttrRef, resource_type: ResourceType | None, scope: Attribute | None) -> _Operand:
    """Resolve ``ref`` at resource level (``scope`` None) or inside a value filter of ``scope``."""
    if scope is not None:
        sub = scope.sub(ref.attr) if ref.urn is None and ref.sub is None else None
        if sub is None:
            raise InvalidFilter(f"unknown sub-attribute {str(ref)!r} of {scope.name!r} in value filter")
        return _Operand(sub, None, None)
    assert resource_type is not None
    path = resolve_ref(resource_type, ref)
    if path is None:
        raise InvalidFilter(f"unknown attribute {str(ref)!r} in filter")
    extension = path.schema.id if path.schema.id != resource_type.schema.id else None
    return _Operand(path.attribute, path.sub, extension)


def _check_compare(operand: _Operand, op: str, value: CompValue, ref: AttrRef) -> None:
    """Reject operator/type combinations the RFC calls errors, independent of the data."""
    target = operand.target
    if target.type == "complex":
        raise InvalidFilter(f"cannot compare complex attribute {str(ref)!r}; use a sub-attribute")
    if target.type == "boolean" and op in _ORDER_OPS | _SUBSTRING_OPS:
        raise InvalidFilter(f"operator {op!r} is not allowed on boolean attribute {str(ref)!r}")
    if target.type in ("integer", "decimal", "dateTime") and op in _SUBSTRING_OPS:
        raise InvalidFilter(f"operator {op!r} is not allowed on {target.type} attribute {str(ref)!r}")
    if target.type == "dateTime" and isinstance(value, str) and parse_datetime(value) is None:
        raise InvalidFilter(f"{value!r} is not a valid dateTime for {str(ref)!r}")


def _check_tree(node: Node, resource_type: ResourceType | None, scope: Attribute | None) -> None:
    """Resolve every reference up front so errors never depend on the data or on short-circuiting."""
    stack: list[tuple[Node, Attribute | None]] = [(node, scope)]
    while stack:
        current, current_scope = stack.pop()
        if isinstance(current, Compare):
            operand = _operand(current.path, resource_type, current_scope)
            _check_compare(operand, current.op, current.value, current.path)
        elif isinstance(current, Present):
            _operand(current.path, resource_type, current_scope)
        elif isinstance(current, And | Or):
            stack.extend(((current.left, current_scope), (current.right, current_scope)))
        elif isinstance(current, Not):
            stack.append((current.expr, current_scope))
        else:
            if current_scope is not None:
                raise InvalidFilter("nested value filters are not allowed")
            operand = _operand(current.attr, resource_type, None)
            if operand.sub is not None or operand.attribute.type != "complex":
                raise InvalidFilter(f"value filter on {str(current.attr)!r} needs a complex attribute")
            stack.append((current.filter, operand.attribute))


def _raw(operand: _Operand, data: Any) -> Any:
    holder = lookup(data, operand.extension) if operand.extension else data
    return lookup(holder, operand.attribute.name)


def _entries(value: Any) -> list[Any]:
    if is_missing(value) or value is None:
        return []
    return value if isinstance(value, list) else [value]


def _values(operand: _Operand, data: Any) -> list[Any]:
    """The non-null values a comparison looks at (several for multi-valued attributes)."""
    raw = _raw(operand, data)
    attr = operand.attribute
    if operand.sub is not None:
        containers = _entries(raw) if attr.multi_valued else [raw]
        found = [lookup(entry, operand.sub.name) for entry in containers]
    elif attr.multi_valued and attr.type == "complex":
        found = [lookup(entry, "value") for entry in _entries(raw)]
    elif attr.multi_valued:
        found = _entries(raw)
    else:
        found = [raw]
    return [value for value in found if not is_missing(value) and value is not None]


def _present(operand: _Operand, data: Any) -> bool:
    if operand.sub is None and operand.attribute.type == "complex":
        return not is_empty(_raw(operand, data))
    return any(not is_empty(value) for value in _values(operand, data))


def _compare_one(target: Attribute, op: str, literal: CompValue, stored: Any) -> bool:
    kind = target.type
    if kind == "boolean":
        wanted, actual = coerce_bool(literal), coerce_bool(stored)
        return wanted is not None and actual is not None and op == "eq" and wanted == actual
    left: Any
    right: Any
    if kind in ("integer", "decimal"):
        if isinstance(literal, bool) or not isinstance(literal, int | float):
            return False
        left, right = _as_number(stored), literal
    elif kind == "dateTime":
        left, right = parse_datetime(stored), parse_datetime(literal)
    else:
        if not isinstance(literal, str) or not isinstance(stored, str):
            return False
        left, right = stored, literal
        if not _is_case_exact(target):
            left, right = identity_key(left), identity_key(right)
        if op == "co":
            return right in left
        if op == "sw":
            return left.startswith(right)
        if op == "ew":
            return left.endswith(right)
    if left is None or right is None:
        return False
    if op == "eq":
        return bool(left == right)
    if op == "gt":
        return bool(left > right)
    if op == "ge":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    if op == "le":
        return bool(left <= right)
    return False


def _eval_compare(node: Compare, operand: _Operand, data: Any) -> bool:
    if node.op == "ne":
        return not _eval_compare(Compare(node.path, "eq", node.value), operand, data)
    if node.value is None:
        # "eq null" tests absence; ordering or substring against null never matches.
        return node.op == "eq" and not _present(operand, data)
    target = operand.target
    return any(_compare_one(target, node.op, node.value, stored) for stored in _values(operand, data))


def _eval(node: Node, data: Any, resource_type: ResourceType | None, scope: Attribute | None) -> bool:
    # And/Or chains are left-deep; walk their left spine iteratively to keep recursion shallow.
    if isinstance(node, And | Or):
        rights: list[Node] = []
        current: Node = node
        while isinstance(current, type(node)):
            rights.append(current.right)
            current = current.left
        rights.append(current)
        if isinstance(node, And):
            return all(_eval(part, data, resource_type, scope) for part in reversed(rights))
        return any(_eval(part, data, resource_type, scope) for part in reversed(rights))
    if isinstance(node, Not):
        return not _eval(node.expr, data, resource_type, scope)
    if isinstance(node, Present):
        return _present(_operand(node.path, resource_type, scope), data)
    if isinstance(node, Compare):
        return _eval_compare(node, _operand(node.path, resource_type, scope), data)
    operand = _operand(node.attr, resource_type, None)
    return any(
        _eval(node.filter, entry, None, operand.attribute)
        for entry in _entries(_raw(operand, data))
        if isinstance(entry, dict)
    )


def evaluate(node: Node, resource: dict[str, Any], resource_type: ResourceType) -> bool:
    """Whether ``resource`` (a canonical SCIM dict) matches ``node``.

    Unknown attributes and operators the attribute type forbids raise ``InvalidFilter`` whatever the data.
    """
    _check_tree(node, resource_type, None)
    return _eval(node, resource, resource_type, None)


def validate_value_filter(node: Node, attribute: Attribute) -> None:
    """Check a bracket filter against the sub-attributes of ``attribute``; raises ``InvalidFilter``."""
    if attribute.type != "complex":
        raise InvalidFilter(f"value filter on {attribute.name!r} needs a complex attribute")
    _check_tree(node, None, attribute)


def value_filter_matcher(node: Node, attribute: Attribute) -> Callable[[Any], bool]:
    """A predicate for values of complex ``attribute``; ``node`` is checked once, not per value."""
    validate_value_filter(node, attribute)

    def matches(entry: Any) -> bool:
        return isinstance(entry, dict) and _eval(node, entry, None, attribute)

    return matches


def matches_entry(node: Node, entry: Any, attribute: Attribute) -> bool:
    """Whether one value (a dict) of complex ``attribute`` satisfies the bracket filter ``node``."""
    return value_filter_matcher(node, attribute)(entry)
