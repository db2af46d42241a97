"""``python -m benchmarks.soak``: a bounded soak of the multi-worker server on PostgreSQL (``make soak``).

A fresh database ``soak`` (created, then dropped; never the suite's ``test``), the example host's tables
and demo companies, a SCIM token for ``acme`` and ``--users`` seeded users (the benchmark's helpers), then
the example host with the plugin under gunicorn (2 gthread workers with 2 threads, 127.0.0.1, as the
benchmark serves it). ``--clients`` threads, each on its own keep-alive connection, play an IdP's user
and group lifecycle without pause for ``--warmup`` and then ``--duration`` seconds: lookup before create,
``POST /Users``, GET by id, Entra PATCHes (attribute replace, ``active`` ``"False"``), Okta ``PUT``, list
pages, lookups of seeded users, ``DELETE``; groups created (Okta, with members) and looked up (Entra,
``excludedAttributes=members``), members added and removed Entra- and Okta-style (on the client's own
groups and on one group all clients share), groups deleted. Each client keeps a bounded set of live users
and groups, so the tenant stays the same size while the soak runs.

Reported: requests per kind, errors (a 5xx, an unexpected status or body, a socket error), p50/p99
latency, and every worker's RSS (``VmRSS``) after the warm-up and at the end. Exit status 1 if there was
any error, a gunicorn traceback, a worker that died or was replaced, or a worker whose RSS grew by more
than ``max(--rss-tolerance-pct of its start, --rss-tolerance-mib)``. Results:
``benchmarks/results/soak-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .__main__ import (
    HERE,
    ORIGIN,
    ROOT,
    TENANT,
    Server,
    analyze,
    drop_database,
    environment,
    host_app,
    init_host,
    log,
    prepare_database,
    provenance,
    server_env_for,
    set_wal,
)

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
KEEP_USERS = 40  # live users per client: older ones leave their group and are deleted
KEEP_GROUPS = 3  # live groups per client
GROUP_EVERY = 10  # a new group every this many user lifecycles
KINDS = (
    "lookup",
    "post",
    "get",
    "patch",
    "put",
    "list",
    "delete",
    "group_post",
    "group_lookup",
    "member_add",
    "member_remove",
    "group_delete",
)


class Unexpected(Exception):
    """An answer the IdP would not accept: a status or a body other than the one expected."""


class Stats:
    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.latencies: dict[str, list[float]] = {k: [] for k in KINDS}
        self.errors: dict[str, int] = {}
        self.samples: list[str] = []

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.samples) < 20:
            self.samples.append(f"{kind}: {message[:300]}")


class Client(threading.Thread):
    """One IdP connection: user lifecycles, with group changes mixed in, until ``stop`` is set."""

    def __init__(
        self,
        cid: int,
        port: int,
        token: str,
        seeded: list[tuple[str, str]],
        shared_group: str,
        tag: str,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"soak-client-{cid}", daemon=True)
        self.cid, self.port, self.seeded, self.shared_group, self.tag = cid, port, seeded, shared_group, tag
        self.stop = stop
        self.stats = Stats()  # swapped by the main thread after the warm-up
        self.headers = {
            "Authorization": f"Bearer {token}",
            "X-Request-Origin": ORIGIN,
            "Content-Type": "application/scim+json",
            "Accept": "application/scim+json",
        }
        self.conn: http.client.HTTPConnection | None = None
        self.random = random.Random(cid)
        self.live: deque[tuple[str, str | None]] = deque()  # (user id, group it was added to)
        self.groups: deque[str] = deque()
        self.n = 0

    # -- HTTP --------------------------------------------------------------------------------------------

    def call(
        self, kind: str, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)
    ) -> Any:
        """One request on the keep-alive connection; its JSON body (None if empty). Raises Unexpected."""
        stats = self.stats
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, "/scim/v2" + path, body=data, headers=self.headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            stats.counts[kind] += 1
            stats.error(kind, f"{method} {path}: {type(exc).__name__}: {exc}")
            raise Unexpected from exc
        stats.latencies[kind].append((time.perf_counter() - started) * 1000)
        stats.counts[kind] += 1
        if response.status not in expect:
            stats.error(kind, f"{method} {path}: {response.status} {raw[:200]!r}")
            raise Unexpected
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            stats.error(kind, f"{method} {path}: not JSON: {raw[:200]!r}")
            raise Unexpected from None

    def check(self, kind: str, ok: bool, message: str) -> None:
        if not ok:
            self.stats.error(kind, message)
            raise Unexpected

    def lookup(self, user_name: str) -> list[dict[str, Any]]:
        query = quote(f'userName eq "{user_name}"')
        return self.call("lookup", "GET", f"/Users?filter={query}")["Resources"]

    def patch(self, kind: str, path: str, *operations: dict[str, Any]) -> None:
        self.call(kind, "PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)}, (200, 204))

    # -- the IdP -----------------------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.lifecycle()
            except Unexpected:
                # Counted already; start over with a fresh user (what a retrying IdP would do).
                pass
            except Exception as exc:  # a bug in the client, not the server: report it, keep going
                self.stats.error("client", f"{type(exc).__name__}: {exc}")
        if self.conn is not None:
            self.conn.close()

    def lifecycle(self) -> None:
        self.n += 1
        n, rnd = self.n, self.random
        name = f"soak-{self.tag}-{self.cid}-{n}@soak.example"
        # Entra: look the user up before creating it.
        self.check("lookup", self.lookup(name) == [], f"{name} exists before its POST")
        user = self.call(
            "post",
            "POST",
            "/Users",
            {
                "schemas": [CORE_USER, ENTERPRISE],
                "externalId": f"ext-{self.tag}-{self.cid}-{n}",
                "userName": name,
                "active": True,
                "displayName": f"Soak {n}",
                "emails": [{"primary": True, "type": "work", "value": name}],
                "name": {"formatted": f"Soak {n}", "givenName": "Soak", "familyName": f"Client{self.cid}"},
                ENTERPRISE: {"department": "soak"},
            },
            (201,),
        )
        user_id = user["id"]
        got = self.call("get", "GET", f"/Users/{user_id}")
        self.check("get", got.get("userName") == name, f"GET {user_id} answered {got.get('userName')!r}")
        # Entra: attribute replace (capitalised op, extension path).
        self.patch(
            "patch",
            f"/Users/{user_id}",
            {"op": "Replace", "path": "displayName", "value": f"Soak {n} (renamed)"},
            {"op": "Replace", "path": "name.familyName", "value": f"Renamed{n}"},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "soak-renamed"},
        )
        # Into a group: the shared one (concurrent changes to one group) or this client's newest.
        group = self.shared_group if rnd.random() < 0.5 or not self.groups else self.groups[-1]
        self.patch(
            "member_add", f"/Groups/{group}", {"op": "Add", "path": "members", "value": [{"value": user_id}]}
        )
        # Reads an IdP's sync cycle makes: seeded users by id and by userName, a page of users.
        seeded_id, seeded_name = rnd.choice(self.seeded)
        self.call("get", "GET", f"/Users/{seeded_id}")
        found = self.lookup(seeded_name)
        self.check("lookup", len(found) == 1 and found[0]["id"] == seeded_id, f"lookup of {seeded_name}")
        self.call("list", "GET", f"/Users?startIndex={rnd.randint(1, len(self.seeded))}&count=100")
        # Okta: the whole user again (PUT), then Entra's disable.
        self.call(
            "put",
            "PUT",
            f"/Users/{user_id}",
            {
                "schemas": [CORE_USER],
                "id": user_id,
                "userName": name,
                "name": {"givenName": "Soak", "familyName": f"Put{n}"},
                "displayName": f"Soak {n} (put)",
                "emails": [{"primary": True, "type": "work", "value": name}],
                "active": True,
            },
        )
        self.patch("patch", f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "False"})
        found = self.lookup(name)
        self.check(
            "lookup",
            len(found) == 1 and found[0]["active"] is False and found[0]["name"]["familyName"] == f"Put{n}",
            f"lookup of {name} after PUT and disable: {found!r:.200}",
        )
        self.live.append((user_id, group))
        if n % GROUP_EVERY == 0:
            self.group_cycle()
        while len(self.live) > KEEP_USERS:
            old, old_group = self.live.popleft()
            if old_group is not None:
                if rnd.random() < 0.5:  # Entra: remove with a value list
                    op = {"op": "Remove", "path": "members", "value": [{"value": old}]}
                else:  # Okta and others: a value filter in the path
                    op = {"op": "remove", "path": f'members[value eq "{old}"]'}
                self.patch("member_remove", f"/Groups/{old_group}", op)
            self.call("delete", "DELETE", f"/Users/{old}", expect=(204,))

    def group_cycle(self) -> None:
        """Okta: a new group with members; Entra: look it up by name; the oldest group goes."""
        name = f"soak-{self.tag}-{self.cid}-g{self.n}"
        members = [{"value": user_id} for user_id, _ in list(self.live)[-3:]]
        created = self.call(
            "group_post",
            "POST",
            "/Groups",
            {"schemas": [CORE_GROUP], "displayName": name, "members": members},
            (201,),
        )
        query = quote(f'displayName eq "{name}"')
        found = self.call("group_lookup", "GET", f"/Groups?filter={query}&excludedAttributes=members")
        self.check(
            "group_lookup",
            [r["id"] for r in found["Resources"]] == [created["id"]]
            and "members" not in found["Resources"][0],
            f"group lookup of {name}: {found!r:.200}",
        )
        self.groups.append(created["id"])
        if len(self.groups) > KEEP_GROUPS:
            old = self.groups.popleft()
            self.call("group_delete", "DELETE", f"/Groups/{old}", expect=(204,))
            # Deleting a group removes its memberships: nothing left to remove for those users.
            self.live = deque((u, None if g == old else g) for u, g in self.live)


# -- workers' memory -------------------------------------------------------------------------------------


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def worker_rss(server: Server) -> dict[int, float | None]:
    return {pid: rss_mib(pid) for pid in sorted(server.worker_pids())}


# -- the run ---------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2)


def summarize(stats: list[Stats], seconds: float) -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    everything: list[float] = []
    for kind in KINDS:
        latencies = [v for s in stats for v in s.latencies[kind]]
        everything += latencies
        kinds[kind] = {
            "requests": sum(s.counts[kind] for s in stats),
            "errors": sum(s.errors.get(kind, 0) for s in stats),
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
        }
    requests = sum(k["requests"] for k in kinds.values())
    return {
        "seconds": round(seconds, 1),
        "requests": requests,
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "errors": sum(sum(s.errors.values()) for s in stats),
        "p50_ms": percentile(everything, 50),
        "p99_ms": percentile(everything, 99),
        "kinds": kinds,
        "error_samples": [m for s in stats for m in s.samples][:20],
    }


def create_shared_group(port: int, token: str, tag: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"schemas": [CORE_GROUP], "displayName": f"soak-{tag}-shared"})
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Request-Origin": ORIGIN,
        "Content-Type": "application/scim+json",
    }
    conn.request("POST", "/scim/v2/Groups", body=body, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    if response.status != 201:
        raise RuntimeError(f"creating the shared group: {response.status} {raw[:300]!r}")
    return json.loads(raw)["id"]


def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from . import seed

    work.mkdir(parents=True, exist_ok=True)
    url = prepare_database(args.db, work, args.database)
    server: Server | None = None
    clients: list[Client] = []
    stop = threading.Event()
    try:
        env = server_env_for(url, work)
        token = init_host(env)
        if args.db == "sqlite":
            set_wal(url)
        with environment(env):
            host = host_app()
        seed.post_via_api(host, token, 0)
        seed.seed_plugin(host, TENANT, 1, args.users)
        analyze(url)
        seeded = seed.plugin_users(host, TENANT, "user%@bench.example")
        log(f"soak: {args.db} database {args.database!r}, {len(seeded)} users seeded")

        server = Server("soak", "examples.host_app:create_app()", args.port, env, args, work)
        tag = secrets.token_hex(3)
        shared = create_shared_group(args.port, token, tag)
        clients = [Client(c, args.port, token, seeded, shared, tag, stop) for c in range(args.clients)]
        for client in clients:
            client.start()
        log(f"soak: {args.clients} clients, {args.warmup:g} s warm-up")
        time.sleep(args.warmup)
        warmup_stats = [c.stats for c in clients]
        for client in clients:
            client.stats = Stats()
        started = time.monotonic()
        start_rss = worker_rss(server)
        timeline = [{"t": 0.0, "rss_mib": start_rss}]
        log(f"soak: measuring for {args.duration:g} s; worker RSS (MiB) {fmt_rss(start_rss)}")
        while (elapsed := time.monotonic() - started) < args.duration:
            time.sleep(min(args.sample_every, args.duration - elapsed))
            sample = worker_rss(server)
            timeline.append({"t": round(time.monotonic() - started, 1), "rss_mib": sample})
            done = sum(sum(c.stats.counts.values()) for c in clients)
            errors = sum(sum(c.stats.errors.values()) for c in clients)
            log(f"soak: {timeline[-1]['t']:6.0f} s  {done} requests, {errors} errors, RSS {fmt_rss(sample)}")
        end_rss = timeline[-1]["rss_mib"]
        seconds = time.monotonic() - started
        stop.set()
        for client in clients:
            client.join(timeout=60)
        measured = summarize([c.stats for c in clients], seconds)
        warmup = summarize(warmup_stats, args.warmup)
    finally:
        stop.set()
        if server is not None:
            server.stop()
        if args.db == "postgres" and not args.keep_db:
            drop_database(args.database)

    workers = []
    for pid in sorted(set(start_rss) | set(end_rss)):
        start, end = start_rss.get(pid), end_rss.get(pid)
        entry: dict[str, Any] = {"pid": pid, "start_mib": start, "end_mib": end}
        if start is None or end is None:
            entry["problem"] = "worker started or ended during the soak (died, or was replaced)"
        else:
            allowed = max(start * args.rss_tolerance_pct / 100, args.rss_tolerance_mib)
            entry.update(
                growth_mib=round(end - start, 1),
                growth_pct=round(100 * (end - start) / start, 1),
                allowed_mib=round(allowed, 1),
                peak_mib=max(s["rss_mib"].get(pid) or 0 for s in timeline),
            )
            if end - start > allowed:
                entry["problem"] = f"RSS grew {end - start:.1f} MiB > {allowed:.1f} MiB allowed"
        workers.append(entry)
    problems = server.log_problems() if server is not None else []
    failures = [f"worker {w['pid']}: {w['problem']}" for w in workers if "problem" in w]
    if measured["errors"] or warmup["errors"]:
        failures.append(f"{measured['errors']} errors ({warmup['errors']} more during the warm-up)")
    if problems:
        failures.append(f"gunicorn log: {problems[0]}")
    if not workers:
        failures.append("no gunicorn workers found")
    return {
        "database": args.db,
        "seeded_users": len(seeded),
        "warmup": warmup,
        "measured": measured,
        "workers": workers,
        "rss_timeline": timeline,
        "server_log_problems": problems,
        "failures": failures,
    }


def fmt_rss(sample: dict[int, float | None]) -> str:
    return ", ".join(f"{pid}: {mib}" for pid, mib in sample.items())


def print_report(report: dict[str, Any]) -> None:
    result, settings = report["result"], report["settings"]
    measured = result["measured"]
    print(
        f"\n== soak on {result['database']} ==  ({settings['server']}; {settings['load']}; "
        f"{result['seeded_users']} seeded users)"
    )
    print(f"{'kind':14} {'requests':>9} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8}")
    print("-" * 49)
    for kind, k in measured["kinds"].items():
        p50 = f"{k['p50_ms']:8.2f}" if k["p50_ms"] is not None else f"{'-':>8}"
        p99 = f"{k['p99_ms']:8.2f}" if k["p99_ms"] is not None else f"{'-':>8}"
        print(f"{kind:14} {k['requests']:9d} {k['errors']:6d} {p50} {p99}")
    print("-" * 49)
    print(
        f"{'all':14} {measured['requests']:9d} {measured['errors']:6d} {measured['p50_ms'] or 0:8.2f} "
        f"{measured['p99_ms'] or 0:8.2f}   over {measured['seconds']:g} s ({measured['rps']} req/s); "
        f"warm-up: {result['warmup']['requests']} requests, {result['warmup']['errors']} errors"
    )
    print(f"\n{'worker':>8} {'RSS start':>10} {'RSS end':>9} {'peak':>7} {'growth':>8} {'allowed':>8}  MiB")
    for w in result["workers"]:
        if "growth_mib" in w:
            print(
                f"{w['pid']:8d} {w['start_mib']:10.1f} {w['end_mib']:9.1f} {w['peak_mib']:7.1f} "
                f"{w['growth_mib']:+8.1f} {w['allowed_mib']:8.1f}   ({w['growth_pct']:+.1f}%)"
            )
        else:
            print(f"{w['pid']:8d} {w['start_mib']!s:>10} {w['end_mib']!s:>9}   {w['problem']}")
    for sample in measured["error_samples"][:5]:
        print(f"  error: {sample}")
    print("\nSoak: " + ("passed" if not result["failures"] else "FAILED"))
    for failure in result["failures"]:
        print(f"  FAIL {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="measured seconds (after the warm-up)")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of the same traffic before")
    parser.add_argument("--clients", type=int, default=4, help="concurrent IdP clients (keep-alive)")
    parser.add_argument("--users", type=int, default=2000, help="users seeded before the soak")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--database", default="soak", help="PostgreSQL database to create and drop")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    parser.add_argument("--port", type=int, default=8111)
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--rss-tolerance-pct", type=float, default=15.0)
    parser.add_argument("--rss-tolerance-mib", type=float, default=20.0)
    parser.add_argument("--keep-db", action="store_true", help="keep the database and the work folder")
    args = parser.parse_args(argv)
    if args.database == "test":
        parser.error("the soak never uses the test suite's database")
    if args.workers < 2:
        parser.error("the soak is of the multi-worker server: --workers 2 or more")

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results_dir = HERE / "results"
    work = results_dir / f"work-soak-{stamp}"
    result = soak(args, work)
    commit, dirty = provenance()
    report = {
        "timestamp": stamp,
        "commit": commit,
        "src_dirty": dirty,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "server": f"{args.workers} workers, {args.worker_class}, {args.threads} threads, 127.0.0.1",
            "load": f"{args.clients} keep-alive clients without pause",
            "rss_tolerance": f"max({args.rss_tolerance_pct:g}% of the start, {args.rss_tolerance_mib:g} MiB)"
            " per worker",
        },
        "result": result,
    }
    out = results_dir / f"soak-{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    print_report(report)
    print(f"\nJSON: {out.relative_to(ROOT)}")
    if not args.keep_db:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
