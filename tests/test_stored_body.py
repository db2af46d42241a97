"""``scim_users.body``: list pages show each user's stored default document, exactly what rendering its
``resource`` shows, and fall back to ``resource`` for rows without a current body."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from examples.host_app.extensions import db
from examples.host_app.models import User
from sqlalchemy import delete, select, update

from scim_plugin import hookimpl
from scim_plugin.core.schemas import ENTERPRISE_USER_URN, PERMISSIONS_URN, USER_URN
from scim_plugin.storage.models import ScimUser
from scim_plugin.storage.user_documents import BODY_PREFIX
from tests.conftest import ScimClient
from tests.test_groups import new_group
from tests.test_users_api import PATCH_OP, new_user


def _people(scim: ScimClient) -> list[str]:
    ids = [
        new_user(scim, "plain@acme.example")["id"],
        new_user(
            scim,
            "full@acme.example",
            externalId="ext-1",
            nickName="Fully",
            title='Ünïcode \u2603 "quoted" \\ title',
            phoneNumbers=[{"value": "+1 555 0100", "type": "mobile"}],
            addresses=[{"streetAddress": "1 Main St", "locality": "Springfield", "type": "work"}],
            active=False,
            schemas=[USER_URN, ENTERPRISE_USER_URN, PERMISSIONS_URN],
            **{
                ENTERPRISE_USER_URN: {"department": "Engineering", "manager": {"value": "boss"}},
                PERMISSIONS_URN: {"companyPermissions": ["manage_company_settings"]},
            },
        )["id"],
        new_user(scim, "schemas-only@acme.example", schemas=[USER_URN, ENTERPRISE_USER_URN])["id"],
    ]
    patched = new_user(scim, "patched@acme.example")["id"]
    r = scim.patch(
        f"/Users/{patched}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Replace", "path": "name.givenName", "value": "Changed"},
                {"op": "Add", "path": "emails", "value": [{"value": "second@acme.example", "type": "home"}]},
            ],
        },
    )
    assert r.status_code in (200, 204)
    return [*ids, patched]


def _page(scim: ScimClient, query: str = "") -> list[dict[str, Any]]:
    r = scim.get(f"/Users?count=50{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["Resources"]


def _forget_bodies(app: Any, value: str | None) -> None:
    with app.app_context():
        db.session.execute(update(ScimUser).values(body=value))
        db.session.commit()


def test_stored_documents_equal_documents_rendered_from_resource(app: Any, scim: ScimClient) -> None:
    ids = _people(scim)
    group = new_group(scim, "Engineers", members=ids[:2])
    with app.app_context():
        bodies = db.session.execute(select(ScimUser.body)).scalars().all()
    assert bodies and all(body and body.startswith(BODY_PREFIX) for body in bodies)
    stored = _page(scim)
    stored_by_cursor = scim.get("/Users?count=50&cursor=").get_json()["Resources"]
    assert {user["id"] for user in stored} == set(ids)
    assert [u["groups"] for u in stored if u["id"] in ids[:2]] == [
        [{"value": group["id"], "$ref": u["groups"][0]["$ref"], "display": "Engineers", "type": "direct"}]
        for u in stored
        if u["id"] in ids[:2]
    ]
    _forget_bodies(app, None)  # as rows written before revision 0004
    assert _page(scim) == stored
    assert scim.get("/Users?count=50&cursor=").get_json()["Resources"] == stored_by_cursor == stored
    # And each equals the user's GET, which renders from ``resource``.
    for user in stored:
        assert scim.get(f"/Users/{user['id']}").get_json() == user


def test_a_body_from_another_schema_is_not_used(app: Any, scim: ScimClient) -> None:
    user = new_user(scim)
    expected = _page(scim)
    stale = json.dumps({"schemas": [USER_URN], "userName": "stale@acme.example"})
    _forget_bodies(app, "0000000000000000:" + stale)
    assert _page(scim) == expected
    assert expected[0]["userName"] == "jane@acme.example" and expected[0]["id"] == user["id"]


def test_projections_and_braze_pages_render_from_resource(app: Any, scim: ScimClient) -> None:
    new_user(scim)
    # A body the projections would show if they used it: they must not.
    _forget_bodies(app, BODY_PREFIX + json.dumps({"schemas": [USER_URN], "userName": "wrong@acme.example"}))
    assert _page(scim, "&attributes=userName")[0]["userName"] == "jane@acme.example"
    assert _page(scim, "&excludedAttributes=emails")[0]["userName"] == "jane@acme.example"
    r = scim.get("/Users?count=5", headers={"X-SCIM-Response-Style": "braze"})
    assert "wrong@acme.example" not in r.get_data(as_text=True)
    # The default page does use it: the body is what it shows.
    assert _page(scim)[0]["userName"] == "wrong@acme.example"


def test_writes_keep_the_body_in_step(app: Any, scim: ScimClient) -> None:
    user = new_user(scim)
    r = scim.put(
        f"/Users/{user['id']}",
        json={
            "schemas": [USER_URN],
            "userName": "jane@acme.example",
            "displayName": "Replaced",
            "active": True,
        },
    )
    assert r.status_code == 200
    assert _page(scim)[0]["displayName"] == "Replaced"
    assert "emails" not in _page(scim)[0]
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert scim.patch(f"/Users/{user['id']}", json=patch).status_code in (200, 204)
    listed = _page(scim)[0]
    assert listed["active"] is False
    assert listed == scim.get(f"/Users/{user['id']}").get_json()


def test_get_by_id_from_the_body_equals_get_from_resource(app: Any, scim: ScimClient) -> None:
    ids = _people(scim)
    new_group(scim, "Engineers", members=[ids[0], ids[1]])
    signed_in = datetime(2026, 11, 2, 8, 30, 15, 120000, tzinfo=UTC)
    with app.app_context():
        for user_id in (ids[0], ids[1]):  # one without the permissions extension, one with it
            host_id = db.session.get(ScimUser, user_id).host_user_id
            db.session.get(User, int(host_id)).last_sign_in_at = signed_in
        db.session.commit()
    stored = {user_id: scim.get(f"/Users/{user_id}") for user_id in ids}
    assert stored[ids[0]].get_json()[PERMISSIONS_URN]["lastSignInAt"] == "2026-11-02T08:30:15.120000Z"
    assert PERMISSIONS_URN in stored[ids[0]].get_json()["schemas"]
    _forget_bodies(app, None)
    for user_id, response in stored.items():
        again = scim.get(f"/Users/{user_id}")
        assert again.get_json() == response.get_json()
        assert again.headers["ETag"] == response.headers["ETag"]
        assert again.mimetype == response.mimetype == "application/scim+json"


def test_write_responses_from_the_body_equal_a_later_get(app: Any, scim: ScimClient) -> None:
    created = scim.post(
        "/Users",
        json={
            "schemas": [USER_URN, ENTERPRISE_USER_URN],
            "userName": "new@acme.example",
            "emails": [{"value": "new@acme.example", "primary": True}],
            ENTERPRISE_USER_URN: {"department": "Sales"},
        },
    )
    assert created.status_code == 201
    replaced = scim.put(
        f"/Users/{created.get_json()['id']}",
        json={"schemas": [USER_URN], "userName": "new@acme.example", "title": "Boss"},
    )
    assert replaced.status_code == 200
    _forget_bodies(app, None)
    assert scim.get(f"/Users/{created.get_json()['id']}").get_json() == replaced.get_json()
    assert created.get_json()[ENTERPRISE_USER_URN] == {"department": "Sales"}


def test_a_user_deleted_while_its_get_is_answered_is_a_404(app: Any, scim: ScimClient, register: Any) -> None:
    # A row without a current body is rendered from ``resource``, read after the host was asked for
    # lastSignInAt: if the user is gone by then, the answer is 404, not an error.
    user = new_user(scim)
    _forget_bodies(app, None)

    class DeletesMeanwhile:
        @hookimpl(tryfirst=True)
        def scim_host_user_info(self, tenant_id: str, host_user_id: str) -> None:
            db.session.execute(delete(ScimUser).where(ScimUser.id == user["id"]))

    register(DeletesMeanwhile())
    r = scim.get(f"/Users/{user['id']}")
    assert r.status_code == 404, r.get_json()
    assert r.get_json()["status"] == "404"
