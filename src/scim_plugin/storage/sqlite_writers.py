"""SQLite: writers wait in a queue for the database's single write lock instead of polling for it.

SQLite lets one transaction write at a time. A writer that finds the lock taken sleeps in SQLite's busy
handler (1, 2, 5, 10 ... 100 ms) and tries again, so with a few concurrent provisioning writes a waiter
sleeps long after the lock was freed: measured under gunicorn, workers sat idle most of the time and
write p99 reached a second. Here a connection takes a lock file (``flock``) just before its first write
statement and gives it back when its transaction ends, so the next writer starts as soon as the lock is
free. Threads of one process wait on a ``threading.Lock`` first, which wakes them without polling.

It is only a queue in front of SQLite's own locking, which still decides: a writer that does not take
part (another program, raw DBAPI use) is serialised by SQLite as before, and a writer that waited longer
than the connection's timeout stops queueing and leaves the decision to SQLite's busy handler.

A process also serves one SCIM write request at a time (``admit_request``; the API takes it for every
write). Two at once gain nothing, as only one can write, and cost the one that holds the lock: each of
its statements returns to Python and waits for the GIL while the other request's thread runs Python.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Statements that make pysqlite open a write transaction (it sends BEGIN before them).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# pysqlite's default ``timeout``: how long a writer queues before SQLite's busy handler takes over.
DEFAULT_TIMEOUT = 5.0
# The longest sleep between two tries of another process's lock (seconds).
_MAX_POLL = 0.0005


class WriterQueue:
    """One per SQLite database file and process: who may write next."""

    def __init__(self, lock_path: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.lock_path = lock_path
        self.timeout = timeout
        self._threads = threading.Lock()
        self._requests = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._holder: Any = None
        self._holder_thread = 0

    def _file(self) -> int:
        # Opened per process: a descriptor inherited across fork() shares its flock with the parent.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, dbapi_connection: Any) -> None:
        """Wait for the write lock for ``dbapi_connection``; a no-op if it holds it already."""
        if self._holder is dbapi_connection:
            return
        if self._holder is not None and self._holder_thread == threading.get_ident():
            # This thread writes on a second connection while its first is in a write transaction:
            # queueing behind itself would only wait; SQLite's own locking answers as it always did.
            return
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            return
        try:
            fd = self._file()
            delay = 0.0002
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self._threads.release()
                        return
                    # Another process writes. flock cannot wait with a timeout, so poll, with sleeps
                    # short enough that the lock is not left idle long after that process commits:
                    # a 2 ms cap cost the benchmark's POST ~20% of its rate against this 0.5 ms one.
                    time.sleep(delay)
                    delay = min(delay * 2, _MAX_POLL)
        except BaseException:
            self._threads.release()
            raise
        self._holder = dbapi_connection
        self._holder_thread = threading.get_ident()

    def admit_request(self) -> bool:
        """Wait until no other write request of this process is under way (at most ``timeout``, then go
        on unqueued, as ``acquire`` does). ``True``: admitted, and ``end_request`` must follow."""
        return self._requests.acquire(timeout=self.timeout)

    def end_request(self) -> None:
        self._requests.release()

    def release(self, dbapi_connection: Any) -> None:
        """Give the lock back if ``dbapi_connection`` holds it (its transaction ended)."""
        if self._holder is not dbapi_connection:
            return
        self._holder = None
        self._holder_thread = 0
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._threads.release()


def database_path(engine: Engine) -> str | None:
    """The file behind a SQLite engine, or ``None`` (not SQLite, or an in-memory database)."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file::memory:") or "mode=memory" in path:
        return None
    return os.path.abspath(path)


def install(engine: Engine) -> WriterQueue | None:
    """Put ``engine``'s writers in a queue (SQLite files only); idempotent. Returns the queue or ``None``."""
    path = database_path(engine)
    if path is None:
        return None
    existing = engine.dialect.__dict__.get("_scim_writer_queue")
    if existing is not None:
        return existing
    timeout = float(engine.url.query.get("timeout", DEFAULT_TIMEOUT))  # type: ignore[arg-type]
    queue = WriterQueue(f"{path}-writer.lock", timeout)
    dialect: Any = engine.dialect
    dialect._scim_writer_queue = queue

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip()[:7].upper().startswith(_WRITES):
            queue.acquire(conn.connection.dbapi_connection)

    # The transaction ends in the dialect's commit/rollback (a Session, a Connection, or the pool's
    # reset on check-in all end there); the lock is given back once SQLite has ended it.
    commit, rollback = dialect.do_commit, dialect.do_rollback

    # They are handed the pool's proxy of the DBAPI connection, the cursor events the connection itself.
    def do_commit(connection: Any) -> None:
        try:
            commit(connection)
        finally:
            raw = getattr(connection, "dbapi_connection", connection)
            if not raw.in_transaction:
                queue.release(raw)

    def do_rollback(connection: Any) -> None:
        try:
            rollback(connection)
        finally:
            queue.release(getattr(connection, "dbapi_connection", connection))

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine.pool, "invalidate")
    def _invalidated(dbapi_connection: Any, *_: Any) -> None:
        queue.release(dbapi_connection)

    @event.listens_for(engine.pool, "close")
    def _closed(dbapi_connection: Any, *_: Any) -> None:
        queue.release(dbapi_connection)

    return queue
