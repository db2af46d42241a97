"""SQLite writers queue for the write lock (``scim_plugin.sqlite_writers``) instead of polling for it.

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

from scim_plugin import sqlite_writers

from .conftest import make_app

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
