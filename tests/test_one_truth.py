"""One truth: what an identity provider reads back is what the dashboard holds (issue 20).

Every test drives the real example host: SCIM requests through its API, and dashboard edits through its
own Company Users pages (signed in as the company's admin), on the suite's database.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

import pytest
from examples.host_app.extensions import db
from examples.host_app.models import Company, User, Workspace
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from scim_plugin.core.schemas import PERMISSIONS_URN
from scim_plugin.storage.models import AuditRecord, ScimUser

from .conftest import ScimClient, issue_idp_token, issue_token, login
from .test_users_api import USER_URN, assert_error, new_user, patch_body

BRAZE = {"X-SCIM-Response-Style": "braze"}
PASSWORD = "acme-demo-password"


def _workspace(app: Flask, company: str, name: str) -> Workspace:
    with app.app_context():
        found = db.session.execute(
            select(Workspace).join(Company).where(Company.slug == company, Workspace.name == name)
        ).scalar_one()
        db.session.expunge(found)
        return found


def _host(app: Flask, email: str) -> User | None:
    with app.app_context():
        user = db.session.execute(select(User).where(func.lower(User.email) == email.lower())).scalar()
        if user is not None:
            _ = [(m.workspace_id, m.permissions) for m in user.memberships]
            db.session.expunge(user)
        return user


def _workspaces(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(w["value"], w["display"]) for w in doc.get(PERMISSIONS_URN, {}).get("workspaces", [])]


def _lookup(scim: ScimClient, user_name: str, **kwargs: Any) -> list[dict[str, Any]]:
    condition = f'userName eq "{user_name}"'
    r = scim.get(f"/Users?filter={quote(condition)}", **kwargs)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["Resources"]  # type: ignore[no-any-return]


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    """The test client, signed in to the dashboard as acme's admin, with a form token."""
    assert login(client, "admin@acme.example", PASSWORD).status_code == 302
    with client.session_transaction() as session:
        session["csrf"] = "form-token"
    return client


def _edit(admin: FlaskClient, app: Flask, email: str, **fields: Any) -> None:
    """Submit the dashboard's edit form of ``email`` with ``fields`` (the rest as the form shows them)."""
    user = _host(app, email)
    assert user is not None
    form: dict[str, Any] = {
        "csrf": "form-token",
        "given_name": user.given_name,
        "family_name": user.family_name,
    }
    form["department"] = user.department or ""
    if user.active:
        form["active"] = "on"
    for membership in user.memberships:
        form[f"ws_{membership.workspace_id}"] = "on"
        form[f"ws_{membership.workspace_id}_permissions"] = list(membership.permissions or [])
    form.update(fields)
    form = {key: value for key, value in form.items() if value is not None}
    r = admin.post(f"/users/{user.id}", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)


# -- the default workspace, in every answer ---------------------------------------------------------


def test_default_workspace_in_every_answer_and_style(app: Flask, scim: ScimClient) -> None:
    default = _workspace(app, "acme", "Marketing Sandbox")
    expected = [(str(default.id), "Marketing Sandbox")]
    created = new_user(scim)
    host = _host(app, "jane@acme.example")
    assert host is not None and [m.workspace_id for m in host.memberships] == [default.id]
    assert _workspaces(created) == expected
    assert _workspaces(scim.get(f"/Users/{created['id']}").get_json()) == expected
    assert [_workspaces(u) for u in _lookup(scim, "jane@acme.example")] == [expected]
    page = scim.get("/Users?startIndex=1&count=50").get_json()["Resources"]
    assert [_workspaces(u) for u in page if u["id"] == created["id"]] == [expected]
    searched = scim.post(
        "/Users/.search",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "jane@acme.example"',
        },
    )
    assert [_workspaces(u) for u in searched.get_json()["Resources"]] == [expected]
    cursor = scim.get("/Users?cursor&count=50").get_json()["Resources"]
    assert [_workspaces(u) for u in cursor if u["id"] == created["id"]] == [expected]
    braze = scim.get(f"/Users/{created['id']}", headers=BRAZE).get_json()
    assert [(g["appGroupId"], g["appGroupName"]) for g in braze["permissions"]["appGroup"]] == expected
    # /Bulk answers with the same document.
    bulk = scim.post(
        "/Bulk",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "b1",
                    "data": {"schemas": [USER_URN], "userName": "bulk@acme.example"},
                },
            ],
        },
    )
    assert bulk.status_code == 200, bulk.get_json()
    [operation] = bulk.get_json()["Operations"]
    assert operation["status"] == "201"
    bulk_id = operation["location"].rsplit("/", 1)[-1]
    assert _workspaces(scim.get(f"/Users/{bulk_id}").get_json()) == expected


def test_braze_post_answer_names_the_default_workspace(app: Flask, scim: ScimClient) -> None:
    default = _workspace(app, "acme", "Marketing Sandbox")
    r = scim.post(
        "/Users",
        json={
            "schemas": [USER_URN],
            "userName": "b@acme.example",
            "name": {"givenName": "B", "familyName": "Raze"},
        },
        headers=BRAZE,
    )
    assert r.status_code == 201
    groups = r.get_json()["permissions"]["appGroup"]
    assert [(g["appGroupId"], g["appGroupName"]) for g in groups] == [(str(default.id), "Marketing Sandbox")]


def test_patch_add_of_a_workspace_adds_to_the_default(app: Flask, scim: ScimClient) -> None:
    created = new_user(scim)
    production = _workspace(app, "acme", "Production")
    r = scim.patch(
        f"/Users/{created['id']}",
        json=patch_body(
            {"op": "add", "path": f"{PERMISSIONS_URN}:workspaces", "value": [{"value": str(production.id)}]}
        ),
    )
    assert r.status_code == 200, r.get_json()
    names = sorted(name for _, name in _workspaces(r.get_json()))
    assert names == ["Marketing Sandbox", "Production"]
    host = _host(app, "jane@acme.example")
    assert host is not None and len(host.memberships) == 2


def test_removing_every_workspace_leaves_the_default_and_active_stays(app: Flask, scim: ScimClient) -> None:
    created = new_user(scim)
    production = _workspace(app, "acme", "Production")
    path = f"{PERMISSIONS_URN}:workspaces"
    scim.patch(
        f"/Users/{created['id']}",
        json=patch_body({"op": "replace", "path": path, "value": [{"value": str(production.id)}]}),
    )
    r = scim.patch(
        f"/Users/{created['id']}",
        json=patch_body({"op": "remove", "path": path}, {"op": "remove", "path": "active"}),
    )
    assert r.status_code == 200, r.get_json()
    assert (
        _workspaces(r.get_json())
        == _workspaces(created)
        == [(str(_workspace(app, "acme", "Marketing Sandbox").id), "Marketing Sandbox")]
    )
    assert r.get_json()["active"] is True
    host = _host(app, "jane@acme.example")
    assert (
        host is not None
        and host.active
        and [m.workspace_id for m in host.memberships] == [_workspace(app, "acme", "Marketing Sandbox").id]
    )


# -- dashboard edits reach SCIM ----------------------------------------------------------------------


def test_dashboard_edit_of_workspaces_and_permissions_is_what_scim_reads(
    app: Flask, scim: ScimClient, admin: FlaskClient
) -> None:
    created = new_user(scim)
    old_tag = created["meta"]["version"]
    production = _workspace(app, "acme", "Production")
    sandbox = _workspace(app, "acme", "Marketing Sandbox")
    _edit(
        admin,
        app,
        "jane@acme.example",
        **{
            f"ws_{sandbox.id}": None,
            f"ws_{sandbox.id}_permissions": None,
            f"ws_{production.id}": "on",
            f"ws_{production.id}_permissions": ["basic_access", "view_pii"],
        },
    )
    got = scim.get(f"/Users/{created['id']}")
    doc = got.get_json()
    assert _workspaces(doc) == [(str(production.id), "Production")]
    assert doc[PERMISSIONS_URN]["workspaces"][0]["permissions"] == ["basic_access", "view_pii"]
    assert (
        doc["meta"]["version"] != old_tag and doc["meta"]["lastModified"] >= created["meta"]["lastModified"]
    )
    assert got.headers["ETag"] == doc["meta"]["version"]
    assert [_workspaces(u) for u in _lookup(scim, "jane@acme.example")] == [
        [(str(production.id), "Production")]
    ]
    page = scim.get("/Users?count=50").get_json()["Resources"]
    assert [_workspaces(u) for u in page if u["id"] == created["id"]] == [
        [(str(production.id), "Production")]
    ]
    # The old ETag no longer matches: a conditional GET answers the new document, a conditional write 412.
    assert scim.get(f"/Users/{created['id']}", headers={"If-None-Match": old_tag}).status_code == 200
    stale = scim.patch(
        f"/Users/{created['id']}",
        json=patch_body({"op": "replace", "path": "displayName", "value": "X"}),
        headers={"If-Match": old_tag},
    )
    assert_error(stale, 412)
    assert (
        scim.get(f"/Users/{created['id']}", headers={"If-None-Match": doc["meta"]["version"]}).status_code
        == 304
    )


def test_dashboard_edit_of_roles_company_permissions_names_and_active(
    app: Flask, scim: ScimClient, admin: FlaskClient
) -> None:
    created = new_user(scim)
    with app.app_context():
        from examples.host_app.models import Role

        role = db.session.execute(select(Role).join(Company).where(Company.slug == "acme")).scalars().first()
        role_id, role_name = role.id, role.name
    _edit(
        admin,
        app,
        "jane@acme.example",
        given_name="Janet",
        family_name="Dough",
        department="Finance",
        active=None,
        roles=[str(role_id)],
        company_permissions=["manage_company_settings"],
    )
    doc = scim.get(f"/Users/{created['id']}").get_json()
    assert doc["name"]["givenName"] == "Janet" and doc["name"]["familyName"] == "Dough"
    assert doc["active"] is False
    assert doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] == "Finance"
    ext = doc[PERMISSIONS_URN]
    assert ext["roles"] == [{"value": str(role_id), "display": role_name}]
    assert ext["companyPermissions"] == ["manage_company_settings"]
    # Filters see the dashboard's values.
    inactive = scim.get(f"/Users?filter={quote('active eq false')}").get_json()["Resources"]
    assert [u["id"] for u in inactive] == [created["id"]]
    by_name = quote('name.givenName eq "janet"')
    named = scim.get(f"/Users?filter={by_name}").get_json()["Resources"]
    assert [u["id"] for u in named] == [created["id"]]
    braze = scim.get(f"/Users/{created['id']}", headers=BRAZE).get_json()
    assert braze["department"] == "Finance" and braze["permissions"]["companyPermissions"] == [
        "manage_company_settings"
    ]
    # The IdP's next PATCH applies on top of the dashboard's state: the role stays.
    r = scim.patch(
        f"/Users/{created['id']}", json=patch_body({"op": "replace", "path": "active", "value": True})
    )
    assert r.status_code == 200 and r.get_json()["active"] is True
    assert r.get_json()[PERMISSIONS_URN]["roles"] == [{"value": str(role_id), "display": role_name}]


def test_dashboard_delete_is_a_404(app: Flask, scim: ScimClient, admin: FlaskClient) -> None:
    created = new_user(scim)
    host = _host(app, "jane@acme.example")
    assert host is not None
    r = admin.post(f"/users/{host.id}/delete", data={"csrf": "form-token"})
    assert r.status_code == 302
    assert _host(app, "jane@acme.example") is None
    assert_error(scim.get(f"/Users/{created['id']}"), 404)
    assert _lookup(scim, "jane@acme.example") == []
    assert created["id"] not in [u["id"] for u in scim.get("/Users?count=100").get_json()["Resources"]]


def test_dashboard_edit_without_the_form_token_changes_nothing(
    app: Flask, scim: ScimClient, admin: FlaskClient
) -> None:
    created = new_user(scim)
    host = _host(app, "jane@acme.example")
    assert host is not None
    r = admin.post(f"/users/{host.id}", data={"csrf": "wrong", "given_name": "Mallory"})
    assert r.status_code == 400
    assert scim.get(f"/Users/{created['id']}").get_json()["name"]["givenName"] == "Jane"


def test_company_users_pages_say_how_each_user_is_provisioned(
    app: Flask, scim: ScimClient, admin: FlaskClient
) -> None:
    new_user(scim)
    listing = admin.get("/users").get_data(as_text=True)
    row = re.search(r"jane@acme\.example.*?</tr>", listing, re.S)
    assert row is not None and "SCIM (Custom)" in row.group(0) and "SCIM 20" in row.group(0)
    hand = re.search(r"grace@acme\.example.*?</tr>", listing, re.S)
    assert hand is not None and "Manual" in hand.group(0)
    host = _host(app, "jane@acme.example")
    assert host is not None
    page = admin.get(f"/users/{host.id}").get_data(as_text=True)
    assert re.search(r'id="provisioning">SCIM \(Custom\), last changed by SCIM \d{4}-\d\d-\d\d', page)


# -- existing dashboard users, by policy -------------------------------------------------------------


def test_manual_policy_keeps_hand_made_users_out_and_says_why(app: Flask, client: FlaskClient) -> None:
    scim = ScimClient(client, issue_idp_token(app, "entra"), origin=None)
    # Entra's sequence: look the user up, then create it when nothing is found.
    assert _lookup(scim, "grace@acme.example") == []
    r = scim.post("/Users", json={"schemas": [USER_URN], "userName": "grace@acme.example", "active": True})
    body = assert_error(r, 409, "uniqueness")
    assert "managed manually" in body["detail"] and "Match" in body["detail"]
    host = _host(app, "grace@acme.example")
    assert host is not None and host.provisioning_method == "manual"


def _match(app: Flask, method: str = "entra", tenant: str = "acme") -> str:
    return issue_idp_token(app, method, tenant, "--existing-users", "match")


def test_match_policy_entra_lookup_then_patch_links_the_account(app: Flask, client: FlaskClient) -> None:
    scim = ScimClient(client, _match(app), origin=None)
    found = _lookup(scim, "grace@acme.example")
    assert len(found) == 1 and found[0][PERMISSIONS_URN]["provisioningMethod"] == "manual"
    assert found[0]["name"] == {"givenName": "Grace", "familyName": "Hopper"}
    assert _workspaces(found[0]), "the memberships made by hand are shown"
    # Entra found the user: it PATCHes what differs (its own dialect).
    r = scim.patch(
        f"/Users/{found[0]['id']}",
        json=patch_body(
            {"op": "Replace", "path": "displayName", "value": "Grace Hopper"},
            {"op": "Replace", "path": "active", "value": "True"},
        ),
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()[PERMISSIONS_URN]["provisioningMethod"] == "scim"
    assert _workspaces(r.get_json()) == _workspaces(found[0]), "the dashboard's permissions are kept"
    host = _host(app, "grace@acme.example")
    assert host is not None and host.provisioning_method == "scim"
    with app.app_context():
        record = (
            db.session.execute(
                select(AuditRecord).where(AuditRecord.method == "PATCH").order_by(AuditRecord.id.desc())
            )
            .scalars()
            .first()
        )
        assert record is not None and record.reason is not None and "linked" in record.reason
        assert (
            db.session.execute(select(ScimUser.managed).where(ScimUser.id == found[0]["id"])).scalar() is True
        )


def test_match_policy_post_of_an_existing_email_links_it_with_201(app: Flask, client: FlaskClient) -> None:
    scim = ScimClient(client, _match(app), origin=None)
    before = _host(app, "grace@acme.example")
    assert before is not None
    r = scim.post(
        "/Users",
        json={
            "schemas": [USER_URN],
            "userName": "Grace@Acme.example",
            "active": True,
            "name": {"givenName": "Grace", "familyName": "Hopper"},
            "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        },
    )
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert doc[PERMISSIONS_URN]["provisioningMethod"] == "scim"
    assert doc["phoneNumbers"] == [{"value": "+1 555 0100", "type": "work"}]
    after = _host(app, "grace@acme.example")
    assert after is not None and after.id == before.id and after.provisioning_method == "scim"
    assert [m.workspace_id for m in after.memberships] == [m.workspace_id for m in before.memberships]
    assert r.headers["Location"].endswith(doc["id"])
    with app.app_context():
        assert (
            db.session.execute(
                select(func.count(User.id)).where(func.lower(User.email) == "grace@acme.example")
            ).scalar()
            == 1
        )


def test_match_policy_okta_import_pages_list_existing_users(app: Flask, client: FlaskClient) -> None:
    scim = ScimClient(client, _match(app, "okta"), origin=None)
    with app.app_context():
        hand_made = db.session.execute(
            select(func.count(User.id))
            .join(Company)
            .where(Company.slug == "acme", User.provisioning_method == "manual")
        ).scalar_one()
    seen: list[str] = []
    start = 1
    while True:  # Okta's import: startIndex/count pages until the total is read
        page = scim.get(f"/Users?startIndex={start}&count=2").get_json()
        seen.extend(u["userName"] for u in page["Resources"])
        start += page["itemsPerPage"]
        if start > page["totalResults"] or not page["Resources"]:
            break
    assert page["totalResults"] == hand_made == len(seen)
    assert "grace@acme.example" in seen and not any(name.endswith("globex.example") for name in seen)


def test_no_lookup_list_or_post_crosses_companies(app: Flask, client: FlaskClient) -> None:
    _match(app, "entra", "acme")
    globex = ScimClient(client, _match(app, "okta", "globex"), origin=None)
    assert _lookup(globex, "grace@acme.example") == []
    listed = globex.get("/Users?count=100").get_json()["Resources"]
    assert listed and all(u["userName"].endswith("@globex.example") for u in listed)
    r = globex.post("/Users", json={"schemas": [USER_URN], "userName": "grace@acme.example"})
    body = assert_error(r, 409, "uniqueness")
    assert "managed manually" not in body["detail"]
    host = _host(app, "grace@acme.example")
    assert host is not None and host.provisioning_method == "manual"
    with app.app_context():
        company = db.session.execute(select(Company.id).where(Company.slug == "acme")).scalar_one()
    assert host.company_id == company


def test_back_to_manual_hides_the_users_no_client_took_over(app: Flask, client: FlaskClient) -> None:
    scim = ScimClient(client, _match(app), origin=None)
    grace = _lookup(scim, "grace@acme.example")[0]
    scim.patch(f"/Users/{grace['id']}", json=patch_body({"op": "replace", "path": "active", "value": True}))
    token = issue_idp_token(app, "entra", "acme", "--existing-users", "manual")
    scim = ScimClient(client, token, origin=None)
    assert [u["id"] for u in _lookup(scim, "grace@acme.example")] == [grace["id"]], "linked: stays"
    assert _lookup(scim, "linus@acme.example") == []


def test_settings_page_shows_how_many_users_match_would_expose(app: Flask, client: FlaskClient) -> None:
    issue_token(app)
    assert login(client, "admin@acme.example", PASSWORD).status_code == 302
    page = client.get("/settings/admin/scim/").get_data(as_text=True)
    with app.app_context():
        hand_made = db.session.execute(
            select(func.count(User.id))
            .join(Company)
            .where(Company.slug == "acme", User.provisioning_method == "manual")
        ).scalar_one()
    assert f'<strong id="manual-user-count">{hand_made}</strong>' in page
    assert 'name="existing_users" value="manual"' in page and 'value="match"' in page


def test_a_user_made_by_hand_after_match_is_exposed(
    app: Flask, client: FlaskClient, admin: FlaskClient
) -> None:
    scim = ScimClient(client, _match(app), origin=None)
    before = _lookup(scim, "marie@acme.example")
    assert len(before) == 1
    # An admin edits a hand-made user: the exposed document follows.
    _edit(admin, app, "marie@acme.example", given_name="Maria")
    assert _lookup(scim, "marie@acme.example")[0]["name"]["givenName"] == "Maria"


# -- identity keys -------------------------------------------------------------------------------------


def test_composed_and_decomposed_user_names_are_one_user(scim: ScimClient) -> None:
    composed = unicodedata.normalize("NFC", "Ärger@acme.example")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    first = scim.post("/Users", json={"schemas": [USER_URN], "userName": composed})
    assert first.status_code == 201
    assert_error(scim.post("/Users", json={"schemas": [USER_URN], "userName": decomposed}), 409, "uniqueness")
    assert first.get_json()["userName"] == composed, "the document keeps the spelling the IdP sent"
    assert [u["id"] for u in _lookup(scim, decomposed)] == [first.get_json()["id"]]
    assert _lookup(scim, "ärger@acme.example")[0]["id"] == first.get_json()["id"]
    assert _lookup(scim, "arger@acme.example") == [], "a letter without its diaeresis is another name"
    # Full-width letters are their ordinary ones (width mapping).
    full_width = scim.post("/Users", json={"schemas": [USER_URN], "userName": "\uff2a\uff41ne@acme.example"})
    assert full_width.status_code == 201
    assert_error(scim.post("/Users", json={"schemas": [USER_URN], "userName": "jane@acme.example"}), 409)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("josé@acme.example", "jose@acme.example"),  # an accent: another letter
        ("weiß@acme.example", "weis@acme.example"),  # ß folds to "ss", never to "s"
        ("straße@acme.example", "strasze@acme.example"),
    ],
)
def test_names_the_plugin_keeps_apart_the_database_keeps_apart(
    scim: ScimClient, one: str, other: str
) -> None:
    """The unique indexes agree with the plugin's folding, not with a collation's: on MariaDB, where
    ``utf8mb4_general_ci`` would take ``é`` for ``e`` and ``ß`` for ``s``, the key columns are binary."""
    users = [scim.post("/Users", json={"schemas": [USER_URN], "userName": name}) for name in (one, other)]
    assert [r.status_code for r in users] == [201, 201], [r.get_json() for r in users]
    assert [u["id"] for u in _lookup(scim, other.upper())] == [users[1].get_json()["id"]]
    groups = [scim.post("/Groups", json={"displayName": name.split("@")[0]}) for name in (one, other)]
    assert [r.status_code for r in groups] == [201, 201], [r.get_json() for r in groups]
    # And what the plugin folds together, the index refuses: "STRASSE" is "straße" under PRECIS.
    assert_error(
        scim.post("/Users", json={"schemas": [USER_URN], "userName": one.upper().replace("ß", "SS")}),
        409,
        "uniqueness",
    )


def test_emails_match_under_the_same_key(scim: ScimClient) -> None:
    created = new_user(
        scim,
        user_name="someone@acme.example",
        emails=[{"value": unicodedata.normalize("NFD", "José@acme.example"), "type": "work"}],
    )
    condition = f'emails.value eq "{unicodedata.normalize("NFC", "JOSÉ@acme.example")}"'
    found = scim.get(f"/Users?filter={quote(condition)}").get_json()["Resources"]
    assert [u["id"] for u in found] == [created["id"]]


# -- a dashboard edit racing a SCIM PATCH ------------------------------------------------------------


def test_dashboard_edit_racing_a_scim_patch_leaves_one_consistent_state(
    app: Flask, scim: ScimClient, admin: FlaskClient
) -> None:
    """Concurrent transactions on PostgreSQL (serialised writers on SQLite): whatever the interleaving,
    the document SCIM answers is the dashboard's final state, and no request fails."""
    import threading

    created = new_user(scim)
    host = _host(app, "jane@acme.example")
    assert host is not None
    sandbox = _workspace(app, "acme", "Marketing Sandbox")
    rounds = 12
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def dashboard() -> None:
        barrier.wait()
        for i in range(rounds):
            form = {
                "csrf": "form-token",
                "given_name": "Jane",
                "family_name": "Doe",
                "department": f"Dept {i}",
                "active": "on",
                f"ws_{sandbox.id}": "on",
            }
            statuses.append(admin.post(f"/users/{host.id}", data=form).status_code)

    def idp() -> None:
        client = ScimClient(app.test_client(), scim.token)
        barrier.wait()
        for i in range(rounds):
            body = patch_body({"op": "replace", "path": "name.givenName", "value": f"Jane {i}"})
            statuses.append(client.patch(f"/Users/{created['id']}", json=body).status_code)

    threads = [threading.Thread(target=dashboard), threading.Thread(target=idp)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(statuses)) <= [200, 302], statuses
    doc = scim.get(f"/Users/{created['id']}").get_json()
    final = _host(app, "jane@acme.example")
    assert final is not None
    assert doc["name"]["givenName"] == final.given_name
    assert doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] == final.department
    assert doc["active"] is final.active
    assert _workspaces(doc) == [(str(m.workspace_id), "Marketing Sandbox") for m in final.memberships]
    # Every write moved the version on: none was lost.
    assert doc["meta"]["version"] == f'W/"{1 + 2 * rounds}"'
