"""Discovery endpoints (RFC 7644 §4), generated from the schema definitions that drive validation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from scim_plugin.core import errors
from scim_plugin.core.attributes import Schema
from scim_plugin.core.canonical import with_canonical_values
from scim_plugin.core.schemas import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_RESOURCE,
    GROUP_SCHEMA,
    PERMISSIONS_SCHEMA,
    USER_RESOURCE,
    USER_SCHEMA,
)
from scim_plugin.state import get_state
from scim_plugin.web.api.responses import scim_response

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
# Only what is served (User first: Entra's checks read Resources[0] as /Users).
RESOURCE_TYPES = (USER_RESOURCE, GROUP_RESOURCE)
SCHEMAS = (USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA, PERMISSIONS_SCHEMA)


def base_url() -> str:
    return request.url_root.rstrip("/") + get_state().config.url_prefix


def _list(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "itemsPerPage": len(resources),
        "startIndex": 1,
        "Resources": resources,
    }


def service_provider_config() -> Response:
    if request.args.get("filter"):
        raise errors.Forbidden("Filtering is not supported on /ServiceProviderConfig.")
    config = get_state().config
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": True},
        "bulk": {
            "supported": config.bulk_max_operations > 0,
            "maxOperations": config.bulk_max_operations,
            "maxPayloadSize": config.bulk_max_payload_bytes,
        },
        "filter": {"supported": True, "maxResults": config.max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": config.default_page_size,
            "maxPageSize": config.max_results,
            "cursorTimeout": config.cursor_timeout,
        },
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "SCIM bearer token",
                "description": "The token from Settings > Admin Settings > SCIM Provisioning, sent as "
                "'Authorization: Bearer <token>' with the X-Request-Origin header.",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": base_url() + "/ServiceProviderConfig"},
    }
    return scim_response(body)


def resource_types() -> Response:
    return scim_response(
        _list([rt.to_scim(f"{base_url()}/ResourceTypes/{rt.name}") for rt in RESOURCE_TYPES])
    )


def resource_type(name: str) -> Response:
    for rt in RESOURCE_TYPES:
        if rt.name.lower() == name.lower():
            return scim_response(rt.to_scim(f"{base_url()}/ResourceTypes/{rt.name}"))
    raise errors.NotFound(f"No resource type {name!r}.")


def _tenant_schemas() -> list[Schema]:
    """The schemas with the caller's tenant's canonical values (workspaces, roles, permissions...)."""
    context = g.scim_context
    values = get_state().hook.scim_canonical_values(tenant_id=context.tenant_id) or {}
    return [with_canonical_values(s, values) for s in SCHEMAS]


def schemas() -> Response:
    return scim_response(_list([s.to_scim(f"{base_url()}/Schemas/{s.id}") for s in _tenant_schemas()]))


def schema(urn: str) -> Response:
    for s in _tenant_schemas():
        if s.id.lower() == urn.lower():
            return scim_response(s.to_scim(f"{base_url()}/Schemas/{s.id}"))
    raise errors.NotFound(f"No schema {urn!r}.")


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/ServiceProviderConfig", view_func=service_provider_config, methods=["GET"])
    bp.add_url_rule("/ResourceTypes", view_func=resource_types, methods=["GET"])
    bp.add_url_rule("/ResourceTypes/<name>", view_func=resource_type, methods=["GET"])
    bp.add_url_rule("/Schemas", view_func=schemas, methods=["GET"])
    bp.add_url_rule("/Schemas/<path:urn>", view_func=schema, methods=["GET"])
