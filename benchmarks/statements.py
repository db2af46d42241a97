"""SQL statements per request, plugin against ceiling, per phase: ``python -m benchmarks.statements``.

On PostgreSQL every statement is a round trip, and py-spy shows the plugin's workers mostly waiting in
``psycopg`` for them, so the count per request is the first thing to compare. Runs in-process
(``app.test_client()``) on a fresh SQLite file with a few seeded users and the same request bodies as the
wrk script; prints each request's statements (``pool_pre_ping``'s ``SELECT 1`` is not a cursor statement
and is not counted, but every checkout pays it, on both apps). ``--database-url`` runs it on an empty
PostgreSQL or MariaDB database instead, where a dialect's own paths (MySQL's delete, say) differ.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def requests(ids: list[str], names: list[str]) -> list[tuple[str, str, str, Any]]:
    post_name = "bench-post-stmt@bench.example"
    return [
        ("lookup", "GET", f'/scim/v2/Users?filter=userName eq "{names[3]}"', None),
        ("get", "GET", f"/scim/v2/Users/{ids[4]}", None),
        ("list", "GET", "/scim/v2/Users?startIndex=2&count=100", None),
        (
            "post",
            "POST",
            "/scim/v2/Users",
            {
                "schemas": [CORE],
                "userName": post_name,
                "externalId": post_name,
                "name": {"givenName": "Post", "familyName": "Stmt"},
                "displayName": "Post Stmt",
                "emails": [{"value": post_name, "type": "work", "primary": True}],
                "active": True,
            },
        ),
        (
            "patch (active)",
            "PATCH",
            f"/scim/v2/Users/{ids[5]}",
            {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
        ),
        (
            "patch (name)",
            "PATCH",
            f"/scim/v2/Users/{ids[6]}",
            {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "Replace", "path": "name.givenName", "value": "Patched"},
                    {"op": "Replace", "path": "name.familyName", "value": "Round 1"},
                ],
            },
        ),
        (
            "put",
            "PUT",
            f"/scim/v2/Users/{ids[7]}",
            {
                "schemas": [CORE],
                "userName": names[7],
                "name": {"givenName": "Put", "familyName": "Round 1"},
                "displayName": "Put 1",
                "emails": [{"value": names[7], "type": "work", "primary": True}],
                "active": True,
            },
        ),
        ("delete", "DELETE", f"/scim/v2/Users/{ids[8]}", None),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.statements", description=__doc__)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="scim-bench-stmt-"))
    env = {
        "DATABASE_URL": options.database_url or f"sqlite:///{work / 'stmt.db'}",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "HOST_INSTANCE_PATH": str(work / "instance"),
        "HOST_LOAD_ENTRYPOINTS": "0",
        "FLASK_SCIM_RATE_LIMIT": "off",
    }
    os.environ.update(env)
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "examples.host_app"]
    subprocess.run([*flask, "demo", "init"], cwd=ROOT, check=True, capture_output=True)
    token = subprocess.run(
        [*flask, "scim", "token", "issue", "--tenant", "acme", "--origin", "idp.example.com"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip

    from examples.host_app import create_app
    from examples.host_app.extensions import db as host_db

    from . import seed
    from .ceiling import create_app as create_ceiling
    from .ceiling import db as ceiling_db

    host = create_app()
    ceiling = create_ceiling()
    with ceiling.app_context():
        ceiling_db.create_all()
    seed.post_via_api(host, token, 0)
    seed.seed_plugin(host, "acme", 1, 200)
    seed.seed_ceiling(ceiling, 0, 200)
    apps = {
        "plugin": (host, host_db, seed.plugin_users(host, "acme", "user%@bench.example")),
        "ceiling": (ceiling, ceiling_db, seed.ceiling_users(ceiling, "user%@bench.example")),
    }
    headers = {"Authorization": f"Bearer {token}", "X-Request-Origin": "idp.example.com"}
    counts: dict[str, dict[str, int]] = {}
    for app_name, (app, db, rows) in apps.items():
        ids, names = [r[0] for r in rows], [r[1] for r in rows]
        with app.app_context():
            engine = db.engine
        statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(" ".join(statement.split())[:110])  # noqa: B023

        def commit(conn: Any) -> None:
            statements.append("COMMIT")  # noqa: B023

        event.listen(engine, "before_cursor_execute", record)
        event.listen(engine, "commit", commit)
        client = app.test_client()
        for phase, method, url, body in requests(ids, names):
            statements.clear()
            response = client.open(
                url,
                method=method,
                headers=headers,
                data=json.dumps(body) if body is not None else None,
                content_type="application/scim+json",
            )
            counts.setdefault(phase, {})[app_name] = len(statements)
            print(f"\n{app_name} {phase}: {response.status_code}, {len(statements)} statements")
            for statement in statements:
                print(f"    {statement}")
    print(f"\n{'phase':16} {'plugin':>7} {'ceiling':>8}   (SQL statements per request, COMMIT included)")
    for phase, by_app in counts.items():
        print(f"{phase:16} {by_app.get('plugin', 0):7d} {by_app.get('ceiling', 0):8d}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
