"""``POST /Bulk`` (RFC 7644 §3.7) through the real app on the real database.

bulkId references (in ``data`` and in ``path``, forward ones included), reference cycles, ``version``
as ``If-Match``, ``failOnErrors``, one transaction per operation (checked on the plugin's rows and the
host's), the audit trail and events per operation, the limits (``maxOperations``, ``maxPayloadSize``),
the rate limit, discovery, and a replay of what a provisioning script sends.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from examples.host_app.extensions import db
from examples.host_app.models import User
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from scim_plugin import hookimpl
from scim_plugin.config import ConfigError, ScimConfig
from scim_plugin.core.schemas import ENTERPRISE_USER_URN, GROUP_URN, USER_URN
from scim_plugin.storage.models import AuditRecord, ScimGroup, ScimGroupMember, ScimUser
from scim_plugin.web.api.bulk_request import Operation, schedule
from tests.conftest import ScimClient, issue_token
from tests.test_group_mapping import access, mapped
from tests.test_groups import member_ids, new_group
from tests.test_users_api import ERROR, PATCH_OP, SCIM_JSON, assert_error, host_user, new_user

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
BASE = "http://localhost/scim/v2"


def user_data(user_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": "Bulk", "familyName": "User"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        **extra,
    }


def post_user(bulk_id: str, user_name: str, **extra: Any) -> dict[str, Any]:
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": user_data(user_name, **extra)}


def post_group(bulk_id: str, name: str, members: list[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"schemas": [GROUP_URN], "displayName": name}
    if members is not None:
        data["members"] = [{"value": m} for m in members]
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": data}


def patch_op(path: str, *operations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "method": "PATCH",
        "path": path,
        "data": {"schemas": [PATCH_OP], "Operations": list(operations)},
        **extra,
    }


def send(scim: ScimClient, *operations: dict[str, Any], **fields: Any) -> Any:
    return scim.post("/Bulk", json={"schemas": [BULK_REQUEST], "Operations": list(operations), **fields})


def bulk(scim: ScimClient, *operations: dict[str, Any], **fields: Any) -> list[dict[str, Any]]:
    """Send a BulkRequest; the response's operations, after checking the envelope."""
    r = send(scim, *operations, **fields)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == SCIM_JSON
    body = r.get_json()
    assert body["schemas"] == [BULK_RESPONSE]
    for op in body["Operations"]:
        assert isinstance(op["status"], str)  # RFC 7644 §3.7.3: the status is a string
        if int(op["status"]) >= 400:
            assert op["response"]["schemas"] == [ERROR]
            assert op["response"]["status"] == op["status"]
            assert op["response"]["detail"]
        else:
            assert "response" not in op
    return body["Operations"]


def statuses(results: list[dict[str, Any]]) -> list[str]:
    return [op["status"] for op in results]


def created_id(result: dict[str, Any], kind: str = "Users") -> str:
    assert result["status"] == "201", result
    prefix = f"{BASE}/{kind}/"
    assert result["location"].startswith(prefix)
    return result["location"].removeprefix(prefix)


def scim_user_names(app: Flask) -> list[str]:
    with app.app_context():
        return sorted(db.session.execute(select(ScimUser.user_name)).scalars())


def host_emails(app: Flask) -> list[str]:
    with app.app_context():
        return sorted(
            db.session.execute(select(User.email).where(User.provisioning_method == "scim")).scalars()
        )


def group_names(app: Flask) -> list[str]:
    with app.app_context():
        return sorted(db.session.execute(select(ScimGroup.display_name)).scalars())


def audit(app: Flask) -> list[AuditRecord]:
    with app.app_context():
        rows = list(db.session.execute(select(AuditRecord).order_by(AuditRecord.id)).scalars())
        db.session.expunge_all()
        return rows


# -- bulkId references ------------------------------------------------------------------------------


def test_user_created_and_added_to_a_group_in_one_request(app: Flask, scim: ScimClient) -> None:
    results = bulk(scim, post_user("u1", "ann@acme.example"), post_group("g1", "Onboarding", ["bulkId:u1"]))
    assert [(op["method"], op["bulkId"], op["status"]) for op in results] == [
        ("POST", "u1", "201"),
        ("POST", "g1", "201"),
    ]
    ann, group = created_id(results[0]), created_id(results[1], "Groups")
    assert results[0]["version"] == results[1]["version"] == 'W/"1"'
    assert member_ids(scim, group) == [ann]
    user = scim.get(f"/Users/{ann}").get_json()
    assert user["userName"] == "ann@acme.example" and user["groups"][0]["value"] == group
    assert host_user(app, "ann@acme.example") is not None


def test_forward_reference_runs_the_referenced_post_first(app: Flask, scim: ScimClient) -> None:
    results = bulk(
        scim,
        post_group("g1", "Onboarding", ["bulkId:u1", "bulkId:u2"]),
        post_user("u1", "ann@acme.example"),
        post_user("u2", "bob@acme.example"),
    )
    # Answered in the request's order...
    assert [op["bulkId"] for op in results] == ["g1", "u1", "u2"]
    assert statuses(results) == ["201", "201", "201"]
    group = created_id(results[0], "Groups")
    assert member_ids(scim, group) == sorted([created_id(results[1]), created_id(results[2])])
    # ...but the users were created before the group that references them.
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in audit(app)] == [
        ("POST", "Users"),
        ("POST", "Users"),
        ("POST", "Groups"),
        ("POST", "Bulk"),
    ]


def test_bulk_id_in_path_and_in_nested_values(app: Flask, scim: ScimClient) -> None:
    results = bulk(
        scim,
        patch_op("/Users/bulkId:u1", {"op": "replace", "path": "active", "value": False}),
        post_user("boss", "boss@acme.example"),
        post_user("u1", "ann@acme.example", **{ENTERPRISE_USER_URN: {"manager": {"value": "bulkId:boss"}}}),
    )
    assert statuses(results) == ["200", "201", "201"]
    ann, boss = created_id(results[2]), created_id(results[1])
    assert "bulkId" not in results[0]
    assert results[0]["location"] == f"{BASE}/Users/{ann}" and results[0]["version"] == 'W/"2"'
    user = scim.get(f"/Users/{ann}").get_json()
    assert user["active"] is False
    assert user[ENTERPRISE_USER_URN]["manager"]["value"] == boss


def test_unknown_bulk_id_fails_the_referencing_operation_only(app: Flask, scim: ScimClient) -> None:
    results = bulk(
        scim,
        post_group("g1", "Onboarding", ["bulkId:nobody"]),
        patch_op("/Users/bulkId:ghost", {"op": "replace", "path": "active", "value": False}),
        post_user("u1", "ann@acme.example"),
    )
    assert statuses(results) == ["409", "409", "201"]
    assert results[0]["response"]["scimType"] == "invalidValue"
    assert '"bulkId:nobody"' in results[0]["response"]["detail"]
    assert '"bulkId:ghost"' in results[1]["response"]["detail"]
    assert "location" not in results[0] and "location" not in results[1]  # nothing to point at
    assert group_names(app) == [] and scim_user_names(app) == ["ann@acme.example"]


def test_reference_to_a_failed_operation(app: Flask, scim: ScimClient) -> None:
    results = bulk(
        scim,
        post_user("u1", ""),  # invalid: userName is required
        post_group("g1", "Onboarding", ["bulkId:u1"]),
        post_group("g2", "Other"),
    )
    assert statuses(results) == ["400", "409", "201"]
    assert results[0]["response"]["scimType"] == "invalidValue"
    assert "location" not in results[0]  # a failed POST has no location (RFC 7644 §3.7)
    detail = results[1]["response"]["detail"]
    assert '"bulkId:u1"' in detail and "failed" in detail
    assert group_names(app) == ["Other"]


def test_reference_to_a_bulk_id_that_no_post_defines(scim: ScimClient) -> None:
    existing = new_user(scim)
    results = bulk(
        scim,
        patch_op(
            f"/Users/{existing['id']}", {"op": "replace", "path": "displayName", "value": "X"}, bulkId="p"
        ),
        post_group("g1", "Onboarding", ["bulkId:p"]),
    )
    assert statuses(results) == ["200", "409"]
    assert results[0]["bulkId"] == "p"
    assert "does not name a POST operation" in results[1]["response"]["detail"]


def test_circular_references_are_409_naming_the_cycle(app: Flask, scim: ScimClient) -> None:
    # RFC 7644 §3.7.1's example: two groups that contain each other (nested groups are not served).
    results = bulk(
        scim,
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "qwerty",
            "data": {"displayName": "Group A", "members": [{"type": "Group", "value": "bulkId:ytrewq"}]},
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "ytrewq",
            "data": {"displayName": "Group B", "members": [{"type": "Group", "value": "bulkId:qwerty"}]},
        },
        post_group("g3", "Waits", ["bulkId:u1", "bulkId:qwerty"]),
        post_user("u1", "ann@acme.example"),
        post_user(
            "self", "self@acme.example", **{ENTERPRISE_USER_URN: {"manager": {"value": "bulkId:self"}}}
        ),
    )
    assert statuses(results) == ["409", "409", "409", "201", "409"]
    for result in (results[0], results[1], results[2], results[4]):
        assert result["response"]["scimType"] == "invalidValue"
        assert "Circular bulkId references" in result["response"]["detail"]
    assert "(bulkId:qwerty -> bulkId:ytrewq -> bulkId:qwerty)" in results[0]["response"]["detail"]
    assert "is part of" in results[0]["response"]["detail"]
    assert "(bulkId:ytrewq -> bulkId:qwerty -> bulkId:ytrewq)" in results[1]["response"]["detail"]
    assert "depends on" in results[2]["response"]["detail"]
    assert "(bulkId:self -> bulkId:self)" in results[4]["response"]["detail"]
    assert group_names(app) == [] and scim_user_names(app) == ["ann@acme.example"]


def test_mapped_group_grants_follow_a_bulk_membership(app: Flask, scim: ScimClient) -> None:
    group = new_group(scim, "Prod Editors")
    mapped(app, "--group", "Prod Editors", "--workspace", "Production", "--permissions", "view_campaigns")
    results = bulk(
        scim,
        post_user("u1", "ann@acme.example"),
        patch_op(
            f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}]}
        ),
    )
    assert statuses(results) == ["201", "204"]
    assert access(app, "ann@acme.example")["workspaces"]["Production"] == (["view_campaigns"], None)


# -- version, failOnErrors, errors per operation -----------------------------------------------------


def test_put_patch_delete_with_version(app: Flask, scim: ScimClient) -> None:
    user = new_user(scim)
    group = new_group(scim, "Eng", [user["id"]])
    put_body = user_data("jane@acme.example", displayName="Jane Renamed")
    results = bulk(
        scim,
        {"method": "PUT", "path": f"/Users/{user['id']}", "version": 'W/"1"', "data": put_body},
        patch_op(
            f"/Groups/{group['id']}", {"op": "replace", "path": "displayName", "value": "X"}, version='W/"9"'
        ),
        {"method": "DELETE", "path": f"/Groups/{group['id']}", "version": group["meta"]["version"]},
        {"method": "DELETE", "path": f"/Users/{user['id']}", "version": 'W/"1"'},  # stale after the PUT
    )
    assert statuses(results) == ["200", "412", "204", "412"]
    assert results[0]["version"] == 'W/"2"' and results[0]["location"] == f"{BASE}/Users/{user['id']}"
    assert results[1]["location"] == f"{BASE}/Groups/{group['id']}"  # failures keep their location
    assert "If-Match" in results[1]["response"]["detail"]
    assert results[2]["location"] == f"{BASE}/Groups/{group['id']}" and "version" not in results[2]
    assert scim.get(f"/Users/{user['id']}").get_json()["displayName"] == "Jane Renamed"
    assert scim.get(f"/Groups/{group['id']}").status_code == 404
    assert host_user(app, "jane@acme.example") is not None


def test_without_version_the_write_is_unconditional(scim: ScimClient) -> None:
    user = new_user(scim)
    results = bulk(scim, {"method": "DELETE", "path": f"/Users/{user['id']}"})
    assert statuses(results) == ["204"]
    assert scim.get(f"/Users/{user['id']}").status_code == 404


def test_fail_on_errors_stops_and_lists_only_what_ran(app: Flask, scim: ScimClient) -> None:
    results = bulk(
        scim,
        post_user("u1", "ann@acme.example"),
        post_user("u2", ""),
        post_user("u3", "carl@acme.example"),
        failOnErrors=1,
    )
    assert [(op["bulkId"], op["status"]) for op in results] == [("u1", "201"), ("u2", "400")]
    assert scim_user_names(app) == ["ann@acme.example"]


def test_fail_on_errors_counts_errors(app: Flask, scim: ScimClient) -> None:
    ops = [post_user(f"u{i}", "" if i < 3 else f"u{i}@acme.example") for i in range(5)]
    assert statuses(bulk(scim, *ops, failOnErrors=2)) == ["400", "400"]
    assert statuses(bulk(scim, *ops, failOnErrors="3")) == ["400", "400", "400"]
    # Without failOnErrors every operation runs, whatever fails (RFC 7644 §3.7).
    assert statuses(bulk(scim, *ops)) == ["400", "400", "400", "201", "201"]
    assert scim_user_names(app) == ["u3@acme.example", "u4@acme.example"]


def test_errors_inside_operations_are_error_bodies_never_a_500(scim: ScimClient) -> None:
    user = new_user(scim)
    results = bulk(
        scim,
        {"method": "PATCH", "path": f"/Users/{user['id']}", "data": {"Operations": "nope"}},
        patch_op(f"/Users/{user['id']}", {"op": "frobnicate", "path": "active", "value": True}),
        post_user("dup", "JANE@acme.example"),  # uniqueness is case-insensitive
        post_user("surrogate", "\ud800@acme.example"),
        {"method": "PUT", "path": "/Users/.search", "data": user_data("x@acme.example")},
        {"method": "PUT", "path": "/Users/nope", "data": user_data("x@acme.example")},
    )
    assert statuses(results) == ["400", "400", "409", "400", "405", "404"]
    assert results[2]["response"]["scimType"] == "uniqueness"


def test_a_failing_operation_writes_nothing_and_earlier_ones_stay(
    app: Flask, scim: ScimClient, register: Callable[[Any], Any]
) -> None:
    class FailAfterHost:
        """The host writes its user, then something fails: the operation must leave no row behind."""

        @hookimpl(wrapper=True)
        def scim_create_user(self, tenant_id: str, user: Any) -> Any:
            result = yield
            if user.user_name == "half@acme.example":
                raise RuntimeError("secret internal detail")
            return result

    register(FailAfterHost())
    kept = new_group(scim, "Kept")
    results = bulk(
        scim,
        post_user("u1", "ann@acme.example"),
        post_user("half", "half@acme.example"),
        post_group("g1", "Half Group", ["bulkId:u1", "no-such-user"]),
        patch_op(
            f"/Groups/{kept['id']}",
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}, {"value": "no-such-user"}]},
        ),
        post_user("u3", "carl@acme.example"),
    )
    assert statuses(results) == ["201", "500", "400", "400", "201"]
    assert results[1]["response"]["detail"] == "Internal server error."
    assert "no-such-user" in results[2]["response"]["detail"]
    # The plugin's rows and the host's: the failed operations left nothing, the others are committed.
    assert scim_user_names(app) == host_emails(app) == ["ann@acme.example", "carl@acme.example"]
    assert group_names(app) == ["Kept"] and member_ids(scim, kept["id"]) == []
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ScimGroupMember)).scalar_one() == 0
    assert [r.status for r in audit(app)][-6:] == [201, 500, 400, 400, 201, 200]


def test_cross_tenant_ids_are_404_per_operation(app: Flask, client: Any, scim: ScimClient) -> None:
    globex = ScimClient(client, issue_token(app, "globex"))
    theirs = new_user(globex, "gil@globex.example")
    their_group = new_group(globex, "Globex Eng")
    results = bulk(
        scim,
        {"method": "PUT", "path": f"/Users/{theirs['id']}", "data": user_data("gil@globex.example")},
        patch_op(f"/Users/{theirs['id']}", {"op": "replace", "path": "active", "value": False}),
        {"method": "DELETE", "path": f"/Users/{theirs['id']}"},
        {"method": "DELETE", "path": f"/Groups/{their_group['id']}"},
        post_group("g1", "Mine", [theirs["id"]]),
    )
    assert statuses(results) == ["404", "404", "404", "404", "400"]
    after = globex.get(f"/Users/{theirs['id']}").get_json()
    assert after["active"] is True and after["meta"]["version"] == theirs["meta"]["version"]
    assert globex.get(f"/Groups/{their_group['id']}").status_code == 200


# -- audit trail and events ---------------------------------------------------------------------------


def test_each_operation_has_its_own_audit_record(app: Flask, scim: ScimClient, token: str) -> None:
    results = bulk(
        scim,
        post_user("u1", "ann@acme.example"),
        patch_op("/Users/bulkId:u1", {"op": "replace", "path": "active", "value": False}, version='W/"7"'),
        {"method": "DELETE", "path": "/Users/nope"},
    )
    ann = created_id(results[0])
    records = audit(app)
    assert [(r.method, r.path, r.status, r.resource_id) for r in records] == [
        ("POST", "/scim/v2/Users", 201, ann),
        ("PATCH", f"/scim/v2/Users/{ann}", 412, None),  # as for a single PATCH refused by If-Match
        ("DELETE", "/scim/v2/Users/nope", 404, "nope"),
        ("POST", "/scim/v2/Bulk", 200, None),
    ]
    token_id = token.split(".")[0].removeprefix("scim_")
    assert {(r.tenant_id, r.token_id, r.client_ip) for r in records} == {
        (records[0].tenant_id, token_id, "127.0.0.1")
    }
    assert records[0].reason is None and "If-Match" in (records[1].reason or "")
    assert all(r.duration_ms is not None and r.duration_ms >= 0 for r in records)
    # Every operation's record names the /Bulk request it came in; the next request is another.
    assert len({r.request_id for r in records}) == 1 and records[0].request_id
    assert scim.delete("/Users/nope").status_code == 404
    assert audit(app)[-1].request_id not in (None, records[0].request_id)


def test_events_follow_each_operations_commit(
    app: Flask, scim: ScimClient, register: Callable[[Any], Any]
) -> None:
    seen: list[tuple[str, Any]] = []
    request_ids: set[str] = set()

    class Observer:
        @hookimpl
        def scim_event(self, event: Any) -> None:
            if event.name == "request.audited":
                request_ids.add(event.data["request_id"])
            # Committed already: a fresh connection sees the user the event names.
            exists = None
            if event.name == "user.created":
                with app.extensions["scim"].db.engine.connect() as conn:
                    exists = conn.execute(select(ScimUser.id).where(ScimUser.id == event.data["id"])).first()
            seen.append(
                (event.name, exists is not None if event.name == "user.created" else event.data.get("status"))
            )

    register(Observer())
    results = bulk(
        scim, post_user("u1", "ann@acme.example"), post_user("u2", ""), post_group("g", "Eng", ["bulkId:u1"])
    )
    assert statuses(results) == ["201", "400", "201"]
    assert seen == [
        ("user.created", True),
        ("request.audited", 201),
        ("request.audited", 400),
        ("group.created", None),
        ("request.audited", 201),
        ("request.audited", 200),
    ]
    assert len(request_ids) == 1 and None not in request_ids


# -- limits and invalid requests ----------------------------------------------------------------------


class TestLimits:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {
            "SCIM_BULK_MAX_OPERATIONS": 3,
            "SCIM_BULK_MAX_PAYLOAD_BYTES": 4096,
            "SCIM_MAX_BODY_BYTES": 1024,
        }

    def test_too_many_operations_is_413(self, app: Flask, scim: ScimClient) -> None:
        ops = [post_user(f"u{i}", f"u{i}@acme.example") for i in range(4)]
        body = assert_error(send(scim, *ops), 413)
        assert body["detail"] == "The number of operations exceeds the maxOperations (3)."
        assert scim_user_names(app) == []
        assert statuses(bulk(scim, *ops[:3])) == ["201", "201", "201"]

    def test_payload_too_large_is_413(self, app: Flask, scim: ScimClient) -> None:
        big = post_user("u1", "ann@acme.example", displayName="x" * 5000)
        body = assert_error(send(scim, big), 413)
        assert body["detail"] == "The size of the bulk operation exceeds the maxPayloadSize (4096)."
        assert scim_user_names(app) == []
        assert audit(app)[-1].status == 413

    def test_payload_without_content_length_is_measured_while_read(self, scim: ScimClient) -> None:
        raw = json.dumps({"Operations": [post_user("u1", "ann@acme.example", displayName="x" * 5000)]})
        r = scim.client.post(
            "/scim/v2/Bulk",
            input_stream=io.BytesIO(raw.encode()),
            headers={**scim.headers(), "Content-Type": SCIM_JSON, "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        body = assert_error(r, 413)
        assert body["detail"] == "The size of the bulk operation exceeds the maxPayloadSize (4096)."

    def test_bulk_has_its_own_body_limit_and_each_operation_the_single_request_one(
        self, app: Flask, scim: ScimClient
    ) -> None:
        # Three users of ~800 bytes: 2.5 KB, over SCIM_MAX_BODY_BYTES but within the bulk limit.
        ops = [post_user(f"u{i}", f"u{i}@acme.example", displayName="x" * 600) for i in range(3)]
        assert len(json.dumps({"Operations": ops})) > 2048
        assert statuses(bulk(scim, *ops)) == ["201", "201", "201"]
        # One operation's data larger than a single request may be: that operation alone is 413.
        results = bulk(
            scim,
            post_user("big", "big@acme.example", displayName="x" * 1500),
            post_user("ok", "ok@acme.example"),
        )
        assert statuses(results) == ["413", "201"]
        assert_error(scim.post("/Users", json=user_data("single@acme.example", displayName="x" * 1500)), 413)


def ops(*operations: Any, **fields: Any) -> dict[str, Any]:
    return {"Operations": list(operations), **fields}


POST = {"method": "POST", "path": "/Users", "bulkId": "a", "data": {}}
FINE = post_user("u", "u@acme.example")


@pytest.mark.parametrize(
    ("body", "scim_type", "detail"),
    [
        ([], "invalidSyntax", "JSON object"),
        ({"schemas": ["urn:nope"], **ops(FINE)}, "invalidValue", "schemas"),
        ({"schemas": [BULK_REQUEST]}, "invalidSyntax", "Operations"),
        ({"Operations": {"method": "POST"}}, "invalidValue", "non-empty list"),
        (ops(), "invalidValue", "non-empty list"),
        (ops(FINE, "POST /Users"), "invalidSyntax", "Operations[1] must be a JSON object"),
        (ops({"method": "GET", "path": "/Users"}), "invalidValue", "Operations[0].method"),
        (ops({**POST, "path": "/Widgets"}), "invalidValue", "path"),
        (ops({**POST, "path": "/users"}), "invalidValue", "path"),
        (ops({**POST, "path": "/Users/1"}), "invalidValue", "POST creates a resource"),
        (ops({**POST, "method": "PUT"}), "invalidValue", "/Users/{id}"),
        (ops({"method": "DELETE", "path": "/Users/a?x=1"}), "invalidValue", "path"),
        (ops({**POST, "bulkId": None}), "invalidValue", "needs a bulkId"),
        (ops({**POST, "bulkId": 7}), "invalidValue", "bulkId"),
        (ops({**POST, "bulkId": " "}), "invalidValue", "bulkId"),
        (ops({"method": "PATCH", "path": "/Users/1"}), "invalidValue", "data"),
        (ops({"method": "PUT", "path": "/Users/1", "data": []}), "invalidValue", "data"),
        (ops({"method": "DELETE", "path": "/Users/1", "version": 1}), "invalidValue", "version"),
        (
            ops(post_user("same", "a@acme.example"), post_user("same", "b@acme.example")),
            "invalidValue",
            'bulkId "same" is used by Operations[0] and Operations[1]',
        ),
        (ops(FINE, failOnErrors=0), "invalidValue", "failOnErrors"),
        (ops(FINE, failOnErrors=True), "invalidValue", "failOnErrors"),
        (ops(FINE, failOnErrors="x"), "invalidValue", "failOnErrors"),
        # Digits to str.isdigit() that int() refuses (or that are too many for it): not a 500.
        (ops(FINE, failOnErrors="\u00b2"), "invalidValue", "failOnErrors"),
        (ops(FINE, failOnErrors="9" * 5000), "invalidValue", "failOnErrors"),
    ],
)
def test_invalid_bulk_requests_are_400_and_write_nothing(
    app: Flask, scim: ScimClient, body: Any, scim_type: str, detail: str
) -> None:
    # Checked before anything runs: a valid operation in the same request is not written either.
    error = assert_error(scim.post("/Bulk", json=body), 400, scim_type)
    assert detail in error["detail"]
    assert scim_user_names(app) == []


def test_unparsable_bodies_and_other_methods(scim: ScimClient) -> None:
    assert_error(scim.post("/Bulk", data="{not json", content_type=SCIM_JSON), 400, "invalidSyntax")
    assert_error(scim.post("/Bulk", data="", content_type=SCIM_JSON), 400, "invalidSyntax")
    assert_error(scim.post("/Bulk", data="<xml/>", content_type="text/xml"), 400, "invalidSyntax")
    r = scim.get("/Bulk")
    assert_error(r, 405)
    assert r.headers["Allow"] == "POST"


def test_bulk_needs_authentication(client: Any, token: str) -> None:
    r = client.post("/scim/v2/Bulk", json={"Operations": [post_user("u", "u@acme.example")]})
    assert_error(r, 401)


def test_keys_are_case_insensitive_and_methods_any_case(app: Flask, scim: ScimClient) -> None:
    r = scim.post(
        "/Bulk",
        json={
            "SCHEMAS": [BULK_REQUEST.upper()],
            "operations": [
                {"Method": "post", "Path": "/Users", "BulkId": "u1", "Data": user_data("a@acme.example")}
            ],
        },
    )
    assert r.status_code == 200
    assert r.get_json()["Operations"][0]["method"] == "POST"
    assert scim_user_names(app) == ["a@acme.example"]


# -- rate limit -----------------------------------------------------------------------------------------


class TestRateLimit:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SCIM_RATE_LIMIT": "4 per minute"}

    def test_each_operation_counts(self, scim: ScimClient) -> None:
        r = send(scim, post_user("u1", "a@acme.example"), post_user("u2", "b@acme.example"))
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "2"
        assert scim.get("/Users").headers["X-RateLimit-Remaining"] == "1"

    def test_an_exhausted_budget_stops_the_bulk_with_429(self, app: Flask, scim: ScimClient) -> None:
        ops = [post_user(f"u{i}", f"u{i}@acme.example") for i in range(6)]
        r = send(scim, *ops)
        assert r.status_code == 200
        results = r.get_json()["Operations"]
        assert [(op["bulkId"], op["status"]) for op in results] == [
            ("u0", "201"),
            ("u1", "201"),
            ("u2", "201"),
            ("u3", "201"),
            ("u4", "429"),
        ]
        assert "retry in" in results[4]["response"]["detail"]
        assert r.headers["X-RateLimit-Remaining"] == "0" and int(r.headers["Retry-After"]) >= 1
        assert scim_user_names(app) == [f"u{i}@acme.example" for i in range(4)]
        assert [rec.status for rec in audit(app)] == [201, 201, 201, 201, 429, 200]
        assert_error(scim.get("/Users"), 429)
        assert_error(send(scim, post_user("late", "late@acme.example")), 429)


# -- discovery and configuration ------------------------------------------------------------------------


def test_service_provider_config_advertises_bulk(app: Flask, scim: ScimClient) -> None:
    body = scim.get("/ServiceProviderConfig").get_json()
    assert body["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}


class TestConfiguredLimits:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SCIM_BULK_MAX_OPERATIONS": 50, "SCIM_BULK_MAX_PAYLOAD_BYTES": 65536}

    def test_advertised_from_config(self, scim: ScimClient) -> None:
        body = scim.get("/ServiceProviderConfig").get_json()
        assert body["bulk"] == {"supported": True, "maxOperations": 50, "maxPayloadSize": 65536}


class TestBulkTurnedOff:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"SCIM_BULK_MAX_OPERATIONS": 0}

    def test_501_and_unsupported(self, app: Flask, scim: ScimClient) -> None:
        assert scim.get("/ServiceProviderConfig").get_json()["bulk"]["supported"] is False
        assert_error(send(scim, post_user("u1", "a@acme.example")), 501)
        assert scim_user_names(app) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SCIM_BULK_MAX_OPERATIONS", -1),
        ("SCIM_BULK_MAX_OPERATIONS", True),
        ("SCIM_BULK_MAX_OPERATIONS", "10"),
        ("SCIM_BULK_MAX_OPERATIONS", 100_001),
        ("SCIM_BULK_MAX_PAYLOAD_BYTES", 100),
        ("SCIM_BULK_MAX_PAYLOAD_BYTES", 1.5),
    ],
)
def test_invalid_configuration_names_the_key(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=key):
        ScimConfig.from_mapping({key: value})


def test_configuration_defaults() -> None:
    config = ScimConfig.from_mapping({})
    assert (config.bulk_max_operations, config.bulk_max_payload_bytes) == (1000, 1024 * 1024)


# -- a provisioning script's request ---------------------------------------------------------------------


# Captured shape of a script's request; @...@ are filled with the ids of the users the test creates first.
SCRIPT_REQUEST = """{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
  "failOnErrors": 10,
  "Operations": [
    {"method": "POST", "path": "/Users", "bulkId": "hire-1042",
     "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
              "userName": "maria.lopez@acme.example", "externalId": "1042",
              "name": {"givenName": "Mar\\u00eda", "familyName": "L\\u00f3pez"},
              "emails": [{"value": "maria.lopez@acme.example", "type": "work", "primary": true}],
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "1042", "department": "finance"}}},
    {"method": "POST", "path": "/Users", "bulkId": "hire-1043",
     "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
              "userName": "tom.berg@acme.example", "externalId": "1043",
              "name": {"givenName": "Tom", "familyName": "Berg"},
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "1043", "manager": {"value": "bulkId:hire-1042"}}}},
    {"method": "POST", "path": "/Groups", "bulkId": "team-finance",
     "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Finance 2026",
              "members": [{"value": "bulkId:hire-1042", "type": "User"},
                          {"value": "bulkId:hire-1043", "type": "User"}]}},
    {"method": "PATCH", "path": "/Users/@LEAVER@", "version": @LEAVER_VERSION@,
     "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}},
    {"method": "DELETE", "path": "/Users/@CONTRACTOR@"},
    {"method": "PATCH", "path": "/Users/bulkId:hire-1043",
     "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "add", "path": "title", "value": "Analyst"}]}}
  ]
}"""


def test_replay_of_a_provisioning_script(app: Flask, client: Any, token: str) -> None:
    """What a nightly HR sync script sends: new hires, their team, a leaver deactivated, a contractor removed.

    Sent as raw bytes with the headers a ``requests``-based script sets, in the shape of RFC 7644
    §3.7.3's example (``bulkId`` references in ``members`` and in ``path``).
    """
    scim = ScimClient(client, token)
    leaver = new_user(scim, "leaver@acme.example")
    contractor = new_user(scim, "contractor@acme.example")
    raw = (
        SCRIPT_REQUEST.replace("@LEAVER@", leaver["id"])
        .replace("@LEAVER_VERSION@", json.dumps(leaver["meta"]["version"]))
        .replace("@CONTRACTOR@", contractor["id"])
    )
    r = client.post(
        "/scim/v2/Bulk",
        data=raw.encode("utf-8"),
        headers={
            "Authorization": f"Bearer {token}",
            "X-Request-Origin": "idp.example.com",
            "Content-Type": "application/scim+json; charset=utf-8",
            "Accept": "application/scim+json",
            "User-Agent": "python-requests/2.32.3",
        },
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    results = r.get_json()["Operations"]
    assert [(op["method"], op.get("bulkId"), op["status"]) for op in results] == [
        ("POST", "hire-1042", "201"),
        ("POST", "hire-1043", "201"),
        ("POST", "team-finance", "201"),
        ("PATCH", None, "200"),
        ("DELETE", None, "204"),
        ("PATCH", None, "200"),
    ]
    maria, tom = created_id(results[0]), created_id(results[1])
    team = created_id(results[2], "Groups")
    assert member_ids(scim, team) == sorted([maria, tom])
    tom_body = scim.get(f"/Users/{tom}").get_json()
    assert tom_body[ENTERPRISE_USER_URN]["manager"]["value"] == maria and tom_body["title"] == "Analyst"
    assert scim.get(f"/Users/{leaver['id']}").get_json()["active"] is False
    assert scim.get(f"/Users/{contractor['id']}").status_code == 404
    # The host's side: the hires are dashboard users, the leaver is inactive, the contractor is gone.
    hire = host_user(app, "maria.lopez@acme.example")
    assert hire is not None and (hire.given_name, hire.department) == ("María", "finance")
    assert host_user(app, "leaver@acme.example").active is False
    assert host_user(app, "contractor@acme.example") is None


def test_scim2_models_client_round_trip(app: Flask, scim: ScimClient) -> None:
    """A client built on scim2-models (python-scim): its BulkRequest is served, our BulkResponse parses."""
    models = pytest.importorskip("scim2_models")
    user, group = models.User, models.Group
    request = models.BulkRequest[user | group](
        operations=[
            models.BulkOperation[group](
                method="POST",
                path="/Groups",
                bulk_id="g1",
                data=group(display_name="Eng", members=[models.GroupMember(value="bulkId:u1")]),
            ),
            models.BulkOperation[user](
                method="POST", path="/Users", bulk_id="u1", data=user(user_name="ann@acme.example")
            ),
            models.BulkOperation[user](method="DELETE", path="/Users/nope", version='W/"1"'),
        ],
    )
    r = scim.post("/Bulk", json=request.model_dump(scim_ctx=models.Context.BULK_REQUEST))
    assert r.status_code == 200
    response = models.BulkResponse[user | group].model_validate(
        r.get_json(), scim_ctx=models.Context.BULK_RESPONSE
    )
    assert [(op.bulk_id, op.status) for op in response.operations] == [("g1", 201), ("u1", 201), (None, 404)]
    assert response.operations[2].response.detail == "User nope not found."
    assert member_ids(scim, response.operations[0].location.rsplit("/", 1)[1]) == [
        response.operations[1].location.rsplit("/", 1)[1]
    ]


# -- ordering (no app) ------------------------------------------------------------------------------------


def _op(index: int, refs: set[int], n: int) -> Operation:
    return Operation(index, "POST", "/Users", f"b{index}", None, {}, frozenset(f"b{r % n}" for r in refs))


@given(st.data())
def test_schedule_runs_every_operation_once_after_what_it_references(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 8))
    refs = data.draw(st.lists(st.sets(st.integers(0, n - 1), max_size=3), min_size=n, max_size=n))
    operations = [_op(i, refs[i], n) for i in range(n)]
    planned = schedule(operations)
    assert sorted(op.index for op, _ in planned) == list(range(n))
    position = {op.index: place for place, (op, _) in enumerate(planned)}
    for op, cycle in planned:
        if cycle is None:
            assert all(position[r] < position[op.index] for r in refs[op.index])
        else:
            assert cycle[0] == cycle[-1] and len(cycle) >= 2
    # Without references, the client's order is kept.
    assert [op.index for op, _ in schedule([_op(i, set(), n) for i in range(n)])] == list(range(n))
