"""SQLite writers queue for the write lock (``scim_plugin.storage.sqlite_writers``) instead of polling for it.

Each test gives SQLite's own busy handler 50 ms (``connect_args timeout``) while the queue waits up to
its default 5 s: a second writer that reached SQLite while the first held the lock would fail with
"database is locked", so a success proves that it waited in the queue.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from scim_plugin import hookimpl
from scim_plugin.storage import sqlite_writers

from .conftest import ScimClient, issue_token, make_app

ON_SQLITE = os.environ.get("DATABASE_URL", "sqlite").split(":")[0].split("+")[0] == "sqlite"
sqlite_app = pytest.mark.skipif(
    not ON_SQLITE, reason="the suite's app runs on another database, where no writer queue is installed"
)


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    made = create_engine(f"sqlite:///{tmp_path / 'queue.db'}", connect_args={"timeout": 0.05})
    with made.begin() as conn:
        conn.execute(text("PRAGMA journal_mode=WAL"))
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    queue = sqlite_writers.install(made)
    assert queue is not None
    yield made
    made.dispose()


def _write_in_thread(
    engine: Engine, who: str, done: list[str], errors: list[BaseException]
) -> threading.Thread:
    def run() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (who) VALUES (:who)"), {"who": who})
            done.append(who)
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _rows(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row.who for row in conn.execute(text("SELECT who FROM t ORDER BY id"))]


def _hold_then(engine: Engine, end: str) -> None:
    """A second writer waits while the first transaction writes, then goes once it ends with ``end``."""
    done: list[str] = []
    errors: list[BaseException] = []
    conn = engine.connect()
    transaction = conn.begin()
    conn.execute(text("INSERT INTO t (who) VALUES ('first')"))
    second = _write_in_thread(engine, "second", done, errors)
    time.sleep(0.3)  # six times SQLite's own timeout: without the queue the second writer has failed
    assert done == [] and errors == []
    getattr(transaction, end)()
    conn.close()
    second.join(10)
    assert errors == [] and done == ["second"]
    assert _rows(engine) == (["first", "second"] if end == "commit" else ["second"])


def test_a_second_writer_waits_for_the_first_to_commit(engine: Engine) -> None:
    _hold_then(engine, "commit")


def test_a_rollback_lets_the_next_writer_go(engine: Engine) -> None:
    _hold_then(engine, "rollback")


def test_writers_of_other_processes_are_queued_through_the_lock_file(engine: Engine) -> None:
    # flock locks belong to an open file: this descriptor stands for another worker process.
    queue = engine.dialect.__dict__["_scim_writer_queue"]
    other = os.open(queue.lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        done: list[str] = []
        errors: list[BaseException] = []
        writer = _write_in_thread(engine, "queued", done, errors)
        time.sleep(0.3)
        assert done == [] and errors == []
        fcntl.flock(other, fcntl.LOCK_UN)
        writer.join(10)
        assert errors == [] and done == ["queued"]
    finally:
        os.close(other)


def test_a_writer_that_queued_past_its_timeout_is_left_to_sqlite(tmp_path: Path) -> None:
    made = create_engine(f"sqlite:///{tmp_path / 'timeout.db'}?timeout=0.2")
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    queue = sqlite_writers.install(made)
    assert queue is not None and queue.timeout == 0.2
    other = os.open(queue.lock_path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)  # a stuck queue holder that does not hold SQLite's lock
    try:
        with made.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('anyway')"))
        assert _rows(made) == ["anyway"]
    finally:
        os.close(other)
        made.dispose()


def test_a_thread_writing_on_a_second_connection_does_not_queue_behind_itself(engine: Engine) -> None:
    first = engine.connect()
    transaction = first.begin()
    first.execute(text("INSERT INTO t (who) VALUES ('first')"))
    started = time.monotonic()
    # SQLite refuses it after its own 50 ms, as it would without the queue, instead of a 5 s wait.
    with pytest.raises(OperationalError, match="locked"), engine.begin() as second:
        second.execute(text("INSERT INTO t (who) VALUES ('second')"))
    assert time.monotonic() - started < 2
    transaction.commit()
    first.close()
    assert _rows(engine) == ["first"]


def test_install_is_idempotent_and_only_for_sqlite_files(tmp_path: Path) -> None:
    made = create_engine(f"sqlite:///{tmp_path / 'once.db'}")
    first = sqlite_writers.install(made)
    assert first is not None and sqlite_writers.install(made) is first
    assert first.lock_path == f"{tmp_path / 'once.db'}-writer.lock"
    assert sqlite_writers.install(create_engine("sqlite://")) is None
    assert sqlite_writers.install(create_engine("sqlite:///:memory:")) is None
    assert sqlite_writers.install(create_engine("postgresql+psycopg://u@127.0.0.1/x")) is None


def _queue_of(app: Flask) -> Any:
    from examples.host_app.extensions import db

    with app.app_context():
        return db.engine.dialect.__dict__.get("_scim_writer_queue")


@sqlite_app
def test_the_plugin_queues_the_hosts_sqlite_writers_unless_told_not_to(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    assert _queue_of(app) is not None
    off = make_app(database_url, tmp_path, SCIM_SQLITE_WRITER_QUEUE=False)
    assert _queue_of(off) is None


@pytest.mark.skipif(ON_SQLITE, reason="checks that a server database gets no queue")
def test_no_queue_on_a_server_database(app: Flask) -> None:
    assert _queue_of(app) is None


@pytest.mark.parametrize(("other", "expected"), [("second", 201), ("read", 200)])
def test_a_process_serves_one_write_request_at_a_time_and_reads_beside_it(
    app: Flask, token: str, register: Any, other: str, expected: int
) -> None:
    """While one POST is inside the host's create hook (nothing written yet), a second POST of the same
    process waits before it starts, on SQLite; a GET does not. On PostgreSQL, writes run side by side.

    The second POST's token is new, so its authentication writes the token's last-used time: waiting
    after that write, it would hold the write lock that the first needs, and both would stall for the
    queue's 5 s timeout. It must wait before it authenticates."""
    first_inside, other_done = threading.Event(), threading.Event()
    order: list[str] = []
    overlapped: list[bool] = []
    overlap_expected = other == "read" or not ON_SQLITE
    tokens = {"first": token, "read": token, "second": issue_token(app, "globex")}
    # The first POST's token is in use already: its last-used time is not due, so the first holds no
    # write lock until its host INSERT.
    assert ScimClient(app.test_client(), token).get("/Users").status_code == 200

    class Watch:
        @hookimpl(tryfirst=True)
        def scim_create_user(self, tenant_id: str, user: Any) -> None:
            order.append(f"{user.user_name} in")
            if user.user_name == "first@acme.example":
                first_inside.set()
                # Waits out its 0.5 s when the other request cannot start before this one ends.
                overlapped.append(other_done.wait(5 if overlap_expected else 0.5))
            order.append(f"{user.user_name} out")

    register(Watch())
    answers: dict[str, int] = {}

    def send(name: str) -> None:
        scim = ScimClient(app.test_client(), tokens[name])
        if name == "read":
            answers[name] = scim.get('/Users?filter=userName eq "nobody"').status_code
        else:
            user_name = f"{name}@{'acme' if name == 'first' else 'globex'}.example"
            answers[name] = scim.post("/Users", {"userName": user_name}).status_code
        if name != "first":
            other_done.set()

    started = time.monotonic()
    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=send, args=(other,))
    second.start()
    first.join(15)
    second.join(15)
    assert time.monotonic() - started < 4  # no stall on the queue's 5 s timeout
    assert answers == {"first": 201, other: expected}
    assert overlapped == [overlap_expected]
    if other == "second" and ON_SQLITE:
        assert order == ["first@acme.example in", "first@acme.example out", "second@globex.example in",
                         "second@globex.example out"]  # fmt: skip


BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
TWO_POSTS = {
    "schemas": [BULK],
    "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": name, "data": {"userName": f"{name}@acme.example"}}
        for name in ("ann", "bob")
    ],
}


@sqlite_app
@pytest.mark.parametrize(
    ("path", "token_ok", "body", "status"),
    [
        ("/Users", True, {"userName": "jane@acme.example"}, 201),
        ("/Users", True, {"userName": 7}, 400),
        ("/Users", False, {}, 401),
        ("/Bulk", True, TWO_POSTS, 200),  # its operations end as requests of their own
    ],
)
def test_every_write_request_ends_its_admission(
    app: Flask, token: str, path: str, token_ok: bool, body: dict[str, Any], status: int
) -> None:
    scim = ScimClient(app.test_client(), token if token_ok else "not-a-token")
    answer = scim.post(path, body)
    assert answer.status_code == status
    if path == "/Bulk":
        assert [op["status"] for op in answer.get_json()["Operations"]] == ["201", "201"]
    queue = _queue_of(app)
    # Left held, the next write request of this process would wait out the queue's timeout.
    started = time.monotonic()
    assert queue.admit_request() is True
    queue.end_request()
    assert time.monotonic() - started < 1
