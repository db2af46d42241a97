"""``python -m benchmarks``: the SCIM plugin under gunicorn and wrk, against the ceiling app.

For each database (SQLite file in WAL mode, PostgreSQL): a fresh database, the example host's tables
and demo companies, a SCIM token for ``acme``, N users seeded (see ``benchmarks/seed.py``), then the
example host with the plugin and the ceiling app (``benchmarks/ceiling.py``) served side by side by
gunicorn with the same settings, and every phase run by wrk against one, then the other. Lookups (and
GET by id) are repeated as the tenant grows to each N of ``--sizes``; the membership PATCH (phase
``member``) runs last, on a large group of the largest tenant. Results: a table on stdout,
``benchmarks/results/<timestamp>.json`` and ``<timestamp>.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk" / "scim.lua"
VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_BENCH_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
MARIADB_URL = "mysql+{driver}://root@127.0.0.1:3306/{name}?charset=utf8mb4"
ORIGIN = "idp.example.com"
TENANT = "acme"

PHASES = ("lookup", "get", "list", "post", "patch", "put", "delete", "member")
TARGETS = {
    "lookup": 0.6,
    "get": 0.6,
    "list": 0.4,
    "post": 0.5,
    "put": 0.5,
    "patch": 0.5,
    "delete": 0.5,
    "member": 0.5,
}
# The ceiling has no groups: a membership change is compared with its write endpoint, PATCH /Users/<id>.
CEILING_PHASE = {"member": "patch"}
GROWTH_TARGET = 1.2
LABELS = {
    "post": "POST /Users",
    "lookup": "filter userName eq",
    "get": "GET /Users/{id}",
    "list": "GET list of 100",
    "patch": "PATCH (Entra)",
    "put": "PUT",
    "delete": "DELETE",
    "member": "PATCH members (Entra)",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- databases -------------------------------------------------------------------------------------------


def pg_url(name: str) -> str:
    return PG_BENCH_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str, kind: str = "postgres") -> None:
    if kind == "mariadb":
        _mariadb(f"DROP DATABASE IF EXISTS `{name}`")
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mariadb(*statements: str, database: str | None = None) -> None:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=database, autocommit=True)
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


def prepare_database(kind: str, work: Path, name: str = "bench", mariadb_driver: str = "pymysql") -> str:
    """A fresh, empty database (PostgreSQL and MariaDB: database ``name``; SQLite: ``<work>/<name>.db``);
    its URL (MariaDB's through ``mariadb_driver``, SQLAlchemy's name: ``pymysql`` or ``mysqldb``)."""
    if name == "test":
        raise ValueError("the test suite's database is not for benchmarks")
    if kind == "sqlite":
        path = work / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if kind == "mariadb":
        drop_database(name, kind)
        _mariadb(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return MARIADB_URL.format(driver=mariadb_driver, name=name)
    import psycopg

    drop_database(name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def set_wal(url: str) -> str:
    """SQLite: WAL once on the file (it persists), so readers never wait for the single writer."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]


def analyze(url: str) -> None:
    """After a bulk load: planner statistics and a settled file, as a steady-state deployment has them.

    SQLite: ANALYZE and a WAL checkpoint. PostgreSQL: VACUUM ANALYZE (statistics, and the visibility map
    that index-only scans need) and a CHECKPOINT, so no background flush lands in the next phase.
    MariaDB: ANALYZE TABLE of every table (InnoDB samples statistics on its own, but not right away).
    """
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("ANALYZE")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    if url.startswith("mysql"):
        from sqlalchemy import create_engine, inspect

        engine = create_engine(url)
        tables = inspect(engine).get_table_names()
        engine.dispose()
        _mariadb("ANALYZE TABLE " + ", ".join(f"`{t}`" for t in tables), database=engine.url.database)
        return
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


# -- the example host -----------------------------------------------------------------------------------


def server_env_for(url: str, work: Path) -> dict[str, str]:
    """The environment of the example host's servers (and CLI) on database ``url``: no rate limit."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "HOST_INSTANCE_PATH": str(work / "instance"),
        "HOST_LOAD_ENTRYPOINTS": "0",
        "FLASK_SCIM_RATE_LIMIT": "off",
        "PYTHONPATH": str(ROOT),
    }


def init_host(env: dict[str, str]) -> str:
    """``demo init`` (tables, demo companies), then a SCIM token for ``TENANT``; returns the token."""
    flask = [str(VENV_BIN / "flask"), "--app", "examples.host_app"]
    subprocess.run([*flask, "demo", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    return subprocess.run(
        [*flask, "scim", "token", "issue", "--tenant", TENANT, "--origin", ORIGIN],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` updated with ``env`` inside the block (apps built in-process read it)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def host_app() -> Flask:
    """The example host in-process (for seeding), configured as its servers are; call inside environment()."""
    from examples.host_app import create_app

    return create_app({"SCIM_RATE_LIMIT": "off"})


# -- servers ---------------------------------------------------------------------------------------------


class Server:
    def __init__(
        self, name: str, app: str, port: int, env: dict[str, str], args: argparse.Namespace, work: Path
    ):
        self.name, self.port = name, port
        self.log_path = work / f"gunicorn-{name}.log"
        per_worker = getattr(args, "worker_connections", None)  # the soak leaves gunicorn's default
        command = [
            str(VENV_BIN / "gunicorn"),
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.workers),
            "--worker-class", args.worker_class,
            "--threads", str(args.threads),
            *(["--worker-connections", str(per_worker)] if per_worker else []),
            "--keep-alive", "5",
            "--backlog", "256",
            "--error-logfile", str(self.log_path),
            "--log-level", "warning",
            app,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        self.wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.name} exited; see {self.log_path}")
            try:
                urllib.request.urlopen(f"{self.url}/scim/v2/Users?count=0", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers (401 without a token is fine)
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn {self.name} not ready after {timeout}s")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(p) for p in out.stdout.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_problems(self) -> list[str]:
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if "Traceback" in line or "ERROR" in line or "CRITICAL" in line][:20]


# -- load ------------------------------------------------------------------------------------------------

# The database server's processes by name, for its CPU time per request (SQLite runs inside the workers).
DB_SERVER_COMMANDS = {"postgres": ("postgres",), "mariadb": ("mariadbd", "mysqld")}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes, from ``/proc`` (a process gone meanwhile counts 0)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / CLOCK_TICKS


def pids_of(commands: tuple[str, ...]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in commands:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def run_wrk(
    url: str, phase: str, data: Path | None, token: str, seconds: float, args: argparse.Namespace, tag: str
) -> dict[str, Any]:
    env = {
        **os.environ,
        "BENCH_PHASE": phase,
        "BENCH_DATA": str(data) if data else "",
        "BENCH_TOKEN": token,
        "BENCH_TAG": tag,
        "BENCH_THREADS": str(args.wrk_threads),
    }
    command = [
        "wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{seconds:g}s",
        "--timeout", "10s", "-s", str(LUA), url,
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = None
    bad = []
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line.removeprefix("BENCH_RESULT "))
        elif line.startswith("BENCH_BAD "):
            bad.append(line.removeprefix("BENCH_BAD "))
    if result is None:
        raise RuntimeError(
            f"wrk gave no result (rc={out.returncode}): {out.stdout[-2000:]} {out.stderr[-2000:]}"
        )
    duration = result["duration_us"] / 1e6
    socket_errors = result["connect"] + result["read"] + result["write"] + result["timeout"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "requests": result["requests"],
        "errors": result["non2xx"] + socket_errors,
        "non2xx": result["non2xx"],
        "socket_errors": socket_errors,
        "duration_s": round(duration, 3),
        "rps": round(result["requests"] / duration, 1) if duration else 0.0,
        "p50_ms": result["p50_us"] / 1000,
        "p90_ms": result["p90_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "mean_ms": round(result["mean_us"] / 1000, 3),
        "max_ms": result["max_us"] / 1000,
        # wrk's own CPU time over the phase's wall time: how close the load generator came to being the limit.
        "wrk_cpu_share": round(cpu / duration, 3) if duration else None,
        "error_samples": bad[:5],
    }


def run_rounds(
    servers: dict[str, Server],
    kind: str,
    phase: str,
    sources: dict[str, list[Path]],
    token: str,
    args: argparse.Namespace,
    tag: str,
) -> dict[str, dict[str, Any]]:
    """One phase on every app in ``args.repeat`` alternating rounds (ABBA order), combined.

    Background load on a shared machine then hits both apps alike, and so cancels in the ratio.
    Combined: requests, errors and durations add up; req/s is their quotient; p50 is the median of the
    rounds' p50s and p99 the worst round's p99. CPU per request (the app's gunicorn workers, and the
    database server's processes) is CPU time over requests: on a machine whose cores are all busy, where
    a ratio goes.
    """
    rounds: dict[str, list[dict[str, Any]]] = {app: [] for app in servers}
    seconds = args.duration / args.repeat
    for r in range(args.repeat):
        order = list(servers) if r % 2 == 0 else list(reversed(servers))
        for app in order:
            app_phase = CEILING_PHASE.get(phase, phase) if app == "ceiling" else phase
            workers = servers[app].worker_pids()
            db_pids = pids_of(DB_SERVER_COMMANDS.get(kind, ()))
            app_cpu, db_cpu = cpu_seconds(workers), cpu_seconds(db_pids)
            result = run_wrk(
                servers[app].url, app_phase, sources[app][r], token, seconds, args, f"{tag}{app[0]}{r}"
            )
            result["app_cpu_s"] = round(cpu_seconds(workers) - app_cpu, 3)
            # PostgreSQL forks a backend per connection: the pool's stay for the whole run, so the list holds.
            result["db_cpu_s"] = round(cpu_seconds(db_pids) - db_cpu, 3) if db_pids else None
            result["loadavg_1m"] = round(os.getloadavg()[0], 2)
            rounds[app].append(result)
    out = {}
    for app, results in rounds.items():
        requests = sum(r["requests"] for r in results)
        duration = sum(r["duration_s"] for r in results)
        out[app] = {
            "requests": requests,
            "errors": sum(r["errors"] for r in results),
            "non2xx": sum(r["non2xx"] for r in results),
            "socket_errors": sum(r["socket_errors"] for r in results),
            "duration_s": round(duration, 3),
            "rps": round(requests / duration, 1) if duration else 0.0,
            "p50_ms": round(statistics.median(r["p50_ms"] for r in results), 3),
            "p99_ms": max(r["p99_ms"] for r in results),
            "wrk_cpu_share": max(r["wrk_cpu_share"] or 0 for r in results),
            "app_cpu_ms": per_request_ms([r["app_cpu_s"] for r in results], requests),
            "db_cpu_ms": per_request_ms([r["db_cpu_s"] for r in results], requests),
            "loadavg_1m": max(r["loadavg_1m"] for r in results),
            "error_samples": [s for r in results for s in r["error_samples"]][:5],
            "rounds": results,
        }
    return out


def per_request_ms(seconds: list[float | None], requests: int) -> float | None:
    if not requests or any(s is None for s in seconds):
        return None
    return round(1000 * sum(s or 0.0 for s in seconds) / requests, 3)


def write_ids(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{i}\t{n}\n" for i, n in rows))
    return path


# -- one database ----------------------------------------------------------------------------------------


def run_database(kind: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from . import seed

    work.mkdir(parents=True, exist_ok=True)
    url = prepare_database(kind, work, mariadb_driver=args.mariadb_driver)
    env = server_env_for(url, work)
    token = init_host(env)
    journal = set_wal(url) if kind == "sqlite" else None

    # In-process apps for seeding, with the servers' configuration.
    with environment(env):
        from .ceiling import create_app as create_ceiling
        from .ceiling import db as ceiling_db

        host = host_app()
        ceiling = create_ceiling()
        with ceiling.app_context():
            ceiling_db.create_all()

    seed.post_via_api(host, token, 0)
    problems = seed.verify_against_api(host, TENANT, 0)
    if problems:
        raise RuntimeError("bulk seeding differs from POST /Users: " + "; ".join(problems))
    seeded = 1  # the plugin's user 0 came through the API; the ceiling starts from user 0
    seed_times: dict[int, float] = {}

    def grow(n: int) -> None:
        nonlocal seeded
        started = time.perf_counter()
        seed.seed_plugin(host, TENANT, seeded, n)
        seed.seed_ceiling(ceiling, 0 if seeded == 1 else seeded, n)
        seeded = n
        analyze(url)
        seed_times[n] = round(time.perf_counter() - started, 1)
        log(f"{kind}: seeded to {n} users in {seed_times[n]}s")

    sizes = sorted(args.sizes)
    grow(sizes[0])
    server_env = {**env}
    servers = {
        "plugin": Server("plugin", "examples.host_app:create_app()", args.port, server_env, args, work),
        "ceiling": Server(
            "ceiling", "benchmarks.ceiling:create_app()", args.port + 1, server_env, args, work
        ),
    }
    phases: list[dict[str, Any]] = []
    growth: list[dict[str, Any]] = []
    profile: dict[str, Any] = {}

    def profile_phases(phases: list[str]) -> dict[str, Any]:
        from .profile import profile_workers

        def data_for(phase: str) -> Path:
            if phase != "delete":
                return data["plugin"]
            return write_ids(work / "delete-profile.tsv", seed.plugin_users(host, TENANT, "gone%"))

        return profile_workers(servers["plugin"], kind, phases, args, work, data_for, token, run_wrk)

    run_tag = secrets.token_hex(3)

    def run_phase(entry: dict[str, Any], sources: dict[str, list[Path]]) -> dict[str, Any]:
        phase = entry["phase"]
        entry.update(run_rounds(servers, kind, phase, sources, token, args, f"{run_tag}{phase[:2]}"))
        for app in servers:
            log(
                f"{kind} {phase:7} {app:8} {entry[app]['rps']:8.1f} req/s p50 "
                f"{entry[app]['p50_ms']:.2f} ms errors {entry[app]['errors']} "
                f"load avg {entry[app]['loadavg_1m']}"
            )
        entry["ratio"] = (
            round(entry["plugin"]["rps"] / entry["ceiling"]["rps"], 3) if entry["ceiling"]["rps"] else None
        )
        return entry

    def member_phase() -> dict[str, Any]:
        """A group of up to ``--group-size`` seeded users; wrk adds and removes others, Entra-style."""
        rows = seed.plugin_users(host, TENANT, "user%@bench.example")
        pool = min(1000, max(len(rows) // 10, args.connections))
        members = [user_id for user_id, _ in rows[: min(args.group_size, len(rows) - pool)]]
        started = time.perf_counter()
        group_id = seed.post_group_via_api(host, token, f"bench-large-{run_tag}")
        seed.seed_group_members(host, TENANT, group_id, members)
        analyze(url)
        seen = seed.group_members_via_api(host, token, group_id)
        if seen != len(members):
            raise RuntimeError(f"the API counts {seen} members in the seeded group, not {len(members)}")
        log(f"{kind}: group of {len(members)} members seeded in {time.perf_counter() - started:.1f}s")
        # wrk's lines for this phase: group id, then a user that is not a member (added, then removed).
        source = write_ids(work / "member-plugin.tsv", [(group_id, user_id) for user_id, _ in rows[-pool:]])
        entry = {
            "phase": "member",
            "label": LABELS["member"],
            "n": len(rows),
            "group_members": len(members),
            "member_pool": pool,
        }
        sources = {"plugin": [source] * args.repeat, "ceiling": [data["ceiling"]] * args.repeat}
        return run_phase(entry, sources)

    try:
        seeded_rows = {
            "plugin": seed.plugin_users(host, TENANT, "user%@bench.example"),
            "ceiling": seed.ceiling_users(ceiling, "user%@bench.example"),
        }
        data = {app: write_ids(work / f"seeded-{app}.tsv", rows) for app, rows in seeded_rows.items()}
        for app, server in servers.items():  # warm-up: imports, SQL compilation caches, connection pools
            run_wrk(server.url, "lookup", data[app], token, args.warmup, args, run_tag)
            run_wrk(server.url, "get", data[app], token, args.warmup, args, run_tag)
        for phase in args.phases:
            if phase == "member":
                continue  # last, on the largest tenant (below)
            entry: dict[str, Any] = {"phase": phase, "label": LABELS[phase], "n": sizes[0]}
            sources: dict[str, list[Path]] = {app: [data[app]] * args.repeat for app in servers}
            if phase == "delete":
                # Its own pool of seeded users, larger than a round can delete: deleting the users the
                # POST phase created would cap DELETE at POST's rate (wrk counts a thread that ran out
                # of ids as idle until the end of the round).
                posted = [p[app]["rps"] for p in phases if p["phase"] == "post" for app in servers]
                per_round = int(max([500.0, *posted]) * 2 * args.duration / args.repeat) + 100
                started = time.perf_counter()
                seed.seed_plugin(host, TENANT, 0, per_round * args.repeat, prefix="gone")
                seed.seed_ceiling(ceiling, 0, per_round * args.repeat, prefix="gone")
                analyze(url)
                log(
                    f"{kind}: {per_round * args.repeat} users to delete seeded per app in "
                    f"{time.perf_counter() - started:.1f}s"
                )
                for app in servers:
                    rows = (
                        seed.plugin_users(host, TENANT, "gone%")
                        if app == "plugin"
                        else seed.ceiling_users(ceiling, "gone%")
                    )
                    entry[f"{app}_pool"] = len(rows)
                    sources[app] = [
                        write_ids(work / f"delete-{app}-{r}.tsv", rows[r :: args.repeat])
                        for r in range(args.repeat)
                    ]
            phases.append(run_phase(entry, sources))
        if args.profile:
            profile[f"n={sizes[0]}"] = profile_phases(args.profile_phases)
        for n in sizes:
            if n != sizes[0]:
                grow(n)
                seeded_rows = {
                    "plugin": seed.plugin_users(host, TENANT, "user%@bench.example"),
                    "ceiling": seed.ceiling_users(ceiling, "user%@bench.example"),
                }
                data = {app: write_ids(work / f"seeded-{app}.tsv", rows) for app, rows in seeded_rows.items()}
            for phase in args.grow_phases:
                entry = {
                    "phase": phase,
                    "n": n,
                    "plugin_rows": seed.plugin_count(host, TENANT),
                    "ceiling_rows": seed.ceiling_count(ceiling),
                }
                if n == sizes[0]:
                    previous = next((p for p in phases if p["phase"] == phase), None)
                    if previous is not None:
                        entry.update(plugin=previous["plugin"], ceiling=previous["ceiling"])
                if "plugin" not in entry:
                    sources = {app: [data[app]] * args.repeat for app in servers}
                    entry.update(run_rounds(servers, kind, phase, sources, token, args, f"{run_tag}g{n}"))
                log(
                    f"{kind} {phase} at N={n}: plugin p50 {entry['plugin']['p50_ms']:.2f} "
                    f"ms, ceiling {entry['ceiling']['p50_ms']:.2f} ms"
                )
                entry["ratio"] = (
                    round(entry["plugin"]["rps"] / entry["ceiling"]["rps"], 3)
                    if entry["ceiling"]["rps"]
                    else None
                )
                growth.append(entry)
        if "member" in args.phases:
            phases.append(member_phase())
        if args.profile and len(sizes) > 1:
            profile[f"n={sizes[-1]}"] = profile_phases(["lookup", "get"])
    finally:
        for server in servers.values():
            server.stop()
    server_problems = {app: server.log_problems() for app, server in servers.items()}
    result = {
        "database": kind,
        "url": url.replace(str(ROOT), "."),
        "sqlite_journal_mode": journal,
        "seed_seconds": seed_times,
        "phases": phases,
        "growth": growth,
        "server_log_problems": server_problems,
        "profile": profile,
    }
    result["lookup_growth"] = growth_ratios(growth)
    if kind in ("postgres", "mariadb") and not args.keep_db:
        drop_database("bench", kind)
    return result


def growth_ratios(growth: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for phase in {g["phase"] for g in growth}:
        rows = sorted((g for g in growth if g["phase"] == phase), key=lambda g: g["n"])
        if len(rows) < 2:
            continue
        first, last = rows[0], rows[-1]
        out[phase] = {
            "from_n": first["n"],
            "to_n": last["n"],
            "plugin_p50_ratio": round(last["plugin"]["p50_ms"] / first["plugin"]["p50_ms"], 3),
            "ceiling_p50_ratio": round(last["ceiling"]["p50_ms"] / first["ceiling"]["p50_ms"], 3),
        }
    return out


# -- report ----------------------------------------------------------------------------------------------


def verdicts(results: list[dict[str, Any]]) -> list[str]:
    misses = []
    for db in results:
        for entry in db["phases"]:
            target = TARGETS[entry["phase"]]
            if entry["ratio"] is not None and entry["ratio"] < target:
                misses.append(f"{db['database']}: {entry['phase']} ratio {entry['ratio']:.2f} < {target}")
            for app in ("plugin", "ceiling"):
                if entry[app]["errors"]:
                    misses.append(
                        f"{db['database']}: {entry['phase']} {app} had {entry[app]['errors']} errors"
                    )
                pool = entry.get(f"{app}_pool")
                if pool is not None and entry[app]["requests"] >= pool:
                    misses.append(
                        f"{db['database']}: {entry['phase']} {app} used up its {pool} ids: its rate is "
                        "a lower bound (run again; the pool follows the POST rate)"
                    )
        for entry in db["growth"]:
            for app in ("plugin", "ceiling"):
                if entry[app]["errors"]:
                    misses.append(
                        f"{db['database']}: {entry['phase']}@{entry['n']} "
                        f"{app} had {entry[app]['errors']} errors"
                    )
        lookup = db["lookup_growth"].get("lookup")
        if lookup and lookup["plugin_p50_ratio"] > GROWTH_TARGET:
            misses.append(
                f"{db['database']}: lookup p50 grew {lookup['plugin_p50_ratio']:.2f}x > {GROWTH_TARGET}x"
            )
    return misses


def cpu_cell(ms: float | None) -> str:
    return f"{ms:.2f}" if ms is not None else "-"


def print_report(report: dict[str, Any]) -> None:
    for db in report["results"]:
        print(
            f"\n== {db['database']} ({db['url'].split('://')[0]}) ==  (gunicorn "
            f"{report['settings']['server']}; wrk {report['settings']['load']})"
        )
        header = (
            f"{'phase':22} {'app':8} {'requests':>9} {'errors':>6} {'req/s':>9} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'wrk cpu':>7} {'app ms':>6} {'db ms':>6} "
            f"{'ratio':>6} {'target':>6}"
        )
        print(header)
        print("-" * len(header))
        for entry in db["phases"]:
            for app in ("plugin", "ceiling"):
                r = entry[app]
                ratio = f"{entry['ratio']:.2f}" if app == "plugin" and entry["ratio"] is not None else ""
                target = f">={TARGETS[entry['phase']]}" if app == "plugin" else ""
                label = entry["label"] if app == "plugin" else ""
                app_ms, db_ms = cpu_cell(r["app_cpu_ms"]), cpu_cell(r["db_cpu_ms"])
                print(
                    f"{label:22} {app:8} {r['requests']:9d} {r['errors']:6d} {r['rps']:9.1f} "
                    f"{r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['wrk_cpu_share']:7.2f} {app_ms:>6} {db_ms:>6} "
                    f"{ratio:>6} {target:>6}"
                )
        for entry in db["phases"]:
            if entry["phase"] == "member":
                print(
                    f"{entry['label']}: add/remove of one user on a group of {entry['group_members']} "
                    f"members (tenant of {entry['n']} users); the ceiling runs its PATCH /Users/<id>"
                )
        print(
            f"\n{'growth':22} {'N':>7} {'rows':>7} {'plugin req/s':>12} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'ceiling req/s':>13} {'p50 ms':>8} {'ratio':>6}"
        )
        for entry in db["growth"]:
            p, c = entry["plugin"], entry["ceiling"]
            print(
                f"{entry['phase']:22} {entry['n']:7d} {entry['plugin_rows']:7d} {p['rps']:12.1f} "
                f"{p['p50_ms']:8.2f} {p['p99_ms']:8.2f} {c['rps']:13.1f} {c['p50_ms']:8.2f} "
                f"{entry['ratio']:6.2f}"
            )
        for phase, g in sorted(db["lookup_growth"].items()):
            print(
                f"{phase} p50 growth N={g['from_n']}->{g['to_n']}: plugin {g['plugin_p50_ratio']:.2f}x, "
                f"ceiling {g['ceiling_p50_ratio']:.2f}x (target plugin <= {GROWTH_TARGET}x for lookup)"
            )
        for app, lines in db["server_log_problems"].items():
            if lines:
                print(f"gunicorn {app} log problems: {lines[:3]}")
    misses = report["misses"]
    print("\nTargets: " + ("all met" if not misses else f"{len(misses)} missed"))
    for miss in misses:
        print(f"  MISS {miss}")


def provenance() -> tuple[str, bool]:
    """The commit measured, and whether src/ or examples/ had uncommitted changes."""
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    status = subprocess.run(
        ["git", "status", "--porcelain", "src", "examples"], cwd=ROOT, capture_output=True, text=True
    )
    return commit, bool(status.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--mode",
        choices=("quick", "full"),
        default="quick",
        help="quick: 6 s per phase and app in 2 rounds; full: 30 s in 3",
    )
    parser.add_argument(
        "--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres, mariadb (127.0.0.1:3306)"
    )
    parser.add_argument(
        "--mariadb-driver",
        choices=("pymysql", "mysqldb"),
        default="pymysql",
        help="MariaDB's driver, for both apps: PyMySQL (pure Python, the mysql extra) or mysqlclient (C)",
    )
    parser.add_argument(
        "--duration", type=float, help="seconds per phase and app, split over the rounds (default by --mode)"
    )
    parser.add_argument(
        "--repeat", type=int, help="alternating rounds per phase and app (default: quick 2, full 3)"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up reads per app")
    parser.add_argument("--sizes", default="1000,10000,100000", help="tenant sizes for the lookup growth")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--grow-phases", default="lookup,get,list,post", help="phases repeated at every size")
    parser.add_argument(
        "--group-size",
        type=int,
        default=50_000,
        help="members of the member phase's group (at most the largest size less the added pool)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--worker-connections",
        type=int,
        help="gunicorn's cap on one worker's connections (default: an equal share of --connections, so that "
        "every worker serves; without it one worker may accept most of wrk's connections)",
    )
    parser.add_argument("--port", type=int, default=8101, help="plugin port; the ceiling uses the next one")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the plugin's workers under each phase's load (lookup/get again at the largest N)",
    )
    parser.add_argument(
        "--profile-phases",
        default=",".join(p for p in PHASES if p != "member"),
        help="phases to profile (delete uses the delete phase's leftover pool; not member)",
    )
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="keep the PostgreSQL or MariaDB database 'bench' and the work folder (SQLite file, logs)",
    )
    parser.add_argument("--no-chart", action="store_true")
    args = parser.parse_args(argv)
    args.duration = args.duration or (6.0 if args.mode == "quick" else 30.0)
    args.worker_connections = args.worker_connections or -(-args.connections // args.workers)
    if args.worker_connections <= args.threads:
        # gunicorn keeps (worker connections - threads) connections alive; at 0 it closes every one.
        parser.error("--worker-connections must exceed --threads (give more --connections)")
    args.repeat = args.repeat or (2 if args.mode == "quick" else 3)
    # wrk's -d takes whole seconds: 10 s in 3 rounds would stop the run at its first phase.
    if args.duration % args.repeat or args.warmup % 1:
        parser.error("--duration must split into whole seconds per round (--repeat), --warmup be whole")
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.phases = [p for p in args.phases.split(",") if p]
    args.grow_phases = [p for p in args.grow_phases.split(",") if p]
    args.profile_phases = [p for p in args.profile_phases.split(",") if p]
    unknown = set(args.phases + args.grow_phases + args.profile_phases) - set(PHASES)
    if unknown or "member" in args.grow_phases + args.profile_phases:
        parser.error(f"unknown phases {sorted(unknown)}, or member among --grow-phases/--profile-phases")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install -y wrk)")

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results_dir = HERE / "results"
    work = results_dir / f"work-{stamp}"
    results = []
    for kind in [d for d in args.db.split(",") if d]:
        log(f"{kind}: starting")
        results.append(run_database(kind, args, work / kind))
    commit, dirty = provenance()
    report = {
        "timestamp": stamp,
        "commit": commit,
        "src_dirty": dirty,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {
            "mode": args.mode,
            "duration_s": args.duration,
            "server": f"{args.workers} workers, {args.worker_class}, {args.threads} threads, "
            f"{args.worker_connections} connections per worker, 127.0.0.1",
            "load": f"-t{args.wrk_threads} -c{args.connections}, {args.duration:g}s per phase and app in "
            f"{args.repeat} alternating rounds (keep-alive)",
            "sizes": args.sizes,
        },
        "targets": {"ratios": TARGETS, "lookup_p50_growth_max": GROWTH_TARGET},
        "results": results,
    }
    report["misses"] = verdicts(results)
    out = results_dir / f"{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    print_report(report)
    print(f"\nJSON: {out.relative_to(ROOT)}")
    if not args.no_chart:
        from .chart import draw

        png = draw(report, results_dir / f"{stamp}.png")
        print(f"chart: {png.relative_to(ROOT)}")
    if not (args.profile or args.keep_db):
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
