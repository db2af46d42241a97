"""``/Users`` and discovery through the real app, per endpoint and per status code (RFC 7644 §3)."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import quote

import pytest
from examples.host_app.extensions import db
from examples.host_app.models import Company, Team, User, Workspace
from sqlalchemy import func, select, text

from scim_plugin.core.schemas import ENTERPRISE_USER_URN, PERMISSIONS_URN, USER_URN
from scim_plugin.storage.models import ScimUser, ScimUserValue
from tests.conftest import ScimClient, issue_token

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SCIM_JSON = "application/scim+json"


def assert_error(r: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """An RFC 7644 §3.12 error body: status as a string, SCIM media type, never a traceback."""
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == SCIM_JSON
    text = r.get_data(as_text=True)
    assert "Traceback" not in text
    body = json.loads(text)
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert isinstance(body.get("detail"), str) and body["detail"]
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body


def new_user(scim: ScimClient, user_name: str = "jane@acme.example", **extra: Any) -> dict[str, Any]:
    body = {
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "displayName": "Jane Doe",
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        **extra,
    }
    r = scim.post("/Users", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def host_user(app: Any, email: str) -> User | None:
    with app.app_context():
        user = db.session.execute(
            select(User).where(func.lower(User.email) == email.lower())
        ).scalar_one_or_none()
        if user is not None:
            # Load what tests look at before the session goes away.
            _ = [(m.workspace.name, m.permissions, m.permission_set) for m in user.memberships]
            _ = [(t.team.name, t.permissions) for t in user.team_memberships]
            _ = [a.role.name for a in user.role_assignments]
            db.session.expunge_all()
        return user


def scim_rows(app: Any) -> list[ScimUser]:
    with app.app_context():
        rows = list(db.session.execute(select(ScimUser)).scalars())
        db.session.expunge_all()
        return rows


def host_count(app: Any) -> int:
    with app.app_context():
        return db.session.execute(select(func.count(User.id))).scalar_one()


@pytest.fixture
def globex(app: Any, client: Any) -> ScimClient:
    return ScimClient(client, issue_token(app, "globex"))


# -- POST /Users ------------------------------------------------------------------------------------


class TestCreate:
    def test_201_with_location_etag_and_full_resource(self, app: Any, scim: ScimClient) -> None:
        r = scim.post("/Users", json={"userName": "jane@acme.example", "name": {"givenName": "Jane"}})
        assert r.status_code == 201
        assert r.mimetype == SCIM_JSON
        body = r.get_json()
        assert body["userName"] == "jane@acme.example"
        assert body["name"] == {"givenName": "Jane"}
        assert body["active"] is True
        assert USER_URN in body["schemas"]
        assert r.headers["Location"] == f"http://localhost/scim/v2/Users/{body['id']}"
        assert body["meta"]["location"] == r.headers["Location"]
        assert body["meta"]["resourceType"] == "User"
        assert body["meta"]["version"] == r.headers["ETag"]
        assert body["meta"]["created"] == body["meta"]["lastModified"]

    @pytest.mark.parametrize(
        "shape", ["only", "after a good one", "another company's", "not ASCII digits", "past 64 bits"]
    )
    def test_unknown_workspace_id_is_400_and_nothing_is_written(
        self, app: Any, scim: ScimClient, shape: str
    ) -> None:
        """A workspace granted by id is checked by the membership INSERT itself (on PostgreSQL, in the
        same statement as the user's): an id the company has not got is refused, and nothing stays."""
        with app.app_context():
            ids = dict(db.session.execute(select(Workspace.name, Workspace.id).join(Company)).all())
            others = db.session.execute(
                select(Workspace.id).join(Company).where(Company.slug != "acme")
            ).scalars()
            foreign = next(iter(others))
        missing = max(ids.values()) + 1000
        workspaces = {
            "only": [{"value": str(missing)}],
            "after a good one": [{"value": str(ids["Production"])}, {"value": str(missing)}],
            "another company's": [{"value": str(foreign)}],
            # Digits to str.isdigit() that int() refuses; an id no database integer holds.
            "not ASCII digits": [{"value": "\u00b2"}],
            "past 64 bits": [{"value": "9" * 20}],
        }[shape]
        hosts, rows = host_count(app), len(scim_rows(app))
        r = scim.post(
            "/Users",
            json={"userName": "nowhere@acme.example", PERMISSIONS_URN: {"workspaces": workspaces}},
        )
        detail = assert_error(r, 400, "invalidValue")["detail"]
        assert detail == f'Unknown workspace id "{workspaces[-1]["value"]}".', detail
        assert (host_count(app), len(scim_rows(app))) == (hosts, rows)
        assert host_user(app, "nowhere@acme.example") is None
        # The same body with a workspace the company has goes through.
        good = [{"value": str(ids["Production"])}]
        r = scim.post(
            "/Users", json={"userName": "nowhere@acme.example", PERMISSIONS_URN: {"workspaces": good}}
        )
        assert r.status_code == 201, r.get_json()
        user = host_user(app, "nowhere@acme.example")
        assert user is not None and [m.workspace.name for m in user.memberships] == ["Production"]

    def test_creates_host_user_in_default_workspace(self, app: Any, scim: ScimClient) -> None:
        new_user(scim)
        user = host_user(app, "jane@acme.example")
        assert user is not None
        assert user.provisioning_method == "scim"
        assert (user.given_name, user.family_name, user.active) == ("Jane", "Doe", True)
        # The default workspace is the tenant's first workspace by name.
        assert [m.workspace.name for m in user.memberships] == ["Marketing Sandbox"]

    def test_permissions_become_memberships(self, app: Any, scim: ScimClient) -> None:
        new_user(
            scim,
            **{
                "schemas": [USER_URN, PERMISSIONS_URN],
                PERMISSIONS_URN: {
                    "companyPermissions": ["manage_company_settings"],
                    "roles": [{"display": "Campaign Manager"}],
                    "workspaces": [
                        {"display": "Staging", "permissions": ["view_campaigns"]},
                        {"display": "Production", "permissionSet": "Read Only"},
                    ],
                    "teams": [
                        {"display": "Growth", "workspaceName": "Production", "permissions": ["view_segments"]}
                    ],
                },
            },
        )
        user = host_user(app, "jane@acme.example")
        assert user is not None
        assert user.company_permissions == ["manage_company_settings"]
        assert [a.role.name for a in user.role_assignments] == ["Campaign Manager"]
        by_name = {m.workspace.name: m for m in user.memberships}
        assert set(by_name) == {"Staging", "Production"}
        assert by_name["Staging"].permissions == ["view_campaigns"]
        assert by_name["Production"].permission_set.name == "Read Only"
        assert [(t.team.name, t.permissions) for t in user.team_memberships] == [
            ("Growth", ["view_segments"])
        ]

    @pytest.mark.parametrize("emails", [1, 3, 12])
    def test_every_email_is_filterable_after_create(self, app: Any, scim: ScimClient, emails: int) -> None:
        # On PostgreSQL up to 8 value rows go in the SCIM row's INSERT (a writable CTE), more in a second.
        addresses = [f"jane{i}@mail.example" for i in range(emails)]
        user = new_user(scim, emails=[{"value": a, "type": "other"} for a in addresses])
        for address in (addresses[0], addresses[-1]):
            condition = f'emails.value eq "{address.upper()}"'
            r = scim.get(f"/Users?filter={quote(condition)}")
            assert r.status_code == 200 and [u["id"] for u in r.get_json()["Resources"]] == [user["id"]]
        with app.app_context():
            stored = db.session.execute(
                select(ScimUserValue.value).where(ScimUserValue.user_id == user["id"])
            )
            assert sorted(stored.scalars()) == sorted(addresses)
        # A taken userName is still a 409 that writes neither row.
        assert_error(
            scim.post("/Users", json={"userName": "JANE@acme.example", "emails": [{"value": "x@y.z"}]}), 409
        )
        with app.app_context():
            assert db.session.execute(select(func.count()).select_from(ScimUserValue)).scalar() == emails

    def test_duplicate_user_name_is_409_case_insensitive(self, app: Any, scim: ScimClient) -> None:
        new_user(scim)
        r = scim.post("/Users", json={"userName": "JANE@Acme.Example"})
        assert_error(r, 409, "uniqueness")
        assert len(scim_rows(app)) == 1

    def test_other_tenant_same_email_is_409_and_nothing_half_written(
        self, app: Any, scim: ScimClient, globex: ScimClient
    ) -> None:
        new_user(scim)
        before = host_count(app)
        r = globex.post("/Users", json={"userName": "jane@acme.example"})
        assert_error(r, 409, "uniqueness")
        assert host_count(app) == before
        rows = scim_rows(app)
        assert len(rows) == 1 and rows[0].tenant_id == str(_company_id(app, "acme"))
        assert globex.get("/Users").get_json()["totalResults"] == 0

    @pytest.mark.parametrize(
        ("permissions", "named"),
        [
            ({"workspaces": [{"display": "Nowhere"}]}, "Nowhere"),
            ({"workspaces": [{"display": "Main"}]}, "Main"),  # globex's workspace, not acme's
            ({"teams": [{"display": "Ghost Team"}]}, "Ghost Team"),
            ({"roles": [{"display": "Overlord"}]}, "Overlord"),
            ({"workspaces": [{"display": "Staging", "permissionSet": "No Such Set"}]}, "No Such Set"),
            ({"workspaces": [{"display": "Staging", "permissions": ["fly"]}]}, "fly"),
            ({"companyPermissions": ["godmode"]}, "godmode"),
        ],
    )
    def test_unknown_permission_target_is_400_and_nothing_written(
        self, app: Any, scim: ScimClient, permissions: dict[str, Any], named: str
    ) -> None:
        before = host_count(app)
        r = scim.post("/Users", json={"userName": "jane@acme.example", PERMISSIONS_URN: permissions})
        body = assert_error(r, 400, "invalidValue")
        assert named in body["detail"]
        assert scim_rows(app) == []
        assert host_count(app) == before
        assert host_user(app, "jane@acme.example") is None

    def test_a_team_name_two_workspaces_share_is_400_not_a_guess(self, app: Any, scim: ScimClient) -> None:
        # acme has a "Growth" team in its first workspace; a second one elsewhere makes the bare name
        # ambiguous: refused (name the workspace or the id), not one of them picked.
        with app.app_context():
            company = db.session.execute(select(Company).where(Company.slug == "acme")).scalar_one()
            other = (
                db.session.execute(
                    select(Workspace).where(Workspace.company_id == company.id).order_by(Workspace.id.desc())
                )
                .scalars()
                .first()
            )
            db.session.add(Team(workspace_id=other.id, name="growth"))
            db.session.commit()
        before = host_count(app)
        r = scim.post(
            "/Users",
            json={"userName": "jane@acme.example", PERMISSIONS_URN: {"teams": [{"display": "Growth"}]}},
        )
        body = assert_error(r, 400, "invalidValue")
        assert "Growth" in body["detail"]
        assert scim_rows(app) == [] and host_count(app) == before

    def test_refused_create_after_other_requests_leaves_no_row(self, app: Any, scim: ScimClient) -> None:
        # Not the first request of the token's interval: nothing else opened the transaction first.
        new_user(scim)
        assert scim.get("/Users").status_code == 200
        r = scim.post(
            "/Users", json={"userName": "bad@acme.example", PERMISSIONS_URN: {"roles": [{"display": "X"}]}}
        )
        assert_error(r, 400, "invalidValue")
        assert [row.user_name for row in scim_rows(app)] == ["jane@acme.example"]
        assert host_user(app, "bad@acme.example") is None

    def test_password_never_returned_nor_stored(self, app: Any, scim: ScimClient) -> None:
        body = new_user(scim, password="Sup3r-secret!")
        assert "password" not in body
        assert "Sup3r-secret!" not in json.dumps(body)
        assert "password" not in scim.get(f"/Users/{body['id']}").get_json()
        (row,) = scim_rows(app)
        assert "Sup3r-secret!" not in json.dumps(row.resource)
        assert "password" not in {k.lower() for k in row.resource}
        user = host_user(app, "jane@acme.example")
        assert user is not None and user.password_hash is None  # SCIM_PASSWORD defaults to "ignore"

    def test_missing_user_name_is_400(self, app: Any, scim: ScimClient) -> None:
        assert_error(scim.post("/Users", json={"name": {"givenName": "X"}}), 400, "invalidValue")
        assert scim_rows(app) == []

    @pytest.mark.parametrize(
        "body",
        [
            {"userName": 42},
            {"userName": "x@acme.example", "active": "maybe"},
            {"userName": "x@acme.example", "name": "Jane"},
            {"userName": "x@acme.example", "emails": "x@acme.example"},
            {"userName": "x@acme.example", "displayName": ["a"]},
        ],
    )
    def test_wrong_types_are_400_invalid_value(
        self, app: Any, scim: ScimClient, body: dict[str, Any]
    ) -> None:
        assert_error(scim.post("/Users", json=body), 400, "invalidValue")
        assert scim_rows(app) == []

    @pytest.mark.parametrize("raw", [b"{", b"not json", b'{"userName": "a"', b"\xff\xfe"])
    def test_malformed_json_is_400_invalid_syntax(self, scim: ScimClient, raw: bytes) -> None:
        r = scim.post("/Users", data=raw, headers={"Content-Type": SCIM_JSON})
        assert_error(r, 400, "invalidSyntax")

    def test_non_object_body_is_400(self, scim: ScimClient) -> None:
        assert_error(scim.post("/Users", json=["userName"]), 400, "invalidSyntax")

    @pytest.mark.parametrize(
        "content_type",
        [
            "application/scim+json",
            "application/json",
            "application/json; charset=utf-8",
            "application/scim+json;charset=UTF-8",
        ],
    )
    def test_accepts_json_media_types(self, scim: ScimClient, content_type: str) -> None:
        r = scim.post(
            "/Users", data=json.dumps({"userName": "ct@acme.example"}), headers={"Content-Type": content_type}
        )
        assert r.status_code == 201
        assert r.mimetype == SCIM_JSON

    def test_body_over_limit_is_413(self, app: Any, scim: ScimClient) -> None:
        limit = app.extensions["scim"].config.max_body_bytes
        payload = json.dumps({"userName": "big@acme.example", "displayName": "x" * (limit + 10)})
        r = scim.post("/Users", data=payload, headers={"Content-Type": SCIM_JSON})
        assert_error(r, 413)
        assert scim_rows(app) == []


class TestChunkedBody:
    """A body sent without Content-Length (chunked: a streaming proxy, ``curl -T -``) is measured as it
    is read, against the same SCIM_MAX_BODY_BYTES as one with a Content-Length."""

    LIMIT = 1024

    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SCIM_MAX_BODY_BYTES": self.LIMIT}

    @staticmethod
    def send(scim: ScimClient, method: str, path: str, payload: str) -> Any:
        return scim.client.open(
            f"/scim/v2{path}",
            method=method,
            input_stream=io.BytesIO(payload.encode()),
            headers={**scim.headers(), "Content-Type": SCIM_JSON, "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )

    def sized(self, size: int, **fields: Any) -> str:
        template = json.dumps({**fields, "displayName": ""})
        payload = template.replace('"displayName": ""', f'"displayName": "{"x" * (size - len(template))}"')
        assert len(payload) == size
        return payload

    def test_post_over_the_limit_is_413_and_writes_nothing(self, app: Any, scim: ScimClient) -> None:
        r = self.send(scim, "POST", "/Users", self.sized(self.LIMIT + 1, userName="big@acme.example"))
        assert assert_error(r, 413)["detail"] == f"Request body exceeds {self.LIMIT} bytes."
        assert scim_rows(app) == []

    def test_a_body_of_exactly_the_limit_is_read_whole(self, scim: ScimClient) -> None:
        r = self.send(scim, "POST", "/Users", self.sized(self.LIMIT, userName="edge@acme.example"))
        assert r.status_code == 201, r.get_data(as_text=True)
        assert len(r.get_json()["displayName"]) > self.LIMIT - 100

    def test_put_over_the_limit_is_413_and_changes_nothing(self, scim: ScimClient) -> None:
        created = scim.post("/Users", json={"userName": "put@acme.example", "displayName": "Before"})
        user = created.get_json()
        r = self.send(
            scim, "PUT", f"/Users/{user['id']}", self.sized(self.LIMIT + 1, userName="put@acme.example")
        )
        assert assert_error(r, 413)["detail"] == f"Request body exceeds {self.LIMIT} bytes."
        assert scim.get(f"/Users/{user['id']}").get_json()["displayName"] == "Before"


def _company_id(app: Any, slug: str) -> int:
    with app.app_context():
        return db.session.execute(select(Company.id).where(Company.slug == slug)).scalar_one()


# -- GET /Users/{id} --------------------------------------------------------------------------------


class TestGet:
    def test_200_with_etag(self, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.get(f"/Users/{created['id']}")
        assert r.status_code == 200
        assert r.mimetype == SCIM_JSON
        assert r.headers["ETag"] == created["meta"]["version"]
        assert r.get_json()["id"] == created["id"]
        assert r.get_json()["emails"] == [{"value": "jane@acme.example", "type": "work", "primary": True}]

    def test_304_on_matching_if_none_match(self, scim: ScimClient) -> None:
        created = new_user(scim)
        etag = created["meta"]["version"]
        r = scim.get(f"/Users/{created['id']}", headers={"If-None-Match": etag})
        assert r.status_code == 304
        assert r.get_data() == b""
        r = scim.get(f"/Users/{created['id']}", headers={"If-None-Match": 'W/"999"'})
        assert r.status_code == 200

    def test_unknown_id_is_404(self, scim: ScimClient) -> None:
        assert_error(scim.get("/Users/00000000-0000-0000-0000-000000000000"), 404)

    def test_other_tenant_is_404(self, scim: ScimClient, globex: ScimClient) -> None:
        created = new_user(scim)
        assert_error(globex.get(f"/Users/{created['id']}"), 404)

    def test_attributes_projection(self, scim: ScimClient) -> None:
        created = new_user(scim)
        body = scim.get(f"/Users/{created['id']}?attributes=userName").get_json()
        assert set(body) == {"schemas", "id", "userName"}
        body = scim.get(f"/Users/{created['id']}?excludedAttributes=emails,name").get_json()
        assert "emails" not in body and "name" not in body and body["userName"] == "jane@acme.example"

    def test_inactive_user_still_visible(self, scim: ScimClient) -> None:
        created = new_user(scim, active=False)
        r = scim.get(f"/Users/{created['id']}")
        assert r.status_code == 200 and r.get_json()["active"] is False
        text = quote('userName eq "jane@acme.example"')
        found = scim.get(f"/Users?filter={text}").get_json()
        assert found["totalResults"] == 1 and found["Resources"][0]["active"] is False


# -- GET /Users, POST /Users/.search ----------------------------------------------------------------


@pytest.fixture
def five(scim: ScimClient) -> list[dict[str, Any]]:
    names = ["carol", "alice", "eve", "bob", "dave"]
    return [
        new_user(
            scim, f"{n}@acme.example", displayName=n.title(), name={"givenName": n.title(), "familyName": "Z"}
        )
        for n in names
    ]


def _list(scim: ScimClient, how: str, **params: Any) -> Any:
    if how == "get":
        query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
        return scim.get(f"/Users?{query}")
    return scim.post("/Users/.search", json={"schemas": [SEARCH], **params})


@pytest.mark.parametrize("how", ["get", "search"])
class TestList:
    def test_list_response_shape(self, scim: ScimClient, five: list[dict[str, Any]], how: str) -> None:
        r = _list(scim, how)
        assert r.status_code == 200
        body = r.get_json()
        assert body["schemas"] == [LIST]
        assert body["totalResults"] == 5 and body["itemsPerPage"] == 5 and body["startIndex"] == 1
        assert all(type(body[k]) is int for k in ("totalResults", "itemsPerPage", "startIndex"))
        assert {u["id"] for u in body["Resources"]} == {u["id"] for u in five}

    def test_empty_result_is_200_with_zero(
        self, scim: ScimClient, five: list[dict[str, Any]], how: str
    ) -> None:
        r = _list(scim, how, filter='userName eq "nobody@acme.example"')
        assert r.status_code == 200
        body = r.get_json()
        assert body["totalResults"] == 0 and body["itemsPerPage"] == 0
        assert body.get("Resources", []) == []

    def test_filter_case_insensitive_user_name(
        self, scim: ScimClient, five: list[dict[str, Any]], how: str
    ) -> None:
        body = _list(scim, how, filter='USERNAME EQ "ALICE@ACME.EXAMPLE"').get_json()
        assert [u["userName"] for u in body["Resources"]] == ["alice@acme.example"]

    def test_paging_is_stable_and_complete(
        self, scim: ScimClient, five: list[dict[str, Any]], how: str
    ) -> None:
        seen = []
        for start in (1, 3, 5):
            body = _list(scim, how, startIndex=start, count=2).get_json()
            assert body["totalResults"] == 5 and body["startIndex"] == start
            assert body["itemsPerPage"] == len(body["Resources"]) == (2 if start < 5 else 1)
            seen += [u["id"] for u in body["Resources"]]
        assert sorted(seen) == sorted(u["id"] for u in five) and len(set(seen)) == 5
        again = [
            u["id"]
            for s in (1, 3, 5)
            for u in _list(scim, how, startIndex=s, count=2).get_json()["Resources"]
        ]
        assert again == seen

    def test_count_zero_and_past_the_end(
        self, scim: ScimClient, five: list[dict[str, Any]], how: str
    ) -> None:
        body = _list(scim, how, count=0).get_json()
        assert body["totalResults"] == 5 and body["itemsPerPage"] == 0
        body = _list(scim, how, startIndex=50).get_json()
        assert body["totalResults"] == 5 and body["itemsPerPage"] == 0
        # Found by the long fuzz run: an index past 64 bits overflowed the driver (500).
        response = _list(scim, how, startIndex=str(2**63 + 1))
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["itemsPerPage"] == 0 and response.get_json()["totalResults"] == 5

    def test_sort(self, scim: ScimClient, five: list[dict[str, Any]], how: str) -> None:
        names = [u["userName"] for u in _list(scim, how, sortBy="userName").get_json()["Resources"]]
        assert names == sorted(names) and len(names) == 5
        desc = [
            u["userName"]
            for u in _list(scim, how, sortBy="userName", sortOrder="descending").get_json()["Resources"]
        ]
        assert desc == names[::-1]
        given = [
            u["name"]["givenName"] for u in _list(scim, how, sortBy="name.givenName").get_json()["Resources"]
        ]
        assert given == ["Alice", "Bob", "Carol", "Dave", "Eve"]

    def test_projection(self, scim: ScimClient, five: list[dict[str, Any]], how: str) -> None:
        body = _list(scim, how, attributes="userName").get_json()
        assert all(set(u) == {"schemas", "id", "userName"} for u in body["Resources"])
        body = _list(scim, how, excludedAttributes="emails").get_json()
        assert all("emails" not in u and "userName" in u for u in body["Resources"])

    def test_count_above_max_is_400_too_many(self, app: Any, scim: ScimClient, how: str) -> None:
        limit = app.extensions["scim"].config.max_results
        assert_error(_list(scim, how, count=limit + 1), 400, "tooMany")

    @pytest.mark.parametrize(
        "text",
        [
            "userName eq",
            'userName xx "a"',
            '(userName eq "a"',
            'nosuchattr eq "a"',
            "active gt true",
            'emails[type eq "work"',
            'userName eq "a" and',
        ],
    )
    def test_bad_filter_is_400_invalid_filter(self, scim: ScimClient, how: str, text: str) -> None:
        assert_error(_list(scim, how, filter=text), 400, "invalidFilter")

    def test_filter_too_long_is_400(self, app: Any, scim: ScimClient, how: str) -> None:
        limit = app.extensions["scim"].config.max_filter_length
        text = 'userName eq "' + "a" * limit + '"'
        assert_error(_list(scim, how, filter=text), 400, "invalidFilter")

    @pytest.mark.parametrize(
        ("key", "value"), [("count", "ten"), ("startIndex", "x"), ("sortOrder", "sideways")]
    )
    def test_bad_paging_values_are_400(self, scim: ScimClient, how: str, key: str, value: str) -> None:
        assert_error(_list(scim, how, **{key: value}), 400, "invalidValue")

    def test_unknown_sort_attribute_is_400(self, scim: ScimClient, how: str) -> None:
        assert_error(_list(scim, how, sortBy="nosuch"), 400)

    def test_other_tenant_lists_nothing(
        self, scim: ScimClient, globex: ScimClient, five: list[dict[str, Any]], how: str
    ) -> None:
        assert _list(globex, how).get_json()["totalResults"] == 0
        body = _list(globex, how, filter='userName eq "alice@acme.example"').get_json()
        assert body["totalResults"] == 0


def test_search_requires_object_and_schema(scim: ScimClient) -> None:
    assert_error(scim.post("/Users/.search", json=[1]), 400, "invalidSyntax")
    assert_error(scim.post("/Users/.search", json={"schemas": ["urn:wrong"]}), 400, "invalidValue")


# -- PUT /Users/{id} --------------------------------------------------------------------------------


class TestPut:
    def test_replaces_read_write_and_ignores_read_only(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim, title="Engineer", nickName="JD")
        body = {
            "schemas": [USER_URN],
            "id": "forged-id",
            "meta": {"created": "2000-01-01T00:00:00Z", "version": 'W/"77"'},
            "userName": "jane@acme.example",
            "name": {"givenName": "Janet", "familyName": "Doe"},
            "active": False,
        }
        r = scim.put(f"/Users/{created['id']}", json=body)
        assert r.status_code == 200, r.get_json()
        got = r.get_json()
        assert got["id"] == created["id"]
        assert got["meta"]["created"] == created["meta"]["created"]
        assert got["meta"]["version"] != created["meta"]["version"] == created["meta"]["version"]
        assert got["name"] == {"givenName": "Janet", "familyName": "Doe"}
        assert got["active"] is False
        for cleared in ("title", "nickName", "emails", "displayName"):
            assert cleared not in got
        assert scim.get(f"/Users/{created['id']}").get_json() == got
        user = host_user(app, "jane@acme.example")
        assert user is not None and user.active is False and user.given_name == "Janet"

    def test_user_name_change_reaches_host(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.put(f"/Users/{created['id']}", json={"userName": "janet@acme.example"})
        assert r.status_code == 200
        assert host_user(app, "janet@acme.example") is not None
        assert host_user(app, "jane@acme.example") is None

    def test_put_to_taken_user_name_is_409(self, app: Any, scim: ScimClient) -> None:
        a = new_user(scim, "a@acme.example")
        new_user(scim, "b@acme.example")
        assert_error(scim.put(f"/Users/{a['id']}", json={"userName": "B@acme.example"}), 409, "uniqueness")
        assert scim.get(f"/Users/{a['id']}").get_json()["userName"] == "a@acme.example"
        assert host_user(app, "a@acme.example") is not None

    def test_rename_onto_a_dashboard_users_email_is_409(self, app: Any, scim: ScimClient) -> None:
        # admin@acme.example is a dashboard user the IdP never provisioned: only the host's unique
        # index on the email knows it. A PATCH or PUT renaming a SCIM user onto it is a 409, not a 500.
        a = new_user(scim, "a@acme.example")
        rename = {"op": "replace", "path": "userName", "value": "admin@acme.example"}
        r = scim.patch(f"/Users/{a['id']}", json=patch_body(rename))
        assert "admin@acme.example" in assert_error(r, 409, "uniqueness")["detail"]
        assert_error(
            scim.put(f"/Users/{a['id']}", json={"userName": "ADMIN@acme.example"}), 409, "uniqueness"
        )
        assert scim.get(f"/Users/{a['id']}").get_json()["userName"] == "a@acme.example"
        assert host_user(app, "a@acme.example") is not None

    def test_read_only_id_in_body_is_ignored(self, scim: ScimClient) -> None:
        # The User schema has no immutable attribute (only Group members are), so a PUT cannot hit
        # 400 mutability; a differing readOnly id is ignored rather than refused.
        created = new_user(scim, **{ENTERPRISE_USER_URN: {"employeeNumber": "1"}})
        r = scim.put(f"/Users/{created['id']}", json={"userName": "jane@acme.example", "id": "other"})
        assert r.status_code == 200  # id is readOnly: ignored, not a mutability error
        assert r.get_json()["id"] == created["id"]

    def test_unknown_id_is_404_and_never_creates(self, app: Any, scim: ScimClient) -> None:
        r = scim.put("/Users/00000000-0000-0000-0000-000000000000", json={"userName": "ghost@acme.example"})
        assert_error(r, 404)
        assert scim_rows(app) == []
        assert host_user(app, "ghost@acme.example") is None

    def test_other_tenant_is_404(self, app: Any, scim: ScimClient, globex: ScimClient) -> None:
        created = new_user(scim)
        assert_error(globex.put(f"/Users/{created['id']}", json={"userName": "x@globex.example"}), 404)
        assert scim.get(f"/Users/{created['id']}").get_json()["userName"] == "jane@acme.example"

    def test_if_match(self, scim: ScimClient) -> None:
        created = new_user(scim)
        url = f"/Users/{created['id']}"
        body = {"userName": "jane@acme.example", "displayName": "New"}
        assert_error(scim.put(url, json=body, headers={"If-Match": 'W/"999"'}), 412)
        assert scim.get(url).get_json()["displayName"] == "Jane Doe"
        r = scim.put(url, json=body, headers={"If-Match": created["meta"]["version"]})
        assert r.status_code == 200 and r.get_json()["displayName"] == "New"

    def test_unchanged_put_keeps_version(self, scim: ScimClient) -> None:
        created = new_user(scim)
        body = {k: v for k, v in created.items() if k not in ("id", "meta")}
        r = scim.put(f"/Users/{created['id']}", json=body)
        assert r.status_code == 200
        assert r.get_json()["meta"]["version"] == created["meta"]["version"]

    def test_unknown_workspace_is_400_and_nothing_changes(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.put(
            f"/Users/{created['id']}",
            json={
                "userName": "jane@acme.example",
                "displayName": "Changed",
                PERMISSIONS_URN: {"workspaces": [{"display": "Atlantis"}]},
            },
        )
        assert "Atlantis" in assert_error(r, 400, "invalidValue")["detail"]
        assert (
            scim.get(f"/Users/{created['id']}").get_json() == scim.get(f"/Users/{created['id']}").get_json()
        )
        assert scim.get(f"/Users/{created['id']}").get_json()["displayName"] == "Jane Doe"
        user = host_user(app, "jane@acme.example")
        assert user is not None and [m.workspace.name for m in user.memberships] == ["Marketing Sandbox"]


# -- PATCH /Users/{id} ------------------------------------------------------------------------------


def patch_body(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


class TestPatch:
    def test_200_with_resource(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.patch(
            f"/Users/{created['id']}", json=patch_body({"op": "replace", "path": "active", "value": False})
        )
        assert r.status_code == 200
        assert r.get_json()["active"] is False
        assert r.headers["ETag"] == r.get_json()["meta"]["version"] != created["meta"]["version"]
        user = host_user(app, "jane@acme.example")
        assert user is not None and user.active is False
        found = scim.get(f"/Users?filter={quote('active eq false')}").get_json()
        assert [u["id"] for u in found["Resources"]] == [created["id"]]

    def test_atomic_failing_second_op_changes_nothing(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.patch(
            f"/Users/{created['id']}",
            json=patch_body(
                {"op": "replace", "path": "name.givenName", "value": "Changed"},
                {"op": "replace", "path": "active", "value": False},
                {"op": "replace", "path": "nosuchattr.sub", "value": 1},
            ),
        )
        assert_error(r, 400)
        again = scim.get(f"/Users/{created['id']}").get_json()
        assert again == {**created, "meta": again["meta"]} and again["meta"] == created["meta"]
        user = host_user(app, "jane@acme.example")
        assert user is not None and user.given_name == "Jane" and user.active is True

    def test_atomic_when_host_refuses(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.patch(
            f"/Users/{created['id']}",
            json=patch_body(
                {"op": "replace", "path": "name.givenName", "value": "Changed"},
                {"op": "add", "path": f"{PERMISSIONS_URN}:workspaces", "value": [{"display": "Atlantis"}]},
            ),
        )
        assert "Atlantis" in assert_error(r, 400, "invalidValue")["detail"]
        assert scim.get(f"/Users/{created['id']}").get_json()["name"]["givenName"] == "Jane"
        user = host_user(app, "jane@acme.example")
        assert user is not None and user.given_name == "Jane"

    def test_version_changes_only_with_content(self, scim: ScimClient) -> None:
        created = new_user(scim)
        url = f"/Users/{created['id']}"
        r = scim.patch(url, json=patch_body({"op": "replace", "path": "displayName", "value": "Jane Doe"}))
        assert r.status_code == 200 and r.get_json()["meta"]["version"] == created["meta"]["version"]
        r = scim.patch(url, json=patch_body({"op": "replace", "path": "displayName", "value": "JD"}))
        assert r.get_json()["meta"]["version"] != created["meta"]["version"]

    def test_if_match_412(self, scim: ScimClient) -> None:
        created = new_user(scim)
        url = f"/Users/{created['id']}"
        op = patch_body({"op": "replace", "path": "displayName", "value": "JD"})
        assert_error(scim.patch(url, json=op, headers={"If-Match": 'W/"999"'}), 412)
        assert scim.get(url).get_json()["displayName"] == "Jane Doe"
        assert scim.patch(url, json=op, headers={"If-Match": created["meta"]["version"]}).status_code == 200

    def test_unknown_and_other_tenant_404(self, scim: ScimClient, globex: ScimClient) -> None:
        created = new_user(scim)
        op = patch_body({"op": "replace", "path": "active", "value": False})
        assert_error(scim.patch("/Users/nope", json=op), 404)
        assert_error(globex.patch(f"/Users/{created['id']}", json=op), 404)
        assert scim.get(f"/Users/{created['id']}").get_json()["active"] is True

    @pytest.mark.parametrize(
        "body",
        [{"schemas": [PATCH_OP]}, {"schemas": ["urn:wrong"], "Operations": []}, [1, 2]],
    )
    def test_bad_patch_body_is_400(self, scim: ScimClient, body: Any) -> None:
        created = new_user(scim)
        assert_error(scim.patch(f"/Users/{created['id']}", json=body), 400)

    def test_wrong_value_type_is_400(self, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.patch(
            f"/Users/{created['id']}", json=patch_body({"op": "replace", "path": "active", "value": "maybe"})
        )
        assert_error(r, 400, "invalidValue")

    def test_password_patch_not_stored(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.patch(
            f"/Users/{created['id']}",
            json=patch_body({"op": "replace", "path": "password", "value": "Pa55-word"}),
        )
        assert r.status_code == 200 and "password" not in r.get_json()
        (row,) = scim_rows(app)
        assert "Pa55-word" not in json.dumps(row.resource)


class TestPatch204:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SCIM_PATCH_RESPONSE": 204}

    def test_204_when_configured(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.patch(
            f"/Users/{created['id']}", json=patch_body({"op": "replace", "path": "active", "value": False})
        )
        assert r.status_code == 204
        assert r.get_data() == b""
        assert scim.get(f"/Users/{created['id']}").get_json()["active"] is False

    def test_200_when_attributes_asked(self, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.patch(
            f"/Users/{created['id']}?attributes=active",
            json=patch_body({"op": "replace", "path": "active", "value": False}),
        )
        assert r.status_code == 200 and r.get_json()["active"] is False


# -- DELETE /Users/{id} -----------------------------------------------------------------------------


class TestDelete:
    def test_204_then_404_and_host_user_gone(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        r = scim.delete(f"/Users/{created['id']}")
        assert r.status_code == 204 and r.get_data() == b""
        assert_error(scim.get(f"/Users/{created['id']}"), 404)
        assert_error(scim.delete(f"/Users/{created['id']}"), 404)
        assert host_user(app, "jane@acme.example") is None
        assert scim_rows(app) == []

    def test_the_host_users_memberships_go_with_it(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim, permissions={"roles": [{"roleName": "Campaign Manager"}]})
        with app.app_context():
            user_id = db.session.execute(
                select(User.id).where(User.email == "jane@acme.example")
            ).scalar_one()
        held = host_user(app, "jane@acme.example")
        assert held is not None and held.memberships and held.role_assignments
        with app.app_context():
            values = text("SELECT count(*) FROM scim_user_values WHERE user_id = :u")
            assert db.session.execute(values, {"u": created["id"]}).scalar_one() >= 1  # its email
        assert scim.delete(f"/Users/{created['id']}").status_code == 204
        with app.app_context():
            for table in ("workspace_memberships", "team_memberships", "role_assignments"):
                left = db.session.execute(
                    text(f"SELECT count(*) FROM {table} WHERE user_id = :u"), {"u": user_id}
                )
                assert left.scalar_one() == 0, table
            # And the plugin's own rows of the user (its filterable values) go too.
            values = text("SELECT count(*) FROM scim_user_values WHERE user_id = :u")
            assert db.session.execute(values, {"u": created["id"]}).scalar_one() == 0

    @pytest.mark.parametrize("enforced", [True, False], ids=["foreign keys on", "foreign keys off"])
    def test_the_plugins_rows_of_the_user_go_with_it(
        self, app: Any, scim: ScimClient, enforced: bool
    ) -> None:
        """Its value rows and group memberships go, and its groups move on a version, whether the database
        cascades them (PostgreSQL; SQLite with ``PRAGMA foreign_keys``, which the example host turns on)
        or the plugin deletes them itself (SQLite without)."""
        from examples.host_app import _enforce_foreign_keys
        from sqlalchemy import event

        with app.app_context():
            if db.engine.dialect.name != "sqlite" and not enforced:
                pytest.skip("a server database (PostgreSQL, MariaDB) always enforces foreign keys")
            if not enforced:
                event.remove(db.engine, "connect", _enforce_foreign_keys)
                db.engine.dispose()  # new connections, without the pragma
            if db.engine.dialect.name == "sqlite":
                pragma = db.session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar()
                assert pragma == int(enforced)
                db.session.remove()
        created = new_user(scim)
        group = scim.post("/Groups", json={"displayName": "Team", "members": [{"value": created["id"]}]})
        group_url = f"/Groups/{group.get_json()['id']}"
        assert scim.delete(f"/Users/{created['id']}").status_code == 204
        with app.app_context():
            for table, column in (("scim_user_values", "user_id"), ("scim_group_members", "member_id")):
                left = text(f"SELECT count(*) FROM {table} WHERE {column} = :u")
                assert db.session.execute(left, {"u": created["id"]}).scalar_one() == 0, table
        after = scim.get(group_url).get_json()
        assert after.get("members", []) == [] and after["meta"]["version"] == 'W/"2"'

    def test_other_tenant_is_404_and_nothing_deleted(
        self, app: Any, scim: ScimClient, globex: ScimClient
    ) -> None:
        created = new_user(scim)
        assert_error(globex.delete(f"/Users/{created['id']}"), 404)
        assert scim.get(f"/Users/{created['id']}").status_code == 200
        assert host_user(app, "jane@acme.example") is not None

    def test_if_match_412(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        assert_error(scim.delete(f"/Users/{created['id']}", headers={"If-Match": 'W/"999"'}), 412)
        assert scim.get(f"/Users/{created['id']}").status_code == 200
        assert host_user(app, "jane@acme.example") is not None
        r = scim.delete(f"/Users/{created['id']}", headers={"If-Match": created["meta"]["version"]})
        assert r.status_code == 204

    def test_last_company_user_is_refused_409(self, app: Any, scim: ScimClient) -> None:
        created = new_user(scim)
        with app.app_context():
            # Everyone else of the company goes (the admin and the users the demo made by hand).
            jane = db.session.execute(select(User).where(User.email == "jane@acme.example")).scalar_one()
            others = select(User).where(User.company_id == jane.company_id, User.id != jane.id)
            for other in db.session.execute(others).scalars().all():
                db.session.delete(other)
            db.session.commit()
        r = scim.delete(f"/Users/{created['id']}")
        assert_error(r, 409)
        assert scim.get(f"/Users/{created['id']}").status_code == 200
        assert host_user(app, "jane@acme.example") is not None
        assert len(scim_rows(app)) == 1


# -- discovery and protocol -------------------------------------------------------------------------


class TestDiscovery:
    def test_service_provider_config(self, app: Any, scim: ScimClient) -> None:
        r = scim.get("/ServiceProviderConfig")
        assert r.status_code == 200 and r.mimetype == SCIM_JSON
        body = r.get_json()
        assert body["patch"]["supported"] is True
        assert body["filter"] == {"supported": True, "maxResults": app.extensions["scim"].config.max_results}
        assert body["etag"]["supported"] is True
        assert body["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}

    def test_resource_types(self, scim: ScimClient) -> None:
        body = scim.get("/ResourceTypes").get_json()
        assert body["schemas"] == [LIST] and body["totalResults"] == 2
        assert [rt["endpoint"] for rt in body["Resources"]] == ["/Users", "/Groups"]
        one = scim.get("/ResourceTypes/User")
        assert one.status_code == 200 and one.get_json()["name"] == "User"
        assert scim.get("/ResourceTypes/Group").get_json()["endpoint"] == "/Groups"
        assert_error(scim.get("/ResourceTypes/Nope"), 404)

    def test_schemas(self, scim: ScimClient) -> None:
        body = scim.get("/Schemas").get_json()
        ids = {s["id"] for s in body["Resources"]}
        assert {USER_URN, ENTERPRISE_USER_URN, PERMISSIONS_URN} <= ids
        assert body["totalResults"] == len(body["Resources"])
        one = scim.get(f"/Schemas/{USER_URN}")
        assert one.status_code == 200 and one.get_json()["name"] == "User"
        assert_error(scim.get("/Schemas/urn:nope"), 404)

    @pytest.mark.parametrize(
        "path", ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", f"/Schemas/{USER_URN}"]
    )
    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
    def test_other_methods_are_405(self, scim: ScimClient, path: str, method: str) -> None:
        r = scim.request(method, path, json={})
        assert_error(r, 405)
        assert "GET" in r.headers["Allow"]

    @pytest.mark.parametrize(
        ("method", "path"),
        [("DELETE", "/Users"), ("PUT", "/Users"), ("GET", "/Users/.search"), ("DELETE", "/Users/.search")],
    )
    def test_wrong_method_on_users_is_405(self, scim: ScimClient, method: str, path: str) -> None:
        assert_error(scim.request(method, path, json={}), 405)

    @pytest.mark.parametrize("path", ["/Nope", "/Users/a/b", "/Groups/a/b"])
    def test_unknown_route_is_404_scim_json(self, scim: ScimClient, path: str) -> None:
        r = scim.get(path)
        assert_error(r, 404)
        assert "<html" not in r.get_data(as_text=True).lower()


def test_unauthenticated_error_is_scim_json(client: Any) -> None:
    r = client.get("/scim/v2/Users")
    assert_error(r, 401)


def test_workspace_fixture_sanity(app: Any) -> None:
    with app.app_context():
        names = set(db.session.execute(select(Workspace.name)).scalars())
    assert {"Production", "Staging", "Marketing Sandbox", "Main"} <= names


# -- entity tags that name no version ------------------------------------------------------------------

# Tags a client may send that look like ours but are no version we ever issued: a digit Python's
# isdigit() accepts and int() refuses, more digits than int() parses, a number past the version column.
FOREIGN_TAGS = ['W/"\u00b2"', 'W/"' + "9" * 5000 + '"', 'W/"99999999999999999999"', '"\u0661"']


@pytest.mark.parametrize("tag", FOREIGN_TAGS, ids=["superscript", "5000-digits", "past-bigint", "arabic-one"])
class TestForeignEntityTags:
    def test_if_match_on_writes_is_412_and_changes_nothing(self, scim: ScimClient, tag: str) -> None:
        created = new_user(scim, displayName="Before")
        url = f"/Users/{created['id']}"
        replace = {"schemas": [USER_URN], "userName": "jane@acme.example", "displayName": "After"}
        change = {"op": "replace", "path": "displayName", "value": "After"}
        op = {"schemas": [PATCH_OP], "Operations": [change]}
        assert_error(scim.put(url, json=replace, headers={"If-Match": tag}), 412)
        assert_error(scim.patch(url, json=op, headers={"If-Match": tag}), 412)
        assert_error(scim.delete(url, headers={"If-Match": tag}), 412)
        assert scim.get(url).get_json()["displayName"] == "Before"
        # Listed with a current tag, it is the current tag that counts.
        both = f"{tag}, {created['meta']['version']}"
        assert scim.patch(url, json=op, headers={"If-Match": both}).status_code == 200

    def test_if_none_match_on_a_read_is_no_match(self, scim: ScimClient, tag: str) -> None:
        created = new_user(scim)
        r = scim.get(f"/Users/{created['id']}", headers={"If-None-Match": tag})
        assert r.status_code == 200 and r.get_json()["id"] == created["id"]

    def test_groups_alike(self, scim: ScimClient, tag: str) -> None:
        group = scim.post("/Groups", json={"displayName": "Tagged"}).get_json()
        url = f"/Groups/{group['id']}"
        assert_error(scim.put(url, json={"displayName": "Renamed"}, headers={"If-Match": tag}), 412)
        op = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "R"}]}
        assert_error(scim.patch(url, json=op, headers={"If-Match": tag}), 412)
        assert_error(scim.delete(url, headers={"If-Match": tag}), 412)
        assert scim.get(url, headers={"If-None-Match": tag}).get_json()["displayName"] == "Tagged"
