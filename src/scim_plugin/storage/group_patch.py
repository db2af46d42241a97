"""A group PATCH split in two: the operations on ``members``, run as set statements in SQL without
loading the members, and the rest, applied to the stored document. Also the union of what mapped groups
grant a member.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scim_plugin.core import errors
from scim_plugin.core.filters import AttrRef, Compare, Node, Or, parse_path
from scim_plugin.core.patch import _parse_operations
from scim_plugin.core.schemas import GROUP_URN
from scim_plugin.seam import Permissions
from scim_plugin.storage.user_documents import permissions_from

# Bound parameters per statement: SQLite allows 32766, PostgreSQL 65535.
CHUNK = 10_000


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class MemberOp:
    """One membership change of a PATCH: ``add``, ``remove`` (``ids`` None: everyone) or ``replace``."""

    op: str
    ids: tuple[str, ...] | None


def member_ids(value: Any, label: str) -> tuple[str, ...]:
    """The user ids of a ``members`` value: a list of ``{"value": id}`` (a lone object or bare id too)."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if isinstance(item, dict):
            found = next((v for k, v in item.items() if isinstance(k, str) and k.lower() == "value"), None)
        else:
            found = item
        if not isinstance(found, str) or not found.strip() or "\x00" in found:
            raise errors.InvalidValue(f"{label}: every member needs a 'value' holding a user id.")
        ids.append(found.strip())
    return tuple(dict.fromkeys(ids))


def _member_filter_ids(node: Node, label: str) -> tuple[str, ...]:
    """The ids of ``members[value eq "a" or value eq "b"]``; other member filters are refused."""
    if isinstance(node, Or):
        return _member_filter_ids(node.left, label) + _member_filter_ids(node.right, label)
    if (
        isinstance(node, Compare)
        and node.op == "eq"
        and isinstance(node.path, AttrRef)
        and node.path.urn is None
        and node.path.sub is None
        and node.path.attr.lower() == "value"
        and isinstance(node.value, str)
    ):
        return (node.value,)
    raise errors.InvalidFilter(
        f'{label}: only members[value eq "<id>"] filters (joined by "or") are supported.'
    )


def _is_members(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered == "members" or lowered == f"{GROUP_URN.lower()}:members"


def split_operations(operations: Any) -> tuple[list[dict[str, Any]], list[MemberOp]]:
    """Split a PATCH into operations on the group document and membership changes, in order."""
    parsed = _parse_operations(operations)
    document_ops: list[dict[str, Any]] = []
    member_ops: list[MemberOp] = []
    for index, operation in enumerate(parsed):
        label = f"Operations[{index}]"
        raw: dict[str, Any] = {"op": operation.op}
        if operation.has_value:
            raw["value"] = operation.value
        if operation.path is None:
            if operation.op != "remove" and isinstance(operation.value, dict):
                rest = {
                    k: v for k, v in operation.value.items() if not (isinstance(k, str) and _is_members(k))
                }
                for key, value in operation.value.items():
                    if isinstance(key, str) and _is_members(key):
                        member_ops.append(MemberOp(operation.op, member_ids(value, label)))
                if rest:
                    document_ops.append({"op": operation.op, "value": rest})
                continue
            document_ops.append(raw)
            continue
        try:
            path = parse_path(operation.path)
        except errors.ScimError:
            path = None  # apply_patch reports it, with its usual detail
        name = (
            None if path is None else f"{path.attr.urn}:{path.attr.attr}" if path.attr.urn else path.attr.attr
        )
        if path is None or name is None or not _is_members(name):
            document_ops.append({**raw, "path": operation.path})
            continue
        if path.sub is not None:
            raise errors.InvalidPath(
                f"{label}: member sub-attributes cannot be changed ({operation.path!r})."
            )
        if path.filter is not None:
            if operation.op != "remove":
                raise errors.InvalidPath(
                    f"{label}: {operation.op} on a filtered members path is not supported; "
                    "use add with a value list."
                )
            member_ops.append(MemberOp("remove", _member_filter_ids(path.filter, label)))
            continue
        if operation.op == "remove":
            # Entra (without aadOptscim062020) and JumpCloud name the members to remove in ``value``;
            # only a remove without a value empties the group (RFC 7644 §3.5.2.2).
            ids = member_ids(operation.value, label) if operation.value not in (None, []) else None
            member_ops.append(MemberOp("remove", ids))
        else:
            member_ops.append(MemberOp(operation.op, member_ids(operation.value, label)))
    return document_ops, member_ops


def union_grants(grants: Iterable[dict[str, Any]]) -> Permissions:
    """The union of several mapped groups' grants (permissions-extension dicts), in the given order."""
    company: dict[str, None] = {}
    roles: dict[Any, None] = {}
    workspaces: dict[Any, None] = {}
    for item in grants:
        permissions = permissions_from(item)
        company.update(dict.fromkeys(permissions.company_permissions))
        roles.update(dict.fromkeys(permissions.roles))
        workspaces.update(dict.fromkeys(permissions.workspaces))
    return Permissions(company_permissions=tuple(company), roles=tuple(roles), workspaces=tuple(workspaces))
