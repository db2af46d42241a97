"""The values PATCH works with: coercing a client's value to an attribute's type, comparing entries, and
finding keys case-insensitively in canonical dicts. Pure helpers of :mod:`~scim_plugin.core.patch`.
"""

from __future__ import annotations

import copy
from typing import Any

from scim_plugin.core.attributes import Attribute
from scim_plugin.core.errors import InvalidValue
from scim_plugin.core.filter_eval import (
    coerce_bool,
    is_missing,
    lookup,
    parse_datetime,
)
from scim_plugin.core.filters import And, Compare, Node
from scim_plugin.core.identity import identity_key


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_decimal(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return _as_decimal(number)
    return None


def _coerce(attr: Attribute, value: Any, label: str) -> Any:
    """``value`` converted to ``attr``'s type (multi-valued → list); ``None`` stays ``None`` (unassigned)."""
    if value is None:
        return None
    if attr.multi_valued:
        items = value if isinstance(value, list) else [value]
        return [_coerce_single(attr, item, label) for item in items if item is not None]
    if isinstance(value, list):
        if len(value) > 1:
            raise InvalidValue(f"{label!r} is single-valued but got {len(value)} values")
        return _coerce_single(attr, value[0], label) if value else None
    return _coerce_single(attr, value, label)


def _coerce_single(attr: Attribute, value: Any, label: str) -> Any:
    kind = attr.type
    if kind == "complex":
        return _coerce_complex(attr, value, label)
    if kind == "boolean":
        result: Any = coerce_bool(value)
    elif kind == "integer":
        result = _as_int(value)
    elif kind == "decimal":
        result = _as_decimal(value)
    elif kind == "dateTime":
        # Keep the client's string as sent; only check that it is a real timestamp.
        result = value if isinstance(value, str) and parse_datetime(value) is not None else None
    elif kind == "string" and isinstance(value, int) and not isinstance(value, bool):
        result = str(value)  # OneLogin templates can yield numbers for ids such as employeeNumber
    else:
        result = value if isinstance(value, str) else None
    if result is None:
        raise InvalidValue(f"{label!r} expects a {kind} value, got {_show(value)}")
    return result


def _coerce_complex(attr: Attribute, value: Any, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        value_sub = attr.sub("value")
        if value_sub is not None and isinstance(value, str | int | float) and not isinstance(value, bool):
            return {value_sub.name: _coerce(value_sub, value, f"{label}.value")}
        raise InvalidValue(f"{label!r} expects an object, got {_show(value)}")
    result: dict[str, Any] = {}
    for key, item in value.items():
        sub = attr.sub(key) if isinstance(key, str) else None
        if sub is None:
            raise InvalidValue(f"{label!r} has no sub-attribute {key!r}")
        if sub.mutability == "readOnly":
            continue  # server-computed (e.g. manager.displayName); ignored as on POST/PUT
        # None is kept: merging it removes that sub-attribute (null means unassigned).
        result[sub.name] = _coerce(sub, item, f"{label}.{sub.name}")
    return result


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _same_scalar(attr: Attribute | None, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        exact = attr is not None and (attr.case_exact or attr.type in ("reference", "binary"))
        return left == right if exact else identity_key(left) == identity_key(right)
    if attr is not None and attr.type == "boolean":
        return coerce_bool(left) is not None and coerce_bool(left) == coerce_bool(right)
    return bool(left == right)


def _same_entry(attr: Attribute, existing: Any, item: Any) -> bool:
    """Whether ``item`` denotes the value ``existing`` (by ``value`` when both have one)."""
    if attr.type != "complex":
        return _same_scalar(attr, existing, item)
    if not isinstance(existing, dict) or not isinstance(item, dict):
        return False
    value_sub = attr.sub("value")
    mine, theirs = lookup(existing, "value"), item.get("value")
    if value_sub is not None and not is_missing(mine) and theirs is not None:
        return _same_scalar(value_sub, mine, theirs)
    return _pruned(existing) == _pruned(item)


def _matches_removal(attr: Attribute, entry: Any, item: Any) -> bool:
    """Whether ``entry`` is named by one item of a ``remove`` value list (Entra/JumpCloud members)."""
    if attr.type != "complex":
        return _same_scalar(attr, entry, item)
    if not isinstance(entry, dict):
        return False
    if not isinstance(item, dict):
        value_sub = attr.sub("value")
        found = lookup(entry, "value")
        return value_sub is not None and not is_missing(found) and _same_scalar(value_sub, found, item)
    given = {key: part for key, part in item.items() if part is not None}
    if not given:
        return False  # an empty selector must never mean "everything"
    if "value" in given:
        given = {"value": given["value"]}
    for key, wanted in given.items():
        found = lookup(entry, key)
        if is_missing(found) or not _same_scalar(attr.sub(key), found, wanted):
            return False
    return True


def _value_key(attr: Attribute, item: Any) -> str | None:
    """The comparable ``value`` of an entry or item (folded unless caseExact); ``None`` if it has none."""
    target: Attribute | None = attr
    if attr.type == "complex":
        target = attr.sub("value")
        item = lookup(item, "value") if target is not None else None
    if target is None or not isinstance(item, str):
        return None
    exact = target.case_exact or target.type in ("reference", "binary")
    return item if exact else identity_key(item)


def _pruned(value: Any) -> Any:
    """A copy without unassigned parts (None, "", [], {}); ``None`` when nothing is left."""
    if isinstance(value, dict):
        kept = {key: _pruned(item) for key, item in value.items()}
        kept = {key: item for key, item in kept.items() if item is not None}
        return kept or None
    if isinstance(value, list):
        items = [_pruned(item) for item in value]
        kept_items = [item for item in items if item is not None]
        return kept_items or None
    if value is None or value == "" or is_missing(value):
        return None
    return value


def _find_key(holder: dict[str, Any], name: str) -> str | None:
    if name in holder:
        return name
    wanted = name.lower()
    return next((key for key in holder if isinstance(key, str) and key.lower() == wanted), None)


def _set_key(holder: dict[str, Any], name: str, value: Any) -> None:
    """Store ``value`` under the canonical ``name``, dropping any differently-cased copy."""
    existing = _find_key(holder, name)
    if existing is not None and existing != name:
        del holder[existing]
    holder[name] = value


def _pop_key(holder: dict[str, Any], name: str) -> None:
    existing = _find_key(holder, name)
    if existing is not None:
        del holder[existing]


def _eq_template(node: Node, attr: Attribute) -> dict[str, Any] | None:
    """For ``a eq "x" and b eq "y"`` filters, the entry they describe; ``None`` for any other filter."""
    if isinstance(node, Compare):
        sub = attr.sub(node.path.attr)
        if node.op != "eq" or node.path.urn or node.path.sub or node.value is None or sub is None:
            return None
        try:
            return {sub.name: _coerce(sub, node.value, f"{attr.name}.{sub.name}")}
        except InvalidValue:
            return None
    if isinstance(node, And):
        left, right = _eq_template(node.left, attr), _eq_template(node.right, attr)
        if (
            left is None
            or right is None
            or any(left[key] != right[key] for key in left.keys() & right.keys())
        ):
            return None
        return {**left, **right}
    return None


def _entries(value: Any) -> list[Any]:
    if is_missing(value) or value is None:
        return []
    return value if isinstance(value, list) else [value]


def _snapshot(attr: Attribute, current: Any) -> Any:
    """A copy of an immutable attribute's value for the after-the-fact comparison (in-place edits)."""
    return copy.deepcopy(current) if attr.mutability == "immutable" and not is_missing(current) else current


def _single_item_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 1
