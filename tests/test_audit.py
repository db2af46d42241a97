"""The audit trail: what is recorded, when, and how it leaves the database."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scim_plugin.storage.models import AuditRecord, ScimUser, utcnow

NEW_USER = {"userName": "audit@example.com", "name": {"givenName": "Au", "familyName": "Dit"}}


def records(app) -> list[AuditRecord]:
    with app.app_context():
        session = app.extensions["scim"].db.session
        rows = session.execute(select(AuditRecord).order_by(AuditRecord.id)).scalars().all()
        session.expunge_all()
        return list(rows)


def test_write_is_recorded_with_its_outcome(app, scim, token):
    created = scim.post("/Users", json=NEW_USER)
    assert created.status_code == 201
    (record,) = records(app)
    assert (record.method, record.path, record.status) == ("POST", "/scim/v2/Users", 201)
    assert record.resource_id == created.get_json()["id"]
    assert record.tenant_id is not None and record.token_id == token.split(".")[0].removeprefix("scim_")
    assert record.client_ip == "127.0.0.1"
    assert record.duration_ms is not None and record.duration_ms >= 0
    assert record.reason is None
    assert re.fullmatch(r"[0-9a-f]{32}", record.request_id or "")
    # A refused create names no resource: the id it would have had was never written.
    assert scim.post("/Users", json=NEW_USER).status_code == 409
    refused = records(app)[-1]
    assert (refused.status, refused.resource_id) == (409, None)
    assert refused.request_id not in (None, record.request_id)


def test_failed_write_is_recorded_and_nothing_else_is_written(app, scim):
    assert scim.post("/Users", json=NEW_USER).status_code == 201
    duplicate = scim.post("/Users", json={**NEW_USER, "userName": "AUDIT@example.com"})
    assert duplicate.status_code == 409
    last = records(app)[-1]
    assert last.status == 409 and "already exists" in (last.reason or "")
    with app.app_context():
        count = (
            app.extensions["scim"].db.session.execute(select(func.count()).select_from(ScimUser)).scalar_one()
        )
    assert count == 1


def test_successful_reads_are_not_recorded_by_default(app, scim):
    assert scim.get("/Users").status_code == 200
    assert records(app) == []
    assert scim.get("/Users/nope").status_code == 404
    assert [r.status for r in records(app)] == [404]


class TestAuditReads:
    @pytest.fixture
    def app_config(self):
        return {"SCIM_AUDIT_READS": True}

    def test_reads_are_buffered_not_written_on_the_read_path(self, app, scim):
        assert scim.get("/Users").status_code == 200
        assert scim.get("/ServiceProviderConfig").status_code == 200
        assert records(app) == []
        assert app.extensions["scim"].audit_buffer.flush() == 2
        assert [(r.method, r.path, r.status) for r in records(app)] == [
            ("GET", "/scim/v2/Users", 200),
            ("GET", "/scim/v2/ServiceProviderConfig", 200),
        ]


def test_export_as_json_lines_with_since(app, scim):
    assert scim.post("/Users", json=NEW_USER).status_code == 201
    assert scim.get("/Users/missing").status_code == 404
    runner = app.test_cli_runner()
    result = runner.invoke(args=["scim", "audit", "export", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["method"], line["status"]) for line in lines] == [("POST", 201), ("GET", 404)]
    assert set(lines[0]) >= {
        "time",
        "tenant",
        "token_id",
        "client_ip",
        "path",
        "resource_id",
        "reason",
        "duration_ms",
        "request_id",
    }
    assert lines[0]["request_id"] != lines[1]["request_id"]
    future = (utcnow() + timedelta(days=1)).date().isoformat()
    assert runner.invoke(args=["scim", "audit", "export", "--tenant", "acme", "--since", future]).stdout == ""
    assert runner.invoke(args=["scim", "audit", "export", "--tenant", "globex"]).stdout == ""
    bad = runner.invoke(args=["scim", "audit", "export", "--tenant", "acme", "--since", "yesterday"])
    assert bad.exit_code != 0


def test_prune_removes_records_past_retention(app, scim):
    assert scim.post("/Users", json=NEW_USER).status_code == 201
    with app.app_context():
        session = app.extensions["scim"].db.session
        session.add(
            AuditRecord(created_at=utcnow() - timedelta(days=400), method="GET", path="/old", status=200)
        )
        session.commit()
    result = app.test_cli_runner().invoke(args=["scim", "audit", "prune"])
    assert result.exit_code == 0
    assert [r.path for r in records(app)] == ["/scim/v2/Users"]
