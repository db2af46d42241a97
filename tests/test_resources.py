"""Canonicalisation of request bodies, projection, Braze rendering and PUT support."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from scim_plugin.core.braze import (
    braze_permissions_from_extension,
    extension_from_braze_permissions,
    format_braze_datetime,
    to_braze,
)
from scim_plugin.core.errors import InvalidSyntax, InvalidValue, Mutability
from scim_plugin.core.render import render
from scim_plugin.core.replace import check_immutable, merge_for_put
from scim_plugin.core.resources import BRAZE_DEPARTMENTS, Limits, normalize_input
from scim_plugin.core.schemas import (
    ENTERPRISE_USER_URN,
    GROUP_RESOURCE,
    GROUP_URN,
    PERMISSIONS_URN,
    USER_RESOURCE,
    USER_URN,
)
from scim_plugin.core.values import format_datetime, parse_datetime

ENT = ENTERPRISE_USER_URN
PERM = PERMISSIONS_URN

# Braze's POST /scim/v2/Users example (Braze SCIM reference §2.3).
BRAZE_POST: dict[str, Any] = {
    "schemas": [USER_URN],
    "userName": "user@example.com",
    "name": {"givenName": "Test", "familyName": "User"},
    "department": "finance",
    "permissions": {
        "companyPermissions": ["manage_company_settings"],
        "roles": [{"roleName": "Test Role"}, {"roleId": "2519dafcdba238ae7"}],
        "appGroup": [
            {
                "appGroupName": "Test Workspace",
                "appGroupPermissions": ["basic_access", "send_campaigns_canvases"],
                "team": [{"teamName": "Test Team", "teamPermissions": ["basic_access", "export_user_data"]}],
            },
            {
                "appGroupName": "Other Test Workspace",
                "appGroupPermissionSets": [{"appGroupPermissionSetName": "Test Permission Set"}],
            },
        ],
    },
}

# What Entra ID sends for a new user (default mappings, no aadOptscim062020 flag).
ENTRA_POST: dict[str, Any] = {
    "schemas": [USER_URN, ENT],
    "externalId": "jdoe",
    "userName": "jdoe@contoso.com",
    "active": "True",
    "displayName": "Jane Doe",
    "emails": [{"primary": True, "type": "work", "value": "jdoe@contoso.com"}],
    "name": {"formatted": "Jane Doe", "familyName": "Doe", "givenName": "Jane"},
    "title": "Engineer",
    ENT: {"department": "engineering", "manager": "mgr-123"},
}

# What Okta sends on assignment (Okta SCIM 2.0 reference).
OKTA_POST: dict[str, Any] = {
    "schemas": [USER_URN],
    "userName": "jdoe@example.com",
    "name": {"givenName": "Jane", "familyName": "Doe"},
    "emails": [{"primary": True, "value": "jdoe@example.com", "type": "work"}],
    "displayName": "Jane Doe",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}


def user(**extra: Any) -> dict[str, Any]:
    return {"userName": "u@example.com", **extra}


def error_detail(exc: pytest.ExceptionInfo[Exception]) -> str:
    return str(exc.value.detail)  # type: ignore[attr-defined]


# -- normalize_input: IdP bodies


def test_braze_post_normalizes_into_extensions() -> None:
    resource = normalize_input(copy.deepcopy(BRAZE_POST), USER_RESOURCE)
    assert resource["schemas"] == [USER_URN, ENT, PERM]
    assert resource["userName"] == "user@example.com"
    assert "department" not in resource and "permissions" not in resource
    assert resource[ENT] == {"department": "finance"}
    assert resource[PERM] == {
        "companyPermissions": ["manage_company_settings"],
        "roles": [{"display": "Test Role"}, {"value": "2519dafcdba238ae7"}],
        "workspaces": [
            {"display": "Test Workspace", "permissions": ["basic_access", "send_campaigns_canvases"]},
            {"display": "Other Test Workspace", "permissionSet": "Test Permission Set"},
        ],
        "teams": [
            {
                "display": "Test Team",
                "workspaceName": "Test Workspace",
                "permissions": ["basic_access", "export_user_data"],
            }
        ],
    }


def test_braze_round_trip_keeps_permissions() -> None:
    braze = to_braze(normalize_input(copy.deepcopy(BRAZE_POST), USER_RESOURCE))
    assert braze["schemas"] == [USER_URN]
    assert braze["department"] == "finance"
    assert braze["userName"] == BRAZE_POST["userName"]
    assert braze["name"] == BRAZE_POST["name"]
    permissions = braze["permissions"]
    # Roles come back with Braze's (server-computed) expansion, empty here.
    assert [role.pop("appGroup") for role in permissions["roles"]] == [[], []]
    assert permissions == BRAZE_POST["permissions"]
    # ...and the rendered form normalizes to the same resource again.
    again = normalize_input(braze, USER_RESOURCE)
    assert again == normalize_input(copy.deepcopy(BRAZE_POST), USER_RESOURCE)


def test_braze_response_shape_with_ids_and_set_ids() -> None:
    permissions = {
        "appGroup": [
            {
                "appGroupId": "241adcd25adfabcded",
                "appGroupName": "Production Workspace",
                "appGroupPermissionSets": [
                    {
                        "appGroupPermissionSetName": "A Permission Set",
                        "appGroupPermissionSetId": "dfa385109bc38",
                        "permissions": ["basic_access"],
                    }
                ],
                "team": [{"teamId": "t1", "teamName": "Some Team", "teamPermissions": ["admin"]}],
            }
        ],
        "roles": [{"roleName": "R", "roleId": "r1", "appGroup": [{"appGroupId": "ignored"}]}],
    }
    ext = extension_from_braze_permissions(permissions)
    assert ext == {
        "roles": [{"value": "r1", "display": "R"}],
        "workspaces": [
            {
                "value": "241adcd25adfabcded",
                "display": "Production Workspace",
                "permissionSet": "A Permission Set",
                "permissionSetId": "dfa385109bc38",
            }
        ],
        "teams": [
            {
                "value": "t1",
                "display": "Some Team",
                "workspace": "241adcd25adfabcded",
                "workspaceName": "Production Workspace",
                "permissions": ["admin"],
            }
        ],
    }
    back = braze_permissions_from_extension(ext)
    assert back == {
        "companyPermissions": [],
        "roles": [{"roleName": "R", "roleId": "r1", "appGroup": []}],
        "appGroup": [
            {
                "appGroupId": "241adcd25adfabcded",
                "appGroupName": "Production Workspace",
                "appGroupPermissionSets": [
                    {
                        "appGroupPermissionSetName": "A Permission Set",
                        "appGroupPermissionSetId": "dfa385109bc38",
                    }
                ],
                "team": [{"teamId": "t1", "teamName": "Some Team", "teamPermissions": ["admin"]}],
            }
        ],
    }


def test_braze_permission_set_id_key_casing() -> None:
    ext = extension_from_braze_permissions(
        {"APPGROUP": [{"appGroupId": "w1", "appGroupPermissionSets": [{"appGroupPermissionSetID": "s1"}]}]}
    )
    assert ext["workspaces"] == [{"value": "w1", "permissionSetId": "s1"}]


@pytest.mark.parametrize(
    ("permissions", "fragment"),
    [
        ("admin", "'permissions' must be an object"),
        ({"companyPermissions": "admin"}, "permissions.companyPermissions"),
        ({"companyPermissions": [1]}, "permissions.companyPermissions"),
        ({"roles": [{}]}, "permissions.roles[0]"),
        ({"roles": ["r"]}, "permissions.roles[0]"),
        ({"appGroup": {"appGroupName": "w"}}, "permissions.appGroup"),
        ({"appGroup": [{"appGroupPermissions": ["x"]}]}, "permissions.appGroup[0]"),
        ({"appGroup": [{"appGroupId": 5}]}, "permissions.appGroup[0].appGroupId"),
        ({"appGroup": [{"appGroupName": "w", "team": [{"teamPermissions": []}]}]}, "appGroup[0].team[0]"),
        (
            {"appGroup": [{"appGroupName": "w", "team": [{"teamName": "t", "teamPermissions": [3]}]}]},
            "team[0].teamPermissions",
        ),
        (
            {
                "appGroup": [
                    {
                        "appGroupName": "w",
                        "appGroupPermissionSets": [
                            {"appGroupPermissionSetName": "a"},
                            {"appGroupPermissionSetName": "b"},
                        ],
                    }
                ]
            },
            "exactly one",
        ),
    ],
)
def test_braze_permissions_errors(permissions: Any, fragment: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        normalize_input(user(permissions=permissions), USER_RESOURCE)
    assert fragment in error_detail(exc)


def test_braze_permissions_ignored_without_compat() -> None:
    resource = normalize_input(
        user(permissions={"companyPermissions": ["admin"]}), USER_RESOURCE, braze_compat=False
    )
    assert PERM not in resource and "permissions" not in resource


def test_braze_readonly_dates_dropped_on_input() -> None:
    body = user(lastSignInAt="2024 Nov 11, 4:20 PM", createdAt="N/A", id="x")
    assert normalize_input(body, USER_RESOURCE) == {"schemas": [USER_URN], "userName": "u@example.com"}


def test_entra_post() -> None:
    resource = normalize_input(copy.deepcopy(ENTRA_POST), USER_RESOURCE)
    assert resource == {
        "schemas": [USER_URN, ENT],
        "externalId": "jdoe",
        "userName": "jdoe@contoso.com",
        "active": True,
        "displayName": "Jane Doe",
        "emails": [{"primary": True, "type": "work", "value": "jdoe@contoso.com"}],
        "name": {"formatted": "Jane Doe", "familyName": "Doe", "givenName": "Jane"},
        "title": "Engineer",
        ENT: {"department": "engineering", "manager": {"value": "mgr-123"}},
    }


def test_entra_capitalised_names_and_manager_object() -> None:
    body = {
        "UserName": "a@b.c",
        "Active": "FALSE",
        "Emails": [{"Primary": "true", "Type": "work", "Value": "a@b.c"}],
        ENT.upper(): {"Department": "x", "Manager": {"Value": "m1", "displayName": "read only"}},
    }
    resource = normalize_input(body, USER_RESOURCE)
    assert resource["userName"] == "a@b.c"
    assert resource["active"] is False
    assert resource["emails"] == [{"primary": True, "type": "work", "value": "a@b.c"}]
    assert resource[ENT] == {"department": "x", "manager": {"value": "m1"}}


def test_empty_manager_string_means_no_manager() -> None:
    resource = normalize_input(user(**{ENT: {"manager": ""}}), USER_RESOURCE)
    assert ENT not in resource


def test_okta_post() -> None:
    resource = normalize_input(copy.deepcopy(OKTA_POST), USER_RESOURCE)
    assert "groups" not in resource  # readOnly: dropped
    assert resource["password"] == "1mz050nq"  # kept for the caller to hash
    assert resource["locale"] == "en-US"
    assert resource["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert resource["active"] is True
    assert resource["schemas"] == [USER_URN]
    # password never leaves through render.
    assert "password" not in render(resource, USER_RESOURCE)
    assert "password" not in render(resource, USER_RESOURCE, attributes=["password"])


def test_group_post_from_entra_and_okta() -> None:
    entra = {
        "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0",
        "displayName": "Group1DisplayName",
        "members": [],
    }
    assert normalize_input(entra, GROUP_RESOURCE) == {
        "schemas": [GROUP_URN],
        "externalId": "8aa1a0c0",
        "displayName": "Group1DisplayName",
    }
    okta = {
        "schemas": [GROUP_URN],
        "displayName": "Eng",
        "members": [{"value": "u1", "display": "Jane"}, {"value": "u2", "type": "User"}],
    }
    assert normalize_input(okta, GROUP_RESOURCE)["members"] == [
        {"value": "u1"},
        {"value": "u2", "type": "User"},
    ]


# -- normalize_input: rules


def test_body_must_be_an_object() -> None:
    for body in ([], "x", None, 3):
        with pytest.raises(InvalidSyntax):
            normalize_input(body, USER_RESOURCE)


def test_case_insensitive_keys_are_canonicalised() -> None:
    body = {
        "USERNAME": "a",
        "NAME": {"GivenName": "G", "FAMILYNAME": "F"},
        "displayname": "D",
        "EXTERNALID": "e",
    }
    assert normalize_input(body, USER_RESOURCE) == {
        "schemas": [USER_URN],
        "userName": "a",
        "name": {"givenName": "G", "familyName": "F"},
        "displayName": "D",
        "externalId": "e",
    }


def test_urn_qualified_flat_keys() -> None:
    body = {
        f"{USER_URN}:userName": "a",
        f"{ENT}:department": "x",
        f"{ENT.lower()}:MANAGER": "m",
        f"{ENT}:manager.$ref": "https://example.com/Users/m",
        f"{PERM}:companyPermissions": ["admin"],
    }
    resource = normalize_input(body, USER_RESOURCE)
    assert resource == {
        "schemas": [USER_URN, ENT, PERM],
        "userName": "a",
        ENT: {"department": "x", "manager": {"value": "m", "$ref": "https://example.com/Users/m"}},
        PERM: {"companyPermissions": ["admin"]},
    }


def test_dotted_keys_and_later_key_wins() -> None:
    body = {"userName": "a", "name": {"givenName": "G"}, "name.familyName": "F", "userName ": "ignored"}
    assert normalize_input(body, USER_RESOURCE)["name"] == {"givenName": "G", "familyName": "F"}
    later = normalize_input({"department": "a", ENT: {"department": "b"}, "userName": "u"}, USER_RESOURCE)
    assert later[ENT] == {"department": "b"}


def test_dotted_key_into_multi_valued_is_rejected() -> None:
    with pytest.raises(InvalidValue) as exc:
        normalize_input(user(**{"emails.value": "x"}), USER_RESOURCE)
    assert "emails" in error_detail(exc)


def test_core_urn_object_is_tolerated() -> None:
    assert normalize_input({USER_URN: {"userName": "a"}}, USER_RESOURCE)["userName"] == "a"


def test_unknown_attributes_ignored_and_nulls_absent() -> None:
    body = user(
        favouriteColour="blue", nickName=None, name={"givenName": None}, emails=[None], **{"urn:x:y": 1}
    )
    assert normalize_input(body, USER_RESOURCE) == {"schemas": [USER_URN], "userName": "u@example.com"}


def test_schemas_validation() -> None:
    # Missing, or without the core URN: tolerated.
    assert normalize_input({"userName": "a"}, USER_RESOURCE)["schemas"] == [USER_URN]
    assert normalize_input({"schemas": [ENT], "userName": "a"}, USER_RESOURCE)["schemas"] == [USER_URN]
    assert normalize_input({"schemas": USER_URN.upper(), "userName": "a"}, USER_RESOURCE)
    for schemas, fragment in (
        (["urn:example:custom:2.0:User"], "urn:example:custom:2.0:User"),
        ([GROUP_URN], GROUP_URN),
        ([1], "schemas"),
        ({"a": 1}, "schemas"),
    ):
        with pytest.raises(InvalidValue) as exc:
            normalize_input({"schemas": schemas, "userName": "a"}, USER_RESOURCE)
        assert fragment in error_detail(exc)


def test_required_attributes() -> None:
    with pytest.raises(InvalidValue) as exc:
        normalize_input({"name": {"givenName": "x"}}, USER_RESOURCE)
    assert "userName" in error_detail(exc)
    for empty in ("", "   "):
        with pytest.raises(InvalidValue) as exc:
            normalize_input({"userName": empty}, USER_RESOURCE)
        assert "userName" in error_detail(exc)
    with pytest.raises(InvalidValue) as exc:
        normalize_input({"members": []}, GROUP_RESOURCE)
    assert "displayName" in error_detail(exc)
    # Values are kept as sent, surrounding whitespace included.
    assert normalize_input({"userName": " a "}, USER_RESOURCE)["userName"] == " a "


def test_read_only_attributes_dropped() -> None:
    body = user(
        id="123",
        meta={"created": "2020-01-01T00:00:00Z"},
        groups=[{"value": "g"}],
        **{ENT: {"manager": {"value": "m", "displayName": "Boss"}}, PERM: {"provisioningMethod": "manual"}},
    )
    resource = normalize_input(body, USER_RESOURCE)
    assert resource == {
        "schemas": [USER_URN, ENT],
        "userName": "u@example.com",
        ENT: {"manager": {"value": "m"}},
    }


@pytest.mark.parametrize("value", ["True", "true", "TRUE", " true ", True])
def test_string_booleans_true(value: Any) -> None:
    assert normalize_input(user(active=value), USER_RESOURCE)["active"] is True


@pytest.mark.parametrize("value", ["False", "false", "fAlSe", False])
def test_string_booleans_false(value: Any) -> None:
    assert normalize_input(user(active=value), USER_RESOURCE)["active"] is False


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (user(active="yes"), "'active'"),
        (user(active=1), "'active'"),
        (user(displayName=5), "'displayName'"),
        (user(userName=["a"]), "'userName'"),
        (user(name="Jane Doe"), "'name'"),
        (user(name={"givenName": 1}), "'name.givenName'"),
        (user(emails="a@b.c"), "'emails'"),
        (user(emails=[{"value": "a@b.c"}, {"value": 1}]), "'emails[1].value'"),
        (user(emails=[{"value": "a", "primary": "maybe"}]), "'emails[0].primary'"),
        (user(emails=["a@b.c"]), "'emails[0]'"),
        (user(photos=[{"value": {}}]), "'photos[0].value'"),
        (user(x509Certificates=[{"value": 12}]), "'x509Certificates[0].value'"),
        (user(**{ENT: "engineering"}), f"'{ENT}'"),
        (user(**{ENT: {"department": 3}}), f"'{ENT}:department'"),
        (user(department=["x"]), f"'{ENT}:department'"),
        (user(**{ENT: {"manager": 7}}), f"'{ENT}:manager'"),
        (user(**{PERM: {"companyPermissions": "admin"}}), f"'{PERM}:companyPermissions'"),
        (
            user(**{PERM: {"workspaces": [{"value": "w", "permissions": [1]}]}}),
            "workspaces[0].permissions[0]",
        ),
        (user(externalId=12), "'externalId'"),
    ],
)
def test_type_errors_name_the_path(body: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        normalize_input(body, USER_RESOURCE)
    assert path in error_detail(exc)
    assert exc.value.scim_type == "invalidValue"


def test_single_object_for_multi_valued_complex_is_wrapped() -> None:
    resource = normalize_input(user(emails={"value": "a@b.c", "type": "work"}), USER_RESOURCE)
    assert resource["emails"] == [{"value": "a@b.c", "type": "work"}]


def test_only_first_primary_survives() -> None:
    emails = [
        {"value": "a", "primary": False},
        {"value": "b", "primary": True},
        {"value": "c", "primary": "True"},
        {"value": "d", "primary": True},
    ]
    resource = normalize_input(user(emails=emails), USER_RESOURCE)
    assert [e["primary"] for e in resource["emails"]] == [False, True, False, False]


def test_limits() -> None:
    limits = Limits(max_string_length=13, max_multi_values=2, max_depth=4, max_members=3)
    normalize_input(user(displayName="x" * 13), USER_RESOURCE, limits=limits)
    with pytest.raises(InvalidValue) as exc:
        normalize_input(user(displayName="x" * 14), USER_RESOURCE, limits=limits)
    assert "'displayName'" in error_detail(exc) and "13" in error_detail(exc)
    with pytest.raises(InvalidValue) as exc:
        normalize_input(user(emails=[{"value": "a"}] * 3), USER_RESOURCE, limits=limits)
    assert "'emails'" in error_detail(exc)
    with pytest.raises(InvalidValue) as exc:
        normalize_input(user(whatever={"a": {"b": {"c": {"d": 1}}}}), USER_RESOURCE, limits=limits)
    assert "nested" in error_detail(exc)
    # Group members have their own, larger limit.
    members = [{"value": str(n)} for n in range(3)]
    assert (
        len(
            normalize_input({"displayName": "g", "members": members}, GROUP_RESOURCE, limits=limits)[
                "members"
            ]
        )
        == 3
    )
    with pytest.raises(InvalidValue):
        normalize_input(
            {"displayName": "g", "members": [*members, {"value": "x"}]}, GROUP_RESOURCE, limits=limits
        )


def test_default_limits() -> None:
    with pytest.raises(InvalidValue):
        normalize_input(user(displayName="x" * 2049), USER_RESOURCE)
    with pytest.raises(InvalidValue):
        normalize_input(user(emails=[{"value": "a"}] * 101), USER_RESOURCE)
    deep: Any = 1
    for _ in range(20):
        deep = [deep]
    with pytest.raises(InvalidValue):
        normalize_input(user(x=deep), USER_RESOURCE)
    # The Braze permissions object fits the default depth.
    normalize_input(copy.deepcopy(BRAZE_POST), USER_RESOURCE)


def test_department_is_free_text() -> None:
    assert BRAZE_DEPARTMENTS == ("agency", "bi", "c_suite", "engineering", "finance", "marketing", "pm")
    resource = normalize_input(user(department="Research & Development"), USER_RESOURCE)
    assert resource[ENT]["department"] == "Research & Development"


def test_group_members_read_only_display_dropped_and_entries_kept() -> None:
    body = {"displayName": "g", "members": {"value": "u1", "display": "x", "$ref": "https://h/Users/u1"}}
    assert normalize_input(body, GROUP_RESOURCE)["members"] == [{"value": "u1", "$ref": "https://h/Users/u1"}]


def test_group_resource_knows_no_user_attributes() -> None:
    resource = normalize_input({"displayName": "g", "userName": "x", "department": "y"}, GROUP_RESOURCE)
    assert resource == {"schemas": [GROUP_URN], "displayName": "g"}
    with pytest.raises(InvalidValue):
        normalize_input({"schemas": [ENT], "displayName": "g"}, GROUP_RESOURCE)


def test_scalar_types_of_custom_extension() -> None:
    from scim_plugin.core.attributes import Attribute, ResourceType, Schema

    urn = "urn:example:params:scim:schemas:extension:types:2.0:User"
    ext = Schema(
        urn,
        "Types",
        "test",
        (
            Attribute("count", "integer"),
            Attribute("ratio", "decimal"),
            Attribute("hired", "dateTime"),
            Attribute("blob", "binary"),
            Attribute("tags", multi_valued=True),
        ),
    )
    rt = ResourceType("User", "/Users", "test", USER_RESOURCE.schema, ((ext, False),))
    body = user(
        **{
            urn: {
                "count": 3.0,
                "ratio": 1,
                "hired": "2024-11-11T17:20:00+01:00",
                "blob": "QUJD",
                "tags": ["a"],
            }
        }
    )
    assert normalize_input(body, rt)[urn] == {
        "count": 3,
        "ratio": 1,
        "hired": "2024-11-11T16:20:00Z",
        "blob": "QUJD",
        "tags": ["a"],
    }
    for name, bad in (
        ("count", True),
        ("count", 1.5),
        ("count", "3"),
        ("ratio", "1.0"),
        ("ratio", False),
        ("ratio", float("inf")),
        ("hired", "last week"),
        ("hired", 1731342000),
        ("tags", "a"),
        ("tags", ["a", 1]),
    ):
        with pytest.raises(InvalidValue) as exc:
            normalize_input(user(**{urn: {name: bad}}), rt)
        assert f"'{urn}:{name}" in error_detail(exc)
    assert normalize_input(user(**{urn: {"blob": "x" * 5000}}), rt)[urn]["blob"]  # binary has a larger limit
    assert normalize_input(user(profileUrl="https://example.com/u"), USER_RESOURCE)["profileUrl"]


# -- date-times


def test_datetime_parsing_and_formatting() -> None:
    assert format_datetime(parse_datetime("2024-11-11T16:20:00Z")) == "2024-11-11T16:20:00Z"
    assert format_datetime(parse_datetime("2024-11-11t17:20:00+01:00")) == "2024-11-11T16:20:00Z"
    assert format_datetime(parse_datetime("2024-11-11T16:20:00.5z")) == "2024-11-11T16:20:00.500000Z"
    assert parse_datetime("2024-11-11T16:20:00").tzinfo is UTC  # naive input is taken as UTC
    for bad in ("", "yesterday", "2024-13-01T00:00:00Z", "x" * 100):
        with pytest.raises(ValueError):
            parse_datetime(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "N/A"),
        ("", "N/A"),
        ("2024-11-11T16:20:00Z", "2024 Nov 11, 4:20 PM"),
        ("2024-11-11T00:05:00Z", "2024 Nov 11, 12:05 AM"),
        ("2024-11-11T12:00:00Z", "2024 Nov 11, 12:00 PM"),
        ("2024-01-02T09:07:00+02:00", "2024 Jan 02, 7:07 AM"),
        ("2023-12-31T23:59:59-01:00", "2024 Jan 01, 12:59 AM"),
        (datetime(2024, 11, 11, 16, 20, tzinfo=timezone(timedelta(hours=-5))), "2024 Nov 11, 9:20 PM"),
        (datetime(2024, 11, 11, 16, 20), "2024 Nov 11, 4:20 PM"),
    ],
)
def test_braze_date_format(value: Any, expected: str) -> None:
    assert format_braze_datetime(value) == expected


def test_to_braze_dates_and_attributes() -> None:
    resource = {
        "schemas": [USER_URN, ENT, PERM],
        "id": "abc",
        "externalId": "ext",
        "userName": "u@example.com",
        "active": True,
        "meta": {"resourceType": "User", "created": "2024-11-11T16:20:00Z"},
        "password": "should never show",
        ENT: {"department": "finance", "costCenter": "cc"},
        PERM: {"lastSignInAt": "2025-03-04T05:06:00Z", "provisioningMethod": "scim"},
    }
    braze = to_braze(resource)
    assert list(braze)[:3] == ["schemas", "id", "userName"]
    assert braze["schemas"] == [USER_URN]
    assert braze["createdAt"] == "2024 Nov 11, 4:20 PM"
    assert braze["lastSignInAt"] == "2025 Mar 04, 5:06 AM"
    assert braze["department"] == "finance"
    assert braze["permissions"] == {"companyPermissions": [], "roles": [], "appGroup": []}
    assert braze["externalId"] == "ext" and braze["active"] is True
    for absent in ("meta", "password", ENT, PERM, "costCenter"):
        assert absent not in braze
    bare = to_braze({"schemas": [USER_URN], "id": "1", "userName": "x"})
    assert bare["lastSignInAt"] == "N/A" and bare["createdAt"] == "N/A" and "department" not in bare


def test_braze_orphan_team_gets_its_own_workspace() -> None:
    ext = {
        "workspaces": [{"value": "w1", "display": "One"}],
        "teams": [
            {"value": "t1", "workspace": "w1", "permissions": ["admin"]},
            {"display": "T2", "workspaceName": "one"},
            {"display": "T3", "workspace": "w9"},
        ],
    }
    assert braze_permissions_from_extension(ext)["appGroup"] == [
        {
            "appGroupId": "w1",
            "appGroupName": "One",
            "team": [
                {"teamId": "t1", "teamPermissions": ["admin"]},
                {"teamName": "T2", "teamPermissions": []},
            ],
        },
        {"appGroupId": "w9", "team": [{"teamName": "T3", "teamPermissions": []}]},
    ]
    assert braze_permissions_from_extension(None) == {"companyPermissions": [], "roles": [], "appGroup": []}


# -- render

STORED: dict[str, Any] = {
    "schemas": [USER_URN, ENT, PERM],
    "id": "2819c223",
    "externalId": "ext-1",
    "userName": "bjensen@example.com",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [{"value": "b@example.com", "type": "work", "primary": True}, {"value": "h@example.com"}],
    "password": "secret",
    "meta": {"resourceType": "User", "created": "2024-11-11T16:20:00Z", "location": "/Users/2819c223"},
    ENT: {"department": "finance", "manager": {"value": "m1", "displayName": "Boss"}},
    PERM: {"companyPermissions": ["admin"], "lastSignInAt": "2024-11-12T08:00:00Z"},
    "notInAnySchema": "dropped",
}


def rendered(attributes: Any = None, excluded: Any = None) -> dict[str, Any]:
    return render(copy.deepcopy(STORED), USER_RESOURCE, attributes=attributes, excluded=excluded)


def test_render_default() -> None:
    out = rendered()
    expected = {k: v for k, v in STORED.items() if k not in ("password", "notInAnySchema")}
    assert out == expected
    assert next(iter(out)) == "schemas"


@pytest.mark.parametrize(
    ("attributes", "excluded", "expected"),
    [
        # attributes selects; id and schemas always come back
        (["userName"], None, {"schemas": [USER_URN], "id": "2819c223", "userName": "bjensen@example.com"}),
        (
            ["USERNAME", "nope"],
            None,
            {"schemas": [USER_URN], "id": "2819c223", "userName": "bjensen@example.com"},
        ),
        (
            "userName,name.givenName",
            None,
            {"name": {"givenName": "Barbara"}, "userName": "bjensen@example.com"},
        ),
        (["name.givenName"], None, {"name": {"givenName": "Barbara"}}),
        (["name.givenName", "name"], None, {"name": {"givenName": "Barbara", "familyName": "Jensen"}}),
        (["emails.value"], None, {"emails": [{"value": "b@example.com"}, {"value": "h@example.com"}]}),
        (["emails.type"], None, {"emails": [{"type": "work"}]}),
        ([f"{ENT}:department"], None, {ENT: {"department": "finance"}}),
        ([f"{ENT}:manager.value"], None, {ENT: {"manager": {"value": "m1"}}}),
        (["department"], None, {ENT: {"department": "finance"}}),
        ([ENT], None, {ENT: STORED[ENT]}),
        ([f"{USER_URN}:meta.created"], None, {"meta": {"created": "2024-11-11T16:20:00Z"}}),
        (["id"], None, {}),
        (["password"], None, {}),
    ],
)
def test_render_attributes(attributes: Any, excluded: Any, expected: dict[str, Any]) -> None:
    out = rendered(attributes, excluded)
    assert out.pop("id") == "2819c223"
    schemas = out.pop("schemas")
    expected.pop("schemas", None)
    expected.pop("id", None)
    assert out == expected
    assert schemas == [USER_URN, *(urn for urn in (ENT, PERM) if urn in expected)]


@pytest.mark.parametrize(
    ("excluded", "gone", "kept"),
    [
        (["emails"], ["emails"], ["userName", "name", "meta", ENT]),
        (["id", "userName"], ["userName"], ["id"]),
        (["name.givenName"], [], ["name"]),
        (["meta"], ["meta"], ["id"]),
        ([ENT], [ENT], [PERM]),
        ([f"{ENT}:department", f"{ENT}:manager"], [ENT], [PERM]),
        (["unknown", "name.unknown"], [], ["name", "emails"]),
    ],
)
def test_render_excluded(excluded: list[str], gone: list[str], kept: list[str]) -> None:
    out = rendered(excluded=excluded)
    for key in gone:
        assert key not in out
        assert key not in out["schemas"]
    for key in kept:
        assert key in out
    if excluded == ["name.givenName"]:
        assert out["name"] == {"familyName": "Jensen"}


def test_render_excluded_sub_attribute_of_multi_valued() -> None:
    out = rendered(excluded=["emails.primary", "emails.type"])
    assert out["emails"] == [{"value": "b@example.com"}, {"value": "h@example.com"}]


def test_render_request_and_never_returned() -> None:
    # No core attribute is returned=request, so exercise it through a custom resource type.
    from scim_plugin.core.attributes import Attribute, ResourceType, Schema

    schema = Schema(
        USER_URN,
        "User",
        "test",
        (
            Attribute("userName"),
            Attribute("secretish", returned="request"),
            Attribute("hidden", returned="never"),
            Attribute("box", "complex", sub_attributes=(Attribute("a"), Attribute("b", returned="request"))),
        ),
    )
    rt = ResourceType("User", "/Users", "test", schema)
    resource = {"id": "1", "userName": "u", "secretish": "s", "hidden": "h", "box": {"a": 1, "b": 2}}
    assert render(resource, rt) == {"schemas": [USER_URN], "id": "1", "userName": "u", "box": {"a": 1}}
    assert render(resource, rt, attributes=["secretish", "hidden", "box.b"]) == {
        "schemas": [USER_URN],
        "id": "1",
        "secretish": "s",
        "box": {"b": 2},
    }


def test_render_group_excluding_members() -> None:
    group = {
        "schemas": [GROUP_URN],
        "id": "g1",
        "displayName": "Eng",
        "members": [{"value": "u1", "display": "Jane"}],
        "meta": {"resourceType": "Group"},
    }
    out = render(group, GROUP_RESOURCE, excluded=["members"])
    assert out == {
        "schemas": [GROUP_URN],
        "id": "g1",
        "displayName": "Eng",
        "meta": {"resourceType": "Group"},
    }
    assert render(group, GROUP_RESOURCE, attributes=["members.display"])["members"] == [{"display": "Jane"}]


def test_render_does_not_alias_input() -> None:
    source = copy.deepcopy(STORED)
    out = render(source, USER_RESOURCE)
    out["name"]["givenName"] = "changed"
    out["emails"][0]["value"] = "changed"
    assert source == STORED


# -- PUT support


def test_merge_for_put_keeps_read_only_and_replaces_read_write() -> None:
    old = copy.deepcopy(STORED)
    old.pop("password")
    old["groups"] = [{"value": "g1", "display": "Eng"}]
    old[PERM]["provisioningMethod"] = "scim"
    new = normalize_input(
        {
            "id": "client-sent-id",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Babs"},
            "password": "new-secret",
            ENT: {"manager": "m1"},
        },
        USER_RESOURCE,
    )
    merged = merge_for_put(old, new, USER_RESOURCE)
    assert merged["id"] == "2819c223"
    assert merged["meta"] == STORED["meta"]
    assert merged["groups"] == [{"value": "g1", "display": "Eng"}]
    assert merged["name"] == {"givenName": "Babs"}
    assert merged["password"] == "new-secret"
    for cleared in ("emails", "externalId", "notInAnySchema"):
        assert cleared not in merged
    # department was omitted: cleared; the unchanged manager keeps its server-maintained displayName.
    assert merged[ENT] == {"manager": {"value": "m1", "displayName": "Boss"}}
    # companyPermissions cleared, readOnly extension data kept.
    assert merged[PERM] == {"lastSignInAt": "2024-11-12T08:00:00Z", "provisioningMethod": "scim"}
    assert merged["schemas"] == [USER_URN, ENT, PERM]
    assert old["groups"] == [{"value": "g1", "display": "Eng"}]  # inputs untouched


def test_merge_for_put_manager_change_drops_stale_display_name() -> None:
    old = {
        "schemas": [USER_URN, ENT],
        "id": "1",
        "userName": "u",
        ENT: {"manager": {"value": "m1", "displayName": "Boss"}},
    }
    new = normalize_input({"userName": "u", ENT: {"manager": "m2"}}, USER_RESOURCE)
    assert merge_for_put(old, new, USER_RESOURCE)[ENT] == {"manager": {"value": "m2"}}


def test_merge_for_put_group_keeps_member_display() -> None:
    old = {
        "schemas": [GROUP_URN],
        "id": "g1",
        "displayName": "Eng",
        "members": [{"value": "u1", "display": "Jane"}, {"value": "u2", "display": "Joe"}],
        "meta": {"resourceType": "Group"},
    }
    new = normalize_input(
        {"displayName": "Engineering", "members": [{"value": "u2"}, {"value": "u3"}]}, GROUP_RESOURCE
    )
    merged = merge_for_put(old, new, GROUP_RESOURCE)
    assert merged == {
        "schemas": [GROUP_URN],
        "id": "g1",
        "displayName": "Engineering",
        "members": [{"value": "u2", "display": "Joe"}, {"value": "u3"}],
        "meta": {"resourceType": "Group"},
    }


def immutable_resource_type() -> Any:
    from scim_plugin.core.attributes import Attribute, ResourceType, Schema

    ext = Schema(
        "urn:example:params:scim:schemas:extension:test:2.0:User",
        "Test",
        "test",
        (
            Attribute("badge", mutability="immutable"),
            Attribute("serial", case_exact=True, mutability="immutable"),
            Attribute(
                "card",
                "complex",
                sub_attributes=(Attribute("number", mutability="immutable"), Attribute("label")),
            ),
        ),
    )
    return ResourceType("User", "/Users", "test", USER_RESOURCE.schema, ((ext, False),)), ext.id


def test_check_immutable() -> None:
    rt, urn = immutable_resource_type()
    old = {"userName": "u", urn: {"badge": "B-1", "serial": "S-1", "card": {"number": "1", "label": "a"}}}
    check_immutable(old, {"userName": "v", urn: {"badge": "b-1", "serial": "S-1"}}, rt)  # caseExact false
    check_immutable(old, {"userName": "u"}, rt)  # omitted: nothing to compare
    check_immutable({"userName": "u"}, {"userName": "u", urn: {"badge": "new"}}, rt)  # first assignment
    check_immutable(old, {urn: {"card": {"number": "1", "label": "changed"}}}, rt)
    for new, path in (
        ({urn: {"badge": "B-2"}}, f"{urn}:badge"),
        ({urn: {"serial": "s-1"}}, f"{urn}:serial"),
        ({urn: {"card": {"number": "2"}}}, f"{urn}:card.number"),
    ):
        with pytest.raises(Mutability) as exc:
            check_immutable(old, new, rt)
        assert path in error_detail(exc)
    # Per-entry immutability of group members is not checked: changing members is a normal PUT.
    check_immutable(
        {"displayName": "g", "members": [{"value": "u1"}]},
        {"displayName": "g", "members": [{"value": "u2"}]},
        GROUP_RESOURCE,
    )


def test_merge_for_put_immutable_kept_when_omitted() -> None:
    rt, urn = immutable_resource_type()
    old = {"schemas": [USER_URN, urn], "id": "1", "userName": "u", urn: {"badge": "B-1"}}
    assert merge_for_put(old, {"userName": "u"}, rt)[urn] == {"badge": "B-1"}
    assert merge_for_put({"id": "1", "userName": "u"}, {"userName": "u", urn: {"badge": "B"}}, rt)[urn] == {
        "badge": "B"
    }
