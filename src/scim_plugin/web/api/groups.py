"""``/Groups`` (RFC 7644 §3) and the root ``/.search`` that spans Users and Groups (§3.4.3).

Members are read only when the response shows them (``excludedAttributes=members`` never touches
``scim_group_members``), and at most ``SCIM_MAX_GROUP_MEMBERS_RETURNED`` per group: a read of a larger
group's members is ``400 tooMany`` (page them with ``GET /Users?filter=groups.value eq "<id>"``), and a
write's response leaves them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, g, request

from scim_plugin.core import errors
from scim_plugin.core.attributes import ResourceType
from scim_plugin.core.render import render, shows_unchanged
from scim_plugin.core.schemas import GROUP_RESOURCE, USER_RESOURCE, resolve_path
from scim_plugin.state import get_state
from scim_plugin.storage.group_store import GroupStore, group_document
from scim_plugin.storage.models import ScimGroup, ScimUser
from scim_plugin.storage.paging import Segment, index_list
from scim_plugin.storage.sql_filters import FilterCompiler
from scim_plugin.storage.user_documents import PLAIN_JSON_TEXT, etag, json_escaped, parse_etag
from scim_plugin.storage.user_store import LISTED, UserStore
from scim_plugin.web.api import users
from scim_plugin.web.api.discovery import base_url
from scim_plugin.web.api.query import (
    cursor_page,
    json_body,
    list_body,
    list_query,
    patch_operations,
    patch_reply,
    projection,
    refuse_search_path,
    search_body,
)
from scim_plugin.web.api.responses import scim_response, with_raw_attribute


def _store() -> GroupStore:
    return GroupStore(get_state(), g.scim_context.tenant_id)


def _location(group_id: str) -> str:
    return f"{base_url()}/Groups/{group_id}"


def wants(
    name: str, resource_type: ResourceType, attributes: Sequence[str] | None, excluded: Sequence[str] | None
) -> bool:
    """Does the projection show attribute ``name`` (so that it is worth loading)?"""
    core = resource_type.schema.id.lower()
    if attributes:
        for raw in attributes:
            if raw.strip().lower() == core:
                return True
            path = resolve_path(resource_type, raw.strip())
            if path is not None and path.attribute.name == name:
                return True
        return False
    for raw in excluded or ():
        path = resolve_path(resource_type, raw.strip())
        if path is not None and path.attribute.name == name and path.sub is None:
            return False
    return True


def _member_entries(members: list[str]) -> list[dict[str, Any]]:
    prefix = f"{base_url()}/Users/"
    return [{"value": user_id, "$ref": prefix + user_id, "type": "User"} for user_id in members]


def _members_json(members: list[str]) -> str | None:
    """The entries of :func:`_member_entries` as JSON text, joined from the ids: a group of thousands
    renders in a millisecond instead of being built, copied and encoded entry by entry. ``None`` when
    an id would need escaping (the caller then takes the general path)."""
    if not PLAIN_JSON_TEXT.match("".join(members)):
        return None
    prefix = json_escaped(f"{base_url()}/Users/")
    entries = ",".join(f'{{"value":"{m}","$ref":"{prefix}{m}","type":"User"}}' for m in members)
    return f"[{entries}]"


def group_bodies(
    rows: Sequence[ScimGroup],
    attributes: Sequence[str] | None,
    excluded: Sequence[str] | None,
    *,
    strict: bool,
) -> list[Any]:
    """Rendered groups (dicts, or JSON text for a group showing members); members are loaded (two
    queries per page) only when the projection shows them.

    ``strict``: a group with more members than ``SCIM_MAX_GROUP_MEMBERS_RETURNED`` is an error (reads);
    otherwise its members are left out of the body (the response to a write that already happened).
    """
    members: dict[str, list[str]] = {}
    if rows and wants("members", GROUP_RESOURCE, attributes, excluded):
        store = _store()
        cap = get_state().config.max_group_members_returned
        counts = {row.id: row.member_count for row in rows}
        over = [row for row in rows if counts.get(row.id, 0) > cap]
        if over and strict:
            raise errors.TooMany(
                f'Group "{over[0].display_name}" has {counts[over[0].id]} members, more than the '
                f"{cap} a response may carry: ask with excludedAttributes=members and page through "
                f'GET /Users?filter=groups.value eq "{over[0].id}".'
            )
        load = [row.id for row in rows if 0 < counts.get(row.id, 0) <= cap]
        members = store.members(load) if load else {}
    # Members shown as they are (no projection into them): the group is rendered without them and
    # the array is spliced into its JSON.
    whole = bool(members) and shows_unchanged(GROUP_RESOURCE, "members", attributes, excluded)
    bodies: list[Any] = []
    for row in rows:
        ids = members.get(row.id, [])
        raw = _members_json(ids) if whole and ids else None
        if raw is not None:
            document = group_document(row, _location(row.id))
            group = render(document, GROUP_RESOURCE, attributes=attributes, excluded=excluded, copy=False)
            bodies.append(with_raw_attribute(group, "members", raw))
            continue
        group = group_document(row, _location(row.id), _member_entries(ids))
        bodies.append(render(group, GROUP_RESOURCE, attributes=attributes, excluded=excluded))
    return bodies


def _projection_args() -> tuple[list[str] | None, list[str] | None]:
    return projection(request, get_state().config)


def _resource_response(
    row: ScimGroup, status: int = 200, *, strict: bool = False, **headers: str
) -> Response:
    g.scim_resource_id = row.id
    attributes, excluded = _projection_args()
    body = group_bodies([row], attributes, excluded, strict=strict)[0]
    return scim_response(body, status, {"ETag": etag(row.version), **headers})


def create_group() -> Response:
    store = _store()
    row = store.create(json_body(request))
    context = g.scim_context
    if not context.settings.has_groups:
        # The tenant's first group: record it, and let the rest of this request (a /Bulk) see it.
        store.note_first_group()
        g.scim_context = replace(context, settings=replace(context.settings, has_groups=True))
    users.defer_event("group.created", row.tenant_id, id=row.id, display_name=row.display_name)
    return _resource_response(row, 201, Location=_location(row.id))


def get_group(group_id: str) -> Response:
    refuse_search_path(group_id)
    row = _store().get(group_id)
    g.scim_resource_id = row.id
    wanted = request.headers.get("If-None-Match")
    if wanted and any(parse_etag(tag) == row.version for tag in wanted.split(",")):
        return Response(status=304, headers={"ETag": etag(row.version)})
    return _resource_response(row, strict=True)


def _list(params: Any) -> Response:
    query, attributes, excluded = list_query(params, get_state().config)
    store = _store()
    if query.cursor is None:
        total, rows = store.search(query)
        return scim_response(list_body(group_bodies(rows, attributes, excluded, strict=True), query, total))
    page = cursor_page([store.segment(query)], query, "Groups")
    rows = [row for _, row in page.items]
    resources = group_bodies(rows, attributes, excluded, strict=True)
    return scim_response(list_body(resources, query, page.total, page))


def list_groups() -> Response:
    return _list(request.args)


def search_groups() -> Response:
    return _list(search_body(request))


def replace_group(group_id: str) -> Response:
    refuse_search_path(group_id)
    row, changed = _store().replace(group_id, json_body(request), request.headers.get("If-Match"))
    if changed:
        users.defer_event("group.updated", row.tenant_id, id=row.id)
    return _resource_response(row)


def patch_group(group_id: str) -> Response:
    refuse_search_path(group_id)
    operations = patch_operations(request)
    row, changed = _store().patch(group_id, operations, request.headers.get("If-Match"))
    if changed:
        users.defer_event("group.updated", row.tenant_id, id=row.id)
    g.scim_resource_id = row.id
    # 204 by default: Entra expects it and advises against echoing the member list, Okta accepts it,
    # and the group's members need not be read and rendered in the write's transaction.
    config = get_state().config
    return patch_reply(etag(row.version), lambda: _resource_response(row), config.group_patch_response)


def delete_group(group_id: str) -> Response:
    refuse_search_path(group_id)
    g.scim_resource_id = group_id
    store = _store()
    store.delete(group_id, request.headers.get("If-Match"))
    users.defer_event("group.deleted", store.tenant_id, id=group_id)
    return Response(status=204)


# -- root search --------------------------------------------------------------------------------------


def _sort_columns(sort_by: str | None) -> tuple[Any, Any]:
    """The sort column per type; an attribute one type lacks sorts that type by creation only."""
    if not sort_by:
        return None, None
    found: list[Any] = []
    failure: errors.ScimError | None = None
    for sort in (GroupStore.sort_column, users.UserStore(get_state(), "", None)._sort_column):
        try:
            found.append(sort(sort_by))
        except errors.InvalidValue as exc:
            found.append(None)
            failure = exc
    if all(column is None for column in found) and failure is not None:
        raise failure
    return found[0], found[1]


def search_root() -> Response:
    """``POST /.search``: Groups then Users (ordered by resourceType, then sortBy, created, id).

    The filter is compiled for each type; an attribute a type does not have matches nothing there (an
    attribute neither has is ``400 invalidFilter``). Paging spans both, by index (each type is counted,
    then only the slice of each that falls on the page is read) or by cursor.
    """
    query, attributes, excluded = list_query(search_body(request), get_state().config)
    tenant_id = g.scim_context.tenant_id
    group_store = _store()
    group_condition, group_compiler = group_store.condition(query.filter, lenient=True)
    user_compiler = FilterCompiler(USER_RESOURCE, lenient=True)
    user_condition = ScimUser.tenant_id == tenant_id
    if query.filter is not None:
        user_condition = user_condition & user_compiler.compile(query.filter)
    unknown = group_compiler.unknown & user_compiler.unknown
    if unknown:
        raise errors.InvalidFilter(f"unknown attribute {sorted(unknown)[0]!r} in filter")
    group_sort, user_sort = _sort_columns(query.sort_by)
    segments = [
        Segment(ScimGroup, group_condition, GroupStore.keys(group_sort, query.descending)),
        Segment(ScimUser, user_condition, UserStore.keys(user_sort, query.descending), LISTED),
    ]
    page = None
    if query.cursor is None:
        total, items = index_list(get_state().db.session, segments, query.start_index - 1, query.count)
    else:
        page = cursor_page(segments, query, "")
        total, items = page.total, page.items
    groups = [row for segment, row in items if segment == 0]
    user_rows = [row for segment, row in items if segment == 1]
    resources = group_bodies(groups, attributes, excluded, strict=True) + users.user_bodies(
        user_rows, attributes, excluded
    )
    return scim_response(list_body(resources, query, total, page))


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/Groups", view_func=create_group, methods=["POST"])
    bp.add_url_rule("/Groups", view_func=list_groups, methods=["GET"])
    bp.add_url_rule("/Groups/.search", view_func=search_groups, methods=["POST"])
    bp.add_url_rule("/.search", endpoint="search_root", view_func=search_root, methods=["POST"])
    bp.add_url_rule("/Groups/<group_id>", view_func=get_group, methods=["GET"])
    bp.add_url_rule("/Groups/<group_id>", view_func=replace_group, methods=["PUT"])
    bp.add_url_rule("/Groups/<group_id>", view_func=patch_group, methods=["PATCH"])
    bp.add_url_rule("/Groups/<group_id>", view_func=delete_group, methods=["DELETE"])
