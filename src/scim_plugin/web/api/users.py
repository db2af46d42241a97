"""``/Users``: create, read, list and search, replace, patch and delete (RFC 7644 §3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from flask import Blueprint, Response, g, request

from scim_plugin.access.auth import ScimContext
from scim_plugin.core import errors
from scim_plugin.core.braze import to_braze
from scim_plugin.core.render import render
from scim_plugin.core.schemas import PERMISSIONS_URN, USER_RESOURCE
from scim_plugin.core.values import format_datetime
from scim_plugin.seam import Ref
from scim_plugin.state import get_state
from scim_plugin.storage.group_store import GroupStore
from scim_plugin.storage.user_documents import (
    document,
    etag,
    meta,
    parse_etag,
    stored_document,
    stored_resource,
)
from scim_plugin.storage.user_store import LISTED, LISTED_BODY, UserStore
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
from scim_plugin.web.api.responses import RawJSON, scim_response


def defer_event(name: str, tenant_id: str, **data: Any) -> None:
    """Queue a ``scim_event`` for after the commit (see ``finish_request``)."""
    g.setdefault("scim_events", []).append((name, tenant_id, data))


STYLE_HEADER = "X-SCIM-Response-Style"


def _context() -> ScimContext:
    return g.scim_context


def _store() -> UserStore:
    context = _context()
    settings = context.settings
    default = None
    if settings.default_workspace_id or settings.default_workspace_name:
        default = Ref(id=settings.default_workspace_id, name=settings.default_workspace_name)
    return UserStore(
        get_state(), context.tenant_id, default, settings.existing_users, settings.provisioning_method
    )


def _note_links(store: UserStore) -> None:
    """An exposed dashboard user this request took over: said on its audit record and as an event."""
    for user_id in store.linked:
        g.scim_audit_note = "linked an existing dashboard user (existing users: match)"
        defer_event("user.linked", store.tenant_id, id=user_id)


def _braze_style() -> bool:
    """Braze-shaped bodies when the client asks (header) or the tenant or app is set to ``braze``."""
    requested = request.headers.get(STYLE_HEADER, "").strip().lower()
    if requested in ("braze", "scim"):
        return requested == "braze"
    style = _context().settings.response_style or get_state().config.response_style
    return style == "braze"


def _location(user_id: str) -> str:
    return f"{base_url()}/Users/{user_id}"


def _groups(rows: Sequence[Any], attributes: list[str] | None, excluded: list[str] | None) -> dict[str, Any]:
    """The ``groups`` attribute of each user of a page, in one query (none when it is not shown)."""
    from scim_plugin.web.api.groups import wants

    if not rows or not _context().settings.has_groups or _braze_style():
        return {}
    if not wants("groups", USER_RESOURCE, attributes, excluded):
        return {}
    prefix = f"{base_url()}/Groups/"
    found = GroupStore(get_state(), _context().tenant_id).groups_of([row.id for row in rows])
    return {
        user_id: [
            {"value": group_id, "$ref": prefix + group_id, "display": name, "type": "direct"}
            for group_id, name in entries
        ]
        for user_id, entries in found.items()
    }


def _stored_page(attributes: list[str] | None, excluded: list[str] | None) -> bool:
    """Whether a page shows the default documents, which ``LISTED_BODY`` rows carry ready-made."""
    return not attributes and not excluded and not _braze_style()


def user_bodies(
    rows: Sequence[Any],
    attributes: list[str] | None = None,
    excluded: list[str] | None = None,
    *,
    stored: bool = False,
) -> list[Any]:
    """Response bodies of a page: ``ScimUser`` objects or ``LISTED`` rows; with ``stored``,
    ``LISTED_BODY`` rows of a default page (``_stored_page``), whose documents come as ``RawJSON``."""
    groups = _groups(rows, attributes, excluded)
    # Worked out once per page, not per user.
    prefix, braze = f"{base_url()}/Users/", _braze_style()
    bodies: list[Any] = []
    stale: dict[int, Any] = {}
    for index, row in enumerate(rows):
        text = stored_document(row, prefix, groups.get(row.id)) if stored else None
        if text is not None:
            bodies.append(RawJSON(text))
        elif stored:
            bodies.append(None)
            stale[index] = row
        else:
            bodies.append(_rendered(row, prefix, groups, attributes, excluded, braze))
    if stale:
        # Rows written before their body existed (or under another schema): from ``resource``. A user
        # deleted since the page was read is left out, as a later page query would.
        resources = _store().resources([row.id for row in stale.values()])
        for index, row in stale.items():
            if row.id in resources:
                full = _with_resource(row, resources[row.id])
                bodies[index] = _rendered(full, prefix, groups, attributes, excluded, braze)
        return [body for body in bodies if body is not None]
    return bodies


class _Listed(NamedTuple):
    """A ``LISTED`` row put together from a ``LISTED_BODY`` row and its ``resource``."""

    id: str
    tenant_id: str
    host_user_id: str | None
    resource: dict[str, Any]
    version: int
    created_at: Any
    updated_at: Any


def _with_resource(row: Any, resource: dict[str, Any]) -> _Listed:
    """A ``LISTED_BODY`` row (key columns may follow) as the ``LISTED`` row it would have been."""
    return _Listed(*row[:3], resource, *row[4 : len(LISTED)])


def _rendered(
    row: Any,
    prefix: str,
    groups: dict[str, Any],
    attributes: list[str] | None,
    excluded: list[str] | None,
    braze: bool,
) -> dict[str, Any]:
    resource = document(row, prefix + row.id)
    if row.id in groups:
        resource["groups"] = groups[row.id]
    if braze:
        return to_braze(resource)
    # A page is serialised at once and never changed: no defensive copies.
    return render(resource, USER_RESOURCE, attributes=attributes, excluded=excluded, copy=False)


def _body(
    row: Any,
    attributes: list[str] | None,
    excluded: list[str] | None,
    groups: list[dict[str, Any]] | None,
) -> Any:
    """One user as a response shows it, with what the host knows of it (``lastSignInAt``).

    ``row``: a ``ScimUser``, a ``LISTED`` row, or a ``LISTED_BODY`` row (default projection only).
    """
    last_sign_in = _last_sign_in(row)
    if _stored_page(attributes, excluded):
        stored = _from_body(row, last_sign_in, groups)
        if stored is not None:
            return stored
    if "resource" not in getattr(row, "_fields", ("resource",)):
        # A LISTED_BODY row without a current body: its document comes from ``resource``.
        found = _store().resources([row.id])
        if row.id not in found:  # deleted since it was read
            raise errors.NotFound(f"User {row.id} not found.")
        row = _with_resource(row, found[row.id])
    resource = document(row, _location(row.id), last_sign_in)
    if groups:
        resource["groups"] = groups
    if _braze_style():
        return to_braze(resource)
    return render(resource, USER_RESOURCE, attributes=attributes, excluded=excluded)


def _last_sign_in(row: Any) -> Any:
    """When the host says the user behind ``row`` last signed in (``scim_host_user_info``), or ``None``."""
    if row.host_user_id is None:
        return None
    info = get_state().hook.scim_host_user_info(tenant_id=row.tenant_id, host_user_id=row.host_user_id)
    return info.last_sign_in_at if info is not None else None


def _from_body(row: Any, last_sign_in: Any, groups: list[dict[str, Any]] | None) -> Any:
    """The default response from the stored ``body``: spliced text, or, to add the host's
    ``lastSignInAt``, a dict; ``None`` when the row has no current body."""
    if last_sign_in is None:
        text = stored_document(row, f"{base_url()}/Users/", groups)
        return RawJSON(text) if text is not None else None
    resource = stored_resource(row)
    if resource is None:
        return None
    # What ``document`` adds before rendering; the stored body already is the rendered default.
    signed_in = {"lastSignInAt": format_datetime(last_sign_in)}
    resource[PERMISSIONS_URN] = {**resource.get(PERMISSIONS_URN, {}), **signed_in}
    if PERMISSIONS_URN not in resource["schemas"]:
        resource["schemas"].append(PERMISSIONS_URN)  # the last extension: where rendering puts it
    out = {"id": row.id, **resource}
    if groups:
        out["groups"] = groups
    out["meta"] = meta(row, _location(row.id))
    return out


def _resource_response(row: Any, status: int = 200, **extra_headers: str) -> Response:
    """``row``: a ``ScimUser``, or a ``LISTED`` or ``LISTED_BODY`` row."""
    g.scim_resource_id = row.id
    return _rendered_response(row, status, **extra_headers)


def _rendered_response(row: Any, status: int = 200, **extra_headers: str) -> Response:
    attributes, excluded = _projection_args()
    headers = {"ETag": etag(row.version), **extra_headers}
    groups = _groups([row], attributes, excluded).get(row.id)
    return scim_response(_body(row, attributes, excluded, groups), status, headers)


def _projection_args() -> tuple[list[str] | None, list[str] | None]:
    return projection(request, get_state().config)


def create_user() -> Response:
    store = _store()
    new = store.prepare(json_body(request))
    # Rendered before anything is written: on SQLite the one write lock is held from the first write
    # to the commit, and the new user has no host user yet, so no ``lastSignInAt`` to show.
    response = _rendered_response(new.row, 201, Location=_location(new.row.id))
    row, changed = store.insert(new)
    g.scim_resource_id = row.id  # only now: a refused create names no resource in the audit trail
    if changed or _last_sign_in(row) is not None:
        # The dashboard holds more than the request said, the POST took over an existing dashboard user,
        # or a host adopted an existing account (show when it last signed in).
        response = _resource_response(row, 201, Location=_location(row.id))
    _note_links(store)
    if not store.linked:
        defer_event("user.created", row.tenant_id, id=row.id, user_name=row.user_name)
    return response


def get_user(user_id: str) -> Response:
    refuse_search_path(user_id)
    row = _store().read(user_id, LISTED_BODY if _stored_page(*_projection_args()) else LISTED)
    g.scim_resource_id = row.id
    wanted = request.headers.get("If-None-Match")
    if wanted and any(parse_etag(tag) == row.version for tag in wanted.split(",")):
        return Response(status=304, headers={"ETag": etag(row.version)})
    return _resource_response(row)


def _list(params: Any) -> Response:
    query, attributes, excluded = list_query(params, get_state().config)
    store = _store()
    stored = _stored_page(attributes, excluded)
    columns = LISTED_BODY if stored else LISTED
    if query.cursor is None:
        total, rows = store.search(query, columns)
        bodies = user_bodies(rows, attributes, excluded, stored=stored)
        return scim_response(list_body(bodies, query, total))
    page = cursor_page([store.segment(query, columns)], query, "Users")
    rows = [row for _, row in page.items]
    bodies = user_bodies(rows, attributes, excluded, stored=stored)
    return scim_response(list_body(bodies, query, page.total, page))


def list_users() -> Response:
    return _list(request.args)


def search_users() -> Response:
    return _list(search_body(request))


def replace_user(user_id: str) -> Response:
    refuse_search_path(user_id)
    store = _store()
    row = store.replace(user_id, json_body(request), request.headers.get("If-Match"))
    _note_links(store)
    defer_event("user.updated", row.tenant_id, id=row.id)
    return _resource_response(row)


def patch_user(user_id: str) -> Response:
    refuse_search_path(user_id)
    operations = patch_operations(request)
    store = _store()
    row, changed, was_active = store.patch(user_id, operations, request.headers.get("If-Match"))
    _note_links(store)
    if changed:
        name = "user.updated"
        if was_active != row.active:
            name = "user.reactivated" if row.active else "user.deactivated"
        defer_event(name, row.tenant_id, id=row.id)
    g.scim_resource_id = row.id
    return patch_reply(etag(row.version), lambda: _resource_response(row), get_state().config.patch_response)


def delete_user(user_id: str) -> Response:
    refuse_search_path(user_id)
    g.scim_resource_id = user_id
    store = _store()
    store.delete(user_id, request.headers.get("If-Match"))
    defer_event("user.deleted", store.tenant_id, id=user_id)
    return Response(status=204)


def me() -> Response:
    """``/Me`` (RFC 7644 §3.11) needs an authenticated *user*; a SCIM token acts for a company."""
    raise errors.NotImplementedFeature(
        "/Me is not supported: the SCIM token authenticates a company's provisioning client, not a user."
    )


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/Users", view_func=create_user, methods=["POST"])
    bp.add_url_rule("/Users", view_func=list_users, methods=["GET"])
    bp.add_url_rule("/Users/.search", view_func=search_users, methods=["POST"])
    # RFC 7644 §3.4.3 search from the root spans Users and Groups: see api/groups.py (search_root).
    bp.add_url_rule("/Me", view_func=me, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    bp.add_url_rule("/Users/<user_id>", view_func=get_user, methods=["GET"])
    bp.add_url_rule("/Users/<user_id>", view_func=replace_user, methods=["PUT"])
    bp.add_url_rule("/Users/<user_id>", view_func=patch_user, methods=["PATCH"])
    bp.add_url_rule("/Users/<user_id>", view_func=delete_user, methods=["DELETE"])
