"""Braze's documented payloads (braze-scim.md §2.3 to 2.7) through the real app, in Braze's response style."""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import quote

import pytest
from examples.host_app.extensions import db
from examples.host_app.models import User

from scim_plugin.core.schemas import USER_URN
from tests.conftest import ScimClient
from tests.test_users_api import assert_error

BRAZE = {"X-SCIM-Response-Style": "braze", "Content-Type": "application/json"}

# §2.3, with names that exist in the demo company (acme) instead of Braze's placeholders.
BRAZE_POST: dict[str, Any] = {
    "schemas": [USER_URN],
    "userName": "user@example.com",
    "name": {"givenName": "Test", "familyName": "User"},
    "department": "finance",
    "permissions": {
        "companyPermissions": ["manage_company_settings"],
        "roles": [{"roleName": "Campaign Manager"}],
        "appGroup": [
            {
                "appGroupName": "Production",
                "appGroupPermissions": ["basic_access", "send_campaigns_canvases"],
                "team": [{"teamName": "Growth", "teamPermissions": ["basic_access", "export_user_data"]}],
            },
            {
                "appGroupName": "Staging",
                "appGroupPermissionSets": [{"appGroupPermissionSetName": "Read Only"}],
            },
        ],
    },
}

BRAZE_DATE = re.compile(r"^\d{4} [A-Z][a-z]{2} \d{2}, \d{1,2}:\d{2} (AM|PM)$")


def _post(scim: ScimClient, body: dict[str, Any] = BRAZE_POST) -> Any:
    return scim.post("/Users", json=body, headers=BRAZE)


def _host(app: Any, email: str) -> User:
    with app.app_context():
        user = db.session.query(User).filter(User.email == email).one()
        _ = [
            (m.workspace.name, m.permissions, m.permission_set and m.permission_set.name)
            for m in user.memberships
        ]
        _ = [(t.team.name, t.permissions) for t in user.team_memberships]
        _ = [a.role.name for a in user.role_assignments]
        db.session.expunge_all()
        return user


def _check_braze_user(user: dict[str, Any]) -> None:
    assert user["schemas"] == [USER_URN]
    assert user["userName"] == "user@example.com"
    assert user["name"] == {"givenName": "Test", "familyName": "User"}
    assert user["department"] == "finance"
    assert user["lastSignInAt"] == "N/A"
    assert BRAZE_DATE.match(user["createdAt"]), user["createdAt"]
    assert "meta" not in user and "password" not in user
    permissions = user["permissions"]
    assert permissions["companyPermissions"] == ["manage_company_settings"]
    assert [r["roleName"] for r in permissions["roles"]] == ["Campaign Manager"]
    groups = {g["appGroupName"]: g for g in permissions["appGroup"]}
    assert set(groups) == {"Production", "Staging"}
    assert groups["Production"]["appGroupPermissions"] == ["basic_access", "send_campaigns_canvases"]
    # Braze's responses add the ids of what the request named (braze-scim.md §2): the dashboard's.
    assert all(group["appGroupId"].isdigit() for group in permissions["appGroup"])
    teams = groups["Production"]["team"]
    assert [team.pop("teamId").isdigit() for team in teams] == [True]
    assert teams == [{"teamName": "Growth", "teamPermissions": ["basic_access", "export_user_data"]}]
    [permission_set] = groups["Staging"]["appGroupPermissionSets"]
    assert permission_set.pop("appGroupPermissionSetId").isdigit()
    assert permission_set == {"appGroupPermissionSetName": "Read Only"}


def test_post_accepted_and_rendered_braze_style(app: Any, scim: ScimClient) -> None:
    r = _post(scim)
    assert r.status_code == 201, r.get_json()
    user = r.get_json()
    _check_braze_user(user)
    host = _host(app, "user@example.com")
    assert host.provisioning_method == "scim" and host.department == "finance"
    assert host.company_permissions == ["manage_company_settings"]
    assert [a.role.name for a in host.role_assignments] == ["Campaign Manager"]
    by_name = {m.workspace.name: m for m in host.memberships}
    assert by_name["Production"].permissions == ["basic_access", "send_campaigns_canvases"]
    assert by_name["Staging"].permission_set.name == "Read Only"
    assert [(t.team.name, t.permissions) for t in host.team_memberships] == [
        ("Growth", ["basic_access", "export_user_data"])
    ]


def test_get_by_id_round_trips(scim: ScimClient) -> None:
    created = _post(scim).get_json()
    r = scim.get(f"/Users/{created['id']}", headers=BRAZE)
    assert r.status_code == 200
    _check_braze_user(r.get_json())
    assert r.get_json() == created


def test_search_by_user_name(scim: ScimClient) -> None:
    created = _post(scim).get_json()
    hit, miss = quote('userName eq "user@example.com"'), quote('userName eq "nobody@example.com"')
    r = scim.get(f"/Users?filter={hit}", headers=BRAZE)
    assert r.status_code == 200
    body = r.get_json()
    assert body["totalResults"] == 1
    (user,) = body["Resources"]
    _check_braze_user(user)
    assert user["id"] == created["id"]
    r = scim.get(f"/Users?filter={miss}", headers=BRAZE)
    assert r.status_code == 200 and r.get_json()["totalResults"] == 0


def test_put_replaces_name_department_and_permissions(app: Any, scim: ScimClient) -> None:
    created = _post(scim).get_json()
    # §2.6: no userName in the body (Braze keeps it), the misspelt legacy permission dropped in favour of a
    # known one, and a workspace removed.
    body = {
        "schemas": [USER_URN],
        "name": {"givenName": "Changed", "familyName": "User"},
        "department": "marketing",
        "permissions": {
            "companyPermissions": [],
            "roles": [],
            "appGroup": [
                {
                    "appGroupName": "Production",
                    "appGroupPermissions": ["basic_access"],
                    "team": [{"teamName": "Growth", "teamPermissions": ["admin"]}],
                }
            ],
        },
    }
    r = scim.put(f"/Users/{created['id']}", json=body, headers=BRAZE)
    assert r.status_code == 200, r.get_json()
    user = r.get_json()
    assert user["userName"] == "user@example.com"
    assert user["name"]["givenName"] == "Changed" and user["department"] == "marketing"
    assert [g["appGroupName"] for g in user["permissions"]["appGroup"]] == ["Production"]
    assert scim.get(f"/Users/{created['id']}", headers=BRAZE).get_json() == user
    host = _host(app, "user@example.com")
    assert host.given_name == "Changed" and host.department == "marketing"
    assert [m.workspace.name for m in host.memberships] == ["Production"]
    assert host.role_assignments == [] and host.company_permissions == []
    assert [(t.team.name, t.permissions) for t in host.team_memberships] == [("Growth", ["admin"])]


def test_put_with_user_name_kept(scim: ScimClient) -> None:
    created = _post(scim).get_json()
    body = copy.deepcopy(BRAZE_POST)
    body["name"]["familyName"] = "Other"
    r = scim.put(f"/Users/{created['id']}", json=body, headers=BRAZE)
    assert r.status_code == 200 and r.get_json()["name"]["familyName"] == "Other"


def test_delete_then_404(app: Any, scim: ScimClient) -> None:
    created = _post(scim).get_json()
    r = scim.delete(f"/Users/{created['id']}", headers=BRAZE)
    assert r.status_code == 204
    assert_error(scim.get(f"/Users/{created['id']}", headers=BRAZE), 404)
    assert_error(scim.put(f"/Users/{created['id']}", json=BRAZE_POST, headers=BRAZE), 404)
    assert_error(scim.delete(f"/Users/{created['id']}", headers=BRAZE), 404)
    with app.app_context():
        assert db.session.query(User).filter(User.email == "user@example.com").count() == 0


def test_duplicate_is_409(scim: ScimClient) -> None:
    _post(scim)
    assert_error(_post(scim), 409, "uniqueness")


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("appGroup", 0, "appGroupName"), "Test Workspace", "Test Workspace"),
        (("appGroup", 0, "team", 0, "teamName"), "Test Team", "Test Team"),
        (("roles", 0, "roleName"), "Test Role", "Test Role"),
        (
            ("appGroup", 1, "appGroupPermissionSets", 0, "appGroupPermissionSetName"),
            "Test Permission Set",
            "Test Permission Set",
        ),
    ],
)
def test_braze_placeholder_names_are_400_naming_them(
    app: Any, scim: ScimClient, path: tuple[Any, ...], value: str, named: str
) -> None:
    body = copy.deepcopy(BRAZE_POST)
    target: Any = body["permissions"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    r = _post(scim, body)
    assert named in assert_error(r, 400, "invalidValue")["detail"]
    with app.app_context():
        assert db.session.query(User).filter(User.email == "user@example.com").count() == 0
    assert scim.get("/Users").get_json()["totalResults"] == 0


def test_default_style_is_scim(scim: ScimClient) -> None:
    created = _post(scim).get_json()
    r = scim.get(f"/Users/{created['id']}")
    body = r.get_json()
    assert "meta" in body and "permissions" not in body and "createdAt" not in body
