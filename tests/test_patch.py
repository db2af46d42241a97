"""PATCH engine (RFC 7644 §3.5.2), replaying the IdP payloads documented in peers-and-idps.md §4."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scim_plugin.core.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    ScimError,
)
from scim_plugin.core.patch import PatchResult, apply_patch

from .test_filter_parser import ENTERPRISE_URN, GROUP_TYPE, USER_TYPE, USER_URN

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def make_user(**overrides: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen",
        "userName": "bjensen@example.com",
        "displayName": "Babs Jensen",
        "active": True,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
        "meta": {"created": "2011-08-01T18:29:49.793Z", "lastModified": "2011-08-01T18:29:49.793Z"},
        ENTERPRISE_URN: {
            "department": "Tour Operations",
            "manager": {"value": "boss-1", "displayName": "John"},
        },
    }
    user.update(overrides)
    return user


def make_group(*member_ids: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [{"value": member_id, "display": f"User {member_id}"} for member_id in member_ids],
    }


def patch(resource: dict[str, Any], body: dict[str, Any], resource_type: Any = USER_TYPE) -> PatchResult:
    """Apply a full PATCH request body, checking the input is never mutated."""
    snapshot = copy.deepcopy(resource)
    assert body["schemas"] == [PATCH_OP]
    result = apply_patch(resource, body["Operations"], resource_type)
    assert resource == snapshot
    return result


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# -- Microsoft Entra ID


def test_entra_disable_with_string_boolean() -> None:
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    result = patch(make_user(), body)
    assert result.resource["active"] is False
    assert result.changed


def test_entra_disable_with_flag_sends_real_boolean() -> None:
    result = patch(make_user(), ops({"op": "replace", "path": "active", "value": False}))
    assert result.resource["active"] is False


@pytest.mark.parametrize("value", ["True", "true", "TRUE", True])
def test_string_booleans_any_case(value: Any) -> None:
    result = patch(make_user(active=False), ops({"op": "Replace", "path": "active", "value": value}))
    assert result.resource["active"] is True


def test_entra_capitalised_add_of_single_valued_attribute() -> None:
    result = patch(make_user(), ops({"op": "Add", "path": "nickName", "value": "Babs"}))
    assert result.resource["nickName"] == "Babs"


def test_entra_update_cycle_one_op_per_path() -> None:
    body = ops(
        {"op": "Replace", "path": "displayName", "value": "Barbara J."},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "barbara@example.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Barb"},
        {"op": "Replace", "path": "externalId", "value": "barbj"},
        {"op": "Replace", "path": f"{ENTERPRISE_URN}:employeeNumber", "value": "701984"},
    )
    result = patch(make_user(), body).resource
    assert result["displayName"] == "Barbara J."
    assert result["emails"] == [{"value": "barbara@example.com", "type": "work", "primary": True}]
    assert result["name"] == {"givenName": "Barb", "familyName": "Jensen"}
    assert result["externalId"] == "barbj"
    assert result[ENTERPRISE_URN]["employeeNumber"] == "701984"
    assert result[ENTERPRISE_URN]["department"] == "Tour Operations"


def test_entra_add_work_email_value_creates_the_entry() -> None:
    user = make_user()
    del user["emails"]
    body = ops({"op": "Add", "path": 'emails[type eq "work"].value', "value": "bjensen@example.com"})
    result = patch(user, body)
    assert result.resource["emails"] == [{"type": "work", "value": "bjensen@example.com"}]


def test_entra_replace_work_email_value_creates_the_entry_next_to_others() -> None:
    user = make_user(emails=[{"value": "babs@home.example", "type": "home"}])
    body = ops({"op": "replace", "path": 'emails[type eq "work"].value', "value": "b@work.example"})
    emails = patch(user, body).resource["emails"]
    assert emails == [
        {"value": "babs@home.example", "type": "home"},
        {"type": "work", "value": "b@work.example"},
    ]


def test_validator_adds_home_email_value_display_and_primary() -> None:
    body = ops(
        {"op": "add", "path": 'emails[type eq "home"].value', "value": "babs@home.example"},
        {"op": "add", "path": 'emails[type eq "home"].display', "value": "Home"},
        {"op": "add", "path": 'emails[type eq "home"].primary', "value": "True"},
    )
    emails = patch(make_user(), body).resource["emails"]
    # Making the home email primary clears the work one (RFC 7643 §2.4: at most one primary).
    assert emails == [
        {"value": "bjensen@example.com", "type": "work", "primary": False},
        {"type": "home", "value": "babs@home.example", "display": "Home", "primary": True},
    ]


def test_entra_pathless_replace_with_dotted_and_urn_keys() -> None:
    body = ops(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "kim@contoso.com"},
        {
            "op": "replace",
            "value": {
                "active": False,
                "name.givenName": "Kim",
                "name.familyName": "Smith",
                f"{ENTERPRISE_URN}:employeeNumber": "13",
                f"{ENTERPRISE_URN}:department": "Finance",
            },
        },
    )
    result = patch(make_user(), body).resource
    assert result["active"] is False
    assert result["name"] == {"givenName": "Kim", "familyName": "Smith"}
    assert result["emails"][0]["value"] == "kim@contoso.com"
    assert result[ENTERPRISE_URN] == {
        "department": "Finance",
        "employeeNumber": "13",
        "manager": {"value": "boss-1", "displayName": "John"},
    }
    assert "name.givenName" not in result


def test_entra_capitalised_attribute_names() -> None:
    body = ops(
        {"op": "Replace", "path": "UserName", "value": "barbara@example.com"},
        {"op": "Replace", "value": {"Active": "False", "DisplayName": "BJ", "Department": "Sales"}},
        {"op": "Replace", "path": "Manager", "value": {"Value": "boss-2"}},
        {"op": "Replace", "path": 'Emails[Type eq "work"].Primary', "value": "True"},
    )
    result = patch(make_user(), body).resource
    assert result["userName"] == "barbara@example.com"
    assert result["active"] is False
    assert result["displayName"] == "BJ"
    assert result[ENTERPRISE_URN]["department"] == "Sales"
    assert result[ENTERPRISE_URN]["manager"]["value"] == "boss-2"
    assert result["emails"][0]["primary"] is True


def test_entra_manager_as_bare_string() -> None:
    body = ops(
        {
            "op": "Replace",
            "path": f"{ENTERPRISE_URN}:manager",
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
        }
    )
    result = patch(make_user(), body).resource
    # A bare id is the whole new manager; the old manager's server-computed displayName must not linger.
    assert result[ENTERPRISE_URN]["manager"] == {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}


def test_entra_manager_as_object() -> None:
    user = make_user()
    del user[ENTERPRISE_URN]["manager"]
    body = ops({"op": "Add", "path": f"{ENTERPRISE_URN}:manager", "value": {"value": "boss-2"}})
    assert patch(user, body).resource[ENTERPRISE_URN]["manager"] == {"value": "boss-2"}


def test_entra_manager_string_in_pathless_urn_key_and_manager_value_path() -> None:
    user = make_user()
    del user[ENTERPRISE_URN]
    body = ops(
        {"op": "add", "value": {f"{ENTERPRISE_URN}:manager": "boss-3"}},
        {"op": "replace", "path": f"{ENTERPRISE_URN}:manager.value", "value": "boss-4"},
    )
    assert patch(user, body).resource[ENTERPRISE_URN] == {"manager": {"value": "boss-4"}}


def test_entra_remove_member_with_value_list() -> None:
    group = make_group("u1090", "u1091", "u1092")
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}],
    }
    result = patch(group, body, GROUP_TYPE)
    assert [member["value"] for member in result.resource["members"]] == ["u1090", "u1092"]
    assert result.changed


def test_entra_remove_member_with_flag_uses_filter() -> None:
    group = make_group("7f4bc1a3", "other")
    body = ops({"op": "remove", "path": 'members[value eq "7f4bc1a3"]'})
    result = patch(group, body, GROUP_TYPE)
    assert [member["value"] for member in result.resource["members"]] == ["other"]


def test_entra_add_member_with_null_ref() -> None:
    group = make_group("u1")
    body = ops({"op": "Add", "path": "members", "value": [{"$ref": None, "value": "u2"}]})
    result = patch(group, body, GROUP_TYPE)
    assert result.resource["members"] == [{"value": "u1", "display": "User u1"}, {"value": "u2"}]


def test_entra_add_existing_member_is_not_duplicated() -> None:
    group = make_group("u1")
    body = ops({"op": "Add", "path": "members", "value": [{"$ref": None, "value": "u1"}]})
    result = patch(group, body, GROUP_TYPE)
    assert result.resource["members"] == [{"value": "u1", "display": "User u1"}]
    assert not result.changed


def test_entra_several_memberships_in_one_patch() -> None:
    body = ops(
        {"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
        {"op": "Remove", "path": "members", "value": [{"value": "u1"}]},
        {"op": "Replace", "path": "displayName", "value": "Guides"},
    )
    result = patch(make_group("u1"), body, GROUP_TYPE).resource
    assert result["members"] == [{"value": "a"}, {"value": "b"}]
    assert result["displayName"] == "Guides"


def test_postman_remove_all_members() -> None:
    result = patch(make_group("a", "b"), ops({"op": "remove", "path": "members"}), GROUP_TYPE)
    assert "members" not in result.resource


def test_validator_empty_operations() -> None:
    user = make_user()
    result = patch(user, {"schemas": [PATCH_OP], "Operations": []})
    assert result == PatchResult(user, False)
    assert result.resource is not user


def test_entra_filter_path_on_single_valued_complex_attribute() -> None:
    body = ops({"op": "replace", "path": 'name[givenName eq "Barbara"].familyName', "value": "Smith"})
    assert patch(make_user(), body).resource["name"] == {"givenName": "Barbara", "familyName": "Smith"}


# -- Okta


def test_okta_deactivate_pathless() -> None:
    result = patch(
        make_user(), {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    )
    assert result.resource["active"] is False
    assert result.changed


def test_okta_pathless_replace_carrying_id() -> None:
    user = make_user()
    body = ops({"op": "replace", "value": {"id": user["id"], "active": False}})
    assert patch(user, body).resource["active"] is False


def test_okta_group_rename_carries_id_and_display_name() -> None:
    group = make_group("u1")
    body = ops({"op": "replace", "value": {"id": group["id"], "displayName": "Tour Leads"}})
    result = patch(group, body, GROUP_TYPE)
    assert result.resource["displayName"] == "Tour Leads"


def test_okta_group_rename_without_change_is_not_a_change() -> None:
    group = make_group("u1")
    body = ops({"op": "replace", "value": {"id": group["id"], "displayName": "Tour Guides"}})
    assert not patch(group, body, GROUP_TYPE).changed


def test_okta_pathless_replace_echoing_schemas_meta_and_groups() -> None:
    user = make_user()
    value = {
        "schemas": [USER_URN],
        "id": user["id"],
        "meta": {"created": "1999-01-01T00:00:00Z", "resourceType": "User"},
        "groups": [],
        "displayName": "Babs",
    }
    result = patch(user, ops({"op": "replace", "value": value}))
    assert result.resource["displayName"] == "Babs"
    assert result.resource["meta"] == user["meta"]
    assert "groups" not in result.resource


def test_okta_pathless_replace_with_a_different_id_is_rejected() -> None:
    with pytest.raises(Mutability, match="'id'"):
        patch(make_user(), ops({"op": "replace", "value": {"id": "someone-else", "active": False}}))


def test_okta_push_empty_group_replaces_members_with_empty_list() -> None:
    result = patch(make_group("a", "b"), ops({"op": "replace", "path": "members", "value": []}), GROUP_TYPE)
    assert "members" not in result.resource
    assert result.changed


def test_okta_membership_remove_by_filter_then_add() -> None:
    body = ops(
        {"op": "remove", "path": 'members[value eq "a"]'},
        {"op": "add", "path": "members", "value": [{"value": "c", "display": "Carol"}]},
    )
    result = patch(make_group("a", "b"), body, GROUP_TYPE).resource
    assert result["members"] == [{"value": "b", "display": "User b"}, {"value": "c", "display": "Carol"}]


def test_okta_full_replace_of_members() -> None:
    body = ops(
        {"op": "replace", "path": "members", "value": [{"value": "x", "display": "X"}, {"value": "y"}]}
    )
    result = patch(make_group("a"), body, GROUP_TYPE).resource
    assert result["members"] == [{"value": "x", "display": "X"}, {"value": "y"}]


# -- OneLogin and JumpCloud


def test_onelogin_lowercase_add_to_group() -> None:
    body = ops({"op": "add", "path": "members", "value": [{"value": "u9"}]})
    assert patch(make_group(), body, GROUP_TYPE).resource["members"] == [{"value": "u9"}]


def test_onelogin_template_number_for_string_attribute() -> None:
    body = ops({"op": "replace", "path": "employeeNumber", "value": 42})
    assert patch(make_user(), body).resource[ENTERPRISE_URN]["employeeNumber"] == "42"


def test_jumpcloud_remove_members_with_value_array() -> None:
    body = ops(
        {"op": "remove", "path": "members", "value": [{"value": "a"}, {"value": "c"}, {"value": "zz"}]}
    )
    result = patch(make_group("a", "b", "c"), body, GROUP_TYPE).resource
    assert result["members"] == [{"value": "b", "display": "User b"}]


def test_remove_with_value_never_removes_everything() -> None:
    group = make_group("a", "b")
    for value in ([], [{}], [{"value": None}], {"display": "nobody"}):
        result = patch(group, ops({"op": "remove", "path": "members", "value": value}), GROUP_TYPE)
        assert result.resource["members"] == group["members"]
        assert not result.changed


def test_remove_emails_with_values_matches_case_insensitively() -> None:
    user = make_user(emails=[{"value": "a@x.com", "type": "work"}, {"value": "b@x.com", "type": "home"}])
    body = ops({"op": "remove", "path": "emails", "value": [{"value": "A@X.COM"}]})
    assert patch(user, body).resource["emails"] == [{"value": "b@x.com", "type": "home"}]


# -- RFC semantics


def test_add_to_multi_valued_wraps_single_object_and_dedups() -> None:
    body = ops(
        {"op": "add", "path": "emails", "value": {"value": "babs@home.example", "type": "home"}},
        {"op": "add", "path": "emails", "value": [{"value": "BJENSEN@example.com"}]},
    )
    emails = patch(make_user(), body).resource["emails"]
    assert emails == [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@home.example", "type": "home"},
    ]


def test_pathless_add_appends_to_multi_valued_and_replace_overwrites() -> None:
    new = {"value": "new@x.com", "type": "other"}
    added = patch(make_user(), ops({"op": "add", "value": {"emails": [new]}})).resource["emails"]
    assert len(added) == 2
    replaced = patch(make_user(), ops({"op": "replace", "value": {"emails": [new]}})).resource["emails"]
    assert replaced == [new]


def test_replace_complex_keeps_unspecified_sub_attributes() -> None:
    result = patch(make_user(), ops({"op": "replace", "path": "name", "value": {"givenName": "Barb"}}))
    assert result.resource["name"] == {"givenName": "Barb", "familyName": "Jensen"}


def test_null_sub_attribute_in_complex_replace_removes_it() -> None:
    body = ops({"op": "replace", "path": "name", "value": {"familyName": None, "formatted": "Barbara"}})
    assert patch(make_user(), body).resource["name"] == {"givenName": "Barbara", "formatted": "Barbara"}


def test_replace_with_null_unassigns() -> None:
    result = patch(make_user(), ops({"op": "replace", "path": "displayName", "value": None}))
    assert "displayName" not in result.resource


def test_replace_matching_entries_by_filter() -> None:
    user = make_user(
        emails=[{"value": "a@x", "type": "work", "primary": True}, {"value": "b@x", "type": "home"}]
    )
    body = ops({"op": "replace", "path": 'emails[type eq "home"]', "value": {"value": "c@x", "type": "home"}})
    assert patch(user, body).resource["emails"][1] == {"value": "c@x", "type": "home"}


def test_replace_with_non_eq_filter_matching_nothing_is_no_target() -> None:
    body = ops({"op": "replace", "path": 'emails[value co "@nowhere"].type', "value": "other"})
    with pytest.raises(NoTarget):
        patch(make_user(), body)


def test_add_creates_entry_from_and_of_eq_filters_with_coerced_boolean() -> None:
    body = ops({"op": "add", "path": 'roles[type eq "app" and primary eq "True"].value', "value": "admin"})
    assert patch(make_user(), body).resource["roles"] == [{"type": "app", "primary": True, "value": "admin"}]


def test_remove_sub_attribute_and_filtered_sub_attribute() -> None:
    body = ops(
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": 'emails[type eq "work"].primary'},
    )
    result = patch(make_user(), body).resource
    assert result["name"] == {"familyName": "Jensen"}
    assert result["emails"] == [{"value": "bjensen@example.com", "type": "work"}]


def test_remove_with_filter_matching_nothing_succeeds_unchanged() -> None:
    result = patch(make_user(), ops({"op": "remove", "path": 'emails[type eq "home"]'}))
    assert not result.changed


def test_remove_of_absent_attribute_succeeds_unchanged() -> None:
    result = patch(
        make_user(), ops({"op": "remove", "path": "title"}, {"op": "remove", "path": "phoneNumbers"})
    )
    assert not result.changed


def test_removing_last_extension_attribute_drops_the_extension() -> None:
    user = make_user(**{ENTERPRISE_URN: {"department": "X"}})
    result = patch(user, ops({"op": "remove", "path": f"{ENTERPRISE_URN}:department"}))
    assert ENTERPRISE_URN not in result.resource


def test_whole_extension_as_path() -> None:
    user = make_user()
    del user[ENTERPRISE_URN]
    added = patch(user, ops({"op": "add", "path": ENTERPRISE_URN, "value": {"department": "Ops"}})).resource
    assert added[ENTERPRISE_URN] == {"department": "Ops"}
    removed = patch(make_user(), ops({"op": "remove", "path": ENTERPRISE_URN})).resource
    assert ENTERPRISE_URN not in removed


def test_pathless_extension_object_and_unknown_extension() -> None:
    body = ops(
        {
            "op": "add",
            "value": {
                ENTERPRISE_URN: {"department": "Ops", "manager.value": "boss-9"},
                "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User": {"costCode": "7"},
            },
        }
    )
    result = patch(make_user(), body).resource
    assert result[ENTERPRISE_URN] == {
        "department": "Ops",
        "manager": {"value": "boss-9", "displayName": "John"},
    }
    assert "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User" not in result


def test_readonly_sub_attribute_in_value_is_ignored() -> None:
    body = ops({"op": "replace", "path": "manager", "value": {"value": "boss-1", "displayName": "Forged"}})
    result = patch(make_user(), body)
    assert result.resource[ENTERPRISE_URN]["manager"] == {"value": "boss-1", "displayName": "John"}
    assert not result.changed


def test_new_primary_clears_previous_primary() -> None:
    body = ops(
        {"op": "add", "path": "emails", "value": [{"value": "new@x.com", "type": "home", "primary": True}]}
    )
    emails = patch(make_user(), body).resource["emails"]
    assert [email["primary"] for email in emails] == [False, True]


def test_two_primaries_in_one_value_are_rejected() -> None:
    value = [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": "true"}]
    with pytest.raises(InvalidValue, match="primary"):
        patch(make_user(), ops({"op": "replace", "path": "emails", "value": value}))


def test_immutable_may_be_set_once() -> None:
    user = make_user()
    set_once = patch(user, ops({"op": "add", "path": "badge", "value": "B-1"})).resource
    assert set_once["badge"] == "B-1"
    assert not patch(set_once, ops({"op": "replace", "path": "badge", "value": "B-1"})).changed
    with pytest.raises(Mutability, match="immutable"):
        patch(set_once, ops({"op": "replace", "path": "badge", "value": "B-2"}))
    with pytest.raises(Mutability):
        patch(set_once, ops({"op": "remove", "path": "badge"}))


def test_immutable_member_value_cannot_change() -> None:
    body = ops({"op": "replace", "path": 'members[value eq "a"].value', "value": "b"})
    with pytest.raises(Mutability):
        patch(make_group("a"), body, GROUP_TYPE)


def test_path_with_surrounding_spaces_and_empty_path_means_pathless() -> None:
    body = ops(
        {"op": "replace", "path": "  displayName ", "value": "X"},
        {"op": "replace", "path": "", "value": {"title": "Boss"}},
    )
    result = patch(make_user(), body).resource
    assert (result["displayName"], result["title"]) == ("X", "Boss")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("loginCount", "12", 12),
        ("loginCount", 12.0, 12),
        ("score", "2.5", 2.5),
        ("employeeSince", "2020-01-02T03:04:05+01:00", "2020-01-02T03:04:05+01:00"),
        ("tags", "solo", ["solo"]),
        ("title", ["Boss"], "Boss"),
    ],
)
def test_value_coercion(path: str, value: Any, expected: Any) -> None:
    assert patch(make_user(), ops({"op": "add", "path": path, "value": value})).resource[path] == expected


# -- changed


def test_changed_false_when_values_are_identical() -> None:
    user = make_user()
    body = ops(
        {"op": "replace", "path": "active", "value": "True"},
        {"op": "replace", "path": "name.givenName", "value": "Barbara"},
        {"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com", "type": "work"}]},
    )
    result = patch(user, body)
    assert not result.changed
    assert result.resource == user


def test_changed_compares_the_final_result_with_the_input() -> None:
    body = ops({"op": "replace", "path": "title", "value": "A"}, {"op": "remove", "path": "title"})
    assert not patch(make_user(), body).changed
    assert patch(make_user(), ops({"op": "replace", "path": "title", "value": "A"})).changed


# -- errors


@pytest.mark.parametrize(
    "operations",
    [
        None,
        {"op": "add"},
        "add",
        [["add"]],
        ["add"],
        [{"path": "title", "value": "x"}],
        [{"op": 1}],
        [{"op": "move"}],
    ],
)
def test_malformed_operations_are_invalid_syntax(operations: Any) -> None:
    with pytest.raises(InvalidSyntax):
        apply_patch(make_user(), operations, USER_TYPE)


def test_unknown_op_detail() -> None:
    with pytest.raises(InvalidSyntax, match="invalid op 'copy'"):
        apply_patch(make_user(), [{"op": "copy", "path": "title"}], USER_TYPE)


def test_path_must_be_a_string() -> None:
    with pytest.raises(InvalidPath):
        apply_patch(make_user(), [{"op": "remove", "path": 7}], USER_TYPE)


def test_add_without_value() -> None:
    with pytest.raises(InvalidValue):
        patch(make_user(), ops({"op": "add", "path": "title"}))


def test_remove_without_path_is_no_target() -> None:
    with pytest.raises(NoTarget, match="path"):
        patch(make_user(), ops({"op": "remove"}))


@pytest.mark.parametrize(
    "path",
    [
        "nosuch",
        "name.nosuch",
        "urn:example:unknown:2.0:User:department",
        "name givenName",
        "title[value eq 1]",
    ],
)
def test_bad_or_unknown_path(path: str) -> None:
    with pytest.raises(InvalidPath):
        patch(make_user(), ops({"op": "replace", "path": path, "value": "x"}))


@pytest.mark.parametrize(
    "path", ['emails[type xx "work"].value', 'emails[nosuch eq "x"]', "emails[active eq true]"]
)
def test_bad_filter_inside_path(path: str) -> None:
    with pytest.raises(InvalidFilter):
        patch(make_user(), ops({"op": "replace", "path": path, "value": "x"}))


def test_bad_filter_inside_remove_path_even_without_values() -> None:
    user = make_user()
    del user["emails"]
    with pytest.raises(InvalidFilter):
        patch(user, ops({"op": "remove", "path": 'emails[nosuch eq "x"]'}))


@pytest.mark.parametrize(
    "value",
    [
        {"nosuch": 1},
        {"name.nosuch": "x"},
        {"urn:example:unknown:2.0:User:department": "x"},
        {f"{ENTERPRISE_URN}:nosuch": "x"},
    ],
)
def test_unknown_pathless_key_is_invalid_path(value: dict[str, Any]) -> None:
    key = next(iter(value))
    with pytest.raises(InvalidPath, match=key.split(".")[-1].split(":")[-1]):
        patch(make_user(), ops({"op": "replace", "value": value}))


def test_pathless_value_must_be_an_object() -> None:
    with pytest.raises(InvalidValue):
        patch(make_user(), ops({"op": "replace", "value": [{"active": False}]}))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("active", "maybe"),
        ("active", 0),
        ("loginCount", "many"),
        ("loginCount", 1.5),
        ("score", True),
        ("employeeSince", "yesterday"),
        ("title", True),
        ("title", {"value": "x"}),
        ("title", ["a", "b"]),
        ("name", "Barbara Jensen"),
        ("emails", [{"value": "a@x", "nosuch": 1}]),
        ("emails", [42.5]),
        ('emails[type eq "work"]', True),
    ],
)
def test_wrong_types_are_invalid_value(path: str, value: Any) -> None:
    with pytest.raises(InvalidValue):
        patch(make_user(), ops({"op": "replace", "path": path, "value": value}))


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "id", "value": "2819c223-7f76-453a-919d-413861904646"},
        {"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"},
        {"op": "add", "path": "groups", "value": [{"value": "g1"}]},
        {"op": "remove", "path": "groups"},
        {"op": "remove", "path": "meta"},
        {"op": "replace", "path": "manager.displayName", "value": "Boss"},
        {"op": "replace", "value": {"meta.created": "2020-01-01T00:00:00Z", "groups": [{"value": "g1"}]}},
    ],
)
def test_read_only_targets(operation: dict[str, Any]) -> None:
    with pytest.raises(Mutability):
        patch(make_user(), ops(operation))


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "userName"},
        {"op": "replace", "path": "userName", "value": None},
        {"op": "replace", "path": "userName", "value": ""},
    ],
)
def test_required_attribute_cannot_be_removed(operation: dict[str, Any]) -> None:
    with pytest.raises(InvalidValue, match="userName"):
        patch(make_user(), ops(operation))


def test_atomic_when_second_operation_fails() -> None:
    user = make_user()
    snapshot = copy.deepcopy(user)
    body = ops(
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "nosuch", "value": "x"},
    )
    with pytest.raises(InvalidPath) as info:
        apply_patch(user, body["Operations"], USER_TYPE)
    assert user == snapshot
    assert info.value.detail.startswith("Operations[1]:")
    assert info.value.to_dict()["scimType"] == "invalidPath"


def test_errors_keep_status_and_scim_type() -> None:
    with pytest.raises(ScimError) as info:
        apply_patch(make_user(), [{"op": "remove"}], USER_TYPE)
    assert (info.value.status, info.value.scim_type) == (400, "noTarget")


def test_remove_with_capitalised_value_key() -> None:
    body = ops({"op": "Remove", "path": "members", "value": [{"Value": "b"}]})
    assert [m["value"] for m in patch(make_group("a", "b"), body, GROUP_TYPE).resource["members"]] == ["a"]


def test_pathless_key_with_value_filter() -> None:
    body = ops({"op": "replace", "value": {'emails[type eq "work"].display': "Work"}})
    assert patch(make_user(), body).resource["emails"][0]["display"] == "Work"


# -- fuzzing: a ScimError is the only possible failure

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_PATHS = st.sampled_from(
    [
        "userName",
        "active",
        "name",
        "name.givenName",
        "emails",
        "emails.primary",
        'emails[type eq "work"]',
        'emails[type eq "work"].value',
        'emails[value co "x"].primary',
        "roles",
        "tags",
        "meta.created",
        "id",
        "groups",
        "badge",
        "loginCount",
        "employeeSince",
        ENTERPRISE_URN,
        f"{ENTERPRISE_URN}:manager",
        "manager.value",
        "nosuch",
        "emails[",
        "",
    ]
)
_OPERATION = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "Replace", "REMOVE", "move"])},
    optional={
        "path": _PATHS,
        "value": _JSON | st.dictionaries(_PATHS, _JSON, max_size=3) | st.lists(_JSON, max_size=3),
    },
)


@settings(database=None, max_examples=400, deadline=None)
@given(st.lists(_OPERATION, max_size=4))
def test_fuzz_operations_raise_only_scim_errors(operations: list[dict[str, Any]]) -> None:
    user = make_user()
    snapshot = copy.deepcopy(user)
    try:
        result = apply_patch(user, operations, USER_TYPE)
    except ScimError:
        pass
    else:
        assert result.changed == (result.resource != snapshot)
    assert user == snapshot


def test_extension_object_echoing_its_schemas_is_accepted():
    # scim2-tester (and clients built on pydantic models) serialise an extension with its "schemas".
    resource = {"schemas": [USER_URN], "userName": "x"}
    ops = [
        {
            "op": "add",
            "path": ENTERPRISE_URN,
            "value": {"schemas": [ENTERPRISE_URN], "department": "Sales"},
        }
    ]
    result = apply_patch(resource, ops, USER_TYPE)
    assert result.resource[ENTERPRISE_URN] == {"department": "Sales"}
