"""Schema definitions: RFC 7643 characteristics, discovery JSON and path resolution."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from scim_plugin.core.attributes import Attribute, Schema
from scim_plugin.core.schemas import (
    ALL_SCHEMAS,
    COMMON_ATTRIBUTES,
    ENTERPRISE_USER_SCHEMA,
    ENTERPRISE_USER_URN,
    EXTERNAL_ID,
    GROUP_RESOURCE,
    GROUP_SCHEMA,
    GROUP_URN,
    ID,
    META,
    PERMISSIONS_SCHEMA,
    PERMISSIONS_URN,
    RESOURCE_TYPES,
    USER_RESOURCE,
    USER_SCHEMA,
    USER_URN,
    common_schema,
    resolve_path,
    schema_by_urn,
)

TYPES = {"string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary"}
MUTABILITY = {"readOnly", "readWrite", "immutable", "writeOnly"}
RETURNED = {"always", "never", "default", "request"}
UNIQUENESS = {"none", "server", "global"}


def walk(attrs: tuple[Attribute, ...], prefix: str = "") -> Iterator[tuple[str, Attribute]]:
    for attr in attrs:
        yield prefix + attr.name, attr
        yield from walk(attr.sub_attributes, f"{prefix}{attr.name}.")


ALL_ATTRIBUTES = [
    (f"{schema.name}:{path}", attr) for schema in ALL_SCHEMAS for path, attr in walk(schema.attributes)
] + [(f"common:{path}", attr) for path, attr in walk(COMMON_ATTRIBUTES)]


def user_attr(path: str) -> Attribute:
    found = resolve_path(USER_RESOURCE, path)
    assert found is not None, path
    return found.target


@pytest.mark.parametrize(("path", "attr"), ALL_ATTRIBUTES, ids=[path for path, _ in ALL_ATTRIBUTES])
def test_every_attribute_is_described(path: str, attr: Attribute) -> None:
    assert attr.description.strip(), path


@pytest.mark.parametrize("schema", ALL_SCHEMAS, ids=lambda s: s.name)
def test_no_complex_inside_complex(schema: Schema) -> None:
    # RFC 7643 §2.4: a complex attribute's sub-attributes are never complex.
    for path, attr in walk(schema.attributes):
        if attr.type == "complex":
            assert all(sub.type != "complex" for sub in attr.sub_attributes), path


def test_core_user_schema_has_every_rfc_attribute() -> None:
    names = [attr.name for attr in USER_SCHEMA.attributes]
    assert names == [
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    ]
    # Common attributes live outside the schema (RFC 7643 §3.1), and Braze data lives in the extension.
    for name in ("id", "externalId", "meta", "lastSignInAt", "createdAt", "department", "permissions"):
        assert USER_SCHEMA.attribute(name) is None


def test_id_characteristics() -> None:
    assert user_attr("id") is ID
    assert (ID.type, ID.case_exact, ID.mutability, ID.returned, ID.uniqueness) == (
        "string",
        True,
        "readOnly",
        "always",
        "server",
    )


def test_external_id_and_username_characteristics() -> None:
    assert EXTERNAL_ID.case_exact is True
    assert EXTERNAL_ID.mutability == "readWrite"
    user_name = user_attr("userName")
    assert user_name.required is True
    assert user_name.uniqueness == "server"
    assert user_name.case_exact is False
    assert user_name.mutability == "readWrite"
    assert user_name.returned == "default"


def test_password_characteristics() -> None:
    password = user_attr("password")
    assert password.mutability == "writeOnly"
    assert password.returned == "never"
    assert password.required is False


def test_groups_characteristics() -> None:
    groups = user_attr("groups")
    assert groups.multi_valued and groups.type == "complex" and groups.mutability == "readOnly"
    assert [sub.name for sub in groups.sub_attributes] == ["value", "$ref", "display", "type"]
    assert all(sub.mutability == "readOnly" for sub in groups.sub_attributes)
    assert user_attr("groups.$ref").reference_types == ("User", "Group")
    assert user_attr("groups.type").canonical_values == ("direct", "indirect")


def test_manager_characteristics() -> None:
    manager = user_attr("manager")
    assert manager.type == "complex" and not manager.multi_valued
    assert [sub.name for sub in manager.sub_attributes] == ["value", "$ref", "displayName"]
    assert user_attr("manager.displayName").mutability == "readOnly"
    assert user_attr("manager.$ref").reference_types == ("User",)
    assert [attr.name for attr in ENTERPRISE_USER_SCHEMA.attributes] == [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    ]


@pytest.mark.parametrize(
    ("attr", "types"),
    [
        ("emails", ("work", "home", "other")),
        ("phoneNumbers", ("work", "home", "mobile", "fax", "pager", "other")),
        ("ims", ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        ("photos", ("photo", "thumbnail")),
        ("addresses", ("work", "home", "other")),
    ],
)
def test_multi_valued_canonical_types(attr: str, types: tuple[str, ...]) -> None:
    assert user_attr(f"{attr}.type").canonical_values == types
    assert user_attr(f"{attr}.primary").type == "boolean"


def test_misc_user_types() -> None:
    assert user_attr("active").type == "boolean"
    assert user_attr("profileUrl").type == "reference"
    assert user_attr("profileUrl").reference_types == ("external",)
    assert user_attr("photos.value").type == "reference"
    assert user_attr("x509Certificates.value").type == "binary"
    assert [sub.name for sub in user_attr("addresses").sub_attributes] == [
        "formatted",
        "streetAddress",
        "locality",
        "region",
        "postalCode",
        "country",
        "type",
        "primary",
    ]


def test_meta_is_read_only() -> None:
    assert META.mutability == "readOnly"
    assert [sub.name for sub in META.sub_attributes] == [
        "resourceType",
        "created",
        "lastModified",
        "location",
        "version",
    ]
    assert all(sub.mutability == "readOnly" for sub in META.sub_attributes)
    assert META.sub("created").type == "dateTime"  # type: ignore[union-attr]


def test_group_schema() -> None:
    display_name = GROUP_SCHEMA.attribute("displayName")
    assert display_name is not None and display_name.required  # erratum 5368
    members = GROUP_SCHEMA.attribute("members")
    assert members is not None and members.multi_valued and members.mutability == "readWrite"
    for name in ("value", "$ref", "type"):
        assert members.sub(name).mutability == "immutable"  # type: ignore[union-attr]
    assert members.sub("type").canonical_values == ("User", "Group")  # type: ignore[union-attr]
    assert members.sub("display").mutability == "readOnly"  # type: ignore[union-attr]


def test_permissions_schema_shape() -> None:
    assert PERMISSIONS_SCHEMA.id == PERMISSIONS_URN
    assert [attr.name for attr in PERMISSIONS_SCHEMA.attributes] == [
        "companyPermissions",
        "roles",
        "workspaces",
        "teams",
        "groupGrants",
        "lastSignInAt",
        "provisioningMethod",
    ]
    last = PERMISSIONS_SCHEMA.attribute("lastSignInAt")
    assert last is not None and last.type == "dateTime" and last.mutability == "readOnly"
    workspaces = PERMISSIONS_SCHEMA.attribute("workspaces")
    assert workspaces is not None
    assert workspaces.sub("permissions").multi_valued  # type: ignore[union-attr]
    teams = PERMISSIONS_SCHEMA.attribute("teams")
    assert teams is not None and teams.sub("workspace") is not None and teams.sub("workspaceName")


def check_attribute_doc(doc: dict[str, object], where: str) -> None:
    for key in ("name", "type", "multiValued", "description", "required", "mutability", "returned"):
        assert key in doc, f"{where}: {key}"
    assert doc["type"] in TYPES
    assert doc["mutability"] in MUTABILITY
    assert doc["returned"] in RETURNED
    assert isinstance(doc["multiValued"], bool) and isinstance(doc["required"], bool)
    if doc["type"] in ("string", "reference", "binary"):
        assert isinstance(doc["caseExact"], bool), where
    if doc["type"] != "complex":
        assert doc["uniqueness"] in UNIQUENESS, where
    if doc["type"] == "reference":
        assert doc["referenceTypes"], where
    if doc["type"] == "complex":
        subs = doc["subAttributes"]
        assert isinstance(subs, list) and subs, where
        for sub in subs:
            check_attribute_doc(sub, f"{where}.{sub['name']}")


@pytest.mark.parametrize("schema", ALL_SCHEMAS, ids=lambda s: s.name)
def test_schemas_discovery_document(schema: Schema) -> None:
    doc = schema.to_scim(f"/scim/v2/Schemas/{schema.id}")
    json.dumps(doc)  # must be plain JSON
    assert doc["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
    assert doc["id"] == schema.id
    assert doc["name"] and doc["description"]
    assert doc["meta"]["resourceType"] == "Schema"
    for attr in doc["attributes"]:
        check_attribute_doc(attr, attr["name"])


def test_resource_types_and_lookup() -> None:
    assert RESOURCE_TYPES == {"User": USER_RESOURCE, "Group": GROUP_RESOURCE}
    assert USER_RESOURCE.endpoint == "/Users" and GROUP_RESOURCE.endpoint == "/Groups"
    doc = USER_RESOURCE.to_scim("/scim/v2/ResourceTypes/User")
    assert doc["schema"] == USER_URN
    assert doc["schemaExtensions"] == [
        {"schema": ENTERPRISE_USER_URN, "required": False},
        {"schema": PERMISSIONS_URN, "required": False},
    ]
    assert GROUP_RESOURCE.to_scim("/x")["schemaExtensions"] == []
    assert schema_by_urn(USER_URN) is USER_SCHEMA
    assert schema_by_urn(GROUP_URN.upper()) is GROUP_SCHEMA
    assert schema_by_urn(PERMISSIONS_URN) is PERMISSIONS_SCHEMA
    assert schema_by_urn("urn:example:unknown") is None


@pytest.mark.parametrize(
    ("path", "schema_id", "attr", "sub"),
    [
        ("userName", USER_URN, "userName", None),
        ("USERNAME", USER_URN, "userName", None),
        ("name.givenName", USER_URN, "name", "givenName"),
        ("Name.GIVENNAME", USER_URN, "name", "givenName"),
        ("emails.value", USER_URN, "emails", "value"),
        (f"{USER_URN}:userName", USER_URN, "userName", None),
        (f"{USER_URN.upper()}:name.familyName", USER_URN, "name", "familyName"),
        ("department", ENTERPRISE_USER_URN, "department", None),
        (f"{ENTERPRISE_USER_URN}:manager.value", ENTERPRISE_USER_URN, "manager", "value"),
        (f"{PERMISSIONS_URN}:roles.display", PERMISSIONS_URN, "roles", "display"),
        ("roles", USER_URN, "roles", None),  # core wins over the permissions extension
        ("id", USER_URN, "id", None),
        ("ID", USER_URN, "id", None),
        ("externalId", USER_URN, "externalId", None),
        ("meta", USER_URN, "meta", None),
        ("meta.created", USER_URN, "meta", "created"),
        ("Meta.LastModified", USER_URN, "meta", "lastModified"),
        (f"{USER_URN}:meta.created", USER_URN, "meta", "created"),
        (f"{USER_URN}:id", USER_URN, "id", None),
    ],
)
def test_resolve_path(path: str, schema_id: str, attr: str, sub: str | None) -> None:
    found = resolve_path(USER_RESOURCE, path)
    assert found is not None
    assert found.schema.id == schema_id
    assert found.attribute.name == attr
    assert (found.sub.name if found.sub else None) == sub


@pytest.mark.parametrize(
    "path",
    [
        "",
        "nope",
        "name.nope",
        "meta.nope",
        "id.value",
        f"{ENTERPRISE_USER_URN}:id",
        f"{ENTERPRISE_USER_URN}:userName",
        "urn:example:unknown:userName",
        "members",
    ],
)
def test_resolve_path_unknown(path: str) -> None:
    assert resolve_path(USER_RESOURCE, path) is None


def test_common_attributes_are_top_level_paths() -> None:
    found = resolve_path(USER_RESOURCE, "meta.created")
    assert found is not None and not found.is_extension
    assert found.schema is common_schema(USER_RESOURCE)
    assert common_schema(USER_RESOURCE) is common_schema(USER_RESOURCE)
    group_found = resolve_path(GROUP_RESOURCE, f"{GROUP_URN}:externalId")
    assert group_found is not None and group_found.schema.id == GROUP_URN
    assert resolve_path(GROUP_RESOURCE, "members.value") is not None
    assert resolve_path(GROUP_RESOURCE, "userName") is None
    # The User URN does not qualify Group attributes.
    assert resolve_path(GROUP_RESOURCE, f"{USER_URN}:id") is None
