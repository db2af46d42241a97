"""Races between concurrent SCIM requests, served by two real worker processes sharing the test database.

Two ``flask run`` processes (each threaded) serve the example host on 127.0.0.1; requests are fired from a
thread pool released by a barrier, alternating between the processes, so writes really overlap (on
PostgreSQL; SQLite serialises writers and may answer ``503`` when its lock is busy, which a client retries).

What must hold whatever the interleaving: no ``500``; unique ``userName`` (case-insensitively) settled by
the database; ``If-Match`` honoured by exactly one writer; no lost update.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from scim_plugin.storage.models import ScimUser

from .conftest import ORIGIN, SECRET
from .test_ratelimit import _free_port, _wait

REPO = Path(__file__).resolve().parents[1]
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WORKERS = 16
RETRIES_503 = 20


@pytest.fixture(scope="module")
def servers(
    _schema: None, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Base URLs of two worker processes of the example host on the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "HOST_INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "HOST_LOAD_ENTRYPOINTS": "0",
        "FLASK_SCIM_RATE_LIMIT": "off",
        "PYTHONPATH": str(REPO),
    }
    ports = [_free_port(), _free_port()]
    logs = [tmp_path_factory.mktemp("logs") / f"worker{i}.log" for i in range(len(ports))]
    outputs = [log.open("wb") for log in logs]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "examples.host_app", "run", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
        for port, out in zip(ports, outputs, strict=True)
    ]
    try:
        for port, worker in zip(ports, workers, strict=True):
            _wait(port, worker)
        yield [f"http://127.0.0.1:{port}/scim/v2" for port in ports]
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=10)
        for out in outputs:
            out.close()
    # Every unexpected error a worker logged (a 500 path) leaves a traceback naming a 500 response.
    for log in logs:
        logged = log.read_text(errors="replace")
        assert '" 500 -' not in logged, logged[-5000:]


class Http:
    """A tiny IdP-like client: bearer token, origin header, JSON bodies, ``503`` retried with back-off."""

    def __init__(self, bases: list[str], token: str) -> None:
        self.bases = bases
        self.token = token
        self.retried = 0
        self._lock = threading.Lock()

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, *, via: int = 0
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        for attempt in range(RETRIES_503 + 1):
            status, doc, got = self._once(method, path, body, headers, self.bases[via % len(self.bases)])
            if status != 503 or attempt == RETRIES_503:
                return status, doc, got
            assert_error_body(status, doc)
            with self._lock:
                self.retried += 1
            time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    def _once(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None, base: str
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("X-Request-Origin", ORIGIN)
        if data is not None:
            request.add_header("Content-Type", "application/scim+json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), dict(exc.headers)
        assert b"Traceback" not in raw
        return status, (json.loads(raw) if raw else None), got


def assert_error_body(status: int, doc: dict[str, Any] | None) -> None:
    assert doc is not None, status
    assert doc["schemas"] == [ERROR_SCHEMA]
    assert doc["status"] == str(status)


def race(calls: list[Any]) -> list[Any]:
    """Run the callables at once (released together by a barrier); their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Any) -> Any:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def http(app, token: str, servers: list[str]) -> Iterator[Http]:
    client = Http(servers, token)
    yield client
    if client.retried:
        print(f"\n{client.retried} request(s) answered 503 (database busy) and were retried")


def _case_variants(text_: str, n: int) -> list[str]:
    letters = [i for i, c in enumerate(text_) if c.isalpha()]
    variants = []
    for mask in range(n):
        chars = list(text_)
        for bit, index in enumerate(letters):
            if mask >> bit & 1:
                chars[index] = chars[index].upper()
        variants.append("".join(chars))
    assert len(set(variants)) == n
    return variants


def _engine(database_url: str) -> Any:
    return create_engine(database_url)


def test_concurrent_creates_of_one_user_name_make_exactly_one_user(http, database_url):
    names = _case_variants("race.user@example.com", 50)
    results = race(
        [
            lambda name=name, i=i: http.call("POST", "/Users", {"userName": name}, via=i)
            for i, name in enumerate(names)
        ]
    )
    statuses = [status for status, _, _ in results]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    for status, doc, _ in results:
        if status == 409:
            assert_error_body(status, doc)
            assert doc["scimType"] == "uniqueness"
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(func.count())
                .select_from(ScimUser)
                .where(ScimUser.user_name_norm == "race.user@example.com")
            ).scalar_one()
            hosts = conn.execute(
                text("SELECT count(*) FROM users WHERE lower(email) = 'race.user@example.com'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert (rows, hosts) == (1, 1)


def _create(http: Http, user_name: str, **extra: Any) -> tuple[str, str]:
    status, doc, headers = http.call("POST", "/Users", {"userName": user_name, **extra})
    assert status == 201, doc
    return doc["id"], headers["ETag"]


def _patch(ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": ops}


def test_concurrent_patches_with_one_etag_exactly_one_wins(http):
    user_id, tag = _create(http, "etag.race@example.com", displayName="start")
    n = 12
    results = race(
        [
            lambda i=i: http.call(
                "PATCH",
                f"/Users/{user_id}",
                _patch([{"op": "replace", "path": "displayName", "value": f"writer {i}"}]),
                {"If-Match": tag},
                via=i,
            )
            for i in range(n)
        ]
    )
    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == 1, statuses
    assert statuses.count(412) == n - 1, statuses
    winner = next(doc for status, doc, _ in results if status == 200)
    for status, doc, _ in results:
        if status == 412:
            assert_error_body(status, doc)
    status, final, headers = http.call("GET", f"/Users/{user_id}")
    assert status == 200
    # No lost update: the stored document is the winner's, one version on.
    assert final["displayName"] == winner["displayName"]
    assert final["meta"]["version"] == headers["ETag"] == 'W/"2"'


def test_concurrent_patches_without_if_match_all_apply(http):
    """PATCH without ``If-Match`` is applied to the latest document: every change lands, none is lost.

    Each request changes its own attribute, so the outcome does not depend on the order: the final
    document has all of them and the version moved on once per request. (A client that sent no
    precondition must never get ``412``.)
    """
    user_id, _ = _create(http, "patch.race@example.com")
    changes = [
        ("displayName", "Patch Race"),
        ("nickName", "racer"),
        ("title", "Tester"),
        ("name.givenName", "Patch"),
        ("name.familyName", "Race"),
        ("userType", "Employee"),
        ("preferredLanguage", "en"),
        ("locale", "en-GB"),
        ("timezone", "Europe/London"),
        ("profileUrl", "https://example.com/racer"),
    ]
    results = race(
        [
            lambda path=path, value=value, i=i: http.call(
                "PATCH", f"/Users/{user_id}", _patch([{"op": "replace", "path": path, "value": value}]), via=i
            )
            for i, (path, value) in enumerate(changes)
        ]
    )
    statuses = [status for status, _, _ in results]
    assert statuses == [200] * len(changes), [(s, d) for s, d, _ in results if s != 200]
    status, final, _ = http.call("GET", f"/Users/{user_id}")
    assert status == 200
    for path, value in changes:
        node: Any = final
        for part in path.split("."):
            node = node[part]
        assert node == value, (path, final)
    assert final["meta"]["version"] == f'W/"{1 + len(changes)}"'


def test_concurrent_multi_valued_adds_lose_nothing(http):
    user_id, _ = _create(http, "emails.race@example.com")
    n = 10
    results = race(
        [
            lambda i=i: http.call(
                "PATCH",
                f"/Users/{user_id}",
                _patch(
                    [
                        {
                            "op": "add",
                            "path": "emails",
                            "value": [{"value": f"alias{i}@example.com", "type": "other"}],
                        }
                    ]
                ),
                via=i,
            )
            for i in range(n)
        ]
    )
    assert [status for status, _, _ in results] == [200] * n
    status, final, _ = http.call("GET", f"/Users/{user_id}")
    assert sorted(e["value"] for e in final["emails"]) == sorted(f"alias{i}@example.com" for i in range(n))
    # The filterable mirror agrees with the document.
    status, found, _ = http.call(
        "GET", "/Users?filter=" + urllib.request.quote('emails.value eq "alias7@example.com"')
    )
    assert status == 200 and found["totalResults"] == 1


def test_concurrent_deletes_of_one_user(http):
    _create(http, "keeper@example.com")  # the company keeps a user, so deletes are allowed
    user_id, _ = _create(http, "delete.race@example.com")
    n = 8
    results = race([lambda i=i: http.call("DELETE", f"/Users/{user_id}", via=i) for i in range(n)])
    statuses = [status for status, _, _ in results]
    assert statuses.count(204) == 1, statuses
    assert statuses.count(404) == n - 1, statuses
    for status, doc, _ in results:
        if status != 204:
            assert_error_body(status, doc)
    assert http.call("GET", f"/Users/{user_id}")[0] == 404


def test_concurrent_group_member_adds_lose_no_member(http):
    members = [_create(http, f"member{i}@example.com")[0] for i in range(10)]
    status, group, _ = http.call("POST", "/Groups", {"displayName": "Racers"})
    assert status == 201, group
    results = race(
        [
            lambda member=member, i=i: http.call(
                "PATCH",
                f"/Groups/{group['id']}",
                _patch([{"op": "add", "path": "members", "value": [{"value": member}]}]),
                via=i,
            )
            for i, member in enumerate(members)
        ]
    )
    assert [status for status, _, _ in results] == [204] * len(members), [
        (s, d) for s, d, _ in results if s != 204
    ]
    status, final, _ = http.call("GET", f"/Groups/{group['id']}")
    assert status == 200
    assert sorted(m["value"] for m in final.get("members", [])) == sorted(members)


def test_concurrent_adds_and_removes_of_the_same_members_keep_count_and_rows(http, database_url):
    """Entra and Okta send membership PATCHes in parallel, retries included: the same member added (or
    removed) by several requests at once is one row (or none), every request succeeds, and the count the
    group keeps is the number of its rows."""
    members = [_create(http, f"twice{i}@example.com")[0] for i in range(4)]
    status, group, _ = http.call("POST", "/Groups", {"displayName": "Twice"})
    assert status == 201, group

    def change(op: str, member: str, via: int) -> Any:
        body = _patch([{"op": op, "path": "members", "value": [{"value": member}]}])
        return lambda: http.call("PATCH", f"/Groups/{group['id']}", body, via=via)

    engine = _engine(database_url)
    try:
        for op, expected in (("add", sorted(members)), ("remove", [])):
            results = race([change(op, member, via) for member in members for via in range(3)])
            assert [status for status, _, _ in results] == [204] * len(results), [
                (s, d) for s, d, _ in results if s != 204
            ]
            status, final, _ = http.call("GET", f"/Groups/{group['id']}")
            assert status == 200
            assert sorted(m["value"] for m in final.get("members", [])) == expected
            with engine.connect() as conn:
                kept, rows = conn.execute(
                    text(
                        "SELECT member_count, (SELECT count(*) FROM scim_group_members WHERE group_id = :g) "
                        "FROM scim_groups WHERE id = :g"
                    ),
                    {"g": group["id"]},
                ).one()
            assert (kept, rows) == (len(expected), len(expected))
    finally:
        engine.dispose()


def _keep_only(engine: Any, pattern: str) -> None:
    """Leave the test company with only the users whose email is LIKE ``pattern`` (its demo users go)."""
    with engine.begin() as conn:
        company_id = conn.execute(
            text("SELECT company_id FROM users WHERE email LIKE :p LIMIT 1"), {"p": pattern}
        ).scalar_one()
        others = "SELECT id FROM users WHERE company_id = :c AND email NOT LIKE :p"
        for table in ("workspace_memberships", "team_memberships", "role_assignments"):
            conn.execute(
                text(f"DELETE FROM {table} WHERE user_id IN ({others})"), {"c": company_id, "p": pattern}
            )
        conn.execute(
            text("DELETE FROM users WHERE company_id = :c AND email NOT LIKE :p"),
            {"c": company_id, "p": pattern},
        )


def _host_users(engine: Any, pattern: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT email FROM users WHERE email LIKE :p ORDER BY email"), {"p": pattern}
        )
        return list(rows.scalars())


def test_concurrent_deletes_of_a_companys_last_two_users_keep_one(http, database_url):
    """The host refuses to delete a company's last user; two deletes racing for the last two must not
    both pass that check (on PostgreSQL, the example host's first try needs a survivor it can lock
    without waiting, and its second try orders the rest by the company row)."""
    first, _ = _create(http, "last.one@example.com")
    second, _ = _create(http, "last.two@example.com")
    engine = _engine(database_url)
    try:
        _keep_only(engine, "last.%")
        for _ in range(3):
            results = race(
                [
                    lambda pair=(first, second): http.call("DELETE", f"/Users/{pair[0]}"),
                    lambda pair=(first, second): http.call("DELETE", f"/Users/{pair[1]}", via=1),
                ]
            )
            statuses = sorted(status for status, _, _ in results)
            assert statuses == [204, 409], results
            refused = next(doc for status, doc, _ in results if status == 409)
            assert_error_body(409, refused)
            assert "at least one" in refused["detail"]
            with engine.connect() as conn:
                left = conn.execute(
                    text("SELECT count(*) FROM users WHERE email LIKE 'last.%@example.com'")
                ).scalar_one()
            assert left == 1, (left, results)
            # Put the deleted one back for the next round.
            names = {first: "last.one@example.com", second: "last.two@example.com"}
            kept = first if http.call("GET", f"/Users/{first}")[0] == 200 else second
            assert http.call("GET", f"/Users/{kept}")[0] == 200
            gone = second if kept == first else first
            first, second = kept, _create(http, names[gone])[0]
            if names[kept] != "last.one@example.com":
                first, second = second, first
    finally:
        engine.dispose()


def test_concurrent_deletes_of_every_user_of_a_company_leave_exactly_one(http, database_url):
    """An IdP deprovisions a whole company at once: every delete but one succeeds, none deadlocks or
    answers 503 on PostgreSQL (whose deletes run side by side), and the company keeps exactly one user."""
    names = [f"everyone.{i:02d}@example.com" for i in range(12)]
    ids = [_create(http, name)[0] for name in names]
    engine = _engine(database_url)
    try:
        _keep_only(engine, "everyone.%")
        retried_before = http.retried
        results = race([lambda i=i: http.call("DELETE", f"/Users/{ids[i]}", via=i) for i in range(len(ids))])
        statuses = [status for status, _, _ in results]
        assert sorted(statuses) == [204] * (len(ids) - 1) + [409], results
        refused = next(doc for status, doc, _ in results if status == 409)
        assert_error_body(409, refused)
        assert "at least one" in refused["detail"]
        kept = [name for name, status in zip(names, statuses, strict=True) if status == 409]
        assert _host_users(engine, "everyone.%") == kept
        assert [http.call("GET", f"/Users/{i}")[0] for i in ids].count(200) == 1
        if not database_url.startswith("sqlite"):
            # SQLite may answer 503 while its one writer lock is busy; PostgreSQL has no reason to.
            assert http.retried == retried_before
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("held", "then", "expected"),
    [
        # The only other user is being changed (its email: a key change) and the change is undone.
        ("survivor FOR UPDATE", "ROLLBACK", 204),
        # ... or it is being deleted, and that commits: the user to delete is now the last one.
        ("survivor deleted", "COMMIT", 409),
        # The user to delete is another delete's survivor (locked FOR KEY SHARE) until that one ends.
        ("target FOR KEY SHARE", "COMMIT", 204),
    ],
)
def test_a_delete_waits_for_busy_rows_instead_of_refusing(http, database_url, held, then, expected):
    """PostgreSQL: the example host's first try skips rows other transactions hold; when that leaves it
    nothing to delete, its second try waits for them and decides on what they committed."""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL row locks; SQLite has none (its one writer lock orders the deletes)")
    target, _ = _create(http, "busy.target@example.com")
    _create(http, "busy.survivor@example.com")
    engine = _engine(database_url)
    try:
        _keep_only(engine, "busy.%")
        with engine.connect() as other:
            email = "busy.target@example.com" if held.startswith("target") else "busy.survivor@example.com"
            if held == "survivor deleted":
                other.execute(text("DELETE FROM users WHERE email = :e"), {"e": email})
            else:
                lock = "FOR KEY SHARE" if held.endswith("KEY SHARE") else "FOR UPDATE"
                if lock == "FOR KEY SHARE" and not database_url.startswith("postgresql"):
                    lock = "LOCK IN SHARE MODE"  # MariaDB and MySQL: the share lock their deletes take
                other.execute(text(f"SELECT id FROM users WHERE email = :e {lock}"), {"e": email})
            with ThreadPoolExecutor(max_workers=1) as pool:
                deleting = pool.submit(http.call, "DELETE", f"/Users/{target}")
                time.sleep(1.0)
                assert not deleting.done(), deleting.result()  # it waits; it did not refuse or delete
                other.execute(text(then))
                status, doc, _ = deleting.result(timeout=30)
        assert status == expected, doc
        if expected == 409:
            assert_error_body(409, doc)
            assert _host_users(engine, "busy.%") == ["busy.target@example.com"]
        else:
            assert "busy.target@example.com" not in _host_users(engine, "busy.%")
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("deleted", "expected"),
    [
        # The group goes while the PATCH adds to it (an admin deletes it in the IdP mid-sync).
        ("group", 404),
        # The member goes while the PATCH adds it (its deprovisioning overtakes the group change).
        ("member", 400),
    ],
)
def test_a_membership_add_racing_a_delete_is_answered_not_500(http, database_url, deleted, expected):
    """PostgreSQL: a membership PATCH reads the group without a lock; a group or user deleted in another
    transaction before its INSERT commits makes that INSERT's foreign key check fail. The answer is the
    one the PATCH would get a moment later (group gone: 404; user gone: 400 unknown member), not a 500."""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL row locks; SQLite's one writer runs the delete and the PATCH in turn")
    member, _ = _create(http, f"racing.{deleted}@example.com")
    status, group, _ = http.call("POST", "/Groups", {"displayName": f"Racing {deleted}"})
    assert status == 201, group
    engine = _engine(database_url)
    try:
        with engine.connect() as other:
            table, row_id = ("scim_groups", group["id"]) if deleted == "group" else ("scim_users", member)
            other.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": row_id})
            body = _patch([{"op": "add", "path": "members", "value": [{"value": member}]}])
            with ThreadPoolExecutor(max_workers=1) as pool:
                adding = pool.submit(http.call, "PATCH", f"/Groups/{group['id']}", body)
                time.sleep(1.0)
                other.execute(text("COMMIT"))
                status, doc, _ = adding.result(timeout=30)
        assert status == expected, doc
        assert_error_body(expected, doc)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT count(*) FROM scim_group_members WHERE group_id = :g"), {"g": group["id"]}
            ).scalar_one()
        assert rows == 0
    finally:
        engine.dispose()
