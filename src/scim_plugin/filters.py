"""SCIM filter expressions (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).

``parse_filter`` turns filter text into a small immutable AST; ``parse_path`` does the same for PATCH
``path`` values. ``evaluate`` runs an AST against one resource held as a canonical SCIM dict. It is what
PATCH uses to pick entries of multi-valued attributes, and it is the reference semantics (the test oracle)
for the SQL filter compiler.

Deliberate readings of the RFC and its errata:

* ``not`` binds tighter than ``and``, which binds tighter than ``or`` (erratum 4670 reverses the published
  table); ``not(`` without a space is accepted (erratum 7319).
* ``attr[filter].sub op value`` in a filter (Entra's ``emails[type eq "work"].value eq "…"``) is parsed as
  ``ValuePath(attr, And(filter, sub op value))``: one entry must satisfy both, so no extra node type is
  needed by the evaluator or by the SQL compiler.
* Inside a ``ValuePath`` filter, ``AttrRef.attr`` names a sub-attribute of ``ValuePath.attr``.
* ``ne`` is "not eq", so an absent attribute matches ``ne``; ``eq null`` means "absent", ``ne null`` means
  "present".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from scim_plugin.attributes import Attribute, AttributePath, ResourceType
from scim_plugin.errors import InvalidFilter, InvalidPath
from scim_plugin.schemas import resolve_path

__all__ = [
    "COMPARE_OPS",
    "And",
    "AttrRef",
    "CompValue",
    "Compare",
    "Node",
    "Not",
    "Or",
    "PatchPath",
    "Present",
    "ValuePath",
    "coerce_bool",
    "evaluate",
    "matches_entry",
    "parse_datetime",
    "parse_filter",
    "parse_path",
    "resolve_ref",
    "validate_value_filter",
    "value_filter_matcher",
]

COMPARE_OPS: frozenset[str] = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
_ORDER_OPS = frozenset({"gt", "ge", "lt", "le"})
_SUBSTRING_OPS = frozenset({"co", "sw", "ew"})

CompValue: TypeAlias = str | bool | int | float | None


# -- AST


@dataclass(frozen=True)
class AttrRef:
    """An attribute path as written: ``[urn:]attr[.sub]`` (case preserved, resolved later)."""

    urn: str | None
    attr: str
    sub: str | None = None

    def __str__(self) -> str:
        text = f"{self.urn}:{self.attr}" if self.urn else self.attr
        return f"{text}.{self.sub}" if self.sub else text


@dataclass(frozen=True)
class Compare:
    """``path op value``; ``op`` is lower-case, one of ``COMPARE_OPS``."""

    path: AttrRef
    op: str
    value: CompValue


@dataclass(frozen=True)
class Present:
    """``path pr``."""

    path: AttrRef


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    expr: Node


@dataclass(frozen=True)
class ValuePath:
    """``attr[filter]``: true when a single value of ``attr`` satisfies ``filter`` as a whole."""

    attr: AttrRef
    filter: Node


Node: TypeAlias = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """A PATCH ``path``: ``attr``, ``attr.sub``, ``attr[filter]`` or ``attr[filter].sub``.

    The sub-attribute is always held in ``sub`` (``attr.sub`` is ``None``), whichever form was written.
    """

    attr: AttrRef
    filter: Node | None = None
    sub: str | None = None


# -- tokenizer

_NAME = r"\$?[A-Za-z][A-Za-z0-9_-]*"
_NAME_RE = re.compile(_NAME)
# The URN part is greedy so the attribute starts after the *last* colon ("...:2.0:User:manager.value").
_ATTR_PATH_RE = re.compile(rf"(?:(?P<urn>[A-Za-z0-9:._/+%-]+):)?(?P<attr>{_NAME})(?:\.(?P<sub>{_NAME}))?")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?P<frac>\.[0-9]+)?(?P<exp>[eE][+-]?[0-9]+)?")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._-$+/%")
_PUNCTUATION = frozenset("()[]")


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "[", "]", "word" or "string"
    text: str
    start: int
    end: int
    value: str | None = None  # decoded string literal


def _describe(token: _Token | None) -> str:
    if token is None:
        return "end of input"
    shown = token.text if len(token.text) <= 40 else token.text[:37] + "..."
    return f"{shown!r} at position {token.start}"


def _tokenize(text: str, offset: int = 0) -> Iterator[_Token]:
    """Split ``text`` into tokens; positions are reported relative to the caller's full string."""
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in _PUNCTUATION:
            yield _Token(char, char, offset + pos, offset + pos + 1)
            pos += 1
        elif char == '"':
            end = pos + 1
            while end < length and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= length:
                raise InvalidFilter(f"unterminated string starting at position {offset + pos}")
            raw = text[pos : end + 1]
            try:
                # strict=False tolerates raw control characters (tabs) inside the quotes.
                decoded = json.loads(raw, strict=False)
            except ValueError:
                raise InvalidFilter(f"invalid string literal at position {offset + pos}") from None
            yield _Token("string", raw, offset + pos, offset + end + 1, decoded)
            pos = end + 1
        elif char in _WORD_CHARS:
            end = pos
            while end < length and text[end] in _WORD_CHARS:
                end += 1
            yield _Token("word", text[pos:end], offset + pos, offset + end)
            pos = end
        else:
            raise InvalidFilter(f"unexpected character {char!r} at position {offset + pos}")


def _attr_ref(token: _Token, error: type[InvalidFilter] | type[InvalidPath] = InvalidFilter) -> AttrRef:
    match = _ATTR_PATH_RE.fullmatch(token.text)
    if match is None:
        raise error(f"invalid attribute path {_describe(token)}")
    return AttrRef(match["urn"], match["attr"], match["sub"])


# -- parser


class _Parser:
    """Recursive descent over the token list; recursion depth is bounded by ``max_depth``."""

    def __init__(self, tokens: list[_Token], max_depth: int) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.max_depth = max_depth
        self.in_value_filter = False

    def peek(self, ahead: int = 0) -> _Token | None:
        index = self.index + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def advance(self) -> _Token:
        token = self.peek()
        if token is None:
            raise InvalidFilter("unexpected end of filter")
        self.index += 1
        return token

    def expect(self, kind: str) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind:
            raise InvalidFilter(f"expected {kind!r} but found {_describe(token)}")
        self.index += 1
        return token

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise InvalidFilter(f"filter is nested deeper than the limit of {self.max_depth} levels")

    def leave(self) -> None:
        self.depth -= 1

    def is_keyword(self, token: _Token | None, keyword: str) -> bool:
        return token is not None and token.kind == "word" and token.text.lower() == keyword

    def parse_or(self) -> Node:
        # Loops (not recursion) for and/or chains: long "id eq .. or id eq .." lists stay shallow here.
        node = self.parse_and()
        while self.is_keyword(self.peek(), "or"):
            self.index += 1
            node = Or(node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_unary()
        while self.is_keyword(self.peek(), "and"):
            self.index += 1
            node = And(node, self.parse_unary())
        return node

    def parse_unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise InvalidFilter("unexpected end of filter: expected an expression")
        if token.kind == "(":
            self.index += 1
            return self.parse_group()
        if self.is_keyword(token, "not"):
            following = self.peek(1)
            if following is None or following.kind != "(":
                raise InvalidFilter(f"expected '(' after 'not' but found {_describe(following)}")
            self.index += 2
            return Not(self.parse_group())
        if token.kind != "word":
            raise InvalidFilter(f"expected an attribute path but found {_describe(token)}")
        return self.parse_attr_expr()

    def parse_group(self) -> Node:
        """The rest of ``( filter )`` after the opening parenthesis."""
        self.enter()
        node = self.parse_or()
        self.expect(")")
        self.leave()
        return node

    def parse_attr_expr(self) -> Node:
        token = self.advance()
        ref = _attr_ref(token)
        following = self.peek()
        if following is not None and following.kind == "[":
            if self.in_value_filter:
                raise InvalidFilter(f"nested value filters are not allowed ({_describe(following)})")
            if ref.sub is not None:
                raise InvalidFilter(f"a value filter cannot follow a sub-attribute ({_describe(token)})")
            self.index += 1
            inner = self.parse_value_filter()
            sub = self.sub_after_bracket()
            if sub is None:
                return ValuePath(ref, inner)
            return ValuePath(ref, And(inner, self.parse_comparison(AttrRef(None, sub))))
        return self.parse_comparison(ref)

    def parse_value_filter(self) -> Node:
        """The rest of ``attr[ filter ]`` after the opening bracket."""
        self.enter()
        self.in_value_filter = True
        node = self.parse_or()
        self.expect("]")
        self.in_value_filter = False
        self.leave()
        return node

    def sub_after_bracket(self) -> str | None:
        """A ``.sub`` glued to the closing bracket, as in ``emails[type eq "work"].value``."""
        token = self.peek()
        closing = self.tokens[self.index - 1]
        if (
            token is None
            or token.kind != "word"
            or token.start != closing.end
            or not token.text.startswith(".")
        ):
            return None
        name = token.text[1:]
        if _NAME_RE.fullmatch(name) is None:
            raise InvalidFilter(f"invalid sub-attribute {_describe(token)}")
        self.index += 1
        return name

    def parse_comparison(self, ref: AttrRef) -> Node:
        token = self.peek()
        if token is None or token.kind != "word":
            raise InvalidFilter(f"expected an operator after {str(ref)!r} but found {_describe(token)}")
        op = token.text.lower()
        if op == "pr":
            self.index += 1
            return Present(ref)
        if op not in COMPARE_OPS:
            raise InvalidFilter(f"unknown operator {_describe(token)}")
        self.index += 1
        return Compare(ref, op, self.parse_literal())

    def parse_literal(self) -> CompValue:
        token = self.peek()
        if token is None:
            raise InvalidFilter("unexpected end of filter: expected a comparison value")
        self.index += 1
        if token.kind == "string":
            return token.value
        if token.kind == "word":
            lowered = token.text.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            if lowered == "null":
                return None
            match = _NUMBER_RE.fullmatch(token.text)
            if match is not None:
                try:
                    if match["frac"] or match["exp"]:
                        return float(token.text)
                    return int(token.text)
                except ValueError:  # e.g. an integer beyond Python's digit limit
                    pass
        raise InvalidFilter(f"invalid comparison value {_describe(token)}")


def parse_filter(text: str, *, max_length: int = 4096, max_depth: int = 24) -> Node:
    """Parse a SCIM filter; any problem raises ``InvalidFilter`` naming the position or limit."""
    if not isinstance(text, str):
        raise InvalidFilter("filter must be a string")
    if len(text) > max_length:
        raise InvalidFilter(f"filter is longer than the limit of {max_length} characters")
    tokens = list(_tokenize(text))
    if not tokens:
        raise InvalidFilter("filter is empty")
    parser = _Parser(tokens, max_depth)
    node = parser.parse_or()
    leftover = parser.peek()
    if leftover is not None:
        raise InvalidFilter(f"unexpected {_describe(leftover)}")
    return node


def parse_path(text: str, *, max_length: int = 4096, max_depth: int = 24) -> PatchPath:
    """Parse a PATCH ``path``: a malformed path raises InvalidPath, a bad bracket filter InvalidFilter."""
    if not isinstance(text, str):
        raise InvalidPath("path must be a string")
    if len(text) > max_length:
        raise InvalidPath(f"path is longer than the limit of {max_length} characters")
    stripped = text.strip()
    if not stripped:
        raise InvalidPath("path is empty")
    bracket = stripped.find("[")
    head = stripped if bracket < 0 else stripped[:bracket]
    head_token = _Token("word", head, 0, len(head))
    ref = _attr_ref(head_token, InvalidPath)
    if bracket < 0:
        return PatchPath(AttrRef(ref.urn, ref.attr), None, ref.sub)
    if ref.sub is not None:
        raise InvalidPath(f"a value filter cannot follow a sub-attribute in path {stripped!r}")
    tokens = list(_tokenize(stripped[bracket:], bracket))
    parser = _Parser(tokens, max_depth)
    parser.index = 1  # the "[" itself
    node = parser.parse_value_filter()
    try:
        sub = parser.sub_after_bracket()
    except InvalidFilter as exc:
        raise InvalidPath(exc.detail) from None
    leftover = parser.peek()
    if leftover is not None:
        raise InvalidPath(f"unexpected {_describe(leftover)} in path")
    return PatchPath(ref, node, sub)


# -- attribute resolution


def resolve_ref(resource_type: ResourceType, ref: AttrRef) -> AttributePath | None:
    """Resolve ``ref`` in ``resource_type``, including ``id``/``externalId``/``meta``; else None."""
    return resolve_path(resource_type, str(ref))


# -- evaluation

_MISSING: Any = object()


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
            left, right = left.casefold(), right.casefold()
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
