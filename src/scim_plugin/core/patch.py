"""SCIM PATCH (RFC 7644 §3.5.2): atomic, and tolerant of what real IdPs send.

Longer than 400 lines because ``_Patcher`` is one piece: the walk of one operation's path over one
working copy, with the Entra and Okta tolerances at the step where each applies. Its value helpers are in
:mod:`~scim_plugin.core.patch_values`.

``apply_patch`` applies the raw ``Operations`` list to a deep copy of a canonical SCIM resource dict and
returns the new dict; the first failing operation raises a ``ScimError`` and the input is left untouched,
so the caller simply discards everything (RFC 7644 §3.5.2: all or nothing).

Tolerances, each replaying a documented client behaviour:

* ``op`` is case-insensitive (Entra sends ``Replace``/``Add``/``Remove``).
* Booleans accept string booleans (Entra: ``{"op":"Replace","path":"active","value":"False"}``).
* Path-less ``add``/``replace`` values may use dotted keys (``name.givenName``), URN-qualified keys, or an
  extension URN holding an object (Entra with ``aadOptscim062020``).
* Path-less ``replace`` may echo ``id``, ``schemas`` and ``meta`` (Okta): ``schemas``/``meta`` are ignored,
  other readOnly attributes are ignored when unchanged and rejected when changed.
* ``add``/``replace`` on ``attr[sub eq "x"].sub2`` that matches nothing creates ``{sub: "x", sub2: value}``
  (Entra expects a work email to be created this way).
* ``remove`` with a ``value`` list on a multi-valued attribute removes only the listed values (Entra without
  the flag, JumpCloud), never the whole attribute.
* A complex attribute given a bare scalar means its ``value`` (Entra sends ``manager`` as a plain id).
* A single-valued attribute given a one-element list takes that element.

Errors: an unknown attribute or malformed path is ``invalidPath``; a bad bracket filter ``invalidFilter``;
``remove`` without a path, or a non-eq filter that matches nothing for ``add``/``replace``, ``noTarget``;
writing a readOnly attribute or changing an immutable one ``mutability``; a value of the wrong type, or
removing a required attribute (e.g. ``userName``), ``invalidValue`` (the value is what is wrong, not the
attribute's mutability).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from scim_plugin.core.attributes import Attribute, AttributePath, ResourceType
from scim_plugin.core.errors import InvalidPath, InvalidSyntax, InvalidValue, Mutability, NoTarget, ScimError
from scim_plugin.core.filter_eval import (
    is_empty,
    is_missing,
    lookup,
    resolve_ref,
    validate_value_filter,
    value_filter_matcher,
)
from scim_plugin.core.filters import AttrRef, Node, PatchPath, parse_path
from scim_plugin.core.patch_values import (
    _coerce,
    _coerce_complex,
    _entries,
    _eq_template,
    _find_key,
    _matches_removal,
    _pop_key,
    _pruned,
    _same_entry,
    _set_key,
    _show,
    _single_item_list,
    _snapshot,
    _value_key,
)

__all__ = ["PatchResult", "apply_patch"]

_OPS = frozenset({"add", "replace", "remove"})
# Server-maintained keys that clients echo back in path-less replaces; never an error to send them.
_IGNORED_PATHLESS_KEYS = frozenset({"schemas", "meta"})


@dataclass(frozen=True)
class PatchResult:
    """The patched resource and whether it differs from the input (only then bump ``meta.version``)."""

    resource: dict[str, Any]
    changed: bool


@dataclass(frozen=True)
class _Operation:
    op: str
    path: str | None
    value: Any
    has_value: bool


@dataclass(frozen=True)
class _Target:
    """A resolved path: the top-level attribute, where it lives, and an optional filter and sub."""

    attribute: Attribute
    extension: str | None
    filter: Node | None
    sub: Attribute | None
    text: str


def apply_patch(resource: dict[str, Any], operations: Any, resource_type: ResourceType) -> PatchResult:
    """Apply the raw PATCH ``Operations`` to a copy of ``resource``; raises ScimError on the first failure."""
    parsed = _parse_operations(operations)
    patcher = _Patcher(resource, resource_type)
    for number, operation in enumerate(parsed, start=1):
        try:
            patcher.apply(operation)
        except ScimError as exc:
            raise type(exc)(
                f"Operations[{number - 1}]: {exc.detail}",
                status=exc.status,
                scim_type=exc.scim_type,
                headers=exc.headers,
            ) from exc
    patcher.finish()
    return PatchResult(patcher.work, patcher.work != resource)


def _parse_operations(operations: Any) -> list[_Operation]:
    if operations is None:
        raise InvalidSyntax("PATCH request has no 'Operations'")
    if not isinstance(operations, list):
        raise InvalidSyntax("'Operations' must be a list of operation objects")
    parsed: list[_Operation] = []
    for index, raw in enumerate(operations):
        if not isinstance(raw, dict):
            raise InvalidSyntax(f"Operations[{index}] must be an object")
        fields = {key.lower(): value for key, value in raw.items() if isinstance(key, str)}
        op = fields.get("op")
        if op is None:
            raise InvalidSyntax(f"Operations[{index}] has no 'op'")
        if not isinstance(op, str) or op.lower() not in _OPS:
            raise InvalidSyntax(f"Operations[{index}]: invalid op {op!r}; expected add, replace or remove")
        path = fields.get("path")
        if path is not None and not isinstance(path, str):
            raise InvalidPath(f"Operations[{index}]: 'path' must be a string")
        if isinstance(path, str) and not path.strip():
            path = None  # some clients send "" for "the resource itself"
        parsed.append(_Operation(op.lower(), path, fields.get("value"), "value" in fields))
    return parsed


# -- value coercion


# -- comparisons and containers


# -- the engine


class _Patcher:
    def __init__(self, resource: dict[str, Any], resource_type: ResourceType) -> None:
        self.original = resource
        self.work: dict[str, Any] = copy.deepcopy(resource)
        self.resource_type = resource_type
        self.touched_extensions: set[str] = set()

    # -- dispatch

    def apply(self, operation: _Operation) -> None:
        op, path, value = operation.op, operation.path, operation.value
        if op != "remove" and not operation.has_value:
            raise InvalidValue(f"{op!r} needs a 'value'")
        if path is None:
            if op == "remove":
                raise NoTarget("'remove' needs a 'path'")
            self._apply_pathless(op, value)
            return
        extension = self.resource_type.schema_by_urn(path.strip())
        if extension is not None and extension.id != self.resource_type.schema.id:
            # The whole extension as the target, e.g. path "urn:...:enterprise:2.0:User".
            if op == "remove":
                self._check_removable_extension(extension.id)
                # What the server sets (readOnly: how the account was made, what groups grant) stays;
                # the rest of the extension goes.
                kept = {
                    attr.name: lookup(lookup(self.work, extension.id), attr.name)
                    for attr in extension.attributes
                    if attr.mutability == "readOnly"
                    and not is_empty(lookup(lookup(self.work, extension.id), attr.name))
                }
                _pop_key(self.work, extension.id)
                if kept:
                    self.work[extension.id] = kept
                self.touched_extensions.add(extension.id)
            else:
                self._apply_pathless(op, {extension.id: value})
            return
        target = self._resolve(parse_path(path), path)
        if op == "remove":
            self._remove(target, value if operation.has_value else None)
        else:
            self._write(target, op == "replace", value, pathless=False)

    def _apply_pathless(self, op: str, value: Any) -> None:
        if not isinstance(value, dict):
            raise InvalidValue(f"{op!r} without a path needs an object value, got {_show(value)}")
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidPath(f"invalid attribute name {key!r}")
            if key.strip().lower() in _IGNORED_PATHLESS_KEYS:
                continue
            schema = self.resource_type.schema_by_urn(key.strip())
            if schema is not None:
                if not isinstance(item, dict):
                    raise InvalidValue(f"{key!r} must hold an object of its attributes")
                for inner_key, inner in item.items():
                    # Clients that serialise an extension object whole echo its "schemas" too.
                    if isinstance(inner_key, str) and inner_key.strip().lower() in _IGNORED_PATHLESS_KEYS:
                        continue
                    self._apply_pathless_key(op, f"{schema.id}:{inner_key}", inner)
                continue
            self._apply_pathless_key(op, key, item)

    def _apply_pathless_key(self, op: str, key: str, value: Any) -> None:
        if isinstance(value, dict) and self._is_unknown_extension(key):
            return  # an extension this server does not offer; its content is not ours to judge
        target = self._resolve(parse_path(key), key)
        if target.extension is None and target.attribute.name.lower() in _IGNORED_PATHLESS_KEYS:
            return
        self._write(target, op == "replace", value, pathless=True)

    def _is_unknown_extension(self, key: str) -> bool:
        lowered = key.strip().lower()
        return lowered.startswith("urn:") and not any(
            lowered.startswith(schema.id.lower() + ":") for schema in self.resource_type.schemas
        )

    def _resolve(self, path: PatchPath, text: str) -> _Target:
        found = resolve_ref(self.resource_type, AttrRef(path.attr.urn, path.attr.attr))
        if found is None:
            raise InvalidPath(f"unknown attribute {text.strip()!r}")
        attr = found.attribute
        sub: Attribute | None = None
        if path.sub is not None:
            sub = attr.sub(path.sub)
            if sub is None:
                raise InvalidPath(f"unknown sub-attribute {path.sub!r} of {attr.name!r} in {text.strip()!r}")
        if path.filter is not None:
            if attr.type != "complex":
                raise InvalidPath(f"{attr.name!r} has no values to filter in {text.strip()!r}")
            validate_value_filter(path.filter, attr)
        return _Target(attr, self._extension_of(found), path.filter, sub, text.strip())

    def _extension_of(self, found: AttributePath) -> str | None:
        return found.schema.id if found.schema.id != self.resource_type.schema.id else None

    # -- storage

    def _holder(self, target: _Target, create: bool) -> dict[str, Any] | None:
        if target.extension is None:
            return self.work
        self.touched_extensions.add(target.extension)
        key = _find_key(self.work, target.extension)
        holder = self.work.get(key) if key is not None else None
        if isinstance(holder, dict):
            if key != target.extension:
                _set_key(self.work, target.extension, holder)
            return holder
        if not create:
            return None
        holder = {}
        _set_key(self.work, target.extension, holder)
        return holder

    def _store(self, holder: dict[str, Any], attr: Attribute, before: Any, new: Any) -> None:
        """Write the new attribute value (pruned), enforcing immutability on the attribute as a whole."""
        cleaned = _pruned(new)
        if attr.mutability == "immutable" and not is_empty(before) and cleaned != _pruned(before):
            raise Mutability(f"{attr.name!r} is immutable and already set")
        if cleaned is None:
            _pop_key(holder, attr.name)
        else:
            _set_key(holder, attr.name, cleaned)

    # -- add / replace

    def _write(self, target: _Target, replace: bool, value: Any, *, pathless: bool) -> None:
        attr, sub = target.attribute, target.sub
        holder = self._holder(target, create=True)
        assert holder is not None
        current = lookup(holder, attr.name)
        if attr.mutability == "readOnly" or (sub is not None and sub.mutability == "readOnly"):
            if pathless and self._unchanged(attr, sub, current, value):
                return  # Okta echoes id (and friends) back in path-less replaces
            raise Mutability(f"{target.text!r} is readOnly")
        before = _snapshot(attr, current)
        primaries = self._primaries(attr, current)
        if not attr.multi_valued and sub is None and target.filter is None and _single_item_list(value):
            value = value[0]  # clients that always send arrays
        if target.filter is not None:
            new = self._write_filtered(target, replace, value, current)
        elif sub is not None:
            new = self._write_sub(attr, sub, value, current)
        elif value is None and not replace:
            return  # adding "nothing"
        elif attr.multi_valued:
            items = _coerce(attr, value, attr.name) or []
            new = self._merge_values(attr, [] if replace else list(_entries(current)), items)
        elif attr.type == "complex" and isinstance(value, dict):
            # RFC 7644 §3.5.2.3: given sub-attributes replace, unspecified ones stay (add merges the same).
            new = self._merge_entry(
                attr, dict(current) if isinstance(current, dict) else {}, _coerce(attr, value, attr.name)
            )
        else:
            new = _coerce(attr, value, attr.name)
        self._normalize_primary(attr, new, primaries)
        self._store(holder, attr, before, new)

    @staticmethod
    def _unchanged(attr: Attribute, sub: Attribute | None, current: Any, value: Any) -> bool:
        if sub is not None:
            current = lookup(current, sub.name)
        if is_empty(current) and is_empty(value):
            return True
        return not is_missing(current) and _pruned(current) == _pruned(value)

    def _write_sub(self, attr: Attribute, sub: Attribute, value: Any, current: Any) -> Any:
        """``attr.sub`` without a filter: the complex value, or every value of a multi-valued attribute."""
        coerced = _coerce(sub, value, f"{attr.name}.{sub.name}")
        if not attr.multi_valued:
            entry = dict(current) if isinstance(current, dict) else {}
            return self._merge_entry(attr, entry, {sub.name: coerced})
        entries = list(_entries(current))
        if not any(isinstance(entry, dict) for entry in entries):
            return [{sub.name: coerced}]
        for entry in entries:
            if isinstance(entry, dict):
                self._merge_entry(attr, entry, {sub.name: coerced})
        return entries

    def _write_filtered(self, target: _Target, replace: bool, value: Any, current: Any) -> Any:
        attr, sub = target.attribute, target.sub
        assert target.filter is not None
        entries = list(_entries(current))
        matched = list(filter(value_filter_matcher(target.filter, attr), entries))
        if sub is not None:
            update = {sub.name: _coerce(sub, value, f"{attr.name}.{sub.name}")}
        else:
            update = _coerce_complex(attr, value[0] if _single_item_list(value) else value, attr.name)
        if not matched:
            template = _eq_template(target.filter, attr) if attr.multi_valued else None
            if template is None:
                raise NoTarget(f"no value of {attr.name!r} matches the filter in {target.text!r}")
            entries.append({**template, **update})
        for entry in matched:
            if replace and sub is None:
                self._check_immutable_subs(attr, entry, update, whole=True)
                entry.clear()
            self._merge_entry(attr, entry, update)
        return entries if attr.multi_valued else (entries[0] if entries else None)

    def _merge_values(self, attr: Attribute, entries: list[Any], items: list[Any]) -> list[Any]:
        """Append ``items``; an item naming a stored value (same ``value``) updates it, never duplicates."""
        # Indexed by value so adding to a group of thousands of members stays linear.
        index: dict[str, Any] = {}
        for entry in entries:
            key = _value_key(attr, entry)
            if key is not None:
                index.setdefault(key, entry)
        for item in items:
            key = _value_key(attr, item)
            if key is not None:
                existing = index.get(key)
            else:
                existing = next((entry for entry in entries if _same_entry(attr, entry, item)), None)
            if existing is None:
                entries.append(item)
                if key is not None:
                    index[key] = item
            elif attr.type == "complex":
                # The stored "value" keeps its spelling, and nulls in an added value (Entra's "$ref": null)
                # must not erase what is stored.
                update = {name: part for name, part in item.items() if part is not None and name != "value"}
                self._merge_entry(attr, existing, update)
        return entries

    def _merge_entry(self, attr: Attribute, entry: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        self._check_immutable_subs(attr, entry, update, whole=False)
        for key, item in update.items():
            _set_key(entry, key, item)
        return entry

    @staticmethod
    def _check_immutable_subs(
        attr: Attribute, entry: dict[str, Any], update: dict[str, Any], whole: bool
    ) -> None:
        for sub in attr.sub_attributes:
            if sub.mutability != "immutable":
                continue
            old = lookup(entry, sub.name)
            if is_empty(old) or (not whole and sub.name not in update):
                continue
            if _pruned(update.get(sub.name)) != _pruned(old):
                raise Mutability(f"'{attr.name}.{sub.name}' is immutable and already set")

    # -- primary (RFC 7643 §2.4: at most one value is primary)

    @staticmethod
    def _primaries(attr: Attribute, current: Any) -> list[dict[str, Any]]:
        if not attr.multi_valued or attr.sub("primary") is None:
            return []
        return [
            entry
            for entry in _entries(current)
            if isinstance(entry, dict) and lookup(entry, "primary") is True
        ]

    @staticmethod
    def _normalize_primary(attr: Attribute, new: Any, before: list[dict[str, Any]]) -> None:
        if not attr.multi_valued or attr.sub("primary") is None or not isinstance(new, list):
            return
        fresh = [
            entry
            for entry in new
            if isinstance(entry, dict)
            and lookup(entry, "primary") is True
            and not any(entry is old for old in before)
        ]
        if len(fresh) > 1:
            raise InvalidValue(f"at most one value of {attr.name!r} may be primary")
        if fresh:
            for entry in new:
                if isinstance(entry, dict) and entry is not fresh[0] and lookup(entry, "primary") is True:
                    _set_key(entry, "primary", False)

    # -- remove

    def _remove(self, target: _Target, value: Any) -> None:
        attr, sub = target.attribute, target.sub
        if attr.mutability == "readOnly" or (sub is not None and sub.mutability == "readOnly"):
            raise Mutability(f"{target.text!r} is readOnly")
        holder = self._holder(target, create=False)
        if holder is None:
            return
        current = lookup(holder, attr.name)
        if is_missing(current):
            return  # removing what is not there succeeds without a change
        before = _snapshot(attr, current)
        new: Any
        if target.filter is not None:
            entries = list(_entries(current))
            matched = list(filter(value_filter_matcher(target.filter, attr), entries))
            if sub is None:
                hits = {id(entry) for entry in matched}  # entries stay alive, so ids are stable here
                new = [entry for entry in entries if id(entry) not in hits]
            else:
                for entry in matched:
                    self._remove_sub(attr, sub, entry)
                new = entries
            if not attr.multi_valued:
                new = new[0] if new else None
        elif sub is not None:
            for entry in _entries(current) if attr.multi_valued else [current]:
                if isinstance(entry, dict):
                    self._remove_sub(attr, sub, entry)
            new = current
        elif attr.multi_valued and value is not None:
            listed = value if isinstance(value, list) else [value]
            keys = {key for key in (_value_key(attr, item) for item in listed) if key is not None}
            others = [item for item in listed if _value_key(attr, item) is None]
            new = [
                entry
                for entry in _entries(current)
                if _value_key(attr, entry) not in keys
                and not any(_matches_removal(attr, entry, item) for item in others)
            ]
        else:
            # A single-valued attribute is removed whatever "value" says: there is only one to remove.
            new = None
        self._store(holder, attr, before, new)

    @staticmethod
    def _remove_sub(attr: Attribute, sub: Attribute, entry: dict[str, Any]) -> None:
        if sub.mutability == "immutable" and not is_empty(lookup(entry, sub.name)):
            raise Mutability(f"'{attr.name}.{sub.name}' is immutable and already set")
        _pop_key(entry, sub.name)

    def _check_removable_extension(self, urn: str) -> None:
        schema = self.resource_type.schema_by_urn(urn)
        assert schema is not None
        for attr in schema.attributes:
            if attr.mutability == "immutable" and not is_empty(lookup(lookup(self.work, urn), attr.name)):
                raise Mutability(f"{urn}:{attr.name} is {attr.mutability}")

    # -- after all operations

    def finish(self) -> None:
        for urn in self.touched_extensions:
            key = _find_key(self.work, urn)
            if key is not None and is_empty(self.work[key]):
                del self.work[key]
        for schema in self.resource_type.schemas:
            core = schema.id == self.resource_type.schema.id
            for attr in schema.attributes:
                if not attr.required:
                    continue
                was = lookup(self.original if core else lookup(self.original, schema.id), attr.name)
                now = lookup(self.work if core else lookup(self.work, schema.id), attr.name)
                if not is_empty(was) and is_empty(now):
                    raise InvalidValue(f"{attr.name!r} is required and cannot be removed")
