"""The per-tenant request budget: headers, 429, and one budget shared by several worker processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import ORIGIN, SECRET, ScimClient, issue_token, make_app

REPO = Path(__file__).resolve().parents[1]


class TestBudget:
    @pytest.fixture
    def app_config(self):
        return {"SCIM_RATE_LIMIT": "3 per minute"}

    def test_headers_then_429_and_other_tenants_unaffected(self, app, client, scim):
        remaining = []
        for _ in range(3):
            response = scim.get("/Users")
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Limit"] == "3"
            assert int(response.headers["X-RateLimit-Reset"]) > time.time()
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining == [2, 1, 0]
        refused = scim.post("/Users", json={"userName": "late@example.com"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.get_json()["status"] == "429"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        # Nothing was written by the refused request.
        assert scim.get("/Users").status_code == 429
        globex = ScimClient(client, issue_token(app, "globex", "globex.example"), origin="globex.example")
        assert globex.get("/Users").status_code == 200


def test_invalid_storage_uri_fails_at_start_up(database_url, tmp_path, _schema):
    from scim_plugin.config import ConfigError

    with pytest.raises(ConfigError, match="SCIM_RATE_LIMIT_STORAGE_URI"):
        make_app(database_url, tmp_path, SCIM_RATE_LIMIT_STORAGE_URI="nosuch://x")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def test_budget_is_shared_by_two_worker_processes_through_redis(app, database_url, token, tmp_path):
    redis = pytest.importorskip("redis")
    storage = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(storage).flushdb()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "HOST_INSTANCE_PATH": str(tmp_path),
        "HOST_LOAD_ENTRYPOINTS": "0",
        "FLASK_SCIM_RATE_LIMIT": "5 per minute",
        "FLASK_SCIM_RATE_LIMIT_STORAGE_URI": storage,
        "PYTHONPATH": str(REPO),
    }
    ports = [_free_port(), _free_port()]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "examples.host_app", "run", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        for port, worker in zip(ports, workers, strict=True):
            _wait(port, worker)
        statuses = []
        for i in range(8):
            request = urllib.request.Request(
                f"http://127.0.0.1:{ports[i % 2]}/scim/v2/Users",
                headers={"Authorization": f"Bearer {token}", "X-Request-Origin": ORIGIN},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
        assert statuses.count(200) == 5, statuses
        assert statuses.count(429) == 3, statuses
        assert statuses[:5] == [200] * 5
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=10)
            if worker.stderr:
                worker.stderr.close()
