"""One ``test_hook_<name>`` per hook: each hook's documented behaviour, observed through the real app.

``hooks/scim_hooks.md`` and ``hooks/host_hooks.md`` describe what these tests check;
``tests/test_hooks_contract.py`` fails when a hook has no test here. Throwaway plugins are registered on
the running app's ``scim`` plugin manager and removed at teardown (the ``register`` fixture).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from examples.host_app.extensions import db
from examples.host_app.models import Company, User, Workspace
from flask import Flask, request
from sqlalchemy import create_engine, func, select

from scim_plugin import hookimpl
from scim_plugin.config import ConfigError
from scim_plugin.core.errors import HostRefused, InvalidValue
from scim_plugin.core.schemas import PERMISSIONS_URN
from scim_plugin.seam import (
    AdminIdentity,
    HostUserInfo,
    ScimEvent,
    TokenIdentity,
    TokenRejected,
    WorkspaceInfo,
)
from scim_plugin.storage.models import ScimUser, TenantSettings, Token

from .conftest import ORIGIN, ScimClient, issue_token, login

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SEAM = "examples.host_app.scim_seam"

Register = Callable[[Any], Any]


def company_id(app: Flask, slug: str = "acme") -> int:
    with app.app_context():
        return db.session.execute(select(Company.id).where(Company.slug == slug)).scalar_one()


def workspace_id(app: Flask, name: str, slug: str = "acme") -> str:
    with app.app_context():
        return str(
            db.session.execute(
                select(Workspace.id).join(Company).where(Company.slug == slug, Workspace.name == name)
            ).scalar_one()
        )


def user_body(user_name: str = "jane@acme.example", department: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": "Jane", "familyName": "Doe"},
    }
    if department is not None:
        body["schemas"].append(ENTERPRISE_URN)
        body[ENTERPRISE_URN] = {"department": department}
    return body


def create(scim: ScimClient, user_name: str = "jane@acme.example") -> dict[str, Any]:
    r = scim.post("/Users", json=user_body(user_name))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def host_user(app: Flask, email: str) -> User | None:
    with app.app_context():
        user = db.session.execute(
            select(User).where(func.lower(User.email) == email.lower())
        ).scalar_one_or_none()
        db.session.expunge_all()
        return user


def scim_users(app: Flask) -> list[ScimUser]:
    with app.app_context():
        rows = list(db.session.execute(select(ScimUser)).scalars())
        db.session.expunge_all()
        return rows


def tenant_settings(app: Flask, slug: str = "acme") -> TenantSettings | None:
    with app.app_context():
        settings = db.session.get(TenantSettings, str(company_id(app, slug)))
        db.session.expunge_all()
        return settings


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def issue_cli(app: Flask, tenant: str, *extra: str) -> Any:
    """``flask scim token issue`` without asserting success (``issue_token`` asserts it)."""
    return cli(app, "scim", "token", "issue", "--tenant", tenant, "--origin", ORIGIN, *extra)


# -- The seam to the host's users and workspaces --------------------------------------------------------


def test_hook_scim_create_user(app: Flask, scim: ScimClient, register: Register) -> None:
    # The host's seam creates the dashboard user and its id is kept on the SCIM user.
    created = create(scim)
    host = host_user(app, "jane@acme.example")
    assert host is not None and host.provisioning_method == "scim"
    assert [row.host_user_id for row in scim_users(app)] == [str(host.id)]

    class Refuse:
        @hookimpl(tryfirst=True)
        def scim_create_user(self, tenant_id: str, user: Any) -> str:
            raise InvalidValue(f"{user.user_name} is not welcome")

    # Refusing: a 4xx and nothing written, neither the SCIM row nor the host user.
    refuser = register(Refuse())
    r = scim.post("/Users", json=user_body("bob@acme.example"))
    assert r.status_code == 400
    assert "not welcome" in r.get_json()["detail"]
    assert host_user(app, "bob@acme.example") is None
    assert [row.id for row in scim_users(app)] == [created["id"]]

    # Unanswered (no implementation at all): 501 and still nothing written.
    pm = app.extensions["scim"].pm
    pm.unregister(refuser)
    pm.unregister(name=SEAM)
    r = scim.post("/Users", json=user_body("carol@acme.example"))
    assert r.status_code == 501
    assert host_user(app, "carol@acme.example") is None
    assert len(scim_users(app)) == 1


def test_a_host_unique_violation_in_scim_create_user_is_a_409(
    app: Flask, scim: ScimClient, register: Register
) -> None:
    # A host that inserts without looking first (or loses a race to a concurrent create) lets its own
    # unique index fail: that is the request's 409, not a 500, and nothing is written.
    create(scim)

    class Naive:
        @hookimpl(tryfirst=True)
        def scim_create_user(self, tenant_id: str, user: Any) -> str:
            db.session.execute(
                User.__table__.insert().values(company_id=int(tenant_id), email="jane@acme.example")
            )
            return "never reached"

    register(Naive())
    r = scim.post("/Users", json=user_body("bob@acme.example"))
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["scimType"] == "uniqueness"
    assert host_user(app, "bob@acme.example") is None
    assert len(scim_users(app)) == 1


def test_hook_scim_update_user(app: Flask, scim: ScimClient, register: Register) -> None:
    created = create(scim)
    r = scim.put(f"/Users/{created['id']}", json=user_body(department="Marketing"))
    assert r.status_code == 200, r.get_json()
    assert host_user(app, "jane@acme.example").department == "Marketing"

    seen: list[Any] = []

    class Refuse:
        @hookimpl(tryfirst=True)
        def scim_update_user(self, tenant_id: str, host_user_id: str, user: Any) -> bool:
            seen.append((host_user_id, user.department, user.permissions))
            raise InvalidValue("frozen")

    register(Refuse())
    version = scim.get(f"/Users/{created['id']}").get_json()["meta"]["version"]
    r = scim.put(f"/Users/{created['id']}", json=user_body(department="Sales"))
    assert r.status_code == 400
    host = host_user(app, "jane@acme.example")
    assert seen == [(str(host.id), "Sales", None)]  # permissions untouched by this PUT: None
    assert host.department == "Marketing"
    assert scim.get(f"/Users/{created['id']}").get_json()["meta"]["version"] == version


def test_hook_scim_delete_user(app: Flask, scim: ScimClient, register: Register) -> None:
    kept, gone = create(scim, "kept@acme.example"), create(scim, "gone@acme.example")
    assert scim.delete(f"/Users/{gone['id']}").status_code == 204
    assert host_user(app, "gone@acme.example") is None

    class Refuse:
        @hookimpl(tryfirst=True)
        def scim_delete_user(self, tenant_id: str, host_user_id: str) -> bool:
            raise HostRefused("Keep this one.")

    register(Refuse())
    r = scim.delete(f"/Users/{kept['id']}")
    assert r.status_code == 409
    assert "Keep this one." in r.get_json()["detail"]
    assert host_user(app, "kept@acme.example") is not None
    assert scim.get(f"/Users/{kept['id']}").status_code == 200


def test_hook_scim_resolve_workspace(app: Flask, register: Register) -> None:
    # By name or id through the seam; an unknown workspace refuses the settings.
    issue_token(app, "acme", ORIGIN, "--default-workspace", "staging")
    assert tenant_settings(app).default_workspace_name == "Staging"
    result = issue_cli(app, "acme", "--default-workspace", "Nowhere")
    assert result.exit_code != 0
    assert 'No workspace "Nowhere"' in result.output
    # Another tenant's workspace is never found.
    other = workspace_id(app, "Main", "globex")
    result = issue_cli(app, "acme", "--default-workspace", other)
    assert result.exit_code != 0

    class Aliases:
        @hookimpl(tryfirst=True)
        def scim_resolve_workspace(self, tenant_id: str, ref: Any) -> WorkspaceInfo | None:
            if ref.name == "prod":
                return WorkspaceInfo(id=workspace_id(app, "Production"), name="Production")
            return None  # not mine: the seam answers

    register(Aliases())
    issue_token(app, "acme", ORIGIN, "--default-workspace", "prod")
    assert tenant_settings(app).default_workspace_name == "Production"
    issue_token(app, "acme", ORIGIN, "--default-workspace", "Staging")
    assert tenant_settings(app).default_workspace_name == "Staging"


def test_hook_scim_list_workspaces(app: Flask, register: Register) -> None:
    state = app.extensions["scim"]
    with app.app_context():
        listed = state.hook.scim_list_workspaces(tenant_id=str(company_id(app)))
    assert [ws.name for ws in listed] == ["Marketing Sandbox", "Production", "Staging"]
    # Without --default-workspace the CLI takes the first one.
    issue_token(app, "globex")
    assert tenant_settings(app, "globex").default_workspace_name == "EU"

    class NoWorkspaces:
        @hookimpl(tryfirst=True)
        def scim_list_workspaces(self, tenant_id: str) -> list[WorkspaceInfo]:
            return []  # an answer (the first result wins): "none", unlike None

    register(NoWorkspaces())
    result = issue_cli(app, "acme")
    assert result.exit_code != 0
    assert "no workspace" in result.output


def _canonical(document: dict[str, Any], path: str) -> list[str] | None:
    """The ``canonicalValues`` of ``attr`` or ``attr.sub`` in a published schema document."""
    name, _, sub = path.partition(".")
    attr = next(a for a in document["attributes"] if a["name"] == name)
    if sub:
        attr = next(a for a in attr["subAttributes"] if a["name"] == sub)
    return attr.get("canonicalValues")


def test_hook_scim_canonical_values(app: Flask, scim: ScimClient, register: Register) -> None:
    url = f"/Schemas/{PERMISSIONS_URN}"
    r = scim.get(url)
    assert r.status_code == 200, r.get_json()
    assert _canonical(r.get_json(), "workspaces.display") == ["Production", "Staging", "Marketing Sandbox"]
    assert "Main" not in r.get_data(as_text=True)  # never another tenant's values

    class Override:
        @hookimpl(tryfirst=True)
        def scim_canonical_values(self, tenant_id: str) -> dict[str, list[str]] | None:
            return {f"{PERMISSIONS_URN}:workspaces.display": ["Only"], "urn:unknown:schema:thing": ["x"]}

    override = register(Override())
    document = scim.get(url).get_json()
    assert _canonical(document, "workspaces.display") == ["Only"]
    assert _canonical(document, "roles.display") is None  # the first result wins: the seam's are not merged

    class Nothing:
        @hookimpl(tryfirst=True)
        def scim_canonical_values(self, tenant_id: str) -> None:
            return None

    app.extensions["scim"].pm.unregister(override)
    app.extensions["scim"].pm.unregister(name=SEAM)
    register(Nothing())
    assert _canonical(scim.get(url).get_json(), "workspaces.display") is None  # published as it is


def test_hook_scim_value_aliases(app: Flask, scim: ScimClient, register: Register) -> None:
    """Group mappings save the published value of an alias; the first result wins, ``None`` passes on."""
    from scim_plugin.storage import group_mapping

    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crew"}
    assert scim.post("/Groups", json=group).status_code == 201
    state, tenant_id = app.extensions["scim"], str(company_id(app))

    def saved(**grants: Any) -> group_mapping.GroupGrants:
        with app.app_context():
            info = group_mapping.map_group(state, tenant_id, "Crew", **grants)
            db.session.commit()
            return info.grants

    # The example host's alias of a workspace permission.
    grants = saved(workspace="Staging", permissions=["delete_media_library_asset", "view_campaigns"])
    assert grants.permissions == ("delete_media_library_assets", "view_campaigns")

    class RoleAliases:
        @hookimpl(tryfirst=True)
        def scim_value_aliases(self, tenant_id: str) -> dict[str, dict[str, str]] | None:
            return {f"{PERMISSIONS_URN}:roles.display": {"CM": "Campaign Manager"}}

    override = register(RoleAliases())
    assert saved(role="CM").role == "Campaign Manager"
    # The first result wins: the example host's aliases are not merged in (a group without members is
    # not checked by the host, so the spelling is saved as given).
    grants = saved(workspace="Staging", permissions=["delete_media_library_asset"])
    assert grants.permissions == ("delete_media_library_asset",)

    class Nothing:
        @hookimpl(tryfirst=True)
        def scim_value_aliases(self, tenant_id: str) -> None:
            return None

    app.extensions["scim"].pm.unregister(override)
    nothing = register(Nothing())
    assert saved(role="CM").role == "CM"  # no alias: as given
    grants = saved(workspace="Staging", permissions=["delete_media_library_asset"])
    assert grants.permissions == ("delete_media_library_assets",)  # None passed on to the example host

    class Malformed:
        @hookimpl(tryfirst=True)
        def scim_value_aliases(self, tenant_id: str) -> Any:
            return {f"{PERMISSIONS_URN}:roles.display": ["CM", "Campaign Manager"]}

    app.extensions["scim"].pm.unregister(nothing)
    register(Malformed())
    assert saved(role="CM").role == "CM"  # not a mapping: ignored, not a 500


def test_hook_scim_host_user_info(app: Flask, scim: ScimClient, register: Register) -> None:
    created = create(scim)
    assert "lastSignInAt" not in scim.get(f"/Users/{created['id']}").get_data(as_text=True)
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == "jane@acme.example")).scalar_one()
        user.last_sign_in_at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
        db.session.commit()
    assert "2026-03-04T05:06:07" in scim.get(f"/Users/{created['id']}").get_data(as_text=True)

    class Fixed:
        @hookimpl(tryfirst=True)
        def scim_host_user_info(self, tenant_id: str, host_user_id: str) -> HostUserInfo:
            return HostUserInfo(last_sign_in_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))

    register(Fixed())
    assert "2030-01-02T03:04:05" in scim.get(f"/Users/{created['id']}").get_data(as_text=True)
    # A host that answers for a user it has just created (one that adopts existing accounts): the
    # POST's answer, rendered before the host's user existed, is rendered again to show it.
    adopted = create(scim, "adopted@acme.example")
    assert adopted[PERMISSIONS_URN]["lastSignInAt"] == "2030-01-02T03:04:05Z"


def test_example_host_profile_update_without_permissions(app: Flask, scim: ScimClient) -> None:
    # Entra's active PATCH leaves permissions alone: the example host sets the profile columns in one
    # UPDATE (no ORM load). The answer still shows the host's lastSignInAt, and a host user deleted
    # behind the plugin's back is a 404 that leaves the SCIM user as it was.
    created = create(scim)
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == "jane@acme.example")).scalar_one()
        user.last_sign_in_at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
        db.session.commit()
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    r = scim.patch(f"/Users/{created['id']}", json=body)
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert r.get_json()[PERMISSIONS_URN]["lastSignInAt"] == "2026-03-04T05:06:07Z"
    stored = host_user(app, "jane@acme.example")
    assert stored is not None and stored.active is False and stored.given_name == "Jane"
    with app.app_context():
        db.session.execute(User.__table__.delete().where(User.__table__.c.email == "jane@acme.example"))
        db.session.commit()
    body["Operations"][0]["value"] = "True"
    r = scim.patch(f"/Users/{created['id']}", json=body)
    assert r.status_code == 404 and "no longer exists" in r.get_json()["detail"]
    assert scim.get(f"/Users/{created['id']}").get_json()["active"] is False


def test_hook_scim_resolve_tenant(app: Flask, register: Register) -> None:
    issue_token(app, "acme")  # by slug
    issue_token(app, str(company_id(app, "globex")))  # by id, in the example host
    result = issue_cli(app, "initech")
    assert result.exit_code != 0
    assert 'unknown tenant "initech"' in result.output

    class Alias:
        @hookimpl
        def scim_resolve_tenant(self, key: str) -> str | None:
            return str(company_id(app)) if key == "acme-corp" else None

    register(Alias())
    token = issue_token(app, "acme-corp")
    assert ScimClient(app.test_client(), token).get("/Users").status_code == 200


def test_hook_scim_current_admin(app: Flask, register: Register) -> None:
    client = app.test_client()
    assert client.get("/settings/admin/scim/").status_code == 401  # nobody signed in: None
    login(client, "admin@acme.example", "acme-demo-password")
    assert client.get("/settings/admin/scim/").status_code == 200

    class NotAdmin:
        @hookimpl(tryfirst=True)
        def scim_current_admin(self) -> AdminIdentity:
            return AdminIdentity(user_id="1", display="x", tenant_id=str(company_id(app)), is_admin=False)

    register(NotAdmin())
    assert client.get("/settings/admin/scim/").status_code == 403


# -- Access control -------------------------------------------------------------------------------------


def test_hook_scim_issue_token(app: Flask, client: Any) -> None:
    first = issue_token(app)
    assert ScimClient(client, first).get("/Users").status_code == 200
    second = issue_token(app)
    assert second != first
    assert ScimClient(client, second).get("/Users").status_code == 200
    assert ScimClient(client, first).get("/Users").status_code == 401  # replaced
    with app.app_context():
        stored = db.session.execute(select(Token.verifier, Token.hint)).all()
    assert all(first not in row.verifier and second not in row.verifier for row in stored)


@pytest.mark.parametrize(
    ("behaviour", "status"),
    [("accept", 200), ("row", 200), ("reject", 401), ("crash", 401), ("not-mine", 401)],
)
def test_hook_scim_verify_token(
    app: Flask, client: Any, register: Register, behaviour: str, status: int
) -> None:
    issue_token(app)  # settings for the tenant, so an accepted identity can act
    tenant = str(company_id(app))

    class Verifier:
        @hookimpl(tryfirst=True)
        def scim_verify_token(self, token: str) -> TokenIdentity | None:
            if token != "static-test-token":
                return None
            if behaviour == "accept":
                return TokenIdentity(tenant_id=tenant, token_id="static")
            if behaviour == "row":  # the settings row it loaded: taken as the request's snapshot
                row = db.session.get(TenantSettings, tenant)
                return TokenIdentity(tenant_id=tenant, token_id="static", settings=row)
            if behaviour == "reject":
                raise TokenRejected("static token disabled")
            if behaviour == "crash":
                raise RuntimeError("verifier down")
            return None  # the built-in then rejects the unknown token

    register(Verifier())
    assert ScimClient(client, "static-test-token").get("/Users").status_code == status


def test_hook_scim_token_used(app: Flask, client: Any, register: Register) -> None:
    token = issue_token(app)
    uses: list[tuple[str, str, str | None]] = []

    class Observer:
        @hookimpl
        def scim_token_used(self, tenant_id: str, token_id: str, address: str | None) -> None:
            uses.append((tenant_id, token_id, address))

    register(Observer())
    # Refused after the token verified (wrong origin): not a use.
    assert ScimClient(client, token, origin="evil.example").get("/Users").status_code == 401
    assert uses == []
    assert ScimClient(client, token).get("/Users").status_code == 200
    with app.app_context():
        token_id = db.session.execute(select(Token.token_id)).scalar_one()
    assert uses == [(str(company_id(app)), token_id, "127.0.0.1")]


def test_hook_scim_revoke_tokens(app: Flask, client: Any) -> None:
    token = issue_token(app)
    result = cli(app, "scim", "token", "revoke", "--tenant", "acme")
    assert result.exit_code == 0
    assert "revoked 1 token(s)" in result.output
    assert ScimClient(client, token).get("/Users").status_code == 401
    with app.app_context():
        assert app.extensions["scim"].hook.scim_revoke_tokens(tenant_id=str(company_id(app))) == 0


@pytest.mark.parametrize(("address", "status"), [("10.1.2.3", 200), ("203.0.113.9", 401)])
def test_hook_scim_client_ip(app: Flask, client: Any, register: Register, address: str, status: int) -> None:
    token = issue_token(app, "acme", ORIGIN, "--ip-allowlist", "10.0.0.0/8")
    # The socket peer (127.0.0.1) is not allowed ...
    assert ScimClient(client, token).get("/Users").status_code == 401

    class FromHeader:
        @hookimpl(tryfirst=True)
        def scim_client_ip(self, request: Any, trusted_proxies: Any) -> str | None:
            return request.headers.get("X-Real-IP")

    register(FromHeader())
    # ... but the address this implementation resolves is what the allowlist checks.
    r = ScimClient(client, token).get("/Users", headers={"X-Real-IP": address})
    assert r.status_code == status


@pytest.mark.parametrize(
    ("allowlist", "opinion", "status"),
    [
        ("", None, 200),
        ("", True, 200),
        ("", False, 401),  # any False denies
        ("", "raise", 401),  # an exception denies: fail closed
        ("10.0.0.0/8", True, 401),  # True cannot overrule the built-in allowlist's False
        ("127.0.0.1", None, 200),
    ],
)
def test_hook_scim_ip_allowed(
    app: Flask, client: Any, register: Register, allowlist: str, opinion: Any, status: int
) -> None:
    token = issue_token(app, "acme", ORIGIN, "--ip-allowlist", allowlist)
    seen: list[tuple[str, str | None, bool]] = []

    class Gate:
        @hookimpl
        def scim_ip_allowed(self, tenant_id: str, address: str | None, allowlist: Any) -> bool | None:
            seen.append((tenant_id, address, allowlist.is_empty))
            if opinion == "raise":
                raise RuntimeError("geo-ip service down")
            return opinion

    register(Gate())
    assert ScimClient(client, token).get("/Users").status_code == status
    assert seen == [(str(company_id(app)), "127.0.0.1", allowlist == "")]


@pytest.mark.parametrize(
    ("origin", "opinion", "status"),
    [
        (ORIGIN, None, 200),
        (ORIGIN, False, 401),
        (ORIGIN, "raise", 401),
        ("evil.example.com", True, 401),  # True cannot overrule the built-in's False
    ],
)
def test_hook_scim_origin_allowed(
    app: Flask, client: Any, register: Register, origin: str, opinion: Any, status: int
) -> None:
    token = issue_token(app)

    class Gate:
        @hookimpl
        def scim_origin_allowed(self, tenant_id: str, presented: str | None, expected: str) -> bool | None:
            assert expected == ORIGIN
            if opinion == "raise":
                raise RuntimeError("boom")
            return opinion

    register(Gate())
    assert ScimClient(client, token, origin=origin).get("/Users").status_code == status


def test_hook_scim_origin_allowed_needs_an_opinion(app: Flask, client: Any) -> None:
    token = issue_token(app)
    app.extensions["scim"].pm.unregister(name="scim.origin")
    assert ScimClient(client, token).get("/Users").status_code == 401


# -- Events ---------------------------------------------------------------------------------------------


def test_hook_scim_event(app: Flask, scim: ScimClient, register: Register, database_url: str) -> None:
    events: list[ScimEvent] = []
    visible: list[int] = []
    engine = create_engine(database_url)

    class Observer:
        @hookimpl
        def scim_event(self, event: ScimEvent) -> None:
            events.append(event)
            if event.name == "user.created":
                # Called after the commit: another connection already sees the row.
                with engine.connect() as conn:
                    visible.append(len(conn.execute(select(ScimUser.id)).all()))

    class Broken:
        @hookimpl
        def scim_event(self, event: ScimEvent) -> None:
            raise RuntimeError("observer down")

    # Broken is registered first, so it runs last (LIFO); the test below covers the other order.
    register(Broken())
    register(Observer())
    try:
        created = create(scim)  # a failing observer never fails the request
        assert scim.post("/Users", json=user_body()).status_code == 409  # rolled back: no user.created
    finally:
        engine.dispose()
    names = [event.name for event in events]
    assert names.count("user.created") == 1
    user_created = next(event for event in events if event.name == "user.created")
    assert user_created.tenant_id == str(company_id(app))
    assert user_created.data["id"] == created["id"]
    assert user_created.data["user_name"] == "jane@acme.example"
    assert visible == [1]
    assert "request.audited" in names
    # Token changes are events too.
    events.clear()
    cli(app, "scim", "token", "revoke", "--tenant", "acme")
    assert [event.name for event in events] == ["token.revoked"]


def test_hook_scim_event_failing_observer_does_not_silence_others(
    app: Flask, scim: ScimClient, register: Register
) -> None:
    names: list[str] = []

    class Observer:
        @hookimpl
        def scim_event(self, event: ScimEvent) -> None:
            names.append(event.name)

    class Broken:
        @hookimpl
        def scim_event(self, event: ScimEvent) -> None:
            raise RuntimeError("observer down")

    register(Observer())
    register(Broken())  # registered last, so it runs first
    create(scim)
    assert "user.created" in names


# -- Host hooks (the dashboard contract the plugin implements) ------------------------------------------


def test_hook_dashboard_init_app(app: Flask) -> None:
    state = app.extensions["scim"]
    for name in ("scim.tokens", "scim.network", "scim.origin", SEAM):
        assert state.pm.has_plugin(name), name
    assert "scim" in app.cli.commands
    host_pm = app.extensions["host_plugins"]
    with pytest.raises(RuntimeError, match="already initialised"):
        host_pm.hook.dashboard_init_app(app=app)
    # An exception aborts start-up: that is how the plugin reports invalid configuration.
    bare = Flask("bare")
    bare.config["SCIM_MAX_RESULTS"] = 0
    with pytest.raises(ConfigError, match="SCIM_MAX_RESULTS"):
        host_pm.hook.dashboard_init_app(app=bare)


def test_hook_dashboard_register_blueprints(app: Flask) -> None:
    host_pm = app.extensions["host_plugins"]
    blueprints = [bp for result in host_pm.hook.dashboard_register_blueprints(app=app) for bp in result or []]
    assert {(bp.name, bp.url_prefix) for bp in blueprints} == {
        ("scim_api", "/scim/v2"),
        ("scim_admin", "/settings/admin/scim"),
    }
    assert {"scim_api", "scim_admin"} <= set(app.blueprints)
    with pytest.raises(RuntimeError, match="not initialised"):
        host_pm.hook.dashboard_register_blueprints(app=Flask("bare"))


def test_hook_dashboard_admin_settings_menu(app: Flask, client: Any) -> None:
    host_pm = app.extensions["host_plugins"]
    admin = SimpleNamespace(id=1, email="a@x", company_id=1, is_admin=True)
    member = SimpleNamespace(id=2, email="m@x", company_id=1, is_admin=False)
    assert host_pm.hook.dashboard_admin_settings_menu(user=admin) == [
        [{"key": "scim-provisioning", "label": "SCIM Provisioning", "endpoint": "scim_admin.settings_page"}]
    ]
    assert host_pm.hook.dashboard_admin_settings_menu(user=member) == []  # None is dropped
    # The entry reaches the host's real menu, and its endpoint resolves.
    login(client, "admin@acme.example", "acme-demo-password")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "SCIM Provisioning" in page
    assert "/settings/admin/scim/" in page


def test_hook_dashboard_issue_token(app: Flask, client: Any) -> None:
    old = issue_token(app)  # saves the settings the hook requires
    host_pm = app.extensions["host_plugins"]
    admin = SimpleNamespace(id=1, email="admin@acme.example", company_id=company_id(app), is_admin=True)
    with app.app_context():
        token = host_pm.hook.dashboard_issue_token(
            company_id=company_id(app), purpose="scim", issued_by=admin
        )
        other = host_pm.hook.dashboard_issue_token(
            company_id=company_id(app), purpose="smtp", issued_by=admin
        )
    assert other is None
    assert ScimClient(client, token).get("/Users").status_code == 200
    assert ScimClient(client, old).get("/Users").status_code == 401
    with app.app_context():
        assert db.session.execute(select(Token.created_by).where(Token.status == "active")).scalar_one() == (
            "admin@acme.example"
        )


@pytest.mark.parametrize(
    ("remote", "purpose", "expected"),
    [
        ("10.1.2.3", "scim", True),
        ("127.0.0.1", "scim", False),
        ("127.0.0.1", "smtp", None),
    ],
)
def test_hook_dashboard_check_client_ip(app: Flask, remote: str, purpose: str, expected: bool | None) -> None:
    issue_token(app, "acme", ORIGIN, "--ip-allowlist", "10.0.0.0/8")
    host_pm = app.extensions["host_plugins"]
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": remote}):
        results = host_pm.hook.dashboard_check_client_ip(
            request=request, company_id=company_id(app), purpose=purpose
        )
        # A company without SCIM settings is refused.
        unset = host_pm.hook.dashboard_check_client_ip(
            request=request, company_id=company_id(app, "globex"), purpose="scim"
        )
    assert results == ([] if expected is None else [expected])
    assert unset == [False]


# -- the dashboard's truth (issue 20) ---------------------------------------------------------------


def _lookup_names(scim: ScimClient, user_name: str) -> list[str]:
    found = scim.get("/Users", query_string={"filter": f'userName eq "{user_name}"'}).get_json()
    return [u["userName"] for u in found["Resources"]]


def test_hook_scim_user_state(app: Flask, scim: ScimClient, register: Callable[[Any], Any]) -> None:
    from scim_plugin.seam import HostUserState

    class Host:
        @hookimpl(tryfirst=True)
        def scim_user_state(self, tenant_id: str, host_user_id: str) -> Any:
            return HostUserState(user_name="jane@acme.example", given_name="FromHost", active=False)

    register(Host())
    r = scim.post("/Users", json=user_body())
    assert r.status_code == 201
    # The answer, the GET and the filters all show what the host said it holds, not what was sent.
    assert r.get_json()["name"]["givenName"] == "FromHost" and r.get_json()["active"] is False
    assert scim.get(f"/Users/{r.get_json()['id']}").get_json()["name"]["givenName"] == "FromHost"
    inactive = scim.get("/Users", query_string={"filter": "active eq false"}).get_json()["Resources"]
    assert [u["id"] for u in inactive] == [r.get_json()["id"]]


def _match_policy(app: Flask) -> ScimClient:
    result = app.test_cli_runner().invoke(
        args=["scim", "token", "issue", "--tenant", "acme", "--method", "entra", "--existing-users", "match"]
    )
    assert result.exit_code == 0, result.output
    return ScimClient(app.test_client(), result.stdout.strip(), origin=None)


def test_hook_scim_link_user(app: Flask, register: Callable[[Any], Any]) -> None:
    calls: list[tuple[str, str]] = []

    class Host:
        @hookimpl(tryfirst=True)
        def scim_link_user(self, tenant_id: str, host_user_id: str) -> bool:
            calls.append((tenant_id, host_user_id))
            return True

    register(Host())
    scim = _match_policy(app)
    found = scim.get("/Users", query_string={"filter": 'userName eq "grace@acme.example"'}).get_json()
    [grace] = found["Resources"]
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Grace H."}],
    }
    assert scim.patch(f"/Users/{grace['id']}", json=patch).status_code == 200
    assert scim.patch(f"/Users/{grace['id']}", json=patch).status_code == 200
    host = host_user(app, "grace@acme.example")
    assert calls == [(str(host.company_id), str(host.id))], "once, at the first write"


def test_hook_scim_manual_users(app: Flask, register: Callable[[Any], Any]) -> None:
    class Host:
        @hookimpl(tryfirst=True)
        def scim_manual_users(self, tenant_id: str) -> Any:
            return []  # this host offers none of its users

    register(Host())
    scim = _match_policy(app)
    assert _lookup_names(scim, "grace@acme.example") == []


def test_hook_scim_count_manual_users(app: Flask, client: Any, register: Callable[[Any], Any]) -> None:
    class Host:
        @hookimpl(tryfirst=True)
        def scim_count_manual_users(self, tenant_id: str) -> int:
            return 4242

    register(Host())
    issue_token(app)
    login(client, "admin@acme.example", "acme-demo-password")
    page = client.get("/settings/admin/scim/").get_data(as_text=True)
    assert '<strong id="manual-user-count">4242</strong>' in page


def test_hook_dashboard_user_changed(app: Flask, scim: ScimClient) -> None:
    from examples.host_app.plugins import plugin_manager

    created = scim.post("/Users", json=user_body()).get_json()
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == "jane@acme.example")).scalar_one()
        user.given_name, user.active = "Edited", False
        db.session.flush()
        plugin_manager().hook.dashboard_user_changed(company_id=user.company_id, user_id=user.id)
        db.session.commit()
    doc = scim.get(f"/Users/{created['id']}").get_json()
    assert doc["name"]["givenName"] == "Edited" and doc["active"] is False
    assert doc["meta"]["version"] != created["meta"]["version"]


def test_hook_dashboard_user_deleted(app: Flask, scim: ScimClient) -> None:
    from examples.host_app.plugins import plugin_manager

    created = scim.post("/Users", json=user_body()).get_json()
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == "jane@acme.example")).scalar_one()
        company_id, user_id = user.company_id, user.id
        db.session.delete(user)
        db.session.flush()
        plugin_manager().hook.dashboard_user_deleted(company_id=company_id, user_id=user_id)
        db.session.commit()
    assert scim.get(f"/Users/{created['id']}").status_code == 404


def test_hook_dashboard_user_provisioning(app: Flask, scim: ScimClient) -> None:
    from examples.host_app.plugins import plugin_manager

    scim.post("/Users", json=user_body())
    jane, grace = host_user(app, "jane@acme.example"), host_user(app, "grace@acme.example")
    with app.app_context():
        answers = plugin_manager().hook.dashboard_user_provisioning(
            company_id=jane.company_id, user_ids=[jane.id, grace.id]
        )
    merged: dict[int, Any] = {}
    for answer in answers:
        merged.update(answer or {})
    assert set(merged) == {jane.id}, "the hand-made user is not SCIM's"
    assert merged[jane.id]["source"] == "SCIM (Custom)" and merged[jane.id]["changed_at"] is not None
