"""The "Group mappings" section of the SCIM Provisioning page (Flask test client).

Mapping, re-mapping and unmapping a group on the page changes the host's memberships of every member in
the same transaction; checked on the example host's own rows.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from examples.host_app.extensions import db as host_db
from examples.host_app.models import Company, User
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import func, select

from scim_plugin import hookimpl
from scim_plugin.core.errors import HostRefused
from scim_plugin.storage import group_mapping
from scim_plugin.storage.models import ScimGroup, ScimGroupMapping
from scim_plugin.storage.sql_filters import fold
from scim_plugin.web import admin_render

from .conftest import ScimClient, issue_token, login
from .test_admin_page import ACME, GLOBEX, PAGE, hidden, make_user, workspace_id
from .test_groups_scale import statements

MAP = "/settings/admin/scim/groups/map"
UNMAP = "/settings/admin/scim/groups/unmap"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


# --- helpers ---------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client: FlaskClient) -> FlaskClient:
    assert login(client, *ACME).status_code == 302
    return client


@pytest.fixture
def scim(app: Flask) -> ScimClient:
    return ScimClient(app.test_client(), issue_token(app))


def new_user(scim: ScimClient, email: str) -> str:
    r = scim.post("/Users", json={"schemas": [USER_URN], "userName": email})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def new_group(scim: ScimClient, name: str, members: list[str] = ()) -> str:  # type: ignore[assignment]
    body = {"schemas": [GROUP_URN], "displayName": name, "members": [{"value": m} for m in members]}
    r = scim.post("/Groups", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def access(app: Flask, email: str) -> dict[str, Any]:
    """What the host user has, read from the example host's membership rows."""
    with app.app_context():
        user = host_db.session.execute(select(User).where(User.email == email)).scalar_one()
        return {
            "workspaces": {
                m.workspace.name: (sorted(m.permissions), m.permission_set.name if m.permission_set else None)
                for m in user.memberships
            },
            "roles": sorted(a.role.name for a in user.role_assignments),
            "company": sorted(user.company_permissions or []),
        }


def mapping_rows(app: Flask) -> list[tuple[str, dict[str, Any]]]:
    with app.app_context():
        return [
            (row.group_id, row.grants) for row in host_db.session.execute(select(ScimGroupMapping)).scalars()
        ]


def open_group(client: FlaskClient, group_id: str) -> str:
    response = client.get(f"{PAGE}?group={group_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def submit(client: FlaskClient, url: str, group_id: str, data: dict[str, Any], *, view: str = "") -> Any:
    """POST a group form with the CSRF token and a fresh nonce from the page (``view``: its query)."""
    page = client.get(PAGE + view).get_data(as_text=True)
    fields = {"csrf_token": hidden(page, "csrf_token"), "form_nonce": hidden(page, "form_nonce")}
    return client.post(url, data={**fields, "group_id": group_id, **data})


def mapping(workspace: str = "", **fields: Any) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "permission_set": "",
        "permissions": "",
        "role": "",
        "company_permissions": [],
        **fields,
    }


def notice(client: FlaskClient, response: Any) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.endswith("#scim-groups")
    page = client.get(location.split("#")[0]).get_data(as_text=True)
    match = re.search(r'<div class="scim-notice scim-notice-(\w+)" role="status">(.*?)</div>', page, re.S)
    assert match, "no notice on the page"
    return f"{match.group(1)}: {match.group(2)}"


def form_error(page: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="map-{field}-error">(.*?)</p>', page, re.S)
    assert match, f"no error shown for {field}"
    return match.group(1)


@pytest.fixture
def crew(app: Flask, scim: ScimClient) -> dict[str, Any]:
    """Two provisioned users in the acme group "Crew" (unmapped), and what the host gives them now."""
    ids = [new_user(scim, f"u{i}@acme.example") for i in range(2)]
    group_id = new_group(scim, "Crew", ids)
    return {"id": group_id, "before": [access(app, f"u{i}@acme.example") for i in range(2)]}


# --- listing ---------------------------------------------------------------------------------------------


def test_empty_list_explains_where_groups_come_from(admin_client: FlaskClient) -> None:
    page = admin_client.get(PAGE).get_data(as_text=True)
    assert '<h2 id="groups-title">Group mappings</h2>' in page
    assert "No groups yet" in page
    assert 'id="scim-group-list"' not in page


def test_list_shows_name_member_count_and_mapping(
    app: Flask, admin_client: FlaskClient, scim: ScimClient, crew: dict[str, Any]
) -> None:
    new_group(scim, "Auditors")
    result = app.test_cli_runner().invoke(
        args=["scim", "group", "map", "--tenant", "acme", "--group", "Auditors", "--workspace", "Staging",
              "--permissions", "view_campaigns,view_segments", "--role", "Campaign Manager"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = admin_client.get(PAGE).get_data(as_text=True)
    table = page[page.index('id="scim-group-list"') :]
    rows = re.findall(r"<tr[^>]*>\s*<th scope=\"row\"[^>]*>(.*?)</th>\s*<td[^>]*>(\d+)</td>", table, re.S)
    assert rows == [("Auditors", "0"), ("Crew", "2")]  # by name, member counts from the column
    assert "Workspace <strong>Staging</strong> with view_campaigns, view_segments" in table
    assert "Role <strong>Campaign Manager</strong>" in table
    assert "Not mapped (membership only)" in table
    assert f"?group={crew['id']}#map-group" in table
    assert 'Edit mapping<span class="visually-hidden"> Auditors</span>' in table
    assert 'Map<span class="visually-hidden"> Crew</span>' in table


def test_form_offers_the_hosts_choices_and_shows_the_current_mapping(
    app: Flask, admin_client: FlaskClient, crew: dict[str, Any]
) -> None:
    page = open_group(admin_client, crew["id"])
    form = page[page.index('id="map-group"') :]
    assert "Map \u201cCrew\u201d" in form
    # Workspaces of acme only, by id; permission sets, roles and company permissions from the host.
    assert f'<option value="{workspace_id(app, "acme", "Production")}" >Production</option>' in form
    assert workspace_id(app, "globex", "Main") not in re.findall(r'<option value="(\d+)"', form)
    assert '<option value="Read Only" >Read Only</option>' in form
    assert '<option value="Campaign Manager" >Campaign Manager</option>' in form
    assert 'name="company_permissions" value="manage_company_settings"' in form
    for field in ("workspace", "permission_set", "permissions", "role"):
        assert f'<label for="map-{field}">' in form
    assert "<legend>Company permissions" in form
    # Saved: the form opens with what is mapped now.
    response = submit(
        admin_client,
        MAP,
        crew["id"],
        mapping(workspace_id(app, "acme", "Staging"), permissions="view_campaigns"),
    )
    assert response.status_code == 303
    form = open_group(admin_client, crew["id"])
    assert f'<option value="{workspace_id(app, "acme", "Staging")}" selected>Staging</option>' in form
    assert 'value="view_campaigns"' in form
    assert 'id="unmap-group"' in form


# --- map, remap, unmap ---------------------------------------------------------------------------------


def test_map_remap_unmap_follow_through_to_host_memberships(
    app: Flask, admin_client: FlaskClient, crew: dict[str, Any]
) -> None:
    production = workspace_id(app, "acme", "Production")
    response = submit(
        admin_client,
        MAP,
        crew["id"],
        mapping(production, permission_set="Read Only", role="Campaign Manager"),
    )
    assert notice(admin_client, response) == (
        "success: Saved the mapping of \u201cCrew\u201d: 2 members updated."
    )
    for i, before in enumerate(crew["before"]):
        got = access(app, f"u{i}@acme.example")
        assert got["workspaces"] == {**before["workspaces"], "Production": ([], "Read Only")}
        assert got["roles"] == ["Campaign Manager"] and got["company"] == before["company"]
    [(group_id, grants)] = mapping_rows(app)
    assert group_id == crew["id"] and grants["workspaces"][0]["value"] == production

    # Re-map: what the old mapping granted goes, the new grants come, for every member.
    response = submit(
        admin_client,
        MAP,
        crew["id"],
        mapping(
            workspace_id(app, "acme", "Staging"),
            permissions="view_campaigns, edit_campaigns",
            company_permissions=["manage_company_settings"],
        ),
    )
    assert "2 members updated" in notice(admin_client, response)
    for i, before in enumerate(crew["before"]):
        got = access(app, f"u{i}@acme.example")
        assert got["workspaces"] == {
            **before["workspaces"],
            "Staging": (["edit_campaigns", "view_campaigns"], None),
        }
        assert got["roles"] == [] and got["company"] == ["manage_company_settings"]

    # Unmap: without JavaScript the page asks first, and nothing changes yet.
    asked = submit(admin_client, UNMAP, crew["id"], {})
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "Remove the mapping of \u201cCrew\u201d?" in page
    assert len(mapping_rows(app)) == 1
    response = submit(admin_client, UNMAP, crew["id"], {"confirm": "yes"})
    assert notice(admin_client, response) == (
        "success: Removed the mapping of \u201cCrew\u201d: 2 members updated. "
        "The group now only records membership."
    )
    assert [access(app, f"u{i}@acme.example") for i in range(2)] == crew["before"]
    assert mapping_rows(app) == []
    # Again (a stale tab): nothing to remove.
    response = submit(admin_client, UNMAP, crew["id"], {"confirm": "yes"})
    assert notice(admin_client, response) == "warning: \u201cCrew\u201d was not mapped: nothing was changed."


def test_a_member_joining_later_gets_the_mapping(
    app: Flask, admin_client: FlaskClient, scim: ScimClient, crew: dict[str, Any]
) -> None:
    submit(admin_client, MAP, crew["id"], mapping(role="Campaign Manager"))
    late = new_user(scim, "late@acme.example")
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": late}]}],
    }
    assert scim.patch(f"/Groups/{crew['id']}", json=body).status_code == 204
    assert access(app, "late@acme.example")["roles"] == ["Campaign Manager"]
    assert ">3</td>" in admin_client.get(PAGE).get_data(as_text=True)


def test_paged_list_keeps_its_page_after_saving(
    app: Flask, admin_client: FlaskClient, scim: ScimClient
) -> None:
    for i in range(admin_render.GROUPS_PER_PAGE + 1):
        new_group(scim, f"Group {i:03d}")
    last = new_group(scim, "Zulu")
    response = submit(admin_client, MAP, last, {**mapping(role="Campaign Manager"), "page": "2"})
    assert response.headers["Location"].endswith(f"{PAGE}?page=2#scim-groups")


# --- refused input: a form error, nothing written ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"workspace": "globex:Main"}, "workspace", "Choose one of this company\u2019s workspaces."),
        ({"workspace": "999999"}, "workspace", "Choose one of this company\u2019s workspaces."),
        ({"workspace": "acme:Production", "permission_set": "Nope"}, "permission_set", "No permission set"),
        ({"permission_set": "Read Only"}, "permission_set", "choose the workspace too"),
        ({"workspace": "acme:Production", "permissions": "view_campaigns, not_a_permission"}, "permissions",
         "Unknown workspace permission: not_a_permission."),
        ({"workspace": "acme:Production", "permissions": "view_campaigns", "permission_set": "Read Only"},
         "permissions", "not both"),
        ({"permissions": "view_campaigns"}, "permissions", "choose the workspace too"),
        ({"role": "Overlord"}, "role", "No role \u201cOverlord\u201d in this company."),
        ({"company_permissions": ["admin", "superuser"]}, "company_permissions",
         "Unknown company permission: superuser."),
    ],
)  # fmt: skip
def test_invalid_choices_are_form_errors_and_write_nothing(
    app: Flask,
    admin_client: FlaskClient,
    crew: dict[str, Any],
    fields: dict[str, Any],
    field: str,
    message: str,
) -> None:
    if ":" in fields.get("workspace", ""):
        fields = {**fields, "workspace": workspace_id(app, *fields["workspace"].split(":"))}
    response = submit(admin_client, MAP, crew["id"], mapping(**fields))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in form_error(page, field)
    assert f'aria-describedby="map-{field}-help map-{field}-error"' in page
    # The error summary at the top names the problem and links to the field.
    summary = page[page.index('id="error-summary"') : page.index("</div>", page.index('id="error-summary"'))]
    assert 'role="alert"' in summary and message in summary
    assert f'href="#map-{field}"' in summary
    assert 'id="map-group-errors"' in page
    assert mapping_rows(app) == []
    assert [access(app, f"u{i}@acme.example") for i in range(2)] == crew["before"]


def test_an_empty_mapping_is_refused(app: Flask, admin_client: FlaskClient, crew: dict[str, Any]) -> None:
    response = submit(admin_client, MAP, crew["id"], mapping())
    assert response.status_code == 400
    assert "Choose what the group grants" in response.get_data(as_text=True)
    assert mapping_rows(app) == []


def test_what_was_chosen_is_kept_after_an_error(
    app: Flask, admin_client: FlaskClient, crew: dict[str, Any]
) -> None:
    staging = workspace_id(app, "acme", "Staging")
    response = submit(
        admin_client,
        MAP,
        crew["id"],
        mapping(staging, permissions="bogus", role="Campaign Manager", company_permissions=["admin"]),
    )
    page = response.get_data(as_text=True)
    assert f'<option value="{staging}" selected>Staging</option>' in page
    assert '<option value="Campaign Manager" selected>Campaign Manager</option>' in page
    assert re.search(r'value="admin"\s+checked>', page)
    assert 'value="bogus"' in page


def test_host_refusal_is_a_form_error_and_nothing_is_half_applied(
    app: Flask, admin_client: FlaskClient, crew: dict[str, Any], register: Any
) -> None:
    # A mapping in place first: a refused re-map must leave it, and every member, as they were.
    assert submit(admin_client, MAP, crew["id"], mapping(role="Campaign Manager")).status_code == 303
    mapped_before = mapping_rows(app)
    access_before = [access(app, f"u{i}@acme.example") for i in range(2)]
    with app.app_context():
        victim = str(
            host_db.session.execute(select(User.id).where(User.email == "u1@acme.example")).scalar_one()
        )

    class Refuse:
        @hookimpl(tryfirst=True)
        def scim_apply_group_grants(self, tenant_id: str, host_user_id: str, grants: Any) -> Any:
            if host_user_id == victim:
                raise HostRefused("this user's access is frozen <for now>")
            return None

    register(Refuse())
    response = submit(admin_client, MAP, crew["id"], mapping(company_permissions=["manage_company_settings"]))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    errors = page[page.index('id="map-group-errors"') :]
    assert "Nothing was changed: the host refused the grants:" in errors
    assert "frozen &lt;for now&gt;" in errors
    assert mapping_rows(app) == mapped_before
    assert [access(app, f"u{i}@acme.example") for i in range(2)] == access_before
    # Unmapping is refused the same way.
    response = submit(admin_client, UNMAP, crew["id"], {"confirm": "yes"})
    assert response.status_code == 400
    assert "Nothing was changed: the host refused the grants:" in response.get_data(as_text=True)
    assert mapping_rows(app) == mapped_before
    assert [access(app, f"u{i}@acme.example") for i in range(2)] == access_before


def test_a_spelling_the_host_accepts_is_saved_as_its_canonical_value(
    app: Flask, admin_client: FlaskClient, crew: dict[str, Any]
) -> None:
    """Braze's singular ``delete_media_library_asset`` is the example host's alias of a permission it
    publishes (``scim_value_aliases``): the form takes it as the SCIM API does, and saves the published
    name."""
    staging = workspace_id(app, "acme", "Staging")
    typed = "delete_media_library_asset, view_campaigns, delete_media_library_assets"
    response = submit(admin_client, MAP, crew["id"], mapping(staging, permissions=typed))
    assert "2 members updated" in notice(admin_client, response)
    [(_, grants)] = mapping_rows(app)
    assert grants["workspaces"][0]["permissions"] == ["delete_media_library_assets", "view_campaigns"]
    for i in range(2):
        assert access(app, f"u{i}@acme.example")["workspaces"]["Staging"] == (
            ["delete_media_library_assets", "view_campaigns"],
            None,
        )
    # A name that is neither published nor an alias is still a form error.
    response = submit(admin_client, MAP, crew["id"], mapping(staging, permissions="delete_media_library"))
    assert response.status_code == 400
    assert "Unknown workspace permission: delete_media_library." in form_error(
        response.get_data(as_text=True), "permissions"
    )


def test_free_text_when_the_host_publishes_no_lists(
    app: Flask, admin_client: FlaskClient, crew: dict[str, Any], register: Any
) -> None:
    class NoLists:
        @hookimpl(tryfirst=True)
        def scim_canonical_values(self, tenant_id: str) -> Any:
            return {}

    register(NoLists())
    page = open_group(admin_client, crew["id"])
    assert re.search(r'<input id="map-role" name="role" type="text"', page)
    assert re.search(r'<input id="map-company_permissions" name="company_permissions" type="text"', page)
    # The host checks the names when it applies them: an unknown role is its refusal, as a form error.
    response = submit(admin_client, MAP, crew["id"], mapping(role="Overlord"))
    assert response.status_code == 400
    assert "Unknown role name &#34;Overlord&#34;" in response.get_data(as_text=True)
    assert mapping_rows(app) == []
    response = submit(
        admin_client,
        MAP,
        crew["id"],
        mapping(role="Campaign Manager", company_permissions=["add_remove_app_groups, admin"]),
    )
    assert response.status_code == 303
    assert access(app, "u0@acme.example")["company"] == ["add_remove_app_groups", "admin"]


def test_a_host_without_group_grants_says_so(
    app: Flask, admin_client: FlaskClient, crew: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_mapping, "mapping_supported", lambda state: False)
    page = open_group(admin_client, crew["id"])
    assert "does not apply group grants" in page
    assert 'id="map-group-form"' not in page and "?group=" not in page
    response = submit(admin_client, MAP, crew["id"], mapping(role="Campaign Manager"))
    assert response.status_code == 400
    assert "does not implement scim_apply_group_grants" in response.get_data(as_text=True)
    assert mapping_rows(app) == []


# --- request protection ----------------------------------------------------------------------------------


def test_group_forms_need_the_csrf_token_and_a_fresh_nonce(
    app: Flask, admin_client: FlaskClient, crew: dict[str, Any]
) -> None:
    page = admin_client.get(PAGE).get_data(as_text=True)
    data = {"group_id": crew["id"], **mapping(role="Campaign Manager")}
    assert admin_client.post(MAP, data=data).status_code == 400
    assert admin_client.post(MAP, data={**data, "csrf_token": "forged"}).status_code == 400
    assert admin_client.post(MAP, data={**data, "form_nonce": hidden(page, "form_nonce")}).status_code == 400
    assert admin_client.post(UNMAP, data={"group_id": crew["id"], "confirm": "yes"}).status_code == 400
    assert mapping_rows(app) == []
    # A replayed form (same nonce) is not applied twice.
    full = {**data, "csrf_token": hidden(page, "csrf_token"), "form_nonce": hidden(page, "form_nonce")}
    assert admin_client.post(MAP, data=full).status_code == 303
    admin_client.get(PAGE)
    again = admin_client.post(MAP, data={**full, "role": ""})
    assert again.status_code == 303 and again.headers["Location"].endswith(PAGE)
    assert "already been submitted" in admin_client.get(PAGE).get_data(as_text=True)
    assert mapping_rows(app)[0][1] == {"roles": [{"display": "Campaign Manager"}]}


def test_only_admins_reach_the_group_forms(app: Flask, client: FlaskClient, crew: dict[str, Any]) -> None:
    for url in (MAP, UNMAP):
        assert client.post(url, data={"group_id": crew["id"], "confirm": "yes"}).status_code in (302, 401)
    make_user(app, "viewer@acme.example", "viewer-password")
    assert login(client, "viewer@acme.example", "viewer-password").status_code == 302
    assert client.get(f"{PAGE}?group={crew['id']}").status_code == 403
    for url in (MAP, UNMAP):
        assert (
            client.post(url, data={"group_id": crew["id"], "role": "x", "confirm": "yes"}).status_code == 403
        )
    assert mapping_rows(app) == []


# --- tenants ---------------------------------------------------------------------------------------------


def test_another_companys_group_cannot_be_seen_or_mapped(
    app: Flask, admin_client: FlaskClient, crew: dict[str, Any]
) -> None:
    assert submit(admin_client, MAP, crew["id"], mapping(role="Campaign Manager")).status_code == 303
    before = mapping_rows(app)
    globex_scim = ScimClient(app.test_client(), issue_token(app, "globex"))
    globex_group = new_group(globex_scim, "Globex Crew")

    globex = app.test_client()
    assert login(globex, *GLOBEX).status_code == 302
    page = globex.get(PAGE).get_data(as_text=True)
    assert "Globex Crew" in page and "Crew</th>" in page
    assert crew["id"] not in page and ">Crew</th>" not in page

    # Opening acme's group by id: not found, nothing of it shown.
    response = globex.get(f"{PAGE}?group={crew['id']}")
    assert response.status_code == 404
    assert "does not exist in this company" in response.get_data(as_text=True)
    assert 'id="map-group"' not in response.get_data(as_text=True)

    # Forged POSTs naming acme's group, with globex's own valid CSRF token and nonce.
    main = workspace_id(app, "globex", "Main")
    for url, data in (
        (MAP, mapping(main, permission_set="Read Only", role="Campaign Manager")),
        (UNMAP, {"confirm": "yes"}),
        (UNMAP, {}),
    ):
        response = submit(globex, url, crew["id"], data)
        assert response.status_code == 404, url
        text = response.get_data(as_text=True)
        assert "does not exist in this company" in text
        assert "Remove the mapping of" not in text and ">Crew</th>" not in text
    # Also by display name instead of id.
    assert submit(globex, MAP, "Crew", mapping(role="Campaign Manager")).status_code == 404
    assert mapping_rows(app) == before
    assert [access(app, f"u{i}@acme.example")["roles"] for i in range(2)] == [["Campaign Manager"]] * 2

    # And acme's admin cannot reach globex's group either.
    assert submit(admin_client, MAP, globex_group, mapping(role="Campaign Manager")).status_code == 404
    assert all(group_id != globex_group for group_id, _ in mapping_rows(app))


# --- escaping --------------------------------------------------------------------------------------------


def test_group_display_name_is_escaped_everywhere(
    app: Flask, admin_client: FlaskClient, scim: ScimClient
) -> None:
    name = '<script>alert(1)</script>"x'
    group_id = new_group(scim, name, [new_user(scim, "jane@acme.example")])
    escaped = str(escape(name))
    pages = [admin_client.get(PAGE).get_data(as_text=True), open_group(admin_client, group_id)]
    response = submit(admin_client, MAP, group_id, mapping(role="Campaign Manager"))
    pages.append(admin_client.get(response.headers["Location"].split("#")[0]).get_data(as_text=True))
    pages.append(open_group(admin_client, group_id))  # the data-confirm attribute of "Remove mapping"
    pages.append(submit(admin_client, UNMAP, group_id, {}).get_data(as_text=True))  # the confirm step
    for page in pages:
        assert "<script>alert(1)" not in page
        assert escaped in page
    assert f"Saved the mapping of \u201c{escaped}\u201d: 1 member updated." in pages[2]
    assert f'data-confirm="Remove the mapping of \u201c{escaped}\u201d?' in pages[3]


# --- many groups -----------------------------------------------------------------------------------------


def _add_groups(app: Flask, count: int, start: int = 0) -> None:
    """Groups straight into the table (the page only reads them)."""
    with app.app_context():
        tenant_id = str(
            host_db.session.execute(select(Company.id).where(Company.slug == "acme")).scalar_one()
        )
        for i in range(start, start + count):
            name = f"Team {i:04d}"
            host_db.session.add(
                ScimGroup(
                    tenant_id=tenant_id,
                    display_name=name,
                    display_name_norm=fold(name),
                    resource={"schemas": [GROUP_URN], "displayName": name},
                    member_count=i,
                )
            )
        host_db.session.commit()


def _statements(app: Flask, client: FlaskClient, url: str) -> tuple[int, str]:
    with statements(app) as seen:
        response = client.get(url)
    assert response.status_code == 200
    return len(seen), response.get_data(as_text=True)


def test_many_groups_are_paged_with_a_constant_number_of_queries(
    app: Flask, admin_client: FlaskClient
) -> None:
    per_page = admin_render.GROUPS_PER_PAGE
    _add_groups(app, 3)
    few, _ = _statements(app, admin_client, PAGE)
    _add_groups(app, 2 * per_page + 7, start=3)
    many, page = _statements(app, admin_client, PAGE)
    assert many == few  # one count and one page query, whatever the number of groups
    total = 2 * per_page + 10
    assert len(re.findall(r'<th scope="row" class="group-name">', page)) == per_page
    assert f"Groups 1\u2013{per_page} of {total} (page 1 of 3)" in page
    assert 'rel="next" href="/settings/admin/scim/?page=2#scim-groups"' in page and 'rel="prev"' not in page
    _, last = _statements(app, admin_client, f"{PAGE}?page=3")
    assert len(re.findall(r'<th scope="row" class="group-name">', last)) == 10
    assert ">Team 0059</th>" in last and '<td class="num" data-label="Members">59</td>' in last
    assert 'rel="prev" href="/settings/admin/scim/?page=2#scim-groups"' in last and 'rel="next"' not in last
    # Past the end (or nonsense): the nearest real page.
    assert _statements(app, admin_client, f"{PAGE}?page=99")[1].count("(page 3 of 3)") == 1
    assert _statements(app, admin_client, f"{PAGE}?page=abc")[1].count("(page 1 of 3)") == 1
    with app.app_context():
        assert host_db.session.execute(select(func.count()).select_from(ScimGroup)).scalar_one() == total
