"""What real IdPs send (peers-and-idps.md §4 and the §4.6 checklist), replayed through the real app."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from examples.host_app.extensions import db
from examples.host_app.models import User

from scim_plugin.core.schemas import ENTERPRISE_USER_URN, USER_URN
from tests.conftest import ScimClient
from tests.test_users_api import LIST, PATCH_OP, SCIM_JSON, assert_error

ENT = ENTERPRISE_USER_URN


def _filter(scim: ScimClient, text: str, extra: str = "") -> dict[str, Any]:
    r = scim.get(f"/Users?filter={quote(text)}{extra}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _host(app: Any, email: str) -> User:
    with app.app_context():
        user = db.session.query(User).filter(User.email == email).one()
        db.session.expunge(user)
        return user


# -- Microsoft Entra ID (§4.1) ----------------------------------------------------------------------

ENTRA_POST = {
    "schemas": [USER_URN, ENT, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User"],
    "externalId": "jdoe",
    "UserName": "jdoe@contoso.com",
    "Active": "True",
    "DisplayName": "Jane Doe",
    "Emails": [{"Primary": True, "Type": "work", "Value": "jdoe@contoso.com"}],
    "Name": {"Formatted": "Jane Doe", "FamilyName": "Doe", "GivenName": "Jane"},
    "Title": "Engineer",
    ENT: {"Department": "engineering", "Manager": "mgr-123"},
}


def test_entra_full_cycle(app: Any, scim: ScimClient) -> None:
    # Test Connection: a random GUID on the matching attribute gives 200 and an empty list.
    empty = _filter(scim, 'userName eq "6a2f1c3e-0f59-4a5b-9e0b-0d7b1f6b9c11"')
    assert empty["totalResults"] == 0 and empty["schemas"] == [LIST]
    # Lookup, then create.
    assert _filter(scim, 'userName eq "jdoe@contoso.com"')["totalResults"] == 0
    r = scim.post("/Users", json=ENTRA_POST)
    assert r.status_code == 201, r.get_json()
    user = r.get_json()
    assert user["userName"] == "jdoe@contoso.com" and user["active"] is True
    assert user["name"]["givenName"] == "Jane" and user[ENT]["manager"] == {"value": "mgr-123"}
    assert user[ENT]["department"] == "engineering"
    uid = user["id"]
    # Matching by the attributes Entra uses.
    for text in (
        'userName eq "JDOE@contoso.com"',
        'externalId eq "jdoe"',
        'DisplayName eq "Jane Doe"',
        'emails[type eq "work"].value eq "jdoe@contoso.com"',
        'userName eq "jdoe@contoso.com" and externalId eq "jdoe"',
    ):
        assert [u["id"] for u in _filter(scim, text)["Resources"]] == [uid], text
    # Update without the aadOptscim062020 flag: capitalised ops, one path each.
    r = scim.patch(
        f"/Users/{uid}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Jane Q. Doe"},
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "jane.doe@contoso.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Janet"},
                {"op": "Replace", "path": "externalId", "value": "jdoe2"},
                {"op": "Replace", "path": f"{ENT}:employeeNumber", "value": "E-1"},
                {"op": "Add", "path": "nickName", "value": "JJ"},
            ],
        },
    )
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert got["displayName"] == "Jane Q. Doe" and got["name"]["givenName"] == "Janet"
    assert got["emails"] == [{"primary": True, "type": "work", "value": "jane.doe@contoso.com"}]
    assert got["externalId"] == "jdoe2" and got[ENT]["employeeNumber"] == "E-1" and got["nickName"] == "JJ"
    assert _host(app, "jdoe@contoso.com").given_name == "Janet"
    # With the flag: path-less replace with dotted and URN keys, and an add on an unmatched filter.
    r = scim.patch(
        f"/Users/{uid}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "value": {"name.familyName": "Smith", f"{ENT}:department": "finance"}},
                {"op": "add", "path": 'emails[type eq "home"].value', "value": "jane@home.example"},
            ],
        },
    )
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert got["name"]["familyName"] == "Smith" and got[ENT]["department"] == "finance"
    assert {"type": "home", "value": "jane@home.example"} in got["emails"]
    assert _host(app, "jdoe@contoso.com").family_name == "Smith"
    # Disable (string boolean), then the validator's filtered GET still sees the user with active false.
    r = scim.patch(
        f"/Users/{uid}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    )
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert _host(app, "jdoe@contoso.com").active is False
    found = _filter(scim, 'userName eq "jdoe@contoso.com"')
    assert found["totalResults"] == 1 and found["Resources"][0]["active"] is False
    assert [u["id"] for u in _filter(scim, 'active eq "False"')["Resources"]] == [uid]
    # Validator: an empty Operations array changes nothing.
    version = scim.get(f"/Users/{uid}").get_json()["meta"]["version"]
    r = scim.patch(f"/Users/{uid}", json={"schemas": [PATCH_OP], "Operations": []})
    assert r.status_code == 200 and r.get_json()["meta"]["version"] == version
    # Hard delete.
    assert scim.delete(f"/Users/{uid}").status_code == 204
    assert_error(scim.get(f"/Users/{uid}"), 404)


def test_entra_postman_lowercase_path_and_projection(scim: ScimClient) -> None:
    scim.post("/Users", json=ENTRA_POST)
    r = scim.client.get("/scim/v2/Users?attributes=userName,emails", headers=scim.headers())
    assert r.status_code == 200
    (user,) = r.get_json()["Resources"]
    assert set(user) == {"schemas", "id", "userName", "emails"}
    types = scim.get("/ResourceTypes").get_json()["Resources"]
    assert types[0]["endpoint"] == "/Users"
    assert any(s.get("description") == "User Account" for s in scim.get("/Schemas").get_json()["Resources"])


def test_entra_string_boolean_in_value_filter(scim: ScimClient) -> None:
    r = scim.post("/Users", json=ENTRA_POST)
    uid = r.get_json()["id"]
    assert [u["id"] for u in _filter(scim, 'emails[primary eq "True"]')["Resources"]] == [uid]
    assert _filter(scim, 'emails[primary eq "False"]')["totalResults"] == 0


# -- Okta (§4.2, Runscope SPEC test) ----------------------------------------------------------------

OKTA_POST = {
    "schemas": [USER_URN],
    "userName": "okta.user@example.com",
    "name": {"givenName": "Okta", "familyName": "User"},
    "emails": [{"primary": True, "value": "okta.user@example.com", "type": "work"}],
    "displayName": "Okta User",
    "locale": "en-US",
    "externalId": "00u1abcd",
    "groups": [],
    "password": "1mPa55w0rd!",
    "active": True,
}


def test_okta_spec_test(app: Any, scim: ScimClient) -> None:
    headers = {
        "Accept": "application/scim+json",
        "Accept-Charset": "utf-8",
        "User-Agent": "OKTA SCIM Integration",
    }
    # Step 6 first (the spec needs a user): POST with plain application/json.
    r = scim.post(
        "/Users", data=json.dumps(OKTA_POST), headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 201
    created = r.get_json()
    assert created["active"] is True and created["id"] and USER_URN in created["schemas"]
    assert created["userName"] == OKTA_POST["userName"] and created["name"] == OKTA_POST["name"]
    assert "password" not in created and "groups" not in created
    # Step 1: first page of one.
    body = scim.get("/Users?count=1&startIndex=1", headers=headers).get_json()
    assert body["schemas"] == [LIST] and body["Resources"]
    assert all(isinstance(body[k], int) for k in ("itemsPerPage", "startIndex", "totalResults"))
    first = body["Resources"][0]
    for key in ("id", "userName", "active"):
        assert key in first
    assert first["name"]["familyName"] and first["name"]["givenName"] and first["emails"][0]["value"]
    # Step 2 and 7.
    r = scim.get(f"/Users/{created['id']}", headers=headers)
    assert r.status_code == 200 and r.get_json()["id"] == created["id"]
    assert r.mimetype == SCIM_JSON
    # Steps 3 and 5.
    assert (
        _filter(scim, 'userName eq "nobody-1234@example.com"', "&startIndex=1&count=100")["totalResults"] == 0
    )
    # Step 4.
    body = assert_error(scim.get("/Users/010101010101", headers=headers), 404)
    assert body["detail"]
    # Step 8: the same POST again.
    assert_error(scim.post("/Users", json=OKTA_POST), 409, "uniqueness")
    # Step 9: upper-cased userName finds the user.
    found = _filter(scim, f'userName eq "{OKTA_POST["userName"].upper()}"')
    assert [u["id"] for u in found["Resources"]] == [created["id"]]


def test_okta_profile_update_deactivate_reactivate(app: Any, scim: ScimClient) -> None:
    created = scim.post("/Users", json=OKTA_POST).get_json()
    uid = created["id"]
    # Profile update: GET then full PUT.
    current = scim.get(f"/Users/{uid}").get_json()
    current["name"]["givenName"] = "Okta2"
    r = scim.put(f"/Users/{uid}", json=current)
    assert r.status_code == 200 and r.get_json()["name"]["givenName"] == "Okta2"
    assert _host(app, "okta.user@example.com").given_name == "Okta2"
    # OIN deactivate: path-less replace.
    op = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    r = scim.patch(f"/Users/{uid}", json=op)
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert _host(app, "okta.user@example.com").active is False
    # Still listed on import.
    listed = scim.get("/Users?startIndex=1&count=100").get_json()
    assert uid in [u["id"] for u in listed["Resources"]]
    # Reactivate, and password sync never stores the password.
    op = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": True, "password": "n3w-Pa55!"}}],
    }
    r = scim.patch(f"/Users/{uid}", json=op)
    assert r.status_code == 200 and r.get_json()["active"] is True and "password" not in r.get_json()
    assert _host(app, "okta.user@example.com").active is True


def test_okta_import_pages_cover_everyone_once(scim: ScimClient) -> None:
    ids = set()
    for i in range(7):
        ids.add(
            scim.post(
                "/Users", json={**OKTA_POST, "userName": f"u{i}@example.com", "externalId": str(i)}
            ).get_json()["id"]
        )
    seen: list[str] = []
    start = 1
    while True:
        body = scim.get(f"/Users?startIndex={start}&count=3").get_json()
        seen += [u["id"] for u in body["Resources"]]
        start += body["itemsPerPage"]
        if start > body["totalResults"]:
            break
    assert len(seen) == 7 and set(seen) == ids


# -- OneLogin (§4.3) --------------------------------------------------------------------------------


def test_onelogin_template_payload(app: Any, scim: ScimClient) -> None:
    # A customer-typed template: enterprise manager.value, unknown and oddly typed extras are tolerated.
    body = {
        "schemas": [USER_URN, ENT],
        "userName": "ol.user@example.com",
        "name": {"givenName": "One", "familyName": "Login"},
        "emails": [{"value": "ol.user@example.com", "primary": True}],
        "customField": {"x": 1},
        ENT: {"manager": {"value": "12345"}, "department": "marketing"},
    }
    r = scim.post("/Users", json=body)
    assert r.status_code == 201, r.get_json()
    got = r.get_json()
    assert "customField" not in got and got[ENT]["manager"] == {"value": "12345"}
    # Lower-case "add" op.
    r = scim.patch(
        f"/Users/{got['id']}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "Boss"}]},
    )
    assert r.status_code == 200 and r.get_json()["title"] == "Boss"
    assert _host(app, "ol.user@example.com").department == "marketing"


# -- JumpCloud (§4.4) -------------------------------------------------------------------------------


def test_jumpcloud_test_connection_creates_and_deletes(app: Any, scim: ScimClient) -> None:
    r = scim.post(
        "/Users",
        json={
            "schemas": [USER_URN],
            "userName": "jc-test@example.com",
            "name": {"givenName": "T", "familyName": "U"},
            "emails": [{"value": "jc-test@example.com", "type": "work", "primary": True}],
            "active": True,
        },
    )
    assert r.status_code == 201
    uid = r.get_json()["id"]
    # Entra-style remove with value on a multi-valued attribute removes only the listed entry.
    scim.patch(
        f"/Users/{uid}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "add", "path": "emails", "value": [{"value": "jc-other@example.com", "type": "home"}]}
            ],
        },
    )
    r = scim.patch(
        f"/Users/{uid}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": "emails", "value": [{"value": "jc-other@example.com"}]}],
        },
    )
    assert r.status_code == 200
    assert [e["value"] for e in r.get_json()["emails"]] == ["jc-test@example.com"]
    assert scim.delete(f"/Users/{uid}").status_code == 204
    assert _filter(scim, 'userName eq "jc-test@example.com"')["totalResults"] == 0
    with app.app_context():
        assert db.session.query(User).filter(User.email == "jc-test@example.com").count() == 0
