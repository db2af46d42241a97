"""SCIM filter expressions (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).

Longer than 400 lines because it is one grammar: the tokenizer, the AST it builds and the recursive
descent parser over it. Evaluation is in :mod:`~scim_plugin.core.filter_eval`.

``parse_filter`` turns filter text into a small immutable AST; ``parse_path`` does the same for PATCH
``path`` values. :mod:`~scim_plugin.core.filter_eval` runs an AST against a resource;
:mod:`scim_plugin.storage.sql_filters` compiles it to SQL.

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
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

from scim_plugin.core.errors import InvalidFilter, InvalidPath

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
    "parse_filter",
    "parse_path",
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


# -- evaluation

_MISSING: Any = object()
