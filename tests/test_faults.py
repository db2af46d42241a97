"""Faults: the host seam failing in the middle of a write, and the database going away.

Whatever fails, a SCIM client gets an RFC 7644 error body (never a traceback), retryable failures of
the database answer ``503``, and a failed request leaves no half-written rows in either the plugin's
tables or the host's.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from examples.host_app.extensions import db as host_db
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url

from scim_plugin.markers import hookimpl
from scim_plugin.storage.models import AuditRecord as ScimAudit
from scim_plugin.storage.models import ScimBase

from .conftest import ScimClient, issue_token, make_app

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
AUDIT = ScimAudit.__tablename__


def snapshot(database_url: str) -> dict[str, list[str]]:
    """Every row of every plugin and host table but the audit trail, order-independent."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = [*ScimBase.metadata.sorted_tables, *host_db.metadata.sorted_tables]
            return {
                table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
                for table in tables
                if table.name != AUDIT
            }
    finally:
        engine.dispose()


def audit_statuses(database_url: str) -> list[int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(ScimAudit.status).order_by(ScimAudit.id)).scalars())
    finally:
        engine.dispose()


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    body = response.get_json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    text_ = response.get_data(as_text=True)
    assert "Traceback" not in text_ and "Error(" not in text_ and 'File "' not in text_
    return body


class Boom(RuntimeError):
    pass


class FailAfterHost:
    """Wraps the host's seam: lets it write (``yield``), then fails as a buggy plugin would."""

    @hookimpl(wrapper=True)
    def scim_create_user(self, tenant_id: str, user: Any) -> Any:
        result = yield
        assert result is not None  # the host created its user and flushed it
        raise Boom("secret internal detail /srv/app.py line 42")

    @hookimpl(wrapper=True)
    def scim_update_user(self, tenant_id: str, host_user_id: str, user: Any) -> Any:
        result = yield
        assert result is True
        raise Boom("secret internal detail /srv/app.py line 42")

    @hookimpl(wrapper=True)
    def scim_delete_user(self, tenant_id: str, host_user_id: str) -> Any:
        result = yield
        assert result is True
        raise Boom("secret internal detail /srv/app.py line 42")


class TestHostSeamFailure:
    @pytest.fixture
    def existing(self, scim: ScimClient) -> dict[str, Any]:
        created = scim.post(
            "/Users",
            json={
                "userName": "kept@example.com",
                "name": {"givenName": "Kept", "familyName": "User"},
                "emails": [{"value": "kept@example.com", "type": "work", "primary": True}],
            },
        )
        assert created.status_code == 201
        return created.get_json()

    @pytest.fixture
    def failing(self, app, existing) -> Iterator[None]:
        pm = app.extensions["scim"].pm
        plugin = FailAfterHost()
        pm.register(plugin, name="test-fail-after-host")
        yield
        if pm.has_plugin("test-fail-after-host"):
            pm.unregister(name="test-fail-after-host")

    def _check(self, database_url: str, before: dict[str, list[str]], response: Any) -> None:
        body = assert_error(response, 500)
        assert body["detail"] == "Internal server error."
        assert "secret" not in response.get_data(as_text=True)
        assert snapshot(database_url) == before
        assert audit_statuses(database_url)[-1] == 500

    def test_create(self, scim, database_url, failing):
        before = snapshot(database_url)
        response = scim.post(
            "/Users",
            json={
                "userName": "half@example.com",
                "emails": [{"value": "half@example.com"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "finance"},
            },
        )
        self._check(database_url, before, response)

    def test_patch(self, scim, database_url, existing, failing):
        before = snapshot(database_url)
        response = scim.patch(
            f"/Users/{existing['id']}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "replace", "path": "userName", "value": "renamed@example.com"},
                    {
                        "op": "add",
                        "path": "emails",
                        "value": [{"value": "other@example.com", "type": "other"}],
                    },
                ],
            },
        )
        self._check(database_url, before, response)

    def test_put(self, scim, database_url, existing, failing):
        before = snapshot(database_url)
        response = scim.put(
            f"/Users/{existing['id']}", json={"userName": "kept@example.com", "displayName": "Changed"}
        )
        self._check(database_url, before, response)

    def test_delete(self, scim, database_url, existing, failing):
        before = snapshot(database_url)
        response = scim.delete(f"/Users/{existing['id']}")
        self._check(database_url, before, response)

    def test_app_keeps_working_after_the_failure(self, app, scim, existing, failing):
        assert scim.post("/Users", json={"userName": "half@example.com"}).status_code == 500
        app.extensions["scim"].pm.unregister(name="test-fail-after-host")
        assert scim.post("/Users", json={"userName": "half@example.com"}).status_code == 201


# -- the database going away ----------------------------------------------------------------------------


def _backend(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    if _backend(database_url) != "sqlite":
        pytest.skip("SQLite only")


class PgKiller:
    """Terminates the backends of one app (tagged by ``application_name``), not anyone else's."""

    def __init__(self, database_url: str) -> None:
        self.name = f"scim-faults-{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(database_url)

    def app(self, database_url: str, tmp_path: Any, pre_ping: bool) -> Any:
        """A second app on the same (seeded) database whose connections carry ``application_name``."""
        return make_app(
            database_url,
            tmp_path,
            SQLALCHEMY_ENGINE_OPTIONS={
                "pool_pre_ping": pre_ping,
                "connect_args": {"application_name": self.name},
            },
        )

    def kill(self) -> int:
        with self.admin.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                    " AND pid <> pg_backend_pid()"
                ),
                {"name": self.name},
            ).scalar_one()
        return int(killed)


class MysqlKiller(PgKiller):
    """MariaDB and MySQL: ``KILL`` the connections one app opened (their ids noted as each opens), as a
    server restart or a failover drops them; the client then sees errors 2006 and 2013."""

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url)
        self.ids: set[int] = set()

    def app(self, database_url: str, tmp_path: Any, pre_ping: bool) -> Any:
        made = make_app(database_url, tmp_path, SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": pre_ping})
        with made.app_context():
            event.listen(made.extensions["scim"].db.engine, "connect", self._note)
        return made

    def _note(self, dbapi_connection: Any, record: Any) -> None:
        self.ids.add(dbapi_connection.thread_id())

    def kill(self) -> int:
        killed = 0
        with self.admin.connect() as conn:
            alive = set(conn.execute(text("SELECT id FROM information_schema.processlist")).scalars())
            for connection_id in sorted(self.ids & alive):
                conn.execute(text(f"KILL CONNECTION {int(connection_id)}"))
                killed += 1
        return killed


@pytest.fixture
def killer(database_url: str) -> Iterator[PgKiller]:
    backend = _backend(database_url)
    if backend == "sqlite":
        pytest.skip("a server database only (set DATABASE_URL): SQLite has no connection to kill")
    k = MysqlKiller(database_url) if backend in ("mysql", "mariadb") else PgKiller(database_url)
    yield k
    k.admin.dispose()


@pytest.mark.parametrize("pre_ping", [True, False], ids=["pre-ping", "no-pre-ping"])
def test_connections_killed_between_requests(app, token, database_url, tmp_path, killer, pre_ping):
    tagged = killer.app(database_url, tmp_path, pre_ping)
    scim = ScimClient(tagged.test_client(), token)
    assert scim.post("/Users", json={"userName": "before@example.com"}).status_code == 201
    assert killer.kill() >= 1
    statuses = []
    for i in range(3):
        response = scim.post("/Users", json={"userName": f"after{i}@example.com"})
        if response.status_code != 201:
            assert_error(response, 503)
        statuses.append(response.status_code)
    # With pre-ping the pool reconnects before use; without, one request may see the dead
    # connection (503) and the pool recovers on its own: the app is never restarted.
    assert statuses[-1] == 201
    assert statuses.count(503) <= (0 if pre_ping else 1), statuses
    listed = scim.get("/Users?count=100").get_json()
    names = sorted(r["userName"] for r in listed["Resources"])
    expected = ["before@example.com"] + [f"after{i}@example.com" for i, s in enumerate(statuses) if s == 201]
    assert names == sorted(expected)


class KillMidWrite:
    """After the host's seam wrote its user, the database connection dies (as in a failover)."""

    def __init__(self, killer: PgKiller) -> None:
        self.killer = killer
        self.fired = 0

    @hookimpl(wrapper=True)
    def scim_create_user(self, tenant_id: str, user: Any) -> Any:
        result = yield
        if self.fired == 0:
            self.fired += 1
            assert self.killer.kill() >= 1
        return result

    @hookimpl(wrapper=True)
    def scim_update_user(self, tenant_id: str, host_user_id: str, user: Any) -> Any:
        result = yield
        if self.fired == 0:
            self.fired += 1
            assert self.killer.kill() >= 1
        return result


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_connection_killed_mid_write(app, token, database_url, tmp_path, killer, method):
    tagged = killer.app(database_url, tmp_path, True)
    scim = ScimClient(tagged.test_client(), token)
    created = scim.post("/Users", json={"userName": "mid@example.com", "displayName": "Before"})
    assert created.status_code == 201
    before = snapshot(database_url)
    audit_before = len(audit_statuses(database_url))
    plugin = KillMidWrite(killer)
    tagged.extensions["scim"].pm.register(plugin, name="test-kill-mid-write")
    if method == "POST":
        response = scim.post(
            "/Users", json={"userName": "lost@example.com", "emails": [{"value": "x@example.com"}]}
        )
    else:
        response = scim.patch(
            f"/Users/{created.get_json()['id']}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "displayName", "value": "After"}],
            },
        )
    assert plugin.fired == 1
    assert_error(response, 503)
    assert response.get_json()["detail"] == "The directory database is unavailable; retry later."
    assert snapshot(database_url) == before
    # The failure itself is on the audit trail (written on a fresh connection).
    assert audit_statuses(database_url)[audit_before:] == [503]
    # Recovery without a restart: the retry succeeds.
    plugin.fired = 1
    if method == "POST":
        retry = scim.post("/Users", json={"userName": "lost@example.com"})
        assert retry.status_code == 201
    else:
        retry = scim.patch(
            f"/Users/{created.get_json()['id']}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "displayName", "value": "After"}],
            },
        )
        assert retry.status_code == 200 and retry.get_json()["displayName"] == "After"


@pytest.fixture
def mysql_only(database_url: str) -> None:
    if _backend(database_url) not in ("mysql", "mariadb"):
        pytest.skip("MariaDB and MySQL only (set DATABASE_URL): InnoDB's lock wait timeout and deadlocks")


def _held_and_waiting(app: Any, token: str, database_url: str, tmp_path: Any, timeout: int) -> Any:
    """A user, an app whose connections wait ``timeout`` s for a row lock, and a client of that app."""
    waiting = make_app(
        database_url,
        tmp_path,
        SQLALCHEMY_ENGINE_OPTIONS={
            "connect_args": {"init_command": f"SET SESSION innodb_lock_wait_timeout = {timeout}"}
        },
    )
    scim = ScimClient(waiting.test_client(), token)
    created = scim.post("/Users", json={"userName": "held@example.com", "displayName": "Before"})
    assert created.status_code == 201
    return scim, created.get_json()["id"], created.headers["ETag"]


def _rename(scim: ScimClient, user_id: str, etag: str) -> Any:
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "After"}]}
    return scim.patch(f"/Users/{user_id}", json=body, headers={"If-Match": etag})


def test_lock_wait_timeout_answers_503_and_writes_nothing(mysql_only, app, token, database_url, tmp_path):
    """Error 1205: the PATCH waits for a row another transaction holds, gives up, is a 503 (retry)."""
    scim, user_id, etag = _held_and_waiting(app, token, database_url, tmp_path, timeout=1)
    before = snapshot(database_url)
    other = create_engine(database_url)
    try:
        with other.connect() as conn:
            conn.execute(text("SELECT id FROM scim_users WHERE id = :id FOR UPDATE"), {"id": user_id})
            response = _rename(scim, user_id, etag)
            conn.execute(text("ROLLBACK"))
    finally:
        other.dispose()
    assert_error(response, 503)
    assert snapshot(database_url) == before
    retried = _rename(scim, user_id, etag)
    assert retried.status_code == 200 and retried.get_json()["displayName"] == "After"


def test_deadlock_victim_answers_503_and_writes_nothing(mysql_only, app, token, database_url, tmp_path):
    """Error 1213: a PATCH writes the host's user row, then waits for its SCIM row, which a bigger
    transaction holds while it asks for that host row. InnoDB rolls the smaller one back at once: the
    request, answered 503 (IdPs retry it), not 500 and not after a lock timeout."""
    import threading
    import time

    scim, user_id, etag = _held_and_waiting(app, token, database_url, tmp_path, timeout=30)
    before = snapshot(database_url)
    audit_rows = len(audit_statuses(database_url))
    other = create_engine(database_url)
    result: dict[str, Any] = {}

    def patch() -> None:
        started = time.monotonic()
        result["response"] = _rename(scim, user_id, etag)
        result["seconds"] = time.monotonic() - started

    try:
        with other.connect() as conn:
            # Heavier than the request: InnoDB rolls back the transaction that changed fewer rows.
            for _ in range(20):
                conn.execute(
                    text(
                        "INSERT INTO scim_audit (created_at, method, path, status)"
                        " VALUES (now(6), 'GET', '/weight', 200)"
                    )
                )
            conn.execute(text("SELECT id FROM scim_users WHERE id = :id FOR UPDATE"), {"id": user_id})
            thread = threading.Thread(target=patch)
            thread.start()
            time.sleep(1.0)  # the PATCH has written the host's row and waits for the SCIM row
            conn.execute(text("UPDATE users SET department = 'held' WHERE email = 'held@example.com'"))
            thread.join(timeout=30)
            conn.execute(text("ROLLBACK"))
    finally:
        other.dispose()
    assert_error(result["response"], 503)
    assert result["seconds"] < 10, result  # the deadlock detector, not the 30 s lock timeout
    assert snapshot(database_url) == before
    assert audit_statuses(database_url)[audit_rows:] == [503]
    assert _rename(scim, user_id, etag).status_code == 200


class TestSqliteLocked:
    """Another process holds SQLite's exclusive lock: requests answer 503 quickly, then recover."""

    @pytest.fixture
    def locked_app(self, sqlite_only, app, database_url, tmp_path):
        return make_app(
            database_url,
            tmp_path,
            SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "connect_args": {"timeout": 0.2}},
        )

    def test_locked_then_released(self, locked_app, token, database_url):
        scim = ScimClient(locked_app.test_client(), token)
        assert scim.post("/Users", json={"userName": "first@example.com"}).status_code == 201
        before = snapshot(database_url)
        path = make_url(database_url).database
        blocker = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            for response in (
                scim.post("/Users", json={"userName": "second@example.com"}),
                scim.get("/Users"),
                scim.patch(
                    "/Users/nonexistent",
                    json={
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "replace", "path": "title", "value": "x"}],
                    },
                ),
            ):
                body = assert_error(response, 503)
                assert body["detail"] == "The directory database is unavailable; retry later."
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert snapshot(database_url) == before
        assert scim.post("/Users", json={"userName": "second@example.com"}).status_code == 201
        assert scim.get("/Users").get_json()["totalResults"] == 2

    def test_write_locked_readers_still_served(self, locked_app, token, database_url):
        """A ``RESERVED`` lock (another writer mid-transaction) blocks writes only."""
        scim = ScimClient(locked_app.test_client(), token)
        assert scim.post("/Users", json={"userName": "first@example.com"}).status_code == 201
        blocker = sqlite3.connect(make_url(database_url).database, timeout=0.2, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            assert scim.get("/Users").status_code == 200
            assert_error(scim.post("/Users", json={"userName": "second@example.com"}), 503)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert scim.post("/Users", json={"userName": "second@example.com"}).status_code == 201


def test_other_tenants_token_still_isolated_after_faults(app, client, scim, database_url):
    """Sanity: after a failed write the session is clean (no leaked tenant, no pending rows)."""
    pm = app.extensions["scim"].pm
    plugin = FailAfterHost()
    pm.register(plugin, name="test-fail-after-host")
    try:
        assert scim.post("/Users", json={"userName": "x@example.com"}).status_code == 500
    finally:
        pm.unregister(plugin)
    globex = ScimClient(client, issue_token(app, "globex", "globex.example"), origin="globex.example")
    assert globex.get("/Users").get_json()["totalResults"] == 0
    assert scim.get("/Users").get_json()["totalResults"] == 0
