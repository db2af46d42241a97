"""A stored user as JSON: its default document (``scim_users.body``), its full resource, its ETag.

The API answers most reads straight from the stored ``body`` text (``stored_document`` splices in ``id``,
``meta`` and ``groups`` without parsing it); everything else renders from ``document``. Both give the
same bytes. ``permissions_from`` turns the permissions extension into the seam's value object.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import datetime
from typing import Any

from scim_plugin.core.render import render
from scim_plugin.core.schemas import PERMISSIONS_URN, USER_RESOURCE
from scim_plugin.core.values import format_datetime
from scim_plugin.seam import Permissions, Ref, TeamGrant, WorkspaceGrant
from scim_plugin.storage.models import ScimUser

# ``scim_users.body`` starts with this: the schema (and format) it was rendered under. A row written
# under another one is rendered from ``resource`` as if it had no body.
BODY_PREFIX = hashlib.sha256(f"body/1 {USER_RESOURCE!r}".encode()).hexdigest()[:16] + ":"


def rendered_body(resource: dict[str, Any]) -> str:
    """What ``scim_users.body`` holds for ``resource`` (stored without id, meta and groups): the
    default projection of it, as JSON, after ``BODY_PREFIX``."""
    shown = render(resource, USER_RESOURCE, copy=False)
    return BODY_PREFIX + json.dumps(shown, ensure_ascii=False, separators=(",", ":"))


def stored_document(row: Any, prefix: str, groups: list[dict[str, Any]] | None = None) -> str | None:
    """The JSON text of a user's default response from its stored ``body`` (``id``, ``meta`` with
    ``prefix`` + id as its location, and ``groups`` spliced in), or ``None`` when the row has no
    current body. Equal to ``json.dumps`` of ``meta`` and ``document``, without building them."""
    body = row.body
    if body is None or not body.startswith(BODY_PREFIX) or not body.endswith("}"):
        return None
    inner = body[len(BODY_PREFIX) + 1 : -1]
    # Timestamps, the integer version and ids of the usual characters need no escaping.
    user_id = row.id if PLAIN_JSON_TEXT.match(row.id) else _dumps(row.id)[1:-1]
    location = json_escaped(prefix) + user_id
    extra = f',"groups":{_dumps(groups)}' if groups else ""
    meta_text = (
        f'{{"resourceType":"User","created":"{format_datetime(row.created_at)}",'
        f'"lastModified":"{format_datetime(row.updated_at)}","location":"{location}",'
        f'"version":"W/\\"{int(row.version)}\\""}}'
    )
    return f'{{"id":"{user_id}"{"," if inner else ""}{inner}{extra},"meta":{meta_text}}}'


# Text JSON never escapes: the plugin's own ids (uuid4 text) are made of it.
PLAIN_JSON_TEXT = re.compile(r"[A-Za-z0-9._~-]*\Z")


@functools.lru_cache(maxsize=16)
def json_escaped(text: str) -> str:
    """``text`` as it stands inside a JSON string (a page's location prefix: escaped once, not per user)."""
    return _dumps(text)[1:-1]


def stored_resource(row: Any) -> dict[str, Any] | None:
    """A user's stored default document (``body``) as a dict, or ``None`` when it has no current one."""
    body = row.body
    if body is None or not body.startswith(BODY_PREFIX):
        return None
    return json.loads(body[len(BODY_PREFIX) :])  # type: ignore[no-any-return]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def etag(version: int) -> str:
    return f'W/"{version}"'


# Past any version this server issues, and past what SQLite binds: a tag beyond it is someone else's.
_MAX_VERSION = 2**63 - 1


def parse_etag(value: str) -> int | None:
    """The version an ``If-Match``/``If-None-Match`` value names, or ``None`` for a foreign tag."""
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    # ASCII digits only: str.isdigit() also takes superscripts, which int() refuses, and other scripts'
    # digits, which int() reads: an Arabic-Indic one is not our version 1.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(_MAX_VERSION)):
        return None
    version = int(text)
    return version if version <= _MAX_VERSION else None


def if_match_versions(header: str | None) -> list[int] | None:
    """``None`` when there is no ``If-Match``; ``[]`` for ``*``-less tags that name no version."""
    if header is None:
        return None
    if header.strip() == "*":
        return None
    return [v for v in (parse_etag(part) for part in header.split(",")) if v is not None]


def _ref(entry: dict[str, Any], id_key: str = "value", name_key: str = "display") -> Ref:
    return Ref(id=entry.get(id_key), name=entry.get(name_key))


def permissions_from(ext: dict[str, Any] | None) -> Permissions:
    """The permissions extension as the host seam's value object."""
    ext = ext or {}
    return Permissions(
        company_permissions=tuple(ext.get("companyPermissions") or ()),
        roles=tuple(_ref(role) for role in ext.get("roles") or ()),
        workspaces=tuple(
            WorkspaceGrant(
                workspace=_ref(ws),
                permissions=tuple(ws.get("permissions") or ()),
                permission_set=Ref(id=ws.get("permissionSetId"), name=ws.get("permissionSet"))
                if ws.get("permissionSet") or ws.get("permissionSetId")
                else None,
            )
            for ws in ext.get("workspaces") or ()
        ),
        teams=tuple(
            TeamGrant(
                team=_ref(team),
                workspace=Ref(id=team.get("workspace"), name=team.get("workspaceName"))
                if team.get("workspace") or team.get("workspaceName")
                else None,
                permissions=tuple(team.get("permissions") or ()),
            )
            for team in ext.get("teams") or ()
        ),
    )


def meta(row: ScimUser, location: str) -> dict[str, Any]:
    return {
        "resourceType": "User",
        "created": format_datetime(row.created_at),
        "lastModified": format_datetime(row.updated_at),
        "location": location,
        "version": etag(row.version),
    }


def document(row: ScimUser, location: str, last_sign_in: datetime | None = None) -> dict[str, Any]:
    """The full canonical resource of a stored user (before projection).

    A shallow copy: what it adds is new, and ``render``/``to_braze`` copy every value they emit, so the
    row's own document is never changed.
    """
    resource = dict(row.resource)
    resource["id"] = row.id
    resource["meta"] = meta(row, location)
    if last_sign_in is not None:
        resource[PERMISSIONS_URN] = {
            **resource.get(PERMISSIONS_URN, {}),
            "lastSignInAt": format_datetime(last_sign_in),
        }
        if PERMISSIONS_URN not in resource.get("schemas", []):
            resource["schemas"] = [*resource.get("schemas", []), PERMISSIONS_URN]
    return resource
