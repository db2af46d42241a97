"""Group mapping (Braze's "SCIM group role mapping"): grants follow memberships, in one transaction."""

from __future__ import annotations

from typing import Any

from examples.host_app.extensions import db
from flask import Flask
from sqlalchemy import func, select

from scim_plugin import hookimpl
from scim_plugin.core.errors import HostRefused
from scim_plugin.seam import Permissions, Ref, WorkspaceGrant
from scim_plugin.storage import group_mapping
from scim_plugin.storage.models import ScimGroupMapping
from tests.conftest import ScimClient, issue_token
from tests.test_groups import new_group, patch
from tests.test_users_api import PERMISSIONS_URN, host_user, new_user


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["scim", "group", *args])


def mapped(app: Flask, *args: str) -> Any:
    result = cli(app, "map", "--tenant", "acme", *args)
    assert result.exit_code == 0, result.output
    return result


def access(app: Flask, email: str) -> dict[str, Any]:
    user = host_user(app, email)
    assert user is not None
    return {
        "workspaces": {
            m.workspace.name: (sorted(m.permissions), m.permission_set.name if m.permission_set else None)
            for m in user.memberships
        },
        "roles": sorted(a.role.name for a in user.role_assignments),
        "company": sorted(user.company_permissions),
    }


def staging_user(scim: ScimClient, email: str) -> str:
    ext = {"workspaces": [{"display": "Staging", "permissions": ["view_campaigns"]}]}
    return new_user(
        scim,
        email,
        schemas=["urn:ietf:params:scim:schemas:core:2.0:User", PERMISSIONS_URN],
        **{PERMISSIONS_URN: ext},
    )["id"]


def test_joining_and_leaving_a_mapped_group(app: Flask, scim: ScimClient) -> None:
    jane = staging_user(scim, "jane@acme.example")
    group = new_group(scim, "Prod Editors")
    mapped(
        app,
        "--group",
        "prod editors",
        "--workspace",
        "Production",
        "--permissions",
        "view_campaigns,edit_campaigns",
        "--role",
        "Campaign Manager",
        "--company-permissions",
        "add_remove_app_groups",
    )
    before = access(app, "jane@acme.example")
    assert before == {"workspaces": {"Staging": (["view_campaigns"], None)}, "roles": [], "company": []}
    assert (
        patch(scim, group["id"], {"op": "add", "path": "members", "value": [{"value": jane}]}).status_code
        == 204
    )
    joined = access(app, "jane@acme.example")
    assert joined == {
        "workspaces": {
            "Staging": (["view_campaigns"], None),
            "Production": (["edit_campaigns", "view_campaigns"], None),
        },
        "roles": ["Campaign Manager"],
        "company": ["add_remove_app_groups"],
    }
    # The user's own permissions change: group grants stay on top.
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "replace",
                "path": f"{PERMISSIONS_URN}:workspaces",
                "value": [{"display": "Marketing Sandbox", "permissions": ["view_segments"]}],
            }
        ],
    }
    assert scim.patch(f"/Users/{jane}", json=body).status_code == 200
    assert set(access(app, "jane@acme.example")["workspaces"]) == {"Marketing Sandbox", "Production"}
    # Leaving removes only what the group granted.
    assert (
        patch(scim, group["id"], {"op": "remove", "path": f'members[value eq "{jane}"]'}).status_code == 204
    )
    assert access(app, "jane@acme.example") == {
        "workspaces": {"Marketing Sandbox": (["view_segments"], None)},
        "roles": [],
        "company": [],
    }


def test_two_groups_union_and_overlap_with_own_workspace(app: Flask, scim: ScimClient) -> None:
    jane = staging_user(scim, "jane@acme.example")
    one = new_group(scim, "Readers", [jane])
    two = new_group(scim, "Staging Editors", [jane])
    mapped(app, "--group", "Readers", "--workspace", "Production", "--permission-set", "Read Only")
    mapped(app, "--group", "Staging Editors", "--workspace", "Staging", "--permissions", "edit_campaigns")
    assert access(app, "jane@acme.example")["workspaces"] == {
        "Staging": (["edit_campaigns", "view_campaigns"], None),
        "Production": ([], "Read Only"),
    }
    assert (
        patch(scim, two["id"], {"op": "Remove", "path": "members", "value": [{"value": jane}]}).status_code
        == 204
    )
    assert access(app, "jane@acme.example")["workspaces"] == {
        "Staging": (["view_campaigns"], None),
        "Production": ([], "Read Only"),
    }
    assert scim.delete(f"/Groups/{one['id']}").status_code == 204
    assert access(app, "jane@acme.example")["workspaces"] == {"Staging": (["view_campaigns"], None)}


def test_mapping_changes_propagate_to_every_member(app: Flask, scim: ScimClient) -> None:
    ids = [staging_user(scim, f"u{i}@acme.example") for i in range(3)]
    new_group(scim, "Crew", ids)
    mapped(app, "--group", "Crew", "--role", "Campaign Manager")
    assert all(access(app, f"u{i}@acme.example")["roles"] == ["Campaign Manager"] for i in range(3))
    mapped(app, "--group", "Crew", "--company-permissions", "manage_company_settings")
    for i in range(3):
        got = access(app, f"u{i}@acme.example")
        assert got["roles"] == [] and got["company"] == ["manage_company_settings"]
    listed = cli(app, "list", "--tenant", "acme")
    assert listed.exit_code == 0 and "Crew\t3 member(s)\tcompany manage_company_settings" in listed.output
    result = cli(app, "unmap", "--tenant", "acme", "--group", "Crew")
    assert result.exit_code == 0
    assert all(access(app, f"u{i}@acme.example")["company"] == [] for i in range(3))
    assert "Crew\t3 member(s)\tunmapped" in cli(app, "list", "--tenant", "acme").output


def test_mapping_change_rolls_back_for_everyone_when_the_host_refuses_one(
    app: Flask, scim: ScimClient, register: Any
) -> None:
    ids = [staging_user(scim, f"u{i}@acme.example") for i in range(3)]
    new_group(scim, "Crew", ids)
    victim = str(host_user(app, "u1@acme.example").id)

    class Refuse:
        @hookimpl(tryfirst=True)
        def scim_apply_group_grants(self, tenant_id: str, host_user_id: str, grants: Any) -> Any:
            if host_user_id == victim:
                raise HostRefused("not this one")
            return None

    register(Refuse())
    before = [access(app, f"u{i}@acme.example") for i in range(3)]
    result = cli(app, "map", "--tenant", "acme", "--group", "Crew", "--role", "Campaign Manager")
    assert result.exit_code != 0 and "not this one" in result.output
    assert [access(app, f"u{i}@acme.example") for i in range(3)] == before
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ScimGroupMapping)).scalar_one() == 0


def test_membership_change_rolls_back_when_the_host_refuses(
    app: Flask, scim: ScimClient, register: Any
) -> None:
    jane = staging_user(scim, "jane@acme.example")
    group = new_group(scim, "Crew")
    mapped(app, "--group", "Crew", "--workspace", "Production", "--permissions", "not_a_permission")
    r = patch(scim, group["id"], {"op": "add", "path": "members", "value": [{"value": jane}]})
    assert r.status_code == 400 and "not_a_permission" in r.get_json()["detail"]
    assert "members" not in scim.get(f"/Groups/{group['id']}").get_json()
    assert set(access(app, "jane@acme.example")["workspaces"]) == {"Staging"}


def test_unmapped_group_only_records_membership(app: Flask, scim: ScimClient, register: Any) -> None:
    calls: list[Any] = []

    class Spy:
        @hookimpl(tryfirst=True)
        def scim_apply_group_grants(self, tenant_id: str, host_user_id: str, grants: Any) -> Any:
            calls.append(host_user_id)

    register(Spy())
    jane = staging_user(scim, "jane@acme.example")
    group = new_group(scim, "Plain", [jane])
    assert patch(scim, group["id"], {"op": "remove", "path": "members"}).status_code == 204
    assert calls == []


def test_mapping_validation(app: Flask, scim: ScimClient) -> None:
    new_group(scim, "Crew")
    for args, message in [
        ((), "map the group"),
        (("--permissions", "view_campaigns"), "need a workspace"),
        (("--workspace", "Production", "--permissions", "a", "--permission-set", "Read Only"), "not both"),
        (("--workspace", "Nowhere"), "unknown workspace"),
    ]:
        result = cli(app, "map", "--tenant", "acme", "--group", "Crew", *args)
        assert result.exit_code != 0 and message in result.output, result.output
    result = cli(app, "map", "--tenant", "acme", "--group", "Ghosts", "--role", "x")
    assert result.exit_code != 0 and "no SCIM group" in result.output
    # Another tenant's group of the same name is not this tenant's.
    other = ScimClient(scim.client, issue_token(app, "globex"))
    new_group(other, "Globex Only")
    result = cli(app, "map", "--tenant", "acme", "--group", "Globex Only", "--role", "x")
    assert result.exit_code != 0 and "no SCIM group" in result.output


def test_python_api_for_the_settings_page(app: Flask, scim: ScimClient) -> None:
    jane = staging_user(scim, "jane@acme.example")
    new_group(scim, "Crew", [jane])
    state = app.extensions["scim"]
    with app.app_context():
        tenant_id = str(host_user(app, "jane@acme.example").company_id)
        info = group_mapping.map_group(
            state, tenant_id, "Crew", workspace="Production", permission_set="Read Only"
        )
        db.session.commit()
        assert info.members == 1 and info.grants.workspace == "Production" and info.grants.mapped
        [listed] = group_mapping.list_groups(state, tenant_id)
        assert listed.grants.permission_set == "Read Only" and listed.display_name == "Crew"
        assert group_mapping.unmap_group(state, tenant_id, "Crew") is True
        assert group_mapping.unmap_group(state, tenant_id, "Crew") is False
        db.session.commit()


def test_aliases_are_saved_as_the_published_values(app: Flask, scim: ScimClient) -> None:
    """The command line (``map_group``) takes the host's other spellings too and saves the published
    ones, even for a group without members, where no host call would have checked them."""
    new_group(scim, "Empty")
    alias = "delete_media_library_asset"
    result = mapped(app, "--group", "Empty", "--workspace", "Staging", "--permissions", alias)
    assert "Empty" in result.output
    with app.app_context():
        [grants] = db.session.execute(select(ScimGroupMapping.grants)).scalars()
    assert grants["workspaces"][0]["permissions"] == ["delete_media_library_assets"]


def test_hook_scim_apply_group_grants(app: Flask, scim: ScimClient, register: Any) -> None:
    """Called per affected user with the union of its mapped groups' grants; empty once it left them."""
    calls: list[tuple[str, Permissions]] = []

    class Spy:
        @hookimpl(tryfirst=True)
        def scim_apply_group_grants(self, tenant_id: str, host_user_id: str, grants: Permissions) -> Any:
            calls.append((host_user_id, grants))
            return None  # let the example host do the work

    register(Spy())
    jane = staging_user(scim, "jane@acme.example")
    host_id = str(host_user(app, "jane@acme.example").id)
    one = new_group(scim, "One", [jane])
    new_group(scim, "Two", [jane])
    mapped(app, "--group", "One", "--workspace", "Production", "--permissions", "view_campaigns")
    mapped(app, "--group", "Two", "--role", "Campaign Manager")
    workspace_id = next(iter(calls[0][1].workspaces)).workspace.id
    assert calls[-1] == (
        host_id,
        Permissions(
            roles=(Ref(name="Campaign Manager"),),
            workspaces=(
                WorkspaceGrant(
                    workspace=Ref(id=workspace_id, name="Production"), permissions=("view_campaigns",)
                ),
            ),
        ),
    )
    calls.clear()
    assert patch(scim, one["id"], {"op": "remove", "path": "members"}).status_code == 204
    assert calls == [(host_id, Permissions(roles=(Ref(name="Campaign Manager"),)))]
    # With no implementation answering, a mapped group's membership change is 501 and writes nothing.
    pm = app.extensions["scim"].pm
    seam = pm.get_plugin("examples.host_app.scim_seam")
    pm.unregister(seam)
    try:
        r = patch(scim, one["id"], {"op": "add", "path": "members", "value": [{"value": jane}]})
        assert r.status_code == 501
    finally:
        pm.register(seam, name="examples.host_app.scim_seam")
    assert "members" not in scim.get(f"/Groups/{one['id']}").get_json()
