"""``/Groups``, the root ``/.search``, Users' ``groups`` and ``/Me`` through the real app (RFC 7644 §3).

Includes replays of Entra's, Okta's and JumpCloud's group flows (docs/peers-and-idps.md §4) and every
membership PATCH shape IdPs send.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from examples.host_app.extensions import db
from sqlalchemy import func, select

from scim_plugin.config import ConfigError, ScimConfig
from scim_plugin.core.schemas import GROUP_URN
from scim_plugin.storage.models import ScimGroup, ScimGroupMember
from tests.conftest import ScimClient, issue_token
from tests.test_users_api import LIST, PATCH_OP, SEARCH, assert_error, new_user

MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


@pytest.fixture
def app_config() -> dict[str, Any]:
    # Most tests here read the group from the PATCH's answer: 200 with the group, an operator's choice.
    # The default (204) is tested on its own: test_group_patch_answers_204_by_default.
    return {"SCIM_GROUP_PATCH_RESPONSE": 200}


def new_group(
    scim: ScimClient, name: str = "Engineering", members: list[str] | None = None, **extra: Any
) -> Any:
    body: dict[str, Any] = {"schemas": [GROUP_URN], "displayName": name, **extra}
    if members is not None:
        body["members"] = [{"value": m} for m in members]
    r = scim.post("/Groups", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def patch(scim: ScimClient, group_id: str, *ops: dict[str, Any], query: str = "", **kwargs: Any) -> Any:
    return scim.patch(
        f"/Groups/{group_id}{query}", json={"schemas": [PATCH_OP], "Operations": list(ops)}, **kwargs
    )


def member_ids(scim: ScimClient, group_id: str) -> list[str]:
    r = scim.get(f"/Groups/{group_id}")
    assert r.status_code == 200, r.get_json()
    return sorted(m["value"] for m in r.get_json().get("members", []))


def users(scim: ScimClient, n: int, prefix: str = "u") -> list[str]:
    return [new_user(scim, f"{prefix}{i}@acme.example")["id"] for i in range(n)]


def filtered(scim: ScimClient, path: str, text: str, **params: str) -> Any:
    query = "&".join([f"filter={quote(text)}", *(f"{k}={quote(v)}" for k, v in params.items())])
    r = scim.get(f"{path}?{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def group_version(app: Any, group_id: str) -> int:
    with app.app_context():
        return db.session.get(ScimGroup, group_id).version


# -- create, read, uniqueness ------------------------------------------------------------------------


def test_create_and_get_with_etag(scim: ScimClient) -> None:
    [jane] = users(scim, 1)
    r = scim.post(
        "/Groups",
        json={"schemas": [GROUP_URN], "displayName": "Eng", "externalId": "x1", "members": [{"value": jane}]},
    )
    assert r.status_code == 201
    body = r.get_json()
    assert r.headers["Location"] == body["meta"]["location"] and body["meta"]["resourceType"] == "Group"
    assert r.headers["ETag"] == body["meta"]["version"] == 'W/"1"'
    assert body["displayName"] == "Eng" and body["externalId"] == "x1" and body["schemas"] == [GROUP_URN]
    assert body["members"] == [
        {"value": jane, "$ref": f"http://localhost/scim/v2/Users/{jane}", "type": "User"}
    ]
    got = scim.get(f"/Groups/{body['id']}")
    assert got.get_json() == body
    assert scim.get(f"/Groups/{body['id']}", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert scim.get(f"/Groups/{body['id']}", headers={"If-None-Match": 'W/"9"'}).status_code == 200
    assert_error(scim.get("/Groups/nope"), 404)


def test_display_name_is_unique_case_insensitively(app: Any, scim: ScimClient) -> None:
    new_group(scim, "Engineering")
    r = scim.post("/Groups", json={"displayName": "ENGINEERING"})
    assert_error(r, 409, "uniqueness")
    other = new_group(scim, "Sales")
    assert_error(
        patch(scim, other["id"], {"op": "replace", "path": "displayName", "value": "engineering"}),
        409,
        "uniqueness",
    )
    assert_error(scim.put(f"/Groups/{other['id']}", json={"displayName": "Engineering"}), 409, "uniqueness")
    assert_error(scim.post("/Groups", json={"members": []}), 400, "invalidValue")
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ScimGroup)).scalar_one() == 2


def test_create_with_unknown_member_writes_nothing(app: Any, scim: ScimClient) -> None:
    body = assert_error(
        scim.post("/Groups", json={"displayName": "Eng", "members": [{"value": "ghost-1"}]}),
        400,
        "invalidValue",
    )
    assert "ghost-1" in body["detail"]
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ScimGroup)).scalar_one() == 0


# -- list, filter, paging, projection ----------------------------------------------------------------


def test_list_filter_sort_page_and_project(scim: ScimClient) -> None:
    a, b = users(scim, 2)
    eng = new_group(scim, "Engineering", [a, b], externalId="ext-eng")
    ops = new_group(scim, "Ops", [a])
    empty = new_group(scim, "Empty")
    assert [
        g["displayName"] for g in filtered(scim, "/Groups", 'displayName eq "engineering"')["Resources"]
    ] == ["Engineering"]
    assert filtered(scim, "/Groups", 'externalId eq "ext-eng"')["totalResults"] == 1
    by_member = filtered(scim, "/Groups", f'members.value eq "{a}"', sortBy="displayName")
    assert [g["id"] for g in by_member["Resources"]] == [eng["id"], ops["id"]]
    assert filtered(scim, "/Groups", f'members[value eq "{b}"]')["totalResults"] == 1
    assert filtered(scim, "/Groups", f'id eq "{empty["id"]}"')["Resources"][0]["displayName"] == "Empty"
    assert filtered(scim, "/Groups", 'meta.created gt "2000-01-01T00:00:00Z"')["totalResults"] == 3
    assert filtered(scim, "/Groups", "members pr")["totalResults"] == 2
    page = filtered(
        scim,
        "/Groups",
        "displayName pr",
        sortBy="displayName",
        sortOrder="descending",
        startIndex="2",
        count="1",
    )
    assert page["totalResults"] == 3 and page["startIndex"] == 2 and page["itemsPerPage"] == 1
    assert page["Resources"][0]["displayName"] == "Engineering"
    slim = scim.get("/Groups?excludedAttributes=members").get_json()
    assert slim["schemas"] == [LIST] and all("members" not in g for g in slim["Resources"])
    only = scim.get("/Groups?attributes=displayName").get_json()["Resources"]
    assert all(set(g) == {"schemas", "id", "displayName"} for g in only)
    searched = scim.post(
        "/Groups/.search",
        json={
            "schemas": [SEARCH],
            "filter": 'displayName sw "E"',
            "excludedAttributes": ["members"],
            "sortBy": "displayName",
        },
    )
    assert [g["displayName"] for g in searched.get_json()["Resources"]] == ["Empty", "Engineering"]
    assert_error(scim.get("/Groups?filter=" + quote('userName eq "x"')), 400, "invalidFilter")
    assert_error(scim.get("/Groups?sortBy=members"), 400)
    assert_error(scim.get("/Groups/.search"), 405)


# -- PUT, DELETE -------------------------------------------------------------------------------------


def test_put_replaces_name_and_members(app: Any, scim: ScimClient) -> None:
    a, b, c = users(scim, 3)
    group = new_group(scim, "Eng", [a, b])
    r = scim.put(
        f"/Groups/{group['id']}", json={"displayName": "Engineering", "members": [{"value": b}, {"value": c}]}
    )
    assert r.status_code == 200 and r.get_json()["displayName"] == "Engineering"
    assert r.headers["ETag"] == 'W/"2"'
    assert member_ids(scim, group["id"]) == sorted([b, c])
    # If-Match with a stale version is refused and changes nothing.
    stale = scim.put(f"/Groups/{group['id']}", json={"displayName": "X"}, headers={"If-Match": 'W/"1"'})
    assert_error(stale, 412)
    # A PUT without members clears them (RFC 7644 §3.5.1: omitted readWrite attributes are cleared).
    assert scim.put(f"/Groups/{group['id']}", json={"displayName": "Engineering"}).status_code == 200
    assert member_ids(scim, group["id"]) == []
    assert_error(
        scim.put(f"/Groups/{group['id']}", json={"displayName": "E", "members": [{"value": "zz"}]}),
        400,
        "invalidValue",
    )


def test_delete_group_and_deleting_a_user_leaves_groups(app: Any, scim: ScimClient) -> None:
    a, b = users(scim, 2)
    group = new_group(scim, "Eng", [a, b])
    assert scim.delete(f"/Users/{a}").status_code == 204
    assert member_ids(scim, group["id"]) == [b]
    assert group_version(app, group["id"]) == 2
    assert_error(scim.delete(f"/Groups/{group['id']}", headers={"If-Match": 'W/"1"'}), 412)
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert_error(scim.get(f"/Groups/{group['id']}"), 404)
    assert_error(scim.delete(f"/Groups/{group['id']}"), 404)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ScimGroupMember)).scalar_one() == 0


# -- PATCH: every membership shape -------------------------------------------------------------------


def test_patch_add_with_value_list(app: Any, scim: ScimClient) -> None:
    a, b, c = users(scim, 3)
    group = new_group(scim, "Eng", [a])
    r = patch(scim, group["id"], {"op": "add", "path": "members", "value": [{"value": b}, {"value": c}]})
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"2"'
    assert sorted(m["value"] for m in r.get_json()["members"]) == sorted([a, b, c])
    # Adding an existing member again changes nothing (no new version).
    assert (
        patch(scim, group["id"], {"op": "add", "path": "members", "value": [{"value": a}]}).status_code == 200
    )
    assert group_version(app, group["id"]) == 2


def test_patch_remove_with_filter_path(scim: ScimClient) -> None:
    a, b, c = users(scim, 3)
    group = new_group(scim, "Eng", [a, b, c])
    r = patch(scim, group["id"], {"op": "remove", "path": f'members[value eq "{a}"]'})
    assert r.status_code == 200
    r = patch(scim, group["id"], {"op": "remove", "path": f'members[value eq "{b}" or value eq "{c}"]'})
    assert r.status_code == 200 and "members" not in r.get_json()
    assert_error(
        patch(scim, group["id"], {"op": "remove", "path": 'members[display eq "x"]'}), 400, "invalidFilter"
    )


def test_patch_entra_remove_with_value_list_removes_only_those(scim: ScimClient) -> None:
    a, b, c = users(scim, 3)
    group = new_group(scim, "Eng", [a, b, c])
    r = patch(scim, group["id"], {"op": "Remove", "path": "members", "value": [{"value": b}]})
    assert r.status_code == 200
    assert member_ids(scim, group["id"]) == sorted([a, c])
    # Without a value, remove empties the group (RFC 7644 §3.5.2.2).
    assert patch(scim, group["id"], {"op": "remove", "path": "members"}).status_code == 200
    assert member_ids(scim, group["id"]) == []


def test_patch_replace_members_including_empty(scim: ScimClient) -> None:
    a, b, c = users(scim, 3)
    group = new_group(scim, "Eng", [a, b])
    assert patch(
        scim, group["id"], {"op": "replace", "path": "members", "value": [{"value": c}, {"value": b}]}
    )
    assert member_ids(scim, group["id"]) == sorted([b, c])
    assert patch(scim, group["id"], {"op": "replace", "path": "members", "value": []}).status_code == 200
    assert member_ids(scim, group["id"]) == []


def test_patch_several_membership_ops_in_one_request(app: Any, scim: ScimClient) -> None:
    a, b, c, d = users(scim, 4)
    group = new_group(scim, "Eng", [a, b])
    r = patch(
        scim,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": c}, {"value": d}]},
        {"op": "remove", "path": f'members[value eq "{a}"]'},
        {"op": "Remove", "path": "members", "value": [{"value": d}]},
        {"op": "replace", "path": "displayName", "value": "Engineering"},
    )
    assert r.status_code == 200 and r.get_json()["displayName"] == "Engineering"
    assert member_ids(scim, group["id"]) == sorted([b, c])
    assert group_version(app, group["id"]) == 2  # one request, one new version


def test_patch_unknown_member_is_400_and_writes_nothing(app: Any, scim: ScimClient) -> None:
    a, b = users(scim, 2)
    group = new_group(scim, "Eng", [a])
    r = patch(
        scim,
        group["id"],
        {"op": "remove", "path": f'members[value eq "{a}"]'},
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "add", "path": "members", "value": [{"value": b}, {"value": "not-a-user"}]},
    )
    body = assert_error(r, 400, "invalidValue")
    assert "not-a-user" in body["detail"] and b not in body["detail"]
    got = scim.get(f"/Groups/{group['id']}").get_json()
    assert got["displayName"] == "Eng" and [m["value"] for m in got["members"]] == [a]
    assert group_version(app, group["id"]) == 1


def test_patch_removing_a_non_member_succeeds_and_changes_nothing(app: Any, scim: ScimClient) -> None:
    a, b = users(scim, 2)
    group = new_group(scim, "Eng", [a])
    r = patch(scim, group["id"], {"op": "remove", "path": f'members[value eq "{b}"]'})
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"1"'
    r = patch(scim, group["id"], {"op": "remove", "path": "members", "value": [{"value": "never-existed"}]})
    assert r.status_code == 200 and member_ids(scim, group["id"]) == [a]
    assert group_version(app, group["id"]) == 1


def test_patch_display_name_with_path_and_pathless(scim: ScimClient) -> None:
    group = new_group(scim, "Eng")
    assert (
        patch(scim, group["id"], {"op": "Replace", "path": "displayName", "value": "A"}).get_json()[
            "displayName"
        ]
        == "A"
    )
    r = patch(scim, group["id"], {"op": "Replace", "value": {"id": group["id"], "displayName": "B"}})
    assert r.status_code == 200 and r.get_json()["displayName"] == "B"
    assert_error(
        patch(scim, group["id"], {"op": "replace", "value": {"id": "other", "displayName": "C"}}), 400
    )
    assert_error(patch(scim, group["id"], {"op": "remove", "path": "displayName"}), 400)


def test_patch_pathless_members(scim: ScimClient) -> None:
    a, b = users(scim, 2)
    group = new_group(scim, "Eng", [a])
    r = patch(scim, group["id"], {"op": "add", "value": {"members": [{"value": b}]}})
    assert r.status_code == 200 and member_ids(scim, group["id"]) == sorted([a, b])
    r = patch(scim, group["id"], {"op": "replace", "value": {"displayName": "X", "members": [{"value": b}]}})
    assert r.get_json()["displayName"] == "X" and member_ids(scim, group["id"]) == [b]


def test_patch_responses_204_attributes_and_excluded_members(app: Any, scim: ScimClient) -> None:
    a, b = users(scim, 2)
    group = new_group(scim, "Eng", [a])
    r = patch(
        scim,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": b}]},
        query="?excludedAttributes=members",
    )
    assert r.status_code == 200 and "members" not in r.get_json() and r.get_json()["displayName"] == "Eng"
    app.extensions["scim"].config = ScimConfig.from_mapping({"SCIM_GROUP_PATCH_RESPONSE": 204})
    r = patch(scim, group["id"], {"op": "remove", "path": "members", "value": [{"value": b}]})
    assert r.status_code == 204 and r.headers["ETag"] == 'W/"3"' and not r.get_data()
    r = patch(
        scim,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": b}]},
        query="?attributes=displayName",
    )
    assert r.status_code == 200 and set(r.get_json()) == {"schemas", "id", "displayName"}


class TestGroupPatchDefault:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {}  # the plugin's defaults

    def test_group_patch_answers_204_by_default(self, scim: ScimClient) -> None:
        a, b = users(scim, 2)
        gid = new_group(scim, "Eng", [a])["id"]
        # Entra's membership PATCH, as it sends it (capitalised op, a value list): 204, no body, the version.
        r = patch(scim, gid, {"op": "Add", "path": "members", "value": [{"value": b}]})
        assert r.status_code == 204 and not r.get_data() and r.headers["ETag"] == 'W/"2"'
        assert member_ids(scim, gid) == sorted([a, b])
        # Okta's rename: a path-less replace carrying the group's id.
        r = patch(scim, gid, {"op": "replace", "value": {"id": gid, "displayName": "Eng 2"}})
        assert r.status_code == 204 and r.headers["ETag"] == 'W/"3"'
        assert scim.get(f"/Groups/{gid}").get_json()["displayName"] == "Eng 2"
        # A client that names attributes gets them (RFC 7644 §3.5.2: then the server MUST answer 200).
        r = patch(
            scim,
            gid,
            {"op": "remove", "path": "members", "value": [{"value": a}]},
            query="?attributes=members",
        )
        assert r.status_code == 200 and [m["value"] for m in r.get_json()["members"]] == [b]
        # Errors keep their bodies, and a user's PATCH still answers 200 with the user.
        assert_error(
            patch(scim, gid, {"op": "add", "path": "members", "value": [{"value": "nobody"}]}),
            400,
            "invalidValue",
        )
        body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        r = scim.patch(f"/Users/{a}", json=body)
        assert r.status_code == 200 and r.get_json()["active"] is False


def test_members_joined_as_text_equal_the_projected_members(scim: ScimClient) -> None:
    # Members shown whole are joined as JSON text; a projection into their sub-attributes builds them
    # as objects. Both must give the same entries, in a resource, a list page and a write's answer.
    ids = users(scim, 3)
    group = new_group(scim, "Eng", ids)
    expected = [
        {"value": i, "$ref": f"http://localhost/scim/v2/Users/{i}", "type": "User"} for i in sorted(ids)
    ]
    assert group["members"] == expected
    whole = scim.get(f"/Groups/{group['id']}").get_json()
    projected = scim.get(
        f"/Groups/{group['id']}?attributes=members.value,members.$ref,members.type,displayName"
    ).get_json()
    assert whole["members"] == projected["members"] == expected
    assert set(projected) == {"schemas", "id", "displayName", "members"}
    assert filtered(scim, "/Groups", 'displayName eq "Eng"')["Resources"] == [whole]
    [kept] = filtered(scim, "/Groups", 'displayName eq "Eng"', excludedAttributes="externalId,meta")[
        "Resources"
    ]
    assert kept["members"] == expected and "meta" not in kept
    value_only = scim.get(f"/Groups/{group['id']}?attributes=members.value").get_json()
    assert value_only["members"] == [{"value": i} for i in sorted(ids)]
    r = patch(scim, group["id"], {"op": "remove", "path": "members", "value": [{"value": ids[0]}]})
    assert r.status_code == 200 and r.get_json()["members"] == [e for e in expected if e["value"] != ids[0]]


def test_members_needing_json_escapes_take_the_general_path(app: Any) -> None:
    from scim_plugin.web.api.groups import _members_json

    with app.test_request_context("/scim/v2/Groups"):
        assert _members_json(['a"b', "c"]) is None and _members_json(["a\\b"]) is None
        assert _members_json(["a-1", "b_2"]) == (
            '[{"value":"a-1","$ref":"http://localhost/scim/v2/Users/a-1","type":"User"},'
            '{"value":"b_2","$ref":"http://localhost/scim/v2/Users/b_2","type":"User"}]'
        )


def test_member_cap(app: Any, scim: ScimClient) -> None:
    a, b, c = users(scim, 3)
    group = new_group(scim, "Eng", [a, b])
    capped = {"SCIM_MAX_GROUP_MEMBERS_RETURNED": 2, "SCIM_GROUP_PATCH_RESPONSE": 200}
    app.extensions["scim"].config = ScimConfig.from_mapping(capped)
    assert len(scim.get(f"/Groups/{group['id']}").get_json()["members"]) == 2
    r = patch(scim, group["id"], {"op": "add", "path": "members", "value": [{"value": c}]})
    assert r.status_code == 200 and "members" not in r.get_json()  # the write happened; members left out
    body = assert_error(scim.get(f"/Groups/{group['id']}"), 400, "tooMany")
    assert "groups.value" in body["detail"]
    assert_error(scim.get("/Groups"), 400, "tooMany")
    assert scim.get(f"/Groups/{group['id']}?excludedAttributes=members").status_code == 200
    paged = filtered(scim, "/Users", f'groups.value eq "{group["id"]}"', count="2")
    assert paged["totalResults"] == 3 and paged["itemsPerPage"] == 2
    with pytest.raises(ConfigError, match="SCIM_MAX_GROUP_MEMBERS_RETURNED"):
        ScimConfig.from_mapping({"SCIM_MAX_GROUP_MEMBERS_RETURNED": -1})


# -- Users' groups attribute and filter ---------------------------------------------------------------


def test_users_groups_attribute_and_filter(scim: ScimClient) -> None:
    a, b, c = users(scim, 3)
    eng = new_group(scim, "Engineering", [a, b])
    ops = new_group(scim, "Ops", [a])
    got = scim.get(f"/Users/{a}").get_json()
    assert got["groups"] == [
        {
            "value": eng["id"],
            "$ref": f"http://localhost/scim/v2/Groups/{eng['id']}",
            "display": "Engineering",
            "type": "direct",
        },
        {
            "value": ops["id"],
            "$ref": f"http://localhost/scim/v2/Groups/{ops['id']}",
            "display": "Ops",
            "type": "direct",
        },
    ]
    assert "groups" not in scim.get(f"/Users/{c}").get_json()
    assert "groups" not in scim.get(f"/Users/{a}?excludedAttributes=groups").get_json()
    listed = {u["id"]: u.get("groups", []) for u in scim.get("/Users").get_json()["Resources"]}
    assert len(listed[a]) == 2 and len(listed[b]) == 1 and listed[c] == []
    found = filtered(scim, "/Users", f'groups.value eq "{ops["id"]}"')
    assert [u["id"] for u in found["Resources"]] == [a]
    assert filtered(scim, "/Users", f'groups[value eq "{eng["id"]}"]')["totalResults"] == 2
    assert filtered(scim, "/Users", 'groups.display eq "engineering"')["totalResults"] == 2
    assert filtered(scim, "/Users", f'not (groups.value eq "{eng["id"]}")')["totalResults"] == 1
    # groups is readOnly: a PUT or PATCH that sends it does not change memberships.
    patch_body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "groups", "value": [{"value": "x"}]}],
    }
    assert scim.patch(f"/Users/{c}", json=patch_body).status_code == 400


# -- root /.search -------------------------------------------------------------------------------------


def root_search(scim: ScimClient, **params: Any) -> Any:
    r = scim.post("/.search", json={"schemas": [SEARCH], **params})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_root_search_spans_users_and_groups(scim: ScimClient) -> None:
    a, b, c = users(scim, 3)
    new_group(scim, "G1", [a])
    new_group(scim, "G2")
    everything = root_search(scim)
    assert everything["totalResults"] == 5
    kinds = [r["meta"]["resourceType"] for r in everything["Resources"]]
    assert kinds == ["Group", "Group", "User", "User", "User"]
    # A page straddling the two types.
    page = root_search(scim, startIndex=2, count=2)
    assert [r["meta"]["resourceType"] for r in page["Resources"]] == ["Group", "User"]
    assert page["Resources"][1]["id"] == a and page["totalResults"] == 5
    assert [r["id"] for r in root_search(scim, startIndex=4, count=10)["Resources"]] == [b, c]
    # An attribute only one type has simply does not match the other.
    assert root_search(scim, filter='userName sw "u"')["totalResults"] == 3
    assert [r["displayName"] for r in root_search(scim, filter='displayName eq "G2"')["Resources"]] == ["G2"]
    both = root_search(
        scim, filter=f'displayName eq "G1" or members.value eq "{a}" or userName eq "u1@acme.example"'
    )
    assert both["totalResults"] == 2
    assert_error(scim.post("/.search", json={"filter": 'nope eq "x"'}), 400, "invalidFilter")
    slim = root_search(scim, attributes=["displayName"], count=1)
    assert set(slim["Resources"][0]) == {"schemas", "id", "displayName"}
    assert root_search(scim, sortBy="displayName", count=0)["totalResults"] == 5


# -- /Me, discovery ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_me_is_501(scim: ScimClient, method: str) -> None:
    body = assert_error(scim.request(method, "/Me", json={}), 501)
    assert "company" in body["detail"]


def test_discovery_lists_groups(scim: ScimClient) -> None:
    assert scim.get("/ResourceTypes/Group").get_json()["schema"] == GROUP_URN
    ids = [s["id"] for s in scim.get("/Schemas").get_json()["Resources"]]
    assert GROUP_URN in ids
    assert scim.get(f"/Schemas/{GROUP_URN}").get_json()["name"] == "Group"


# -- tenant isolation ----------------------------------------------------------------------------------


def test_every_groups_endpoint_is_tenant_scoped(app: Any, client: Any, scim: ScimClient) -> None:
    [a] = users(scim, 1)
    group = new_group(scim, "Eng", [a])
    other = ScimClient(client, issue_token(app, "globex"))
    [g_user] = [new_user(other, "x@globex.example")["id"]]
    gid = group["id"]
    assert_error(other.get(f"/Groups/{gid}"), 404)
    assert_error(other.put(f"/Groups/{gid}", json={"displayName": "Mine"}), 404)
    assert_error(patch(other, gid, {"op": "add", "path": "members", "value": [{"value": g_user}]}), 404)
    assert_error(other.delete(f"/Groups/{gid}"), 404)
    assert other.get("/Groups").get_json()["totalResults"] == 0
    assert (
        other.post("/Groups/.search", json={"filter": 'displayName eq "Eng"'}).get_json()["totalResults"] == 0
    )
    assert other.post("/.search", json={}).get_json()["totalResults"] == 1
    assert filtered(other, "/Groups", f'members.value eq "{a}"')["totalResults"] == 0
    assert filtered(other, "/Users", f'groups.value eq "{gid}"')["totalResults"] == 0
    # The same name is free in another tenant, and another tenant's users cannot be members.
    mine = new_group(other, "Eng")
    assert_error(
        patch(other, mine["id"], {"op": "add", "path": "members", "value": [{"value": a}]}),
        400,
        "invalidValue",
    )
    assert_error(
        other.post("/Groups", json={"displayName": "X", "members": [{"value": a}]}), 400, "invalidValue"
    )
    assert member_ids(scim, gid) == [a]
    assert scim.get(f"/Groups/{gid}").get_json()["displayName"] == "Eng"


# -- IdP replays (peers-and-idps.md §4) ----------------------------------------------------------------


def test_replay_entra_group_flow(app: Any, scim: ScimClient) -> None:
    a, b = users(scim, 2)
    # Test connection: a random group id filter answers an empty list.
    empty = filtered(
        scim, "/Groups", 'id eq "8c6a2b3c-0000-4000-8000-000000000000"', excludedAttributes="members"
    )
    assert empty["totalResults"] == 0 and empty["Resources"] == []
    r = scim.post(
        "/Groups",
        json={
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Group1DisplayName",
            "schemas": [GROUP_URN, MS_GROUP],
            "meta": {"resourceType": "Group"},
        },
    )
    assert r.status_code == 201
    gid = r.get_json()["id"]
    found = filtered(scim, "/Groups", 'displayName eq "Group1DisplayName"', excludedAttributes="members")
    assert [g["id"] for g in found["Resources"]] == [gid] and "members" not in found["Resources"][0]
    app.extensions["scim"].config = ScimConfig.from_mapping({})  # the default: Entra expects 204
    r = patch(
        scim,
        gid,
        {
            "op": "Replace",
            "path": "displayName",
            "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName",
        },
    )
    assert r.status_code == 204
    r = patch(
        scim,
        gid,
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": a}, {"$ref": None, "value": b}]},
    )
    assert r.status_code == 204
    r = patch(scim, gid, {"op": "Remove", "path": "members", "value": [{"value": a}]})
    assert r.status_code == 204 and member_ids(scim, gid) == [b]
    # With aadOptscim062020.
    r = patch(scim, gid, {"op": "remove", "path": f'members[value eq "{b}"]'})
    assert r.status_code == 204 and member_ids(scim, gid) == []
    assert scim.delete(f"/Groups/{gid}").status_code == 204


def test_replay_okta_group_push(scim: ScimClient) -> None:
    a, b = users(scim, 2)
    r = scim.post("/Groups", json={"schemas": [GROUP_URN], "displayName": "Test Group", "members": []})
    assert r.status_code == 201 and "members" not in r.get_json()
    gid = r.get_json()["id"]
    listed = scim.get("/Groups?startIndex=1&count=100").get_json()
    assert listed["totalResults"] == 1 and isinstance(listed["itemsPerPage"], int)
    assert scim.get(f"/Groups/{gid}").status_code == 200
    r = patch(scim, gid, {"op": "replace", "value": {"id": gid, "displayName": "Test Group Renamed"}})
    assert r.status_code == 200 and r.get_json()["displayName"] == "Test Group Renamed"
    r = patch(
        scim,
        gid,
        {
            "op": "add",
            "path": "members",
            "value": [{"value": a, "display": "u0@acme.example"}, {"value": b, "display": "u1@acme.example"}],
        },
    )
    assert r.status_code == 200 and len(r.get_json()["members"]) == 2
    r = patch(
        scim,
        gid,
        {"op": "remove", "path": f'members[value eq "{a}"]'},
        {"op": "add", "path": "members", "value": [{"value": a, "display": "u0@acme.example"}]},
    )
    assert r.status_code == 200 and member_ids(scim, gid) == sorted([a, b])
    assert patch(scim, gid, {"op": "replace", "path": "members", "value": []}).status_code == 200
    assert member_ids(scim, gid) == []
    # AIW apps push with PUT.
    r = scim.put(
        f"/Groups/{gid}",
        json={
            "schemas": [GROUP_URN],
            "id": gid,
            "displayName": "Test Group Renamed",
            "members": [{"value": b, "display": "u1@acme.example"}],
        },
    )
    assert r.status_code == 200 and [m["value"] for m in r.get_json()["members"]] == [b]
    assert scim.delete(f"/Groups/{gid}").status_code == 204


def test_replay_jumpcloud_group_flow(scim: ScimClient) -> None:
    a, b = users(scim, 2)
    # Test connection: a test group, then deleted.
    probe = new_group(scim, "JumpCloud Test Group")
    assert scim.delete(f"/Groups/{probe['id']}").status_code == 204
    # Empty groups are not created: the group arrives with members; the name is the match key.
    r = scim.post(
        "/Groups",
        json={"schemas": [GROUP_URN], "displayName": "Designers", "members": [{"value": a}, {"value": b}]},
    )
    gid = r.get_json()["id"]
    assert filtered(scim, "/Groups", 'displayName eq "Designers"')["Resources"][0]["id"] == gid
    assert patch(scim, gid, {"op": "replace", "path": "displayName", "value": "Design"}).status_code == 200
    r = patch(scim, gid, {"op": "remove", "path": "members", "value": [{"value": a}]})
    assert r.status_code == 200 and member_ids(scim, gid) == [b]
    assert scim.delete(f"/Groups/{gid}").status_code == 204
