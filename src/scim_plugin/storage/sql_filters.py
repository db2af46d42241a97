"""Compiling SCIM filter ASTs (:mod:`scim_plugin.core.filters`) into SQL on the ``scim_users`` tables.

The semantics are those of :func:`scim_plugin.core.filter_eval.evaluate` (the test oracle): case-insensitive
strings unless ``caseExact``, any-value matching on multi-valued attributes, ``ne`` as "not eq", ``eq
null`` as absence. Every comparison is guarded so that it is never SQL ``NULL``; that keeps ``not``
two-valued, as in the evaluator.

Hot attributes (``userName``, ``externalId``, ``displayName``, names, ``active``, ``meta`` dates) map
to indexed columns; multi-valued attributes to an ``EXISTS`` over ``scim_user_values`` (indexed on
tenant, attribute and normalised value); other singular attributes are read from the JSON document in
SQL. Nothing is ever filtered in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, not_, or_, select, true
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import KeyedColumnElement

from scim_plugin.core.attributes import Attribute, ResourceType
from scim_plugin.core.errors import InvalidFilter
from scim_plugin.core.filter_eval import coerce_bool, parse_datetime
from scim_plugin.core.filters import And, AttrRef, Compare, Node, Not, Or, Present, ValuePath
from scim_plugin.core.identity import identity_key
from scim_plugin.core.schemas import resolve_path
from scim_plugin.storage.models import ScimGroup, ScimGroupMember, ScimUser, ScimUserValue

# Multi-valued attributes mirrored into scim_user_values, with the sub-attributes stored there.
VALUE_TABLE_ATTRIBUTES = (
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "entitlements",
    "roles",
    "x509Certificates",
)
VALUE_TABLE_SUBS = ("value", "type", "primary")


def fold(text: str) -> str:
    """The case-insensitive form of a stored or compared string: the identity key (RFC 8265 mapping,
    ``core.identity``), as the in-memory evaluator compares."""
    return identity_key(text)


@dataclass(frozen=True)
class Column:
    """A comparable SQL expression and how its stored values were normalised."""

    expr: ColumnElement[Any]
    type: str
    lowered: bool  # the stored value is already folded with fold()


_COLUMNS: dict[str, Column] = {
    "id": Column(ScimUser.id, "string", False),
    "externalid": Column(ScimUser.external_id, "string", False),
    "username": Column(ScimUser.user_name_norm, "string", True),
    "displayname": Column(ScimUser.display_name_norm, "string", True),
    "name.givenname": Column(ScimUser.given_name_norm, "string", True),
    "name.familyname": Column(ScimUser.family_name_norm, "string", True),
    "active": Column(ScimUser.active, "boolean", False),
    "meta.created": Column(ScimUser.created_at, "dateTime", False),
    "meta.lastmodified": Column(ScimUser.updated_at, "dateTime", False),
}


def _case_exact(attr: Attribute) -> bool:
    return attr.case_exact or attr.type in ("reference", "binary")


_GROUP_COLUMNS: dict[str, Column] = {
    "id": Column(ScimGroup.id, "string", False),
    "externalid": Column(ScimGroup.external_id, "string", False),
    "displayname": Column(ScimGroup.display_name_norm, "string", True),
    "meta.created": Column(ScimGroup.created_at, "dateTime", False),
    "meta.lastmodified": Column(ScimGroup.updated_at, "dateTime", False),
}


def _json_column(path: tuple[str, ...], attr: Attribute, model: Any = ScimUser) -> Column:
    element = model.resource[path]
    if attr.type == "boolean":
        return Column(element.as_boolean(), "boolean", False)
    if attr.type == "integer":
        return Column(element.as_integer(), "integer", False)
    if attr.type == "decimal":
        return Column(element.as_float(), "decimal", False)
    return Column(element.as_string(), attr.type, False)


def _literal_string(value: Any, column: Column, attr: Attribute) -> tuple[ColumnElement[Any], str] | None:
    if not isinstance(value, str):
        return None
    if _case_exact(attr):
        return column.expr, value
    if column.lowered:
        return column.expr, fold(value)
    # JSON-held values are folded by the database: ASCII-only on SQLite, full Unicode on PostgreSQL.
    return func.lower(column.expr), value.lower()


def _compare(column: Column, attr: Attribute, op: str, value: Any, ref: AttrRef) -> ColumnElement[bool]:
    """``column op value`` under the evaluator's rules; never NULL."""
    expr = column.expr
    if op == "ne":
        return not_(_compare(column, attr, "eq", value, ref))
    if value is None:
        return expr.is_(None) if op == "eq" else false()
    kind = attr.type
    present = expr.is_not(None)
    if kind == "complex":
        raise InvalidFilter(f"cannot compare complex attribute {str(ref)!r}; use a sub-attribute")
    if kind == "boolean":
        if op != "eq":
            raise InvalidFilter(f"operator {op!r} is not allowed on boolean attribute {str(ref)!r}")
        wanted = coerce_bool(value)
        return (
            and_(present, expr.is_(true()) if wanted else expr.is_(false()))
            if wanted is not None
            else false()
        )
    if kind in ("integer", "decimal"):
        if op in ("co", "sw", "ew"):
            raise InvalidFilter(f"operator {op!r} is not allowed on {kind} attribute {str(ref)!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return false()
        return and_(present, _ordered(expr, op, value))
    if kind == "dateTime":
        if op in ("co", "sw", "ew"):
            raise InvalidFilter(f"operator {op!r} is not allowed on dateTime attribute {str(ref)!r}")
        moment = parse_datetime(value) if isinstance(value, str) else None
        if isinstance(value, str) and moment is None:
            raise InvalidFilter(f"{value!r} is not a valid dateTime for {str(ref)!r}")
        if moment is None or not isinstance(expr, KeyedColumnElement | QueryableAttribute):
            # JSON-held dateTimes are not comparable in SQL without a column; refuse rather than guess.
            if moment is None:
                return false()
            raise InvalidFilter(f"{str(ref)!r} cannot be compared as a dateTime")
        return and_(present, _ordered(expr, op, moment))
    prepared = _literal_string(value, column, attr)
    if prepared is None:
        return false()
    target, text = prepared
    if op == "co":
        return and_(present, target.contains(text, autoescape=True))
    if op == "sw":
        return and_(present, target.startswith(text, autoescape=True))
    if op == "ew":
        return and_(present, target.endswith(text, autoescape=True))
    return and_(present, _ordered(target, op, text))


def _ordered(expr: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    if op == "eq":
        return expr == value
    if op == "gt":
        return expr > value
    if op == "ge":
        return expr >= value
    if op == "lt":
        return expr < value
    if op == "le":
        return expr <= value
    raise InvalidFilter(f"unknown operator {op!r}")


def _value_column(sub: Attribute) -> Column:
    name = sub.name.lower()
    if name == "value":
        return Column(ScimUserValue.value_norm, sub.type, True)
    if name == "type":
        return Column(ScimUserValue.type, sub.type, True)
    if name == "primary":
        return Column(ScimUserValue.primary, "boolean", False)
    raise InvalidFilter(f"sub-attribute {sub.name!r} cannot be used in a filter")


class FilterCompiler:
    """Compiles a filter for one tenant's users of ``resource_type``.

    ``lenient``: an attribute the resource type does not know matches nothing instead of being an
    error (root ``/.search`` spans several types); the unknown paths are collected in ``unknown``.
    """

    model: Any = ScimUser
    columns: dict[str, Column] = _COLUMNS

    def __init__(self, resource_type: ResourceType, *, lenient: bool = False) -> None:
        self.resource_type = resource_type
        self.lenient = lenient
        self.unknown: set[str] = set()

    def compile(self, node: Node) -> ColumnElement[bool]:
        return self._node(node)

    def _known(self, ref: AttrRef) -> bool:
        if resolve_path(self.resource_type, str(ref)) is not None or not self.lenient:
            return True
        self.unknown.add(str(ref).lower())
        return False

    def _node(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(self._node(node.left), self._node(node.right))
        if isinstance(node, Or):
            return or_(self._node(node.left), self._node(node.right))
        if isinstance(node, Not):
            return not_(self._node(node.expr))
        if isinstance(node, ValuePath):
            return self._value_path(node)
        if isinstance(node, Present):
            return self._present(node.path)
        return self._comparison(node)

    def _resolve(self, ref: AttrRef) -> tuple[str, Attribute, Attribute | None, tuple[str, ...]]:
        path = resolve_path(self.resource_type, str(ref))
        if path is None:
            raise InvalidFilter(f"unknown attribute {str(ref)!r} in filter")
        key = path.attribute.name.lower() + (f".{path.sub.name.lower()}" if path.sub else "")
        json_path: tuple[str, ...] = (path.attribute.name,) + ((path.sub.name,) if path.sub else ())
        if path.is_extension:
            key = f"{path.schema.id.lower()}:{key}"
            json_path = (path.schema.id, *json_path)
        return key, path.attribute, path.sub, json_path

    def _value_column(self, attr: Attribute, sub: Attribute) -> Column:
        if attr.name == "groups":
            name = sub.name.lower()
            if name == "value":
                return Column(ScimGroupMember.group_id, sub.type, True)
            if name == "display":
                return Column(ScimGroup.display_name_norm, sub.type, True)
            if name == "type":
                return Column(literal("direct"), sub.type, True)
            raise InvalidFilter(f"sub-attribute {sub.name!r} cannot be used in a filter")
        return _value_column(sub)

    def _multi_valued(self, attr: Attribute, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        if attr.name == "groups":
            return exists(
                select(ScimGroupMember.group_id)
                .join(ScimGroup, ScimGroup.id == ScimGroupMember.group_id)
                .where(ScimGroupMember.member_id == ScimUser.id, condition)
            )
        if attr.name not in VALUE_TABLE_ATTRIBUTES:
            raise InvalidFilter(f"attribute {attr.name!r} cannot be used in a filter")
        return exists(
            select(ScimUserValue.id).where(
                ScimUserValue.user_id == ScimUser.id, ScimUserValue.attribute == attr.name, condition
            )
        )

    def _comparison(self, node: Compare) -> ColumnElement[bool]:
        if not self._known(node.path):
            return false()
        key, attr, sub, json_path = self._resolve(node.path)
        if attr.multi_valued:
            if node.op == "ne":
                return not_(self._comparison(Compare(node.path, "eq", node.value)))
            if node.value is None and node.op == "eq":
                return not_(self._present(node.path))
            target = sub or attr.sub("value") or attr
            return self._multi_valued(
                attr, _compare(self._value_column(attr, target), target, node.op, node.value, node.path)
            )
        target = sub or attr
        column = self.columns.get(key) or _json_column(json_path, target, self.model)
        return _compare(column, target, node.op, node.value, node.path)

    def _present(self, ref: AttrRef) -> ColumnElement[bool]:
        if not self._known(ref):
            return false()
        key, attr, sub, json_path = self._resolve(ref)
        if attr.multi_valued:
            if sub is None:
                return self._multi_valued(attr, true())
            column = self._value_column(attr, sub)
            return self._multi_valued(
                attr,
                and_(column.expr.is_not(None), column.expr != "")
                if column.type != "boolean"
                else column.expr.is_not(None),
            )
        if attr.type == "complex" and sub is None:
            # Normalisation never stores empty objects, so any stored object is a present one.
            return self.model.resource[json_path].as_string().is_not(None)
        column = self.columns.get(key) or _json_column(json_path, sub or attr, self.model)
        if column.type in ("string", "reference", "binary"):
            return and_(column.expr.is_not(None), column.expr != "")
        return column.expr.is_not(None)

    def _value_path(self, node: ValuePath) -> ColumnElement[bool]:
        if not self._known(node.attr):
            return false()
        _, attr, sub, _ = self._resolve(node.attr)
        if sub is not None or attr.type != "complex":
            raise InvalidFilter(f"value filter on {str(node.attr)!r} needs a complex attribute")
        if not attr.multi_valued:
            raise InvalidFilter(f"value filter on {str(node.attr)!r} needs a multi-valued attribute")
        return self._multi_valued(attr, self._inner(node.filter, attr))

    def _inner(self, node: Node, scope: Attribute) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(self._inner(node.left, scope), self._inner(node.right, scope))
        if isinstance(node, Or):
            return or_(self._inner(node.left, scope), self._inner(node.right, scope))
        if isinstance(node, Not):
            return not_(self._inner(node.expr, scope))
        if isinstance(node, ValuePath):
            raise InvalidFilter("nested value filters are not allowed")
        ref = node.path
        sub = scope.sub(ref.attr) if ref.urn is None and ref.sub is None else None
        if sub is None:
            raise InvalidFilter(f"unknown sub-attribute {str(ref)!r} of {scope.name!r} in value filter")
        column = self._value_column(scope, sub)
        if isinstance(node, Present):
            return column.expr.is_not(None)
        return _compare(column, sub, node.op, node.value, ref)


class GroupFilterCompiler(FilterCompiler):
    """Compiles a filter for one tenant's groups: indexed columns, ``members`` as an ``EXISTS``."""

    model = ScimGroup
    columns = _GROUP_COLUMNS

    def _value_column(self, attr: Attribute, sub: Attribute) -> Column:
        name = sub.name.lower()
        if attr.name == "members" and name == "value":
            return Column(ScimGroupMember.member_id, sub.type, True)
        if attr.name == "members" and name == "type":
            return Column(literal("user"), sub.type, True)
        raise InvalidFilter(f"sub-attribute {attr.name}.{sub.name} cannot be used in a filter")

    def _multi_valued(self, attr: Attribute, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        if attr.name != "members":
            raise InvalidFilter(f"attribute {attr.name!r} cannot be used in a filter")
        return exists(
            select(ScimGroupMember.member_id).where(ScimGroupMember.group_id == ScimGroup.id, condition)
        )
